//! One session per unlock: parallel unlocks while an import runs install a
//! single session, and its index holds every imported item.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::Stdio;

use ctxvault_tests::{Env, PASS};

#[test]
fn parallel_unlocks_during_an_import_leave_one_session_with_every_item() {
    let env = Env::new();
    env.init();
    // Enough items that building a session's index takes a while.
    let file = env.tmp.path().join("seed.txt");
    let mut f = std::fs::File::create(&file).unwrap();
    for i in 0..30_000 {
        writeln!(f, "seed line {i} about the orchard").unwrap();
    }
    drop(f);
    env.ok(&["import", file.to_str().unwrap(), "--ns", "seed"]);
    let more = env.tmp.path().join("more.txt");
    let mut f = std::fs::File::create(&more).unwrap();
    for i in 0..3000 {
        writeln!(f, "imported line {i} about the lighthouse").unwrap();
    }
    drop(f);
    env.ok(&["lock"]);
    let log = env.vault.join("agent.log");
    let before = std::fs::read_to_string(&log).unwrap_or_default();
    let unlocked_before = before.matches("vault unlocked").count();

    // The import unlocks by itself (CTXVAULT_PASSPHRASE); eight unlocks race it.
    let spawn = |args: &[&str]| {
        env.cmd(args)
            .env("CTXVAULT_PASSPHRASE", PASS)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // The unlocks wait for their passphrase on stdin, so that all of them
    // reach the agent at once, while it is still locked.
    let mut unlocks: Vec<_> = (0..8)
        .map(|_| {
            env.cmd(&["unlock", "--passphrase-stdin"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let import = spawn(&["import", more.to_str().unwrap(), "--ns", "more"]);
    for u in &mut unlocks {
        let mut stdin = u.stdin.take().unwrap();
        writeln!(stdin, "{PASS}").unwrap();
    }
    for u in unlocks {
        let o = u.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let o = import.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let after = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        after.matches("vault unlocked").count() - unlocked_before,
        1,
        "exactly one session was installed"
    );
    let items = env.json(&["ls", "--ns", "more", "--json"]);
    assert_eq!(items.as_array().unwrap().len(), 3000);
    let hits = env.json(&["search", "lighthouse", "--limit", "1000", "--json"]);
    assert_eq!(hits.as_array().unwrap().len(), 1000);
    assert_eq!(env.status()["items"], 33_000);
}
