//! Nothing acknowledged is lost: SIGKILL right after `add`, and 50 kills
//! during writes, followed by `PRAGMA integrity_check`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;

use ctxvault_tests::{Env, PASS};
use sqlx::Connection;

async fn integrity_ok(env: &Env) {
    let url = format!("sqlite://{}?mode=ro", env.db().display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let r: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(r, "ok");
    conn.close().await.unwrap();
}

#[test]
fn sigkill_right_after_add_loses_nothing() {
    let env = Env::new();
    env.init();
    let id = env.add(&["--ns", "notes", "remember the milk"]);
    env.kill_agent();
    assert_eq!(
        env.json(&["get", &id, "--json"])["body"],
        "remember the milk"
    );
}

#[test]
fn fifty_kills_during_writes() {
    let env = Env::new();
    env.init();
    let mut acked: Vec<(String, String)> = Vec::new();
    for cycle in 0..50 {
        // A few acknowledged writes (the first restarts and unlocks the agent).
        for k in 0..(1 + cycle % 3) {
            let body = format!("cycle {cycle} write {k}");
            let id = env.add(&["--ns", "durability", &body]);
            acked.push((id, body));
        }
        // One more write in flight while the agent is killed.
        let body = format!("cycle {cycle} in flight");
        let child = env
            .cmd(&["add", "--ns", "durability", &body])
            .env("CTXVAULT_PASSPHRASE", PASS)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        env.kill_agent();
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            // Acknowledged before the kill: it must survive too.
            acked.push((String::from_utf8_lossy(&out.stdout).trim().to_owned(), body));
        }
    }
    let items = env.json(&["ls", "--ns", "durability", "--json"]);
    let bodies: std::collections::HashMap<&str, &str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["id"].as_str().unwrap(), i["body"].as_str().unwrap()))
        .collect();
    for (id, body) in &acked {
        assert_eq!(
            bodies.get(id.as_str()),
            Some(&body.as_str()),
            "acknowledged item {id} lost"
        );
    }
    env.ok(&["stop"]);
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(integrity_ok(&env));
}
