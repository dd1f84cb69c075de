//! History import through the real binary: ChatGPT's and Claude's data
//! exports (as zips and as their conversations.json) and chat transcripts
//! from the fixtures in tests/fixtures/history; re-import of a later export;
//! what a granted and an ungranted client find over MCP; bad input; and the
//! memory an import of a 200 MB export takes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};

use ctxvault_tests::{Env, assert_one_line_error};

mod common;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/history")
        .join(name)
}

/// A zip of `files` (name in the zip, file on disk), deflated as the
/// providers' downloads are.
fn zip_of(env: &Env, name: &str, files: &[(&str, PathBuf)]) -> PathBuf {
    let path = env.tmp.path().join(name);
    let mut z = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (n, f) in files {
        z.start_file(*n, opts).unwrap();
        z.write_all(&std::fs::read(f).unwrap()).unwrap();
    }
    z.finish().unwrap();
    path
}

fn chatgpt_zip(env: &Env, name: &str, dir: &str) -> PathBuf {
    zip_of(
        env,
        name,
        &[
            (
                "conversations.json",
                fixture(&format!("{dir}/conversations.json")),
            ),
            ("user.json", fixture("chatgpt/user.json")),
            ("chat.html", fixture("chatgpt/user.json")),
        ],
    )
}

fn history(env: &Env, ns: &str) -> Vec<serde_json::Value> {
    env.json(&["ls", "--ns", ns, "--json"])
        .as_array()
        .unwrap()
        .clone()
}

