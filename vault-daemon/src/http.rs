//! MCP over streamable HTTP, served by the agent (`daemon --http`).
//!
//! # Checks, in order, on every request
//! 1. `Host` must be a loopback name (unless `--allow-remote`), and an
//!    `Origin`, when present, a loopback origin: 403 otherwise. This stops
//!    DNS-rebinding pages in the user's browser.
//! 2. No query string at all: a token in a URL ends up in logs and
//!    history, so a URL carrying one is refused (400).
//! 3. `Authorization: Bearer <token>` naming a registered client: 401
//!    otherwise.
//! 4. An `Mcp-Session-Id` must be one this endpoint handed out and still
//!    remembers (404 otherwise: the client starts a new session), and must
//!    belong to the token that opened it (403). Sessions are bounded per
//!    client and in all, and expire when idle (see [`crate::mcp_sessions`]):
//!    a session forgotten is also closed, and the ownership check is never
//!    dropped.
//!
//! The token then travels with the request to the MCP handler, which asks
//! the agent as that client for every call, so policy, revocation and the
//! audit apply per request; a session id alone authorizes nothing.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use client_view::{ClientView, ViewError, ViewErrorKind};
use mcp_server::{ContextServer, ViewResolver};
use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::agent::AgentHandle;
use crate::mcp_sessions::{IDLE, MAX_PER_CLIENT, MAX_SESSIONS, Ownership, SessionOwners};
use crate::policy::sha256_hex;
use crate::protocol::Secret;
use crate::view::AgentView;

/// The MCP HTTP endpoint's settings.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Address to listen on (port 0 picks a free one).
    pub addr: std::net::SocketAddr,
    /// Accept a non-loopback address (and any Host header).
    pub allow_remote: bool,
    /// The public URL a tunnel forwards here: its host is accepted, and
    /// OAuth for hosted assistants is served (see [`crate::oauth`]).
    pub public_url: Option<PublicUrl>,
}

pub use crate::oauth::PublicUrl;

/// The path of the MCP endpoint.
pub const MCP_PATH: &str = "/mcp";
/// Largest MCP request body accepted (a `remember` at its limit fits many
/// times over); larger ones are refused with 413 before they are read.
const MAX_MCP_BODY: usize = 256 * 1024;
/// The session header of streamable HTTP.
const SESSION_HEADER: &str = "mcp-session-id";

/// The caller's token, put in the request's extensions by the guard.
#[derive(Clone)]
struct CallerToken(Secret);

struct Guard {
    agent: AgentHandle,
    allow_remote: bool,
    public: Option<PublicUrl>,
    sessions: Mutex<SessionOwners>,
    manager: Arc<LocalSessionManager>,
}

fn refuse(status: StatusCode, message: &str) -> Response {
    let mut r = (status, format!("{message}\n")).into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"ctxvault\""),
        );
    }
    r
}

/// A 401 that points OAuth clients to the protected-resource metadata.
fn unauthorized(public: Option<&PublicUrl>, message: &str, invalid: bool) -> Response {
    let mut r = refuse(StatusCode::UNAUTHORIZED, message);
    if let Some(v) = public.and_then(|p| HeaderValue::from_str(&p.challenge(invalid)).ok()) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

/// The host part of a `host[:port]` authority, brackets kept for IPv6.
pub(crate) fn host_of(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority.split_inclusive(']').next().unwrap_or(authority);
    }
    authority.split(':').next().unwrap_or(authority)
}

pub(crate) fn is_loopback_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    host == "localhost"
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

pub(crate) fn host_allowed(headers: &HeaderMap) -> bool {
    host_allowed_for(headers, None)
}

/// A loopback `Host`, or exactly the public URL's.
pub(crate) fn host_allowed_for(headers: &HeaderMap, public: Option<&PublicUrl>) -> bool {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| h.trim().to_ascii_lowercase())
        .is_some_and(|h| {
            is_loopback_host(host_of(&h)) || public.is_some_and(|p| p.authority() == h)
        })
}

