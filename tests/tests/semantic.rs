//! Recall by meaning through the built binary and agent: a paraphrase found
//! by semantic and hybrid search (CLI and MCP) and not by lexical search;
//! vectors sealed on disk and bound to their item; background embedding
//! resuming after kill -9; `model install` refusing bad models.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use ctxvault_tests::{Env, assert_one_line_error, test_model};
use sqlx::{Connection, SqliteConnection};

const TEA: &str = "I prefer green tea over coffee";
const QUESTION: &str = "what does she like to drink in the morning?";

fn distractors(env: &Env) {
    for body in [
        "Ship the sync engine before the October launch",
        "The car is due for its inspection in March",
        "Daughter's violin lesson is on Thursdays at five",
        "Allergic to penicillin",
        "Prefers aisle seats on long flights",
    ] {
        env.add(&[body]);
    }
}

fn ids(hits: &serde_json::Value) -> Vec<String> {
    hits.as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Wait (watching `status`) until every item has a vector.
fn wait_embedded(env: &Env) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let s = env.status();
        let m = &s["model"];
        if m["embedded"].is_u64() && m["embedded"] == m["items"] {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "embedding stalled: {s}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn a_paraphrase_is_found_by_meaning_not_by_words() {
    let env = Env::new();
    env.init().install_model();
    let tea = env.add(&["--ns", "profile", TEA]);
    distractors(&env);
    let status = env.status();
    assert_eq!(status["model"]["name"], "all-minilm-l6-v2", "{status}");
    assert_eq!(status["model"]["dim"], 384);
    assert_eq!(
        status["model"]["embedded"], 6,
        "embedded as they were added: {status}"
    );
    assert!(
        env.ok(&["status"])
            .contains("model:  all-minilm-l6-v2 (384 dimensions)")
    );

    let lexical = env.json(&["search", QUESTION, "--mode", "lexical", "--json"]);
    assert!(
        !ids(&lexical).contains(&tea),
        "words alone miss it: {lexical}"
    );
    for mode in ["semantic", "hybrid"] {
        let hits = env.json(&["search", QUESTION, "--mode", mode, "--json", "--limit", "3"]);
        assert_eq!(ids(&hits)[0], tea, "{mode}: {hits}");
        assert!(
            hits[0]["engines"]["semantic"].as_f64().unwrap() > 0.2,
            "{hits}"
        );
        assert!(hits[0]["engines"].get("lexical").is_none(), "{hits}");
    }
    // Hybrid is the default once there is a model.
    let default = env.json(&["search", QUESTION, "--json", "--limit", "1"]);
    assert_eq!(ids(&default), vec![tea.clone()]);
    // An exact keyword still comes first, found by both engines.
    let kw = env.json(&["search", "penicillin", "--json"]);
    assert!(kw[0]["body"].as_str().unwrap().contains("penicillin"));
    assert!(kw[0]["engines"]["lexical"].is_f64() && kw[0]["engines"]["all_words"] == true);
    // An edit is embedded again: the old meaning no longer matches.
    let edited = env.add(&["Hates loud restaurants"]);
    env.ok(&["edit", &edited, "Drinks a double espresso every morning"]);
    let hits = env.json(&[
        "search",
        "coffee before work",
        "--mode",
        "semantic",
        "--json",
        "--limit",
        "1",
    ]);
    assert_eq!(ids(&hits), vec![edited.clone()], "{hits}");

    // Over MCP: a client granted profile/** gets it from search_context
    // (hybrid), and the dry run shows the same.
    let token = common::add_client(&env, "claude");
    env.ok(&["grant", "claude", "profile/**"]);
    let s = common::stdio(&env, "claude", &token).await;
    let hits = common::json(
        &common::call(&s, "search_context", serde_json::json!({"query": QUESTION})).await,
    );
    assert_eq!(hits[0]["id"], tea.as_str(), "{hits}");
    assert!(
        hits.as_array()
            .unwrap()
            .iter()
            .all(|h| h["namespace"] == "profile"),
        "only what it may read: {hits}"
    );
    let dry = env.json(&["search", QUESTION, "--as", "claude", "--json"]);
    assert_eq!(ids(&dry), ids(&hits));
    let dry_lexical = env.json(&[
        "search", QUESTION, "--as", "claude", "--mode", "lexical", "--json",
    ]);
    assert!(!ids(&dry_lexical).contains(&tea));
    s.cancel().await.unwrap();

    // Without a model, meaning cannot be asked for, and the error says how.
    env.ok(&["model", "use", "none"]);
    let err = env.fails(&["search", QUESTION, "--mode", "semantic"]);
    assert_one_line_error(&err, "ctxvault model install");
    assert!(env.ok(&["status"]).contains("model:  none"));
    env.ok(&["model", "use", "all-minilm-l6-v2"]);
    let hits = env.json(&[
        "search", QUESTION, "--mode", "semantic", "--json", "--limit", "2",
    ]);
    assert!(ids(&hits).contains(&tea), "{hits}");
}

async fn db(env: &Env) -> SqliteConnection {
    SqliteConnection::connect(&format!("sqlite://{}", env.db().display()))
        .await
        .unwrap()
}

#[tokio::test]
async fn kill_during_background_embedding_then_resume() {
    let env = Env::new();
    env.init().install_model();
    // A bulk import (over 256 items) is embedded in the background.
    let lines: String = (0..600)
        .map(|i| format!("Note {i} zqxkillmarker about the garden, the kitchen and trip {i}\n"))
        .collect();
    let file = env.tmp.path().join("notes.txt");
    std::fs::write(&file, lines).unwrap();
    env.ok(&["import", file.to_str().unwrap()]);
    let start = Instant::now();
    let seen = loop {
        let s = env.status();
        let done = s["model"]["embedded"].as_u64().unwrap();
        if done > 0 && done < 600 {
            break done;
        }
        assert!(done < 600, "embedding finished before the kill: {s}");
        assert!(start.elapsed() < Duration::from_secs(60), "{s}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(env.ok(&["status"]).contains("embedding "), "progress shown");
    env.kill_agent();
    // The next command starts an agent, which unlocks and resumes.
    env.ok(&["unlock"]);
    let s = wait_embedded(&env);
    assert_eq!(s["model"]["items"], 600);
    let model = s["model"]["id"].as_str().unwrap().to_owned();
    // The text embedded is the one the scan below looks for.
    let own = "memories: Note 0 zqxkillmarker about the garden, the kitchen and trip 0";
    let hit = env.json(&[
        "search", own, "--mode", "semantic", "--json", "--limit", "1",
    ]);
    assert!(
        hit[0]["body"].as_str().unwrap().starts_with("Note 0 "),
        "{hit}"
    );
    assert!(
        hit[0]["engines"]["semantic"].as_f64().unwrap() > 0.98,
        "{hit}"
    );
    env.ok(&["stop"]);
    env.wait_agent_gone();
    let mut c = db(&env).await;
    let (n, distinct): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT item) FROM vectors WHERE model = ?")
            .bind(&model)
            .fetch_one(&mut c)
            .await
            .unwrap();
    assert_eq!((n, distinct), (600, 600), "each item embedded once");
    let stale: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM vectors v JOIN items i ON i.rowid = v.item WHERE v.version <> i.version",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!(stale, 0);
    let ok: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(ok, "ok");
    assert!(seen > 0);
    drop(c);
    // Nothing unsealed on disk after the kill either.
    let model = embedder::Embedder::from_dir(&test_model()).unwrap();
    let first = model
        .embed(&["memories: Note 0 zqxkillmarker about the garden, the kitchen and trip 0"])
        .unwrap();
    assert_nothing_unsealed(&env, &["zqxkillmarker", "the kitchen"], &first);
}

#[tokio::test]
async fn vectors_are_sealed_and_bound_to_their_item() {
    let env = Env::new();
    env.init().install_model();
    let a = env.add(&["zqxvecmarker the first private note about sailing"]);
    let b = env.add(&["zqxvecmarker2 the second private note about baking bread"]);
    // A second model (the same weights under another name: another id).
    env.ok(&[
        "model",
        "install",
        test_model().to_str().unwrap(),
        "--name",
        "minilm-copy",
    ]);
    let s = wait_embedded(&env);
    assert_eq!(s["model"]["name"], "minilm-copy");
    env.json(&["search", "sailing", "--json", "--mode", "semantic"]);
    env.ok(&["stop"]);
    env.wait_agent_gone();

    // The vectors as the model makes them, in every encoding a file could
    // hold them: none appears in any file under the vault directory.
    let model = embedder::Embedder::from_dir(&test_model()).unwrap();
    let texts = [
        "notes: zqxvecmarker the first private note about sailing",
        "notes: zqxvecmarker2 the second private note about baking bread",
    ];
    let vectors = model.embed(&texts).unwrap();
    assert_nothing_unsealed(&env, &["zqxvecmarker", "sailing", "baking bread"], &vectors);

    // Vectors of both models are stored; flip a byte of one, move another
    // to the other item: neither opens, and both are made again.
    let mut c = db(&env).await;
    let rows: Vec<(i64, String, Vec<u8>)> =
        sqlx::query_as("SELECT item, model, sealed FROM vectors ORDER BY item, model")
            .fetch_all(&mut c)
            .await
            .unwrap();
    assert_eq!(rows.len(), 4, "two items, two models");
    let copy: Vec<&(i64, String, Vec<u8>)> = rows
        .iter()
        .filter(|r| r.1.starts_with("minilm-copy"))
        .collect();
    let (item_a, item_b) = (copy[0].0, copy[1].0);
    let mut flipped = copy[0].2.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x01;
    sqlx::query("UPDATE vectors SET sealed = ? WHERE item = ? AND model = ?")
        .bind(&flipped)
        .bind(item_a)
        .bind(&copy[0].1)
        .execute(&mut c)
        .await
        .unwrap();
    // Item b gets item a's (other model's) intact blob, relabelled.
    let other_a = rows
        .iter()
        .find(|r| r.0 == item_a && !r.1.starts_with("minilm-copy"))
        .unwrap();
    sqlx::query("UPDATE vectors SET sealed = ? WHERE item = ? AND model = ?")
        .bind(&other_a.2)
        .bind(item_b)
        .bind(&copy[1].1)
        .execute(&mut c)
        .await
        .unwrap();
    drop(c);
    env.ok(&["unlock"]);
    wait_embedded(&env);
    let log = std::fs::read_to_string(env.vault.join("agent.log")).unwrap();
    assert!(
        log.contains("vectors failed authentication") && log.contains("count=2"),
        "{log}"
    );
    let hits = env.json(&[
        "search",
        "boats and the sea",
        "--mode",
        "semantic",
        "--json",
        "--limit",
        "1",
    ]);
    assert_eq!(ids(&hits), vec![a.clone()], "made again: {hits}");
    let hits = env.json(&[
        "search",
        "making a loaf",
        "--mode",
        "semantic",
        "--json",
        "--limit",
        "1",
    ]);
    assert_eq!(ids(&hits), vec![b], "{hits}");
}

/// No marker text and no vector (as f32 or f16, little-endian: its first
/// eight values) in any file under the vault directory.
fn assert_nothing_unsealed(env: &Env, markers: &[&str], vectors: &[Vec<f32>]) {
    let mut files = Vec::new();
    walk(&env.vault, &mut files);
    assert!(files.iter().any(|f| f.ends_with("vault.db")));
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for marker in markers {
            assert!(
                !contains(&bytes, marker.as_bytes()),
                "{marker} in {}",
                f.display()
            );
        }
        for v in vectors {
            let f32le: Vec<u8> = v[..8].iter().flat_map(|x| x.to_le_bytes()).collect();
            let f16le: Vec<u8> = v[..8]
                .iter()
                .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
                .collect();
            assert!(
                !contains(&bytes, &f32le),
                "an f32 vector in {}",
                f.display()
            );
            assert!(
                !contains(&bytes, &f16le),
                "an f16 vector in {}",
                f.display()
            );
        }
    }
}

fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn model_install_refuses_bad_models_and_changes_nothing() {
    let env = Env::new();
    env.init().install_model();
    let before = (
        env.ok(&["model", "ls", "--json"]),
        env.status()["model"].clone(),
    );
    let tmp = env.tmp.path();
    let missing = tmp.join("no-such-model");
    let not_model = tmp.join("notes.txt");
    std::fs::write(&not_model, "just some text").unwrap();
    let junk_dir = tmp.join("junk");
    std::fs::create_dir(&junk_dir).unwrap();
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::write(junk_dir.join(f), "{}").unwrap();
    }
    // The real weights with a config that claims another width.
    let wide = tmp.join("wide");
    std::fs::create_dir(&wide).unwrap();
    for f in ["tokenizer.json", "model.safetensors"] {
        std::fs::copy(test_model().join(f), wide.join(f)).unwrap();
    }
    let config = std::fs::read_to_string(test_model().join("config.json")).unwrap();
    std::fs::write(
        wide.join("config.json"),
        config.replace("\"hidden_size\": 384", "\"hidden_size\": 512"),
    )
    .unwrap();
    let model = test_model();
    let model = model.to_str().unwrap();
    let zeros = "0".repeat(64);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![missing.to_str().unwrap()], "no model at"),
        (vec![not_model.to_str().unwrap()], "not a zip archive"),
        (
            vec![junk_dir.to_str().unwrap()],
            "not a sentence-embedding model",
        ),
        (
            vec![wide.to_str().unwrap(), "--name", "wide"],
            "does not match config.json",
        ),
        (
            vec![model, "--name", "other", "--dim", "512"],
            "not 512 as --dim says",
        ),
        (
            vec![model, "--name", "other", "--sha256", &zeros],
            "checksum mismatch",
        ),
        (vec![model, "--name", "Bad Name"], "invalid model name"),
    ];
    for (args, needle) in cases {
        let mut all = vec!["model", "install"];
        all.extend(args);
        let err = env.fails(&all);
        assert_one_line_error(&err, needle);
        assert_eq!(
            (
                env.ok(&["model", "ls", "--json"]),
                env.status()["model"].clone()
            ),
            before,
            "{all:?} changed the models"
        );
    }
    let err = env.fails(&["model", "use", "nonesuch"]);
    assert_one_line_error(&err, "no model named nonesuch");
    // The right checksum is accepted.
    let sha = ring_sha256(&std::fs::read(test_model().join("model.safetensors")).unwrap());
    env.ok(&[
        "model", "install", model, "--name", "checked", "--sha256", &sha, "--dim", "384",
    ]);
    assert_eq!(env.status()["model"]["name"], "checked");
}

