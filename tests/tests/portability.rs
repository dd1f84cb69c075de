//! Take everything and leave, bring everything in: bundle, JSONL and
//! Markdown round trips through the real binary, the bundle read by the
//! `age` tool and a plain JSON parser, the MCP memory server's file, bad
//! input, and passwd.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use ctxvault_tests::{Env, PASS, assert_one_line_error};

const BUNDLE_PASS: &str = "bundle passphrase";

fn with_bundle_pass(env: &Env, args: &[&str]) -> ctxvault_tests::Out {
    let mut c = env.cmd(args);
    c.env("CTXVAULT_PASSPHRASE", PASS)
        .env("CTXVAULT_BUNDLE_PASSPHRASE", BUNDLE_PASS);
    c.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    c.output().unwrap().into()
}

/// A vault with varied items (an edited one, unicode, tags, sensitivities)
/// and a client with rules.
fn populated() -> Env {
    let env = Env::new();
    env.init();
    let a = env.add(&[
        "--ns",
        "work/acme",
        "--tag",
        "q3",
        "--tag",
        "planning",
        "--title",
        "Roadmap ü",
        "Ship it\nin October",
    ]);
    env.ok(&[
        "edit",
        &a,
        "--sensitivity",
        "private",
        "Ship it\nin November 🙂",
    ]);
    env.add(&[
        "--ns",
        "profile",
        "--kind",
        "preference",
        "Short answers, code first",
    ]);
    env.add(&[
        "--ns",
        "health",
        "--sensitivity",
        "secret",
        "--",
        "---\nnot: front matter\n---",
    ]);
    env.add(&["--ns", "notes", "- a list item\n- another"]);
    env.ok(&["client", "add", "claude"]);
    env.ok(&["grant", "claude", "work/**", "--redact", "email"]);
    env.ok(&["deny", "claude", "work/secret"]);
    env
}

fn items(env: &Env) -> serde_json::Value {
    env.json(&["ls", "--json"])
}

