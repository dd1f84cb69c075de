//! After a crash nothing is lost and nothing doubles: a write retried with
//! the same idempotency key is answered from the first outcome, and open
//! MCP sessions outlive the agent (the bridge restarts and unlocks it where
//! the user's configuration allows).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{add_client, call, json, text};
use ctxvault_tests::{Env, PASS, bin};
use serde_json::json;
use vault_daemon::client::Client;
use vault_daemon::protocol as p;

fn client(env: &Env) -> Client {
    let socket = vault_daemon::paths::socket_path(&env.runtime, &env.vault).unwrap();
    Client::new(socket)
}

fn note(body: &str) -> vault_core::NewItem {
    vault_core::NewItem {
        namespace: "notes".parse().unwrap(),
        kind: Default::default(),
        title: None,
        body: body.into(),
        tags: vec![],
        sensitivity: Default::default(),
        source: vault_core::item::Source::user(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_add_is_answered_from_the_first_outcome_even_after_a_kill() {
    let env = Env::new();
    env.init();
    let key = uuid::Uuid::now_v7();
    let add = || p::Add {
        item: note("stored exactly once"),
        new_kind: false,
        request: Some(key),
        expires: None,
    };
    let first = client(&env).call(add()).await.unwrap().unwrap();
    // The agent dies; the retry reaches a new one.
    env.kill_agent();
    env.ok(&["unlock"]);
    let again = client(&env).call(add()).await.unwrap().unwrap();
    assert_eq!(again.id, first.id);
    let again = client(&env).call(add()).await.unwrap().unwrap();
    assert_eq!(again.id, first.id);
    let items = env.json(&["ls", "--ns", "notes", "--json"]);
    assert_eq!(items.as_array().unwrap().len(), 1, "{items}");
    // Another key is another item.
    let other = client(&env)
        .call(p::Add {
            item: note("stored exactly once"),
            new_kind: false,
            request: Some(uuid::Uuid::now_v7()),
            expires: None,
        })
        .await
        .unwrap()
        .unwrap();
    assert_ne!(other.id, first.id);
}

/// `ctxvault mcp` for `client`, with the passphrase in its environment (as
/// a user's MCP client configuration may give it).
async fn stdio_with_passphrase(env: &Env, client: &str, token: &str) -> common::Session {
    use rmcp::ServiceExt;
    let mut cmd = tokio::process::Command::new(bin());
    cmd.args(["mcp", "--client", client])
        .env("CTXVAULT_HOME", &env.vault)
        .env("CTXVAULT_RUNTIME_DIR", &env.runtime)
        .env("CTXVAULT_SCRYPT_WORK_FACTOR", "10")
        .env("CTXVAULT_TOKEN", token)
        .env("CTXVAULT_PASSPHRASE", PASS);
    let (transport, _) = rmcp::transport::TokioChildProcess::builder(cmd)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    ().serve(transport).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_sessions_outlive_the_agent() {
    let env = Env::new();
    env.init();
    env.add(&["--ns", "notes", "green tea in the morning"]);
    let token = add_client(&env, "desktop");
    env.ok(&["grant", "desktop", "**", "--allow", "read,propose"]);
    let s = stdio_with_passphrase(&env, "desktop", &token).await;
    let hits = json(&call(&s, "search_context", json!({"query": "tea"})).await);
    assert_eq!(hits.as_array().map(Vec::len), Some(1));

    // kill -9 under the open session: the next call brings it back.
    env.kill_agent();
    let r = call(&s, "search_context", json!({"query": "tea"})).await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    assert_eq!(json(&r).as_array().map(Vec::len), Some(1));
    // and a proposal after another kill is made once.
    env.kill_agent();
    let r = call(
        &s,
        "remember",
        json!({"content": "likes oolong too", "namespace": "notes"}),
    )
    .await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    assert_eq!(
        env.json(&["pending", "--json"]).as_array().unwrap().len(),
        1
    );

    // Locked, then a fresh session with no agent running: unlocked on use.
    env.ok(&["lock"]);
    let r = call(&s, "search_context", json!({"query": "tea"})).await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    drop(s);
    env.ok(&["stop"]);
    let fresh = stdio_with_passphrase(&env, "desktop", &token).await;
    let r = call(&fresh, "search_context", json!({"query": "tea"})).await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
}
