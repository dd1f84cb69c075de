//! Vault benchmarks on synthetic corpora of ~1 KB items (tidy and
//! users-shaped, see `corpus`): in process (bulk insert, index build, store
//! scan, unlock, search latency, search as a client with ten grants) and
//! through the real agent (unlock via the CLI, agent memory, CLI search
//! round trip, export and import). Prints figures; asserts nothing.
//!
//! Run: `cargo build --release -p ctxvault && cargo bench -p ctxvault-tests --bench vault`
//! (`CTXVAULT_BENCH_ITEMS` sets the large size, default 100000;
//! `CTXVAULT_BENCH_CORPUS` the shapes, default both).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Instant;

use age::secrecy::ExposeSecret;
use ctxvault_tests::Env;
use vault_core::index::{Doc, Index};
use vault_core::{ItemFilter, Sensitivity, Unlock, Vault, WorkFactor, keys};

mod corpus;
use corpus::{Shape, TEN_GRANTS, corpus, large_size, pct, queries, runtime, shapes};

fn proc_kib(pid: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).map(|v| v.parse().unwrap_or(0)))
        })
        .unwrap_or(0)
}

/// A vault of `n` generated items at `dir` (passphrase and identity slots).
struct Built {
    identity_file: String,
    corpus_bytes: usize,
    vocab: Vec<String>,
}

/// Build the vault, printing the in-memory index build and bulk insert figures.
async fn build_vault(dir: &Path, n: usize, shape: Shape) -> Built {
    let lab = label(n, shape);
    let id = age::x25519::Identity::generate();
    let identity_file = id.to_string().expose_secret().to_owned();
    let v = Vault::create(dir, &keys::passphrase("bench"), WorkFactor::MIN, &[id])
        .await
        .unwrap();
    let (items, vocab, corpus_bytes) = corpus(shape, n);

    let t = Instant::now();
    let mut ix = Index::new();
    let docs: Vec<Doc> = items
        .iter()
        .enumerate()
        .map(|(i, it)| Doc {
            rowid: i as i64,
            title: it.title.as_deref().unwrap_or(""),
            body: &it.body,
            tags: "home",
            group: (i % 6) as u32,
            views: &[],
        })
        .collect();
    for chunk in docs.chunks(2048) {
        ix.insert_many(chunk);
    }
    println!(
        "{lab}  index build alone (in memory): {:.3} s",
        t.elapsed().as_secs_f64()
    );
    drop((docs, ix));

    let t = Instant::now();
    for chunk in items.chunks(10_000) {
        v.add_bulk(chunk.to_vec()).await.unwrap();
    }
    let took = t.elapsed();
    println!(
        "{lab}  bulk insert: {:>8.0} items/s  ({:.2} s, corpus {:.1} MB)",
        n as f64 / took.as_secs_f64(),
        took.as_secs_f64(),
        corpus_bytes as f64 / 1e6
    );
    v.store().close().await;
    Built {
        identity_file,
        corpus_bytes,
        vocab,
    }
}

/// The start of each figure's line: size and corpus.
fn label(n: usize, shape: Shape) -> String {
    format!("{n:>7} items {:<5}", shape.name())
}