fn import(env: &Env, path: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["import", path.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    env.json(&args)
}

#[test]
fn chatgpt_export_imports_once_and_a_later_one_adds_only_new_turns() {
    let env = Env::new();
    env.init();
    let zip = chatgpt_zip(&env, "chatgpt-export.zip", "chatgpt");

    // Dry run: the counts and the date range, nothing written.
    let dry = import(&env, &zip, &["--dry-run"]);
    assert_eq!(dry["format"], "chatgpt");
    assert_eq!(dry["conversations"], 3);
    assert_eq!(dry["messages"], 8);
    assert_eq!(dry["chunks"], 5);
    assert_eq!(dry["added"], 5);
    assert_eq!(dry["first"], "2024-05-01");
    assert_eq!(dry["last"], "2025-01-01");
    assert!(history(&env, "history").is_empty(), "a dry run wrote");
    let line = env.ok(&["import", zip.to_str().unwrap(), "--dry-run"]);
    assert!(
        line.starts_with("would import 5 of 5 items: 5 chunks of 3 conversations (8 messages), 2024-05-01 to 2025-01-01"),
        "{line}"
    );

    let s = import(&env, &zip, &[]);
    assert_eq!(
        (s["added"].as_u64(), s["duplicates"].as_u64()),
        (Some(5), Some(0))
    );
    let items = history(&env, "history/chatgpt");
    assert_eq!(items.len(), 5);
    let lisbon: Vec<&serde_json::Value> = items
        .iter()
        .filter(|i| i["title"] == "Lisbon trip")
        .collect();
    assert_eq!(lisbon.len(), 2);
    for i in &items {
        assert_eq!(i["source"], "import:chatgpt");
        assert_eq!(i["sensitivity"], "private");
        assert_eq!(i["kind"], "conversation");
    }
    let first = env.json(&["get", lisbon[0]["id"].as_str().unwrap(), "--json"]);
    assert_eq!(first["created_at"], "2024-05-01T10:00:00Z");
    assert_eq!(first["namespace"], "history/chatgpt/2024");
    let body = first["body"].as_str().unwrap();
    assert!(
        body.starts_with("User: I'm planning a trip to Lisbon in June. Olá!"),
        "{body}"
    );
    // The current branch only: the abandoned edit is not there.
    let all: String = items
        .iter()
        .map(|i| env.json(&["get", i["id"].as_str().unwrap(), "--json"])["body"].to_string())
        .collect();
    assert!(!all.contains("Porto"), "an abandoned branch was imported");
    assert!(!all.contains("print(120*7)"), "a tool call was imported");
    let next = lisbon[1]["id"].as_str().unwrap().replace('-', "");
    assert!(body.ends_with(&format!("next: {next})")), "{body}");
    // The link opens the next chunk.
    assert_eq!(env.json(&["get", &next, "--json"])["id"], lisbon[1]["id"]);

    // Twice: nothing changes.
    let again = import(&env, &zip, &[]);
    assert_eq!(
        (again["added"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(5))
    );
    // A later export of the same account: the new turn and the new
    // conversation only.
    let later = chatgpt_zip(&env, "chatgpt-export-later.zip", "chatgpt-v2");
    let s = import(&env, &later, &[]);
    assert_eq!(
        (s["added"].as_u64(), s["duplicates"].as_u64()),
        (Some(2), Some(4))
    );
    // The chunk that was last now links to the new turn; nothing else of
    // it changed.
    assert_eq!(s["linked"], 1);
    let was_last = env.json(&["get", lisbon[1]["id"].as_str().unwrap(), "--json"]);
    let text = was_last["body"].as_str().unwrap();
    assert!(
        text.contains("Pastéis de nata") && text.contains("; next: "),
        "{text}"
    );
    assert_eq!(was_last["created_at"], "2024-05-01T10:01:30Z");
    // The older export again takes nothing back.
    let old = import(&env, &zip, &[]);
    assert_eq!(
        (old["added"].as_u64(), old["linked"].as_u64()),
        (Some(0), Some(0))
    );
    let items = history(&env, "history/chatgpt");
    assert_eq!(items.len(), 7);
    assert_eq!(items.iter().filter(|i| i["title"] == "Garden").count(), 1);

    // The bare conversations.json reads the same.
    let bare = import(&env, &fixture("chatgpt-v2/conversations.json"), &[]);
    assert_eq!(
        (bare["added"].as_u64(), bare["duplicates"].as_u64()),
        (Some(0), Some(7))
    );
}

#[test]
fn claude_export_with_projects_and_memories_and_transcripts_import() {
    let env = Env::new();
    env.init();
    let files: Vec<(&str, PathBuf)> = [
        "conversations.json",
        "projects.json",
        "memories.json",
        "users.json",
    ]
    .iter()
    .map(|f| (*f, fixture(&format!("claude/{f}"))))
    .collect();
    let zip = zip_of(&env, "data-claude.zip", &files);
    let s = import(&env, &zip, &[]);
    assert_eq!(s["format"], "claude");
    assert_eq!(
        (s["conversations"].as_u64(), s["messages"].as_u64()),
        (Some(3), Some(6))
    );
    assert_eq!(
        (s["chunks"].as_u64(), s["notes"].as_u64()),
        (Some(3), Some(4))
    );
    assert_eq!(s["added"], 7);
    let convs = history(&env, "history/claude/2024");
    let titles: Vec<&str> = convs.iter().map(|i| i["title"].as_str().unwrap()).collect();
    assert_eq!(
        titles,
        [
            "Morning routine",
            "Morning routine",
            "Zürich job application"
        ]
    );
    assert_eq!(history(&env, "history/claude/projects").len(), 2);
    let memory = history(&env, "history/claude/memory");
    assert_eq!(memory.len(), 2);
    assert!(
        memory
            .iter()
            .all(|m| m["source"] == "import:claude" && m["kind"] == "memory")
    );
    // The newest of two answers only.
    let second = env.json(&["get", convs[1]["id"].as_str().unwrap(), "--json"]);
    let body = second["body"].as_str().unwrap();
    assert!(
        body.contains("Genmaicha: toasted rice, mild and nutty."),
        "{body}"
    );
    assert!(!body.contains("Sencha, mostly"), "{body}");
    // Its conversations.json alone, with the other files beside it.
    let again = import(&env, &fixture("claude/conversations.json"), &[]);
    assert_eq!(
        (again["added"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(7))
    );

    let t = import(&env, &fixture("transcript.jsonl"), &["--tag", "chat"]);
    assert_eq!(t["format"], "transcript");
    assert_eq!(
        (t["conversations"].as_u64(), t["added"].as_u64()),
        (Some(2), Some(2))
    );
    let items = history(&env, "history/transcript");
    assert_eq!(items[0]["title"], "Birthdays");
    assert_eq!(items[0]["tags"], serde_json::json!(["chat"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_history_is_found_by_a_granted_client_only() {
    let env = Env::new();
    env.init();
    import(&env, &chatgpt_zip(&env, "export.zip", "chatgpt-v2"), &[]);
    let hits = env.json(&["search", "which neighbourhood Lisbon", "--json"]);
    assert!(hits.to_string().contains("Alfama"), "{hits}");

    let granted = common::add_client(&env, "historian");
    env.ok(&[
        "grant",
        "historian",
        "history/**",
        "--max-sensitivity",
        "private",
    ]);
    let other = common::add_client(&env, "worker");
    env.ok(&["grant", "worker", "work/**", "--max-sensitivity", "private"]);
    // Granted everything, but not private: history stays hidden.
    let normal = common::add_client(&env, "everything");
    env.ok(&["grant", "everything", "**"]);

    let q = serde_json::json!({"query": "tomatoes yellow leaves"});
    let s = common::stdio(&env, "historian", &granted).await;
    let hits = common::json(&common::call(&s, "search_context", q.clone()).await);
    assert_eq!(hits.as_array().unwrap().len(), 1, "{hits}");
    assert!(
        hits[0]["snippet"].as_str().unwrap().contains("tomatoes"),
        "{hits}"
    );
    s.cancel().await.unwrap();
    for (name, token) in [("worker", &other), ("everything", &normal)] {
        let s = common::stdio(&env, name, token).await;
        let hits = common::json(&common::call(&s, "search_context", q.clone()).await);
        assert_eq!(hits, serde_json::json!([]), "{name} saw history");
        s.cancel().await.unwrap();
    }
}

#[test]
fn bad_exports_are_named_with_their_position_and_write_nothing() {
    let env = Env::new();
    env.init();
    env.add(&["a note"]);
    let before = env.json(&["ls", "--json"]);
    let tmp = env.tmp.path();
    let check = |path: &Path, needle: &str| {
        let e = env.fails(&["import", path.to_str().unwrap()]);
        assert_one_line_error(&e, needle);
        assert!(
            e.contains(path.file_name().unwrap().to_str().unwrap()),
            "{e}"
        );
        assert_eq!(env.json(&["ls", "--json"]), before, "{path:?} wrote");
    };

    // A zip that is not an export.
    let other = zip_of(
        &env,
        "photos.zip",
        &[("a.txt", fixture("transcript.jsonl"))],
    );
    check(&other, "not a ChatGPT or Claude data export");
    // A zip cut short.
    let good = chatgpt_zip(&env, "good.zip", "chatgpt");
    let bytes = std::fs::read(&good).unwrap();
    let cut = tmp.join("cut.zip");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    check(&cut, "damaged or truncated");
    // Truncated JSON: its line and column, after good conversations (none
    // of them written).
    let text = std::fs::read_to_string(fixture("chatgpt-v2/conversations.json")).unwrap();
    let trunc = tmp.join("conversations.json");
    std::fs::write(&trunc, &text[..text.len() - 400]).unwrap();
    check(&trunc, "the file ends early");
    let e = env.fails(&["import", trunc.to_str().unwrap()]);
    assert!(e.contains(": line "), "{e}");
    // An export of a version ctxvault does not know: a conversation
    // without its message tree, after a good one.
    let v: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let mut odd = v[1].clone();
    odd.as_object_mut().unwrap().remove("mapping");
    odd["messages"] = serde_json::json!([{"role": "user", "text": "hi"}]);
    let unknown = tmp.join("unknown.json");
    std::fs::write(
        &unknown,
        serde_json::to_string(&vec![v[0].clone(), odd]).unwrap(),
    )
    .unwrap();
    check(
        &unknown,
        "not ChatGPT conversations of a version ctxvault knows",
    );
    let e = env.fails(&["import", unknown.to_str().unwrap()]);
    assert!(
        e.contains("missing field `mapping`") && e.contains("line 1 column"),
        "{e}"
    );
    // A JSON array of something else, alone.
    check(
        &fixture("claude/memories.json"),
        "a JSON array, but not ChatGPT or Claude conversations",
    );
    // Neither kind at all.
    let neither = zip_of(
        &env,
        "neither.zip",
        &[("conversations.json", fixture("claude/users.json"))],
    );
    check(&neither, "neither a ChatGPT nor a Claude export");
    // A transcript with a bad line.
    let bad = tmp.join("chat.jsonl");
    std::fs::write(
        &bad,
        "{\"role\":\"user\",\"content\":\"hi\"}\n{\"role\":\"user\"\n",
    )
    .unwrap();
    check(&bad, "chat.jsonl:2: not a chat message");
    // Options that cannot apply.
    let e = env.fails(&["import", good.to_str().unwrap(), "--ns", "x"]);
    assert_one_line_error(&e, "--ns does not apply");
    assert_eq!(env.json(&["ls", "--json"]), before);
}

#[test]
fn a_200_mb_export_imports_in_under_200_mb_of_memory() {
    let env = Env::new();
    env.init();
    let path = env.tmp.path().join("conversations.json");
    // 8,000 conversations of 8 turns, 900-character messages: 128,000
    // messages, about 200 MB with the metadata each node carries.
    let messages = ctxvault_tests::chatgpt_export::write(&path, 8_000, 8, 900);
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size >= 200_000_000, "the export is only {size} bytes");
    let agent = env.agent_pid().expect("the agent runs");
    let s = import(&env, &path, &[]);
    assert_eq!(s["messages"].as_u64(), Some(messages));
    assert_eq!(s["added"], s["chunks"]);
    // The CLI's peak (the largest of the children waited for) and the
    // agent's.
    let cli = ctxvault_tests::children_peak_rss_kb();
    let agent = ctxvault_tests::peak_rss_kb(agent);
    eprintln!(
        "200 MB export: CLI peak {} MB, agent peak {} MB",
        cli >> 10,
        agent >> 10
    );
    assert!(cli + agent < 200 * 1024, "CLI {cli} kB + agent {agent} kB");
}
