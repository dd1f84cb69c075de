//! Provider proxy benchmark through the real binary and agent: the latency
//! the proxy adds to a request (context read and injection included)
//! against a local provider that answers at once, and the time to the first
//! streamed byte, direct and through the proxy. Vaults of 10k items in the
//! tidy and users shapes, a client granted everything and one with ten
//! grants. Prints figures; asserts nothing but success.
//!
//! Run: `cargo build --release -p ctxvault && cargo bench -p ctxvault-tests --bench proxy`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use axum::body::Bytes;
use ctxvault_tests::{Env, PASS};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

#[path = "../tests/common/mod.rs"]
mod common;
mod corpus;
#[path = "../tests/proxy_upstream/mod.rs"]
mod proxy_upstream;

use corpus::{Shape, pct, populate, queries, runtime, shapes};
use proxy_upstream::Upstream;

const N: usize = 10_000;
const CALLS: usize = 1000;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A keep-alive HTTP/1.1 connection to `addr`.
async fn connect(addr: &str) -> SendRequest<Full<Bytes>> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

/// One chat request: (time to the whole answer, time to its first body
/// bytes).
async fn chat(
    s: &mut SendRequest<Full<Bytes>>,
    host: &str,
    path: &str,
    token: &str,
    q: &str,
    stream: bool,
    mode: &str,
) -> (Duration, Duration) {
    let body = serde_json::json!({
        "model": "test-model",
        "stream": stream,
        "messages": [{"role": "user", "content": q}],
    })
    .to_string();
    let req = hyper::Request::post(path)
        .header("host", host)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("x-ctxvault-context", mode)
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    s.ready().await.unwrap();
    let t0 = Instant::now();
    let res = s.send_request(req).await.unwrap();
    assert_eq!(res.status(), 200);
    let mut body = res.into_body();
    let mut first = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.unwrap();
        if first.is_none() && frame.data_ref().is_some_and(|d| !d.is_empty()) {
            first = Some(t0.elapsed());
        }
    }
    let all = t0.elapsed();
    (all, first.unwrap_or(all))
}

async fn run(shape: Shape) {
    let lab = format!("{N:>7} items {:<5}", shape.name());
    let env = Env::new();
    let vocab = populate(&env, shape, N).await;
    let up = Upstream::start("bench").await;
    let out = env.run_with(
        &[
            "provider",
            "add",
            "local",
            "--kind",
            "openai",
            "--url",
            &format!("http://{}/v1", up.addr),
            "--key-stdin",
        ],
        Some(b"sk-bench-0000"),
        Some(PASS),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let all = common::add_client(&env, "bench");
    env.ok(&["grant", "bench", "**", "--max-sensitivity", "secret"]);
    let scoped = common::add_client(&env, "scoped");
    corpus::grant_ten(&env, "scoped");
    let _agent = env.http_agent_with(&["--proxy", "127.0.0.1:0"]);
    let proxy = env.status()["proxy"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://")
        .to_owned();
    let qs = queries(&vocab, CALLS, 11);
    for (client, grants, token) in [
        ("bench", "granted everything", &all),
        ("scoped", "10 grants", &scoped),
    ] {
        for stream in [false, true] {
            let mut direct = connect(&up.addr).await;
            let mut via = connect(&proxy).await;
            for q in qs.iter().take(50) {
                chat(
                    &mut direct,
                    &up.addr,
                    "/v1/chat/completions",
                    token,
                    q,
                    stream,
                    "full",
                )
                .await;
                chat(
                    &mut via,
                    &proxy,
                    "/v1/chat/completions",
                    token,
                    q,
                    stream,
                    "full",
                )
                .await;
            }
            let (mut d_all, mut d_first, mut p_all, mut p_first) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for q in &qs {
                let (a, f) = chat(
                    &mut direct,
                    &up.addr,
                    "/v1/chat/completions",
                    token,
                    q,
                    stream,
                    "full",
                )
                .await;
                d_all.push(a);
                d_first.push(f);
                let (a, f) = chat(
                    &mut via,
                    &proxy,
                    "/v1/chat/completions",
                    token,
                    q,
                    stream,
                    "full",
                )
                .await;
                p_all.push(a);
                p_first.push(f);
            }
            for v in [&mut d_all, &mut d_first, &mut p_all, &mut p_first] {
                v.sort();
            }
            let kind = if stream { "streamed" } else { "plain" };
            println!(
                "{lab}  proxy, client {grants} ({client}), {kind} chat ({CALLS} calls, context injected, audited): direct p50 {:.2} ms p99 {:.2} ms; through the proxy p50 {:.2} ms p99 {:.2} ms; added p50 {:.2} ms p99 {:.2} ms",
                ms(pct(&d_all, 0.5)),
                ms(pct(&d_all, 0.99)),
                ms(pct(&p_all, 0.5)),
                ms(pct(&p_all, 0.99)),
                ms(pct(&p_all, 0.5).saturating_sub(pct(&d_all, 0.5))),
                ms(pct(&p_all, 0.99).saturating_sub(pct(&d_all, 0.99))),
            );
            if stream {
                println!(
                    "{lab}  proxy, client {grants} ({client}), first streamed byte: direct p50 {:.2} ms; through the proxy p50 {:.2} ms p99 {:.2} ms; added p50 {:.2} ms",
                    ms(pct(&d_first, 0.5)),
                    ms(pct(&p_first, 0.5)),
                    ms(pct(&p_first, 0.99)),
                    ms(pct(&p_first, 0.5).saturating_sub(pct(&d_first, 0.5))),
                );
            }
        }
    }
    // Where the time goes: the proxy alone (no context), the profile only.
    for mode in ["off", "profile"] {
        let mut via = connect(&proxy).await;
        let mut lat = Vec::new();
        for q in &qs {
            lat.push(
                chat(
                    &mut via,
                    &proxy,
                    "/v1/chat/completions",
                    &all,
                    q,
                    false,
                    mode,
                )
                .await
                .0,
            );
        }
        lat.sort();
        println!(
            "{lab}  proxy, client granted everything, plain chat with context {mode} ({CALLS} calls): p50 {:.2} ms p99 {:.2} ms",
            ms(pct(&lat, 0.5)),
            ms(pct(&lat, 0.99))
        );
    }
    let injected = up.received().len();
    assert!(
        injected >= 4 * (CALLS + 50),
        "every request reached the provider"
    );
}

fn main() {
    runtime().block_on(async {
        for shape in shapes() {
            run(shape).await;
        }
    });
}
