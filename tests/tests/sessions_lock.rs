//! A lock while a write is still running, then an unlock: the new session
//! waits for the write to finish before it reads the store, so the write,
//! acknowledged, is in its index.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::Stdio;

use ctxvault_tests::Env;

fn wal_len(env: &Env) -> u64 {
    std::fs::metadata(env.vault.join("vault.db-wal")).map_or(0, |m| m.len())
}

#[test]
fn an_unlock_after_a_lock_sees_the_write_that_was_running() {
    let env = Env::new();
    env.init();
    let file = env.tmp.path().join("big.txt");
    let mut f = std::fs::File::create(&file).unwrap();
    for i in 0..60_000 {
        writeln!(
            f,
            "imported line {i} about the lighthouse, the harbour and the long winter nights"
        )
        .unwrap();
    }
    drop(f);
    let before = wal_len(&env);
    let mut import = env
        .cmd(&["import", file.to_str().unwrap(), "--ns", "more"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The import's transaction is under way once SQLite spills its pages to
    // the write-ahead log.
    while wal_len(&env) < before + 4 * 1024 * 1024 {
        assert!(
            import.try_wait().unwrap().is_none(),
            "the import ended before its transaction could be seen"
        );
        std::thread::yield_now();
    }
    env.ok(&["lock"]);
    env.ok(&["unlock"]);
    let o = import.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The session installed by that unlock holds every item the import
    // committed on the session the lock took away.
    let items = env.json(&["ls", "--ns", "more", "--json"]);
    assert_eq!(items.as_array().unwrap().len(), 60_000);
    assert_eq!(env.status()["items"], 60_000);
}
