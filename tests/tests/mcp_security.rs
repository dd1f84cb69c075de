//! The HTTP endpoint's checks, with raw requests where every header is
//! exactly as written: tokens (401), Host and Origin (403), tokens in URLs
//! (refused), session ids without or with another token, remote binds; and
//! no cross-client leak through rmcp's client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{add_client, call, json, text};
use ctxvault_tests::{Env, raw_http};
use serde_json::json;

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#;
const LIST: &str = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}"#;

fn post(path: &str, host: &str, extra: &[(&str, &str)], body: &str) -> String {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in extra {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str("\r\n");
    r.push_str(body);
    r
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Closing a session with DELETE is answered as the SDKs expect (200 or
/// 204; rmcp's own 202 made the Python SDK log "Session termination
/// failed: 202" on every close).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_session_is_answered_as_sdks_expect() {
    let env = Env::new();
    env.init();
    let agent = env.http_agent();
    let token = add_client(&env, "closer");
    let addr = agent.addr.as_str();
    let bearer = format!("Bearer {token}");
    let (status, h, body) = raw_http(
        addr,
        &post("/mcp", addr, &[("Authorization", &bearer)], INIT),
    );
    assert_eq!(status, 200, "{body}");
    let sid = header(&h, "mcp-session-id")
        .expect("a session id")
        .to_owned();
    let delete = format!(
        "DELETE /mcp HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {bearer}\r\nMcp-Session-Id: {sid}\r\nConnection: close\r\n\r\n"
    );
    let (status, _, body) = raw_http(addr, &delete);
    assert!(
        matches!(status, 200 | 204),
        "DELETE answered {status}: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_refuses_what_it_must() {
    let env = Env::new();
    env.init();
    let agent = env.http_agent();
    let a = add_client(&env, "alice-app");
    let b = add_client(&env, "bob-app");
    let addr = agent.addr.as_str();
    let bearer_a = format!("Bearer {a}");
    let bearer_b = format!("Bearer {b}");

    // No token, a wrong token, another scheme: 401 with a challenge.
    for extra in [
        vec![],
        vec![(
            "Authorization",
            "Bearer cvt_0000000000000000000000000000000000000000000000000000000000000000",
        )],
        vec![("Authorization", "Basic YWxpY2U6eA==")],
    ] {
        let (status, h, body) = raw_http(addr, &post("/mcp", addr, &extra, INIT));
        assert_eq!(status, 401, "{extra:?}: {body}");
        assert_eq!(
            header(&h, "www-authenticate"),
            Some("Bearer realm=\"ctxvault\"")
        );
    }

    // A valid token from a foreign Host or Origin: 403.
    let (status, _, body) = raw_http(
        addr,
        &post(
            "/mcp",
            "evil.example:7410",
            &[("Authorization", &bearer_a)],
            INIT,
        ),
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("Host"), "{body}");
    for origin in [
        "https://evil.example",
        "http://localhost.evil.example",
        "null",
    ] {
        let (status, _, body) = raw_http(
            addr,
            &post(
                "/mcp",
                addr,
                &[("Authorization", &bearer_a), ("Origin", origin)],
                INIT,
            ),
        );
        assert_eq!(status, 403, "{origin}: {body}");
    }

    // A token in the query string is refused, with or without a header.
    let (status, _, body) = raw_http(addr, &post(&format!("/mcp?token={a}"), addr, &[], INIT));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Authorization: Bearer"), "{body}");
    let (status, _, _) = raw_http(
        addr,
        &post(
            &format!("/mcp?access_token={a}"),
            addr,
            &[("Authorization", &bearer_a)],
            INIT,
        ),
    );
    assert_eq!(status, 400);

    // A loopback Origin and the right token: the session opens.
    let (status, h, body) = raw_http(
        addr,
        &post(
            "/mcp",
            addr,
            &[
                ("Authorization", &bearer_a),
                ("Origin", "http://localhost:5173"),
            ],
            INIT,
        ),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("ctxvault"), "{body}");
    let sid = header(&h, "mcp-session-id")
        .expect("a session id")
        .to_owned();

    // The session id without the token authorizes nothing; with another
    // client's token it is refused.
    let with_sid = [("Mcp-Session-Id", sid.as_str())];
    let (status, _, _) = raw_http(addr, &post("/mcp", addr, &with_sid, LIST));
    assert_eq!(status, 401);
    let (status, _, body) = raw_http(
        addr,
        &post(
            "/mcp",
            addr,
            &[
                ("Mcp-Session-Id", sid.as_str()),
                ("Authorization", &bearer_b),
            ],
            LIST,
        ),
    );
    assert_eq!(status, 403, "{body}");

    // A rotated token stops working at once.
    let old = a.clone();
    let a = env.json(&["client", "rotate", "alice-app", "--json"])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _, _) = raw_http(
        addr,
        &post(
            "/mcp",
            addr,
            &[("Authorization", &format!("Bearer {old}"))],
            INIT,
        ),
    );
    assert_eq!(status, 401);

    // Client A's token never returns what only B may read, and back.
    let only_a = env.add(&["--ns", "work", "shared word zebra for alice"]);
    let only_b = env.add(&["--ns", "health", "shared word zebra for bob"]);
    env.ok(&["grant", "alice-app", "work/**"]);
    env.ok(&["grant", "bob-app", "health/**"]);
    let sa = common::http(&agent.url, &a).await;
    let sb = common::http(&agent.url, &b).await;
    let ha = json(&call(&sa, "search_context", json!({"query": "zebra"})).await);
    let hb = json(&call(&sb, "search_context", json!({"query": "zebra"})).await);
    assert_eq!(ha.as_array().unwrap().len(), 1);
    assert_eq!(ha[0]["id"], only_a.as_str());
    assert_eq!(hb.as_array().unwrap().len(), 1);
    assert_eq!(hb[0]["id"], only_b.as_str());
    let r = call(&sa, "get_context", json!({"id": only_b})).await;
    assert_eq!(text(&r), format!("no item {only_b}"));
    let r = call(&sb, "get_context", json!({"id": only_a})).await;
    assert_eq!(text(&r), format!("no item {only_a}"));
    sa.cancel().await.unwrap();
    sb.cancel().await.unwrap();

    // Other paths are not served.
    let (status, _, _) = raw_http(
        addr,
        &post(
            "/other",
            addr,
            &[("Authorization", &format!("Bearer {a}"))],
            INIT,
        ),
    );
    assert_ne!(status, 200);
}

/// `--allow-remote` lifts the Host check (the endpoint is reached by other
/// names) but not the Origin check, nor the token.
#[test]
fn allow_remote_accepts_other_hosts_only() {
    let env = Env::new();
    env.init();
    let agent = env.http_agent_with(&["--allow-remote"]);
    let token = add_client(&env, "remote-app");
    let addr = agent.addr.as_str();
    let bearer = format!("Bearer {token}");
    let (status, _, body) = raw_http(
        addr,
        &post(
            "/mcp",
            "vault.home.example:7410",
            &[("Authorization", &bearer)],
            INIT,
        ),
    );
    assert_eq!(status, 200, "{body}");
    let (status, _, _) = raw_http(addr, &post("/mcp", "vault.home.example:7410", &[], INIT));
    assert_eq!(status, 401);
    let (status, _, _) = raw_http(
        addr,
        &post(
            "/mcp",
            "vault.home.example:7410",
            &[
                ("Authorization", &bearer),
                ("Origin", "https://evil.example"),
            ],
            INIT,
        ),
    );
    assert_eq!(status, 403);
}

#[test]
fn remote_bind_needs_allow_remote() {
    let env = Env::new();
    env.init();
    env.ok(&["stop"]);
    let o = env.run(&["daemon", "--http", "0.0.0.0:0"]);
    assert_ne!(o.code, 0);
    ctxvault_tests::assert_one_line_error(&o.stderr, "not a loopback address");
    assert!(o.stderr.contains("--allow-remote"), "{}", o.stderr);
    let o = env.run(&["daemon", "--http", "not-an-address"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
}

/// Sessions are bounded per client: a client opening more than its share
/// loses its own oldest session, never another client's, and the ownership
/// check holds throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_bounded_per_client() {
    let env = Env::new();
    env.init();
    let agent = env.http_agent();
    let addr = agent.addr.as_str();
    let a = common::add_client(&env, "greedy");
    let b = common::add_client(&env, "other");
    let (bearer_a, bearer_b) = (format!("Bearer {a}"), format!("Bearer {b}"));
    let open = |bearer: &str| {
        let (status, h, body) = raw_http(
            addr,
            &post("/mcp", addr, &[("Authorization", bearer)], INIT),
        );
        assert_eq!(status, 200, "{body}");
        header(&h, "mcp-session-id").unwrap().to_owned()
    };
    let use_it = |sid: &str, bearer: &str| {
        raw_http(
            addr,
            &post(
                "/mcp",
                addr,
                &[("Mcp-Session-Id", sid), ("Authorization", bearer)],
                LIST,
            ),
        )
        .0
    };
    let theirs = open(&bearer_b);
    let mine: Vec<String> = (0..40).map(|_| open(&bearer_a)).collect();
    // The oldest of the greedy client's sessions are gone (404), its newest
    // work, and the other client's session is untouched.
    assert_eq!(use_it(&mine[0], &bearer_a), 404);
    assert_eq!(use_it(&mine[39], &bearer_a), 200);
    assert_eq!(use_it(&theirs, &bearer_b), 200);
    assert_eq!(use_it(&theirs, &bearer_a), 403);
    assert_eq!(use_it(&mine[39], &bearer_b), 403);
}
