//! The agent's state (the one unlocked session, the token table, the
//! unlock gate, the idle clock) and the dispatch of requests by kind:
//! lifecycle and keys here, the user's operations in `owner` and `rules`,
//! client calls in `view`.
//!
//! # Invariants
//! - At most one session is installed per unlock: the check that the vault
//!   is locked happens under the gate that serializes every key attempt.
//! - Locking drops the session: its subkeys are zeroized and its index
//!   freed once in-flight requests finish.
//! - Unlock attempts are serialized and throttled after failures.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use crate::protocol::Encoded;
use tokio::sync::watch;
use vault_core::{Unlock as UnlockHow, Vault, WorkFactor, keys, store::Store};

use crate::owner::answer;
use crate::protocol::*;
use crate::session::Session;
use crate::throttle::{Throttle, throttle_record, throttle_wait};
use crate::view::{Who, locked_error};

/// The agent: at most one unlocked vault, and what the doors need while
/// it is locked.
pub(crate) struct Agent {
    pub dir: PathBuf,
    pub socket: PathBuf,
    /// MCP over HTTP, while open.
    pub http: Mutex<Option<crate::doors::HttpDoor>>,
    /// The provider proxy, while open.
    pub proxy: Mutex<Option<crate::doors::HttpDoor>>,
    /// The web console, once asked for.
    pub console: Mutex<Option<crate::doors::HttpDoor>>,
    /// The console's login links and sessions (emptied at lock).
    pub console_auth: Arc<Mutex<crate::console::auth::Auth>>,
    /// Who may use the proxy and where it sends them (kept while locked).
    pub proxy_table: Mutex<Arc<crate::proxy::Table>>,
    /// The proxy's connections to providers (idle ones closed at lock).
    pub proxy_pool: Arc<crate::proxy::Pool>,
    /// Cancelled when the agent stops: ends every door's sessions.
    pub doors: tokio_util::sync::CancellationToken,
    /// The agent itself, for the doors it opens while running.
    pub me: std::sync::Weak<Agent>,
    /// SHA-256 of each client token, with the client's name. Kept while
    /// locked (hashes of random tokens reveal nothing), so the HTTP endpoint
    /// can still tell a wrong token (401) from a locked vault.
    pub tokens: Mutex<HashMap<String, String>>,
    pub vault: Mutex<Option<Arc<Session>>>,
    /// The session a lock took away, while requests still hold it: the
    /// next unlock waits for its writes to finish before it reads the
    /// store, so no acknowledged write is missing from the new index. Weak,
    /// so the keys go as soon as the last request does.
    pub retired: Mutex<std::sync::Weak<Session>>,
    pub gate: tokio::sync::Mutex<Throttle>,
    pub last_activity: Mutex<SystemTime>,
    pub lock_after: Option<Duration>,
    /// Each client's audited reads.
    pub reads: Arc<crate::throttle::ReadLimit>,
    /// Tell the desktop when a client finds the vault locked.
    pub notify: bool,
    /// When the desktop was last told (since the last lock).
    pub notified: Mutex<Option<Instant>>,
    /// OAuth registrations, requests, codes and access tokens (by hash;
    /// kept across locks, so connectors go on after an unlock).
    pub oauth: Mutex<crate::oauth::flow::Flow>,
    /// The embedding model last loaded (kept across locks).
    pub model: Mutex<Option<Arc<crate::models::Model>>>,
    /// Why the vault's model is not in use, when it failed.
    pub model_error: Mutex<Option<String>>,
    pub shutdown: watch::Sender<bool>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn work_factor_or_default(n: Option<u8>) -> Result<WorkFactor, ApiError> {
    Ok(n.map(WorkFactor::new)
        .transpose()?
        .unwrap_or(WorkFactor::DEFAULT))
}

/// A shared handle on the agent, for in-process doors.
#[derive(Clone)]
pub struct AgentHandle(pub(crate) Arc<Agent>);

impl AgentHandle {
    /// The name of the client holding the token with this SHA-256.
    pub(crate) fn client_of(&self, token_sha256: &str) -> Option<String> {
        lock(&self.0.tokens).get(token_sha256).cloned()
    }

