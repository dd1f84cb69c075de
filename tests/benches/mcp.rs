//! MCP benchmarks through the real binary and agent: cold start of
//! `ctxvault mcp` to the first tools/list answer, `search_context` latency
//! over stdio and over HTTP, and calls/s with 32 concurrent sessions.
//! Prints figures; asserts nothing but success.
//!
//! Run: `cargo build --release -p ctxvault && cargo bench -p ctxvault-tests --bench mcp`
//! (`CTXVAULT_BENCH_ITEMS` sets the large size, default 100000).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ctxvault_tests::Env;
use serde_json::json;

#[path = "../tests/common/mod.rs"]
mod common;
mod corpus;

use common::{Transport, call, connect};
use corpus::{Shape, large_size, pct, populate, queries, runtime, shapes};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn run(n: usize, shape: Shape, throughput: bool) {
    let lab = format!("{n:>7} items {:<5}", shape.name());
    let env = Env::new();
    let vocab = populate(&env, shape, n).await;
    let agent = env.http_agent();
    let token = common::add_client(&env, "bench");
    env.ok(&["grant", "bench", "**", "--max-sensitivity", "secret"]);
    // A client with ten grants (see `corpus::TEN_GRANTS`).
    let scoped = common::add_client(&env, "scoped");
    corpus::grant_ten(&env, "scoped");

    // Cold start: process start, initialize, tools/list.
    let mut cold = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let s = common::stdio(&env, "bench", &token).await;
        let tools = s.list_all_tools().await.unwrap();
        cold.push(t.elapsed());
        assert!(!tools.is_empty());
        s.cancel().await.unwrap();
    }
    cold.sort();
    println!(
        "{lab}  `ctxvault mcp` cold start to first tools/list (agent running, 20 runs): p50 {:.1} ms  min {:.1} ms  max {:.1} ms",
        ms(pct(&cold, 0.5)),
        ms(cold[0]),
        ms(cold[cold.len() - 1])
    );

    // Latency, one session per transport and client.
    let qs = queries(&vocab, 1000, 7);
    let clients = [
        ("bench", "granted everything", &token),
        ("scoped", "10 grants", &scoped),
    ];
    for ((client, grants, token), t) in clients
        .iter()
        .flat_map(|c| [(c, Transport::Stdio), (c, Transport::Http)])
    {
        let s = connect(t, &env, &agent.url, client, token).await;
        for q in qs.iter().take(50) {
            call(&s, "search_context", json!({"query": q})).await;
        }
        let mut lat = Vec::with_capacity(qs.len());
        for q in &qs {
            let t0 = Instant::now();
            let r = call(&s, "search_context", json!({"query": q})).await;
            lat.push(t0.elapsed());
            assert_ne!(r.is_error, Some(true));
        }
        lat.sort();
        println!(
            "{lab}  search_context over {t:?}, client {grants} (1000 calls, limit 10, audited): p50 {:.2} ms  p99 {:.2} ms",
            ms(pct(&lat, 0.5)),
            ms(pct(&lat, 0.99))
        );
        // The transport alone: tools/list reads no context and writes no
        // audit entry (one policy lookup in the agent).
        let mut bare = Vec::with_capacity(1000);
        for _ in 0..1000 {
            let t0 = Instant::now();
            s.list_all_tools().await.unwrap();
            bare.push(t0.elapsed());
        }
        bare.sort();
        println!(
            "{lab}  tools/list over {t:?}, client {grants} (1000 calls, no audit): p50 {:.2} ms  p99 {:.2} ms",
            ms(pct(&bare, 0.5)),
            ms(pct(&bare, 0.99))
        );
        s.cancel().await.unwrap();
    }

    if throughput {
        // 32 sessions, half per transport, 200 searches each.
        let mut sessions = Vec::new();
        for i in 0..32 {
            let t = if i % 2 == 0 {
                Transport::Stdio
            } else {
                Transport::Http
            };
            sessions.push(connect(t, &env, &agent.url, "bench", &token).await);
        }
        let start = Instant::now();
        let mut tasks = Vec::new();
        for (i, s) in sessions.into_iter().enumerate() {
            let qs: Vec<String> = qs.iter().skip(i * 7 % 500).take(200).cloned().collect();
            tasks.push(tokio::spawn(async move {
                for q in &qs {
                    let r = call(&s, "search_context", json!({"query": q})).await;
                    assert_ne!(r.is_error, Some(true));
                }
                s.cancel().await.unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let took = start.elapsed();
        println!(
            "{lab}  32 sessions (16 stdio, 16 HTTP) x 200 search_context: {:.0} calls/s ({:.2} s)",
            6400.0 / took.as_secs_f64(),
            took.as_secs_f64()
        );
    }
    drop(agent);
}

fn main() {
    let big = large_size();
    runtime().block_on(async {
        for shape in shapes() {
            run(10_000, shape, true).await;
            run(big, shape, true).await;
        }
    });
}
