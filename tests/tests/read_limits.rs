//! The audit log cannot be turned into a disk filler: queries are capped at
//! the MCP boundary and in the agent, an audit entry keeps a bounded query,
//! HTTP bodies are bounded, and each client's reads are rate limited.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{add_client, audit_of, call, text};
use ctxvault_tests::{Env, raw_http};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_queries_are_refused_or_bounded_in_the_audit() {
    let env = Env::new();
    env.init();
    env.add(&["--ns", "notes", "green tea in the morning"]);
    let agent = env.http_agent();
    let token = add_client(&env, "chatty");
    env.ok(&["grant", "chatty", "**"]);
    let s = common::stdio(&env, "chatty", &token).await;

    // Over the limit: refused, and nothing of it on the record.
    let huge = "tea ".repeat(2000);
    let r = call(&s, "search_context", json!({"query": huge})).await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("at most 1000"), "{}", text(&r));
    // A 3 MiB body over HTTP is refused before it is read.
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{{"name":"search_context","arguments":{{"query":"{}"}}}}}}"#,
        "x".repeat(3 * 1024 * 1024)
    );
    let req = format!(
        "POST /mcp HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        agent.addr,
        body.len()
    );
    let (status, _, _) = raw_http(&agent.addr, &req);
    assert_eq!(status, 413);

    // Under the limit: answered, and the entry keeps 200 characters.
    let long = format!("green {}", "x".repeat(900));
    let r = call(&s, "search_context", json!({"query": long})).await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    let entries = audit_of(&env, "chatty");
    assert_eq!(
        entries.len(),
        1,
        "only the answered read is recorded: {entries:?}"
    );
    let q = entries[0]["query"].as_str().unwrap();
    assert!(
        q.chars().count() < 250 && q.ends_with("(906 characters)"),
        "{q}"
    );
    drop(agent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_rate_limited_per_client() {
    let mut env = Env::new();
    env.vars.push(("CTXVAULT_READ_BURST".into(), "5".into()));
    env.vars.push(("CTXVAULT_READ_RATE".into(), "1".into()));
    env.init();
    env.add(&["--ns", "notes", "green tea"]);
    let a = add_client(&env, "hammer");
    let b = add_client(&env, "calm");
    env.ok(&["grant", "hammer", "**"]);
    env.ok(&["grant", "calm", "**"]);
    let sa = common::stdio(&env, "hammer", &a).await;
    let sb = common::stdio(&env, "calm", &b).await;
    let mut refused = 0;
    for _ in 0..8 {
        let r = call(&sa, "search_context", json!({"query": "tea"})).await;
        if r.is_error == Some(true) {
            assert!(text(&r).contains("too many reads"), "{}", text(&r));
            refused += 1;
        }
    }
    assert!(refused >= 2, "the burst of 5 ran out: {refused} refused");
    // Another client is not affected, and refused reads write no entries.
    let r = call(&sb, "search_context", json!({"query": "tea"})).await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    assert_eq!(audit_of(&env, "hammer").len(), 8 - refused);
}
