//! Sync in the agent: the remote a vault syncs with, rounds of sync on
//! request and on their own (soon after a change, and on an interval, with
//! back-off while the remote is unreachable), joining a remote as a new
//! device, conflicts and blocked devices. The log itself is the vault's
//! (`vault_core::sync`).

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use vault_core::sync::driver;
use vault_core::sync::remote::{Entry, Folder, Remote, RemoteError};
use vault_core::vault::Keep;

use crate::agent::Agent;
use crate::protocol::*;
use crate::session::Session;

/// A remote the agent can sync with.
pub(crate) enum AnyRemote {
    /// A folder a file-sync engine replicates.
    Folder(Folder),
    /// A bucket of an S3-compatible store.
    S3(Box<crate::sync_s3::S3>),
}

impl AnyRemote {
    /// The remote a user named: `folder:/absolute/path`.
    pub(crate) fn parse(s: &str) -> Result<AnyRemote, ApiError> {
        if let Some(p) = s.strip_prefix("folder:") {
            let path = std::path::Path::new(p);
            if !path.is_absolute() {
                return Err(ApiError::new(
                    ErrorKind::Invalid,
                    format!("the folder remote {p} is not an absolute path; give the full path"),
                ));
            }
            return Ok(AnyRemote::Folder(Folder::new(path)));
        }
        if s.starts_with("s3://") {
            return Ok(AnyRemote::S3(Box::new(crate::sync_s3::S3::parse(s)?)));
        }
        Err(ApiError::new(
            ErrorKind::Invalid,
            format!(
                "unknown sync remote {s:?}: use `sync add folder PATH` or `sync add s3 s3://BUCKET/PREFIX`"
            ),
        ))
    }
}

impl Remote for AnyRemote {
    fn describe(&self) -> String {
        match self {
            AnyRemote::Folder(f) => f.describe(),
            AnyRemote::S3(s) => s.describe(),
        }
    }
    async fn get(&self, path: &str) -> Result<Option<Vec<u8>>, RemoteError> {
        match self {
            AnyRemote::Folder(f) => f.get(path).await,
            AnyRemote::S3(s) => s.get(path).await,
        }
    }
    async fn put_new(&self, path: &str, bytes: &[u8]) -> Result<String, RemoteError> {
        match self {
            AnyRemote::Folder(f) => f.put_new(path, bytes).await,
            AnyRemote::S3(s) => s.put_new(path, bytes).await,
        }
    }
    async fn put(&self, path: &str, bytes: &[u8]) -> Result<(), RemoteError> {
        match self {
            AnyRemote::Folder(f) => f.put(path, bytes).await,
            AnyRemote::S3(s) => s.put(path, bytes).await,
        }
    }
    async fn list(&self, prefix: &str) -> Result<Vec<Entry>, RemoteError> {
        match self {
            AnyRemote::Folder(f) => f.list(prefix).await,
            AnyRemote::S3(s) => s.list(prefix).await,
        }
    }
}

/// A session's sync: the last round, and rounds one at a time.
#[derive(Default)]
pub(crate) struct SyncRuntime {
    last: Mutex<Option<LastSync>>,
    round: tokio::sync::Mutex<()>,
}

