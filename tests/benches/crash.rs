//! Crash trial: `CTXVAULT_CRASH_CYCLES` (default 1000) kill -9 of the agent
//! while a writer adds items back to back through the CLI (which restarts
//! and unlocks the agent after each kill, and resends an interrupted add
//! with its idempotency key). Then: `PRAGMA integrity_check`, the audit
//! chain, every acknowledged write present, none stored twice. Prints the
//! figures; panics if a check fails.
//!
//! Run: `cargo build --release -p ctxvault && cargo bench -p ctxvault-tests --bench crash`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Instant;

use ctxvault_tests::{Env, PASS};
use sqlx::Connection;

fn main() {
    let cycles: u32 = std::env::var("CTXVAULT_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let env = Arc::new(Env::new());
    env.init();
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicU64::new(0));
    let (acked_tx, acked_rx) = mpsc::channel::<(String, String)>();
    let writer = {
        let (env, stop, failed) = (env.clone(), stop.clone(), failed.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let body = format!("crash write {n}");
                n += 1;
                let out = env
                    .cmd(&["add", "--ns", "crash", &body])
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
                } else {
                    failed.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
    };
    let mut acked = Vec::new();
    let mut kills = 0;
    while kills < cycles {
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
    let elapsed = started.elapsed();

    let items = env.json(&["ls", "--ns", "crash", "--json"]);
    let mut stored: HashMap<String, String> = HashMap::new();
    let mut twice = 0;
    for i in items.as_array().unwrap() {
        let body = i["body"].as_str().unwrap().to_owned();
        if stored.values().any(|b| *b == body) {
            twice += 1;
        }
        stored.insert(i["id"].as_str().unwrap().to_owned(), body);
    }
    let lost = acked
        .iter()
        .filter(|(id, body)| stored.get(id) != Some(body))
        .count();
    let audit = env.ok(&["audit", "verify"]);
    env.ok(&["stop"]);
    let integrity: String = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let url = format!("sqlite://{}?mode=ro", env.db().display());
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&mut c)
            .await
            .unwrap()
    });
    println!(
        "crash trial: {kills} kill -9 in {:.0} s; {} writes acknowledged, {} refused or cut off (not acknowledged); {} stored; lost {lost}; stored twice {twice}; integrity_check {integrity}; {}",
        elapsed.as_secs_f64(),
        acked.len(),
        failed.load(Ordering::SeqCst),
        stored.len(),
        audit.trim()
    );
    assert_eq!(lost, 0, "acknowledged writes lost");
    assert_eq!(twice, 0, "writes stored twice");
    assert_eq!(integrity, "ok");
    assert!(audit.contains("intact"));
}
