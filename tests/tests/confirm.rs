//! Confirm before read, end to end: a grant made with `--confirm` makes a
//! read of what only it allows wait for the user's yes. The official MCP
//! Python SDK's elicitation callback answers in the app (yes and no, over
//! stdio and HTTP); a client without elicitation waits for `ctxvault
//! confirm` (yes, no, and no answer in time); without a yes the client
//! gets exactly what a client without that grant gets; a remembered yes
//! asks no more; every question and answer is on the record.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{add_client, call, json};
use ctxvault_tests::{Env, bin};
use serde_json::json;

/// The SDK script's findings, its elicitation answering `answer`.
fn sdk(env: &Env, client: &str, token: &str, answer: &str, url: Option<&str>) -> serde_json::Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/confirm_sdk_client.py"
    );
    let binary = bin();
    let mut args = vec![script, binary.to_str().unwrap(), client, answer, "zqxtax"];
    args.extend(url);
    ctxvault_tests::python_client(env, token, &args)
}

/// Wait for one question to wait; its id.
fn question(env: &Env) -> String {
    let start = Instant::now();
    loop {
        let list = env.json(&["confirm", "--json"]);
        if let Some(q) = list.as_array().unwrap().first() {
            assert_eq!(q["in_app"], false, "{q}");
            return q["id"].as_str().unwrap().to_owned();
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no question came"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn confirms(env: &Env, client: &str) -> Vec<String> {
    common::audit_of(env, client)
        .iter()
        .filter(|e| e["action"] == "confirm")
        .map(|e| e["detail"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_wait_for_the_users_yes() {
    let mut env = Env::new();
    env.vars
        .push(("CTXVAULT_TEST_CONFIRM_MS".into(), "4000".into()));
    env.init();
    env.add(&["--ns", "work", "zqxtax the team lunch receipts"]);
    env.add(&["--ns", "tax", "zqxtax the 2025 return, refund of 812 euros"]);
    let app = add_client(&env, "app");
    let plain = add_client(&env, "plain");
    let reference = add_client(&env, "reference");
    for c in ["app", "plain", "reference"] {
        env.ok(&["grant", c, "work"]);
    }
    env.ok(&["grant", "app", "tax", "--confirm"]);
    env.ok(&["grant", "plain", "tax", "--confirm"]);
    let rules = env.json(&["grants", "app", "--json"]);
    assert!(rules.to_string().contains("\"confirm\":{"), "{rules}");
    let agent = env.http_agent();
    let r = common::http(&agent.url, &reference).await;
    let without = json(&call(&r, "search_context", json!({"query": "zqxtax"})).await);
    assert_eq!(without.as_array().unwrap().len(), 1);

    // In the app, through the SDK's elicitation, over stdio and HTTP.
    for url in [None, Some(agent.url.as_str())] {
        let yes = sdk(&env, "app", &app, "yes", url);
        assert_eq!(yes["asked"].as_array().unwrap().len(), 1, "{yes}");
        let message = yes["asked"][0]["message"].as_str().unwrap();
        assert!(
            message.contains("app") && message.contains("tax"),
            "{message}"
        );
        assert!(
            !message.contains("812"),
            "the question holds no content: {message}"
        );
        assert_eq!(yes["search"].as_array().unwrap().len(), 2, "{yes}");
        let no = sdk(&env, "app", &app, "no", url);
        assert_eq!(no["asked"].as_array().unwrap().len(), 1);
        assert_eq!(
            no["search"], without,
            "a no reads as if the tax items were absent"
        );
    }
    assert_eq!(
        confirms(&env, "app"),
        [
            "1 item(s) under tax: yes (in the app)",
            "1 item(s) under tax: no (in the app)",
            "1 item(s) under tax: yes (in the app)",
            "1 item(s) under tax: no (in the app)",
        ]
    );

    // A client without elicitation waits for `ctxvault confirm`.
    let s = common::http(&agent.url, &plain).await;
    let search = |s: common::Session| async move {
        let hits = json(&call(&s, "search_context", json!({"query": "zqxtax"})).await);
        (s, hits)
    };
    let waiting = tokio::spawn(search(s));
    let id = question(&env);
    let e = env.fails(&["confirm", &id]);
    assert!(e.contains("--yes or --no"), "{e}");
    env.ok(&["confirm", &id.replace('-', "")[24..], "--yes"]);
    let (s, hits) = waiting.await.unwrap();
    assert_eq!(hits.as_array().unwrap().len(), 2);
    let waiting = tokio::spawn(search(s));
    let id = question(&env);
    env.ok(&["confirm", &id, "--no"]);
    let (s, hits) = waiting.await.unwrap();
    assert_eq!(hits, without);
    // No answer in time is a no.
    let started = Instant::now();
    let (_s, hits) = search(s).await;
    assert!(started.elapsed() >= Duration::from_millis(3900));
    assert_eq!(hits, without);
    assert_eq!(env.json(&["confirm", "--json"]), json!([]));
    let e = env.fails(&["confirm", "00000000", "--yes"]);
    assert!(e.contains("no question \"00000000\" waits"), "{e}");
    assert_eq!(
        confirms(&env, "plain"),
        [
            "1 item(s) under tax: yes (with `ctxvault confirm` or the console)",
            "1 item(s) under tax: no (with `ctxvault confirm` or the console)",
            "1 item(s) under tax: no answer within 4 s: no (with `ctxvault confirm` or the console)",
        ]
    );

    // A yes remembered for an hour asks no more.
    let once = add_client(&env, "once");
    env.ok(&[
        "grant",
        "once",
        "tax",
        "--confirm",
        "--confirm-once-per",
        "1h",
    ]);
    let s = common::http(&agent.url, &once).await;
    let waiting = tokio::spawn(search(s));
    let id = question(&env);
    env.ok(&["confirm", &id, "--yes"]);
    let (s, hits) = waiting.await.unwrap();
    assert_eq!(hits.as_array().unwrap().len(), 1);
    let (_s, hits) = search(s).await;
    assert_eq!(hits.as_array().unwrap().len(), 1, "asked no more");
    assert_eq!(confirms(&env, "once").len(), 1);
    let access = env.json(&["access", "once", "--json"]);
    assert!(
        access["summary"]
            .as_str()
            .unwrap()
            .contains("Reads of tax wait for the user's yes"),
        "{access}"
    );
}
