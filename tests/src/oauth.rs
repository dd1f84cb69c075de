//! The OAuth side of a hosted assistant, spoken with raw HTTP (every
//! parameter as written), for the OAuth tests and the benchmark.

use serde_json::Value;

use crate::{Env, HttpAgent, raw_http};

/// A redirect URI nothing listens on: the tests read the Location.
pub const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// A port free now on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Percent-encode a query or form value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of header `name` (lowercase).
pub fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// GET `path` with raw HTTP.
pub fn get(addr: &str, path: &str) -> (u16, Vec<(String, String)>, String) {
    raw_http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
}

/// POST `body` of content type `kind` (with `extra` header lines).
pub fn post(addr: &str, path: &str, kind: &str, body: &str, extra: &str) -> (u16, String) {
    let (s, _, b) = raw_http(
        addr,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    (s, b)
}

/// POST a form to `/token`: the status and the JSON answer.
pub fn token(addr: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let body = form
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let (s, b) = post(
        addr,
        "/token",
        "application/x-www-form-urlencoded",
        &body,
        "",
    );
    (s, serde_json::from_str(&b).unwrap_or(Value::Null))
}

/// Register a client named `name` redirected to [`REDIRECT`]: its id.
pub fn register(addr: &str, name: &str) -> String {
    let (s, b) = post(
        addr,
        "/register",
        "application/json",
        &serde_json::json!({ "client_name": name, "redirect_uris": [REDIRECT] }).to_string(),
        "",
    );
    assert_eq!(s, 201, "{b}");
    serde_json::from_str::<Value>(&b).unwrap()["client_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The PKCE verifier of RFC 7636 appendix B.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// Its S256 challenge.
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// `/authorize` with these parameters: status and Location.
pub fn authorize(addr: &str, params: &[(&str, &str)]) -> (u16, String) {
    let q = params
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let (s, h, _) = get(addr, &format!("/authorize?{q}"));
    (s, header(&h, "location").unwrap_or_default().to_owned())
}

/// Authorization parameters that pass every check.
pub fn good_params<'a>(client_id: &'a str, resource: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("state", "st8"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("resource", resource),
    ]
}

/// GET `path` with raw HTTP, with a cookie if given.
pub fn get_with(
    addr: &str,
    path: &str,
    cookie: Option<&str>,
) -> (u16, Vec<(String, String)>, String) {
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    raw_http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{cookie}Connection: close\r\n\r\n"),
    )
}

/// A request waiting for the user, as the browser that asked holds it.
pub struct Waiting {
    /// The wait page's path.
    pub path: String,
    /// The user code it shows.
    pub code: String,
    /// The browser's cookie (`name=value`).
    pub cookie: String,
}

/// Authorize with [`good_params`]: the request as its browser holds it
/// (its page shows nothing of the vault).
pub fn waiting(addr: &str, client_id: &str, resource: &str) -> Waiting {
    let q = good_params(client_id, resource)
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let (s, h, body) = get(addr, &format!("/authorize?{q}"));
    assert_eq!(s, 303, "{body}");
    let path = header(&h, "location").unwrap().to_owned();
    let set = header(&h, "set-cookie").expect("a browser cookie");
    assert!(
        set.contains("HttpOnly") && set.contains(&format!("Path={path}")),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_owned();
    let (_, _, page) = get_with(addr, &path, Some(&cookie));
    let at = page.find("class=\"code\">").expect("the code on the page") + 13;
    assert!(
        !page.contains("Acme"),
        "the public page shows nothing of the vault"
    );
    Waiting {
        code: page[at..at + 9].to_owned(),
        path,
        cookie,
    }
}

/// The wait page once decided: where it sends its browser back.
pub fn sent_back(addr: &str, w: &Waiting) -> String {
    let (s, h, body) = get_with(addr, &w.path, Some(&w.cookie));
    assert_eq!(s, 303, "{body}");
    let loc = header(&h, "location").unwrap().to_owned();
    assert!(
        loc.starts_with(REDIRECT) && loc.contains("state=st8"),
        "{loc}"
    );
    loc
}

/// The `code` parameter of a redirect back.
pub fn code_of(loc: &str) -> String {
    loc.split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("code="))
        .unwrap()
        .to_owned()
}

/// Authorize, approve through the CLI (`connector approve CODE` and
/// `approve`), and read the code the wait page sends back.
pub fn approved_code(
    env: &Env,
    addr: &str,
    client_id: &str,
    resource: &str,
    approve: &[&str],
) -> String {
    let w = waiting(addr, client_id, resource);
    let mut args = vec!["connector", "approve", &w.code];
    args.extend_from_slice(approve);
    env.ok(&args);
    code_of(&sent_back(addr, &w))
}

/// Exchange `code` with the right verifier.
pub fn exchange(addr: &str, client_id: &str, code: &str) -> (u16, Value) {
    token(
        addr,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
}

/// POST an MCP initialize with a bearer token: the status.
pub fn mcp_status(addr: &str, bearer: &str) -> u16 {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    post(
        addr,
        "/mcp",
        "application/json",
        body,
        &format!(
            "Accept: application/json, text/event-stream\r\nAuthorization: Bearer {bearer}\r\n"
        ),
    )
    .0
}

/// A vault with work, health and personal items, served at a public URL
/// that is this loopback address. Codes live 5 s; for short access tokens
/// too, put `CTXVAULT_TEST_OAUTH_ACCESS_MS` in `env.vars` first.
pub fn public_vault(env: &mut Env) -> HttpAgent {
    env.vars
        .push(("CTXVAULT_TEST_OAUTH_CODE_MS".into(), "5000".into()));
    env.init();
    env.add(&[
        "--ns",
        "work/acme",
        "Acme launch plan, call +1 555 123 4567",
    ]);
    env.add(&["--ns", "health", "Acme allergy notes: penicillin"]);
    env.add(&["--ns", "personal", "Acme birthday party for my sister"]);
    let addr = format!("127.0.0.1:{}", free_port());
    let public = format!("http://{addr}");
    env.http_agent_with(&["--http", &addr, "--public-url", &public])
}