fn ring_sha256(b: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, b)
        .as_ref()
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// What client `who` sees for each query in every mode.
fn observe_modes(env: &Env, who: &str, queries: &[&str]) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for q in queries {
        for mode in ["lexical", "semantic", "hybrid"] {
            let hits = env.json(&[
                "search", q, "--as", who, "--mode", mode, "--limit", "50", "--json",
            ]);
            out.insert(format!("{mode}: {q}"), hits);
        }
        let default = env.json(&["search", q, "--as", who, "--json"]);
        out.insert(format!("default: {q}"), default);
    }
    serde_json::Value::Object(out)
}

#[test]
fn hidden_items_change_nothing_in_any_mode() {
    const NS: [&str; 5] = ["work/acme", "health", "profile", "home/kids", "notes"];
    const TEXT: [&str; 8] = [
        "morning tea in the garden",
        "coffee with the team before the launch",
        "the kids love the garden swing",
        "doctor appointment about pollen allergy",
        "green tea and a quiet morning",
        "launch plan for the garden product",
        "piano lessons on thursday",
        "salary review and the bank",
    ];
    let queries = [
        "what do I drink in the morning",
        "garden",
        "launch plan",
        "tea*",
    ];
    for seed in [7u64, 0x9e37_79b9] {
        let mut x = seed;
        let mut next = move |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        let env = Env::new();
        env.init().install_model();
        env.ok(&["client", "add", "a"]);
        env.ok(&["client", "add", "b"]);
        // Client a reads work/** and profile (normal only); b reads more.
        env.ok(&["grant", "a", "work/**"]);
        env.ok(&["grant", "a", "profile"]);
        env.ok(&["grant", "b", "**", "--max-sensitivity", "private"]);
        let mut hidden = Vec::new();
        for i in 0..24 {
            let ns = NS[next(NS.len())];
            let private = next(3) == 0;
            let text = format!("{} {}", TEXT[next(TEXT.len())], TEXT[next(TEXT.len())]);
            let mut args = vec!["--ns", ns, "--tag"];
            let tag = format!("t{}", i % 5);
            args.push(&tag);
            if private {
                args.extend(["--sensitivity", "private"]);
            }
            args.push(&text);
            let id = env.add(&args);
            let visible = (ns == "work/acme" || ns == "profile") && !private;
            if !visible {
                hidden.push(id);
            }
        }
        // b searches too, so more than one view is registered.
        observe_modes(&env, "b", &queries[..1]);
        let with_hidden = observe_modes(&env, "a", &queries);
        assert!(!hidden.is_empty());
        let mut rm = vec!["rm"];
        rm.extend(hidden.iter().map(String::as_str));
        env.ok(&rm);
        let without = observe_modes(&env, "a", &queries);
        assert_eq!(
            with_hidden, without,
            "seed {seed}: a hidden item changed what a client sees"
        );
        let seen = with_hidden["semantic: what do I drink in the morning"]
            .as_array()
            .unwrap()
            .len();
        assert!(seen > 0);
    }
}

