//! The doors the agent serves over HTTP: MCP over HTTP, which it opens and
//! closes while it runs (so `ctxvault http on|off` needs no restart, which
//! would lock the vault), and the provider proxy. (The console, which has
//! its own listener, is in `console`.)

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::agent::{Agent, AgentHandle, lock};
use crate::http::HttpConfig;
use crate::protocol::{ApiError, ErrorKind};

/// An open HTTP door.
pub(crate) struct HttpDoor {
    /// Its MCP endpoint.
    pub url: String,
    /// The address asked for (port 0 included), to tell a repeat request.
    pub asked: std::net::SocketAddr,
    /// Cancelled to close it.
    pub cancel: CancellationToken,
    /// Its server.
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Why a non-loopback address is refused without `allow_remote`.
fn remote_refused(addr: std::net::SocketAddr) -> String {
    format!(
        "{addr} is not a loopback address: MCP over HTTP there is reachable from other machines; pass --allow-remote if you mean it"
    )
}

/// Bind `config`'s address, refusing a non-loopback one unless allowed.
pub(crate) fn bind_http(config: &HttpConfig) -> Result<std::net::TcpListener, String> {
    if !config.addr.ip().is_loopback() && !config.allow_remote {
        return Err(remote_refused(config.addr));
    }
    std::net::TcpListener::bind(config.addr).map_err(|e| {
        format!(
            "cannot listen on {}: {e}; choose another address or port",
            config.addr
        )
    })
}

impl Agent {
    /// The MCP HTTP endpoint's URL, when served.
    pub(crate) fn http_url(&self) -> Option<String> {
        lock(&self.http).as_ref().map(|d| d.url.clone())
    }

    /// Serve MCP over HTTP on `tcp` (bound from `config`) until closed or
    /// the agent stops; returns the endpoint's URL. For the door the agent
    /// starts with (none is open yet).
    pub(crate) fn serve_http(
        self: &Arc<Self>,
        tcp: std::net::TcpListener,
        config: HttpConfig,
    ) -> std::io::Result<String> {
        let mut slot = lock(&self.http);
        self.serve_in(&mut slot, tcp, config)
    }

    /// The provider proxy's base URL, when served.
    pub(crate) fn proxy_url(&self) -> Option<String> {
        lock(&self.proxy).as_ref().map(|d| d.url.clone())
    }

    /// Serve the provider proxy on `tcp` (bound from `config`) until the
    /// agent stops; returns its base URL.
    pub(crate) fn serve_proxy(
        self: &Arc<Self>,
        tcp: std::net::TcpListener,
        config: HttpConfig,
    ) -> std::io::Result<String> {
        let mut slot = lock(&self.proxy);
        self.serve_door(&mut slot, tcp, config, Door::Proxy)
    }

    /// Start MCP over HTTP on `tcp` and put it in `slot` (the agent's, locked).
    fn serve_in(
        self: &Arc<Self>,
        slot: &mut Option<HttpDoor>,
        tcp: std::net::TcpListener,
        config: HttpConfig,
    ) -> std::io::Result<String> {
        self.serve_door(slot, tcp, config, Door::Mcp)
    }

    fn serve_door(
        self: &Arc<Self>,
        slot: &mut Option<HttpDoor>,
        tcp: std::net::TcpListener,
        config: HttpConfig,
        door: Door,
    ) -> std::io::Result<String> {
        let addr = tcp.local_addr()?;
        let url = match door {
            Door::Mcp => format!("http://{addr}{}", crate::http::MCP_PATH),
            Door::Proxy => format!("http://{addr}"),
        };
        tcp.set_nonblocking(true)?;
        // Small writes (a stream's events, an answer's head then its body)
        // go out at once, not after the peer's delayed acknowledgement.
        let tcp = axum::serve::ListenerExt::tap_io(tokio::net::TcpListener::from_std(tcp)?, |s| {
            let _ = s.set_nodelay(true);
        });
        let cancel = self.doors.child_token();
        let handle = AgentHandle(self.clone());
        let app = match door {
            Door::Mcp => crate::http::router(handle, &config, cancel.clone()),
            Door::Proxy => crate::proxy::router(handle, &config),
        };
        let stopped = cancel.clone();
        let task = tokio::spawn(async move {
            axum::serve(tcp, app)
                .with_graceful_shutdown(async move { stopped.cancelled().await })
                .await
        });
        if let Some(old) = slot.replace(HttpDoor {
            url: url.clone(),
            asked: config.addr,
            cancel,
            task,
        }) {
            old.cancel.cancel();
        }
        match door {
            Door::Mcp => tracing::info!(%url, "MCP over HTTP"),
            Door::Proxy => tracing::info!(%url, "provider proxy"),
        }
        Ok(url)
    }

    /// Open MCP over HTTP (`ctxvault http on`); the endpoint's URL. Asking
    /// again for the address already served answers its URL; another
    /// address needs `http off` first. The check, the bind and the start
    /// happen under one lock, so two requests cannot both open a door.
    pub(crate) fn open_http(self: &Arc<Self>, config: HttpConfig) -> Result<String, ApiError> {
        let invalid = |m: String| ApiError::new(ErrorKind::Invalid, m);
        if !config.addr.ip().is_loopback() && !config.allow_remote {
            return Err(invalid(remote_refused(config.addr)));
        }
        let mut slot = lock(&self.http);
        if let Some(d) = slot.as_ref() {
            if d.asked == config.addr || d.url.contains(&format!("//{}/", config.addr)) {
                return Ok(d.url.clone());
            }
            return Err(invalid(format!(
                "MCP over HTTP is already served at {}; run `ctxvault http off` first",
                d.url
            )));
        }
        let tcp = bind_http(&config).map_err(invalid)?;
        self.serve_in(&mut slot, tcp, config)
            .map_err(|e| ApiError::new(ErrorKind::Internal, format!("cannot serve HTTP: {e}")))
    }

    /// Close MCP over HTTP, ending its sessions; false when none was open.
    pub(crate) async fn close_http(&self) -> bool {
        let door = lock(&self.http).take();
        close(door).await
    }

    /// Close the provider proxy (when the agent stops).
    pub(crate) async fn close_proxy(&self) -> bool {
        let door = lock(&self.proxy).take();
        close(door).await
    }
}

/// Which door.
#[derive(Clone, Copy)]
enum Door {
    Mcp,
    Proxy,
}

/// Close `door`, giving its connections a moment to end.
pub(crate) async fn close(door: Option<HttpDoor>) -> bool {
    let Some(door) = door else {
        return false;
    };
    door.cancel.cancel();
    let abort = door.task.abort_handle();
    // Sessions' event streams end with the token; give them a moment.
    if tokio::time::timeout(Duration::from_secs(2), door.task)
        .await
        .is_err()
    {
        abort.abort();
    }
    tracing::info!(url = %door.url, "door closed");
    true
}
