//! Locked need not mean "go to a shell": a command that needs the vault
//! asks for the passphrase on the terminal it runs in.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use ctxvault_tests::{Env, PASS, assert_one_line_error, bin};

/// Run `ctxvault ARGS` on a pseudo-terminal, answering `answers` in order.
fn on_terminal(env: &Env, answers: &[(&str, &str)], args: &[&str]) -> (i32, String) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/pty_answer.py");
    let answers = serde_json::to_string(answers).unwrap();
    let out = Command::new("python3")
        .arg(script)
        .arg(answers)
        .arg(bin())
        .args(args)
        .env("CTXVAULT_HOME", &env.vault)
        .env("CTXVAULT_RUNTIME_DIR", &env.runtime)
        .env("CTXVAULT_SCRYPT_WORK_FACTOR", "10")
        .env("XDG_CONFIG_HOME", env.tmp.path().join("xdg-config"))
        .env_remove("CTXVAULT_PASSPHRASE")
        .output()
        .expect("python3 runs the terminal driver");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_locked_vault_asks_on_the_terminal() {
    let env = Env::new();
    env.init();
    env.add(&["--ns", "work", "The Lisbon offsite is in March"]);
    env.ok(&["lock"]);

    // Not on a terminal: the error says what to do.
    let e = env.fails(&["ls"]);
    assert_one_line_error(&e, "locked");
    assert!(e.contains("ctxvault unlock"), "{e}");

    // On one: asked, a wrong passphrase asked again, then the answer.
    let (code, screen) = on_terminal(
        &env,
        &[
            ("The vault is locked. Passphrase: ", "not it"),
            ("Wrong passphrase; try again: ", PASS),
        ],
        &["search", "lisbon"],
    );
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("Lisbon offsite"), "{screen}");
    assert!(
        !screen.contains(PASS) && !screen.contains("not it"),
        "echoed: {screen}"
    );
    assert_eq!(env.status()["locked"], false);

    // Three wrong ones: the command fails and the vault stays locked.
    env.ok(&["lock"]);
    let (code, screen) = on_terminal(
        &env,
        &[
            ("The vault is locked. Passphrase: ", "a"),
            ("Wrong passphrase; try again: ", "b"),
            ("Wrong passphrase; try again: ", "c"),
        ],
        &["ls"],
    );
    assert_eq!(code, 1, "{screen}");
    assert!(screen.contains("wrong passphrase"), "{screen}");
    assert_eq!(env.status()["locked"], true);
}
