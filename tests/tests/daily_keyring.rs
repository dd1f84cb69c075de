//! Unlock at login through the system keyring: a real Secret Service
//! (GNOME Keyring on its own D-Bus session bus) holds the passphrase after
//! `keyring on`; the agent unlocks from it when it starts, and commands
//! that find the vault locked unlock from it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead;
use std::process::{Command, Stdio};

use ctxvault_tests::{Env, PASS, SessionBus, assert_one_line_error};

/// A D-Bus session bus with GNOME Keyring's Secret Service on it, its
/// login keyring unlocked. Both end when dropped (the keyring daemon
/// leaves with its bus).
struct SecretService {
    _bus: SessionBus,
    address: String,
    home: std::path::PathBuf,
}

impl SecretService {
    fn start(env: &Env) -> SecretService {
        let home = env.tmp.path().join("desktop");
        let runtime = home.join("run");
        std::fs::create_dir_all(&runtime).unwrap();
        std::fs::set_permissions(
            &runtime,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        let bus = SessionBus::start();
        let address = bus.address.clone();
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets", "--daemonize"])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_RUNTIME_DIR", &runtime)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon (Debian's gnome-keyring) runs");
        // The login keyring's password, then end of input.
        use std::io::Write;
        keyring
            .stdin
            .take()
            .unwrap()
            .write_all(b"login-password")
            .unwrap();
        // It returns once its daemon serves the bus.
        assert!(keyring.wait().unwrap().success());
        SecretService {
            _bus: bus,
            address,
            home,
        }
    }

    /// `secret-tool lookup` for the vault's entry, as another program
    /// reading the keyring would.
    fn lookup(&self, vault: &std::path::Path) -> Option<String> {
        let o = Command::new("secret-tool")
            .args(["lookup", "service", "ctxvault", "username"])
            .arg(vault.canonicalize().unwrap())
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .env("HOME", &self.home)
            .output()
            .expect("secret-tool (Debian's libsecret-tools) runs");
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
    }
}

#[test]
fn the_keyring_unlocks_at_agent_start_and_when_locked() {
    let mut env = Env::new();
    env.init();
    env.add(&["--ns", "work", "The Lisbon offsite is in March"]);
    let ss = SecretService::start(&env);
    env.vars
        .push(("DBUS_SESSION_BUS_ADDRESS".into(), ss.address.clone()));

    // A wrong passphrase is refused and nothing is stored.
    let o = env.run_with(&["keyring", "on"], None, Some("not the passphrase"));
    assert_one_line_error(&o.stderr, "wrong passphrase");
    assert_eq!(ss.lookup(&env.vault), None);
    assert_eq!(env.json(&["keyring", "status", "--json"])["keyring"], false);

    env.ok(&["keyring", "on"]);
    assert_eq!(ss.lookup(&env.vault).as_deref(), Some(PASS));
    assert!(
        env.vault.join("keyring").exists(),
        "the opt-in is not recorded"
    );
    assert_eq!(env.json(&["keyring", "status", "--json"])["keyring"], true);

    // `passwd` keeps the keyring's copy current (and back again).
    let new = "a different passphrase for a while";
    for (from, to) in [(PASS, new), (new, PASS)] {
        let mut c = env.cmd(&["passwd"]);
        c.env("CTXVAULT_PASSPHRASE", from)
            .env("CTXVAULT_NEW_PASSPHRASE", to);
        let o: ctxvault_tests::Out = c.output().unwrap().into();
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert!(
            o.stdout.contains("the system keyring holds the new one"),
            "{}",
            o.stdout
        );
        assert_eq!(ss.lookup(&env.vault).as_deref(), Some(to));
    }

    // Locked (auto-lock, or by hand): a command unlocks from the keyring,
    // with no passphrase in its environment and no terminal.
    env.ok(&["lock"]);
    let o = env.run_with(&["search", "lisbon"], None, None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("Lisbon offsite"));

    // An agent started by a command or by an AI app's bridge starts
    // locked; started as `service install` runs it (at login), it is
    // unlocked before it says it is ready.
    let start = |args: &[&str]| {
        env.ok(&["stop"]);
        let mut agent = env
            .cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(agent.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready");
        let locked = env.status()["locked"].clone();
        env.ok(&["stop"]);
        assert!(agent.wait().unwrap().success());
        locked
    };
    assert_eq!(start(&["daemon", "--notify-ready"]), true);
    assert_eq!(
        start(&["daemon", "--unlock-from-keyring", "--notify-ready"]),
        false
    );

    // Off: gone from the keyring, and a locked vault stays locked.
    env.ok(&["keyring", "off"]);
    assert_eq!(ss.lookup(&env.vault), None);
    assert!(!env.vault.join("keyring").exists());
    env.ok(&["lock"]);
    let e = env.fails(&["ls"]);
    assert_one_line_error(&e, "locked");
}
