//! The agent's listeners: the control API on the Unix socket, the doors on
//! TCP, the idle lock and graceful shutdown. Requests go to `agent`.
//!
//! # Invariants
//! - The listener is bound before readiness is announced, so a client can
//!   connect at once.
//! - A connection from another uid is dropped before any byte is read.
//! - `GET /hello` and `POST /stop` answer whatever protocol the caller
//!   speaks; `/v1/call` refuses another version.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::protocol::Encoded;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

use crate::agent::{Agent, lock};
use crate::paths::{self, PathError};
use crate::protocol::frames::{EXPORT_PATH, IMPORT_PATH};
use crate::protocol::{
    ApiError, CALL_PATH, ErrorKind, HELLO_PATH, PROTOCOL_HEADER, Request, STOP_PATH, spoken_version,
};
use crate::throttle::Throttle;

pub use crate::http::HttpConfig;

/// Name of the lock file that keeps one agent per vault.
pub const LOCK_FILE: &str = "agent.lock";
/// Largest request body of a call (imports stream, see `transfer`): an
/// item's text is at most 1 MiB, which JSON escaping can make six times
/// longer.
const MAX_BODY: usize = 16 * 1024 * 1024;

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
    /// Also serve the provider proxy.
    pub proxy: Option<HttpConfig>,
    /// Tell the desktop when a client finds the vault locked.
    pub notify: bool,
    /// Audited reads a client may make at once.
    pub read_burst: u32,
    /// Audited reads a second a client's allowance refills with.
    pub read_rate: u32,
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
        "{0} is not a loopback address: it would be reachable from other machines; use 127.0.0.1, or pass --allow-remote if you mean it"
    )]
    RemoteRefused(std::net::SocketAddr),
    /// The HTTP address cannot be bound.
    #[error("cannot listen on {addr}: {source}; choose another address or port")]
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

