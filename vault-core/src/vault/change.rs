//! The change-set path: every write (add, edit, remove, import, approve,
//! policy change) is a [`ChangeSet`] that is validated, sealed, committed in
//! one transaction with its audit entry, and only then applied to the
//! in-memory catalog and search engine. This is the one place a coming
//! sync log or vector index hooks into.
//!
//! # Invariants
//! - The writer lock is held from the first read of a row being changed to
//!   the catalog update, so writes apply in commit order.
//! - Nothing reaches the catalog before its transaction commits (the bulk
//!   path indexes while SQLite writes, but holds the catalog's write lock
//!   throughout and undoes the indexing if the commit fails).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::sync::Logged;
use super::{ImportReport, UnlockedVault};
use crate::audit::AuditEntry;
use crate::error::{Error, Result};
use crate::item::{Item, ItemFilter, ItemPatch, NewItem};
use crate::records::{self, PolicyRecord};
use crate::store::{self, Store};
use crate::sync::Body;

#[cfg(test)]
#[path = "change_tests.rs"]
mod tests;

#[cfg(test)]
thread_local! {
    /// Test-only failpoint: fail a change after everything of it (item,
    /// records, audit entry) is written in its transaction, before COMMIT.
    pub(super) static FAIL_BEFORE_COMMIT: std::cell::Cell<bool> =
        const { std::cell::Cell::new(false) };
}

/// Inserts of at least this many items take the pipelined bulk path.
const BULK_MIN: usize = 256;

/// Policy records to write and delete, and an audit entry, committed with
/// whatever else the change holds.
#[derive(Debug, Default)]
pub struct RecordChange {
    /// Records to insert or replace.
    pub put: Vec<PolicyRecord>,
    /// Ids of records to delete.
    pub delete: Vec<Uuid>,
    /// The entry recording the change.
    pub audit: Option<AuditEntry>,
    /// The idempotency key of the request making the change. A change whose
    /// key was committed before is not made again: it fails with
    /// [`Error::Repeated`] naming what the first one made.
    pub request: Option<Uuid>,
}

/// Everything one write changes.
#[derive(Default)]
pub struct ChangeSet {
    /// Complete, valid new items.
    pub(crate) insert: Vec<Item>,
    /// Changed items: rowid, new state, and the version it replaces.
    pub(crate) update: Vec<(i64, Item, u64)>,
    /// Items to delete.
    pub(crate) delete: Vec<Uuid>,
    /// Policy records and the audit entry.
    pub(crate) records: RecordChange,
}

fn at_item(e: Error, id: &Uuid) -> Error {
    match e {
        Error::Invalid { field, reason } => Error::Invalid {
            field,
            reason: format!("item {id}: {reason}"),
        },
        e => e,
    }
}

/// Now, at the microsecond precision the store keeps.
fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

