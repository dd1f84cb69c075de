//! Sync through a folder with the real binary and agents: the first
//! device's initial push of a user-shaped vault (many tags, ten grants for
//! three clients), a second device's join (items/s), the remote's size
//! against the vault's, and the time from `add` on one device to the item
//! being searchable on the other with automatic sync (default pull
//! interval), over 20 changes. Asserts nothing but success.
//!
//! Run: `cargo build --release -p ctxvault && cargo bench -p ctxvault-tests --bench sync`
//! (`CTXVAULT_BENCH_ITEMS` sets the vault's size, 100k by default).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use ctxvault_tests::Env;

mod corpus;

use corpus::{Shape, grant_ten, large_size, pct, populate, runtime};

fn size_of(dir: &Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let md = e.metadata().unwrap();
        n += if md.is_dir() {
            size_of(&e.path())
        } else {
            md.len()
        };
    }
    n
}

fn main() {
    let n = large_size();
    let a = Env::new();
    runtime().block_on(populate(&a, Shape::Users, n));
    a.ok(&["unlock"]);
    for c in ["claude", "cursor", "ollama"] {
        a.ok(&["client", "add", c]);
        grant_ten(&a, c);
    }
    let dir = a.tmp.path().join("remote");
    std::fs::create_dir(&dir).unwrap();
    let t = Instant::now();
    a.ok(&["sync", "add", "folder", dir.to_str().unwrap()]);
    let push = t.elapsed();
    println!(
        "sync/push  {n} items: {:.2} s, {:.0} items/s (log written, sealed, to the folder)",
        push.as_secs_f64(),
        n as f64 / push.as_secs_f64()
    );
    a.ok(&["stop"]);
    let vault = size_of(&a.vault);
    let remote = size_of(&dir);
    println!(
        "sync/size  vault {:.1} MB, remote {:.1} MB ({:.2}x the vault)",
        vault as f64 / 1e6,
        remote as f64 / 1e6,
        remote as f64 / vault as f64
    );

    let b = Env::new();
    let t = Instant::now();
    b.ok(&["sync", "join", "folder", dir.to_str().unwrap()]);
    let join = t.elapsed();
    let got = b.status()["items"].as_u64().unwrap();
    assert_eq!(got as usize, n);
    println!(
        "sync/join  {n} items: {:.2} s, {:.0} items/s (keys, every segment read, opened, applied and indexed)",
        join.as_secs_f64(),
        n as f64 / join.as_secs_f64()
    );

    // Both agents sync on their own (default intervals) from now on.
    a.ok(&["unlock"]);
    let mut lat = Vec::new();
    for k in 0..20 {
        let word = format!("latencyprobe{k}");
        let t = Instant::now();
        a.add(&["--ns", "notes", &word]);
        loop {
            let hits = b.json(&["search", &word, "--json"]);
            if !hits.as_array().unwrap().is_empty() {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "{word} never arrived"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        lat.push(t.elapsed());
    }
    lat.sort();
    println!(
        "sync/latency add on one device -> searchable on the other (folder, automatic sync): p50 {:.0} ms, max {:.0} ms",
        pct(&lat, 0.5).as_secs_f64() * 1e3,
        lat.last().unwrap().as_secs_f64() * 1e3
    );
}
