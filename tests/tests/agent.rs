//! The agent as a process: one per vault, SIGTERM, core dumps, protocol
//! version check, idle auto-lock, and the socket's modes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use ctxvault_tests::Env;

fn socket(env: &Env) -> std::path::PathBuf {
    env.status()["socket"].as_str().unwrap().into()
}

#[test]
fn socket_modes_core_dumps_and_sigterm() {
    let env = Env::new();
    env.init();
    let sock = socket(&env);
    assert_eq!(
        std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(&env.runtime)
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    let pid = env.agent_pid().unwrap();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    assert!(
        core.split_whitespace().filter(|w| *w == "0").count() >= 2,
        "{core}"
    );
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(status.contains("ctxvault"), "{status}");

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    env.wait_agent_gone();
    assert!(!sock.exists(), "socket removed on SIGTERM");
    assert_eq!(env.status()["running"], false);
}

#[test]
fn one_agent_per_vault() {
    let env = Env::new();
    env.init();
    let o = env.run(&["daemon"]);
    assert_ne!(o.code, 0);
    assert!(
        o.stderr.contains("another ctxvault agent already serves"),
        "{}",
        o.stderr
    );
    assert_eq!(env.status()["running"], true);
}

#[test]
fn protocol_version_is_checked() {
    let env = Env::new();
    env.init();
    let call = |version: &str| {
        let mut s = UnixStream::connect(socket(&env)).unwrap();
        let body = r#"{"kind":"agent","request":{"op":"hello"}}"#;
        write!(
            s,
            "POST /v1/call HTTP/1.1\r\nHost: agent\r\nx-ctxvault-protocol: {version}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let bad = call("999");
    assert!(
        bad.contains("protocol_mismatch") && bad.contains("ctxvault stop"),
        "{bad}"
    );
    let good = call(&vault_daemon::protocol::PROTOCOL_VERSION.to_string());
    assert!(good.contains("\"Ok\""), "{good}");
}

#[test]
fn idle_auto_lock() {
    let mut env = Env::new();
    env.vars.push(("CTXVAULT_LOCK_AFTER".into(), "1s".into()));
    env.init();
    assert_eq!(env.status()["lock_after_secs"], 1);
    // Wait for the agent to lock itself (status is not activity).
    let start = Instant::now();
    while env.status()["locked"] == false {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "did not auto-lock"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let err = env.fails(&["ls"]);
    ctxvault_tests::assert_one_line_error(&err, "vault is locked");
    env.vars.clear();
}

#[test]
fn lock_after_zero_disables() {
    let mut env = Env::new();
    env.vars.push(("CTXVAULT_LOCK_AFTER".into(), "0".into()));
    env.init();
    assert_eq!(env.status()["lock_after_secs"], serde_json::Value::Null);
}
