//! The passphrase prompt on a real terminal: asked twice at `init`, never
//! echoed, and a mismatch creates nothing. Driven through a pseudo-terminal
//! by tests/tests/support/pty_answer.py (Python's `pty`, expect-style).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ctxvault_tests::{Env, assert_one_line_error, on_terminal};

fn init_on_terminal(env: &Env, first: &str, second: &str) -> (i32, String) {
    on_terminal(
        env,
        &[("Passphrase: ", first), ("Passphrase again: ", second)],
        &["init"],
    )
}

#[test]
fn init_prompts_twice_without_echo() {
    let env = Env::new();
    let pass = "typed-at-the-terminal-7";
    let (code, screen) = init_on_terminal(&env, pass, pass);
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("Passphrase: ") && screen.contains("Passphrase again: "),
        "{screen}"
    );
    assert!(
        !screen.contains(pass),
        "the passphrase was echoed: {screen}"
    );
    // The vault opens with what was typed.
    env.ok(&["lock"]);
    let o = env.run_with(&["ls"], None, Some(pass));
    assert_eq!(o.code, 0, "{}", o.stderr);
}

#[test]
fn mismatched_confirmation_creates_nothing() {
    let env = Env::new();
    let (code, screen) = init_on_terminal(&env, "one passphrase", "another one");
    assert_eq!(code, 1, "{screen}");
    let err: String = screen
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_one_line_error(&err, "the passphrases differ");
    assert!(!env.vault.exists(), "nothing may be created");
}
