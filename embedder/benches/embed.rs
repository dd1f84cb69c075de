//! Embedding speed on this machine: texts a second in batches (as
//! background embedding of a vault would run) and one short query's
//! latency (as a search pays it). Prints figures; asserts nothing.
//!
//! `CTXVAULT_TEST_MODEL=DIR cargo bench -p embedder --bench embed`

use std::time::Instant;

fn main() {
    let dir = std::env::var_os("CTXVAULT_TEST_MODEL")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../target/test-model").into());
    let t = Instant::now();
    let e = match embedder::Embedder::from_dir(&dir) {
        Ok(e) => e,
        Err(err) => {
            eprintln!("{err}; set CTXVAULT_TEST_MODEL (scripts/test.sh unpacks it under target/)");
            std::process::exit(1);
        }
    };
    println!(
        "load: {:.0} ms, dim {}",
        t.elapsed().as_secs_f64() * 1e3,
        e.dim()
    );
    let subjects = [
        "She",
        "My manager",
        "Our team",
        "The landlord",
        "Dr. Silva",
        "My brother",
    ];
    let verbs = [
        "prefers",
        "asked about",
        "scheduled",
        "forgot",
        "wants to change",
        "booked",
    ];
    let objects = [
        "green tea in the morning",
        "the quarterly budget review",
        "a flight to Lisbon in March",
        "the roadmap for the beta launch",
        "an appointment about the allergy",
        "the rent for next month",
        "short answers with code first",
        "the garden before the summer",
    ];
    let mut texts = Vec::new();
    for (i, s) in subjects.iter().enumerate() {
        for (j, v) in verbs.iter().enumerate() {
            for (k, o) in objects.iter().enumerate() {
                texts.push(format!("{s} {v} {o} (note {i}{j}{k})"));
            }
        }
    }
    for batch in [16usize, 32, 64] {
        let t = Instant::now();
        for chunk in texts.chunks(batch) {
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            e.embed(&refs).expect("embed");
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "batched ({batch}): {} texts in {s:.2} s, {:.0} texts/s",
            texts.len(),
            texts.len() as f64 / s
        );
    }
    let queries = [
        "what does she like to drink in the morning?",
        "when is the trip to Portugal",
        "budget meeting",
        "how should answers be written",
    ];
    let mut ms = Vec::new();
    for _ in 0..25 {
        for q in queries {
            let t = Instant::now();
            e.embed(&[q]).expect("embed");
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms[((ms.len() - 1) as f64 * p) as usize];
    println!(
        "one query: p50 {:.1} ms, p99 {:.1} ms over {} queries",
        at(0.5),
        at(0.99),
        ms.len()
    );
}
