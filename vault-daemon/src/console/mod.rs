//! The web console: the user's own window on the vault, served by the
//! agent on loopback (`ctxvault console`).
//!
//! # Checks, in order, on every request
//! 1. The connection is from this user ([`peer`]): others are dropped
//!    before a byte is read.
//! 2. `Host` must be a loopback name, and an `Origin`, when present, this
//!    console's own origin: 403 otherwise (DNS rebinding, other pages).
//! 3. Apart from `/login` and the stylesheet, a valid session cookie: 401
//!    with a page saying how to log in otherwise.
//! 4. Every state-changing request is a POST carrying the session's CSRF
//!    token (403 otherwise). A request whose `Sec-Fetch-Site` is neither
//!    `same-origin` nor `none` (a link the user opened) is refused on
//!    every method: a page on another port of this machine is the same
//!    site to a browser, which then sends the cookie along.
//!
//! Every answer carries a strict Content-Security-Policy (nothing from
//! elsewhere, no script at all), `no-store` (the vault's text is never
//! written to the browser's cache) and a referrer only to the console
//! itself (with none at all, a browser sends its forms as `Origin: null`,
//! which the origin check would refuse). Every change is the
//! same request the CLI sends to the agent ([`Console::call`]), so it is
//! validated and audited exactly as the CLI's.

mod aspects;
mod audit;
pub mod auth;
mod clients;
mod connectors;
mod html;
mod items;
mod overview;
pub mod peer;
mod pending;
mod sync;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::agent::{Agent, lock};
use crate::protocol::{ApiError, Call, Encoded, ErrorKind};
use auth::{Auth, Live};

/// The console's session cookie.
const COOKIE: &str = "ctxvault-console";
/// Largest form accepted (an item's text is at most 1 MiB; form encoding
/// can triple it).
const MAX_FORM: usize = 4 * 1024 * 1024;
/// The policy every answer carries: nothing from elsewhere, no script, no
/// framing, forms only to this console.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The console's state: the agent and the sessions.
#[derive(Clone)]
pub(crate) struct Console {
    agent: Arc<Agent>,
    auth: Arc<Mutex<Auth>>,
}

impl Console {
    /// Send one of the requests the CLI sends, and decode its answer.
    async fn call<R: Call>(&self, r: R) -> Result<R::Answer, ApiError> {
        #[derive(Deserialize)]
        enum Wire<T> {
            Ok(T),
        }
        // On a task of its own, as the socket's requests are: a browser
        // that goes away must not cancel a change halfway.
        let agent = self.agent.clone();
        let req = r.into();
        let Encoded(bytes) = tokio::spawn(async move { agent.dispatch(req).await })
            .await
            .map_err(|e| {
                ApiError::new(ErrorKind::Internal, format!("the request failed: {e}"))
            })??;
        serde_json::from_slice::<Wire<R::Answer>>(&bytes)
            .map(|Wire::Ok(v)| v)
            .map_err(|e| ApiError::new(ErrorKind::Internal, format!("bad answer: {e}")))
    }
}

