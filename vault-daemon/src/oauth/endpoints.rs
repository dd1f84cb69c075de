//! The public OAuth endpoints, beside `/mcp` on the MCP listener:
//! metadata, registration, authorization (a page that waits for the
//! user's decision, given only on their machine) and tokens.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use serde_json::json;

use super::flow::{AuthParams, Decision};
use super::{OAuthError, PublicUrl, no_store};
use crate::agent::{Agent, lock};

/// Largest body the OAuth endpoints read.
const MAX_BODY: usize = 64 * 1024;
/// Redirect URIs one registration may give.
const MAX_REDIRECTS: usize = 8;

/// The OAuth routes' state.
#[derive(Clone)]
pub(super) struct Oauth {
    pub(super) agent: Arc<Agent>,
    pub(super) public: PublicUrl,
}

/// The OAuth routes, for the MCP listener when a public URL is set.
pub(crate) fn router(agent: Arc<Agent>, public: PublicUrl) -> Router {
    let st = Oauth { agent, public };
    Router::new()
        // Only the path-suffixed form: the resource is `/mcp`, not the
        // origin (RFC 9728 3.3).
        .route(
            &format!(
                "/.well-known/oauth-protected-resource{}",
                crate::http::MCP_PATH
            ),
            get(resource_meta),
        )
        .route("/.well-known/oauth-authorization-server", get(server_meta))
        .route("/register", post(register))
        .route("/authorize", get(authorize))
        .route("/authorize/wait/{id}", get(wait))
        .route("/token", post(super::token::token))
        .route("/revoke", post(super::token::revoke))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(st.clone(), hosts))
        .with_state(st)
}

/// Only the public host or a loopback name.
async fn hosts(State(o): State<Oauth>, req: Request, next: Next) -> Response {
    if !crate::http::host_allowed_for(req.headers(), Some(&o.public)) {
        return (
            StatusCode::FORBIDDEN,
            "Forbidden: the Host header is neither the public URL's host nor a loopback name\n",
        )
            .into_response();
    }
    next.run(req).await
}

async fn resource_meta(State(o): State<Oauth>) -> Response {
    axum::Json(json!({
        "resource": o.public.resource(),
        "authorization_servers": [o.public.origin()],
        "bearer_methods_supported": ["header"],
        "resource_name": "ctxvault",
    }))
    .into_response()
}

async fn server_meta(State(o): State<Oauth>) -> Response {
    let at = |p: &str| format!("{}{p}", o.public.origin());
    axum::Json(json!({
        "issuer": o.public.origin(),
        "authorization_endpoint": at("/authorize"),
        "token_endpoint": at("/token"),
        "registration_endpoint": at("/register"),
        "revocation_endpoint": at("/revoke"),
        "revocation_endpoint_auth_methods_supported": ["none"],
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "authorization_response_iss_parameter_supported": true,
        "client_id_metadata_document_supported": true,
    }))
    .into_response()
}

#[derive(Deserialize)]
struct RegisterBody {
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    grant_types: Option<Vec<String>>,
    #[serde(default)]
    response_types: Option<Vec<String>>,
}

