//! Recall by meaning, in process, on users-shaped vaults (many distinct
//! tags, mixed sensitivities) whose items are short personal notes (the
//! recall evaluation's items, varied): background embedding throughput
//! with the real model, unlock with vectors, search latency per mode (the
//! query's embedding included, and alone), repeated queries, memory.
//! Prints figures; asserts nothing.
//!
//! Run: `CTXVAULT_TEST_MODEL=DIR cargo bench -p ctxvault-tests --bench semantic`
//! (DIR holds all-MiniLM-L6-v2: `./scripts/test.sh` unpacks it into
//! target/test-model). `CTXVAULT_BENCH_ITEMS` sets the large size (default
//! 100000). At the large size item vectors are not made by the model (that
//! alone would take over ten minutes): each item gets a pseudo-random unit
//! vector, which costs an exhaustive search exactly as much; queries still
//! go through the real model.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use age::secrecy::ExposeSecret;
use serde_json::Value;
use vault_core::{Embed, ItemFilter, SearchMode, Unlock, UnlockedVault, Vault, WorkFactor, keys};

mod corpus;
use corpus::{Rng, Shape, large_size, pct, runtime, shaped_item, tag_vocabulary, vocabulary};

fn proc_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(field)).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .map(|v| v.parse::<f64>().unwrap_or(0.0))
            })
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The real model for queries; for item texts either the real model too or
/// (`replay`) a pseudo-random unit vector from a hash of the text.
struct BenchModel {
    real: Arc<vault_daemon::models::Model>,
    replay: bool,
}

