//! Write-back: `remember` for propose and write clients, the pending queue
//! (`pending`, `approve`, `reject`), scope, size and rate limits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{add_client, audit_of, call, json, text, tool_names};
use ctxvault_tests::{Env, assert_one_line_error};
use serde_json::json;

fn found(s: &serde_json::Value) -> usize {
    s.as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remember_proposes_or_writes_within_scope() {
    let env = Env::new();
    env.init();
    let existing = env.add(&["--ns", "work/acme", "Biscuit budget line, untouched"]);
    let agent = env.http_agent();
    let proposer = add_client(&env, "proposer");
    let writer = add_client(&env, "writer");
    let reader = add_client(&env, "reader");
    env.ok(&["grant", "proposer", "notes/**", "--allow", "read,propose"]);
    env.ok(&["grant", "writer", "work/**", "--allow", "read,write"]);
    env.ok(&["grant", "reader", "**"]);
    let sp = common::stdio(&env, "proposer", &proposer).await;
    let sw = common::http(&agent.url, &writer).await;
    let sr = common::http(&agent.url, &reader).await;

    // Only clients holding propose or write see the tool.
    assert!(tool_names(&sp).await.contains(&"remember".to_owned()));
    assert!(tool_names(&sw).await.contains(&"remember".to_owned()));
    assert!(!tool_names(&sr).await.contains(&"remember".to_owned()));
    let r = call(
        &sr,
        "remember",
        json!({"content": "x", "namespace": "notes"}),
    )
    .await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("outside what you may write or propose"));

    // A proposal waits, seen by no client.
    let p = json(
        &call(
            &sp,
            "remember",
            json!({"content": "Ada's dog is called Biscuit", "namespace": "notes", "tags": ["pets"], "title": "Dog"}),
        )
        .await,
    );
    assert_eq!(p["status"], "pending");
    assert_eq!(p["namespace"], "notes");
    let pid = p["id"].as_str().unwrap().to_owned();
    for s in [&sp, &sw, &sr] {
        let hits = json(&call(s, "search_context", json!({"query": "dog"})).await);
        assert_eq!(found(&hits), 0, "{hits}");
    }
    let r = call(&sr, "get_context", json!({"id": pid})).await;
    assert_eq!(text(&r), format!("no item {pid}"));
    assert!(!env.ok(&["search", "dog"]).contains("Biscuit"));
    let pending = env.json(&["pending", "--json"]);
    assert_eq!(found(&pending), 1);
    assert_eq!(env.status()["pending"], 1);
    assert!(
        env.ok(&["status"])
            .contains("1 proposal(s) from clients wait")
    );
    assert_eq!(pending[0]["id"], pid.as_str());
    assert_eq!(pending[0]["client"], "proposer");
    assert_eq!(pending[0]["namespace"], "notes");
    assert_eq!(pending[0]["body"], "Ada's dog is called Biscuit");
    assert!(env.ok(&["pending"]).contains("Ada's dog is called Biscuit"));

    // Outside the proposer's scope: refused, nothing queued.
    let r = call(
        &sp,
        "remember",
        json!({"content": "x", "namespace": "health"}),
    )
    .await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("health is outside"), "{}", text(&r));

    // Approve: stored with the client as its source, now visible.
    let out = env.ok(&["approve", &pid]);
    assert!(out.contains("stored"), "{out}");
    let hits = json(&call(&sr, "search_context", json!({"query": "dog"})).await);
    assert_eq!(found(&hits), 1);
    let item = json(&call(&sr, "get_context", json!({"id": hits[0]["id"]})).await);
    assert_eq!(item["source"], "approved:proposer");
    assert_eq!(item["namespace"], "notes");
    assert_eq!(item["title"], "Dog");
    assert_eq!(item["tags"], json!(["pets"]));
    assert_eq!(found(&env.json(&["pending", "--json"])), 0);

    // Reject drops one; approve --ns stores elsewhere.
    let q = json(
        &call(
            &sp,
            "remember",
            json!({"content": "Likes long walks", "namespace": "notes"}),
        )
        .await,
    );
    env.ok(&["reject", q["id"].as_str().unwrap()]);
    let q2 = json(
        &call(
            &sp,
            "remember",
            json!({"content": "Walks at dawn", "namespace": "notes"}),
        )
        .await,
    );
    env.ok(&["approve", q2["id"].as_str().unwrap(), "--ns", "profile"]);
    let hits = json(&call(&sr, "search_context", json!({"query": "walks"})).await);
    assert_eq!(found(&hits), 1, "the rejected one is gone: {hits}");
    assert_eq!(hits[0]["namespace"], "profile");
    let err = env.fails(&["approve", &pid]);
    assert_one_line_error(&err, "no proposal");
    let err = env.fails(&["reject", "nope"]);
    assert_one_line_error(&err, "malformed id");

    // A write client stores at once, inside its scope only, never over an
    // existing item.
    let w = json(
        &call(
            &sw,
            "remember",
            json!({"content": "Biscuit launch moved to May", "namespace": "work/acme", "kind": "fact"}),
        )
        .await,
    );
    assert_eq!(w["status"], "stored");
    let item = json(&call(&sr, "get_context", json!({"id": w["id"]})).await);
    assert_eq!(item["source"], "client:writer");
    assert_eq!(item["kind"], "fact");
    let old = json(&call(&sr, "get_context", json!({"id": existing})).await);
    assert_eq!(old["body"], "Biscuit budget line, untouched");
    assert_eq!(old["version"], 1);
    let r = call(
        &sw,
        "remember",
        json!({"content": "x", "namespace": "notes"}),
    )
    .await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("notes is outside"));
    let r = call(&sw, "remember", json!({"content": "y"})).await;
    assert!(
        text(&r).contains("inbox is outside"),
        "the default namespace is inbox"
    );

    // Size limit.
    let big = "a".repeat(16 * 1024 + 1);
    let r = call(
        &sw,
        "remember",
        json!({"content": big, "namespace": "work"}),
    )
    .await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("over the 16 KiB limit"), "{}", text(&r));

    // Rate limit: 30 stored a minute (one is stored already).
    for i in 1..30 {
        let r = json(
            &call(
                &sw,
                "remember",
                json!({"content": format!("fact {i}"), "namespace": "work"}),
            )
            .await,
        );
        assert_eq!(r["status"], "stored");
    }
    let r = call(
        &sw,
        "remember",
        json!({"content": "one more", "namespace": "work"}),
    )
    .await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("too many remember calls"), "{}", text(&r));

    for s in [sp, sw, sr] {
        s.cancel().await.unwrap();
    }
    // Every remember is on the record, refusals too.
    let rem = |c: &str| {
        audit_of(&env, c)
            .into_iter()
            .filter(|e| e["action"] == "remember")
            .collect::<Vec<_>>()
    };
    assert_eq!(rem("proposer").len(), 4);
    assert_eq!(rem("writer").len(), 34);
    assert_eq!(rem("reader").len(), 1);
    let refused = rem("writer")
        .iter()
        .filter(|e| e["detail"].as_str().unwrap_or("").starts_with("refused"))
        .count();
    assert_eq!(refused, 4);
    let user: Vec<String> = env
        .json(&["audit", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .filter(|a| a == "approve" || a == "reject")
        .collect();
    assert_eq!(user, ["approve", "reject", "approve"]);
    env.ok(&["audit", "verify"]);
}

#[test]
fn pending_needs_an_unlocked_vault() {
    let env = Env::new();
    env.init();
    assert_eq!(env.ok(&["pending"]).trim(), "nothing pending");
    env.ok(&["lock"]);
    let err = env.fails(&["pending"]);
    assert_one_line_error(&err, "locked");
}