fn loopback(u: &url::Url) -> bool {
    matches!(u.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
        || matches!(u.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
        || u.host_str() == Some("localhost")
}

/// A redirect URI a registration may give, with no fragment: https; http
/// on a loopback address; or a native app's private-use scheme in reverse
/// domain form, such as `com.example.app:/cb` (RFC 8252 7).
pub(crate) fn redirect_ok(uri: &str) -> bool {
    let Ok(u) = url::Url::parse(uri) else {
        return false;
    };
    let private_use = u.scheme().contains('.') && u.host().is_none();
    uri.len() <= 2000
        && u.fragment().is_none()
        && u.username().is_empty()
        && (u.scheme() == "https" && u.host().is_some()
            || u.scheme() == "http" && loopback(&u)
            || private_use)
}

/// Whether `given` is the registered redirect URI: exactly, or, for http on
/// a loopback address, with any port (RFC 8252 7.3).
pub(crate) fn redirect_matches(registered: &str, given: &str) -> bool {
    if registered == given {
        return true;
    }
    let (Ok(mut a), Ok(mut b)) = (url::Url::parse(registered), url::Url::parse(given)) else {
        return false;
    };
    if a.scheme() != "http" || !loopback(&a) {
        return false;
    }
    let _ = (a.set_port(None), b.set_port(None));
    a == b
}

/// Whether a `resource` parameter names `ours` (scheme and host case, a
/// default port and a trailing slash aside).
pub(crate) fn same_resource(given: &str, ours: &str) -> bool {
    let norm = |s: &str| {
        url::Url::parse(s).ok().map(|u| {
            (
                u.scheme().to_owned(),
                u.host_str().map(str::to_ascii_lowercase),
                u.port_or_known_default(),
                u.path().trim_end_matches('/').to_owned(),
                u.query().map(str::to_owned),
            )
        })
    };
    norm(given).is_some_and(|g| Some(g) == norm(ours))
}

/// The cookie that binds a wait page to the browser that asked.
const BROWSER_COOKIE: &str = "ctxvault-authz";

fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

async fn register(State(o): State<Oauth>, body: Bytes) -> Response {
    let meta = |d: &str| OAuthError::new("invalid_client_metadata", d);
    let b: RegisterBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(_) => {
            return meta("the registration is not a JSON object of client metadata (RFC 7591)")
                .into_response();
        }
    };
    if b.redirect_uris.is_empty() || b.redirect_uris.len() > MAX_REDIRECTS {
        return OAuthError::new(
            "invalid_redirect_uri",
            format!("give 1 to {MAX_REDIRECTS} redirect_uris"),
        )
        .into_response();
    }
    if let Some(bad) = b.redirect_uris.iter().find(|u| !redirect_ok(u)) {
        return OAuthError::new(
            "invalid_redirect_uri",
            format!(
                "redirect URI {bad:?} is not https, nor http on a loopback address, or it has a fragment"
            ),
        )
        .into_response();
    }
    if b.token_endpoint_auth_method
        .as_deref()
        .is_some_and(|m| m != "none")
    {
        return meta(
            "only public clients are supported: use token_endpoint_auth_method \"none\" with PKCE",
        )
        .into_response();
    }
    if b.grant_types.as_ref().is_some_and(|g| {
        g.iter()
            .any(|t| t != "authorization_code" && t != "refresh_token")
    }) {
        return meta("only the authorization_code and refresh_token grant types are supported")
            .into_response();
    }
    if b.response_types
        .as_ref()
        .is_some_and(|r| r.iter().any(|t| t != "code"))
    {
        return meta("only the code response type is supported").into_response();
    }
    let name = clean_name(b.client_name.as_deref().unwrap_or_default());
    let made = lock(&o.agent.oauth).register(name.clone(), b.redirect_uris.clone(), Instant::now());
    match made {
        Ok(client_id) => {
            tracing::info!(%name, "OAuth client registered");
            let mut r = (
                StatusCode::CREATED,
                axum::Json(json!({
                    "client_id": client_id,
                    "client_id_issued_at": chrono::Utc::now().timestamp(),
                    "client_name": name,
                    "redirect_uris": b.redirect_uris,
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "none",
                })),
            )
                .into_response();
            no_store(&mut r);
            r
        }
        Err(e) => e.into_response(),
    }
}

/// A client's name as shown: control characters out, at most 100
/// characters, and a placeholder for none.
pub(crate) fn clean_name(given: &str) -> String {
    // Bidirectional controls could make a name read as another.
    let shown = |c: &char| {
        !c.is_control()
            && !matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    let name: String = given.chars().filter(shown).take(100).collect();
    if name.trim().is_empty() {
        "an unnamed connector".to_owned()
    } else {
        name.trim().to_owned()
    }
}

/// A page of the public side: no script, nothing from outside.
fn public_page(status: StatusCode, title: &str, body: Markup, refresh: bool) -> Response {
    let m = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                @if refresh { meta http-equiv="refresh" content="2"; }
                title { (title) " · ctxvault" }
            }
            body { h1 { (title) } (body) }
        }
    };
    let mut r = (status, axum::response::Html(m.into_string())).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    no_store(&mut r);
    r
}

