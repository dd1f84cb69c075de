//! Daily use through the real binary: what a new user tripped over.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;

use ctxvault_tests::{Env, PASS};

/// Output piped into a reader that stopped reading (`| head -1`) ends the
/// command quietly and successfully: no panic, nothing on stderr. The read
/// end is closed before the command writes anything, so every write fails.
#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    let env = Env::new();
    env.init();
    let id = env.add(&["--ns", "work", "--tag", "t", "the first item"]);
    for k in 0..20 {
        env.add(&["--ns", "work", &format!("item {k}")]);
    }
    let commands: Vec<Vec<&str>> = vec![
        vec!["ls"],
        vec!["ls", "--json"],
        vec!["get", &id],
        vec!["search", "item"],
        vec!["audit"],
        vec!["status"],
        vec!["--help"],
    ];
    for args in commands {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut c = env.cmd(&args);
        c.env("CTXVAULT_PASSPHRASE", PASS)
            .stdout(writer)
            .stderr(Stdio::piped());
        let out = c.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "ctxvault {args:?} into a closed pipe: {stderr}"
        );
        assert_eq!(stderr, "", "ctxvault {args:?} into a closed pipe");
    }
}
