//! The recall evaluation (eval/recall): its corpus put into a real vault
//! through the built binary, each question asked through `ctxvault search
//! --json`, and hit@1, hit@5 and MRR printed per question type and search
//! mode. The set was fixed before any tuning; every mode is scored the
//! same way. Prints figures; asserts nothing but success.
//!
//! Run: `cargo build --release -p ctxvault && cargo bench -p ctxvault-tests --bench recall`
//! (`CTXVAULT_RECALL_DIR` reads another set of the same shape).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::Path;

use ctxvault_tests::Env;
use serde_json::Value;

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Hits of one question type in one mode.
#[derive(Default)]
struct Score {
    questions: usize,
    hit1: usize,
    hit5: usize,
    rr: f64,
}

impl Score {
    fn add(&mut self, ranked: &[String], answers: &[String]) {
        self.questions += 1;
        let first = ranked.iter().position(|id| answers.contains(id));
        if first == Some(0) {
            self.hit1 += 1;
        }
        if first.is_some_and(|k| k < 5) {
            self.hit5 += 1;
        }
        if let Some(k) = first {
            self.rr += 1.0 / (k + 1) as f64;
        }
    }

    fn line(&self, mode: &str, kind: &str) -> String {
        let n = self.questions.max(1) as f64;
        format!(
            "{mode:<9} {kind:<11} {:>4}  hit@1 {:.3}  hit@5 {:.3}  MRR {:.3}",
            self.questions,
            self.hit1 as f64 / n,
            self.hit5 as f64 / n,
            self.rr / n
        )
    }
}

/// Question `q` asked with `ctxvault search --mode MODE --limit N --json`.
fn ask(env: &Env, q: &Value, mode: &str, limit: usize) -> Value {
    let limit = limit.to_string();
    let question = q["question"].as_str().unwrap();
    env.json(&[
        "search", question, "--mode", mode, "--limit", &limit, "--json",
    ])
}

fn main() {
    let dir = std::env::var_os("CTXVAULT_RECALL_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../eval/recall"));
    let corpus = lines(&dir.join("corpus.jsonl"));
    let questions = lines(&dir.join("questions.jsonl"));
    let env = Env::new();
    env.init();
    // With the test model installed first, each add is embedded as it
    // commits: every item has its vector before the first question.
    let semantic = std::env::var_os("CTXVAULT_TEST_MODEL").is_some();
    if semantic {
        env.install_model();
    } else {
        println!("CTXVAULT_TEST_MODEL is not set: lexical only (scripts/test.sh sets it)");
    }
    // Each corpus item added as a user would, its vault id noted.
    let mut by_vault_id: HashMap<String, String> = HashMap::new();
    for c in &corpus {
        let mut args: Vec<String> = vec![
            "add".into(),
            "--ns".into(),
            c["namespace"].as_str().unwrap().into(),
            "--kind".into(),
            c["kind"].as_str().unwrap().into(),
            "--new-kind".into(),
        ];
        if let Some(t) = c["title"].as_str() {
            args.extend(["--title".into(), t.into()]);
        }
        for t in c["tags"].as_array().unwrap() {
            args.extend(["--tag".into(), t.as_str().unwrap().into()]);
        }
        args.extend(["--".into(), c["body"].as_str().unwrap().into()]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let id = env.ok(&refs).trim().to_owned();
        by_vault_id.insert(id, c["id"].as_str().unwrap().to_owned());
    }
    println!(
        "recall evaluation: {} items, {} questions",
        corpus.len(),
        questions.len()
    );
    if semantic {
        let status = env.json(&["status", "--json"]);
        let m = &status["model"];
        assert_eq!(m["embedded"], m["items"], "every item embedded: {status}");
    }
    let modes: &[&str] = if semantic {
        &["lexical", "semantic", "hybrid"]
    } else {
        &["lexical"]
    };
    // CTXVAULT_RECALL_DUMP=FILE writes each question's lexical and semantic
    // candidates with their scores (one JSON line each), to study fusion.
    let mut dump = std::env::var_os("CTXVAULT_RECALL_DUMP")
        .map(|p| std::fs::File::create(p).expect("create the dump file"));
    if let Some(f) = dump.as_mut() {
        use std::io::Write;
        for q in &questions {
            let mut line =
                serde_json::json!({ "id": q["id"], "type": q["type"], "answers": q["answers"] });
            for mode in ["lexical", "semantic"] {
                let hits = ask(&env, q, mode, 50);
                let ranked: Vec<Value> = hits
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| {
                        serde_json::json!({
                            "id": by_vault_id.get(h["id"].as_str().unwrap()),
                            "engines": h["engines"],
                        })
                    })
                    .collect();
                line[mode] = Value::Array(ranked);
            }
            writeln!(f, "{line}").unwrap();
        }
    }
    for mode in modes {
        let mut scores: HashMap<String, Score> = HashMap::new();
        let mut all = Score::default();
        for q in &questions {
            let hits = ask(&env, q, mode, 10);
            let ranked: Vec<String> = hits
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|h| by_vault_id.get(h["id"].as_str()?).cloned())
                .collect();
            let answers: Vec<String> = q["answers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect();
            scores
                .entry(q["type"].as_str().unwrap().to_owned())
                .or_default()
                .add(&ranked, &answers);
            all.add(&ranked, &answers);
        }
        for kind in ["paraphrase", "keyword", "natural"] {
            if let Some(s) = scores.get(kind) {
                println!("{}", s.line(mode, kind));
            }
        }
        println!("{}", all.line(mode, "all"));
    }
}