/// In process: store scan, unlock without KDF, search latency.
async fn in_process(n: usize, shape: Shape) {
    let lab = label(n, shape);
    let dir = tempfile::tempdir().unwrap();
    let built = build_vault(dir.path(), n, shape).await;
    let vault = Vault::open(dir.path()).await.unwrap();
    {
        use futures_util::TryStreamExt;
        let t = Instant::now();
        let mut s = vault.store().stream();
        while s.try_next().await.unwrap().is_some() {}
        println!(
            "{lab}  raw store scan (sqlx): {:.3} s",
            t.elapsed().as_secs_f64()
        );
    }
    let t = Instant::now();
    let u = vault
        .unlock(&Unlock::identity_file(&built.identity_file).unwrap())
        .await
        .unwrap();
    println!(
        "{lab}  unlock (X25519 slot, no KDF; index build included): {:.3} s",
        t.elapsed().as_secs_f64()
    );
    let filter = ItemFilter::default();
    let mut lat = Vec::new();
    let vocab = &built.vocab;
    for q in queries(&built.vocab, 2000, 42) {
        let t = Instant::now();
        let hits = u.search(&q, None, &filter, 10).await.unwrap();
        lat.push(t.elapsed());
        std::hint::black_box(hits);
    }
    lat.sort();
    println!(
        "{lab}  search (limit 10, 2000 queries): p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
        pct(&lat, 0.5).as_secs_f64() * 1e3,
        pct(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().unwrap().as_secs_f64() * 1e3
    );
    let facts: Vec<_> = u
        .list(&filter)
        .await
        .unwrap()
        .iter()
        .map(|i| (i.namespace.to_string(), i.tags.clone(), i.sensitivity))
        .collect();
    policy(&u, vocab, &facts, &lab).await;
    audit_commits(&u, &lab).await;
}

/// An audited read's entry as the agent commits it (written to the
/// write-ahead log, not synced), against the same entry in a synced
/// transaction: the options for the audit's durability, side by side.
async fn audit_commits(u: &vault_core::UnlockedVault, lab: &str) {
    use vault_core::audit::AuditEntry;
    let entry = AuditEntry {
        time: chrono::Utc::now(),
        client: Some("bench".into()),
        action: "search".into(),
        query: Some("garden plans".into()),
        ids: (0..10).map(|_| uuid::Uuid::now_v7()).collect(),
        grants: vec![uuid::Uuid::now_v7()],
        detail: None,
        tool: Some("search_context".into()),
        door: None,
        provider: None,
        aspect: None,
    };
    let mut unsynced = Vec::new();
    let mut synced = Vec::new();
    for _ in 0..500 {
        let t = Instant::now();
        u.record_audit(&entry).await.unwrap();
        unsynced.push(t.elapsed());
        let t = Instant::now();
        u.commit(vault_core::vault::RecordChange {
            audit: Some(entry.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
        synced.push(t.elapsed());
    }
    unsynced.sort();
    synced.sort();
    println!(
        "{lab}  one read's audit entry, committed alone: as the agent does (WAL written, not synced) p50 {:.3} ms  p99 {:.3} ms; synced p50 {:.3} ms  p99 {:.3} ms",
        pct(&unsynced, 0.5).as_secs_f64() * 1e3,
        pct(&unsynced, 0.99).as_secs_f64() * 1e3,
        pct(&synced, 0.5).as_secs_f64() * 1e3,
        pct(&synced, 0.99).as_secs_f64() * 1e3,
    );
}

/// Unlock time and memory of the real agent, driven by the real CLI.
async fn agent(n: usize, shape: Shape) {
    let lab = label(n, shape);
    let env = Env::new();
    let built = build_vault(&env.vault, n, shape).await;
    let key = env.tmp.path().join("key.txt");
    std::fs::write(&key, format!("{}\n", built.identity_file)).unwrap();
    // Start the agent (locked): `ls` starts it and is refused.
    assert_ne!(env.run_with(&["ls"], None, None).code, 0);
    let pid = env.status()["pid"].to_string();
    let locked = proc_kib(&pid, "VmRSS:");
    let t = Instant::now();
    let o = env.run_with(&["unlock", "--identity", key.to_str().unwrap()], None, None);
    let took = t.elapsed();
    assert_eq!(o.code, 0, "{}", o.stderr);
    let rss = proc_kib(&pid, "VmRSS:");
    println!(
        "{lab}  agent: `ctxvault unlock --identity` {:.3} s; RSS locked {:.1} MB, unlocked {:.1} MB = {:.2}x corpus, peak {:.1} MB",
        took.as_secs_f64(),
        locked as f64 / 1024.0,
        rss as f64 / 1024.0,
        rss as f64 * 1024.0 / built.corpus_bytes as f64,
        proc_kib(&pid, "VmHWM:") as f64 / 1024.0,
    );
    let mut lat = Vec::new();
    for q in ["kalo", "renvel", "dorsa ith", "quba*", "zufen garhol"] {
        for _ in 0..10 {
            let t = Instant::now();
            let o = env.run_with(&["search", q, "--json"], None, None);
            lat.push(t.elapsed());
            assert_eq!(o.code, 0, "{}", o.stderr);
        }
    }
    lat.sort();
    println!(
        "{lab}  agent: `ctxvault search` round trip (process start included, 50 runs): p50 {:.1} ms  p99 {:.1} ms",
        pct(&lat, 0.5).as_secs_f64() * 1e3,
        pct(&lat, 0.99).as_secs_f64() * 1e3
    );
    // Export and import through the CLI and agent.
    let dir = env.tmp.path().to_owned();
    for (label, args, file) in [
        ("bundle", vec!["export", "--out"], dir.join("all.bundle")),
        (
            "plain JSONL",
            vec!["export", "--plain", "--out"],
            dir.join("all.jsonl"),
        ),
    ] {
        let mut a = args.clone();
        a.push(file.to_str().unwrap());
        let t = Instant::now();
        let o = env
            .cmd(&a)
            .env("CTXVAULT_BUNDLE_PASSPHRASE", "bench")
            .output()
            .unwrap();
        let took = t.elapsed();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let dst = Env::new();
        dst.init();
        let t = Instant::now();
        let o = dst
            .cmd(&["import", file.to_str().unwrap()])
            .env("CTXVAULT_BUNDLE_PASSPHRASE", "bench")
            .env("CTXVAULT_PASSPHRASE", ctxvault_tests::PASS)
            .output()
            .unwrap();
        let took_in = t.elapsed();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        println!(
            "{lab}  {label}: export {:.0} items/s ({:.2} s), import into a fresh vault {:.0} items/s ({:.2} s), {:.1} MB",
            n as f64 / took.as_secs_f64(),
            took.as_secs_f64(),
            n as f64 / took_in.as_secs_f64(),
            took_in.as_secs_f64(),
            std::fs::metadata(&file).unwrap().len() as f64 / 1e6
        );
        if label == "bundle" {
            cycles(&dst, &lab, built.corpus_bytes);
        }
        dst.ok(&["stop"]);
    }
    env.ok(&["stop"]);
}

/// After a big import: the write-ahead log while the agent runs, and the
/// agent's memory over six lock/unlock cycles.
fn cycles(env: &Env, lab: &str, corpus_bytes: usize) {
    let mb = |b: u64| b as f64 / 1e6;
    let wal = || std::fs::metadata(env.vault.join("vault.db-wal")).map_or(0, |m| m.len());
    let db = std::fs::metadata(env.vault.join("vault.db")).map_or(0, |m| m.len());
    let pid = env.status()["pid"].to_string();
    let mut rss = vec![proc_kib(&pid, "VmRSS:")];
    for _ in 0..6 {
        env.ok(&["lock"]);
        env.ok(&["unlock"]);
        rss.push(proc_kib(&pid, "VmRSS:"));
    }
    let list: Vec<String> = rss
        .iter()
        .map(|k| format!("{:.0}", *k as f64 / 1024.0))
        .collect();
    println!(
        "{lab}  after the import: vault.db {:.1} MB, its WAL {:.1} MB while the agent runs; agent RSS after the import, then after each of 6 lock/unlock cycles: {} MB (last = {:.2}x corpus)",
        mb(db),
        mb(wal()),
        list.join(", "),
        *rss.last().unwrap() as f64 * 1024.0 / corpus_bytes as f64
    );
}

/// The policy's cost: decisions per item, and search as a client with 10
/// grants against the unfiltered search, over the same queries.
async fn policy(
    u: &vault_core::UnlockedVault,
    vocab: &[String],
    items: &[(String, Vec<vault_core::Tag>, Sensitivity)],
    lab: &str,
) {
    use chrono::Utc;
    use policies::{Action, Actions, ClientPolicy, Grant, ItemFacts, Scope};
    let now = Utc::now();
    let grants: Vec<Grant> = TEN_GRANTS
        .iter()
        .map(|g| Grant {
            id: uuid::Uuid::now_v7(),
            client: "bench".into(),
            actions: Actions::of(&[Action::Read]),
            scope: g.scope.parse::<Scope>().unwrap(),
            tags: g.tags.iter().map(|t| t.to_string()).collect(),
            max_sensitivity: g.max,
            expires: Some(now + chrono::Duration::hours(1)),
            redact: g.redact.iter().map(|r| r.parse().unwrap()).collect(),
            providers: Default::default(),
            confirm: None,
            created_at: now,
        })
        .collect();
    let policy = ClientPolicy::new(
        "bench",
        &grants,
        &[],
        now,
        &policies::Destination::unknown(),
    );
    let t = Instant::now();
    let mut allowed = 0usize;
    for (ns, tags, s) in items {
        let f = ItemFacts {
            namespace: ns,
            tags,
            sensitivity: *s,
        };
        allowed += usize::from(policy.allows(Action::Read, &f));
    }
    let per = t.elapsed().as_nanos() as f64 / items.len() as f64;
    println!(
        "{lab}  policy decision (10 grants, one per item): {per:.0} ns/item ({allowed} allowed)"
    );
    let filter = ItemFilter::default();
    let views = vault_daemon::view::visible::ClientViews::default();
    // The first search as the client registers its view (every group
    // decided once, the readable items gathered).
    let t = Instant::now();
    vault_daemon::view::reads::search_as(u, &views, &policy, ("kalo", None), &filter, 10)
        .await
        .unwrap();
    println!(
        "{lab}  first search as the client (registers its view): {:.3} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let mut plain = Vec::new();
    let mut scoped = Vec::new();
    let mut raw = Vec::new();
    for q in queries(vocab, 1000, 7) {
        let t = Instant::now();
        std::hint::black_box(u.search(&q, None, &filter, 10).await.unwrap());
        plain.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(
            vault_daemon::view::reads::search_as(u, &views, &policy, (&q, None), &filter, 10)
                .await
                .unwrap(),
        );
        scoped.push(t.elapsed());
        // What a client's search did before views: decide every group,
        // then search within the groups decided.
        let t = Instant::now();
        let keys = u.group_keys().await;
        let readable: Vec<bool> = policy
            .decide_all(Action::Read, keys.iter().map(vault_daemon::policy::facts))
            .iter()
            .map(|d| d.is_allowed())
            .collect();
        std::hint::black_box(
            u.search_groups(&q, None, 10, Some(&readable), &readable)
                .await
                .unwrap(),
        );
        raw.push(t.elapsed());
    }
    plain.sort();
    scoped.sort();
    raw.sort();
    println!(
        "{lab}  search deciding every group per search (no view; the path before views), before redaction: p50 {:.3} ms  p99 {:.3} ms",
        pct(&raw, 0.5).as_secs_f64() * 1e3,
        pct(&raw, 0.99).as_secs_f64() * 1e3
    );
    let (p, s) = (pct(&plain, 0.5), pct(&scoped, 0.5));
    println!(
        "{lab}  search p50: unfiltered {:.3} ms, `search --as` a client with 10 grants {:.3} ms ({:+.0}%); p99 {:.3} / {:.3} ms",
        p.as_secs_f64() * 1e3,
        s.as_secs_f64() * 1e3,
        (s.as_secs_f64() / p.as_secs_f64() - 1.0) * 100.0,
        pct(&plain, 0.99).as_secs_f64() * 1e3,
        pct(&scoped, 0.99).as_secs_f64() * 1e3,
    );
}

fn main() {
    let big = large_size();
    runtime().block_on(async {
        // `CTXVAULT_BENCH_PARTS`: `process`, `agent`, or both (default).
        let parts = std::env::var("CTXVAULT_BENCH_PARTS").unwrap_or_default();
        if parts != "agent" {
            for shape in shapes() {
                in_process(10_000, shape).await;
                in_process(big, shape).await;
            }
        }
        if parts != "process" {
            for shape in shapes() {
                agent(10_000, shape).await;
                agent(big, shape).await;
            }
        }
    });
}