/// Rekey reseals the vectors under the new key: they open after it, and
/// nothing is embedded again.
#[tokio::test]
async fn rekey_reseals_vectors() {
    let env = Env::new();
    env.init().install_model();
    let tea = env.add(&["--ns", "profile", TEA]);
    distractors(&env);
    env.ok(&["stop"]);
    env.wait_agent_gone();
    let before = vector_blobs(&env).await;
    assert_eq!(before.len(), 6);
    env.ok(&["rekey"]);
    env.ok(&["stop"]);
    env.wait_agent_gone();
    let after = vector_blobs(&env).await;
    assert_eq!(after.len(), 6, "every vector kept");
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b.0, a.0);
        assert_ne!(b.1, a.1, "resealed under the new key");
    }
    env.ok(&["unlock"]);
    let s = env.status();
    assert_eq!(s["model"]["embedded"], 6, "nothing to embed again: {s}");
    let log = std::fs::read_to_string(env.vault.join("agent.log")).unwrap();
    assert!(!log.contains("vectors failed authentication"), "{log}");
    let hits = env.json(&[
        "search", QUESTION, "--mode", "semantic", "--json", "--limit", "1",
    ]);
    assert_eq!(ids(&hits), vec![tea]);
}

async fn vector_blobs(env: &Env) -> Vec<(i64, Vec<u8>)> {
    sqlx::query_as("SELECT item, sealed FROM vectors ORDER BY item")
        .fetch_all(&mut db(env).await)
        .await
        .unwrap()
}
