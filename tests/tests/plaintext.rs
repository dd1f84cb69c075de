//! No plaintext on disk: markers in every field never appear in any file
//! under the vault directory, in UTF-8 or UTF-16.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use ctxvault_tests::Env;
use serde_json::json;

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn encodings(marker: &str) -> Vec<Vec<u8>> {
    let mut v = vec![
        marker.as_bytes().to_vec(),
        marker.to_uppercase().into_bytes(),
    ];
    for m in [marker.to_owned(), marker.to_uppercase()] {
        v.push(m.encode_utf16().flat_map(u16::to_le_bytes).collect());
        v.push(m.encode_utf16().flat_map(u16::to_be_bytes).collect());
    }
    v
}

fn assert_no_marker(env: &Env, markers: &[&str]) {
    let mut all = Vec::new();
    files(&env.vault, &mut all);
    assert!(all.iter().any(|p| p.ends_with("vault.db")));
    for f in &all {
        let bytes = std::fs::read(f).unwrap();
        for m in markers {
            for enc in encodings(m) {
                assert!(
                    !bytes.windows(enc.len()).any(|w| w == enc.as_slice()),
                    "marker {m} found in {}",
                    f.display()
                );
            }
        }
    }
}

#[test]
fn no_marker_in_any_file() {
    let env = Env::new();
    env.init();
    let body = "zqxbodymarker the body of a private note";
    let id = env.add(&[
        "--ns",
        "zqxnsmarker/sub",
        "--title",
        "zqxtitlemarker",
        "--tag",
        "zqxtagmarker",
        "--kind",
        "zqxkindmarker",
        "--new-kind",
        body,
    ]);
    env.add(&["--ns", "profile", "another zqxbodymarker2 item"]);
    for q in [
        "zqxbodymarker",
        "zqxtitlemarker",
        "zqxtagmarker",
        "zqxbody*",
    ] {
        let hits = env.json(&["search", q, "--json"]);
        assert!(
            hits.as_array()
                .unwrap()
                .iter()
                .any(|h| h["id"] == id.as_str()),
            "search {q}: {hits}"
        );
    }
    env.ok(&["edit", &id, "zqxeditmarker edited body"]);
    let markers = [
        "zqxbodymarker",
        "zqxnsmarker",
        "zqxtitlemarker",
        "zqxtagmarker",
        "zqxkindmarker",
        "zqxeditmarker",
    ];
    // While the agent runs (WAL and SHM present) ...
    assert_no_marker(&env, &markers);
    // ... and after it stopped and checkpointed.
    env.ok(&["stop"]);
    assert_no_marker(&env, &markers);
}

/// No log level writes context: with `CTXVAULT_LOG=trace`, a client's
/// query and the items it reads over MCP (HTTP, served by the agent, and
/// stdio, through it) stay out of the agent's log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_log_level_writes_context() {
    let mut env = Env::new();
    env.vars.push(("CTXVAULT_LOG".into(), "trace".into()));
    env.vars
        .push(("CTXVAULT_HTTP".into(), "127.0.0.1:0".into()));
    env.init();
    env.add(&[
        "--ns",
        "notes",
        "--title",
        "zqxlogtitle",
        "zqxlogbody is what the client reads",
    ]);
    let token = common::add_client(&env, "reader");
    env.ok(&["grant", "reader", "**"]);
    let url = env.status()["http"].as_str().unwrap().to_owned();
    let h = common::http(&url, &token).await;
    let s = common::stdio(&env, "reader", &token).await;
    for session in [&h, &s] {
        let hits = common::json(
            &common::call(
                session,
                "search_context",
                json!({"query": "zqxlogbody zqxlogquery"}),
            )
            .await,
        );
        assert_eq!(hits.as_array().map(Vec::len), Some(1), "{hits}");
    }
    drop((h, s));
    env.ok(&["stop"]);
    let log = std::fs::read_to_string(env.vault.join("agent.log")).unwrap();
    assert!(log.contains("agent listening"), "the log is written: {log}");
    for m in ["zqxlogbody", "zqxlogquery", "zqxlogtitle"] {
        assert!(!log.contains(m), "{m} in agent.log");
    }
}

/// Sealed records do not tell the exact length of their text: bodies of
/// different lengths in one size bucket seal to the same size.
#[test]
fn sealed_sizes_hide_exact_lengths() {
    let env = Env::new();
    env.init();
    env.add(&["--ns", "notes", "short"]);
    env.add(&["--ns", "notes", "a body some thirty characters longer"]);
    env.ok(&["stop"]);
    let sizes: Vec<i64> = tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sqlx::Connection;
        let url = format!("sqlite://{}?mode=ro", env.db().display());
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query_scalar("SELECT length(sealed) FROM items ORDER BY rowid")
            .fetch_all(&mut c)
            .await
            .unwrap()
    });
    assert_eq!(sizes.len(), 2);
    assert_eq!(sizes[0], sizes[1], "{sizes:?}");
}