    /// The unlocked session and the name of the client holding `token`.
    pub(crate) async fn client_session(
        &self,
        token: &Secret,
    ) -> Result<(Arc<Session>, String), ApiError> {
        self.0.touch();
        let session = self.0.client_unlocked(token)?;
        let client = match session.client_of_token(token.expose_secret()).await {
            Ok(c) => c,
            // An OAuth access token (only the HTTP door hands those in).
            Err(e) => {
                let hash = crate::policy::sha256_hex(token.expose_secret());
                self.0.oauth_client(&hash, None).await.ok_or(e)?.0
            }
        };
        Ok((session, client))
    }
}

/// The door a socket call names, if it is one the agent knows.
fn door_of(named: Option<&str>) -> Option<&'static str> {
    match named {
        Some("stdio") => Some("stdio"),
        _ => None,
    }
}

impl Agent {
    pub(crate) fn unlocked(&self) -> Result<Arc<Session>, ApiError> {
        lock(&self.vault).clone().ok_or_else(locked_error)
    }

    /// The unlocked session for a client's call; when locked, the desktop
    /// is told (see [`Agent::notify_locked`]) if the token is a client's,
    /// or may be (no token is known before the first unlock).
    fn client_unlocked(&self, token: &Secret) -> Result<Arc<Session>, ApiError> {
        self.unlocked().inspect_err(|_| {
            let who = {
                let tokens = lock(&self.tokens);
                if tokens.is_empty() {
                    Some("An AI client".to_owned())
                } else {
                    tokens
                        .get(&crate::policy::sha256_hex(token.expose_secret()))
                        .cloned()
                }
            };
            if let Some(who) = who {
                self.notify_locked(&who);
            }
        })
    }

    /// The client holding `token` (see [`crate::protocol::WhoIs`]).
    async fn who_is(&self, token: &Secret) -> Result<Option<String>, ApiError> {
        if let Ok(session) = self.unlocked() {
            return session
                .client_of_token(token.expose_secret())
                .await
                .map(Some);
        }
        let tokens = lock(&self.tokens);
        if tokens.is_empty() {
            return Ok(None);
        }
        match tokens.get(&crate::policy::sha256_hex(token.expose_secret())) {
            Some(name) => Ok(Some(name.clone())),
            None => Err(crate::policy::unknown_token()),
        }
    }

    /// The unlocked session for one of the user's own requests (which
    /// counts as activity).
    pub(crate) fn owner_session(&self) -> Result<Arc<Session>, ApiError> {
        self.touch();
        self.unlocked()
    }

    /// Carry out a streamed import, then refresh the token table (an
    /// import can create clients).
    pub(crate) async fn import(
        &self,
        opts: crate::protocol::Import,
        parsed: vault_core::bundle::Parsed,
    ) -> Result<crate::protocol::ImportSummary, ApiError> {
        let session = self.owner_session()?;
        let result = session.import(opts, parsed).await;
        self.refresh_tables(&session).await;
        result
    }

    /// Refresh the token and proxy route tables from `session`'s policy.
    pub(crate) async fn refresh_tables(&self, session: &Session) {
        let (tokens, table) = {
            let st = session.policy.read().await;
            (st.token_table(), crate::proxy::Table::of(&st))
        };
        *lock(&self.tokens) = tokens;
        *lock(&self.proxy_table) = Arc::new(table);
        // OAuth access tokens whose connector or family is gone (a client
        // removed, a revoke) stop now, locked or not.
        let st = session.policy.read().await;
        lock(&self.oauth).retain_access(|a| {
            st.connectors.iter().any(|c| {
                c.client == a.client && c.family.as_ref().is_some_and(|f| f.id == a.family)
            })
        });
    }

    fn touch(&self) {
        *lock(&self.last_activity) = SystemTime::now();
    }

    /// Put `session` in place and refresh the token table from it. Called
    /// with the gate held.
    pub(crate) async fn install(&self, session: Session) {
        // What ran out while locked goes before any client reads.
        if let Err(e) = session.sweep_retention().await {
            tracing::warn!("retention sweep at unlock failed: {}", e.message);
        }
        self.refresh_tables(&session).await;
        session
            .notify
            .store(self.notify, std::sync::atomic::Ordering::Relaxed);
        let session = Arc::new(session);
        self.use_model(&session).await;
        crate::aspects::spawn_sweeper(&session);
        crate::sync::spawn_syncer(self.me.clone(), &session);
        *lock(&self.vault) = Some(session);
    }

