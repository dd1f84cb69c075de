//! The provider proxy (`daemon --proxy ADDR`): the OpenAI, Anthropic and
//! Ollama APIs, served to apps that hold a ctxvault client token where the
//! API puts a key, forwarded to the provider the user chose with the
//! provider's own key and the client's context put where the API expects
//! system text.
//!
//! # Each request, in order
//! 1. `Host` must be a loopback name (unless `--allow-remote`) and an
//!    `Origin` a loopback origin (403), as for MCP over HTTP.
//! 2. The token (`Authorization: Bearer`, or `x-api-key`) names a client in
//!    the route table (401); the body is at most [`MAX_BODY`] (413) and a
//!    JSON object (400).
//! 3. The provider: `x-ctxvault-provider`, else a `provider/model` model
//!    name, else the client's route, else the default (400 if none, or if
//!    it speaks another API).
//! 4. A connection to the provider is made (502 if it is down) before any
//!    context is read: a provider that is down costs no read.
//! 5. The context (`x-ctxvault-context: full|profile|off`, else the
//!    client's setting) is read through the client view as one `inject`
//!    audit entry, within the client's grants, and put in the body. While
//!    the vault is locked none is read: the request goes on without it
//!    (`x-ctxvault-context: locked`), or is refused (503) for a client set
//!    to fail closed.
//! 6. The request goes to the provider with its key (the client token
//!    never does); the answer's status, headers and bytes come back as they
//!    arrive (streams included), with `x-ctxvault-context` saying what was
//!    added.
//!
//! The route table (tokens' hashes, routes, providers and their keys) is
//! kept while the vault is locked, so apps keep working without context.

mod apis;
mod context;
mod upstream;

pub(crate) use upstream::{Pool, authority, provider_headers};

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use client_view::{ClientView, ContextQuery, MAX_QUERY_CHARS, ViewErrorKind};
use http_body_util::Full;
use serde_json::Value;
use vault_core::records::{ContextMode, ProviderKind};
use zeroize::Zeroizing;

use crate::agent::{AgentHandle, lock};
use crate::http::{HttpConfig, bearer, host_allowed, origin_allowed};
use crate::policy::{PolicyState, sha256_hex};
use crate::protocol::Secret;
use crate::view::AgentView;
use apis::Api;

/// Largest request body accepted (a conversation with images inline fits).
pub const MAX_BODY: usize = 32 * 1024 * 1024;
/// Most matches for the user's message put in one request.
const MATCHES: usize = 8;
/// Most profile and preference items read for one request (the newest):
/// more would not fit in the context's size budget.
const PROFILE_ITEMS: usize = 16;
/// The header naming a provider for one request.
pub const PROVIDER_HEADER: &str = "x-ctxvault-provider";
/// The header choosing the context for one request, and (in the answer)
/// saying what was added: `injected N`, `none`, `off` or `locked`.
pub const CONTEXT_HEADER: &str = "x-ctxvault-context";
/// Request headers passed on to the provider (all others stay here).
const PASSED: [&str; 5] = [
    "accept",
    "user-agent",
    "anthropic-version",
    "anthropic-beta",
    "openai-beta",
];
/// Answer headers that belong to one connection, not to the answer.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
    "set-cookie",
];

/// A provider as the proxy uses it.
pub(crate) struct Upstream {
    name: String,
    kind: ProviderKind,
    url: url::Url,
    key: Option<Zeroizing<String>>,
}

/// One client's route.
struct ClientRoute {
    client: String,
    provider: Option<String>,
    context: ContextMode,
    fail_closed: bool,
}

/// Who may use the proxy and where they go: built from the policy state
/// at each change, kept while the vault is locked.
#[derive(Default)]
pub(crate) struct Table {
    /// False until the vault was first unlocked.
    loaded: bool,
    clients: HashMap<String, ClientRoute>,
    providers: HashMap<String, Arc<Upstream>>,
    default: Option<String>,
}