#[test]
fn bundle_jsonl_and_markdown_round_trips() {
    let src = populated();
    let want = items(&src);
    let dir = src.tmp.path();
    let bundle = dir.join("all.bundle");
    let o = with_bundle_pass(
        &src,
        &["export", "--out", bundle.to_str().unwrap(), "--with-policy"],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    src.ok(&[
        "export",
        "--plain",
        "--include-secret",
        "--out",
        dir.join("all.jsonl").to_str().unwrap(),
    ]);
    src.ok(&[
        "export",
        "--plain",
        "--include-secret",
        "--format",
        "markdown",
        "--out",
        dir.join("md").to_str().unwrap(),
    ]);

    for (name, path) in [
        ("bundle", bundle.clone()),
        ("jsonl", dir.join("all.jsonl")),
        ("markdown", dir.join("md")),
    ] {
        let dst = Env::new();
        dst.init();
        let o = with_bundle_pass(
            &dst,
            &["import", path.to_str().unwrap(), "--with-policy", "--yes"],
        );
        assert_eq!(o.code, 0, "{name}: {}", o.stderr);
        assert_eq!(
            items(&dst),
            want,
            "{name}: items differ after the round trip"
        );
        // Twice: nothing changes.
        let o = with_bundle_pass(&dst, &["import", path.to_str().unwrap()]);
        assert!(
            o.stdout.contains("imported 0 of 4") && o.stdout.contains("4 duplicates skipped"),
            "{}",
            o.stdout
        );
        assert_eq!(items(&dst), want);
        if name == "bundle" {
            let rules = dst.json(&["grants", "--json"]);
            assert_eq!(rules.as_array().unwrap().len(), 2, "{rules}");
            assert_eq!(dst.json(&["client", "ls", "--json"])[0]["name"], "claude");
        }
    }
}

#[test]
fn the_spec_is_real_age_and_plain_json() {
    use age::secrecy::ExposeSecret;
    let src = populated();
    let id = age::x25519::Identity::generate();
    let key = src.tmp.path().join("key.txt");
    std::fs::write(&key, format!("{}\n", id.to_string().expose_secret())).unwrap();
    let bundle = src.tmp.path().join("to-key.bundle");
    let recipient = id.to_public().to_string();
    src.ok(&[
        "export",
        "--out",
        bundle.to_str().unwrap(),
        "--recipient",
        &recipient,
        "--with-policy",
    ]);

    // The age command-line tool decrypts it (no ctxvault code involved).
    let out = Command::new("age")
        .args(["-d", "-i", key.to_str().unwrap(), bundle.to_str().unwrap()])
        .output()
        .expect("the age tool (Debian package `age`) is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    // Parse per docs/bundle-format.md with a plain JSON parser.
    let lines: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let header = &lines[0];
    assert_eq!(header["format"], "ctxvault-bundle");
    assert_eq!(header["version"], 1);
    assert!(header["created_at"].is_string());
    let count = |t: &str| lines[1..].iter().filter(|l| l["type"] == t).count() as u64;
    for (field, t) in [
        ("items", "item"),
        ("clients", "client"),
        ("grants", "grant"),
        ("denies", "deny"),
    ] {
        assert_eq!(header[field].as_u64(), Some(count(t)), "{field}");
    }
    for item in lines[1..].iter().filter(|l| l["type"] == "item") {
        for f in [
            "id",
            "namespace",
            "kind",
            "title",
            "body",
            "tags",
            "sensitivity",
            "source",
            "created_at",
            "updated_at",
            "version",
        ] {
            assert!(item.get(f).is_some(), "item lacks {f}: {item}");
        }
    }
    let client = lines.iter().find(|l| l["type"] == "client").unwrap();
    assert_eq!(client["name"], "claude");
    assert!(!text.contains("cvt_"), "a bundle never holds a token");
    let grant = lines.iter().find(|l| l["type"] == "grant").unwrap();
    assert_eq!(grant["scope"], "work/**");
    assert_eq!(grant["redact"], serde_json::json!(["email"]));

    // And our import opens it with the identity.
    let dst = Env::new();
    dst.init();
    dst.ok(&[
        "import",
        bundle.to_str().unwrap(),
        "--identity",
        key.to_str().unwrap(),
    ]);
    assert_eq!(items(&dst), items(&src));
}

#[test]
fn mcp_memory_server_file() {
    let env = Env::new();
    env.init();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/mcp-memory.jsonl");
    let out = env.ok(&["import", fixture]);
    assert!(
        out.contains("imported 3 of 3") && out.contains("(the MCP memory server's memory file)"),
        "{out}"
    );
    let got = env.json(&["ls", "--ns", "memory", "--json"]);
    let ada = got
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["title"] == "Ada Lovelace")
        .unwrap();
    assert_eq!(ada["kind"], "person");
    assert_eq!(ada["source"], "import:mcp-memory");
    let body = ada["body"].as_str().unwrap();
    assert!(body.contains("- Prefers concise answers"), "{body}");
    assert!(
        body.contains("- Ada Lovelace works_at Babbage Labs"),
        "{body}"
    );
    let engine = got
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["title"] == "Difference Engine")
        .unwrap();
    assert!(
        engine["body"]
            .as_str()
            .unwrap()
            .contains("- Ada Lovelace leads Difference Engine")
    );
    assert_eq!(
        env.json(&["search", "brass gears", "--json"])[0]["title"],
        "Difference Engine"
    );
    let again = env.ok(&["import", fixture]);
    assert!(again.contains("3 duplicates skipped"), "{again}");
    // --ns and --tag.
    let out = env.ok(&[
        "import",
        fixture,
        "--ns",
        "people",
        "--tag",
        "imported",
        "--dry-run",
    ]);
    assert!(out.contains("would import 3 of 3"), "{out}");
    assert!(
        env.json(&["ls", "--ns", "people", "--json"])
            .as_array()
            .unwrap()
            .is_empty(),
        "dry run wrote nothing"
    );
}

#[test]
fn lines_from_assistant_memory_settings() {
    let env = Env::new();
    env.init();
    let f = env.tmp.path().join("memories.txt");
    std::fs::write(
        &f,
        "- Prefers metric units\n- Has two cats\n\n* Is learning Rust\n",
    )
    .unwrap();
    let out = env.ok(&["import", f.to_str().unwrap(), "--tag", "chatgpt"]);
    assert!(out.contains("imported 3 of 3"), "{out}");
    let got = env.json(&["ls", "--ns", "memories", "--json"]);
    assert_eq!(got[1]["body"], "Has two cats");
    assert_eq!(got[1]["tags"], serde_json::json!(["chatgpt"]));
    assert_eq!(got[1]["source"], "import:lines");
}

