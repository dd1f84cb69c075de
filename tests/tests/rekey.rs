//! `rekey` is crash-safe: SIGKILL at random moments over 100 runs, and each
//! time the vault reopens under exactly one key with every item readable
//! and the audit chain intact.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Duration;

use ctxvault_tests::{Env, PASS};

/// A small deterministic generator for the kill moments.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn rekey_survives_kill_at_any_moment() {
    let env = Env::new();
    env.init();
    let bodies: Vec<String> = (0..300)
        .map(|i| format!("item {i} with some text to re-seal"))
        .collect();
    let file = env.tmp.path().join("lines.txt");
    std::fs::write(&file, bodies.join("\n")).unwrap();
    env.ok(&["import", file.to_str().unwrap()]);
    env.ok(&["client", "add", "c"]);
    let want = env.json(&["ls", "--json"]);
    assert_eq!(want.as_array().unwrap().len(), 300);

    let mut rng = Rng(0x5eed);
    let mut killed_mid_run = 0;
    let mut transport_retries = 0;
    for run in 0..100 {
        // Make sure an unlocked agent runs, then start a rekey.
        let pid = {
            env.ok(&["status"]);
            env.ok(&["ls", "--ns", "nothing-here"]);
            env.agent_pid().unwrap()
        };
        let mut rekey = env
            .cmd(&["rekey"])
            .env("CTXVAULT_PASSPHRASE", PASS)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The moment of the kill is what varies: 0 to 60 ms into the rekey
        // (this wait is the experiment, not a synchronisation).
        std::thread::sleep(Duration::from_micros(rng.below(60_000)));
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        let status = rekey.wait().unwrap();
        if !status.success() {
            killed_mid_run += 1;
        }
        // The killed agent is gone (the rekey command may have started
        // another one if the kill came first: that one keeps running).
        Env::wait_exited(pid);
        // Reopens (auto-unlock with the one passphrase) and reads everything.
        // A command racing the exit of the killed agent can meet a transport
        // error ("agent connection failed"); that is retried, nothing else.
        let mut o = env.run(&["ls", "--json"]);
        for _ in 0..3 {
            if o.code == 0 || !o.stderr.contains("agent connection failed") {
                break;
            }
            transport_retries += 1;
            o = env.run(&["ls", "--json"]);
        }
        if o.code != 0 {
            let log = std::fs::read_to_string(env.vault.join("agent.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(12).collect();
            panic!(
                "run {run}: ls failed: {}\nagent log (last lines, newest first):\n{}",
                o.stderr,
                tail.join("\n")
            );
        }
        let got: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        assert_eq!(
            got, want,
            "run {run}: items differ after a kill during rekey"
        );
        if run % 10 == 9 {
            env.ok(&["audit", "verify"]);
        }
    }
    assert!(
        killed_mid_run > 0,
        "no kill landed during a rekey; the test proved nothing"
    );
    eprintln!(
        "{killed_mid_run} of 100 rekeys were killed before finishing; {transport_retries} transport retries"
    );
    env.ok(&["audit", "verify"]);
    assert_eq!(
        env.json(&["client", "ls", "--json"])[0]["name"],
        "c",
        "policy records survive too"
    );
}

#[test]
fn rekey_with_a_wrong_passphrase_changes_nothing() {
    let env = Env::new();
    env.init();
    let id = env.add(&["a note"]);
    let o: ctxvault_tests::Out = env
        .cmd(&["rekey"])
        .env("CTXVAULT_PASSPHRASE", "not it")
        .output()
        .unwrap()
        .into();
    assert_ne!(o.code, 0);
    ctxvault_tests::assert_one_line_error(&o.stderr, "wrong passphrase");
    // The session that was open still works, under the same key.
    assert_eq!(env.json(&["get", &id, "--json"])["body"], "a note");
    env.ok(&["stop"]);
    assert_eq!(env.json(&["get", &id, "--json"])["body"], "a note");
}
