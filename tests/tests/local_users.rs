//! What another local user could do to the vault's directories: a vault
//! directory others may write to is refused, and the agent's socket does not
//! live in a place another user can take first.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;

use ctxvault_tests::{Env, PASS, assert_one_line_error};

#[test]
fn init_refuses_a_vault_directory_others_can_write() {
    let env = Env::new();
    std::fs::create_dir_all(&env.vault).unwrap();
    std::fs::set_permissions(&env.vault, std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = env.run(&["init"]);
    assert_ne!(o.code, 0);
    assert_one_line_error(
        &o.stderr,
        "is writable by group or others (mode 777): run `chmod 700",
    );
    assert!(!env.db().exists(), "no vault was made");
    std::fs::set_permissions(&env.vault, std::fs::Permissions::from_mode(0o700)).unwrap();
    env.init();
    // A vault whose directory was opened up later is refused too.
    env.ok(&["stop"]);
    std::fs::set_permissions(&env.vault, std::fs::Permissions::from_mode(0o757)).unwrap();
    let o = env.run(&["ls"]);
    assert_ne!(o.code, 0);
    assert_one_line_error(&o.stderr, "writable by group or others");
}

#[test]
fn without_xdg_runtime_dir_the_socket_lives_in_the_home_not_tmp() {
    let env = Env::new();
    let home = env.tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let run = |args: &[&str]| {
        let out = env
            .cmd(args)
            .env_remove("CTXVAULT_RUNTIME_DIR")
            .env_remove("XDG_STATE_HOME")
            .env("HOME", &home)
            .env("CTXVAULT_PASSPHRASE", PASS)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["init"]);
    let status: serde_json::Value = serde_json::from_str(&run(&["status", "--json"])).unwrap();
    let socket = status["socket"].as_str().unwrap();
    assert!(
        socket.starts_with(home.join(".local/state/ctxvault/run").to_str().unwrap()),
        "{socket}"
    );
    let mode = std::fs::metadata(home.join(".local/state/ctxvault/run"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    run(&["stop"]);
}
