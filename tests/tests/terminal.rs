//! Nothing the CLI prints from the vault acts on the user's terminal: a
//! client's proposal, or an item's title, body and tags, holding escape
//! sequences (clear screen, cursor moves, an OSC 52 clipboard write) shows
//! them as visible text in `pending`, `get`, `ls`, `search` and `audit`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{add_client, call, json};
use ctxvault_tests::Env;
use serde_json::json;

const HOSTILE: &str = "clear\u{1b}[2J\u{1b}[H moved \u{1b}]52;c;cm0gLXJmIH4=\u{7} bell\u{7} bidi\u{202e}txt.exe c1\u{9b}31m";

fn assert_inert(what: &str, out: &str) {
    for c in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}'] {
        assert!(!out.contains(c), "{what} prints {c:?} raw: {out:?}");
    }
    assert!(out.contains("\\u{1b}"), "{what} shows the escape: {out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_text_never_reaches_the_terminal_raw() {
    let env = Env::new();
    env.init();
    let id = env.add(&[
        "--ns",
        "notes",
        "--title",
        HOSTILE,
        &format!("search me {HOSTILE}"),
    ]);
    assert_inert("get", &env.ok(&["get", &id]));
    assert_inert("ls", &env.ok(&["ls"]));
    assert_inert("search", &env.ok(&["search", "search"]));

    // A propose-only client writes the same into a proposal and a query.
    let token = add_client(&env, "sneaky");
    env.ok(&["grant", "sneaky", "notes/**", "--allow", "read,propose"]);
    let s = common::stdio(&env, "sneaky", &token).await;
    let p = json(
        &call(
            &s,
            "remember",
            json!({"content": format!("prefers tea {HOSTILE}"), "namespace": "notes", "title": HOSTILE}),
        )
        .await,
    );
    assert_eq!(p["status"], "pending");
    call(
        &s,
        "search_context",
        json!({"query": format!("tea {HOSTILE}")}),
    )
    .await;
    drop(s);
    assert_inert("pending", &env.ok(&["pending"]));
    assert_inert("audit", &env.ok(&["audit"]));
    // JSON output stays exact for programs.
    let raw = env.json(&["get", &id, "--json"]);
    assert_eq!(raw["title"], HOSTILE);
}
