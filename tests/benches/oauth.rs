//! What an OAuth access token costs at the door: `search_context` over
//! HTTP for a static-token client and for a connector with the same grant,
//! in the same run, the calls interleaved, on a vault shaped like users'
//! (many tags and namespaces, mixed sensitivities). Prints figures;
//! asserts nothing but success.
//!
//! Run: `cargo build --release -p ctxvault && cargo bench -p ctxvault-tests --bench oauth`
//! (`CTXVAULT_BENCH_N` items, default 100000; `CTXVAULT_BENCH_RUNS` calls
//! per client, default 2000).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ctxvault_tests::Env;
use ctxvault_tests::oauth::{approved_code, exchange, free_port, register};
use serde_json::json;

#[path = "../tests/common/mod.rs"]
mod common;
mod corpus;

use corpus::{Shape, pct, queries, runtime, shapes};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn env_n(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run(shape: Shape) {
    let n = env_n("CTXVAULT_BENCH_N", 100_000);
    let runs = env_n("CTXVAULT_BENCH_RUNS", 2000);
    let env = Env::new();
    let vocab = corpus::populate(&env, shape, n).await;
    let addr = format!("127.0.0.1:{}", free_port());
    let public = format!("http://{addr}");
    let agent = env.http_agent_with(&["--http", &addr, "--public-url", &public]);
    // The same grant for both: one static token, one connector.
    let token = common::add_client(&env, "bench");
    env.ok(&["grant", "bench", "**", "--max-sensitivity", "secret"]);
    let id = register(&addr, "Bench Assistant");
    let code = approved_code(
        &env,
        &addr,
        &id,
        &agent.url,
        &["--grant", "**", "--max-sensitivity", "secret"],
    );
    let (status, t) = exchange(&addr, &id, &code);
    assert_eq!(status, 200, "{t}");
    let access = t["access_token"].as_str().unwrap().to_owned();
    let sessions = [
        ("static token", common::http(&agent.url, &token).await),
        ("OAuth token", common::http(&agent.url, &access).await),
    ];
    let qs = queries(&vocab, runs, 11);
    let mut lat: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    for (i, q) in qs.iter().enumerate() {
        // Alternate which goes first, so neither always meets a warm cache.
        for k in [i % 2, 1 - i % 2] {
            let t0 = Instant::now();
            let r = common::call(&sessions[k].1, "search_context", json!({ "query": q })).await;
            let took = t0.elapsed();
            assert_ne!(r.is_error, Some(true));
            if i >= 50 {
                lat[k].push(took);
            }
        }
    }
    let mut p50 = [0.0; 2];
    for (k, l) in lat.iter_mut().enumerate() {
        l.sort();
        p50[k] = ms(pct(l, 0.5));
        println!(
            "{n:>7} items {:<5}  search_context over HTTP, {}: p50 {:.3} ms p99 {:.3} ms ({} calls)",
            shape.name(),
            sessions[k].0,
            p50[k],
            ms(pct(l, 0.99)),
            l.len()
        );
    }
    println!(
        "{n:>7} items {:<5}  OAuth token validation adds {:.3} ms at p50",
        shape.name(),
        p50[1] - p50[0]
    );
    for (_, s) in sessions {
        s.cancel().await.unwrap();
    }
    drop(agent);
}

fn main() {
    let rt = runtime();
    for shape in shapes() {
        rt.block_on(run(shape));
    }
}
