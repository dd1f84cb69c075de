//! Bad input and refused states: one clear line naming the fix, a non-zero
//! exit, and nothing changed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;

use ctxvault_tests::{Env, PASS, assert_one_line_error};

/// Everything observable about the vault's content.
fn snapshot(env: &Env) -> serde_json::Value {
    env.json(&["ls", "--json"])
}

#[test]
fn bad_item_input_changes_nothing() {
    let env = Env::new();
    env.init();
    let id = env.add(&["--ns", "notes", "keep me"]);
    let before = snapshot(&env);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["add", "--ns", "Work//X", "text"], "invalid namespace"),
        (vec!["add", "--ns", "work//x", "text"], "empty segment"),
        (
            vec!["add", "--sensitivity", "top-secret", "text"],
            "use one of public, normal, private, secret",
        ),
        (vec!["add", ""], "body is empty"),
        (vec!["add", "   "], "body is empty"),
        (vec!["add", "--tag", "Bad Tag", "text"], "invalid tag"),
        (
            vec!["get", "0192f0c1-7c5e-7d3a-9a4e-3b1f2c4d5e6f"],
            "no item 0192f0c1-7c5e-7d3a-9a4e-3b1f2c4d5e6f",
        ),
        (
            vec!["rm", "0192f0c1-7c5e-7d3a-9a4e-3b1f2c4d5e6f"],
            "no item 0192f0c1-7c5e-7d3a-9a4e-3b1f2c4d5e6f",
        ),
        (
            vec!["edit", "0192f0c1-7c5e-7d3a-9a4e-3b1f2c4d5e6f", "x"],
            "no item",
        ),
        (vec!["get", "not-an-id"], "malformed id"),
        (vec!["rm", "12345"], "no item id starts with 12345"),
        (vec!["rm", "12z"], "malformed id"),
        (vec!["edit", &id], "nothing to change"),
        (vec!["search", "  ***  "], "the query has no words"),
        (vec!["search", "x", "--limit", "0"], "--limit"),
    ];
    for (args, needle) in cases {
        let err = env.fails(&args);
        assert_one_line_error(&err, needle);
        assert_eq!(snapshot(&env), before, "{args:?} changed the vault");
    }
    // A body over 1 MiB, through stdin.
    let big = vec![b'a'; 1024 * 1024 + 1];
    let o = env.run_with(&["add", "-"], Some(&big), Some(PASS));
    assert_ne!(o.code, 0);
    assert_one_line_error(&o.stderr, "over the 1 MiB limit");
    // Exactly 1 MiB is fine.
    let max = vec![b'a'; 1024 * 1024];
    let o = env.run_with(&["add", "-"], Some(&max), Some(PASS));
    assert_eq!(o.code, 0, "{}", o.stderr);
}

#[test]
fn init_over_existing_vault_is_refused() {
    let env = Env::new();
    env.init();
    env.add(&["a note"]);
    env.ok(&["stop"]);
    let before = std::fs::read(env.db()).unwrap();
    let err = env.fails(&["init"]);
    assert_one_line_error(&err, "a vault already exists at");
    assert_eq!(std::fs::read(env.db()).unwrap(), before);
}

#[test]
fn wrong_passphrase_keeps_vault_locked_and_unchanged() {
    let env = Env::new();
    env.init();
    let id = env.add(&["secret plans"]);
    env.ok(&["lock"]);
    let o = env.run_with(
        &["unlock", "--passphrase-stdin"],
        Some(b"not the passphrase\n"),
        None,
    );
    assert_ne!(o.code, 0);
    assert_one_line_error(&o.stderr, "wrong passphrase");
    assert_eq!(env.status()["locked"], true);
    let o = env.run_with(&["get", &id], None, Some("also wrong"));
    assert_ne!(o.code, 0);
    assert_one_line_error(&o.stderr, "wrong passphrase");
    assert_eq!(env.status()["locked"], true);
    assert_eq!(env.json(&["get", &id, "--json"])["body"], "secret plans");
}

