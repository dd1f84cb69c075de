//! Nothing acknowledged is lost: SIGKILL right after `add`, and 50 kills
//! during writes, followed by `PRAGMA integrity_check`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;

use ctxvault_tests::{Env, PASS};

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
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, mpsc};

    let env = Arc::new(Env::new());
    env.init();
    // A writer adds items back to back; every acknowledged one is reported.
    // The writer restarts (and auto-unlocks) the agent after each kill.
    let stop = Arc::new(AtomicBool::new(false));
    let (acked_tx, acked_rx) = mpsc::channel::<(String, String)>();
    let writer = {
        let (env, stop) = (env.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(Ordering::SeqCst) {
                let body = format!("write {n}");
                n += 1;
                let out = env
                    .cmd(&["add", "--ns", "durability", &body])
                    .env("CTXVAULT_PASSPHRASE", PASS)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .output()
                    .unwrap();
                if out.status.success() {
                    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                    if acked_tx.send((id, body)).is_err() {
                        return;
                    }
                }
            }
        })
    };
    let mut acked: Vec<(String, String)> = Vec::new();
    let mut kills = 0;
    while kills < 50 {
        // Let a few writes through, then kill the agent wherever the writer is.
        for _ in 0..(1 + kills % 3) {
            acked.push(acked_rx.recv().unwrap());
        }
        if env.sigkill_agent() {
            kills += 1;
        }
    }
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    acked.extend(acked_rx.try_iter());

    let items = env.json(&["ls", "--ns", "durability", "--json"]);
    let bodies: std::collections::HashMap<&str, &str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["id"].as_str().unwrap(), i["body"].as_str().unwrap()))
        .collect();
    // A write the CLI retried after a kill is stored once (its idempotency
    // key), never twice.
    let mut seen = std::collections::HashSet::new();
    for b in bodies.values() {
        assert!(seen.insert(*b), "{b:?} stored twice");
    }
    for (id, body) in &acked {
        assert_eq!(
            bodies.get(id.as_str()),
            Some(&body.as_str()),
            "acknowledged item {id} lost"
        );
    }
    assert!(
        acked.len() >= 50,
        "only {} writes acknowledged over 50 kills",
        acked.len()
    );
    env.ok(&["stop"]);
    env.assert_integrity();
}
