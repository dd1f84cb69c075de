//! The agent's server: state, request dispatch, idle lock and shutdown.
//!
//! # Invariants
//! - The listener is bound before readiness is announced, so a client can
//!   connect at once.
//! - A connection from another uid is dropped before any byte is read.
//! - Locking drops the unlocked vault: its subkeys are zeroized and its
//!   index freed once in-flight requests finish.
//! - Unlock attempts are serialized and throttled after failures.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;
use vault_core::{Unlock, Vault, WorkFactor, keys, store::Store};

use crate::session::Session;

use crate::paths::{self, PathError};
use crate::protocol::{
    ApiError, CALL_PATH, ErrorKind, PROTOCOL_HEADER, PROTOCOL_VERSION, Request, Response, Status,
    UnlockWith,
};
use crate::throttle::Throttle;

/// Name of the lock file that keeps one agent per vault.
pub const LOCK_FILE: &str = "agent.lock";
/// Largest request body: an import of a large vault in one request.
const MAX_BODY: usize = 1024 * 1024 * 1024;

/// How to run the agent.
pub struct DaemonConfig {
    /// The vault directory (must exist).
    pub vault_dir: PathBuf,
    /// The runtime directory for the socket.
    pub runtime_dir: PathBuf,
    /// Idle time after which the vault locks itself; `None` never.
    pub lock_after: Option<Duration>,
    /// Also serve MCP over streamable HTTP.
    pub http: Option<HttpConfig>,
}

/// The MCP HTTP endpoint's settings.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Address to listen on (port 0 picks a free one).
    pub addr: std::net::SocketAddr,
    /// Accept a non-loopback address (and any Host header).
    pub allow_remote: bool,
}

/// Why the agent could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The socket directory or path is unsafe or unusable.
    #[error(transparent)]
    Path(#[from] PathError),
    /// Another agent holds this vault.
    #[error("another ctxvault agent already serves {0}; use it, or stop it with `ctxvault stop`")]
    AlreadyRunning(PathBuf),
    /// The vault directory is missing.
    #[error("no vault directory at {0}: run `ctxvault init`")]
    NoVaultDir(PathBuf),
    /// A non-loopback HTTP address without `--allow-remote`.
    #[error(
        "{0} is not a loopback address: MCP over HTTP would be reachable from other machines; use 127.0.0.1, or pass --allow-remote if you mean it"
    )]
    RemoteRefused(std::net::SocketAddr),
    /// The HTTP address cannot be bound.
    #[error("cannot listen on {addr}: {source}; choose another address or port with --http")]
    HttpBind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// An I/O error on a path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

pub(crate) struct Agent {
    dir: PathBuf,
    socket: PathBuf,
    /// The MCP HTTP endpoint's URL, when served.
    http_url: Option<String>,
    /// SHA-256 of each client token, with the client's name. Kept while
    /// locked (hashes of random tokens reveal nothing), so the HTTP endpoint
    /// can still tell a wrong token (401) from a locked vault.
    tokens: Mutex<std::collections::HashMap<String, String>>,
    vault: Mutex<Option<Arc<Session>>>,
    gate: tokio::sync::Mutex<Throttle>,
    last_activity: Mutex<SystemTime>,
    lock_after: Option<Duration>,
    shutdown: watch::Sender<bool>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn work_factor_or_default(n: Option<u8>) -> Result<WorkFactor, ApiError> {
    Ok(n.map(WorkFactor::new)
        .transpose()?
        .unwrap_or(WorkFactor::DEFAULT))
}

/// Wait out the delay the throttle asks for before a key attempt.
async fn throttle_wait(throttle: &Throttle) {
    let wait = throttle.wait(Instant::now());
    if !wait.is_zero() {
        tracing::info!(
            failures = throttle.failures(),
            ?wait,
            "throttling a key attempt"
        );
        tokio::time::sleep(wait).await;
    }
}

/// Count a key attempt's outcome: wrong keys grow the delay, a success resets it.
fn throttle_record<T>(throttle: &mut Throttle, result: &vault_core::Result<T>) {
    match result {
        Ok(_) => throttle.succeeded(),
        Err(vault_core::Error::WrongPassphrase | vault_core::Error::IdentityNoMatch) => {
            throttle.failed(Instant::now());
            tracing::warn!(failures = throttle.failures(), "failed key attempt");
        }
        Err(_) => {}
    }
}

fn locked_error() -> ApiError {
    ApiError::new(ErrorKind::Locked, "vault is locked: run `ctxvault unlock`")
}

/// A shared handle on the agent, for in-process callers (the HTTP endpoint).
#[derive(Clone)]
pub(crate) struct AgentHandle(pub(crate) Arc<Agent>);

impl AgentHandle {
    /// Run one request as its own task, exactly as a socket request runs.
    pub(crate) async fn call(&self, req: Request) -> Result<Response, ApiError> {
        let agent = self.0.clone();
        tokio::spawn(async move { agent.dispatch(req).await })
            .await
            .unwrap_or_else(|e| {
                Err(ApiError::new(
                    ErrorKind::Internal,
                    format!("request failed: {e}"),
                ))
            })
    }

