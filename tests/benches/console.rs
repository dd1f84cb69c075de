//! Web console benchmark through the real binary and agent: the time to
//! answer the overview and an audit page of 1,000 entries, at 100k items
//! shaped like users' vaults (many tags and namespaces, mixed
//! sensitivities), with clients of different grants, measured from a
//! keep-alive connection on loopback (the HTTP round trip included).
//! Prints figures; asserts nothing but success.
//!
//! Run: `cargo build --release -p ctxvault && cargo bench -p ctxvault-tests --bench console`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use axum::body::Bytes;
use ctxvault_tests::Env;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

#[path = "../tests/common/mod.rs"]
mod common;
mod corpus;

use corpus::{Shape, pct, queries, runtime, shapes};

const ENTRIES: usize = 1000;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn connect(addr: &str) -> SendRequest<Empty<Bytes>> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

/// GET `path`: status, `set-cookie`, body length and time taken.
async fn get(
    s: &mut SendRequest<Empty<Bytes>>,
    addr: &str,
    path: &str,
    cookie: &str,
) -> (u16, Option<String>, usize, Duration) {
    let req = hyper::Request::get(path)
        .header("host", addr)
        .header("cookie", cookie)
        .body(Empty::new())
        .unwrap();
    s.ready().await.unwrap();
    let t0 = Instant::now();
    let res = s.send_request(req).await.unwrap();
    let status = res.status().as_u16();
    let set = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().to_owned());
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, set, body.len(), t0.elapsed())
}

async fn run(shape: Shape) {
    // Items (CTXVAULT_BENCH_N, default 100,000).
    #[allow(non_snake_case)]
    let N: usize = std::env::var("CTXVAULT_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    // Loads per page (CTXVAULT_BENCH_RUNS, default 200).
    let runs: usize = std::env::var("CTXVAULT_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let env = Env::new();
    let vocab = corpus::populate(&env, shape, N).await;
    let agent = env.http_agent();
    let all = common::add_client(&env, "bench");
    env.ok(&["grant", "bench", "**", "--max-sensitivity", "secret"]);
    common::add_client(&env, "scoped");
    corpus::grant_ten(&env, "scoped");
    env.ok(&["grant", "scoped", "travel/**", "--expires", "3d"]);
    // 1,000 audit entries: a client's searches over MCP.
    let session = common::http(&agent.url, &all).await;
    for q in queries(&vocab, ENTRIES, 5) {
        common::call(
            &session,
            "search_context",
            serde_json::json!({ "query": q, "limit": 5 }),
        )
        .await;
    }
    let link = env.json(&["console", "--no-browser", "--json"]);
    let base = link["url"].as_str().unwrap();
    let addr = base.trim_start_matches("http://").to_owned();
    let login = link["login"].as_str().unwrap().trim_start_matches(base);
    let mut c = connect(&addr).await;
    let (status, cookie, _, _) = get(&mut c, &addr, login, "").await;
    assert_eq!(status, 303);
    let cookie = cookie.unwrap();
    for (page, path) in [("overview", "/"), ("audit, 1,000 entries", "/audit")] {
        let mut times = Vec::with_capacity(runs);
        let mut size = 0;
        for i in 0..runs + 10 {
            let (status, _, len, t) = get(&mut c, &addr, path, &cookie).await;
            assert_eq!(status, 200);
            size = len;
            if i >= 10 {
                times.push(t);
            }
        }
        times.sort();
        println!(
            "{N:>7} items {:<5}  console {page}: p50 {:.2} ms p99 {:.2} ms ({} kB page, {runs} loads)",
            shape.name(),
            ms(pct(&times, 0.5)),
            ms(pct(&times, 0.99)),
            size / 1024,
        );
    }
}

fn main() {
    let rt = runtime();
    for shape in shapes() {
        rt.block_on(run(shape));
    }
}