    pub(crate) fn lock_vault(&self) -> bool {
        match lock(&self.vault).take() {
            Some(s) => {
                s.vault.retire();
                self.proxy_pool.clear();
                lock(&self.console_auth).clear();
                *lock(&self.retired) = Arc::downgrade(&s);
                self.forget_notified();
                true
            }
            None => false,
        }
    }

    /// Wait until writes still running on a session a lock took away have
    /// finished (called under the gate, before a new session reads the store).
    async fn drain_retired(&self) {
        let old = lock(&self.retired).upgrade();
        if let Some(old) = old {
            drop(old.vault.quiesce().await);
        }
    }

    /// Who this agent is.
    pub(crate) fn hello(&self) -> HelloInfo {
        HelloInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            protocol: spoken_version(),
            pid: std::process::id(),
        }
    }

    /// Handle one request, by kind.
    pub(crate) async fn dispatch(&self, req: Request) -> Result<Encoded, ApiError> {
        match req {
            Request::Agent(r) => {
                if r.is_activity() {
                    self.touch();
                }
                self.handle_agent(r).await
            }
            Request::Vault(crate::protocol::VaultRequest::Distill(r)) => {
                self.touch();
                let session = self.unlocked()?;
                let still = || self.unlocked().is_ok_and(|s| Arc::ptr_eq(&s, &session));
                answer(session.distill(&self.proxy_pool, r, still).await)
            }
            Request::Vault(r) => {
                self.touch();
                let changes_clients = r.changes_clients();
                let session = self.unlocked()?;
                let result = session.handle_vault(r).await;
                if changes_clients {
                    self.refresh_tables(&session).await;
                }
                result
            }
            Request::Client(r) => {
                self.touch();
                let session = self.client_unlocked(&r.token)?;
                let client = session.client_of_token(r.token.expose_secret()).await?;
                session
                    .client_call(
                        &Who::client(client, r.tool, door_of(r.door.as_deref())).asking(r.asking),
                        r.call,
                    )
                    .await
            }
        }
    }

    async fn handle_agent(&self, req: AgentRequest) -> Result<Encoded, ApiError> {
        match req {
            AgentRequest::Hello(_) => answer(Ok(self.hello())),
            AgentRequest::StatusQuery(_) => answer(self.status().await),
            AgentRequest::ModelReload(_) => {
                let session = lock(&self.vault).clone();
                if let Some(s) = &session {
                    self.use_model(s).await;
                }
                answer(Ok(self.model_status(session.as_ref()).await))
            }
            AgentRequest::Init(r) => answer(self.init(r).await),
            AgentRequest::SyncJoin(r) => answer(self.sync_join(r).await),
            AgentRequest::Unlock(r) => answer(self.unlock(r).await),
            AgentRequest::Lock(_) => {
                if self.lock_vault() {
                    tracing::info!("vault locked on request");
                }
                answer(Ok(()))
            }
            AgentRequest::Stop(_) => {
                let _ = self.shutdown.send(true);
                answer(Ok(()))
            }
            AgentRequest::Passwd(r) => answer(self.passwd(r).await),
            AgentRequest::IdentityAdd(r) => answer(self.identity_add(r).await),
            AgentRequest::IdentityRm(r) => answer(self.identity_rm(r).await),
            AgentRequest::IdentityList(_) => {
                let vault = self.open_checked().await?;
                let ids = vault.identities().await;
                vault.store().close().await;
                answer(ids.map_err(ApiError::from))
            }
            AgentRequest::Rekey(r) => answer(self.rekey(r).await),
            AgentRequest::WhoIs(r) => answer(self.who_is(&r.token).await),
            AgentRequest::Verify(r) => {
                let how = match &r.with {
                    UnlockWith::Passphrase(p) => {
                        UnlockHow::Passphrase(keys::passphrase(p.expose_secret()))
                    }
                    UnlockWith::IdentityFile(f) => UnlockHow::identity_file(f.expose_secret())?,
                };
                let vault = self.open_checked().await?;
                let checked = self.throttled(vault.check(&how)).await;
                vault.store().close().await;
                answer(checked)
            }
            AgentRequest::ConnectorList(_) => answer(self.connector_list().await),
            AgentRequest::ConnectorApprove(r) => {
                let approved = self.connector_approve(r).await;
                if let Ok(session) = self.unlocked() {
                    self.refresh_tables(&session).await;
                }
                answer(approved)
            }
            AgentRequest::ConnectorDeny(r) => answer(self.connector_deny(&r.code).await),
            AgentRequest::ConnectorRevoke(r) => answer(self.connector_revoke(&r.client).await),
            AgentRequest::Console(r) => {
                let me = self
                    .me
                    .upgrade()
                    .ok_or_else(|| ApiError::new(ErrorKind::Internal, "the agent is stopping"))?;
                answer(me.open_console(r.addr))
            }
            AgentRequest::Http(r) => match r.open {
                Some(o) => {
                    let me = self.me.upgrade().ok_or_else(|| {
                        ApiError::new(ErrorKind::Internal, "the agent is stopping")
                    })?;
                    let public_url = o
                        .public_url
                        .as_deref()
                        .map(crate::http::PublicUrl::parse)
                        .transpose()
                        .map_err(|m| ApiError::new(ErrorKind::Invalid, m))?;
                    let config = crate::http::HttpConfig {
                        addr: o.addr,
                        allow_remote: o.allow_remote,
                        public_url,
                    };
                    answer(me.open_http(config).map(Some))
                }
                None => {
                    self.close_http().await;
                    answer(Ok(None::<String>))
                }
            },
        }
    }

    async fn status(&self) -> Result<Status, ApiError> {
        let unlocked = lock(&self.vault).clone();
        let initialized = Store::exists(&self.dir);
        let pending = match &unlocked {
            Some(v) => v.pending_count().await,
            None => 0,
        };
        let (items, damaged, warnings) = match &unlocked {
            Some(v) => {
                let s = v.vault.stats().await;
                (s.items + s.damaged.len() as u64, s.damaged, s.warnings)
            }
            None if initialized => {
                let v = Vault::open(&self.dir).await?;
                let n = v.count().await?;
                v.store().close().await;
                (n, Vec::new(), Vec::new())
            }
            None => (0, Vec::new(), Vec::new()),
        };
        Ok(Status {
            running: true,
            initialized,
            locked: unlocked.is_none(),
            items,
            damaged,
            vault: self.dir.display().to_string(),
            socket: self.socket.display().to_string(),
            pid: std::process::id(),
            lock_after_secs: self.lock_after.map(|d| d.as_secs()),
            http: self.http_url(),
            proxy: self.proxy_url(),
            console: self.console_url(),
            pending,
            warnings,
            model: self.model_status(unlocked.as_ref()).await,
            aspect: match &unlocked {
                Some(s) => s.aspect_list().await.in_force,
                None => None,
            },
            sync: match &unlocked {
                Some(s) if s.vault.sync_device().is_some() => s.sync_status().await.ok(),
                _ => None,
            },
            version: env!("CARGO_PKG_VERSION").to_owned(),
        })
    }

    async fn init(&self, r: Init) -> Result<(), ApiError> {
        let _gate = self.gate.lock().await;
        if Store::exists(&self.dir) {
            return Err(ApiError::new(
                ErrorKind::AlreadyExists,
                format!(
                    "a vault already exists at {}; use it, or choose another directory with --vault",
                    self.dir.display()
                ),
            ));
        }
        let wf = work_factor_or_default(r.work_factor)?;
        let ids = match &r.identity_file {
            Some(f) => keys::parse_identity_file(f.expose_secret())?,
            None => Vec::new(),
        };
        let pass = keys::passphrase(r.passphrase.expose_secret());
        let v = Vault::create(&self.dir, &pass, wf, &ids).await?;
        self.install(Session::new(v, self.reads.clone()).await?)
            .await;
        tracing::info!("vault created and unlocked");
        Ok(())
    }

    /// Unlock, unless a session is already installed. The check is made
    /// under the gate, so concurrent unlocks (or one queued behind a rekey)
    /// install one session, and a write on it never lands in a discarded
    /// index.
    async fn unlock(&self, r: Unlock) -> Result<(), ApiError> {
        let how = match &r.with {
            UnlockWith::Passphrase(p) => UnlockHow::Passphrase(keys::passphrase(p.expose_secret())),
            UnlockWith::IdentityFile(f) => UnlockHow::identity_file(f.expose_secret())?,
        };
        let mut throttle = self.gate.lock().await;
        if lock(&self.vault).is_some() {
            return Ok(());
        }
        self.drain_retired().await;
        let vault = self.open_checked().await?;
        throttle_wait(&throttle).await;
        let result = vault.unlock(&how).await;
        throttle_record(&mut throttle, &result);
        match result {
            Ok(v) => {
                self.install(Session::new(v, self.reads.clone()).await?)
                    .await;
                tracing::info!("vault unlocked");
                Ok(())
            }
            Err(e) => {
                vault.store().close().await;
                Err(e.into())
            }
        }
    }

    async fn passwd(&self, r: Passwd) -> Result<(), ApiError> {
        let wf = work_factor_or_default(r.work_factor)?;
        let vault = self.open_checked().await?;
        let old = keys::passphrase(r.old.expose_secret());
        let new = keys::passphrase(r.new.expose_secret());
        self.throttled(vault.change_passphrase(&old, &new, wf))
            .await?;
        vault.store().close().await;
        tracing::info!("passphrase changed");
        Ok(())
    }

    async fn identity_add(&self, r: IdentityAdd) -> Result<Vec<String>, ApiError> {
        let ids = keys::parse_identity_file(r.identity_file.expose_secret())?;
        let vault = self.open_checked().await?;
        let pass = keys::passphrase(r.passphrase.expose_secret());
        let added = self.throttled(vault.add_identities(&pass, &ids)).await?;
        vault.store().close().await;
        Ok(added)
    }

    async fn identity_rm(&self, r: IdentityRm) -> Result<(), ApiError> {
        let vault = self.open_checked().await?;
        let removed = vault.remove_identity(&r.recipient).await?;
        vault.store().close().await;
        if removed {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorKind::NoSlot,
                format!(
                    "no identity slot for {}; list them with `ctxvault identity ls`",
                    r.recipient
                ),
            ))
        }
    }

    async fn rekey(&self, r: Rekey) -> Result<(), ApiError> {
        let wf = work_factor_or_default(r.work_factor)?;
        let pass = keys::passphrase(r.passphrase.expose_secret());
        let mut throttle = self.gate.lock().await;
        throttle_wait(&throttle).await;
        // No request may write under the old key from here on (nor one
        // still running on a session a lock took away).
        self.drain_retired().await;
        let old = lock(&self.vault).take();
        let quiet = match &old {
            Some(s) => Some(s.vault.quiesce().await),
            None => None,
        };
        let vault = Vault::open(&self.dir).await?;
        let result = vault.rekey(&pass, wf).await;
        throttle_record(&mut throttle, &result);
        if let (Ok(_), Some(s)) = (&result, &old) {
            s.vault.retire();
        }
        drop(quiet);
        match result {
            Ok(new) => {
                self.install(Session::new(new, self.reads.clone()).await?)
                    .await;
                tracing::info!("vault rekeyed");
                Ok(())
            }
            Err(e) => {
                // Nothing changed: the old session goes back.
                *lock(&self.vault) = old;
                Err(e.into())
            }
        }
    }

    /// Open the vault (locked handle), or say there is none.
    async fn open_checked(&self) -> Result<Vault, ApiError> {
        Vault::open(&self.dir).await.map_err(|e| match e {
            vault_core::Error::NoVault(d) => ApiError::new(
                ErrorKind::NoVault,
                format!("no vault at {}: run `ctxvault init`", d.display()),
            ),
            e => e.into(),
        })
    }

    /// Run a passphrase or identity check under the unlock throttle: one
    /// at a time, and after failures only after a growing delay.
    async fn throttled<T>(
        &self,
        attempt: impl std::future::Future<Output = vault_core::Result<T>>,
    ) -> Result<T, ApiError> {
        let mut throttle = self.gate.lock().await;
        throttle_wait(&throttle).await;
        let result = attempt.await;
        throttle_record(&mut throttle, &result);
        Ok(result?)
    }
}