impl Table {
    /// The table for the vault's current policy.
    pub(crate) fn of(st: &PolicyState) -> Table {
        let providers = st
            .providers
            .iter()
            .filter_map(|p| {
                let url = url::Url::parse(&p.url).ok()?;
                Some((
                    p.name.clone(),
                    Arc::new(Upstream {
                        name: p.name.clone(),
                        kind: p.kind,
                        url,
                        key: p.key.clone().map(Zeroizing::new),
                    }),
                ))
            })
            .collect();
        let clients = st
            .clients
            .iter()
            .map(|c| {
                let r = st.route_of(&c.name);
                (
                    c.token_sha256.clone(),
                    ClientRoute {
                        client: c.name.clone(),
                        provider: r.and_then(|r| r.provider.clone()),
                        context: r.map(|r| r.context).unwrap_or_default(),
                        fail_closed: r.is_some_and(|r| r.fail_closed),
                    },
                )
            })
            .collect();
        Table {
            loaded: true,
            clients,
            providers,
            default: st
                .providers
                .iter()
                .find(|p| p.default)
                .map(|p| p.name.clone()),
        }
    }
}

/// The smaller of two context modes (off < profile < full).
fn less(a: ContextMode, b: ContextMode) -> ContextMode {
    let rank = |m: ContextMode| match m {
        ContextMode::Off => 0,
        ContextMode::Profile => 1,
        ContextMode::Full => 2,
    };
    if rank(b) < rank(a) { b } else { a }
}

/// What the proxy's handlers share.
struct Proxy {
    agent: AgentHandle,
    allow_remote: bool,
    pool: Arc<Pool>,
}

/// A refusal, answered in the API's own error shape.
struct Refusal(StatusCode, String);

fn refusal(status: StatusCode, message: impl Into<String>) -> Refusal {
    Refusal(status, message.into())
}

/// The proxy's HTTP app.
pub(crate) fn router(agent: AgentHandle, config: &HttpConfig) -> Router {
    let pool = agent.0.proxy_pool.clone();
    let proxy = Arc::new(Proxy {
        agent,
        // The Host check goes only for a door that is itself reachable
        // from other machines.
        allow_remote: config.allow_remote && !config.addr.ip().is_loopback(),
        pool,
    });
    let mut app = Router::new();
    for api in [
        Api::OpenaiChat,
        Api::OpenaiResponses,
        Api::AnthropicMessages,
        Api::OllamaChat,
        Api::OllamaGenerate,
    ] {
        app = app.route(
            api.path(),
            post(move |State(p): State<Arc<Proxy>>, req: Request| handle(p, api, req)),
        );
    }
    for api in [Api::OpenaiModels, Api::OllamaTags] {
        app = app.route(
            api.path(),
            get(move |State(p): State<Arc<Proxy>>, req: Request| handle(p, api, req)),
        );
    }
    app.fallback(|| async {
        (
            StatusCode::NOT_FOUND,
            "not an endpoint of the ctxvault proxy: it serves /v1/chat/completions, /v1/responses, /v1/models, /v1/messages, /api/chat, /api/generate and /api/tags\n",
        )
    })
    .with_state(proxy)
}

async fn handle(p: Arc<Proxy>, api: Api, req: Request) -> Response {
    match serve(&p, api, req).await {
        Ok(r) => r,
        Err(Refusal(status, message)) => {
            let body = serde_json::to_vec(&api.error(status, &message)).unwrap_or_default();
            (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
    }
}

/// The caller's token: where its API's SDK puts the key.
fn token_of(headers: &HeaderMap) -> Option<String> {
    bearer(headers)
        .or_else(|| {
            headers
                .get("x-api-key")
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|t| !t.is_empty())
        })
        .map(str::to_owned)
}

/// Read the whole body, at most [`MAX_BODY`], as a JSON object.
async fn json_body(body: Body) -> Result<Value, Refusal> {
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|e| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = source {
            if s.is::<http_body_util::LengthLimitError>() {
                return refusal(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "request body over {} MiB: send a shorter conversation",
                        MAX_BODY >> 20
                    ),
                );
            }
            source = s.source();
        }
        refusal(
            StatusCode::BAD_REQUEST,
            format!("cannot read the request body: {e}"),
        )
    })?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
        refusal(
            StatusCode::BAD_REQUEST,
            format!("malformed request body: {e}; send a JSON object"),
        )
    })?;
    if !v.is_object() {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            "malformed request body: not a JSON object",
        ));
    }
    Ok(v)
}

