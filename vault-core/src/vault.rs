//! The vault: a locked handle on the store, and the unlocked view that reads,
//! writes and searches items.
//!
//! # Format
//! An item's sealed record is the JSON of [`Payload`] sealed with the items
//! subkey (see [`crate::seal`]). The plaintext `created_at` and `updated_at`
//! columns are repeated inside the record and checked on open, so they are
//! authenticated too.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use age::secrecy::SecretString;
use age::x25519;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::audit::{AuditEntry, AuditKeys, AuditRecord, AuditReport};
use crate::error::{Error, Result};
use crate::index::{self, Doc, Index, Mode, View};
use crate::item::{Item, ItemFilter, ItemPatch, Namespace, NewItem, Sensitivity, Tag};
use crate::keys::{self, MasterKey, Purpose, Unlock, WorkFactor};
use crate::seal::{self, Sealer};
use crate::store::{ItemRow, Store};

/// Rows decrypted and indexed per batch while unlocking.
const UNLOCK_BATCH: usize = 2048;
/// Characters of context in a search snippet.
const SNIPPET_CHARS: usize = 160;

/// The sealed record of an item: every field but id and version.
#[derive(Serialize, Deserialize)]
struct Payload<'a> {
    #[serde(borrow)]
    namespace: Cow<'a, str>,
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    title: Option<Cow<'a, str>>,
    #[serde(borrow)]
    body: Cow<'a, str>,
    #[serde(borrow, default)]
    tags: Vec<Cow<'a, str>>,
    sensitivity: Sensitivity,
    #[serde(borrow)]
    source: Cow<'a, str>,
    created_at: i64,
    updated_at: i64,
}

/// Seal an item whole into a row (rowid left 0 for the store to assign).
fn seal_item(sealer: &Sealer, vault_id: &[u8; 16], item: &Item) -> Result<ItemRow> {
    let payload = Payload {
        namespace: Cow::Borrowed(item.namespace.as_str()),
        kind: Cow::Borrowed(item.kind.as_str()),
        title: item.title.as_deref().map(Cow::Borrowed),
        body: Cow::Borrowed(&item.body),
        tags: item
            .tags
            .iter()
            .map(|t| Cow::Borrowed(t.as_str()))
            .collect(),
        sensitivity: item.sensitivity,
        source: Cow::Borrowed(item.source.as_str()),
        created_at: micros(item.created_at),
        updated_at: micros(item.updated_at),
    };
    let plain = Zeroizing::new(
        serde_json::to_vec(&payload).map_err(|_| Error::Crypto("item serialisation failed"))?,
    );
    let sealed = sealer.seal(&seal::item_aad(vault_id, &item.id, item.version), &plain)?;
    Ok(ItemRow {
        rowid: 0,
        id: item.id,
        version: item.version,
        created_at: micros(item.created_at),
        updated_at: micros(item.updated_at),
        sealed,
    })
}

/// A locked vault: its store and id. Holds no key.
pub struct Vault {
    dir: PathBuf,
    store: Store,
    vault_id: [u8; 16],
}

/// Counts reported by `status`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct VaultStats {
    /// Items that opened and are searchable.
    pub items: u64,
    /// Items whose sealed record failed authentication at unlock.
    pub damaged: Vec<Uuid>,
}

/// What an import did (or would do, for a dry run).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// Items added.
    pub added: u64,
    /// Items skipped: same id, or same namespace and body, as one present.
    pub duplicates: u64,
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

/// One search result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchHit {
    /// The item.
    #[serde(flatten)]
    pub item: Item,
    /// bm25 relevance, higher is better.
    pub score: f64,
    /// A short passage of the body around the first match.
    pub snippet: String,
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn from_micros(us: i64, id: Uuid) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us).ok_or(Error::Integrity(id))
}

fn new_vault_id() -> Result<[u8; 16]> {
    use ring::rand::SecureRandom;
    let mut id = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut id)
        .map_err(|_| Error::Crypto("the OS random number generator failed"))?;
    Ok(id)
}

impl Vault {
    /// Create a vault in `dir` with a passphrase slot and one identity slot
    /// per given identity, and return it unlocked. Fails if one exists.
    pub async fn create(
        dir: &Path,
        passphrase: &SecretString,
        work_factor: WorkFactor,
        identities: &[x25519::Identity],
    ) -> Result<UnlockedVault> {
        if Store::exists(dir) {
            return Err(Error::AlreadyExists(dir.to_owned()));
        }
        keys::check_new_passphrase(passphrase)?;
        let master = MasterKey::generate()?;
        let vault_id = new_vault_id()?;
        let mut slots = vec![(
            "passphrase",
            String::new(),
            master.wrap_passphrase(passphrase, work_factor)?,
        )];
        for id in identities {
            let r = keys::recipient_of(id);
            slots.push(("identity", r.to_string(), master.wrap_identity(&r)?));
        }
        let store = Store::create(dir, &vault_id, &slots).await?;
        let vault = Vault {
            dir: dir.to_owned(),
            store,
            vault_id,
        };
        vault.unlock_with(master).await
    }

    /// Open the vault in `dir` without unlocking it.
    pub async fn open(dir: &Path) -> Result<Vault> {
        let store = Store::open(dir).await?;
        let (vault_id, _) = store.meta().await?;
        Ok(Vault {
            dir: dir.to_owned(),
            store,
            vault_id,
        })
    }

