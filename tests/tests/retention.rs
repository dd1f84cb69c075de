//! Retention, end to end: an item added with `--expires` and the items of
//! a scope with a retention are removed when their time comes (a test
//! clock moves the agent's time; the agent sweeps on its own), from the
//! list, from lexical and semantic search, from a client's view and from
//! the vectors; each removal is audited; what is not due stays; and a
//! retention shorter than a minute or in the past is one line, nothing
//! changed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ctxvault_tests::{Env, assert_one_line_error};

fn ids(v: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i["id"]
                .as_str()
                .or(i["item"]["id"].as_str())
                .unwrap()
                .to_owned()
        })
        .collect();
    out.sort();
    out
}

/// Wait, watching `ls`, until `gone` is no longer listed.
fn wait_gone(env: &Env, gone: &str) {
    let start = Instant::now();
    while ids(&env.json(&["ls", "--json"])).iter().any(|i| i == gone) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "item {gone} was not removed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Wait until every item has a vector; how many there are.
fn embedded(env: &Env) -> u64 {
    let start = Instant::now();
    loop {
        let m = env.status()["model"].clone();
        if m["embedded"].is_u64() && m["embedded"] == m["items"] {
            return m["embedded"].as_u64().unwrap();
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "embedding stalled: {m}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn expired_items_go_from_everywhere_and_the_removal_is_audited() {
    let mut env = Env::new();
    let clock = env.tmp.path().join("clock");
    std::fs::write(&clock, "0").unwrap();
    env.vars.push((
        "CTXVAULT_TEST_CLOCK_FILE".into(),
        clock.display().to_string(),
    ));
    env.vars
        .push(("CTXVAULT_TEST_RETENTION_MS".into(), "50".into()));
    env.init().install_model();

    // Bad input: one line each, nothing stored or set.
    let e = env.fails(&["add", "--expires", "30s", "zqxshort lived"]);
    assert_one_line_error(&e, "less than a minute away");
    let e = env.fails(&["add", "--expires", "2020-01-01", "zqxpast"]);
    assert_one_line_error(&e, "in the past");
    let e = env.fails(&["retention", "set", "notes", "30s"]);
    assert_one_line_error(&e, "shorter than a minute");
    let e = env.fails(&["retention", "rm", "notes"]);
    assert_one_line_error(&e, "no retention on notes");
    assert_eq!(env.json(&["ls", "--json"]), serde_json::json!([]));
    assert_eq!(
        env.json(&["retention", "ls", "--json"]),
        serde_json::json!([])
    );

    let ticket = env.add(&[
        "--ns",
        "travel",
        "--expires",
        "10m",
        "zqxticket the boarding pass for the Lisbon flight",
    ]);
    let chat = env.add(&[
        "--ns",
        "history/chats",
        "zqxchat we talked about the garden shed",
    ]);
    let kept = env.add(&["--ns", "notes", "zqxkept my bicycle is blue"]);
    env.ok(&["retention", "set", "history/**", "1h"]);
    let listed = env.json(&["retention", "ls", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    let token = env.json(&["client", "add", "app", "--json"])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!token.is_empty());
    env.ok(&["grant", "app", "**"]);
    assert_eq!(embedded(&env), 3);
    let found = |q: &str, mode: &str| ids(&env.json(&["search", q, "--mode", mode, "--json"]));
    assert_eq!(found("zqxticket", "lexical"), std::slice::from_ref(&ticket));
    assert!(found("boarding pass for a plane", "semantic").contains(&ticket));

    // Eleven minutes on: the ticket goes, by the agent's own sweep.
    std::fs::write(&clock, "660").unwrap();
    wait_gone(&env, &ticket);
    let left = ids(&env.json(&["ls", "--json"]));
    let mut want = vec![chat.clone(), kept.clone()];
    want.sort();
    assert_eq!(left, want);
    assert_eq!(found("zqxticket", "lexical"), Vec::<String>::new());
    assert!(!found("boarding pass for a plane", "semantic").contains(&ticket));
    let as_app = ids(&env.json(&["search", "zqxticket", "--as", "app", "--json"]));
    assert!(!as_app.contains(&ticket), "{as_app:?}");
    assert_eq!(embedded(&env), 2, "its vector went with it");
    assert_eq!(
        env.json(&["retention", "ls", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Past the hour: the chat goes too; the note stays.
    std::fs::write(&clock, "4000").unwrap();
    wait_gone(&env, &chat);
    assert_eq!(
        ids(&env.json(&["ls", "--json"])),
        std::slice::from_ref(&kept)
    );
    assert_eq!(embedded(&env), 1);

    // Each removal is its own audit entry naming the item.
    let trail = env.json(&["audit", "--json"]);
    let removed: Vec<Vec<String>> = trail
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "retention-remove")
        .map(|e| {
            e["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_str().unwrap().to_owned())
                .collect()
        })
        .collect();
    assert_eq!(removed, [vec![ticket], vec![chat]]);
    env.ok(&["audit", "verify"]);

    // What ran out while locked goes at unlock, before any read.
    let late = env.add(&["--ns", "history/chats", "zqxlate another chat"]);
    env.ok(&["lock"]);
    std::fs::write(&clock, "9000").unwrap();
    env.ok(&["unlock"]);
    assert_eq!(ids(&env.json(&["ls", "--json"])), [kept]);
    assert!(!trail.to_string().contains(&late));
}