/// The client's route and provider for this request.
fn provider(
    table: &Table,
    route: &ClientRoute,
    headers: &HeaderMap,
    body: Option<&mut Value>,
) -> Result<Arc<Upstream>, Refusal> {
    let unknown = |name: &str| {
        refusal(
            StatusCode::BAD_REQUEST,
            format!("unknown provider {name:?}; see `ctxvault provider ls`"),
        )
    };
    if let Some(name) = headers.get(PROVIDER_HEADER) {
        let name = name.to_str().unwrap_or_default();
        let up = table.providers.get(name).ok_or_else(|| unknown(name))?;
        return Ok(up.clone());
    }
    if let Some(body) = body
        && let Some((prefix, rest)) = apis::model(body).and_then(|m| m.split_once('/'))
        && let Some(up) = table.providers.get(prefix)
    {
        let rest = rest.to_owned();
        apis::set_model(body, &rest);
        return Ok(up.clone());
    }
    let name = route.provider.as_ref().or(table.default.as_ref()).ok_or_else(|| {
        refusal(
            StatusCode::BAD_REQUEST,
            format!(
                "no provider for client {}: add one with `ctxvault provider add NAME --kind KIND --url URL`, or route it with `ctxvault provider route {} NAME`",
                route.client, route.client
            ),
        )
    })?;
    let up = table.providers.get(name).ok_or_else(|| unknown(name))?;
    Ok(up.clone())
}

async fn serve(p: &Proxy, api: Api, req: Request) -> Result<Response, Refusal> {
    let (parts, body) = req.into_parts();
    let headers = &parts.headers;
    if !p.allow_remote && !host_allowed(headers) {
        return Err(refusal(
            StatusCode::FORBIDDEN,
            "the Host header is not a loopback name; connect to 127.0.0.1 or localhost",
        ));
    }
    if !origin_allowed(headers) {
        return Err(refusal(
            StatusCode::FORBIDDEN,
            "requests from web pages other than localhost are refused",
        ));
    }
    let token = token_of(headers).map(Zeroizing::new).ok_or_else(|| {
        refusal(
            StatusCode::UNAUTHORIZED,
            "missing token: send the ctxvault client token (from `ctxvault client add NAME`) as the API key",
        )
    })?;
    let table = p.agent.proxy_table();
    if !table.loaded {
        return Err(refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "the vault has not been unlocked since the agent started: run `ctxvault unlock`",
        ));
    }
    if parts
        .uri
        .query()
        .is_some_and(|q| q.contains(token.as_str()))
    {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            "the URL holds the client token: send it only as the API key",
        ));
    }
    // The token first: no body is read for a caller who is no client.
    let route = table.clients.get(&sha256_hex(&token)).ok_or_else(|| {
        refusal(
            StatusCode::UNAUTHORIZED,
            "unknown or revoked ctxvault client token: send the token `ctxvault client add NAME` printed as the API key, or get a new one with `ctxvault client rotate NAME`",
        )
    })?;
    let mut body = if api.is_chat() {
        Some(json_body(body).await?)
    } else {
        None
    };
    let up = provider(&table, route, headers, body.as_mut())?;
    if up.kind != api.kind() {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            format!(
                "provider {} speaks the {} API and this is the {} API ({}); call the provider's own endpoints, or route client {} to a provider of kind {}",
                up.name,
                up.kind,
                api.kind(),
                api.path(),
                route.client,
                api.kind()
            ),
        ));
    }
    // A request may ask for less context than the client's setting, never more.
    let mode = match headers.get(CONTEXT_HEADER) {
        Some(v) => less(
            route.context,
            v.to_str()
                .unwrap_or_default()
                .parse::<ContextMode>()
                .map_err(|e| refusal(StatusCode::BAD_REQUEST, format!("{CONTEXT_HEADER}: {e}")))?,
        ),
        None => route.context,
    };
    let conn = p.pool.connect(&up.url).await.map_err(|e| {
        refusal(
            StatusCode::BAD_GATEWAY,
            format!("provider {} at {} is unreachable: {e}", up.name, up.url),
        )
    })?;
    let mut said = "off".to_owned();
    if let Some(body) = body.as_mut()
        && mode != ContextMode::Off
    {
        said = add_context(p, api, &up, route, &token, mode, body).await?;
    }
    let bytes = match &body {
        Some(v) => Bytes::from(serde_json::to_vec(v).unwrap_or_default()),
        None => Bytes::new(),
    };
    let target = format!(
        "{}{}{}",
        up.url.path().trim_end_matches('/'),
        api.upstream_path(),
        parts
            .uri
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default()
    );
    let authority = upstream::authority(&up.url);
    let build = || {
        let mut b = hyper::Request::builder()
            .method(parts.method.clone())
            .uri(&target)
            .header(header::HOST, &authority);
        for name in PASSED {
            if let Some(v) = headers.get(name) {
                b = b.header(name, v);
            }
        }
        b = upstream::provider_headers(
            b,
            up.kind,
            up.key.as_deref().map(|k| k.as_str()),
            headers.contains_key("anthropic-version"),
        );
        if body.is_some() {
            b = b.header(header::CONTENT_TYPE, "application/json");
        }
        b.body(Full::new(bytes.clone())).map_err(|e| e.to_string())
    };
    if let Err(e) = build() {
        return Err(refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot make the request to provider {}: {e}", up.name),
        ));
    }
    let res = p.pool.send(conn, build).await.map_err(|e| {
        refusal(
            StatusCode::BAD_GATEWAY,
            format!("provider {} at {} failed: {e}", up.name, up.url),
        )
    })?;
    let (head, incoming) = res.into_parts();
    let mut out = Response::new(Body::new(incoming));
    *out.status_mut() = head.status;
    for (name, value) in &head.headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            out.headers_mut().append(name.clone(), value.clone());
        }
    }
    if let Ok(v) = HeaderValue::from_str(&said) {
        out.headers_mut()
            .insert(HeaderName::from_static(CONTEXT_HEADER), v);
    }
    Ok(out)
}

