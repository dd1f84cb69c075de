//! 32 concurrent MCP sessions, mixed clients over both transports, 200
//! calls each: no error, no cross-client leak, exactly one audit entry per
//! call.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{Transport, add_client, audit_of, call, connect, json};
use ctxvault_tests::Env;
use serde_json::json;

const SESSIONS: usize = 32;
const CALLS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_sessions_two_hundred_calls_each() {
    let env = Env::new();
    env.init();
    // Four areas, each with items every client's query matches.
    let areas = ["work", "health", "finance", "profile"];
    let mut by_area: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for area in areas {
        for i in 0..5 {
            let id = env.add(&["--ns", area, &format!("common word orbit {area} note {i}")]);
            by_area.entry(area).or_default().insert(id);
        }
    }
    let agent = env.http_agent();
    // Four clients: each reads a different pair of areas.
    let clients = [
        ("c-work", vec!["work", "profile"]),
        ("c-health", vec!["health"]),
        ("c-money", vec!["finance", "work"]),
        ("c-none", vec![]),
    ];
    let mut tokens = BTreeMap::new();
    let mut allowed: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (name, grants) in &clients {
        tokens.insert(*name, add_client(&env, name));
        let set = allowed.entry(*name).or_default();
        for g in grants {
            env.ok(&["grant", name, &format!("{g}/**")]);
            set.extend(by_area[g].iter().cloned());
        }
    }
    let every_id: Vec<String> = by_area.values().flatten().cloned().collect();

    let mut tasks = Vec::new();
    for n in 0..SESSIONS {
        let (name, _) = &clients[n % clients.len()];
        let name = name.to_string();
        let token = tokens[name.as_str()].clone();
        let mine = allowed[name.as_str()].clone();
        let transport = if n % 2 == 0 {
            Transport::Stdio
        } else {
            Transport::Http
        };
        let s = connect(transport, &env, &agent.url, &name, &token).await;
        let every_id = every_id.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..CALLS {
                match i % 4 {
                    0 => {
                        let hits = json(
                            &call(&s, "search_context", json!({"query": "orbit", "limit": 50}))
                                .await,
                        );
                        let got: BTreeSet<String> = hits
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|h| h["id"].as_str().unwrap().to_owned())
                            .collect();
                        assert_eq!(got, mine, "{name} over {transport:?}");
                    }
                    1 => {
                        let id = &every_id[(n + i) % every_id.len()];
                        let r = call(&s, "get_context", json!({"id": id})).await;
                        if mine.contains(id) {
                            assert_eq!(json(&r)["id"], id.as_str());
                        } else {
                            assert_eq!(r.is_error, Some(true), "{name} read {id}");
                        }
                    }
                    2 => {
                        let ns = json(&call(&s, "list_namespaces", json!({})).await);
                        let total: u64 = ns
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|n| n["items"].as_u64().unwrap())
                            .sum();
                        assert_eq!(total as usize, mine.len());
                    }
                    _ => {
                        let a = json(&call(&s, "describe_access", json!({})).await);
                        assert_eq!(a["client"], name.as_str());
                    }
                }
            }
            s.cancel().await.unwrap();
            (name, transport)
        }));
    }
    let mut per_client: BTreeMap<String, usize> = BTreeMap::new();
    let mut transports = BTreeSet::new();
    for t in tasks {
        let (name, transport) = t.await.expect("session task");
        *per_client.entry(name).or_default() += CALLS;
        transports.insert(format!("{transport:?}"));
    }
    assert_eq!(transports.len(), 2);
    for (name, calls) in &per_client {
        let audit = audit_of(&env, name);
        assert_eq!(audit.len(), *calls, "{name}: one audit entry per call");
        let mine = &allowed[name.as_str()];
        for e in &audit {
            for id in e["ids"].as_array().unwrap() {
                assert!(mine.contains(id.as_str().unwrap()), "{name} leak in {e}");
            }
        }
    }
    env.ok(&["audit", "verify"]);
}

/// SIGKILL the agent while sessions make calls: every call that got an
/// answer has its audit entry after the restart (entries are committed
/// before answers leave), and the chain verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn answered_calls_survive_kill_9() {
    let env = Env::new();
    env.init();
    env.add(&["--ns", "work", "orbit plan"]);
    let agent = env.http_agent();
    let mut tokens = Vec::new();
    for name in ["k-one", "k-two", "k-three", "k-four"] {
        tokens.push((name, add_client(&env, name)));
        env.ok(&["grant", name, "work/**"]);
    }
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Told once the agent is dead: a call to a dead HTTP server may wait for
    // it indefinitely, so sessions stop on this rather than on an error.
    let (killed_tx, killed_rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for (i, (name, token)) in tokens.iter().enumerate() {
        let transport = if i % 2 == 0 {
            Transport::Stdio
        } else {
            Transport::Http
        };
        let s = connect(transport, &env, &agent.url, name, token).await;
        let answered = answered.clone();
        let name = name.to_string();
        let mut killed = killed_rx.clone();
        tasks.push(tokio::spawn(async move {
            let mut ok = 0usize;
            loop {
                let mut p = rmcp::model::CallToolRequestParams::new("search_context");
                p = p.with_arguments(json!({"query": "orbit"}).as_object().unwrap().clone());
                let result = tokio::select! {
                    biased;
                    r = s.call_tool(p) => r,
                    _ = killed.wait_for(|k| *k) => break,
                };
                match result {
                    Ok(r) if r.is_error != Some(true) => {
                        ok += 1;
                        answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    // The agent is gone: a tool error (stdio) or a transport
                    // error (HTTP). Stop counting.
                    _ => break,
                }
            }
            drop(s);
            (name, ok)
        }));
    }
    // Kill once the sessions are well under way.
    while answered.load(std::sync::atomic::Ordering::SeqCst) < 200 {
        tokio::task::yield_now().await;
    }
    agent.kill9();
    killed_tx.send(true).unwrap();
    let mut per_client = Vec::new();
    for t in tasks {
        per_client.push(t.await.unwrap());
    }
    // Whichever agent serves next (a stdio bridge may already have brought
    // one back for its session), the answered calls are on record.
    for (name, ok) in per_client {
        let entries = audit_of(&env, &name).len();
        assert!(
            entries >= ok,
            "{name}: {ok} answered calls but {entries} audit entries"
        );
    }
    env.ok(&["audit", "verify"]);
}