fn build(new: &NewItem, id: Uuid, now: DateTime<Utc>) -> Item {
    Item {
        id,
        namespace: new.namespace.clone(),
        kind: new.kind.clone(),
        title: new.title.clone(),
        body: new.body.clone(),
        tags: new.tags.clone(),
        sensitivity: new.sensitivity,
        source: new.source.clone(),
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

impl UnlockedVault {
    /// Commit `change` in one transaction, then apply it to the catalog.
    /// The caller holds the writer lock (`_writer` proves it).
    async fn apply(
        &self,
        _writer: &tokio::sync::MutexGuard<'_, ()>,
        change: ChangeSet,
    ) -> Result<()> {
        if let Some(key) = change.records.request
            && let Some(made) = self.store.request(&key).await?
        {
            return Err(Error::Repeated(made));
        }
        if change.insert.len() >= BULK_MIN {
            self.apply_bulk(change).await?;
            self.want_embedding();
            return Ok(());
        }
        let fresh: Vec<&Item> = change
            .insert
            .iter()
            .chain(change.update.iter().map(|(_, i, _)| i))
            .collect();
        let inline = self.inline_vectors(&fresh).await;
        drop(fresh);
        let model = inline.as_ref().map(|(s, _)| s.model.model_id().to_owned());
        let vector_of = |k: usize| inline.as_ref().map(|(_, v)| v[k].as_slice());
        let made = change
            .insert
            .first()
            .map(|i| i.id)
            .or_else(|| change.records.put.first().map(|r| r.id()));
        let mut inserted = Vec::with_capacity(change.insert.len());
        let mut logged = Vec::new();
        let logging = self.sync_device().is_some();
        let mut tx = self.store.begin().await?;
        for (k, item) in change.insert.iter().enumerate() {
            let row = records::seal_item(&self.sealer, &self.vault_id, item)?;
            let rowid = Store::insert_in(&mut tx, &row).await?;
            if logging {
                logged.push(super::sync::logged_item(&row));
            }
            inserted.push(rowid);
            if let (Some(m), Some(v)) = (&model, vector_of(k)) {
                self.put_vector_in(&mut tx, rowid, item, m, v).await?;
            }
        }
        for (k, (rowid, item, expected)) in change.update.iter().enumerate() {
            let row = records::seal_item(&self.sealer, &self.vault_id, item)?;
            if !store::update_item(&mut tx, &row, *expected).await? {
                return Err(Error::NoItem(item.id));
            }
            if logging {
                logged.push(super::sync::logged_item(&row));
            }
            // The text changed: every model's vector of it is stale.
            store::delete_vectors(&mut tx, *rowid).await?;
            if let (Some(m), Some(v)) = (&model, vector_of(change.insert.len() + k)) {
                self.put_vector_in(&mut tx, *rowid, item, m, v).await?;
            }
        }
        for id in &change.delete {
            if !store::delete_item(&mut tx, id).await? {
                return Err(Error::NoItem(*id));
            }
            logged.push((*id, Body::ItemGone));
        }
        logged.extend(self.write_records(&mut tx, &change.records).await?);
        self.log_changes(&mut tx, logged).await?;
        if let (Some(key), Some(made)) = (change.records.request, made) {
            store::put_request(&mut tx, &key, &made).await?;
        }
        #[cfg(test)]
        if FAIL_BEFORE_COMMIT.with(std::cell::Cell::get) {
            return Err(Error::Crypto("test failpoint before commit"));
        }
        self.finish(tx).await?;
        let mut st = self.state.write().await;
        let changed = change.update.iter().map(|(_, i, _)| &i.id);
        for id in change.delete.iter().chain(changed) {
            st.remove_item(id);
        }
        let placed: Vec<(i64, &Item)> = inserted
            .into_iter()
            .zip(&change.insert)
            .chain(change.update.iter().map(|(r, i, _)| (*r, i)))
            .collect();
        st.add_items(&placed);
        match &inline {
            Some((sem, vectors)) if self.is_attached(sem) => {
                let pairs: Vec<(i64, Uuid, &[f32])> = placed
                    .iter()
                    .zip(vectors)
                    .map(|((r, i), v)| (*r, i.id, v.as_slice()))
                    .collect();
                st.put_vectors(&pairs);
            }
            _ if !placed.is_empty() => self.want_embedding(),
            _ => {}
        }
        Ok(())
    }

    /// Seal and store one item's vector inside the change's transaction.
    async fn put_vector_in(
        &self,
        tx: &mut sqlx::SqliteConnection,
        rowid: i64,
        item: &Item,
        model: &str,
        vector: &[f32],
    ) -> Result<()> {
        let blob = self.seal_vector(item, model, vector)?;
        store::put_vector(tx, (rowid, &item.id), model, item.version, &blob).await?;
        Ok(())
    }

    /// The bulk path: one task seals chunks while SQLite inserts earlier
    /// ones (many rows per statement), and a blocking thread indexes at the
    /// same time; the catalog is held whole until the commit is known.
    async fn apply_bulk(&self, change: ChangeSet) -> Result<()> {
        let ChangeSet {
            insert,
            update,
            delete,
            records,
        } = change;
        if !update.is_empty() || !delete.is_empty() {
            return Err(Error::Format(
                "a bulk insert cannot also change or delete items".into(),
            ));
        }
        let mut st = self.state.write().await;
        // The writer lock is held: no other writer can take these rowids.
        let base = self.store.max_rowid().await?;
        let mut state = std::mem::take(&mut *st);
        let items = Arc::new(insert);
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let (to_seal, sealer, vault_id) = (items.clone(), self.sealer.clone(), self.vault_id);
        tokio::spawn(async move {
            for (c, chunk) in to_seal.chunks(store::BULK_CHUNK).enumerate() {
                let first = base + 1 + (c * store::BULK_CHUNK) as i64;
                let rows = chunk
                    .iter()
                    .enumerate()
                    .map(|(k, i)| {
                        records::seal_item(&sealer, &vault_id, i).map(|mut r| {
                            r.rowid = first + k as i64;
                            r
                        })
                    })
                    .collect::<Result<Vec<_>>>();
                let failed = rows.is_err();
                if tx.send(rows).await.is_err() || failed {
                    return;
                }
            }
        });
        let to_index = items.clone();
        let indexer = tokio::task::spawn_blocking(move || {
            let rows: Vec<(i64, &Item)> = to_index
                .iter()
                .enumerate()
                .map(|(k, i)| (base + 1 + k as i64, i))
                .collect();
            state.add_items(&rows);
            state
        });
        let written = async {
            let mut tx = self.store.begin().await?;
            Store::insert_bulk(&mut tx, rx).await?;
            let mut logged = Vec::new();
            if self.sync_device().is_some() {
                for row in store::sync::item_rows_after(&mut tx, base).await? {
                    logged.push(super::sync::logged_item(&row));
                }
            }
            logged.extend(self.write_records(&mut tx, &records).await?);
            self.log_changes(&mut tx, logged).await?;
            self.finish(tx).await?;
            Ok::<_, Error>(())
        }
        .await;
        let mut state = indexer
            .await
            .map_err(|_| Error::Crypto("the indexing thread failed"))?;
        if written.is_err() {
            for i in items.iter() {
                state.remove_item(&i.id);
            }
        }
        *st = state;
        drop(st);
        if written.is_ok() {
            // Do not leave the log at the size of this transaction.
            if let Err(e) = self.store.checkpoint().await {
                tracing::warn!("checkpoint after a bulk insert failed: {e}");
            }
        }
        written
    }

    /// Seal and write the policy records and the audit entry of a change;
    /// returns the records' changes for the sync log.
    async fn write_records(
        &self,
        tx: &mut sqlx::SqliteConnection,
        change: &RecordChange,
    ) -> Result<Vec<Logged>> {
        let mut logged = Vec::new();
        for r in &change.put {
            let sealed = records::seal_record(&self.records, &self.vault_id, r)?;
            store::put_record(tx, &r.id(), &sealed).await?;
            // A connector's refresh tokens belong to the device that
            // approved it: never in the sync log (as never in a bundle).
            if !matches!(r, records::PolicyRecord::Connector(_)) {
                logged.push((r.id(), Body::Record(sealed)));
            }
        }
        for id in &change.delete {
            store::delete_record(tx, id).await?;
            logged.push((*id, Body::RecordGone));
        }
        if let Some(entry) = &change.audit {
            self.audit.append(tx, entry).await?;
        }
        Ok(logged)
    }

    /// The id of what the request `key` made, if it was committed.
    pub async fn answered(&self, key: &Uuid) -> Result<Option<Uuid>> {
        self.store.request(key).await
    }

    /// Validate and store a new item; returns it as stored.
    pub async fn add(&self, new: NewItem) -> Result<Item> {
        self.add_with(new, RecordChange::default()).await
    }

    /// Store a new item and, in the same transaction, a record change (its
    /// audit entry's `ids` gets the new id).
    pub async fn add_with(&self, new: NewItem, records: RecordChange) -> Result<Item> {
        self.add_as(new, Uuid::now_v7(), records).await
    }

    /// [`UnlockedVault::add_with`] under an id the caller chose (a fresh
    /// UUIDv7), for a record change that names the new item.
    pub async fn add_as(&self, new: NewItem, id: Uuid, mut records: RecordChange) -> Result<Item> {
        let new = new.validate()?;
        let item = build(&new, id, now());
        if let Some(entry) = records.audit.as_mut() {
            entry.ids = vec![item.id];
        }
        let w = self.writer.lock().await;
        let change = ChangeSet {
            insert: vec![item.clone()],
            records,
            ..Default::default()
        };
        self.apply(&w, change).await?;
        Ok(item)
    }

    /// Validate and store many items in one transaction. Nothing is written
    /// unless every item is valid. Returns the new ids in order.
    ///
    /// Callers must not cancel this future midway (the agent runs every
    /// request as its own task).
    pub async fn add_bulk(&self, news: Vec<NewItem>) -> Result<Vec<Uuid>> {
        let news = news
            .into_iter()
            .map(NewItem::validate)
            .collect::<Result<Vec<_>>>()?;
        let now = now();
        let items: Vec<Item> = news.iter().map(|n| build(n, Uuid::now_v7(), now)).collect();
        drop(news);
        let ids = items.iter().map(|i| i.id).collect();
        let w = self.writer.lock().await;
        let change = ChangeSet {
            insert: items,
            ..Default::default()
        };
        self.apply(&w, change).await?;
        Ok(ids)
    }

    /// Bring in complete items (ids, timestamps, versions and provenance
    /// kept), in one transaction. Items whose id exists, or (with
    /// [`Dedupe::IdOrText`]) whose namespace and body equal an existing
    /// item's or an earlier one's in `items`, are skipped and counted. With
    /// `dry_run` nothing is written.
    ///
    /// `records` (policy records and an audit entry) is written in the same
    /// transaction.
    pub async fn import(
        &self,
        items: Vec<Item>,
        records: RecordChange,
        dry_run: bool,
        dedupe: Dedupe,
    ) -> Result<ImportReport> {
        let mut items = items;
        for i in &mut items {
            let id = i.id;
            i.validate().map_err(|e| at_item(e, &id))?;
        }
        // The scan for duplicates by text opens every item: it runs before
        // the writer lock, so audited reads are not held up meanwhile.
        let existing = match dedupe {
            Dedupe::IdOrText => self.list(&ItemFilter::default()).await?,
            Dedupe::Id => Vec::new(),
        };
        let mut ids: HashSet<Uuid> = match dedupe {
            Dedupe::IdOrText => existing.iter().map(|i| i.id).collect(),
            Dedupe::Id => {
                let st = self.state.read().await;
                items
                    .iter()
                    .map(|i| i.id)
                    .filter(|id| st.by_id.contains_key(id))
                    .collect()
            }
        };
        let content_key = |i: &Item| {
            let mut d = ring::digest::Context::new(&ring::digest::SHA256);
            d.update(i.namespace.as_str().as_bytes());
            d.update(&[0]);
            d.update(i.body.as_bytes());
            d.finish().as_ref().to_vec()
        };
        let mut contents: HashSet<Vec<u8>> = existing.iter().map(content_key).collect();
        drop(existing);
        // By id: the present items the import names, opened to see whether
        // the import only links them to what came after.
        let mut present: HashMap<Uuid, (i64, u64, Item)> =
            if dedupe == Dedupe::Id && !ids.is_empty() {
                let rowids: Vec<i64> = {
                    let st = self.state.read().await;
                    ids.iter()
                        .filter_map(|id| st.by_id.get(id).copied())
                        .collect()
                };
                let rows = self.store.get_many(&rowids).await?;
                rows.iter()
                    .filter_map(|r| {
                        let i = self.open_item(r).ok()?;
                        Some((i.id, (r.rowid, r.version, i)))
                    })
                    .collect()
            } else {
                HashMap::new()
            };
        let mut fresh = Vec::with_capacity(items.len());
        let mut linked = Vec::new();
        let mut duplicates = 0u64;
        for mut i in items {
            // Taken out once seen: a second copy in the file is a duplicate.
            if let Some((rowid, version, old)) = present.remove(&i.id)
                && version == 1
                && crate::formats::history::extends(&old, &i)
            {
                i.version = 2;
                i.created_at = old.created_at;
                i.updated_at = old.updated_at + chrono::Duration::microseconds(1);
                linked.push((rowid, i, version));
                continue;
            }
            if ids.contains(&i.id)
                || (dedupe == Dedupe::IdOrText && !contents.insert(content_key(&i)))
            {
                duplicates += 1;
                continue;
            }
            ids.insert(i.id);
            fresh.push(i);
        }
        let added = fresh.len() as u64;
        let updated = linked.len() as u64;
        if !dry_run && (!fresh.is_empty() || !linked.is_empty() || !records.put.is_empty()) {
            let w = self.writer.lock().await;
            let change = ChangeSet {
                insert: fresh,
                update: linked,
                records,
                ..Default::default()
            };
            self.apply(&w, change).await?;
        }
        Ok(ImportReport {
            added,
            duplicates,
            updated,
        })
    }

    /// Change an item: bumps its version and `updated_at`.
    pub async fn edit(&self, id: &Uuid, patch: ItemPatch) -> Result<Item> {
        if patch.is_empty() {
            return Err(Error::Invalid {
                field: "edit",
                reason: "nothing to change; give new text or at least one of --ns, --kind, --title, --tag, --add-tag, --rm-tag, --sensitivity (or set $EDITOR to edit it there)".into(),
            });
        }
        let w = self.writer.lock().await;
        let row = self.store.get(id).await?.ok_or(Error::NoItem(*id))?;
        let mut item = self.open_item(&row)?;
        patch.apply_to(&mut item)?;
        let now = now();
        item.updated_at = if now > item.updated_at {
            now
        } else {
            item.updated_at + chrono::Duration::microseconds(1)
        };
        item.version += 1;
        let change = ChangeSet {
            update: vec![(row.rowid, item.clone(), row.version)],
            ..Default::default()
        };
        self.apply(&w, change).await?;
        Ok(item)
    }

    /// Delete an item.
    pub async fn remove(&self, id: &Uuid) -> Result<()> {
        self.remove_all(&[*id]).await
    }

    /// Delete these items in one transaction: all of them, or none when
    /// one is missing.
    pub async fn remove_all(&self, ids: &[Uuid]) -> Result<()> {
        self.remove_with(ids, RecordChange::default()).await
    }

    /// Delete these items and, in the same transaction, make a record
    /// change (its audit entry's `ids` gets the removed ids).
    pub async fn remove_with(&self, ids: &[Uuid], mut records: RecordChange) -> Result<()> {
        if let Some(entry) = records.audit.as_mut() {
            entry.ids = ids.to_vec();
        }
        let w = self.writer.lock().await;
        let change = ChangeSet {
            delete: ids.to_vec(),
            records,
            ..Default::default()
        };
        self.apply(&w, change).await
    }

    /// Write and delete policy records and append an audit entry, all in
    /// one transaction.
    pub async fn commit(&self, records: RecordChange) -> Result<()> {
        let w = self.writer.lock().await;
        let change = ChangeSet {
            records,
            ..Default::default()
        };
        self.apply(&w, change).await
    }
}

/// What makes an imported item a duplicate of one already there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dedupe {
    /// The same id, or the same namespace and text.
    IdOrText,
    /// The same id only (for items whose ids are derived from where they
    /// came from): the vault's items are not opened to compare text. A
    /// present chunk of history, never edited, that the import only links
    /// to the turn after it (a conversation went on) takes the link.
    Id,
}
