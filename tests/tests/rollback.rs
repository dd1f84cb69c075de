//! The write-ahead log stays bounded, and a database rolled back behind
//! the writes it acknowledged (a log cut short, a log cut at its header) is
//! detected and said, never silently accepted or made anew.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ctxvault_tests::Env;

const FRAME: u64 = 24 + 16384;

fn len(p: &std::path::Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn wal(env: &Env) -> std::path::PathBuf {
    env.db().with_file_name("vault.db-wal")
}

#[test]
fn the_write_ahead_log_stays_bounded() {
    let env = Env::new();
    env.init();
    let body = "b".repeat(2000);
    for n in 0..200 {
        env.add(&["--ns", "wal", &format!("{n} {body}")]);
    }
    // 200 commits of several 16 KiB pages each would be well over 8 MiB.
    let w = len(&wal(&env));
    assert!(w <= 6 * 1024 * 1024, "write-ahead log of {w} bytes");
    assert!(
        len(&env.db()) > 256 * 1024,
        "checkpoints moved pages into the database"
    );
    env.kill_agent();
    assert!(len(&wal(&env)) <= 6 * 1024 * 1024);
    assert_eq!(
        env.json(&["ls", "--ns", "wal", "--json"])
            .as_array()
            .unwrap()
            .len(),
        200
    );
}

#[test]
fn a_write_ahead_log_cut_short_is_reported_as_a_rollback() {
    let env = Env::new();
    env.init();
    for n in 0..5 {
        env.add(&["--ns", "notes", &format!("note {n}")]);
    }
    // Killed: the newest writes live only in the log, which is then cut.
    env.kill_agent();
    let w = wal(&env);
    let cut = len(&w) - 3 * FRAME;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&w)
        .unwrap()
        .set_len(cut)
        .unwrap();

    let out = env.run(&["unlock"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("warning: the vault was rolled back: its newest"),
        "unlock says so: {}",
        out.stderr
    );
    let kept = env.json(&["ls", "--ns", "notes", "--json"]);
    assert!(kept.as_array().unwrap().len() < 5, "the cut lost writes");
    // status says it for as long as the vault stays unlocked
    let status = env.status();
    assert!(
        status["warnings"][0]
            .as_str()
            .unwrap()
            .contains("rolled back"),
        "{status}"
    );
    // and the finding is on the audit record
    let audit = env.json(&["audit", "--json"]);
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "vault-check"
                && e["detail"].as_str().unwrap().contains("rolled back")),
        "{audit}"
    );
    // Told once: the next unlock is quiet, and new writes work.
    env.ok(&["lock"]);
    let out = env.run(&["unlock"]);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    env.add(&["--ns", "notes", "after the rollback"]);
}

#[test]
fn a_write_ahead_log_cut_at_its_header_is_refused_not_made_anew() {
    let env = Env::new();
    env.init();
    // Right after init everything but an empty page is in the log.
    env.kill_agent();
    std::fs::OpenOptions::new()
        .write(true)
        .open(wal(&env))
        .unwrap()
        .set_len(0)
        .unwrap();
    let before = std::fs::read(env.db()).unwrap();
    let out = env.run(&["unlock"]);
    assert_ne!(out.code, 0);
    ctxvault_tests::assert_one_line_error(&out.stderr, "holds no vault");
    let out = env.run(&["add", "--ns", "x", "hello"]);
    assert_ne!(out.code, 0);
    assert_eq!(
        std::fs::read(env.db()).unwrap(),
        before,
        "no schema was written into the vault's file"
    );
}

#[test]
fn rekey_and_passphrase_change_leave_the_guard_verifiable() {
    let env = Env::new();
    env.init();
    env.add(&["--ns", "notes", "one"]);
    env.ok(&["rekey"]);
    env.add(&["--ns", "notes", "two"]);
    env.ok(&["lock"]);
    let out = env.run(&["unlock"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    assert_eq!(env.status()["warnings"].as_array().unwrap().len(), 0);
}
