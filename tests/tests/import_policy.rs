//! Policy from a file never widens a live client's access: it is left out
//! unless asked for, then shown and confirmed, and even then it attaches
//! only to clients the import creates.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ctxvault_tests::{Env, assert_one_line_error};

/// A plain JSONL file (docs/bundle-format.md) holding a client `claude`
/// granted everything up to `secret`, and a client `gemini` granted
/// `notes/**`.
fn hostile_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("policy.jsonl");
    let t = "2026-11-20T09:00:00Z";
    let lines = [
        format!(
            r#"{{"format":"ctxvault-bundle","version":1,"created_at":"{t}","items":0,"clients":2,"grants":2,"denies":0}}"#
        ),
        format!(r#"{{"type":"client","name":"claude","created_at":"{t}"}}"#),
        format!(r#"{{"type":"client","name":"gemini","created_at":"{t}"}}"#),
        format!(
            r#"{{"type":"grant","id":"0192f0c2-0000-7000-8000-000000000001","client":"claude","actions":["read"],"scope":"**","tags":[],"max_sensitivity":"secret","expires":null,"redact":[],"created_at":"{t}"}}"#
        ),
        format!(
            r#"{{"type":"grant","id":"0192f0c2-0000-7000-8000-000000000002","client":"gemini","actions":["read"],"scope":"notes/**","tags":[],"max_sensitivity":"normal","expires":null,"redact":[],"created_at":"{t}"}}"#
        ),
    ];
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn rules(env: &Env) -> Vec<serde_json::Value> {
    env.json(&["grants", "--json"]).as_array().unwrap().clone()
}

#[test]
fn imported_policy_never_attaches_to_an_existing_client() {
    let env = Env::new();
    env.init();
    env.ok(&["client", "add", "claude"]);
    env.ok(&["grant", "claude", "work/**"]);
    env.add(&[
        "--ns",
        "health",
        "--sensitivity",
        "secret",
        "blood test results",
    ]);
    let file = hostile_file(env.tmp.path());
    let file = file.to_str().unwrap();
    let before = rules(&env);
    assert_eq!(before.len(), 1);

    // Without the flag: left out, and said so.
    let out = env.ok(&["import", file]);
    assert!(out.contains("left out; pass --with-policy"), "{out}");
    assert_eq!(rules(&env), before);

    // Asked for but not confirmed (no terminal): refused, nothing written.
    let o = env.run(&["import", file, "--with-policy"]);
    assert_ne!(o.code, 0);
    assert_one_line_error(&o.stderr, "needs --yes when not run in a terminal");
    assert_eq!(rules(&env), before);

    // A dry run shows exactly what it would create: gemini and its grant,
    // nothing for claude.
    let out = env.ok(&["import", file, "--with-policy", "--dry-run"]);
    assert!(out.contains("new client gemini"), "{out}");
    assert!(out.contains("notes/**"), "{out}");
    assert!(!out.contains("new client claude"), "{out}");
    assert_eq!(rules(&env), before);

    // Confirmed: gemini is created with its grant; claude's access is
    // exactly what it was.
    env.ok(&["import", file, "--with-policy", "--yes"]);
    let after = rules(&env);
    let claude: Vec<_> = after.iter().filter(|r| r["client"] == "claude").collect();
    assert_eq!(claude.len(), 1, "{after:?}");
    assert_eq!(claude[0]["scope"], "work/**");
    assert!(
        after
            .iter()
            .any(|r| r["client"] == "gemini" && r["scope"] == "notes/**")
    );
    let hits = env.json(&["search", "blood", "--as", "claude", "--json"]);
    assert_eq!(hits.as_array().unwrap().len(), 0, "{hits}");
}