    /// The name of the client holding the token with this SHA-256.
    pub(crate) fn client_of(&self, token_sha256: &str) -> Option<String> {
        lock(&self.0.tokens).get(token_sha256).cloned()
    }
}

impl Agent {
    fn unlocked(&self) -> Result<Arc<Session>, ApiError> {
        lock(&self.vault).clone().ok_or_else(locked_error)
    }

    /// Put `session` in place and refresh the token table from it.
    async fn install(&self, session: Session) {
        *lock(&self.tokens) = session.token_table().await;
        *lock(&self.vault) = Some(Arc::new(session));
    }

    fn lock_vault(&self) -> bool {
        let was = lock(&self.vault).take();
        was.is_some()
    }

    async fn status(&self) -> Result<Status, ApiError> {
        let unlocked = lock(&self.vault).clone();
        let initialized = Store::exists(&self.dir);
        let pending = match &unlocked {
            Some(v) => v.pending_count().await,
            None => 0,
        };
        let (items, damaged) = match &unlocked {
            Some(v) => {
                let s = v.vault.stats().await;
                (s.items + s.damaged.len() as u64, s.damaged)
            }
            None if initialized => {
                let v = Vault::open(&self.dir).await?;
                let n = v.count().await?;
                v.store().close().await;
                (n, Vec::new())
            }
            None => (0, Vec::new()),
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
            http: self.http_url.clone(),
            pending,
            version: env!("CARGO_PKG_VERSION").to_owned(),
        })
    }