pub(crate) fn origin_allowed(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    rest.is_some_and(|r| !r.contains('/') && is_loopback_host(host_of(r)))
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The answer to a request whose session id the owner table judged, or
/// `None` to let it through.
fn session_refusal(owner: Ownership) -> Option<Response> {
    match owner {
        Ownership::Owner => None,
        Ownership::Other => Some(refuse(
            StatusCode::FORBIDDEN,
            "Forbidden: this MCP session was opened with another client's token",
        )),
        Ownership::Unknown => Some(refuse(
            StatusCode::NOT_FOUND,
            "unknown or expired MCP session: start a new session (initialize again)",
        )),
    }
}

async fn guard(State(g): State<Arc<Guard>>, mut req: Request, next: Next) -> Response {
    let headers = req.headers();
    if !g.allow_remote && !host_allowed_for(headers, g.public.as_ref()) {
        return refuse(
            StatusCode::FORBIDDEN,
            "Forbidden: the Host header is not a loopback name; connect to 127.0.0.1 or localhost",
        );
    }
    if !origin_allowed(headers) {
        return refuse(
            StatusCode::FORBIDDEN,
            "Forbidden: requests from web pages other than localhost are refused",
        );
    }
    if req.uri().query().is_some() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "query parameters are refused (a token in a URL leaks into logs and history); send the token in an Authorization: Bearer header",
        );
    }
    let Some(token) = bearer(headers).map(str::to_owned) else {
        return unauthorized(
            g.public.as_ref(),
            "missing token: send Authorization: Bearer <token> (from `ctxvault client add NAME`)",
            false,
        );
    };
    // Who owns the sessions this token opens: the token itself, or for
    // OAuth its family, so that a refreshed token keeps its session.
    let hash = sha256_hex(&token);
    let owner = if g.agent.client_of(&hash).is_some() {
        Some(hash)
    } else {
        match &g.public {
            Some(p) => g
                .agent
                .0
                .oauth_client(&hash, Some(&p.resource()))
                .await
                .map(|(_, family)| format!("oauth:{family}")),
            None => None,
        }
    };
    let Some(hash) = owner else {
        return unauthorized(
            g.public.as_ref(),
            "unknown, expired or revoked token (or the vault was not unlocked since the agent started): run `ctxvault unlock`, or get a new token with `ctxvault client rotate NAME`",
            true,
        );
    };
    let session = headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(sid) = &session {
        let owner =
            g.sessions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .check(sid, &hash, Instant::now());
        if let Some(refused) = session_refusal(owner) {
            return refused;
        }
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_MCP_BODY) {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request body over {MAX_MCP_BODY} bytes: send a shorter query or text"),
        );
    }
    let closing = req.method() == Method::DELETE;
    req.extensions_mut().insert(CallerToken(Secret::new(token)));
    // A body without a length (chunked) is cut off at the same size.
    let req = req.map(|b| axum::body::Body::new(http_body_util::Limited::new(b, MAX_MCP_BODY)));
    let mut resp = next.run(req).await;
    if closing && resp.status() == StatusCode::ACCEPTED {
        // rmcp answers a session's DELETE with 202; the SDKs take 200 or
        // 204 as "closed" (the Python SDK logs a failure on anything else).
        resp = StatusCode::NO_CONTENT.into_response();
    }
    let evicted = {
        let mut sessions = g.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if closing && let Some(sid) = &session {
            sessions.remove(sid);
        }
        resp.headers()
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|sid| session.as_deref() != Some(*sid))
            .map(|sid| sessions.insert(sid, &hash, Instant::now()))
            .unwrap_or_default()
    };
    if !evicted.is_empty() {
        // Forgotten sessions are closed too, so their memory goes with them.
        let manager = g.manager.clone();
        tokio::spawn(async move {
            for old in evicted {
                let _ = manager.close_session(&old.into()).await;
            }
        });
    }
    resp
}

/// Finds each request's client view from the token the guard put in it.
struct TokenResolver {
    agent: AgentHandle,
}