pub(crate) fn json_response<T: serde::Serialize>(
    status: StatusCode,
    value: &T,
) -> axum::response::Response {
    match serde_json::to_vec(value) {
        Ok(json) => (status, [("content-type", "application/json")], json).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The HTTP status of a refused request: 500 for the agent's own failure,
/// 400 for the rest.
pub(crate) fn status_of(e: &ApiError) -> StatusCode {
    if e.kind == ErrorKind::Internal {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::BAD_REQUEST
    }
}

/// Refuse a request of another protocol version than the agent speaks.
pub(crate) fn check_version(headers: &HeaderMap) -> Result<(), ApiError> {
    let version = headers
        .get(PROTOCOL_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u32>().ok());
    let spoken = spoken_version();
    if version == Some(spoken) {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorKind::ProtocolMismatch,
        format!(
            "the running agent speaks protocol {spoken} and this ctxvault speaks {}; run `ctxvault stop` and retry",
            version.map_or("none".to_owned(), |v| v.to_string())
        ),
    ))
}

async fn call(
    State(agent): State<Arc<Agent>>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let result: Result<Encoded, ApiError> = if let Err(e) = check_version(&headers) {
        Err(e)
    } else {
        let parsed = serde_json::from_slice::<Request>(&body);
        // The request may hold a passphrase, a token or item text: wipe it.
        if let Ok(mut raw) = body.try_into_mut() {
            zeroize::Zeroize::zeroize(&mut raw[..]);
        }
        match parsed {
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
    match result {
        Ok(Encoded(json)) => {
            // The answer may hold item text: its buffer is wiped once sent.
            let body = axum::body::Bytes::from_owner(zeroize::Zeroizing::new(json));
            (StatusCode::OK, [("content-type", "application/json")], body).into_response()
        }
        Err(e) => json_response(status_of(&e), &Err::<(), _>(e)),
    }
}

/// `GET /hello`: who runs, whatever protocol the caller speaks.
async fn hello(State(agent): State<Arc<Agent>>) -> axum::response::Response {
    json_response(StatusCode::OK, &agent.hello())
}

/// `POST /stop`: shut down, whatever protocol the caller speaks.
async fn stop(State(agent): State<Arc<Agent>>) -> axum::response::Response {
    let _ = agent.shutdown.send(true);
    json_response(StatusCode::OK, &serde_json::json!({}))
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
    _lock: File,
    shutdown_rx: watch::Receiver<bool>,
}

impl Bound {
    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.agent.socket
    }

    /// The MCP HTTP endpoint's URL (once serving has begun).
    pub fn http_url(&self) -> Option<String> {
        self.agent.http_url()
    }

    /// The provider proxy's base URL (once serving has begun).
    pub fn proxy_url(&self) -> Option<String> {
        self.agent.proxy_url()
    }

    /// Serve until SIGTERM, SIGINT or a `stop` request; then lock the vault
    /// and remove the socket.
    pub async fn serve(self) -> std::io::Result<()> {
        let Bound {
            agent,
            listener,
            _lock,
            mut shutdown_rx,
        } = self;
        let app = Router::new()
            .route(CALL_PATH, post(call))
            .route(HELLO_PATH, get(hello))
            .route(STOP_PATH, post(stop))
            .route(EXPORT_PATH, post(crate::transfer::export_route))
            .layer(DefaultBodyLimit::max(MAX_BODY))
            // The import streams and counts its own limit.
            .route(IMPORT_PATH, post(crate::transfer::import_route))
            .with_state(agent.clone());
        let idle = tokio::spawn(idle_lock(agent.clone()));
        // A file size limit must fail the write (SQLite then reports an I/O
        // error the caller sees), not kill the agent with SIGXFSZ.
        let xfsz = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(
            nix::libc::SIGXFSZ,
        ))
        .ok()
        .map(|mut s| {
            tokio::spawn(async move {
                while s.recv().await.is_some() {
                    tracing::warn!("a write went past the file size limit (SIGXFSZ)");
                }
            })
        });
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
        if let Some(x) = xfsz {
            x.abort();
        }
        // Ends every MCP session (their event streams would otherwise hold
        // the HTTP server open) and stops accepting connections.
        agent.doors.cancel();
        agent.close_http().await;
        agent.close_proxy().await;
        agent.close_console().await;
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
    let bind_tcp = |h: Option<HttpConfig>| match h {
        Some(h) => {
            if !h.addr.ip().is_loopback() && !h.allow_remote {
                return Err(DaemonError::RemoteRefused(h.addr));
            }
            let tcp =
                std::net::TcpListener::bind(h.addr).map_err(|source| DaemonError::HttpBind {
                    addr: h.addr,
                    source,
                })?;
            Ok(Some((tcp, h)))
        }
        None => Ok(None),
    };
    let http = bind_tcp(config.http)?;
    let proxy = bind_tcp(config.proxy)?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let agent = Arc::new_cyclic(|me| Agent {
        dir: vault_dir,
        socket,
        http: Mutex::new(None),
        proxy: Mutex::new(None),
        console: Mutex::new(None),
        console_auth: Arc::new(Mutex::new(crate::console::auth::Auth::new(
            crate::console::auth::Limits::from_env(),
        ))),
        proxy_table: Mutex::new(Arc::default()),
        proxy_pool: Arc::default(),
        doors: tokio_util::sync::CancellationToken::new(),
        me: me.clone(),
        tokens: Mutex::new(std::collections::HashMap::new()),
        vault: Mutex::new(None),
        retired: Mutex::new(std::sync::Weak::new()),
        gate: tokio::sync::Mutex::new(Throttle::default()),
        last_activity: Mutex::new(SystemTime::now()),
        lock_after: config.lock_after,
        reads: Arc::new(crate::throttle::ReadLimit::new(
            config.read_burst,
            config.read_rate,
        )),
        notify: config.notify,
        notified: Mutex::new(None),
        model: Mutex::new(None),
        model_error: Mutex::new(None),
        oauth: Mutex::new(crate::oauth::flow::Flow::from_env()),
        shutdown,
    });
    if let Some((tcp, h)) = http {
        let addr = h.addr;
        agent
            .serve_http(tcp, h)
            .map_err(|source| DaemonError::HttpBind { addr, source })?;
    }
    if let Some((tcp, h)) = proxy {
        let addr = h.addr;
        agent
            .serve_proxy(tcp, h)
            .map_err(|source| DaemonError::HttpBind { addr, source })?;
    }
    Ok(Bound {
        agent,
        listener: PeerChecked {
            inner: listener,
            uid: nix::unistd::getuid().as_raw(),
        },
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