    async fn dispatch(&self, req: Request) -> Result<Response, ApiError> {
        if req.is_activity() {
            *lock(&self.last_activity) = SystemTime::now();
        }
        match req {
            Request::Hello => Ok(Response::Hello {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                protocol: PROTOCOL_VERSION,
                pid: std::process::id(),
            }),
            Request::Status => Ok(Response::Status(self.status().await?)),
            Request::Init {
                passphrase,
                identity_file,
                work_factor,
            } => {
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
                let wf = work_factor_or_default(work_factor)?;
                let ids = match &identity_file {
                    Some(f) => keys::parse_identity_file(f.expose_secret())?,
                    None => Vec::new(),
                };
                let pass = keys::passphrase(passphrase.expose_secret());
                let v = Vault::create(&self.dir, &pass, wf, &ids).await?;
                self.install(Session::new(v).await?).await;
                tracing::info!("vault created and unlocked");
                Ok(Response::Done)
            }
            Request::Unlock { with } => {
                if lock(&self.vault).is_some() {
                    return Ok(Response::Done);
                }
                let how = match &with {
                    UnlockWith::Passphrase(p) => {
                        Unlock::Passphrase(keys::passphrase(p.expose_secret()))
                    }
                    UnlockWith::IdentityFile(f) => Unlock::identity_file(f.expose_secret())?,
                };
                let vault = self.open_checked().await?;
                match self.throttled(vault.unlock(&how)).await {
                    Ok(v) => {
                        self.install(Session::new(v).await?).await;
                        tracing::info!("vault unlocked");
                        Ok(Response::Done)
                    }
                    Err(e) => {
                        vault.store().close().await;
                        Err(e)
                    }
                }
            }
            Request::Lock => {
                if self.lock_vault() {
                    tracing::info!("vault locked on request");
                }
                Ok(Response::Done)
            }
            Request::Stop => {
                let _ = self.shutdown.send(true);
                Ok(Response::Done)
            }
            Request::Passwd {
                old,
                new,
                work_factor,
            } => {
                let wf = work_factor_or_default(work_factor)?;
                let vault = self.open_checked().await?;
                let old = keys::passphrase(old.expose_secret());
                self.throttled(vault.change_passphrase(
                    &old,
                    &keys::passphrase(new.expose_secret()),
                    wf,
                ))
                .await?;
                vault.store().close().await;
                tracing::info!("passphrase changed");
                Ok(Response::Done)
            }
            Request::IdentityAdd {
                passphrase,
                identity_file,
            } => {
                let ids = keys::parse_identity_file(identity_file.expose_secret())?;
                let vault = self.open_checked().await?;
                let added = self
                    .throttled(
                        vault.add_identities(&keys::passphrase(passphrase.expose_secret()), &ids),
                    )
                    .await?;
                vault.store().close().await;
                Ok(Response::Identities(added))
            }
            Request::IdentityRm { recipient } => {
                let vault = self.open_checked().await?;
                let removed = vault.remove_identity(&recipient).await?;
                vault.store().close().await;
                if removed {
                    Ok(Response::Done)
                } else {
                    Err(ApiError::new(
                        ErrorKind::NoSlot,
                        format!(
                            "no identity slot for {recipient}; list them with `ctxvault identity ls`"
                        ),
                    ))
                }
            }
            Request::IdentityList => {
                let vault = self.open_checked().await?;
                let ids = vault.identities().await?;
                vault.store().close().await;
                Ok(Response::Identities(ids))
            }
            Request::Rekey {
                passphrase,
                work_factor,
            } => {
                let wf = work_factor_or_default(work_factor)?;
                let pass = keys::passphrase(passphrase.expose_secret());
                let mut throttle = self.gate.lock().await;
                throttle_wait(&throttle).await;
                // No request may write under the old key from here on.
                let old = lock(&self.vault).take();
                let quiet = match &old {
                    Some(s) => Some(s.vault.quiesce().await),
                    None => None,
                };
                let vault = Vault::open(&self.dir).await?;
                let result = vault.rekey(&pass, wf).await;
                throttle_record(&mut throttle, &result);
                drop(quiet);
                match result {
                    Ok(new) => {
                        self.install(Session::new(new).await?).await;
                        tracing::info!("vault rekeyed");
                        Ok(Response::Done)
                    }
                    Err(e) => {
                        // Nothing changed: the old session goes back.
                        *lock(&self.vault) = old;
                        Err(e.into())
                    }
                }
            }
            other => {
                let changes_clients = matches!(
                    other,
                    Request::ClientAdd { .. }
                        | Request::ClientRotate { .. }
                        | Request::ClientRemove { .. }
                        | Request::Import { .. }
                );
                let session = self.unlocked()?;
                let result = session.handle(other).await;
                if changes_clients {
                    *lock(&self.tokens) = session.token_table().await;
                }
                result
            }
        }
    }
}

