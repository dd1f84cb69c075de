//! After an upgrade: an agent speaking another protocol version is stopped
//! and replaced by the CLI, and `ctxvault stop` works against it. The old
//! agent is the real binary with a test-only override of the version it
//! speaks (`CTXVAULT_TEST_PROTOCOL`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use ctxvault_tests::Env;

/// Start a foreground agent that speaks protocol `version`; returns once it
/// is ready.
fn old_agent(env: &Env, version: u32) -> Child {
    let mut child = env
        .cmd(&["daemon", "--notify-ready"])
        .env("CTXVAULT_TEST_PROTOCOL", version.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    await_ready(&mut child);
    child
}

/// Read the `ready` line a starting agent (or stand-in) prints.
fn await_ready(child: &mut Child) {
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
}

fn fresh(env: &Env) {
    env.init();
    env.add(&["--ns", "notes", "a note from before the upgrade"]);
    env.ok(&["stop"]);
}

#[test]
fn an_agent_of_another_protocol_is_replaced() {
    let env = Env::new();
    fresh(&env);
    let mut old = old_agent(&env, vault_daemon::protocol::PROTOCOL_VERSION - 1);
    let old_pid = old.id() as i32;
    let o = env.run(&["ls"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("a note from before the upgrade"));
    assert!(o.stderr.contains("restarting it"), "{}", o.stderr);
    // The old agent exited; the new one is this version's.
    assert!(old.wait().unwrap().success());
    let pid = env.agent_pid().unwrap();
    assert_ne!(pid, old_pid);
    assert_eq!(env.status()["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn stop_works_against_an_agent_of_another_protocol() {
    let env = Env::new();
    fresh(&env);
    let mut old = old_agent(&env, vault_daemon::protocol::PROTOCOL_VERSION + 7);
    let o = env.run(&["stop"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("agent stopped"), "{}", o.stdout);
    assert!(old.wait().unwrap().success());
    assert_eq!(env.status()["running"], false);
}

/// An agent older than the unversioned endpoints (no /hello, no /stop): the
/// CLI stops it with SIGTERM to the process that holds the vault's lock,
/// then starts its own.
#[test]
fn an_agent_that_knows_no_hello_is_terminated_and_replaced() {
    let env = Env::new();
    env.init();
    env.add(&["--ns", "notes", "a note from before the upgrade"]);
    let socket = env.status()["socket"].as_str().unwrap().to_owned();
    env.ok(&["stop"]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/old_agent.py");
    let mut old = std::process::Command::new("python3")
        .args([script, &socket])
        .arg(env.vault.join("agent.lock"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    await_ready(&mut old);
    let o = env.run(&["ls"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("a note from before the upgrade"));
    assert!(o.stderr.contains("restarting it"), "{}", o.stderr);
    let status = old.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(15), "stopped by SIGTERM");
    assert_eq!(env.status()["running"], true);
}