fn ms_env(name: &str, default: u64) -> Duration {
    Duration::from_millis(
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

impl Session {
    /// Add the vault's remote and sync once.
    pub(crate) async fn sync_add(&self, r: SyncAdd) -> Result<SyncReport, ApiError> {
        let remote = AnyRemote::parse(&r.remote)?;
        if let Some(d) = self.vault.sync_device() {
            let st = self.vault.sync_state().await?;
            let shown = |s: &str| {
                AnyRemote::parse(s).map_or_else(|_| "another remote".into(), |h| h.describe())
            };
            if let Some(have) = st
                .remote
                .as_deref()
                .filter(|h| shown(h) != remote.describe())
            {
                let have = shown(have);
                return Err(ApiError::new(
                    ErrorKind::Invalid,
                    format!(
                        "this vault already syncs with {have} as device {}; one remote per vault",
                        vault_core::sync::short(&d)
                    ),
                ));
            }
        }
        driver::prepare(&remote, &self.vault.vault_id()).await?;
        // The same remote again: its address is kept anew (new credentials).
        self.vault.sync_enable(&r.remote).await?;
        self.sync_round(true).await
    }

    /// One round of sync with the vault's remote; with `audit`, this
    /// device's audit entries not yet sent go too (else only beside
    /// changes).
    pub(crate) async fn sync_round(&self, audit: bool) -> Result<SyncReport, ApiError> {
        let _one = self.sync.round.lock().await;
        let remote = match self.vault.sync_state().await {
            Ok(st) => st.remote,
            Err(e) => return Err(e.into()),
        };
        let Some(remote) = remote else {
            return Err(ApiError::new(
                ErrorKind::Invalid,
                "sync is not set up for this vault: add a remote first with `ctxvault sync add folder PATH`",
            ));
        };
        let remote = AnyRemote::parse(&remote)?;
        let grace = ms_env("CTXVAULT_SYNC_GAP_GRACE_MS", 600_000);
        let done = driver::sync_now(&self.vault, &remote, audit, grace).await;
        let last = LastSync {
            at: chrono::Utc::now(),
            error: match &done {
                Ok(r) => r.problems.first().cloned(),
                Err(e) => Some(e.to_string()),
            },
        };
        *self.sync.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(last);
        let r = match done {
            Ok(r) => r,
            Err(e) => {
                // Segments applied before the failure are committed: the
                // policy in memory is read again whole.
                let records = self.vault.records().await?;
                *self.policy.write().await = crate::policy::PolicyState::load(records);
                return Err(e.into());
            }
        };
        let a = &r.applied;
        if !a.records_put.is_empty() || !a.records_deleted.is_empty() {
            self.policy
                .write()
                .await
                .apply(&a.records_put, &a.records_deleted);
        }
        Ok(SyncReport {
            sent: r.sent,
            received: r.received,
            ops: a.ops,
            items: a.items,
            problems: r.problems,
        })
    }

    /// Where sync stands.
    pub(crate) async fn sync_status(&self) -> Result<SyncStatusReport, ApiError> {
        let st = self.vault.sync_state().await?;
        let conflicts = self.vault.sync_conflicts().await?.len() as u64;
        let short = vault_core::sync::short;
        Ok(SyncStatusReport {
            device: short(&st.device),
            // Described, never as stored: an S3 remote's holds credentials.
            remote: st.remote.as_deref().map(|r| {
                AnyRemote::parse(r).map_or_else(|_| "unreadable".into(), |r| r.describe())
            }),
            last: self
                .sync
                .last
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            pending: st.pending + st.outbox,
            conflicts,
            blocked: st
                .blocked
                .iter()
                .map(|(d, why)| BlockedDevice {
                    device: short(d),
                    reason: why.clone(),
                })
                .collect(),
            devices: st
                .devices
                .iter()
                .map(|(d, last)| DeviceSeen {
                    device: short(d),
                    last_segment: *last,
                    this: *d == st.device,
                })
                .collect(),
        })
    }

    /// The conflicts waiting for the user.
    pub(crate) async fn sync_conflicts(&self) -> Result<Vec<ConflictInfo>, ApiError> {
        Ok(self
            .vault
            .sync_conflicts()
            .await?
            .into_iter()
            .map(|c| ConflictInfo {
                item: c.item,
                op: c.op,
                device: vault_core::sync::short(&c.device),
                current: c.current,
                other: c.other,
            })
            .collect())
    }

    /// Resolve an item's conflict.
    pub(crate) async fn sync_resolve(&self, r: SyncResolve) -> Result<(), ApiError> {
        let conflicts = self.vault.sync_conflicts().await?;
        let item = self.vault.resolve_prefix(&r.item).await.or_else(|e| {
            // A removed item with a conflict has no row: find it among them.
            let mut hits = conflicts.iter().filter(|c| {
                c.item
                    .simple()
                    .to_string()
                    .starts_with(&r.item.replace('-', ""))
            });
            match (hits.next(), hits.next()) {
                (Some(c), None) => Ok(c.item),
                _ => Err(e),
            }
        })?;
        let mine: Vec<_> = conflicts.iter().filter(|c| c.item == item).collect();
        if mine.is_empty() {
            return Err(ApiError::new(
                ErrorKind::Invalid,
                format!("item {item} has no conflict; see `ctxvault sync conflicts`"),
            ));
        }
        let other = match &r.other {
            None if mine.len() == 1 || !r.keep_other => None,
            None => {
                return Err(ApiError::new(
                    ErrorKind::Invalid,
                    format!(
                        "item {item} has {} versions kept aside: name one with --version (see `ctxvault sync conflicts`)",
                        mine.len()
                    ),
                ));
            }
            Some(p) => {
                let p = p.replace('-', "");
                let hits: Vec<_> = mine
                    .iter()
                    .filter(|c| c.op.simple().to_string().starts_with(&p))
                    .collect();
                match hits.as_slice() {
                    [one] => Some(one.op),
                    _ => {
                        return Err(ApiError::new(
                            ErrorKind::Invalid,
                            format!(
                                "no single version {p} kept aside for item {item}; see `ctxvault sync conflicts`"
                            ),
                        ));
                    }
                }
            }
        };
        let keep = if r.keep_other {
            Keep::Other
        } else {
            Keep::Current
        };
        self.vault.sync_resolve(&item, keep, other).await?;
        Ok(())
    }

    /// Apply a blocked device's log again.
    pub(crate) async fn sync_unblock(&self, r: SyncUnblock) -> Result<(), ApiError> {
        let st = self.vault.sync_state().await?;
        let Some((dev, _)) = st
            .blocked
            .iter()
            .find(|(d, _)| vault_core::sync::short(d) == r.device)
        else {
            return Err(ApiError::new(
                ErrorKind::Invalid,
                format!(
                    "no blocked device {}; `ctxvault sync status` lists them",
                    r.device
                ),
            ));
        };
        self.vault.sync_unblock(dev, r.accept).await?;
        Ok(())
    }
}

/// Sync on its own while the vault is unlocked: soon after a change, and
/// every pull interval; after a failure, wait twice as long each time (up
/// to five minutes).
pub(crate) fn spawn_syncer(agent: Weak<Agent>, session: &Arc<Session>) {
    let weak = Arc::downgrade(session);
    let tick = ms_env("CTXVAULT_TEST_SYNC_TICK_MS", 500);
    let pull = ms_env("CTXVAULT_SYNC_PULL_MS", 1000);
    tokio::spawn(async move {
        // The first pull comes one interval after unlock (a join runs a
        // round itself; a change starts one at the next tick).
        let mut last = Instant::now();
        let mut wait = Duration::ZERO;
        // Audit entries alone (reads) go once a minute; with changes, at once.
        let mut audited = Instant::now();
        loop {
            tokio::time::sleep(tick).await;
            let Some(s) = weak.upgrade() else { break };
            if s.vault.is_retired() {
                break;
            }
            if s.vault.sync_device().is_none() {
                continue;
            }
            let due = last.elapsed() >= pull.max(wait);
            let changed = wait.is_zero()
                && s.vault
                    .sync_state()
                    .await
                    .is_ok_and(|st| st.pending + st.outbox > 0);
            if !due && !changed {
                continue;
            }
            last = Instant::now();
            let audit = audited.elapsed() >= Duration::from_secs(60);
            if audit {
                audited = last;
            }
            match s.sync_round(audit).await {
                Ok(r) if !r.problems.is_empty() => {
                    // A device blocked or a segment refused: not worth a
                    // round at every tick.
                    wait = (wait * 2).clamp(pull * 2, Duration::from_secs(300));
                    for p in &r.problems {
                        tracing::warn!("sync: {p}");
                    }
                    if let Some(a) = agent.upgrade() {
                        a.refresh_tables(&s).await;
                    }
                }
                Ok(r) => {
                    wait = Duration::ZERO;
                    for p in &r.problems {
                        tracing::warn!("sync: {p}");
                    }
                    if r.ops > 0
                        && let Some(a) = agent.upgrade()
                    {
                        a.refresh_tables(&s).await;
                    }
                }
                Err(e) => {
                    wait = (wait * 2).clamp(pull * 2, Duration::from_secs(300));
                    tracing::warn!("sync failed, next try in {:?}: {}", wait, e.message);
                    if let Some(a) = agent.upgrade() {
                        a.refresh_tables(&s).await;
                    }
                }
            }
        }
    });
}

impl Agent {
    /// Create the vault from a remote another device syncs to, install it
    /// unlocked, and sync.
    pub(crate) async fn sync_join(&self, r: SyncJoin) -> Result<SyncReport, ApiError> {
        let _gate = self.gate.lock().await;
        if vault_core::store::Store::exists(&self.dir) {
            return Err(ApiError::new(
                ErrorKind::AlreadyExists,
                format!(
                    "a vault already exists at {}; join from a new directory with --vault",
                    self.dir.display()
                ),
            ));
        }
        let remote = AnyRemote::parse(&r.remote)?;
        let how = match &r.with {
            UnlockWith::Passphrase(p) => {
                vault_core::Unlock::Passphrase(vault_core::keys::passphrase(p.expose_secret()))
            }
            UnlockWith::IdentityFile(f) => vault_core::Unlock::identity_file(f.expose_secret())?,
        };
        let (vault_id, keys) = driver::keys_of(&remote).await?;
        let v = vault_core::Vault::join(&self.dir, vault_id, &keys, &how, &r.remote).await?;
        let session = Session::new(v, self.reads.clone()).await?;
        let report = session.sync_round(true).await;
        self.install(session).await;
        tracing::info!("vault joined from its sync remote");
        report
    }
}
