//! The unlocked vault and its reads: items, groups, counts, policy records.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::RwLock;
use uuid::Uuid;

use super::catalog::{Catalog, GroupKey};
use super::{VaultStats, audit_log::PendingAudit};
use crate::audit::{AuditEntry, AuditKeys};
use crate::error::{Error, Result};
use crate::guard::{Guard, GuardCheck};
use crate::item::{Item, ItemFilter};
use crate::records::{self, PolicyRecord};
use crate::seal::Sealer;
use crate::store::{self, ItemRow, Store, WriteTx};

/// Holds off writes to an unlocked vault while alive.
pub struct WriteGuard<'a>(
    #[allow(dead_code)] tokio::sync::MutexGuard<'a, ()>,
    #[allow(dead_code)] tokio::sync::RwLockWriteGuard<'a, Catalog>,
);

/// How long read entries may commit without a sync after the last synced
/// commit: the most a power loss can take of the audit log, and the most the
/// rollback guard can lag it.
pub const UNSYNCED_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// An unlocked vault. Dropping it wipes the keys and frees the index.
pub struct UnlockedVault {
    pub(super) dir: PathBuf,
    pub(super) store: Store,
    pub(super) vault_id: [u8; 16],
    pub(super) sealer: Arc<Sealer>,
    pub(super) records: Sealer,
    pub(super) audit: AuditKeys,
    /// Seals item vectors.
    pub(super) vectors: Arc<Sealer>,
    /// Seals the sync log's segments and keys files.
    pub(super) sync: Sealer,
    /// This device's id in the sync log, once sync is set up: every change
    /// then also becomes an operation of the log.
    pub(super) device: std::sync::Mutex<Option<Uuid>>,
    /// Per device, a segment missing before later ones, and since when.
    pub(super) gaps: std::sync::Mutex<HashMap<Uuid, (u64, std::time::Instant)>>,
    /// The attached embedding model, when recall by meaning is on.
    pub(super) semantic: std::sync::RwLock<Option<Arc<super::semantic::Semantic>>>,
    pub(super) state: RwLock<Catalog>,
    /// Held by every writer of the database, in order: writers are
    /// serialized (the audit chain and SQLite's single writer need it) while
    /// readers of the index go on during a commit's fsync. Taken before
    /// `state`, never after.
    pub(super) writer: tokio::sync::Mutex<()>,
    /// Audit entries waiting to be written (see [`UnlockedVault::record_audit`]).
    pub(super) audit_queue: std::sync::Mutex<Vec<PendingAudit>>,
    /// The rollback guard, written after every synced commit.
    pub(super) guard: Guard,
    /// When the last synced commit returned (read entries commit unsynced
    /// only within [`UNSYNCED_FOR`] of it).
    pub(super) synced_at: std::sync::Mutex<std::time::Instant>,
    /// What unlock found wrong with the vault's state (a rollback), for
    /// `status` to show.
    pub(super) warnings: Vec<String>,
    /// Set when the vault is locked or rekeyed away (see [`UnlockedVault::retire`]).
    pub(super) retired: std::sync::atomic::AtomicBool,
}

impl UnlockedVault {
    /// The vault directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The store (for maintenance and checks).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Mark the vault as taken away (locked, or replaced by a rekey): the
    /// background work commits nothing more under its keys.
    pub fn retire(&self) {
        self.retired
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// True once [`UnlockedVault::retire`] was called.
    pub fn is_retired(&self) -> bool {
        self.retired.load(std::sync::atomic::Ordering::SeqCst)
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
            warnings: self.warnings.clone(),
        }
    }

    /// Commit `tx` (synced) and record its generation in the rollback guard.
    pub(super) async fn finish(&self, tx: WriteTx) -> Result<()> {
        let generation = tx.commit().await?;
        self.synced(generation);
        Ok(())
    }

    /// A synced commit reached `generation`: everything before it is on
    /// disk, so the guard may record it.
    pub(super) fn synced(&self, generation: u64) {
        self.guard.record(&self.audit, generation);
        *self.synced_at.lock().unwrap_or_else(|p| p.into_inner()) = std::time::Instant::now();
    }

    /// True when a synced commit returned within [`UNSYNCED_FOR`].
    pub(super) fn synced_lately(&self) -> bool {
        self.synced_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed()
            < UNSYNCED_FOR
    }