#[test]
fn locked_vault_refuses_reads_without_passphrase() {
    let env = Env::new();
    env.init();
    let id = env.add(&["a note"]);
    env.ok(&["lock"]);
    for args in [vec!["search", "note"], vec!["ls"], vec!["get", id.as_str()]] {
        let err = env.fails(&args);
        assert_one_line_error(&err, "vault is locked: run `ctxvault unlock`");
    }
    // Stopped agent: the next command starts one, still locked.
    env.ok(&["stop"]);
    let err = env.fails(&["ls"]);
    assert_one_line_error(&err, "vault is locked: run `ctxvault unlock`");
    let o = env.run_with(&["unlock"], None, None);
    assert_one_line_error(&o.stderr, "no passphrase");
}

#[test]
fn identity_files() {
    use age::secrecy::ExposeSecret;
    let env = Env::new();
    let id = age::x25519::Identity::generate();
    let id_path = env.tmp.path().join("key.txt");
    std::fs::write(
        &id_path,
        format!(
            "# created: 2026-01-01T00:00:00Z\n# public key: {}\n{}\n",
            id.to_public(),
            id.to_string().expose_secret()
        ),
    )
    .unwrap();
    let bogus = env.tmp.path().join("bogus.txt");
    std::fs::write(&bogus, "this is not a key\n").unwrap();

    // A non-identity file is refused before anything is created.
    let err = env.fails(&["init", "--identity", bogus.to_str().unwrap()]);
    assert_one_line_error(&err, "not an age identity file");
    assert!(
        !env.vault.exists(),
        "a failed init must leave nothing behind"
    );

    let o = env.run(&["init", "--identity", id_path.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let item = env.add(&["unlocked by key"]);
    env.ok(&["lock"]);
    let o = env.run_with(
        &["unlock", "--identity", id_path.to_str().unwrap()],
        None,
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        env.json(&["get", &item, "--json"])["body"],
        "unlocked by key"
    );

    env.ok(&["lock"]);
    let err = env.fails(&["unlock", "--identity", bogus.to_str().unwrap()]);
    assert_one_line_error(&err, "not an age identity file");
    let other = age::x25519::Identity::generate();
    let other_path = env.tmp.path().join("other.txt");
    std::fs::write(
        &other_path,
        format!("{}\n", other.to_string().expose_secret()),
    )
    .unwrap();
    let err = env.fails(&["unlock", "--identity", other_path.to_str().unwrap()]);
    assert_one_line_error(&err, "this identity does not open the vault");
    assert_eq!(env.status()["locked"], true);
}

#[test]
fn unsafe_socket_directory_is_refused() {
    let env = Env::new();
    env.init();
    env.add(&["a note"]);
    env.ok(&["stop"]);
    let before = std::fs::read(env.db()).unwrap();
    std::fs::set_permissions(&env.runtime, std::fs::Permissions::from_mode(0o755)).unwrap();
    for args in [vec!["ls"], vec!["add", "another"], vec!["status"]] {
        let o = env.run(&args);
        assert_ne!(o.code, 0, "{args:?}");
        assert_one_line_error(&o.stderr, "unsafe socket directory");
        assert!(o.stderr.contains("chmod 700"), "{}", o.stderr);
    }
    assert_eq!(std::fs::read(env.db()).unwrap(), before);
    // A fresh agent refuses to start in such a directory too.
    let o = env.run(&["daemon"]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("unsafe socket directory"), "{}", o.stderr);
    std::fs::set_permissions(&env.runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    env.ok(&["ls"]);
}

#[test]
fn bad_daemon_flags() {
    let env = Env::new();
    let o = env.run(&["daemon", "--lock-after", "soon"]);
    assert_ne!(o.code, 0);
    assert_one_line_error(&o.stderr, "use a duration such as 30m");
    let o = env.run(&["ls"]);
    assert_one_line_error(&o.stderr, "no vault at");
}