/// Read the client's context and put it in `body`; what the answer's
/// context header says.
async fn add_context(
    p: &Proxy,
    api: Api,
    up: &Upstream,
    route: &ClientRoute,
    token: &str,
    mode: ContextMode,
    body: &mut Value,
) -> Result<String, Refusal> {
    let message = apis::last_user_text(api, body).map(|m| {
        // A long message is searched by its last words, nearest the question.
        let n = m.chars().count();
        m.chars()
            .skip(n.saturating_sub(MAX_QUERY_CHARS))
            .collect::<String>()
    });
    let view =
        AgentView::new(p.agent.clone(), Secret::new(token.to_owned()), "proxy").towards(&up.name);
    let q = ContextQuery {
        message,
        profile_only: mode == ContextMode::Profile,
        limit: MATCHES,
        profile_limit: Some(PROFILE_ITEMS),
        destination: format!(
            "provider {}, model {}",
            up.name,
            apis::model(body).map_or("-".to_owned(), |m| m.chars().take(100).collect())
        ),
    };
    match view.context(api.path(), q).await {
        Ok(profile) => Ok(match context::render(&profile) {
            Some((text, n)) => {
                apis::inject(api, body, &text);
                format!("injected {n}")
            }
            None => "none".to_owned(),
        }),
        Err(e) if e.kind == ViewErrorKind::Locked => {
            if route.fail_closed {
                Err(refusal(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "the vault is locked and client {} is set to fail closed: run `ctxvault unlock`",
                        route.client
                    ),
                ))
            } else {
                Ok("locked".to_owned())
            }
        }
        Err(e) => Err(refusal(
            match e.kind {
                ViewErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
                ViewErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
                ViewErrorKind::Invalid => StatusCode::BAD_REQUEST,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            e.message,
        )),
    }
}

impl AgentHandle {
    /// The route table as it now stands.
    pub(crate) fn proxy_table(&self) -> Arc<Table> {
        lock(&self.0.proxy_table).clone()
    }
}
