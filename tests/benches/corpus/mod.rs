//! The synthetic corpora shared by the benchmarks: a made-up vocabulary
//! with Zipf-like word frequencies, ~1 KB items, queries; and the ten
//! grants of the benchmarks' scoped client.
//!
//! Two shapes of vault (`CTXVAULT_BENCH_CORPUS=tidy|users|both`, default
//! both):
//! - **tidy**: six namespaces, one of four tags per item (48 groups in all);
//! - **users**: tagged as people tag: 40 namespaces, one to five tags per
//!   item from a Zipf vocabulary of 5,000 tags, and a third of the items
//!   with a tag no other item has (about as many groups as items), with a
//!   mix of sensitivities.

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

/// The shape of a benchmark vault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Six namespaces, four tags.
    Tidy,
    /// Tags and namespaces as people use them.
    Users,
}

impl Shape {
    /// The name printed with each figure.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Tidy => "tidy",
            Shape::Users => "users",
        }
    }
}

/// The shapes to run: `CTXVAULT_BENCH_CORPUS` (tidy, users or both).
pub fn shapes() -> Vec<Shape> {
    match std::env::var("CTXVAULT_BENCH_CORPUS").as_deref() {
        Ok("tidy") => vec![Shape::Tidy],
        Ok("users") => vec![Shape::Users],
        _ => vec![Shape::Tidy, Shape::Users],
    }
}

/// Namespaces of the users corpus (the first ones most used).
const USER_NAMESPACES: [&str; 40] = [
    "notes",
    "work/acme",
    "profile",
    "journal",
    "health",
    "finance",
    "family/anna/notes",
    "notes/ideas",
    "notes/travel",
    "work/acme/projects",
    "work/side",
    "home",
    "health/labs",
    "archive/2021",
    "archive/2022",
    "archive/2023",
    "family/ben/notes",
    "family/ben/school",
    "work/acme/people",
    "work/acme/meetings",
    "reading",
    "reading/quotes",
    "recipes",
    "garden",
    "car",
    "travel/japan",
    "travel/italy",
    "finance/tax",
    "finance/pension",
    "health/therapy",
    "friends",
    "friends/lea",
    "friends/omar",
    "projects/boat",
    "projects/house",
    "music",
    "sport",
    "learning/spanish",
    "learning/rust",
    "misc",
];

/// The tag vocabulary of the users corpus: common tags first, then names,
/// places and topics.
pub fn tag_vocabulary(rng: &mut Rng) -> Vec<String> {
    let common = [
        "home", "work", "idea", "todo", "family", "travel", "money", "kids", "book", "doctor",
    ];
    let mut tags: Vec<String> = common.iter().map(|t| t.to_string()).collect();
    let words = vocabulary(rng);
    for w in words.iter().take(5_000 - tags.len()) {
        tags.push(w.clone());
    }
    tags
}

/// An item of the given shape; `tags` is the users corpus's tag vocabulary.
pub fn shaped_item(
    shape: Shape,
    rng: &mut Rng,
    vocab: &[String],
    tags: &[String],
    n: usize,
) -> NewItem {
    let mut it = item(rng, vocab, n);
    if shape == Shape::Users {
        let r = (rng.next() % 1_000_000) as f64 / 1_000_000.0;
        let k = ((USER_NAMESPACES.len() as f64).powf(r) - 1.0) as usize;
        it.namespace = USER_NAMESPACES[k.min(USER_NAMESPACES.len() - 1)]
            .parse()
            .unwrap();
        let mut t: Vec<vault_core::Tag> = Vec::new();
        for _ in 0..1 + rng.below(5) {
            let tag = pick(rng, tags).parse().unwrap();
            if !t.contains(&tag) {
                t.push(tag);
            }
        }
        if n.is_multiple_of(3) {
            t.push(format!("x{n}").parse().unwrap());
        }
        it.tags = t;
        use Sensitivity::*;
        it.sensitivity = [
            Normal, Normal, Normal, Private, Private, Public, Secret, Normal,
        ][rng.below(8)];
    }
    it
}

/// `n` items of the given shape, the word vocabulary (for queries) and the
/// corpus size in bytes (bodies and titles).
pub fn corpus(shape: Shape, n: usize) -> (Vec<NewItem>, Vec<String>, usize) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let vocab = vocabulary(&mut rng);
    let mut trng = Rng(0x2545_f491_4f6c_dd1d);
    let tags = tag_vocabulary(&mut trng);
    let items: Vec<NewItem> = (0..n)
        .map(|i| shaped_item(shape, &mut rng, &vocab, &tags, i))
        .collect();
    let bytes = items
        .iter()
        .map(|i| i.body.len() + i.title.as_ref().map_or(0, |t| t.len()))
        .sum();
    (items, vocab, bytes)
}

/// One grant of the scoped client: scope, tags, most sensitive level,
/// redactions (as the CLI spells them).
pub struct BenchGrant {
    pub scope: &'static str,
    pub tags: &'static [&'static str],
    pub max: Sensitivity,
    pub redact: &'static [&'static str],
}

/// The scoped client's ten grants: nested scopes, tag-limited grants,
/// several ceilings and redactions.
pub const TEN_GRANTS: [BenchGrant; 10] = {
    use Sensitivity::*;
    const fn g(
        scope: &'static str,
        tags: &'static [&'static str],
        max: Sensitivity,
        redact: &'static [&'static str],
    ) -> BenchGrant {
        BenchGrant {
            scope,
            tags,
            max,
            redact,
        }
    }
    [
        g("work/**", &[], Normal, &["email"]),
        g("profile", &[], Private, &[]),
        g("notes/*", &["idea", "todo"], Normal, &[]),
        g("finance", &["home"], Normal, &["card"]),
        g("health/**", &[], Public, &[]),
        g("**/travel", &[], Normal, &[]),
        g("work/side", &[], Secret, &[]),
        g("archive/**", &[], Normal, &[]),
        g("journal", &["book"], Private, &[]),
        g("family/*/notes", &[], Normal, &[]),
    ]
};

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

/// A vault of `n` items of `shape` in `env`, created with the test
/// passphrase (the agent not running): the corpus's vocabulary.
pub async fn populate(env: &ctxvault_tests::Env, shape: Shape, n: usize) -> Vec<String> {
    let v = vault_core::Vault::create(
        &env.vault,
        &vault_core::keys::passphrase(ctxvault_tests::PASS),
        vault_core::WorkFactor::MIN,
        &[],
    )
    .await
    .expect("a vault");
    let (items, vocab, _) = corpus(shape, n);
    for chunk in items.chunks(10_000) {
        v.add_bulk(chunk.to_vec()).await.expect("items added");
    }
    v.store().close().await;
    vocab
}

/// Give `client` the ten grants of [`TEN_GRANTS`], through the CLI.
pub fn grant_ten(env: &ctxvault_tests::Env, client: &str) {
    for g in &TEN_GRANTS {
        let max = format!("{:?}", g.max).to_lowercase();
        let mut args = vec!["grant", client, g.scope, "--max-sensitivity", &max];
        for t in g.tags {
            args.extend(["--tag", t]);
        }
        let redact = g.redact.join(",");
        if !redact.is_empty() {
            args.extend(["--redact", &redact]);
        }
        env.ok(&args);
    }
}
