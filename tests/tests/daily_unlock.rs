//! Locked need not mean "go to a shell": a command that needs the vault
//! asks for the passphrase on the terminal it runs in.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ctxvault_tests::{Env, PASS, assert_one_line_error, on_terminal};

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
