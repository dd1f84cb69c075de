//! Aspects and provider conditions: the decision's cost per item with
//! provider conditions and an aspect in force against without (pure
//! policy, 100k items of each corpus shape), and `search_context` p50 and
//! p99 over MCP HTTP at 10k items with an aspect in force against without
//! (runs alternated, the median of each printed). Asserts nothing but
//! success.
//!
//! Run: `cargo build --release -p ctxvault && cargo bench -p ctxvault-tests --bench aspects`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chrono::Utc;
use policies::{
    Action, Actions, Aspect, ClientPolicy, Destination, Grant, ItemFacts, ProviderClass,
    ProviderCondition, Scope,
};
use serde_json::json;

#[path = "../tests/common/mod.rs"]
mod common;
mod corpus;

use common::call;
use corpus::{Shape, TEN_GRANTS, pct, populate, queries, runtime, shapes};

fn grants(conditioned: bool) -> Vec<Grant> {
    let now = Utc::now();
    TEN_GRANTS
        .iter()
        .enumerate()
        .map(|(i, g)| Grant {
            id: uuid::Uuid::now_v7(),
            client: "bench".into(),
            actions: Actions::of(&[Action::Read]),
            scope: g.scope.parse::<Scope>().unwrap(),
            tags: g.tags.iter().map(|t| t.to_string()).collect(),
            max_sensitivity: g.max,
            expires: Some(now + chrono::Duration::hours(1)),
            redact: g.redact.iter().map(|r| r.parse().unwrap()).collect(),
            // Every other grant for local providers only.
            providers: if conditioned && i % 2 == 0 {
                ProviderCondition {
                    providers: Vec::new(),
                    class: Some(ProviderClass::Local),
                }
            } else {
                ProviderCondition::default()
            },
            confirm: None,
            created_at: now,
        })
        .collect()
}

fn interview() -> Aspect {
    Aspect {
        name: "interview".into(),
        scopes: ["work/**", "profile", "notes/*"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect(),
        max_sensitivity: policies::Sensitivity::Normal,
    }
}

/// Nanoseconds per item of one-at-a-time decisions (best of five passes).
fn per_item(p: &ClientPolicy, items: &[vault_core::NewItem]) -> (f64, usize) {
    let mut best = f64::MAX;
    let mut allowed = 0;
    for _ in 0..5 {
        allowed = 0;
        let t = Instant::now();
        for i in items {
            let f = ItemFacts {
                namespace: i.namespace.as_str(),
                tags: &i.tags,
                sensitivity: i.sensitivity,
            };
            allowed += usize::from(p.allows(Action::Read, &f));
        }
        best = best.min(t.elapsed().as_nanos() as f64 / items.len() as f64);
    }
    (best, allowed)
}

fn decisions(shape: Shape) {
    let (items, _, _) = corpus::corpus(shape, 100_000);
    let now = Utc::now();
    let local = Destination::to("ollama", ProviderClass::Local);
    let plain = ClientPolicy::new("bench", &grants(false), &[], now, &Destination::unknown());
    let conditioned = ClientPolicy::new("bench", &grants(true), &[], now, &local);
    let narrowed = conditioned.clone().within(Some(interview()));
    for (what, p) in [
        ("today's (10 grants, no condition)", &plain),
        ("with provider conditions on 5 of 10 grants", &conditioned),
        ("with provider conditions and an aspect in force", &narrowed),
    ] {
        let (ns, allowed) = per_item(p, &items);
        println!(
            "100000 items {:<5}  decision {what}: {ns:.0} ns/item ({allowed} allowed)",
            shape.name()
        );
    }
}

/// p50 and p99 of 1000 search_context calls.
async fn latency(s: &common::Session, qs: &[String]) -> (Duration, Duration) {
    let mut lat = Vec::with_capacity(qs.len());
    for q in qs {
        let t0 = Instant::now();
        let r = call(s, "search_context", json!({"query": q})).await;
        lat.push(t0.elapsed());
        assert_ne!(r.is_error, Some(true));
    }
    lat.sort();
    (pct(&lat, 0.5), pct(&lat, 0.99))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn search(shape: Shape) {
    let n = 10_000;
    let env = ctxvault_tests::Env::new();
    let vocab = populate(&env, shape, n).await;
    let agent = env.http_agent();
    let token = common::add_client(&env, "scoped");
    corpus::grant_ten(&env, "scoped");
    env.ok(&[
        "aspect",
        "add",
        "interview",
        "--scope",
        "work/**",
        "--scope",
        "profile",
        "--scope",
        "notes/*",
    ]);
    let s = common::http(&agent.url, &token).await;
    let qs = queries(&vocab, 1000, 11);
    for q in qs.iter().take(100) {
        call(&s, "search_context", json!({"query": q})).await;
    }
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        off.push(latency(&s, &qs).await);
        env.ok(&["aspect", "use", "interview"]);
        for q in qs.iter().take(20) {
            call(&s, "search_context", json!({"query": q})).await;
        }
        on.push(latency(&s, &qs).await);
        env.ok(&["aspect", "off"]);
        for q in qs.iter().take(20) {
            call(&s, "search_context", json!({"query": q})).await;
        }
    }
    let median = |v: &mut Vec<(Duration, Duration)>| {
        v.sort();
        v[v.len() / 2]
    };
    let (a, b) = (median(&mut off), median(&mut on));
    println!(
        "{n:>7} items {:<5}  search_context over HTTP, 10 grants, no aspect (median of 3 x 1000 calls): p50 {:.2} ms  p99 {:.2} ms",
        shape.name(),
        ms(a.0),
        ms(a.1)
    );
    println!(
        "{n:>7} items {:<5}  search_context over HTTP, 10 grants, aspect in force (median of 3 x 1000 calls): p50 {:.2} ms  p99 {:.2} ms  ({:+.1}% p50)",
        shape.name(),
        ms(b.0),
        ms(b.1),
        (ms(b.0) / ms(a.0) - 1.0) * 100.0
    );
    s.cancel().await.unwrap();
    drop(agent);
}

fn main() {
    for shape in shapes() {
        decisions(shape);
    }
    runtime().block_on(async {
        for shape in shapes() {
            search(shape).await;
        }
    });
}