    /// Act on what the rollback guard found at unlock: a rollback raises
    /// the database's counter to the recorded one (so it is told once) and
    /// goes on the audit record with the other findings; the guard is then
    /// brought up to date. Returns the warning, if any.
    pub(super) async fn settle_guard(&self, check: &GuardCheck) -> Result<Option<String>> {
        let Some(warning) = check.warning() else {
            self.guard
                .record(&self.audit, self.store.generation().await?);
            return Ok(None);
        };
        tracing::warn!("{warning}");
        let raise = match check {
            GuardCheck::RolledBack { recorded, .. } => *recorded,
            _ => 0,
        };
        let _w = self.writer.lock().await;
        let entry = AuditEntry {
            time: chrono::Utc::now(),
            client: None,
            action: "vault-check".into(),
            query: None,
            ids: Vec::new(),
            grants: Vec::new(),
            detail: Some(warning.clone()),
            tool: None,
            door: None,
            provider: None,
            aspect: None,
        };
        let mut tx = self.store.begin().await?;
        store::raise_generation(&mut tx, raise).await?;
        match self.audit.append(&mut tx, &entry).await {
            Ok(_) => self.finish(tx).await?,
            Err(e) => {
                // A broken audit log must not keep the user out: the
                // counter is raised without the entry.
                tracing::warn!("the finding could not be recorded in the audit log: {e}");
                drop(tx);
                let mut tx = self.store.begin().await?;
                store::raise_generation(&mut tx, raise).await?;
                self.finish(tx).await?;
            }
        }
        Ok(Some(warning))
    }

    pub(super) fn open_item(&self, row: &ItemRow) -> Result<Item> {
        records::open_item(&self.sealer, &self.vault_id, row)
    }

    pub(super) fn open_rows(&self, rows: &[ItemRow]) -> Result<Vec<Item>> {
        rows.iter().map(|r| self.open_item(r)).collect()
    }