fn error_page(e: &OAuthError) -> Response {
    public_page(
        e.status,
        "This authorization request cannot go on",
        html! { p { (e.description) } p { code { (e.code) } } },
        false,
    )
}

/// Send the browser back to the client with `pairs` (and `state`, `iss`).
fn back_to(redirect: &str, pairs: &[(&str, &str)], state: Option<&str>, iss: &str) -> Response {
    let Ok(mut u) = url::Url::parse(redirect) else {
        return error_page(&OAuthError::request("the redirect URI does not parse"));
    };
    {
        let mut q = u.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
        if let Some(s) = state {
            q.append_pair("state", s);
        }
        q.append_pair("iss", iss);
    }
    let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, u.to_string())]).into_response();
    no_store(&mut r);
    r
}

pub(super) fn form_pairs(raw: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let mut m = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(raw) {
        if m.insert(k.into_owned(), v.into_owned()).is_some() {
            return Err(OAuthError::request(
                "a parameter was given twice; give each once",
            ));
        }
    }
    Ok(m)
}

async fn authorize(State(o): State<Oauth>, RawQuery(q): RawQuery) -> Response {
    let q = match form_pairs(q.unwrap_or_default().as_bytes()) {
        Ok(q) => q,
        Err(e) => return error_page(&e),
    };
    let get = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
    // Who asks, and where to: until both are known good, nothing goes
    // back to the redirect URI (RFC 6749 4.1.2.1).
    let Some(client_id) = get("client_id") else {
        return error_page(&OAuthError::request("client_id is missing"));
    };
    let known = match o
        .agent
        .oauth_client_info(
            client_id,
            o.public.is_loopback() && std::env::var_os("CTXVAULT_TEST_CIMD_LOOPBACK").is_some(),
        )
        .await
    {
        Ok(k) => k,
        Err(e) => return error_page(&e),
    };
    let Some((name, redirects, approved)) = known else {
        return error_page(&OAuthError {
            status: StatusCode::UNAUTHORIZED,
            ..OAuthError::new(
                "invalid_client",
                "this client_id is not registered here (or its registration expired); register again",
            )
        });
    };
    let redirect = match get("redirect_uri") {
        Some(r) if redirects.iter().any(|x| redirect_matches(x, r)) => r.to_owned(),
        Some(_) => {
            return error_page(&OAuthError::request(
                "redirect_uri is not one this client registered (they must match exactly)",
            ));
        }
        None if redirects.len() == 1 => redirects[0].clone(),
        None => {
            return error_page(&OAuthError::request(
                "redirect_uri is missing and this client registered several",
            ));
        }
    };
    let state = get("state").map(str::to_owned);
    let iss = o.public.origin().to_owned();
    // Errors go back to the client only once the user approved it: a
    // registration alone is anyone's, and its redirect URI no one's to
    // trust (RFC 9700 4.11.2).
    let fail = |code: &'static str, d: &str| {
        if approved {
            back_to(
                &redirect,
                &[("error", code), ("error_description", d)],
                state.as_deref(),
                &iss,
            )
        } else {
            error_page(&OAuthError::new(code, d))
        }
    };
    if get("response_type") != Some("code") {
        return fail(
            "unsupported_response_type",
            "only response_type=code is supported",
        );
    }
    let Some(challenge) = get("code_challenge") else {
        return fail(
            "invalid_request",
            "code_challenge is missing: PKCE with S256 is required",
        );
    };
    if get("code_challenge_method") != Some("S256") {
        return fail(
            "invalid_request",
            "code_challenge_method must be S256 (plain is refused)",
        );
    }
    if challenge.len() != 43 {
        return fail(
            "invalid_request",
            "code_challenge is not an S256 challenge (43 base64url characters)",
        );
    }
    let resource = o.public.resource();
    if get("resource").is_some_and(|r| !same_resource(r, &resource)) {
        return fail(
            "invalid_target",
            "resource is not this vault's MCP endpoint",
        );
    }
    let params = AuthParams {
        client_id: client_id.to_owned(),
        name,
        redirect_uri: redirect.clone(),
        state: state.clone(),
        challenge: challenge.to_owned(),
        resource,
    };
    let browser = match super::random_token() {
        Ok(b) => b,
        Err(e) => return error_page(&e),
    };
    let made = lock(&o.agent.oauth).request(params, super::sha256_hex(&browser), Instant::now());
    match made {
        Ok((wait, _)) => {
            let path = format!("/authorize/wait/{wait}");
            let secure = if o.public.origin().starts_with("https:") {
                "; Secure"
            } else {
                ""
            };
            let set =
                format!("{BROWSER_COOKIE}={browser}; Path={path}; HttpOnly; SameSite=Lax{secure}");
            let mut r = (
                StatusCode::SEE_OTHER,
                [(header::LOCATION, path), (header::SET_COOKIE, set)],
            )
                .into_response();
            no_store(&mut r);
            r
        }
        Err(e) => fail(e.code, &e.description),
    }
}

