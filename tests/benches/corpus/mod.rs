//! The synthetic corpus shared by the benchmarks: a made-up vocabulary with
//! Zipf-like word frequencies, ~1 KB items over six namespaces, queries.

#![allow(dead_code)]

use std::time::Duration;

use vault_core::{NewItem, Sensitivity};

/// Deterministic xorshift generator.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// 20,000 made-up words.
pub fn vocabulary(rng: &mut Rng) -> Vec<String> {
    const SYL: [&str; 24] = [
        "ka", "lo", "mi", "ren", "to", "sa", "vel", "dor", "an", "ith", "qu", "or", "el", "ba",
        "zu", "fen", "gar", "hol", "ix", "ny", "pra", "sto", "wen", "yl",
    ];
    (0..20_000)
        .map(|_| {
            (0..2 + rng.below(3))
                .map(|_| SYL[rng.below(SYL.len())])
                .collect()
        })
        .collect()
}

/// A Zipf-like pick: low indexes are far more frequent.
pub fn pick<'a>(rng: &mut Rng, vocab: &'a [String]) -> &'a str {
    let r = (rng.next() % 1_000_000) as f64 / 1_000_000.0;
    let i = ((vocab.len() as f64).powf(r) - 1.0) as usize;
    &vocab[i.min(vocab.len() - 1)]
}

pub fn item(rng: &mut Rng, vocab: &[String], n: usize) -> NewItem {
    let mut body = String::with_capacity(1100);
    while body.len() < 1000 {
        body.push_str(pick(rng, vocab));
        body.push(if rng.below(12) == 0 { '.' } else { ' ' });
    }
    let ns = [
        "profile",
        "work/acme",
        "work/side",
        "health",
        "finance",
        "notes/travel",
    ][n % 6];
    let mut it = NewItem::note(ns.parse().unwrap(), body);
    it.title = Some(format!("{} {}", pick(rng, vocab), pick(rng, vocab)));
    it.tags = vec![["home", "work", "idea", "todo"][n % 4].parse().unwrap()];
    use Sensitivity::*;
    it.sensitivity = [Public, Normal, Normal, Normal, Private, Secret, Normal][n % 7];
    it
}

/// `n` queries, alternating one mid-frequency word and two words.
pub fn queries(vocab: &[String], n: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|i| {
            if i % 2 == 0 {
                pick(&mut rng, &vocab[200..]).to_owned()
            } else {
                format!(
                    "{} {}",
                    pick(&mut rng, &vocab[50..]),
                    pick(&mut rng, &vocab[50..])
                )
            }
        })
        .collect()
}

/// The `p` quantile of sorted durations.
pub fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The large corpus size: `CTXVAULT_BENCH_ITEMS`, default 100,000.
pub fn large_size() -> usize {
    std::env::var("CTXVAULT_BENCH_ITEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

/// The multi-threaded runtime the benchmarks run on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}
