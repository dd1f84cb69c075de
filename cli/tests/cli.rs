//! The command line's own surface: help, version and argument errors.
//! (Its presence also makes `cargo test` build the `ctxvault` binary that the
//! end-to-end tests in `tests/` drive.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn ctxvault(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_ctxvault"))
        .args(args)
        .env("CTXVAULT_HOME", "/nonexistent/ctxvault-test")
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn help_lists_every_command() {
    let (code, out, _) = ctxvault(&["--help"]);
    assert_eq!(code, 0);
    for c in [
        "init", "unlock", "lock", "status", "stop", "daemon", "add", "get", "edit", "rm", "ls",
        "search",
    ] {
        assert!(out.contains(&format!("  {c} ")), "help lacks {c}: {out}");
    }
}

#[test]
fn version() {
    let (code, out, _) = ctxvault(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("ctxvault "), "{out}");
}

#[test]
fn argument_errors_are_one_line() {
    for args in [
        vec!["frobnicate"],
        vec!["get"],
        vec!["search", "x", "--limit", "abc"],
        vec!["add", "--sensitivity", "loud", "x"],
    ] {
        let (code, out, err) = ctxvault(&args);
        assert_eq!(code, 2, "{args:?}");
        assert!(out.is_empty());
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains("--help"),
            "{err}"
        );
    }
}

#[test]
fn commands_on_a_missing_vault_name_the_fix() {
    for args in [
        vec!["ls"],
        vec!["unlock"],
        vec!["get", "0192f0c1-7c5e-7d3a-9a4e-3b1f2c4d5e6f"],
    ] {
        let (code, _, err) = ctxvault(&args);
        assert_eq!(code, 1, "{args:?}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("no vault at /nonexistent/ctxvault-test: run `ctxvault init`"),
            "{err}"
        );
    }
}