impl Agent {
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

async fn call(
    State(agent): State<Arc<Agent>>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let version = headers
        .get(PROTOCOL_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u32>().ok());
    let result: Result<Response, ApiError> = if version != Some(PROTOCOL_VERSION) {
        Err(ApiError::new(
            ErrorKind::ProtocolMismatch,
            format!(
                "the running agent speaks protocol {PROTOCOL_VERSION} and this ctxvault speaks {}; run `ctxvault stop` and retry",
                version.map_or("none".to_owned(), |v| v.to_string())
            ),
        ))
    } else {
        match serde_json::from_slice::<Request>(&body) {
            // Run each request as its own task: a client that hangs up must
            // not cancel a write between its commit and the index update.
            Ok(req) => tokio::spawn(async move { agent.dispatch(req).await })
                .await
                .unwrap_or_else(|e| {
                    Err(ApiError::new(
                        ErrorKind::Internal,
                        format!("request failed: {e}"),
                    ))
                }),
            Err(e) => Err(ApiError::new(
                ErrorKind::Invalid,
                format!("malformed request: {e}"),
            )),
        }
    };
    let status = match &result {
        Ok(_) => StatusCode::OK,
        Err(e) if e.kind == ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        Err(_) => StatusCode::BAD_REQUEST,
    };
    match serde_json::to_vec(&result) {
        Ok(json) => (status, [("content-type", "application/json")], json).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// A Unix listener that drops connections from other users.
struct PeerChecked {
    inner: UnixListener,
    uid: u32,
}

impl axum::serve::Listener for PeerChecked {
    type Io = UnixStream;
    type Addr = tokio::net::unix::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => match stream.peer_cred() {
                    Ok(cred) if cred.uid() == self.uid => return (stream, addr),
                    Ok(cred) => tracing::warn!(
                        peer_uid = cred.uid(),
                        "refused a connection from another user"
                    ),
                    Err(e) => tracing::warn!("refused a connection without peer credentials: {e}"),
                },
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    // Back off on resource exhaustion (EMFILE) instead of spinning.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

fn take_vault_lock(dir: &Path) -> Result<File, DaemonError> {
    let path = dir.join(LOCK_FILE);
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|source| DaemonError::Io {
            path: path.clone(),
            source,
        })?;
    match f.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(DaemonError::AlreadyRunning(dir.to_owned()));
        }
        Err(std::fs::TryLockError::Error(source)) => return Err(DaemonError::Io { path, source }),
    }
    let _ = f.set_len(0);
    let _ = writeln!(f, "{}", std::process::id());
    Ok(f)
}

/// A bound agent, ready to serve. Split from [`Bound::serve`] so the caller
/// can announce readiness once the socket accepts connections.
pub struct Bound {
    agent: Arc<Agent>,
    listener: PeerChecked,
    http: Option<(std::net::TcpListener, HttpConfig)>,
    _lock: File,
    shutdown_rx: watch::Receiver<bool>,
}

impl Bound {
    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.agent.socket
    }

    /// The MCP HTTP endpoint's URL, when served.
    pub fn http_url(&self) -> Option<&str> {
        self.agent.http_url.as_deref()
    }