#[test]
fn bad_input_names_file_and_position_and_writes_nothing() {
    let src = populated();
    let dir = src.tmp.path().to_owned();
    let bundle = dir.join("b.bundle");
    assert_eq!(
        with_bundle_pass(&src, &["export", "--out", bundle.to_str().unwrap()]).code,
        0
    );
    let full = std::fs::read(&bundle).unwrap();
    let trunc = dir.join("trunc.bundle");
    std::fs::write(&trunc, &full[..full.len() - 40]).unwrap();
    let jsonl = dir.join("ok.jsonl");
    src.ok(&[
        "export",
        "--plain",
        "--include-secret",
        "--out",
        jsonl.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&jsonl).unwrap();
    let future = dir.join("future.jsonl");
    std::fs::write(&future, text.replacen("\"version\":1", "\"version\":2", 1)).unwrap();
    let malformed = dir.join("bad.jsonl");
    let mut lines: Vec<&str> = text.lines().collect();
    lines[2] = "{\"type\":\"item\",\"id\":\"nope\"";
    std::fs::write(&malformed, lines.join("\n")).unwrap();
    let md = dir.join("md");
    std::fs::create_dir_all(md.join("notes")).unwrap();
    std::fs::write(
        md.join("notes/good.md"),
        "---\ntitle: \"fine\"\n---\nA fine note",
    )
    .unwrap();
    let broken_md = dir.join("md-broken");
    std::fs::create_dir_all(&broken_md).unwrap();
    std::fs::write(broken_md.join("a.md"), "---\ntitle: \"fine\"\n---\nfine").unwrap();
    std::fs::write(
        broken_md.join("b.md"),
        "---\n- a list, not fields\n---\nbody",
    )
    .unwrap();
    let unreadable = dir.join("md-unreadable");
    std::fs::create_dir_all(&unreadable).unwrap();
    std::fs::write(unreadable.join("a.md"), "---\ntitle: \"fine\"\n---\nfine").unwrap();
    // Not UTF-8: cannot be read as text.
    std::fs::write(unreadable.join("gone.md"), b"\xff\xfe not text").unwrap();

    let dst = Env::new();
    dst.init();
    let before = (items(&dst), dst.json(&["audit", "--json"]));
    let p = |f: &std::path::Path| f.to_str().unwrap().to_owned();
    let cases: Vec<(Vec<String>, Option<&str>, String)> = vec![
        (
            vec![p(&trunc)],
            Some(BUNDLE_PASS),
            format!("{}: the bundle is damaged or truncated", p(&trunc)),
        ),
        (
            vec![p(&bundle)],
            Some("wrong"),
            format!("{}: wrong passphrase for this bundle", p(&bundle)),
        ),
        (
            vec![p(&future)],
            None,
            format!(
                "{}: line 1: bundle format version 2 is newer than this ctxvault reads (1)",
                p(&future)
            ),
        ),
        (
            vec![p(&malformed)],
            None,
            format!("{}: line 3: malformed record", p(&malformed)),
        ),
        (
            vec![p(&broken_md), "--strict".into()],
            None,
            format!(
                "nothing was imported (--strict): {}:2: the front matter is not a set of `key: value` lines",
                p(&broken_md.join("b.md"))
            ),
        ),
        (
            vec![p(&unreadable), "--strict".into()],
            None,
            format!(
                "nothing was imported (--strict): {}: cannot read: not UTF-8 text",
                p(&unreadable.join("gone.md"))
            ),
        ),
    ];
    for (args, pass, needle) in cases {
        let mut c = dst.cmd(&["import"]);
        c.args(&args);
        c.env("CTXVAULT_PASSPHRASE", PASS);
        if let Some(bp) = pass {
            c.env("CTXVAULT_BUNDLE_PASSPHRASE", bp);
        }
        let o: ctxvault_tests::Out = c.output().unwrap().into();
        assert_ne!(o.code, 0, "{args:?} should fail");
        assert_one_line_error(&o.stderr, &needle);
        assert_eq!(
            (items(&dst), dst.json(&["audit", "--json"])),
            before,
            "{args:?} wrote something"
        );
    }
    // The good Markdown folder imports.
    dst.ok(&["import", md.to_str().unwrap()]);
    assert_eq!(items(&dst)[0]["title"], "fine");
    // Exports refuse to overwrite.
    let o = with_bundle_pass(&src, &["export", "--out", bundle.to_str().unwrap()]);
    assert_one_line_error(&o.stderr, "already exists");
}

async fn sealed_blobs(env: &Env) -> Vec<Vec<u8>> {
    use sqlx::Connection;
    let mut c =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", env.db().display()))
            .await
            .unwrap();
    let v = sqlx::query_scalar("SELECT sealed FROM items ORDER BY rowid")
        .fetch_all(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
    v
}

#[test]
fn passwd_changes_only_the_passphrase_slot() {
    let env = populated();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    env.ok(&["stop"]);
    let before = rt.block_on(sealed_blobs(&env));
    let mut c = env.cmd(&["passwd"]);
    c.env("CTXVAULT_PASSPHRASE", PASS)
        .env("CTXVAULT_NEW_PASSPHRASE", "a new passphrase");
    let o: ctxvault_tests::Out = c.output().unwrap().into();
    assert_eq!(o.code, 0, "{}", o.stderr);
    env.ok(&["stop"]);
    assert_eq!(
        rt.block_on(sealed_blobs(&env)),
        before,
        "no item ciphertext changed"
    );
    let old = env.run_with(&["ls"], None, Some(PASS));
    assert_ne!(old.code, 0);
    assert_one_line_error(&old.stderr, "wrong passphrase");
    let new = env.run_with(&["ls", "--json"], None, Some("a new passphrase"));
    assert_eq!(new.code, 0, "{}", new.stderr);
    // A wrong current passphrase changes nothing.
    let mut c = env.cmd(&["passwd"]);
    c.env("CTXVAULT_PASSPHRASE", "nope")
        .env("CTXVAULT_NEW_PASSPHRASE", "whatever");
    let o: ctxvault_tests::Out = c.output().unwrap().into();
    assert_one_line_error(&o.stderr, "wrong passphrase");
    assert_eq!(
        env.run_with(&["ls"], None, Some("a new passphrase")).code,
        0
    );
}

#[test]
fn identity_slots_add_list_remove() {
    use age::secrecy::ExposeSecret;
    let env = Env::new();
    env.init();
    let id = age::x25519::Identity::generate();
    let key = env.tmp.path().join("k.txt");
    std::fs::write(&key, format!("{}\n", id.to_string().expose_secret())).unwrap();
    let out = env.ok(&["identity", "add", key.to_str().unwrap()]);
    let r = id.to_public().to_string();
    assert!(out.contains(&r), "{out}");
    assert!(env.ok(&["identity", "ls"]).contains(&r));
    env.ok(&["lock"]);
    assert_eq!(
        env.run_with(&["unlock", "--identity", key.to_str().unwrap()], None, None)
            .code,
        0
    );
    env.ok(&["identity", "rm", &r]);
    env.ok(&["lock"]);
    let o = env.run_with(&["unlock", "--identity", key.to_str().unwrap()], None, None);
    assert_one_line_error(&o.stderr, "this identity does not open the vault");
    assert_one_line_error(&env.fails(&["identity", "rm", &r]), "no identity slot for");
}

#[test]
fn a_bundle_asking_for_too_much_scrypt_work_is_refused_at_once() {
    let src = populated();
    let bundle = src.tmp.path().join("costly.bundle");
    let o = with_bundle_pass(&src, &["export", "--out", bundle.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // Rewrite the scrypt stanza's work factor (the header is text up to
    // "\n---"): the check must come before any key derivation.
    let bytes = std::fs::read(&bundle).unwrap();
    let end = bytes.windows(4).position(|w| w == b"\n---").unwrap();
    let header = String::from_utf8(bytes[..end].to_vec()).unwrap();
    let wf = header
        .lines()
        .find(|l| l.starts_with("-> scrypt "))
        .and_then(|l| l.rsplit(' ').next())
        .unwrap()
        .to_owned();
    let costly = header.replacen(&format!(" {wf}\n"), " 21\n", 1);
    assert_ne!(costly, header);
    let mut out = costly.into_bytes();
    out.extend_from_slice(&bytes[end..]);
    std::fs::write(&bundle, out).unwrap();
    let dst = Env::new();
    dst.init();
    let o = with_bundle_pass(&dst, &["import", bundle.to_str().unwrap()]);
    assert_ne!(o.code, 0);
    assert_one_line_error(&o.stderr, "scrypt work factor 21, above the maximum 20");
}

#[test]
fn markdown_import_does_not_follow_symbolic_links() {
    let env = Env::new();
    env.init();
    let root = env.tmp.path().join("notes");
    std::fs::create_dir_all(root.join("a")).unwrap();
    std::fs::write(
        root.join("a/one.md"),
        "---\nnamespace: \"notes\"\n---\nthe only note\n",
    )
    .unwrap();
    // Two links that loop, and one to a folder outside.
    let outside = env.tmp.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.md"), "not to be read\n").unwrap();
    std::os::unix::fs::symlink(&root, root.join("a/loop")).unwrap();
    std::os::unix::fs::symlink(root.join("a"), root.join("back")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("out")).unwrap();
    let o = env.run(&["import", root.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("imported 1 of 1"), "{}", o.stdout);
    for name in ["loop", "back", "out"] {
        assert!(
            o.stderr.contains(&format!("{name}: a symbolic link")),
            "{name} named as skipped: {}",
            o.stderr
        );
    }
    assert_eq!(env.json(&["ls", "--json"]).as_array().unwrap().len(), 1);
}

#[test]
fn a_jsonl_whose_counts_disagree_is_named_without_a_line_zero() {
    let env = Env::new();
    env.init();
    let path = env.tmp.path().join("short.jsonl");
    std::fs::write(
        &path,
        "{\"format\":\"ctxvault-bundle\",\"version\":1,\"created_at\":\"2026-01-01T00:00:00Z\",\"items\":2}\n",
    )
    .unwrap();
    let o = env.run(&["import", path.to_str().unwrap()]);
    assert_ne!(o.code, 0);
    assert_one_line_error(&o.stderr, "announces 2 items but the file holds 0");
    assert!(!o.stderr.contains("line 0"), "{}", o.stderr);
}