async fn wait(
    State(o): State<Oauth>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
) -> Response {
    let browser = super::sha256_hex(cookie(&headers, BROWSER_COOKIE).unwrap_or_default());
    let seen = lock(&o.agent.oauth).poll(&id, &browser, Instant::now());
    let Some(r) = seen else {
        return error_page(&OAuthError {
            status: StatusCode::FORBIDDEN,
            ..OAuthError::request(
                "this authorization request is unknown, expired, or was started in another browser; start again from the assistant",
            )
        });
    };
    let p = &r.params;
    let iss = o.public.origin();
    match r.decision {
        Decision::Waiting | Decision::Deciding => public_page(
            StatusCode::OK,
            "Waiting for approval",
            html! {
                p { "A connector called " strong { "“" (p.name) "”" } " asks to read from a ctxvault vault, and to be sent back to " code { (p.redirect_uri) } "." }
                p { "Its code is " strong.code { (r.user_code) } "." }
                p { "Only the vault's owner can approve it, on their own computer: with "
                    code { "ctxvault connector approve " (r.user_code) " --grant SCOPE" }
                    ", or in the console (" code { "ctxvault console" } "). This page moves on by itself." }
            },
            true,
        ),
        Decision::Approved(Some(code)) => {
            back_to(&p.redirect_uri, &[("code", &code)], p.state.as_deref(), iss)
        }
        Decision::Approved(None) => public_page(
            StatusCode::OK,
            "Approved",
            html! { p { "This request was approved and its answer already sent back to the connector." } },
            false,
        ),
        Decision::Denied => back_to(
            &p.redirect_uri,
            &[
                ("error", "access_denied"),
                ("error_description", "the vault's owner denied this request"),
            ],
            p.state.as_deref(),
            iss,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris() {
        for ok in [
            "https://claude.ai/api/mcp/auth_callback",
            "http://127.0.0.1:33418/callback",
            "http://localhost/cb",
            "http://[::1]:8080/cb",
        ] {
            assert!(redirect_ok(ok), "{ok}");
        }
        for bad in [
            "http://evil.example/cb",
            "https://app.example/cb#frag",
            "javascript:alert(1)",
            "https://user@app.example/cb",
            "not a url",
            "ftp://app.example/cb",
        ] {
            assert!(!redirect_ok(bad), "{bad}");
        }
    }

    #[test]
    fn loopback_redirects_match_on_any_port_and_resources_normalise() {
        assert!(redirect_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:51234/cb"
        ));
        assert!(redirect_matches(
            "https://app.example/cb",
            "https://app.example/cb"
        ));
        assert!(!redirect_matches(
            "https://app.example/cb",
            "https://app.example:444/cb"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:1/other"
        ));
        assert!(redirect_ok("com.example.app:/oauth"));
        assert!(same_resource(
            "https://V.example:443/mcp/",
            "https://v.example/mcp"
        ));
        assert!(!same_resource(
            "https://v.example/other",
            "https://v.example/mcp"
        ));
        assert!(!same_resource("not a url", "https://v.example/mcp"));
    }

    #[test]
    fn names_lose_controls_and_bidi_overrides() {
        assert_eq!(clean_name("Cla\u{202e}ude\n"), "Claude");
        assert_eq!(clean_name(" "), "an unnamed connector");
    }

    #[test]
    fn forms_refuse_repeated_parameters() {
        assert!(form_pairs(b"a=1&b=2").is_ok());
        assert!(form_pairs(b"a=1&a=2").is_err());
    }
}
