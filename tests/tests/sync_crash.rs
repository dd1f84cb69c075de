//! Kill -9 during sync: two devices sync through a folder on their own,
//! all the time, while both take writes; their agents are killed 50 times
//! wherever they are. No acknowledged change is lost, none is applied
//! twice, both stores pass `integrity_check`, and the next sync completes
//! with both devices holding the same items.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

use ctxvault_tests::{Env, PASS};

fn device() -> Env {
    let mut e = Env::new();
    // Sync constantly, so kills land inside rounds.
    e.vars.push(("CTXVAULT_SYNC_PULL_MS".into(), "20".into()));
    e.vars
        .push(("CTXVAULT_TEST_SYNC_TICK_MS".into(), "10".into()));
    e
}

/// id -> (version, body) of every item.
fn items(env: &Env) -> HashMap<String, (u64, String)> {
    env.json(&["ls", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_owned(),
                (
                    i["version"].as_u64().unwrap(),
                    i["body"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect()
}

/// Add items to `env` back to back until stopped; report each acknowledged.
fn writer(
    env: Arc<Env>,
    tag: &'static str,
    stop: Arc<AtomicBool>,
    acked: mpsc::Sender<(String, String)>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut n = 0u32;
        while !stop.load(Ordering::SeqCst) {
            let body = format!("{tag} write {n}");
            n += 1;
            let out = env
                .cmd(&["add", "--ns", "sync", &body])
                .env("CTXVAULT_PASSPHRASE", PASS)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .output()
                .unwrap();
            if out.status.success() {
                let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                if acked.send((id, body)).is_err() {
                    return;
                }
            }
        }
    })
}

#[test]
fn fifty_kills_during_sync_lose_nothing_and_apply_nothing_twice() {
    let a = Arc::new(device());
    a.init();
    let dir = a.tmp.path().join("remote");
    std::fs::create_dir(&dir).unwrap();
    a.ok(&["sync", "add", "folder", dir.to_str().unwrap()]);
    let b = Arc::new(device());
    b.ok(&["sync", "join", "folder", dir.to_str().unwrap()]);

    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let writers = [
        writer(a.clone(), "a", stop.clone(), tx.clone()),
        writer(b.clone(), "b", stop.clone(), tx),
    ];
    let mut acked = Vec::new();
    let mut kills = 0;
    while kills < 50 {
        for _ in 0..(1 + kills % 3) {
            acked.push(rx.recv().unwrap());
        }
        let victim = if kills % 2 == 0 { &a } else { &b };
        if victim.sigkill_agent() {
            kills += 1;
        }
    }
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().unwrap();
    }
    acked.extend(rx.try_iter());

    // The next syncs complete (the agents restart and unlock on their own).
    for _ in 0..2 {
        for env in [&a, &b] {
            let out = env.ok(&["sync", "now"]);
            assert!(out.contains("synced"), "{out}");
        }
    }
    let (ia, ib) = (items(&a), items(&b));
    assert_eq!(ia, ib, "the devices differ after sync");
    let mut bodies = std::collections::HashSet::new();
    for (_, (version, body)) in ia.iter() {
        assert_eq!(*version, 1, "{body} changed though nobody edited it");
        assert!(bodies.insert(body.clone()), "{body:?} stored twice");
    }
    for (id, body) in &acked {
        assert_eq!(
            ia.get(id).map(|(_, b)| b.as_str()),
            Some(body.as_str()),
            "acknowledged item {id} lost"
        );
    }
    assert!(
        acked.len() >= 50,
        "only {} writes acknowledged",
        acked.len()
    );
    let st = a.json(&["sync", "status", "--json"]);
    assert!(st["blocked"].as_array().unwrap().is_empty(), "{st}");
    assert_eq!(st["pending"], 0, "{st}");
    for env in [&a, &b] {
        env.ok(&["stop"]);
        env.assert_integrity();
    }
}
