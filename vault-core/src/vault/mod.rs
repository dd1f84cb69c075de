//! The vault: a locked handle on the store, and the unlocked view that reads,
//! writes and searches items. Split by concern:
//!
//! - this module: the locked [`Vault`] (create, open, unlock);
//! - `slots`: key slots, passphrase change, identities, rekey;
//! - `unlocked`: the [`UnlockedVault`] and its reads;
//! - `change`: the one change-set path every write goes through;
//! - `catalog`: rows, groups and the search engine, in memory;
//! - `search`: searches over the index seam, and snippets;
//! - `views`: registered views, a reader's visible items kept current;
//! - `audit_log`: the audit group commit and the log's reads.
//!
//! The sealed layouts are in [`crate::records`].

mod audit_log;
mod catalog;
mod change;
mod ids;
mod search;
mod semantic;
mod slots;
mod sync;
mod sync_apply;
mod unlocked;
mod views;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use age::secrecy::SecretString;
use age::x25519;
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::guard::Guard;
use crate::item::Item;
use crate::keys::{self, MasterKey, Unlock, WorkFactor};
use crate::seal;
use crate::store::Store;

pub use catalog::GroupKey;
use catalog::{Catalog, Opened};
pub use change::{ChangeSet, Dedupe, RecordChange};
pub use search::{SearchFilter, snippet};
pub use semantic::{EMBED_BATCH, EmbedProgress, embed_text};
pub use sync::SyncState;
pub use sync_apply::{Applied, Conflict, Keep};
pub use unlocked::{ItemScan, MIN_PREFIX, UnlockedVault, WriteGuard};
pub use views::{Admit, MAX_VIEWS, ViewKey};

/// Rows decrypted and indexed per batch while unlocking.
const UNLOCK_BATCH: usize = 2048;

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
    /// What unlock found wrong with the vault's state (a rollback), one
    /// line each.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// What an import did (or would do, for a dry run).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// Items added.
    pub added: u64,
    /// Items skipped: same id, or same namespace and body, as one present.
    pub duplicates: u64,
    /// Present history chunks given a link to the turn after them.
    pub updated: u64,
}