/// The router of the console.
pub(crate) fn router(agent: Arc<Agent>) -> Router {
    let state = Console {
        auth: agent.console_auth.clone(),
        agent,
    };
    let pages = Router::new()
        .route("/", get(overview::page))
        .route("/unlock", post(overview::unlock))
        .route("/lock", post(overview::lock_now))
        .route("/logout", post(overview::logout))
        .route("/items", get(items::list).post(items::add))
        .route("/items/{id}", get(items::view))
        .route("/items/{id}/edit", post(items::edit))
        .route("/items/{id}/remove", post(items::remove))
        .route("/clients", get(clients::page).post(clients::add))
        .route("/clients/{name}/rotate", post(clients::rotate))
        .route("/clients/{name}/remove", post(clients::remove))
        .route("/grants", post(clients::grant))
        .route("/denies", post(clients::deny))
        .route("/rules/{id}/revoke", post(clients::revoke))
        .route("/see", get(clients::see))
        .route("/audit", get(audit::page))
        .route("/aspects/off", post(aspects::off))
        .route("/aspects/{name}/use", post(aspects::use_one))
        .route("/confirm/{id}/{said}", post(aspects::answer))
        .route("/sync/{item}/{keep}/{op}", post(sync::resolve))
        .route("/connectors", get(connectors::page))
        .route("/connectors/approve", post(connectors::approve))
        .route("/connectors/deny", post(connectors::deny))
        .route("/connectors/{client}/revoke", post(connectors::revoke))
        .route("/pending", get(pending::page))
        .route("/pending/{id}/approve", post(pending::approve))
        .route("/pending/{id}/reject", post(pending::reject))
        .route_layer(middleware::from_fn_with_state(state.clone(), session_guard));
    Router::new()
        .route("/login", get(overview::login))
        .route("/console.css", get(stylesheet))
        .merge(pages)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_FORM))
        .layer(middleware::from_fn(guard))
        .with_state(state)
}

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("console.css"),
    )
        .into_response()
}

async fn not_found() -> Response {
    html::refusal(StatusCode::NOT_FOUND, "No such page.")
}

/// Whether `origin` is this console's own (`http://` and the Host asked).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match (origin.to_str().ok(), host) {
        (Some(o), Some(h)) => o.strip_prefix("http://") == Some(h),
        _ => false,
    }
}

/// Checks 2 and 4's fetch-site part, and the headers of every answer.
async fn guard(req: Request, next: Next) -> Response {
    let headers = req.headers();
    let mut response = if !crate::http::host_allowed(headers) || !same_origin(headers) {
        html::refusal(
            StatusCode::FORBIDDEN,
            "Forbidden: the console answers only its own pages on this machine.",
        )
    } else if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() != b"same-origin" && v.as_bytes() != b"none")
    {
        // Another page (on any port of this machine: the same "site" to a
        // browser, so the cookie goes along) loading the console's pages.
        html::refusal(
            StatusCode::FORBIDDEN,
            "Forbidden: the console answers only its own pages and links you open yourself.",
        )
    } else {
        next.run(req).await
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// The session cookie's value in `headers`.
fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// The session of a request, put in its extensions by [`session_guard`].
#[derive(Clone)]
pub(crate) struct Signed {
    live: Live,
    cookie: String,
}

/// Check 3 and 4: a live session, and on a POST its CSRF token.
async fn session_guard(State(c): State<Console>, req: Request, next: Next) -> Response {
    let live = cookie(req.headers()).and_then(|k| {
        lock(&c.auth)
            .session(&k, Instant::now())
            .map(|live| Signed { live, cookie: k })
    });
    let Some(signed) = live else {
        return html::login_needed();
    };
    let (mut parts, body) = req.into_parts();
    let body = if parts.method == Method::POST {
        let bytes = match axum::body::to_bytes(body, MAX_FORM).await {
            Ok(b) => b,
            Err(_) => {
                return html::refusal(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "That form is too large: an item's text is at most 1 MiB.",
                );
            }
        };
        let token = url::form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.into_owned());
        if !token.is_some_and(|t| auth::csrf_matches(&signed.live, &t)) {
            return html::refusal(
                StatusCode::FORBIDDEN,
                "Forbidden: this form has no valid CSRF token; reload the page and try again.",
            );
        }
        axum::body::Body::from(bytes)
    } else {
        body
    };
    parts.extensions.insert(signed);
    next.run(Request::from_parts(parts, body)).await
}

/// A redirect after a change (303: the browser then GETs `to`).
fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

impl Console {
    /// After a change: say what it did (or why it failed) on the next
    /// page, and send the browser to `to`.
    fn after(&self, signed: &Signed, result: Result<String, ApiError>, to: &str) -> Response {
        let (text, error) = match result {
            Ok(t) => (t, false),
            Err(e) => (e.message, true),
        };
        lock(&self.auth).set_flash(&signed.cookie, text, error);
        see_other(to)
    }
}

