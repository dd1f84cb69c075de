//! `distill` through the real binary and agent against a local Ollama-shaped
//! provider written for the tests: proposals go to the pending queue with
//! the items they came from, nothing is stored before approval, only the
//! namespace named is sent, and every item sent is on the audit record as
//! read by that provider.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use ctxvault_tests::{Env, assert_one_line_error};

mod proxy_upstream;

use proxy_upstream::Upstream;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/history")
        .join(name)
}

const REPLY: &str = r#"{"memories": [
  {"text": "Is vegetarian", "kind": "fact", "excerpt": 1},
  {"text": "Prefers Alfama in Lisbon", "kind": "preference", "excerpt": 2}
]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distill_proposes_from_the_named_history_and_stores_nothing_unapproved() {
    let env = Env::new();
    env.init();
    let imp = |f: &str| env.json(&["import", fixture(f).to_str().unwrap(), "--json"]);
    imp("chatgpt-v2/conversations.json");
    imp("claude/conversations.json");
    let chatgpt: Vec<String> = env
        .json(&["ls", "--ns", "history/chatgpt", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(chatgpt.len(), 7);
    let items_before = env.json(&["ls", "--json"]).as_array().unwrap().len();

    // No provider yet: the fix is named.
    let e = env.fails(&["distill", "--model", "test-model"]);
    assert_one_line_error(&e, "no local provider to distill with");

    let up = Upstream::start("local").await;
    up.set_reply(REPLY);
    let url = format!("http://{}", up.addr);
    env.ok(&[
        "provider", "add", "local", "--kind", "ollama", "--url", &url,
    ]);
    let s = env.json(&[
        "distill",
        "--model",
        "test-model",
        "--ns",
        "history/chatgpt",
        "--json",
    ]);
    assert_eq!(s["provider"], "local");
    assert_eq!(s["sent"], 7);
    let requests = s["requests"].as_u64().unwrap();
    assert!(requests >= 1);
    assert_eq!(up.received().len() as u64, requests);
    // The same answer to every request: each proposal once.
    assert_eq!(s["proposals"].as_array().unwrap().len(), 2, "{s}");

    // What the provider saw: the model, the instructions, the chatgpt
    // history, and nothing of the Claude history.
    let sent: String = up.received().iter().map(|r| r.all_text()).collect();
    assert!(up.received().iter().all(|r| r.path == "/api/chat"));
    assert_eq!(up.last().json()["model"], "test-model");
    assert!(
        sent.contains("Lisbon") && sent.contains("tomatoes"),
        "{sent}"
    );
    assert!(
        !sent.contains("genmaicha") && !sent.contains("Zürich"),
        "{sent}"
    );

    // Pending, with their sources; nothing stored.
    let pending = env.json(&["pending", "--json"]);
    let pending = pending.as_array().unwrap();
    assert_eq!(pending.len(), 2);
    for p in pending {
        assert_eq!(p["client"], "distill-local");
        assert_eq!(p["namespace"], "profile");
        let sources = p["sources"].as_array().unwrap();
        assert_eq!(sources.len(), 1, "{p}");
        assert!(
            chatgpt.contains(&sources[0].as_str().unwrap().to_owned()),
            "{p}"
        );
    }
    assert_eq!(pending[1]["kind"], "preference");
    assert_eq!(
        env.json(&["ls", "--json"]).as_array().unwrap().len(),
        items_before
    );
    let shown = env.ok(&["pending"]);
    assert!(shown.contains("(from "), "{shown}");

    // On the record: every item sent, as read by the provider.
    let audit = env.json(&["audit", "--client", "provider:local", "--json"]);
    let audit = audit.as_array().unwrap();
    assert_eq!(audit.len() as u64, requests);
    let mut read: Vec<String> = audit
        .iter()
        .flat_map(|e| e["ids"].as_array().unwrap().clone())
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    read.sort();
    let mut want = chatgpt.clone();
    want.sort();
    assert_eq!(read, want);
    assert!(audit.iter().all(|e| e["action"] == "distill"));

    // Approved: stored, vouched for by the user.
    let id = pending[0]["id"].as_str().unwrap();
    env.ok(&["approve", id]);
    let profile = env.json(&["ls", "--ns", "profile", "--json"]);
    assert_eq!(profile[0]["source"], "approved:distill-local");
    assert_eq!(
        env.json(&["pending", "--json"]).as_array().unwrap().len(),
        1
    );

    // A model that does not answer in JSON, and a provider that is down:
    // clear errors, nothing pending added.
    up.set_reply("I'd rather not.");
    let e = env.fails(&[
        "distill",
        "--model",
        "test-model",
        "--ns",
        "history/chatgpt",
    ]);
    assert_one_line_error(&e, "not with the JSON asked for");
    env.ok(&[
        "provider",
        "add",
        "gone",
        "--kind",
        "ollama",
        "--url",
        "http://127.0.0.1:9",
    ]);
    let e = env.fails(&["distill", "--model", "m", "--provider", "gone"]);
    assert_one_line_error(&e, "provider gone at http://127.0.0.1:9 failed");
    let e = env.fails(&["distill", "--model", "m"]);
    assert_one_line_error(&e, "several Ollama providers");
    let e = env.fails(&[
        "distill",
        "--model",
        "m",
        "--provider",
        "local",
        "--ns",
        "nothing/here",
    ]);
    assert_one_line_error(&e, "nothing under nothing/here to distill");
    assert_eq!(
        env.json(&["pending", "--json"]).as_array().unwrap().len(),
        1
    );
    // By default only an Ollama on this machine: one elsewhere must be named.
    env.ok(&["provider", "rm", "local"]);
    env.ok(&["provider", "rm", "gone"]);
    env.ok(&[
        "provider",
        "add",
        "lan",
        "--kind",
        "ollama",
        "--url",
        "http://192.0.2.1:11434",
    ]);
    let e = env.fails(&["distill", "--model", "m"]);
    assert_one_line_error(&e, "is not on this machine");
    let audit = env.json(&["audit", "--client", "provider:lan", "--json"]);
    assert_eq!(audit, serde_json::json!([]));
}