/// One search result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchHit {
    /// The item.
    #[serde(flatten)]
    pub item: Item,
    /// Relevance, higher is better.
    pub score: f64,
    /// A short passage of the body around the first match.
    pub snippet: String,
    /// Which engines found it.
    #[serde(default)]
    pub engines: crate::Engines,
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
        Self::create_from(dir, master, vault_id, &slots, None).await
    }

    /// Create a vault in `dir` from a sync remote: the keys file of a
    /// device (`device`, `keys`) gives the key slots, one of which `how`
    /// must open. The vault is empty, set up to sync as a new device with
    /// `remote` (sealed by the caller's rules), and returned unlocked: its
    /// items come from the remote's segments.
    pub async fn join(
        dir: &Path,
        vault_id: [u8; 16],
        keys: &[(Uuid, Vec<u8>)],
        how: &Unlock,
        remote: &str,
    ) -> Result<UnlockedVault> {
        if Store::exists(dir) {
            return Err(Error::AlreadyExists(dir.to_owned()));
        }
        let mut last = match how {
            Unlock::Passphrase(_) => Error::WrongPassphrase,
            Unlock::Identities(_) => Error::IdentityNoMatch,
        };
        for (device, file) in keys {
            // A keys file that does not parse or authenticate is skipped:
            // another device's may serve.
            for slot in crate::sync::format::keys_slots(file).unwrap_or_default() {
                let master = match keys::unwrap_master(&slot, how) {
                    Ok(k) => k,
                    Err(e @ (Error::WrongPassphrase | Error::IdentityNoMatch)) => {
                        last = e;
                        continue;
                    }
                    Err(Error::MalformedSlot(_)) => continue,
                    Err(e) => return Err(e),
                };
                let sync = seal::Sealer::new(master.subkey(&vault_id, keys::Purpose::Sync)?);
                let Some(slots) = crate::sync::format::open_keys(&sync, &vault_id, device, file)
                else {
                    last = Error::Sync(format!(
                        "the keys file of device {} in the remote fails authentication: it was altered, or is not this vault's; nothing was created",
                        crate::sync::short(device)
                    ));
                    break;
                };
                let slots: Vec<(&str, String, Vec<u8>)> = slots
                    .into_iter()
                    .filter_map(|(k, l, w)| match k.as_str() {
                        "passphrase" => Some(("passphrase", l, w)),
                        "identity" => Some(("identity", l, w)),
                        _ => None,
                    })
                    .collect();
                return Self::create_from(dir, master, vault_id, &slots, Some(remote)).await;
            }
        }
        Err(last)
    }

    /// Create the store with these slots; with `join`, set up in the same
    /// commit as a new device syncing with that remote.
    async fn create_from(
        dir: &Path,
        master: MasterKey,
        vault_id: [u8; 16],
        slots: &[(&str, String, Vec<u8>)],
        join: Option<&str>,
    ) -> Result<UnlockedVault> {
        let store = Store::create(dir, &vault_id, slots).await?;
        let vault = Vault {
            dir: dir.to_owned(),
            store,
            vault_id,
        };
        {
            let keys = vault.keys_of(&master)?;
            let mut tx = vault.store.begin().await?;
            keys.audit.create_head(&mut tx).await?;
            if let Some(remote) = join {
                let d = sync::joined(&keys.sync, &vault_id, remote)?;
                crate::store::sync::put_device(&mut tx, &d).await?;
            }
            let generation = tx.commit().await?;
            let (guard, _) = Guard::open(dir, &keys.audit, generation)?;
            guard.record(&keys.audit, generation);
        }
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

    /// Check that `how` opens the vault (its key slot only: nothing is read
    /// or indexed, and the key is wiped at once).
    pub async fn check(&self, how: &Unlock) -> Result<()> {
        self.open_master(how).await.map(drop)
    }

    /// Open the master key with a passphrase or identities, and build the index.
    pub async fn unlock(&self, how: &Unlock) -> Result<UnlockedVault> {
        let master = self.open_master(how).await?;
        self.unlock_with(master).await
    }

    /// Derive the subkeys, then build the catalog as a pipeline: the store
    /// scans on its own thread, this task opens the blobs, and a blocking
    /// thread parses and indexes them.
    async fn unlock_with(&self, master: MasterKey) -> Result<UnlockedVault> {
        use futures_util::TryStreamExt;
        let keys = self.keys_of(&master)?;
        drop(master);
        let (guard, check) = Guard::open(&self.dir, &keys.audit, self.store.generation().await?)?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Opened>>(8);
        let builder = tokio::task::spawn_blocking(move || {
            let mut st = Catalog::default();
            while let Some(batch) = rx.blocking_recv() {
                st.index_opened(batch);
            }
            st
        });
        let mut rows = self.store.stream();
        let mut batch = Vec::with_capacity(UNLOCK_BATCH);
        let mut send_failed = false;
        while let Some(row) = rows.try_next().await? {
            let plain = keys
                .items
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
        let catalog = builder
            .await
            .map_err(|_| Error::Crypto("the index builder thread failed"))?;
        if !catalog.damaged.is_empty() {
            tracing::warn!(
                count = catalog.damaged.len(),
                "items failed authentication at unlock"
            );
        }
        let mut vault = UnlockedVault {
            dir: self.dir.clone(),
            store: self.store.clone(),
            vault_id: self.vault_id,
            sealer: Arc::new(keys.items),
            records: keys.records,
            audit: keys.audit,
            vectors: Arc::new(keys.vectors),
            sync: keys.sync,
            device: std::sync::Mutex::new(self.store.sync_device().await?),
            gaps: Default::default(),
            semantic: std::sync::RwLock::new(None),
            state: RwLock::new(catalog),
            writer: tokio::sync::Mutex::new(()),
            audit_queue: std::sync::Mutex::new(Vec::new()),
            guard,
            synced_at: std::sync::Mutex::new(std::time::Instant::now()),
            warnings: Vec::new(),
            retired: std::sync::atomic::AtomicBool::new(false),
        };
        if let Some(w) = vault.settle_guard(&check).await? {
            vault.warnings.push(w);
        }
        // Idempotency keys serve retries made within moments; a week is ample.
        let week = chrono::Duration::days(7)
            .num_microseconds()
            .unwrap_or(i64::MAX);
        vault
            .store
            .prune_requests(chrono::Utc::now().timestamp_micros().saturating_sub(week))
            .await?;
        Ok(vault)
    }
}