    /// Read one item.
    pub async fn get(&self, id: &Uuid) -> Result<Item> {
        let row = self.store.get(id).await?.ok_or(Error::NoItem(*id))?;
        self.open_item(&row)
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
        let rowids: Vec<i64> = self.state.read().await.rowids_in(results).collect();
        self.open_rows(&self.store.get_many(&rowids).await?)
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
            let mut matching = st.rowids_in(results).skip(offset);
            let page: Vec<i64> = matching.by_ref().take(limit).collect();
            (page, matching.next().is_some())
        };
        let items = self.open_rows(&self.store.get_many(&rowids).await?)?;
        Ok((items, more))
    }

    /// The newest `n` items of the groups marked in `results`, oldest of
    /// them first; only those are opened.
    pub async fn newest_in_groups(&self, results: &[bool], n: usize) -> Result<Vec<Item>> {
        let rowids: Vec<i64> = {
            let st = self.state.read().await;
            st.newest_rowids(|g| results.get(g as usize).copied().unwrap_or(false), n)
        };
        self.open_rows(&self.store.get_many(&rowids).await?)
    }

    /// The one item whose id starts with `prefix`: hex digits (dashes
    /// anywhere are ignored), at least [`MIN_PREFIX`] of them.
    pub async fn resolve_prefix(&self, prefix: &str) -> Result<Uuid> {
        let digits: Vec<u8> = prefix
            .chars()
            .filter(|c| *c != '-')
            .map(|c| c.to_digit(16).map(|d| d as u8))
            .collect::<Option<_>>()
            .filter(|d: &Vec<u8>| (MIN_PREFIX..=32).contains(&d.len()))
            .ok_or_else(|| Error::Invalid {
                field: "id",
                reason: format!(
                    "{prefix:?} is not an item id or the start of one ({MIN_PREFIX} to 32 hex digits); list ids with `ctxvault ls`"
                ),
            })?;
        let st = self.state.read().await;
        let mut found = st
            .by_id
            .range(super::ids::prefix_range(&digits))
            .map(|(id, _)| id);
        match (found.next(), found.count()) {
            (Some(id), 0) => Ok(*id),
            (None, _) => Err(Error::Invalid {
                field: "id",
                reason: format!("no item id starts with {prefix}; list ids with `ctxvault ls`"),
            }),
            (Some(_), more) => Err(Error::Invalid {
                field: "id",
                reason: format!(
                    "{prefix} starts {} item ids; give more of the id (`ctxvault ls` shows each one's shortest unique start)",
                    more + 1
                ),
            }),
        }
    }

    /// For each id, the shortest start of it (at least 8 hex digits, in
    /// the id's own dashed form) that no other item's id shares.
    pub async fn short_ids(&self, ids: &[Uuid]) -> Vec<String> {
        let need: Vec<usize> = {
            let st = self.state.read().await;
            ids.iter()
                .map(|id| super::ids::distinct_digits(&st.by_id, id))
                .collect()
        };
        ids.iter()
            .zip(need)
            .map(|(id, need)| super::ids::start(id, need.clamp(8, 32)))
            .collect()
    }

    /// Every item as of now, to be read `chunk` items at a time (an export
    /// that never holds the whole vault in memory). Items added later are
    /// not in it; one removed before its chunk is read fails that chunk.
    /// Only items up to sensitivity `max` are in it.
    pub async fn scan(&self, chunk: usize, max: crate::Sensitivity) -> ItemScan {
        let st = self.state.read().await;
        let upto: Vec<bool> = st.groups.iter().map(|g| g.sensitivity <= max).collect();
        let rowids: Vec<i64> = st.rowids_in(&upto).collect();
        // Ids too: a removed item's rowid can be reused by a new one.
        let mut ids: std::collections::HashMap<i64, Uuid> = HashMap::with_capacity(rowids.len());
        for (id, rowid) in &st.by_id {
            ids.insert(*rowid, *id);
        }
        let ids = rowids
            .iter()
            .map(|r| ids.get(r).copied().unwrap_or_default())
            .collect();
        ItemScan {
            rowids,
            ids,
            next: 0,
            chunk: chunk.max(1),
        }
    }

    /// The next chunk of `scan`, oldest first; `None` at the end.
    pub async fn scan_next(&self, scan: &mut ItemScan) -> Result<Option<Vec<Item>>> {
        let end = (scan.next + scan.chunk).min(scan.rowids.len());
        let Some(rowids) = scan.rowids.get(scan.next..end).filter(|r| !r.is_empty()) else {
            return Ok(None);
        };
        let rows = self.store.get_many(rowids).await?;
        let same = rows.len() == rowids.len()
            && rows
                .iter()
                .zip(&scan.ids[scan.next..end])
                .all(|(r, id)| r.id == *id);
        if !same {
            return Err(Error::Changed("export"));
        }
        scan.next = end;
        self.open_rows(&rows).map(Some)
    }

    /// Live items per namespace, by sensitivity (`[public, normal, private,
    /// secret]`), of the groups `keep` accepts, namespaces in order.
    pub async fn namespace_counts(
        &self,
        keep: impl Fn(&GroupKey) -> bool,
    ) -> Vec<(crate::Namespace, [u64; 4])> {
        self.state.read().await.namespace_counts(keep)
    }

    /// The group of a stored, readable item (`None` when absent or damaged).
    pub async fn group_of_item(&self, id: &Uuid) -> Option<GroupKey> {
        self.state.read().await.group_of_item(id).cloned()
    }

    /// Every policy record. A record that fails authentication is an
    /// integrity error naming it.
    pub async fn records(&self) -> Result<Vec<PolicyRecord>> {
        self.store
            .records()
            .await?
            .into_iter()
            .map(|(id, sealed)| records::open_record(&self.records, &self.vault_id, id, &sealed))
            .collect()
    }
}

/// Fewest hex digits an id prefix may have.
pub const MIN_PREFIX: usize = 4;

/// Every item of a vault at one moment, read in chunks with
/// [`UnlockedVault::scan_next`].
pub struct ItemScan {
    rowids: Vec<i64>,
    /// The id at each rowid when the scan began.
    ids: Vec<Uuid>,
    next: usize,
    chunk: usize,
}

impl ItemScan {
    /// How many items the scan holds.
    pub fn len(&self) -> usize {
        self.rowids.len()
    }

    /// True when the vault had no items.
    pub fn is_empty(&self) -> bool {
        self.rowids.is_empty()
    }
}
