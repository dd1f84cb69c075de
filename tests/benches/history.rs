//! History import benchmark through the real binary and agent: a generated
//! ChatGPT export of 100k messages (12,500 conversations of 4 turns, with
//! the metadata each node carries), imported with `ctxvault import`; prints
//! messages per second, the time of the checking pass alone (`--dry-run`
//! reads the file twice and writes nothing), and the peak memory of the
//! CLI and the agent. Asserts nothing but success.
//!
//! Run: `cargo build --release -p ctxvault && cargo bench -p ctxvault-tests --bench history`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use ctxvault_tests::Env;

fn main() {
    let env = Env::new();
    env.init();
    let path = env.tmp.path().join("conversations.json");
    let messages = ctxvault_tests::chatgpt_export::write(&path, 12_500, 4, 600);
    let size = std::fs::metadata(&path).unwrap().len();
    let agent = env.agent_pid().expect("the agent runs");
    let p = path.to_str().unwrap();

    let t = Instant::now();
    let dry = env.json(&["import", p, "--dry-run", "--json"]);
    let dry_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let s = env.json(&["import", p, "--json"]);
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(s["messages"].as_u64(), Some(messages));
    assert_eq!(s["added"], dry["added"]);
    let cli = ctxvault_tests::children_peak_rss_kb();
    let agent = ctxvault_tests::peak_rss_kb(agent);
    println!(
        "history import: {messages} messages ({} MB export, {} chunks): {:.1} s, {:.0} messages/s; dry run {:.1} s ({:.0} messages/s); peak RSS: CLI {} MB, agent {} MB",
        size >> 20,
        s["chunks"],
        secs,
        messages as f64 / secs,
        dry_s,
        messages as f64 / dry_s,
        cli >> 10,
        agent >> 10,
    );
    let t = Instant::now();
    let again = env.json(&["import", p, "--json"]);
    println!(
        "history import again (all {} already in the vault): {:.1} s",
        again["duplicates"],
        t.elapsed().as_secs_f64()
    );
}