impl ViewResolver for TokenResolver {
    fn resolve(&self, ext: &rmcp::model::Extensions) -> Result<Arc<dyn ClientView>, ViewError> {
        let token = ext
            .get::<axum::http::request::Parts>()
            .and_then(|p| p.extensions.get::<CallerToken>())
            .ok_or_else(|| {
                ViewError::new(
                    ViewErrorKind::Unauthorized,
                    "no client token came with this request",
                )
            })?;
        Ok(Arc::new(AgentView::new(
            self.agent.clone(),
            token.0.clone(),
            "http",
        )))
    }
}

/// The HTTP app: the guard in front of rmcp's streamable HTTP service.
pub(crate) fn router(agent: AgentHandle, config: &HttpConfig, cancel: CancellationToken) -> Router {
    let resolver: Arc<dyn ViewResolver> = Arc::new(TokenResolver {
        agent: agent.clone(),
    });
    let mut mcp_config = StreamableHttpServerConfig::default()
        .with_cancellation_token(cancel)
        .with_allowed_origins([
            "http://localhost:*",
            "http://127.0.0.1:*",
            "http://[::1]:*",
            "https://localhost:*",
            "https://127.0.0.1:*",
            "https://[::1]:*",
        ]);
    if config.allow_remote {
        mcp_config = mcp_config.disable_allowed_hosts();
    } else {
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1", "[::1]"]
            .map(String::from)
            .to_vec();
        if let Some(p) = &config.public_url {
            hosts.push(host_of(p.authority()).to_owned());
        }
        mcp_config = mcp_config.with_allowed_hosts(hosts);
    }
    let mut manager = LocalSessionManager::default();
    // rmcp closes a session idle this long; the owner table forgets it too.
    manager.session_config.keep_alive = Some(IDLE);
    let manager = Arc::new(manager);
    let service = StreamableHttpService::new(
        move || Ok(ContextServer::with_resolver(resolver.clone())),
        manager.clone(),
        mcp_config,
    );
    let oauth = config
        .public_url
        .clone()
        .map(|p| crate::oauth::router(agent.0.clone(), p));
    let g = Arc::new(Guard {
        agent,
        allow_remote: config.allow_remote,
        public: config.public_url.clone(),
        sessions: Mutex::new(SessionOwners::new(MAX_SESSIONS, MAX_PER_CLIENT, IDLE)),
        manager,
    });
    let mcp = Router::new()
        .route_service(MCP_PATH, service)
        .layer(middleware::from_fn_with_state(g, guard));
    oauth
        .map_or(mcp.clone(), |o| mcp.merge(o))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                format!("not found: the MCP endpoint is {MCP_PATH}\n"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn hosts() {
        for ok in [
            "127.0.0.1:7410",
            "localhost",
            "LOCALHOST:1",
            "[::1]:80",
            "127.1.2.3",
        ] {
            assert!(host_allowed(&headers(&[("host", ok)])), "{ok}");
        }
        for bad in [
            "evil.com",
            "evil.com:7410",
            "127.0.0.1.evil.com",
            "localhost.evil.com",
            "10.0.0.1:7410",
            "[::2]:80",
        ] {
            assert!(!host_allowed(&headers(&[("host", bad)])), "{bad}");
        }
        assert!(!host_allowed(&HeaderMap::new()), "no Host");
    }

    #[test]
    fn origins() {
        assert!(origin_allowed(&HeaderMap::new()));
        for ok in [
            "http://localhost:3000",
            "https://127.0.0.1",
            "http://[::1]:8080",
        ] {
            assert!(origin_allowed(&headers(&[("origin", ok)])), "{ok}");
        }
        for bad in [
            "https://evil.com",
            "http://localhost.evil.com",
            "null",
            "file://",
            "http://127.0.0.1.evil.com:80",
        ] {
            assert!(!origin_allowed(&headers(&[("origin", bad)])), "{bad}");
        }
    }

    #[test]
    fn bearer_tokens() {
        assert_eq!(
            bearer(&headers(&[("authorization", "Bearer cvt_x")])),
            Some("cvt_x")
        );
        assert_eq!(
            bearer(&headers(&[("authorization", "bearer cvt_x")])),
            Some("cvt_x")
        );
        assert_eq!(bearer(&headers(&[("authorization", "Basic abc")])), None);
        assert_eq!(bearer(&headers(&[("authorization", "Bearer ")])), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}