impl Embed for BenchModel {
    fn model_id(&self) -> &str {
        self.real.model_id()
    }
    fn dim(&self) -> usize {
        self.real.dim()
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        if !self.replay || texts.len() == 1 {
            return self.real.embed(texts);
        }
        Ok(texts
            .iter()
            .map(|t| {
                let d = ring::digest::digest(&ring::digest::SHA256, t.as_bytes());
                let mut rng = Rng(u64::from_le_bytes(d.as_ref()[..8].try_into().unwrap()) | 1);
                let mut v: Vec<f32> = (0..self.dim())
                    .map(|_| (rng.next() % 20_000) as f32 / 10_000.0 - 1.0)
                    .collect();
                let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter_mut().for_each(|x| *x /= n);
                v
            })
            .collect())
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn latencies(u: &UnlockedVault, qs: &[String], mode: SearchMode) -> (Duration, Duration) {
    let filter = ItemFilter::default();
    let mut lat = Vec::with_capacity(qs.len());
    for q in qs {
        let t = Instant::now();
        std::hint::black_box(u.search(q, Some(mode), &filter, 10).await.unwrap());
        lat.push(t.elapsed());
    }
    lat.sort();
    (pct(&lat, 0.5), pct(&lat, 0.99))
}

async fn run(
    n: usize,
    model: &Arc<vault_daemon::models::Model>,
    corpus: &[Value],
    questions: &[String],
) {
    let replay = n > 10_000;
    let lab = format!("{n:>7} items");
    let dir = tempfile::tempdir().unwrap();
    let id = age::x25519::Identity::generate();
    let identity = id.to_string().expose_secret().to_owned();
    let created = Vault::create(
        dir.path(),
        &keys::passphrase("bench"),
        WorkFactor::MIN,
        &[id],
    )
    .await
    .unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let vocab = vocabulary(&mut rng);
    let tags = tag_vocabulary(&mut Rng(0x2545_f491_4f6c_dd1d));
    let mut bytes = 0usize;
    let items: Vec<_> = (0..n)
        .map(|i| {
            let mut it = shaped_item(Shape::Users, &mut rng, &vocab, &tags, i);
            let c = &corpus[i % corpus.len()];
            it.title = c["title"].as_str().map(str::to_owned);
            it.body = format!("{} ({} {})", c["body"].as_str().unwrap(), vocab[i % 997], i);
            bytes += it.body.len() + it.title.as_ref().map_or(0, String::len);
            it
        })
        .collect();
    for chunk in items.chunks(10_000) {
        created.add_bulk(chunk.to_vec()).await.unwrap();
    }
    drop(items);
    created.store().close().await;
    drop(created);
    let v = Vault::open(dir.path()).await.unwrap();
    let how = Unlock::identity_file(&identity).unwrap();
    let t = Instant::now();
    let u = v.unlock(&how).await.unwrap();
    println!(
        "{lab}  unlock, no vectors (X25519 slot, no KDF): {:.3} s  (corpus {:.1} MB, {} bytes an item)",
        t.elapsed().as_secs_f64(),
        bytes as f64 / 1e6,
        bytes / n
    );
    let (l50, l99) = latencies(&u, &questions[..200], SearchMode::Lexical).await;
    println!(
        "{lab}  lexical search before any model, p50 {:.3} ms  p99 {:.3} ms",
        ms(l50),
        ms(l99)
    );

    let bench_model = Arc::new(BenchModel {
        real: model.clone(),
        replay,
    });
    u.attach_model(bench_model.clone()).await.unwrap();
    let t = Instant::now();
    while u
        .embed_pending(vault_core::vault::EMBED_BATCH)
        .await
        .unwrap()
        > 0
    {}
    let took = t.elapsed().as_secs_f64();
    println!(
        "{lab}  background embedding ({}): {:.1} s, {:.0} items/s",
        if replay {
            "vectors not made by the model: the sealing and commit path alone"
        } else {
            "all-MiniLM-L6-v2, 2 cores"
        },
        took,
        n as f64 / took
    );
    drop(u);
    let t = Instant::now();
    let u = v.unlock(&how).await.unwrap();
    let items_only = t.elapsed();
    u.attach_model(bench_model.clone()).await.unwrap();
    println!(
        "{lab}  unlock with vectors (no KDF): {:.3} s  (items {:.3} s + vectors {:.3} s)",
        t.elapsed().as_secs_f64(),
        items_only.as_secs_f64(),
        (t.elapsed() - items_only).as_secs_f64()
    );
    println!(
        "{lab}  memory: VmRSS {:.0} MiB, VmHWM {:.0} MiB (corpus {:.1} MB, model {:.1} MB)",
        proc_mib("VmRSS"),
        proc_mib("VmHWM"),
        bytes as f64 / 1e6,
        model.info().size as f64 / 1e6
    );
    // Query embedding alone.
    let mut emb = Vec::new();
    for q in &questions[200..400] {
        let t = Instant::now();
        std::hint::black_box(model.embed(&[q.as_str()]).unwrap());
        emb.push(t.elapsed());
    }
    emb.sort();
    println!(
        "{lab}  query embedding alone: p50 {:.2} ms  p99 {:.2} ms",
        ms(pct(&emb, 0.5)),
        ms(pct(&emb, 0.99))
    );
    for (k, mode) in SearchMode::ALL.into_iter().enumerate() {
        // Each mode its own questions, so the first pass embeds every one.
        let fresh = &questions[k * 140..(k + 1) * 140];
        let (p50, p99) = latencies(&u, fresh, mode).await;
        let (r50, r99) = latencies(&u, fresh, mode).await;
        println!(
            "{lab}  {mode:<8} search, new queries: p50 {:.3} ms  p99 {:.3} ms;  repeated (vector cached): p50 {:.3} ms  p99 {:.3} ms",
            ms(p50),
            ms(p99),
            ms(r50),
            ms(r99)
        );
    }
    u.store().close().await;
}

fn main() {
    let Some(dir) = std::env::var_os("CTXVAULT_TEST_MODEL") else {
        println!(
            "CTXVAULT_TEST_MODEL is not set: nothing to measure (scripts/test.sh unpacks the model)"
        );
        return;
    };
    let model = Arc::new(
        vault_daemon::models::load_dir(std::path::Path::new(&dir), "all-minilm-l6-v2").unwrap(),
    );
    let eval = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../eval/recall");
    let corpus = lines(&eval.join("corpus.jsonl"));
    let questions: Vec<String> = lines(&eval.join("questions.jsonl"))
        .iter()
        .map(|q| q["question"].as_str().unwrap().to_owned())
        .collect();
    let rt = runtime();
    for n in [10_000, large_size()] {
        rt.block_on(run(n, &model, &corpus, &questions));
    }
}