    /// The vault directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The store (for maintenance and checks).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Number of stored items (readable while locked: ids are plaintext).
    pub async fn count(&self) -> Result<u64> {
        self.store.count().await
    }

    /// Open the master key with a passphrase or identities, and build the index.
    pub async fn unlock(&self, how: &Unlock) -> Result<UnlockedVault> {
        let master = self.open_master(how).await?;
        self.unlock_with(master).await
    }

    async fn open_master(&self, how: &Unlock) -> Result<MasterKey> {
        let want = match how {
            Unlock::Passphrase(_) => "passphrase",
            Unlock::Identities(_) => "identity",
        };
        let mut last = match how {
            Unlock::Passphrase(_) => Error::WrongPassphrase,
            Unlock::Identities(_) => Error::IdentityNoMatch,
        };
        for slot in self.store.slots().await?.iter().filter(|s| s.kind == want) {
            match keys::unwrap_master(&slot.wrapped, how) {
                Ok(k) => return Ok(k),
                Err(e @ (Error::WrongPassphrase | Error::IdentityNoMatch)) => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// Change the passphrase: only the passphrase slot is rewritten.
    pub async fn change_passphrase(
        &self,
        old: &SecretString,
        new: &SecretString,
        wf: WorkFactor,
    ) -> Result<()> {
        keys::check_new_passphrase(new)?;
        let master = self.open_master(&Unlock::Passphrase(old.clone())).await?;
        let wrapped = master.wrap_passphrase(new, wf)?;
        let mut tx = self.store.begin().await?;
        let n = sqlx::query("UPDATE key_slots SET wrapped = ? WHERE kind = 'passphrase'")
            .bind(&wrapped)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n != 1 {
            return Err(Error::Format("the vault has no passphrase slot".into()));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Add a key slot for each identity (the passphrase proves the right to).
    /// Returns the recipients added; identities that already have a slot are skipped.
    pub async fn add_identities(
        &self,
        passphrase: &SecretString,
        ids: &[x25519::Identity],
    ) -> Result<Vec<String>> {
        let master = self
            .open_master(&Unlock::Passphrase(passphrase.clone()))
            .await?;
        let have: Vec<String> = self
            .store
            .slots()
            .await?
            .into_iter()
            .map(|s| s.label)
            .collect();
        let mut tx = self.store.begin().await?;
        let mut added = Vec::new();
        for id in ids {
            let r = keys::recipient_of(id);
            let label = r.to_string();
            if have.contains(&label) || added.contains(&label) {
                continue;
            }
            sqlx::query("INSERT INTO key_slots (kind, label, wrapped, created_at) VALUES ('identity', ?, ?, ?)")
                .bind(&label)
                .bind(master.wrap_identity(&r)?)
                .bind(Utc::now().timestamp_micros())
                .execute(&mut *tx)
                .await?;
            added.push(label);
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Remove the identity slot of `recipient` (`age1...`). Returns false
    /// when there is none.
    pub async fn remove_identity(&self, recipient: &str) -> Result<bool> {
        let mut tx = self.store.begin().await?;
        let n = sqlx::query("DELETE FROM key_slots WHERE kind = 'identity' AND label = ?")
            .bind(recipient)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    /// The recipients of the identity slots.
    pub async fn identities(&self) -> Result<Vec<String>> {
        Ok(self
            .store
            .slots()
            .await?
            .into_iter()
            .filter(|s| s.kind == "identity")
            .map(|s| s.label)
            .collect())
    }

    /// Make a new master key and re-seal every item, policy record and audit
    /// entry under it, rewrapping every key slot, in one transaction: a kill
    /// at any moment leaves the vault under exactly one key, old or new.
    /// Returns the vault unlocked under the new key.
    pub async fn rekey(&self, passphrase: &SecretString, wf: WorkFactor) -> Result<UnlockedVault> {
        use futures_util::TryStreamExt;
        let old = self
            .open_master(&Unlock::Passphrase(passphrase.clone()))
            .await?;
        let new = MasterKey::generate()?;
        let (old_items, old_records, old_audit) = self.keys_of(&old)?;
        let (new_items, new_records, new_audit) = self.keys_of(&new)?;
        drop(old);
        let slots = self.store.slots().await?;
        let mut tx = self.store.begin().await?;
        // Items, in rowid order.
        let rows: Vec<ItemRow> = self.store.stream().try_collect().await?;
        for r in &rows {
            let aad = seal::item_aad(&self.vault_id, &r.id, r.version);
            let plain = old_items
                .open(&aad, &r.sealed)
                .map_err(|_| Error::Integrity(r.id))?;
            sqlx::query("UPDATE items SET sealed = ? WHERE rowid = ?")
                .bind(new_items.seal(&aad, &plain)?)
                .bind(r.rowid)
                .execute(&mut *tx)
                .await?;
        }
        drop(rows);
        for (id, sealed) in self.store.records().await? {
            let aad = record_aad(&self.vault_id, &id);
            let plain = old_records
                .open(&aad, &sealed)
                .map_err(|_| Error::Format(format!("policy record {id} failed authentication")))?;
            crate::store::put_record(&mut tx, &id, &new_records.seal(&aad, &plain)?).await?;
        }
        old_audit.reseal_into(&mut tx, &new_audit).await?;
        sqlx::query("DELETE FROM key_slots")
            .execute(&mut *tx)
            .await?;
        let now = Utc::now().timestamp_micros();
        for s in &slots {
            let wrapped = if s.kind == "passphrase" {
                new.wrap_passphrase(passphrase, wf)?
            } else {
                let r: x25519::Recipient = s.label.parse().map_err(|_| {
                    Error::Format(format!("identity slot {} has no valid recipient", s.id))
                })?;
                new.wrap_identity(&r)?
            };
            sqlx::query(
                "INSERT INTO key_slots (kind, label, wrapped, created_at) VALUES (?, ?, ?, ?)",
            )
            .bind(&s.kind)
            .bind(&s.label)
            .bind(wrapped)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        drop((
            old_items,
            old_records,
            old_audit,
            new_items,
            new_records,
            new_audit,
        ));
        self.unlock_with(new).await
    }

    fn keys_of(&self, master: &MasterKey) -> Result<(Sealer, Sealer, AuditKeys)> {
        Ok((
            Sealer::new(master.subkey(&self.vault_id, Purpose::Items)?),
            Sealer::new(master.subkey(&self.vault_id, Purpose::Records)?),
            AuditKeys::new(
                Sealer::new(master.subkey(&self.vault_id, Purpose::Audit)?),
                master.subkey(&self.vault_id, Purpose::AuditMac)?,
                self.vault_id,
            ),
        ))
    }

    async fn unlock_with(&self, master: MasterKey) -> Result<UnlockedVault> {
        use futures_util::TryStreamExt;
        let (sealer, records, audit) = self.keys_of(&master)?;
        drop(master);
        {
            let mut tx = self.store.begin().await?;
            audit.ensure_head(&mut tx).await?;
            tx.commit().await?;
        }
        // Pipeline: the store scans on its own thread, this task opens the
        // blobs, and a blocking thread parses and indexes them.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Opened>>(8);
        let builder = tokio::task::spawn_blocking(move || {
            let mut st = IndexState::default();
            while let Some(batch) = rx.blocking_recv() {
                st.index_opened(batch);
            }
            st
        });
        let mut rows = self.store.stream();
        let mut batch = Vec::with_capacity(UNLOCK_BATCH);
        let mut send_failed = false;
        while let Some(row) = rows.try_next().await? {
            let plain = sealer
                .open(
                    &seal::item_aad(&self.vault_id, &row.id, row.version),
                    &row.sealed,
                )
                .ok();
            batch.push(Opened {
                rowid: row.rowid,
                id: row.id,
                created_at: row.created_at,
                updated_at: row.updated_at,
                plain,
            });
            if batch.len() == UNLOCK_BATCH
                && tx
                    .send(std::mem::replace(
                        &mut batch,
                        Vec::with_capacity(UNLOCK_BATCH),
                    ))
                    .await
                    .is_err()
            {
                send_failed = true;
                break;
            }
        }
        drop(rows);
        if !send_failed {
            let _ = tx.send(batch).await;
        }
        drop(tx);
        let state = builder
            .await
            .map_err(|_| Error::Crypto("the index builder thread failed"))?;
        if !state.damaged.is_empty() {
            tracing::warn!(
                count = state.damaged.len(),
                "items failed authentication at unlock"
            );
        }
        Ok(UnlockedVault {
            dir: self.dir.clone(),
            store: self.store.clone(),
            vault_id: self.vault_id,
            sealer: Arc::new(sealer),
            records,
            audit,
            state: RwLock::new(state),
            writer: tokio::sync::Mutex::new(()),
            audit_queue: std::sync::Mutex::new(Vec::new()),
        })
    }
}

/// A row whose blob was opened (or failed to: `plain` is `None`).
struct Opened {
    rowid: i64,
    id: Uuid,
    created_at: i64,
    updated_at: i64,
    plain: Option<Zeroizing<Vec<u8>>>,
}

/// What the policy can know about an item without its text: namespace,
/// tags and sensitivity. Items sharing all three form a group, and every
/// policy decision is the same for a whole group.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupKey {
    /// The namespace.
    pub namespace: Namespace,
    /// The tags, sorted.
    pub tags: Vec<Tag>,
    /// The sensitivity.
    pub sensitivity: Sensitivity,
    /// The kind (not a policy fact; it lets the profile find preferences
    /// without opening every item).
    pub kind: crate::Kind,
}

#[derive(Default)]
struct IndexState {
    index: Index,
    /// rowid -> group, in rowid (creation) order.
    rows: BTreeMap<i64, u32>,
    by_id: HashMap<Uuid, i64>,
    groups: Vec<GroupKey>,
    group_ids: HashMap<GroupKey, u32>,
    damaged: BTreeSet<Uuid>,
}

fn tag_line(tags: &[Tag]) -> Zeroizing<String> {
    Zeroizing::new(tags.iter().map(Tag::as_str).collect::<Vec<_>>().join(" "))
}

impl IndexState {
    fn group_of(&mut self, key: GroupKey) -> u32 {
        if let Some(&g) = self.group_ids.get(&key) {
            return g;
        }
        let g = self.groups.len() as u32;
        self.groups.push(key.clone());
        self.group_ids.insert(key, g);
        g
    }

    /// The groups passing `f`, as a set indexed by group id.
    fn group_set(&self, f: &(dyn Fn(&GroupKey) -> bool + Sync)) -> Vec<bool> {
        self.groups.iter().map(f).collect()
    }

    /// Parse opened rows and add them to the index; rows that failed to
    /// open or parse are recorded as damaged.
    fn index_opened(&mut self, batch: Vec<Opened>) {
        let mut good = Vec::with_capacity(batch.len());
        for o in &batch {
            let parsed = o
                .plain
                .as_ref()
                .and_then(|p| serde_json::from_slice::<Payload>(p).ok())
                .filter(|p| p.created_at == o.created_at && p.updated_at == o.updated_at)
                .and_then(|p| {
                    let tags: Vec<Tag> = p
                        .tags
                        .iter()
                        .map(|t| t.parse())
                        .collect::<Result<_>>()
                        .ok()?;
                    let key = GroupKey {
                        namespace: p.namespace.parse().ok()?,
                        tags,
                        sensitivity: p.sensitivity,
                        kind: p.kind.parse().ok()?,
                    };
                    Some((key, p))
                });
            match parsed {
                Some((key, p)) => {
                    let group = self.group_of(key);
                    good.push((o, group, p));
                }
                None => {
                    self.damaged.insert(o.id);
                }
            }
        }
        let tag_lines: Vec<Zeroizing<String>> = good
            .iter()
            .map(|g| tag_line(&self.groups[g.1 as usize].tags))
            .collect();
        let docs: Vec<Doc> = good
            .iter()
            .zip(&tag_lines)
            .map(|((o, group, p), tags)| Doc {
                rowid: o.rowid,
                title: p.title.as_deref().unwrap_or(""),
                body: &p.body,
                tags,
                group: *group,
            })
            .collect();
        self.index.insert_many(&docs);
        drop(docs);
        for (o, group, _) in good {
            self.by_id.insert(o.id, o.rowid);
            self.rows.insert(o.rowid, group);
        }
    }

    /// Index items stored at the given rowids.
    fn add_items(&mut self, items: &[(i64, &Item)]) {
        let groups: Vec<u32> = items
            .iter()
            .map(|(_, i)| {
                self.group_of(GroupKey {
                    namespace: i.namespace.clone(),
                    tags: i.tags.clone(),
                    sensitivity: i.sensitivity,
                    kind: i.kind.clone(),
                })
            })
            .collect();
        let tag_lines: Vec<Zeroizing<String>> =
            items.iter().map(|(_, i)| tag_line(&i.tags)).collect();
        let docs: Vec<Doc> = items
            .iter()
            .zip(&tag_lines)
            .zip(&groups)
            .map(|(((rowid, i), tags), group)| Doc {
                rowid: *rowid,
                title: i.title.as_deref().unwrap_or(""),
                body: &i.body,
                tags,
                group: *group,
            })
            .collect();
        self.index.insert_many(&docs);
        drop(docs);
        for ((rowid, i), group) in items.iter().zip(groups) {
            self.by_id.insert(i.id, *rowid);
            self.rows.insert(*rowid, group);
        }
    }

    fn remove_item(&mut self, id: &Uuid) {
        if let Some(rowid) = self.by_id.remove(id) {
            self.index.remove(rowid);
            self.rows.remove(&rowid);
        }
        self.damaged.remove(id);
    }
}

/// A policy record as stored: an id, a kind and its JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// The record's id.
    pub id: Uuid,
    /// What it is (`client`, `grant`, `deny`).
    pub kind: String,
    /// Its content.
    pub data: serde_json::Value,
}

#[derive(Serialize, Deserialize)]
struct RecordPayload {
    kind: String,
    data: serde_json::Value,
}

fn record_aad(vault_id: &[u8; 16], id: &Uuid) -> Vec<u8> {
    let mut a = b"ctxvault/record/v1".to_vec();
    a.extend_from_slice(vault_id);
    a.extend_from_slice(id.as_bytes());
    a
}

/// Policy records to write and delete, and an audit entry, in one transaction.
#[derive(Debug, Default)]
pub struct RecordChange {
    /// Records to insert or replace.
    pub put: Vec<Record>,
    /// Ids of records to delete.
    pub delete: Vec<Uuid>,
    /// The entry recording the change.
    pub audit: Option<AuditEntry>,
}

/// Holds off writes to an unlocked vault while alive.
pub struct WriteGuard<'a>(
    #[allow(dead_code)] tokio::sync::MutexGuard<'a, ()>,
    #[allow(dead_code)] tokio::sync::RwLockWriteGuard<'a, IndexState>,
);

/// An unlocked vault. Dropping it wipes the keys and frees the index.
pub struct UnlockedVault {
    dir: PathBuf,
    store: Store,
    vault_id: [u8; 16],
    sealer: Arc<Sealer>,
    records: Sealer,
    audit: AuditKeys,
    state: RwLock<IndexState>,
    /// Held by every writer of the database, in order: writers are
    /// serialized (the audit chain and SQLite's single writer need it) while
    /// readers of the index go on during a commit's fsync. Taken before
    /// `state`, never after.
    writer: tokio::sync::Mutex<()>,
    /// Audit entries waiting to be written (see [`UnlockedVault::record_audit`]).
    audit_queue: std::sync::Mutex<Vec<PendingAudit>>,
}

/// An audit entry waiting for a group commit, and who waits for its `seq`.
type PendingAudit = (AuditEntry, tokio::sync::oneshot::Sender<Result<u64>>);

impl UnlockedVault {
    /// The vault directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The store (for maintenance and checks).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Wait for writes in flight and hold off new ones until the guard drops
    /// (used around `rekey`, which must not race a write under the old key).
    pub async fn quiesce(&self) -> WriteGuard<'_> {
        let writer = self.writer.lock().await;
        WriteGuard(writer, self.state.write().await)
    }

    /// Item counts.
    pub async fn stats(&self) -> VaultStats {
        let st = self.state.read().await;
        VaultStats {
            items: st.rows.len() as u64,
            damaged: st.damaged.iter().copied().collect(),
        }
    }

    fn seal_item(&self, item: &Item) -> Result<ItemRow> {
        seal_item(&self.sealer, &self.vault_id, item)
    }

    fn open_item(&self, row: &ItemRow) -> Result<Item> {
        let bad = || Error::Integrity(row.id);
        let plain = self
            .sealer
            .open(
                &seal::item_aad(&self.vault_id, &row.id, row.version),
                &row.sealed,
            )
            .map_err(|_| bad())?;
        let p: Payload = serde_json::from_slice(&plain).map_err(|_| bad())?;
        if p.created_at != row.created_at || p.updated_at != row.updated_at {
            return Err(bad());
        }
        Ok(Item {
            id: row.id,
            namespace: p.namespace.parse().map_err(|_| bad())?,
            kind: p.kind.parse().map_err(|_| bad())?,
            title: p.title.map(Cow::into_owned),
            body: p.body.into_owned(),
            tags: p
                .tags
                .iter()
                .map(|t| t.parse())
                .collect::<Result<_>>()
                .map_err(|_| bad())?,
            sensitivity: p.sensitivity,
            source: p.source.parse().map_err(|_| bad())?,
            created_at: from_micros(row.created_at, row.id)?,
            updated_at: from_micros(row.updated_at, row.id)?,
            version: row.version,
        })
    }

    fn now() -> DateTime<Utc> {
        // Microsecond precision: what the store keeps.
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

    /// Validate and store a new item; returns it as stored.
    pub async fn add(&self, new: NewItem) -> Result<Item> {
        self.add_audited(new, None).await
    }

    /// Store a new item and, in the same transaction, an audit entry (whose
    /// `ids` gets the new id).
    pub async fn add_audited(&self, new: NewItem, audit: Option<AuditEntry>) -> Result<Item> {
        self.add_with(
            new,
            RecordChange {
                audit,
                ..Default::default()
            },
        )
        .await
    }

    /// Store a new item and, in the same transaction, a record change (its
    /// audit entry's `ids` gets the new id).
    pub async fn add_with(&self, new: NewItem, mut change: RecordChange) -> Result<Item> {
        let new = new.validate()?;
        let now = Self::now();
        let item = Self::build(&new, Uuid::now_v7(), now);
        let row = self.seal_item(&item)?;
        if let Some(entry) = change.audit.as_mut() {
            entry.ids = vec![item.id];
        }
        let _w = self.writer.lock().await;
        let mut tx = self.store.begin().await?;
        let rowid = Store::insert_in(&mut tx, &row).await?;
        self.write_records(&mut tx, &change).await?;
        tx.commit().await?;
        self.state.write().await.add_items(&[(rowid, &item)]);
        Ok(item)
    }

    /// Validate and store many items in one transaction. Nothing is written
    /// unless every item is valid. Returns the new ids in order.
    ///
    /// The index is built on a blocking thread while SQLite writes, so the
    /// two costs overlap. Callers must not cancel this future midway (the
    /// agent runs every request as its own task).
    pub async fn add_bulk(&self, news: Vec<NewItem>) -> Result<Vec<Uuid>> {
        let news = news
            .into_iter()
            .map(NewItem::validate)
            .collect::<Result<Vec<_>>>()?;
        let now = Self::now();
        let items: Vec<Item> = news
            .iter()
            .map(|n| Self::build(n, Uuid::now_v7(), now))
            .collect();
        drop(news);
        self.insert_items(items, RecordChange::default()).await
    }

    /// Bring in complete items (ids, timestamps, versions and provenance
    /// kept), in one transaction. Items whose id exists, or whose namespace
    /// and body equal an existing item's (or an earlier one's in `items`),
    /// are skipped and counted. With `dry_run` nothing is written.
    ///
    /// `extra` (policy records and an audit entry) is written in the same
    /// transaction.
    pub async fn import(
        &self,
        items: Vec<Item>,
        extra: RecordChange,
        dry_run: bool,
    ) -> Result<ImportReport> {
        for i in &items {
            crate::item::check_body(&i.body).map_err(|e| at_item(e, &i.id))?;
            if let Some(t) = &i.title {
                crate::item::check_title(t).map_err(|e| at_item(e, &i.id))?;
            }
            if i.version == 0 {
                return Err(Error::Invalid {
                    field: "version",
                    reason: format!("item {}: version must be at least 1", i.id),
                });
            }
        }
        let existing = self.list(&ItemFilter::default()).await?;
        let mut ids: std::collections::HashSet<Uuid> = existing.iter().map(|i| i.id).collect();
        let content_key = |i: &Item| {
            let mut d = ring::digest::Context::new(&ring::digest::SHA256);
            d.update(i.namespace.as_str().as_bytes());
            d.update(&[0]);
            d.update(i.body.as_bytes());
            d.finish().as_ref().to_vec()
        };
        let mut contents: std::collections::HashSet<Vec<u8>> =
            existing.iter().map(content_key).collect();
        drop(existing);
        let mut fresh = Vec::with_capacity(items.len());
        let mut duplicates = 0u64;
        for mut i in items {
            if ids.contains(&i.id) || !contents.insert(content_key(&i)) {
                duplicates += 1;
                continue;
            }
            ids.insert(i.id);
            i.tags = crate::item::normalize_tags(std::mem::take(&mut i.tags))?;
            fresh.push(i);
        }
        let added = fresh.len() as u64;
        if !dry_run && (!fresh.is_empty() || !extra.put.is_empty()) {
            self.insert_items(fresh, extra).await?;
        }
        Ok(ImportReport { added, duplicates })
    }

    /// Store complete, valid items, and the records and audit entry of
    /// `extra`, in one transaction (the bulk path).
    async fn insert_items(&self, items: Vec<Item>, extra: RecordChange) -> Result<Vec<Uuid>> {
        // The index is taken whole while it grows: readers wait for this one.
        let _w = self.writer.lock().await;
        let mut st = self.state.write().await;
        // We hold the write lock: no other writer can take these rowids.
        let base = self.store.max_rowid().await?;
        let mut state = std::mem::take(&mut *st);
        let items = Arc::new(items);
        // Seal in chunks on one task while SQLite writes earlier chunks.
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let (to_seal, sealer, vault_id) = (items.clone(), self.sealer.clone(), self.vault_id);
        tokio::spawn(async move {
            for (c, chunk) in to_seal.chunks(crate::store::BULK_CHUNK).enumerate() {
                let first = base + 1 + (c * crate::store::BULK_CHUNK) as i64;
                let rows = chunk
                    .iter()
                    .enumerate()
                    .map(|(k, i)| {
                        seal_item(&sealer, &vault_id, i).map(|mut r| {
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
            self.write_records(&mut tx, &extra).await?;
            tx.commit().await?;
            Ok::<_, Error>(())
        }
        .await;
        let mut state = indexer
            .await
            .map_err(|_| Error::Crypto("the indexing thread failed"))?;
        let result = match written {
            Ok(()) => Ok(items.iter().map(|i| i.id).collect()),
            Err(e) => {
                for i in items.iter() {
                    state.remove_item(&i.id);
                }
                Err(e)
            }
        };
        *st = state;
        result
    }

    /// Read one item.
    pub async fn get(&self, id: &Uuid) -> Result<Item> {
        let row = self.store.get(id).await?.ok_or(Error::NoItem(*id))?;
        self.open_item(&row)
    }

    /// Change an item: bumps its version and `updated_at`.
    pub async fn edit(&self, id: &Uuid, patch: ItemPatch) -> Result<Item> {
        if patch.is_empty() {
            return Err(Error::Invalid {
                field: "edit",
                reason: "nothing to change; give new text or at least one of --ns, --kind, --title, --tag, --sensitivity".into(),
            });
        }
        let _w = self.writer.lock().await;
        let row = self.store.get(id).await?.ok_or(Error::NoItem(*id))?;
        let mut item = self.open_item(&row)?;
        if let Some(ns) = &patch.namespace {
            item.namespace = ns.clone();
        }
        if let Some(k) = &patch.kind {
            item.kind = k.clone();
        }
        if let Some(t) = &patch.title {
            crate::item::check_title(t)?;
            item.title = (!t.is_empty()).then(|| t.clone());
        }
        if let Some(b) = &patch.body {
            crate::item::check_body(b)?;
            item.body = b.clone();
        }
        if let Some(tags) = &patch.tags {
            item.tags = crate::item::normalize_tags(tags.clone())?;
        }
        if let Some(s) = patch.sensitivity {
            item.sensitivity = s;
        }
        let now = Self::now();
        item.updated_at = if now > item.updated_at {
            now
        } else {
            item.updated_at + chrono::Duration::microseconds(1)
        };
        item.version += 1;
        let new_row = self.seal_item(&item)?;
        if !self.store.update(&new_row, row.version).await? {
            return Err(Error::NoItem(*id));
        }
        let mut st = self.state.write().await;
        st.remove_item(id);
        st.add_items(&[(row.rowid, &item)]);
        Ok(item)
    }

    /// Delete an item.
    pub async fn remove(&self, id: &Uuid) -> Result<()> {
        let _w = self.writer.lock().await;
        if !self.store.delete(id).await? {
            return Err(Error::NoItem(*id));
        }
        self.state.write().await.remove_item(id);
        Ok(())
    }

    /// Every item passing `filter`, oldest first.
    pub async fn list(&self, filter: &ItemFilter) -> Result<Vec<Item>> {
        self.list_in(&|g| filter.matches(&g.namespace, &g.tags))
            .await
    }

    /// Every item whose group passes `results`, oldest first.
    pub async fn list_in(&self, results: &(dyn Fn(&GroupKey) -> bool + Sync)) -> Result<Vec<Item>> {
        let set = self.state.read().await.group_set(results);
        self.list_groups(&set).await
    }

    /// Every group, indexed by group id. Ids are stable while the vault is
    /// unlocked; groups made later get higher ids.
    pub async fn group_keys(&self) -> Vec<GroupKey> {
        self.state.read().await.groups.clone()
    }

    /// Every item whose group id is in `results` (see [`UnlockedVault::group_keys`]).
    pub async fn list_groups(&self, results: &[bool]) -> Result<Vec<Item>> {
        let rowids: Vec<i64> = {
            let st = self.state.read().await;
            st.rows
                .iter()
                .filter(|(_, g)| results.get(**g as usize).copied().unwrap_or(false))
                .map(|(r, _)| *r)
                .collect()
        };
        let rows = self.store.get_many(&rowids).await?;
        rows.iter().map(|r| self.open_item(r)).collect()
    }

    /// One page of the items whose group id is in `results`, oldest first:
    /// `limit` items after skipping `offset`, and whether more follow. Only
    /// the page is read and decrypted.
    pub async fn page_groups(
        &self,
        results: &[bool],
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<Item>, bool)> {
        let (rowids, more) = {
            let st = self.state.read().await;
            let mut matching = st
                .rows
                .iter()
                .filter(|(_, g)| results.get(**g as usize).copied().unwrap_or(false))
                .map(|(r, _)| *r)
                .skip(offset);
            let page: Vec<i64> = matching.by_ref().take(limit).collect();
            (page, matching.next().is_some())
        };
        let rows = self.store.get_many(&rowids).await?;
        let items = rows
            .iter()
            .map(|r| self.open_item(r))
            .collect::<Result<Vec<_>>>()?;
        Ok((items, more))
    }

    /// Live items per group.
    pub async fn group_counts(&self) -> Vec<(GroupKey, u32)> {
        let st = self.state.read().await;
        let counts = st.index.group_counts();
        st.groups
            .iter()
            .enumerate()
            .map(|(g, k)| (k.clone(), counts.get(g).copied().unwrap_or(0)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// The group of a stored, readable item (`None` when absent or damaged).
    pub async fn group_of_item(&self, id: &Uuid) -> Option<GroupKey> {
        let st = self.state.read().await;
        let rowid = st.by_id.get(id)?;
        let g = st.rows.get(rowid)?;
        st.groups.get(*g as usize).cloned()
    }

    /// Full-text search: every word must match (stemmed; `word*` for a
    /// prefix); if nothing matches all words, items matching any word.
    pub async fn search(
        &self,
        query: &str,
        filter: &ItemFilter,
        limit: usize,
    ) -> Result<Vec<SearchHit>> {
        self.search_in(query, limit, None, &|g| {
            filter.matches(&g.namespace, &g.tags)
        })
        .await
    }

    /// Search within a view: scores use only the items of groups passing
    /// `universe` (every item when `None`), and only groups passing
    /// `results` are returned. A caller that passes the same predicate for
    /// both sees results that do not depend on any other item.
    pub async fn search_in(
        &self,
        query: &str,
        limit: usize,
        universe: Option<&(dyn Fn(&GroupKey) -> bool + Sync)>,
        results: &(dyn Fn(&GroupKey) -> bool + Sync),
    ) -> Result<Vec<SearchHit>> {
        let (universe, results) = {
            let st = self.state.read().await;
            (universe.map(|u| st.group_set(u)), st.group_set(results))
        };
        self.search_groups(query, limit, universe.as_deref(), &results)
            .await
    }

    /// [`UnlockedVault::search_in`] with the groups given as sets of group
    /// ids (see [`UnlockedVault::group_keys`]); a group not in a set is out.
    pub async fn search_groups(
        &self,
        query: &str,
        limit: usize,
        universe: Option<&[bool]>,
        results: &[bool],
    ) -> Result<Vec<SearchHit>> {
        let terms = index::query_terms(query);
        if terms.is_empty() {
            return Err(Error::Invalid {
                field: "query",
                reason: "the query has no words; give at least one word to search for".into(),
            });
        }
        let hits = {
            let st = self.state.read().await;
            let view = View { universe, results };
            let mut hits = st.index.search(&terms, Mode::All, limit, view);
            if hits.is_empty() && terms.len() > 1 {
                hits = st.index.search(&terms, Mode::Any, limit, view);
            }
            hits
        };
        let rowids: Vec<i64> = hits.iter().map(|h| h.0).collect();
        let rows = self.store.get_many(&rowids).await?;
        let scores: HashMap<i64, f64> = hits.into_iter().collect();
        rows.iter()
            .map(|row| {
                let item = self.open_item(row)?;
                let snippet = snippet(&item.body, &terms);
                Ok(SearchHit {
                    score: scores.get(&row.rowid).copied().unwrap_or_default(),
                    snippet,
                    item,
                })
            })
            .collect()
    }

    /// Every policy record.
    pub async fn records(&self) -> Result<Vec<Record>> {
        self.store
            .records()
            .await?
            .into_iter()
            .map(|(id, sealed)| {
                let bad = || Error::Format(format!("policy record {id} failed authentication"));
                let plain = self
                    .records
                    .open(&record_aad(&self.vault_id, &id), &sealed)
                    .map_err(|_| bad())?;
                let p: RecordPayload = serde_json::from_slice(&plain).map_err(|_| bad())?;
                Ok(Record {
                    id,
                    kind: p.kind,
                    data: p.data,
                })
            })
            .collect()
    }

    /// Write and delete policy records and append an audit entry, all in
    /// one transaction.
    pub async fn commit(&self, change: RecordChange) -> Result<()> {
        let _w = self.writer.lock().await;
        let mut tx = self.store.begin().await?;
        self.write_records(&mut tx, &change).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn write_records(
        &self,
        tx: &mut sqlx::SqliteConnection,
        change: &RecordChange,
    ) -> Result<()> {
        for r in &change.put {
            let plain = Zeroizing::new(
                serde_json::to_vec(&RecordPayload {
                    kind: r.kind.clone(),
                    data: r.data.clone(),
                })
                .map_err(|_| Error::Crypto("record serialisation failed"))?,
            );
            let sealed = self
                .records
                .seal(&record_aad(&self.vault_id, &r.id), &plain)?;
            crate::store::put_record(tx, &r.id, &sealed).await?;
        }
        for id in &change.delete {
            crate::store::delete_record(tx, id).await?;
        }
        if let Some(entry) = &change.audit {
            self.audit.append(tx, entry).await?;
        }
        Ok(())
    }

    /// Append one audit entry (for reads); returns its position once it is
    /// committed.
    ///
    /// Group commit: entries from concurrent callers queue up; whichever
    /// caller next holds the writer lock writes every queued entry in one
    /// transaction (one fsync) and answers the others. A caller whose entry
    /// a leader already wrote returns without taking the lock. If the batch
    /// fails, every caller in it gets an error, so no read is answered
    /// without its entry on record.
    pub async fn record_audit(&self, entry: &AuditEntry) -> Result<u64> {
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        self.audit_queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((entry.clone(), tx));
        let lost = || Error::Crypto("the audit writer stopped before recording the entry");
        let w = tokio::select! {
            biased;
            done = &mut rx => return done.map_err(|_| lost())?,
            w = self.writer.lock() => w,
        };
        if let Ok(done) = rx.try_recv() {
            return done;
        }
        let batch =
            std::mem::take(&mut *self.audit_queue.lock().unwrap_or_else(|p| p.into_inner()));
        let written = async {
            let mut t = self.store.begin().await?;
            let mut seqs = Vec::with_capacity(batch.len());
            for (e, _) in &batch {
                seqs.push(self.audit.append(&mut t, e).await?);
            }
            t.commit().await?;
            Ok::<_, Error>(seqs)
        }
        .await;
        drop(w);
        match written {
            Ok(seqs) => {
                for ((_, waiter), seq) in batch.into_iter().zip(seqs) {
                    let _ = waiter.send(Ok(seq));
                }
            }
            Err(e) => {
                tracing::error!("audit batch failed: {e}");
                let msg = e.to_string();
                for (_, waiter) in batch {
                    let _ = waiter.send(Err(match &e {
                        Error::AuditBroken(m) => Error::AuditBroken(m.clone()),
                        _ => Error::Format(format!("the audit entry was not recorded: {msg}")),
                    }));
                }
            }
        }
        rx.await.map_err(|_| lost())?
    }

    /// Every audit entry, in order.
    pub async fn audit_entries(&self) -> Result<Vec<AuditRecord>> {
        let mut conn = self.store.pool().acquire().await?;
        self.audit.entries(&mut conn).await
    }

    /// Check the audit chain and its head.
    pub async fn audit_verify(&self) -> Result<AuditReport> {
        let mut conn = self.store.pool().acquire().await?;
        self.audit.verify(&mut conn).await
    }
}

/// True when `word` and `term` share a leading run of at least
/// `min(4, len(word), len(term))` characters, ignoring case: the stem-like
/// match used to place snippets ("running" matches "run").
fn shares_prefix(word: &str, term: &str) -> bool {
    let need = word.chars().count().min(term.chars().count()).min(4);
    if need == 0 {
        return false;
    }
    let common = word
        .chars()
        .flat_map(char::to_lowercase)
        .zip(term.chars())
        .take_while(|(a, b)| a == b)
        .count();
    common >= need
}

/// A passage of `body` around the first word sharing a stem-like prefix with
/// a query term, on one line, about [`SNIPPET_CHARS`] characters.
pub fn snippet(body: &str, terms: &[(String, bool)]) -> String {
    // Find the first matching word without allocating.
    let mut start = 0;
    let mut rest = body.char_indices().peekable();
    'words: while let Some((i, c)) = rest.next() {
        if !c.is_alphanumeric() {
            continue;
        }
        let mut end = i + c.len_utf8();
        while let Some(&(j, d)) = rest.peek() {
            if !d.is_alphanumeric() {
                break;
            }
            end = j + d.len_utf8();
            rest.next();
        }
        let word = &body[i..end];
        if terms.iter().any(|(t, _)| shares_prefix(word, t)) {
            start = i;
            break 'words;
        }
    }
    // Back up a quarter of the window, then take the window.
    let from = body[..start]
        .char_indices()
        .rev()
        .nth(SNIPPET_CHARS / 4 - 1)
        .map_or(0, |(i, _)| i);
    let mut s = String::with_capacity(SNIPPET_CHARS + 8);
    if from > 0 {
        s.push('…');
    }
    let mut taken = 0;
    let mut chars = body[from..].chars();
    for c in chars.by_ref() {
        if taken == SNIPPET_CHARS {
            break;
        }
        s.push(if c.is_whitespace() { ' ' } else { c });
        taken += 1;
    }
    if taken == SNIPPET_CHARS && body[from..].chars().count() > SNIPPET_CHARS {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod snippet_tests {
    use super::*;

    fn t(q: &str) -> Vec<(String, bool)> {
        index::query_terms(q)
    }

    #[test]
    fn snippets() {
        assert_eq!(snippet("short text", &t("text")), "short text");
        let long = format!("{} Running far {}", "a ".repeat(100), "b ".repeat(100));
        let s = snippet(&long, &t("run"));
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("Running far"), "{s}");
        assert_eq!(s.chars().count(), SNIPPET_CHARS + 2);
        assert!(snippet("line one\nline two", &t("two")).contains("line one line two"));
        assert_eq!(
            snippet("Café crème", &t("creme")),
            "Café crème",
            "no match: from the start"
        );
        assert!(snippet(&"é".repeat(300), &t("x")).ends_with('…'));
    }
}