impl Agent {
    /// The console's base URL, when served.
    pub(crate) fn console_url(&self) -> Option<String> {
        lock(&self.console).as_ref().map(|d| d.url.clone())
    }

    /// Serve the console on `addr` (or reuse the one served) and make a
    /// login link for it.
    pub(crate) fn open_console(
        self: &Arc<Self>,
        addr: Option<std::net::SocketAddr>,
    ) -> Result<crate::protocol::ConsoleLink, ApiError> {
        let invalid = |m: String| ApiError::new(ErrorKind::Invalid, m);
        let mut slot = lock(&self.console);
        let base = match slot.as_ref() {
            Some(d) if addr.is_none_or(|a| d.asked == a || d.url == format!("http://{a}")) => {
                d.url.clone()
            }
            Some(d) => {
                return Err(invalid(format!(
                    "the console is already served at {}; use it, or restart the agent to move it",
                    d.url
                )));
            }
            None => {
                let asked = addr.unwrap_or_else(|| ([127, 0, 0, 1], 0).into());
                if !asked.ip().is_loopback() {
                    return Err(invalid(format!(
                        "{asked} is not a loopback address: the console is served on this machine only; use 127.0.0.1"
                    )));
                }
                let tcp = std::net::TcpListener::bind(asked).map_err(|e| {
                    invalid(format!(
                        "cannot listen on {asked}: {e}; choose another port with --addr"
                    ))
                })?;
                let door = self.serve_console(tcp, asked).map_err(|e| {
                    ApiError::new(
                        ErrorKind::Internal,
                        format!("cannot serve the console: {e}"),
                    )
                })?;
                let url = door.url.clone();
                *slot = Some(door);
                url
            }
        };
        let token = lock(&self.console_auth).new_link(Instant::now())?;
        Ok(crate::protocol::ConsoleLink {
            login: format!("{base}/login?t={}", token.as_str()),
            url: base,
            expires_secs: auth::LINK_LIFETIME.as_secs(),
        })
    }

    fn serve_console(
        self: &Arc<Self>,
        tcp: std::net::TcpListener,
        asked: std::net::SocketAddr,
    ) -> std::io::Result<crate::doors::HttpDoor> {
        let addr = tcp.local_addr()?;
        tcp.set_nonblocking(true)?;
        let listener = peer::OwnerOnly::new(tokio::net::TcpListener::from_std(tcp)?);
        let cancel = self.doors.child_token();
        let stopped = cancel.clone();
        let app = router(self.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stopped.cancelled().await })
                .await
        });
        let url = format!("http://{addr}");
        tracing::info!(%url, "console");
        Ok(crate::doors::HttpDoor {
            url,
            asked,
            cancel,
            task,
        })
    }

    /// Close the console (when the agent stops).
    pub(crate) async fn close_console(&self) -> bool {
        let door = lock(&self.console).take();
        crate::doors::close(door).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn only_its_own_origin() {
        let own = headers(&[
            ("host", "127.0.0.1:7412"),
            ("origin", "http://127.0.0.1:7412"),
        ]);
        assert!(same_origin(&own));
        assert!(same_origin(&headers(&[("host", "127.0.0.1:7412")])));
        for o in [
            "http://127.0.0.1:8080",
            "http://localhost:7412",
            "https://127.0.0.1:7412",
            "null",
            "http://evil.example",
        ] {
            let h = headers(&[("host", "127.0.0.1:7412"), ("origin", o)]);
            assert!(!same_origin(&h), "{o}");
        }
    }

    #[test]
    fn finds_its_cookie_among_others() {
        let h = headers(&[("cookie", "a=1; ctxvault-console=abc; b=2")]);
        assert_eq!(cookie(&h).as_deref(), Some("abc"));
        let h = headers(&[("cookie", "a=1"), ("cookie", "ctxvault-console=def")]);
        assert_eq!(cookie(&h).as_deref(), Some("def"));
        assert_eq!(cookie(&headers(&[("cookie", "xctxvault-console=1")])), None);
        assert_eq!(cookie(&HeaderMap::new()), None);
    }
}