    /// Serve until SIGTERM, SIGINT or a `stop` request; then lock the vault
    /// and remove the socket.
    pub async fn serve(self) -> std::io::Result<()> {
        let Bound {
            agent,
            listener,
            http,
            _lock,
            mut shutdown_rx,
        } = self;
        let cancel = tokio_util::sync::CancellationToken::new();
        let http_task = match http {
            Some((tcp, config)) => {
                tcp.set_nonblocking(true)?;
                let tcp = tokio::net::TcpListener::from_std(tcp)?;
                let app = crate::http::router(AgentHandle(agent.clone()), &config, cancel.clone());
                let stopped = cancel.clone();
                Some(tokio::spawn(async move {
                    axum::serve(tcp, app)
                        .with_graceful_shutdown(async move { stopped.cancelled().await })
                        .await
                }))
            }
            None => None,
        };
        let app = Router::new()
            .route(CALL_PATH, post(call))
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .with_state(agent.clone());
        let idle = tokio::spawn(idle_lock(agent.clone()));
        let stop = async move {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate()).ok();
            let mut int = signal(SignalKind::interrupt()).ok();
            let term = async {
                match term.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            let int = async {
                match int.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = term => tracing::info!("SIGTERM: shutting down"),
                _ = int => tracing::info!("SIGINT: shutting down"),
                _ = shutdown_rx.wait_for(|s| *s) => tracing::info!("stop requested: shutting down"),
            }
        };
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await;
        idle.abort();
        // Ends every MCP session (their event streams would otherwise hold
        // the HTTP server open) and stops accepting connections.
        cancel.cancel();
        if let Some(task) = http_task {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        let unlocked = lock(&agent.vault).take();
        if let Some(v) = unlocked {
            // Close the database (checkpointing the WAL) before the vault
            // lock is released: whoever takes it next sees a quiet file.
            v.vault.store().close().await;
        }
        let _ = std::fs::remove_file(&agent.socket);
        drop(_lock);
        result
    }
}

async fn idle_lock(agent: Arc<Agent>) {
    let Some(after) = agent.lock_after else {
        return;
    };
    let tick = (after / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
    let mut interval = tokio::time::interval(tick);
    loop {
        interval.tick().await;
        // Wall clock, so time spent suspended counts as idle.
        let idle = SystemTime::now()
            .duration_since(*lock(&agent.last_activity))
            .unwrap_or_default();
        if idle >= after && lock(&agent.vault).is_some() && agent.lock_vault() {
            tracing::info!(?idle, "vault locked after inactivity");
        }
    }
}

/// Take the vault's agent lock, check the runtime directory and bind the
/// socket. The returned [`Bound`] accepts connections at once.
pub fn bind(config: DaemonConfig) -> Result<Bound, DaemonError> {
    if !config.vault_dir.is_dir() {
        return Err(DaemonError::NoVaultDir(config.vault_dir));
    }
    paths::ensure_private_dir(&config.runtime_dir)?;
    let socket = paths::socket_path(&config.runtime_dir, &config.vault_dir)?;
    let vault_dir = config
        .vault_dir
        .canonicalize()
        .map_err(|source| DaemonError::Io {
            path: config.vault_dir.clone(),
            source,
        })?;
    let lock_file = take_vault_lock(&vault_dir)?;
    // We hold the vault's lock, so a socket file left here is stale.
    let _ = std::fs::remove_file(&socket);
    let io = |source| DaemonError::Io {
        path: socket.clone(),
        source,
    };
    let listener = UnixListener::bind(&socket).map_err(io)?;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    let http = match config.http {
        Some(h) => {
            if !h.addr.ip().is_loopback() && !h.allow_remote {
                return Err(DaemonError::RemoteRefused(h.addr));
            }
            let tcp =
                std::net::TcpListener::bind(h.addr).map_err(|source| DaemonError::HttpBind {
                    addr: h.addr,
                    source,
                })?;
            Some((tcp, h))
        }
        None => None,
    };
    let http_url = match &http {
        Some((tcp, h)) => {
            let addr = tcp.local_addr().map_err(|source| DaemonError::HttpBind {
                addr: h.addr,
                source,
            })?;
            Some(format!("http://{addr}{}", crate::http::MCP_PATH))
        }
        None => None,
    };
    let (shutdown, shutdown_rx) = watch::channel(false);
    let agent = Arc::new(Agent {
        dir: vault_dir,
        socket,
        http_url,
        tokens: Mutex::new(std::collections::HashMap::new()),
        vault: Mutex::new(None),
        gate: tokio::sync::Mutex::new(Throttle::default()),
        last_activity: Mutex::new(SystemTime::now()),
        lock_after: config.lock_after,
        shutdown,
    });
    Ok(Bound {
        agent,
        listener: PeerChecked {
            inner: listener,
            uid: nix::unistd::getuid().as_raw(),
        },
        http,
        _lock: lock_file,
        shutdown_rx,
    })
}

/// Bind and serve (see [`bind`] and [`Bound::serve`]).
pub async fn run(config: DaemonConfig) -> Result<(), DaemonError> {
    let bound = bind(config)?;
    let socket = bound.socket().to_owned();
    bound.serve().await.map_err(|source| DaemonError::Io {
        path: socket,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::serve::Listener;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn connections_from_other_uids_are_dropped_unread() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("s.sock");
        let me = nix::unistd::getuid().as_raw();
        // A listener that only admits a uid other than ours: our own
        // connection stands in for a stranger's.
        let mut strict = PeerChecked {
            inner: UnixListener::bind(&path).unwrap(),
            uid: me.wrapping_add(1),
        };
        let server = tokio::spawn(async move {
            // Were our connection admitted, it would get an answer.
            let (mut admitted, _) = strict.accept().await;
            let _ = admitted.write_all(b"admitted").await;
        });
        let mut c = UnixStream::connect(&path).await.unwrap();
        let _ = c.write_all(b"POST /v1/call HTTP/1.1\r\n\r\n").await;
        let mut buf = [0u8; 16];
        assert_eq!(
            c.read(&mut buf).await.unwrap_or(0),
            0,
            "closed without an answer"
        );
        server.abort();

        // The same uid is admitted.
        let path2 = t.path().join("t.sock");
        let mut open = PeerChecked {
            inner: UnixListener::bind(&path2).unwrap(),
            uid: me,
        };
        let client = tokio::spawn(async move { UnixStream::connect(&path2).await.unwrap() });
        let (_stream, _) = open.accept().await;
        client.await.unwrap();
    }

    #[test]
    fn second_agent_on_a_vault_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let first = take_vault_lock(t.path()).unwrap();
        assert!(matches!(
            take_vault_lock(t.path()),
            Err(DaemonError::AlreadyRunning(_))
        ));
        drop(first);
        assert!(take_vault_lock(t.path()).is_ok());
    }
}
