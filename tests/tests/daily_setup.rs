//! Daily use, continued: what people expect around the command line
//! (completions, manual pages, the agent at login, backups).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use ctxvault_tests::{Env, PASS, assert_one_line_error};

/// Bash completion, loaded into a real bash, completes subcommands; zsh
/// and fish scripts are made for the same commands.
#[test]
fn shell_completions_complete() {
    let env = Env::new();
    let script = env.tmp.path().join("ctxvault.bash");
    std::fs::write(&script, env.ok(&["completions", "bash"])).unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && COMP_WORDS=(ctxvault gra) COMP_CWORD=1 && _ctxvault ctxvault gra ctxvault && echo \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .unwrap();
    let words = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut got: Vec<&str> = words.split_whitespace().collect();
    got.sort();
    assert_eq!(got, ["grant", "grants"], "{words}");
    assert!(
        env.ok(&["completions", "zsh"])
            .contains("#compdef ctxvault")
    );
    assert!(
        env.ok(&["completions", "fish"])
            .contains("complete -c ctxvault")
    );
    assert_one_line_error(&env.fails(&["completions", "tcsh"]), "invalid value 'tcsh'");
}

/// `man` prints the page; `man --out DIR` writes one per subcommand.
#[test]
fn manual_pages() {
    let env = Env::new();
    let page = env.ok(&["man"]);
    assert!(page.contains(".TH ctxvault 1"), "{page}");
    let dir = env.tmp.path().join("man1");
    env.ok(&["man", "--out", dir.to_str().unwrap()]);
    let grant = std::fs::read_to_string(dir.join("ctxvault-grant.1")).unwrap();
    assert!(grant.contains(".TH ctxvault-grant 1"));
    assert!(grant.contains("max\\-sensitivity"), "{grant}");
    assert!(dir.join("ctxvault-client-add.1").exists());
    let n = std::fs::read_dir(&dir).unwrap().count();
    assert!(n > 40, "only {n} pages");
}

/// Split a systemd `ExecStart=` line into its words (double quotes, `\`
/// escapes and `%%` as systemd reads them).
fn systemd_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' if quoted => cur.push(chars.next().unwrap()),
            '%' => cur.push(chars.next().unwrap()),
            ' ' if !quoted => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// Start what a service file says to run, as the service manager would,
/// and check it is this vault's agent; then stop it.
fn run_like_a_service_manager(env: &Env, argv: &[String]) {
    assert!(argv.len() >= 4, "{argv:?}");
    assert_eq!(
        &argv[1..],
        [
            "--vault",
            env.vault.to_str().unwrap(),
            "daemon",
            "--unlock-from-keyring"
        ]
    );
    use std::io::BufRead;
    // The agent says when it listens (the test's only addition).
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .arg("--notify-ready")
        .env("CTXVAULT_RUNTIME_DIR", &env.runtime)
        .env_remove("CTXVAULT_HOME")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready", "the agent did not start");
    let status = env.status();
    assert_eq!(status["pid"], child.id(), "{status}");
    assert_eq!(status["locked"], true, "the agent starts locked");
    env.ok(&["stop"]);
    assert!(child.wait().unwrap().success());
}

/// `service install` writes a systemd user unit and a launchd plist that
/// start this binary's agent for this vault; what they run works.
#[test]
fn service_files_start_the_agent() {
    let env = Env::new();
    env.init();
    env.ok(&["stop"]);
    let cfg = env.tmp.path().join("config");
    let home = env.tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let install = |kind: &str| {
        let mut c = env.cmd(&[
            "service",
            "install",
            "--kind",
            kind,
            "--no-enable",
            "--json",
        ]);
        c.env("XDG_CONFIG_HOME", &cfg).env("HOME", &home);
        let o: ctxvault_tests::Out = c.output().unwrap().into();
        assert_eq!(o.code, 0, "{}", o.stderr);
        serde_json::from_str::<serde_json::Value>(&o.stdout).unwrap()
    };

    let unit = install("systemd");
    let path = cfg.join("systemd/user/ctxvault.service");
    assert_eq!(unit["path"], path.to_str().unwrap());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("[Install]\nWantedBy=default.target"),
        "{text}"
    );
    let exec = text
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap();
    run_like_a_service_manager(&env, &systemd_words(exec));
    // Installing again is the same file; a changed one is not overwritten.
    install("systemd");
    std::fs::write(&path, format!("{text}# mine\n")).unwrap();
    let mut c = env.cmd(&["service", "install", "--kind", "systemd", "--no-enable"]);
    c.env("XDG_CONFIG_HOME", &cfg).env("HOME", &home);
    let o: ctxvault_tests::Out = c.output().unwrap().into();
    assert_one_line_error(&o.stderr, "exists and starts another binary or vault");
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .ends_with("# mine\n")
    );
    std::fs::write(&path, &text).unwrap();

    let plist = install("launchd");
    let path = home.join("Library/LaunchAgents/org.ctxvault.agent.plist");
    assert_eq!(plist["path"], path.to_str().unwrap());
    // Read back with Python's plistlib, as a plist reader would.
    let out = Command::new(ctxvault_tests::python())
        .args([
            "-c",
            "import plistlib,sys,json; p=plistlib.load(open(sys.argv[1],'rb')); print(json.dumps(p))",
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&p["Label"], &p["RunAtLoad"]),
        (
            &serde_json::json!("org.ctxvault.agent"),
            &serde_json::json!(true)
        )
    );
    let argv: Vec<String> = p["ProgramArguments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    run_like_a_service_manager(&env, &argv);

    for kind in ["systemd", "launchd"] {
        let mut c = env.cmd(&["service", "uninstall", "--kind", kind, "--no-enable"]);
        c.env("XDG_CONFIG_HOME", &cfg).env("HOME", &home);
        assert!(c.status().unwrap().success());
    }
    assert!(!cfg.join("systemd/user/ctxvault.service").exists());
    assert!(!path.exists());
}

/// `backup FILE` copies the sealed database while the agent runs; the copy
/// restores as a vault that opens with the same passphrase.
#[test]
fn backup_and_restore() {
    let env = Env::new();
    env.init();
    for k in 0..50 {
        env.add(&["--ns", "work", &format!("item {k} about the garden")]);
    }
    let want = env.json(&["ls", "--json"]);
    let file = env.tmp.path().join("vault-backup.db");
    let out = env.json(&["backup", file.to_str().unwrap(), "--json"]);
    assert!(out["bytes"].as_u64().unwrap() > 0);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the backup is readable by others");
    // Nothing of the text is in it unsealed.
    let bytes = std::fs::read(&file).unwrap();
    assert!(!bytes.windows(6).any(|w| w == b"garden"));
    assert_one_line_error(
        &env.fails(&["backup", file.to_str().unwrap()]),
        "already exists",
    );
    // Also while locked (the database is sealed either way).
    env.ok(&["lock"]);
    env.ok(&["backup", env.tmp.path().join("locked.db").to_str().unwrap()]);

    // Restore, as the README says: the copy as vault.db in a vault directory.
    let other = Env::new();
    std::fs::create_dir_all(&other.vault).unwrap();
    std::fs::set_permissions(&other.vault, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::copy(&file, other.vault.join("vault.db")).unwrap();
    let o = other.run_with(&["unlock"], None, Some(PASS));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(other.json(&["ls", "--json"]), want);
    let verify = other.run(&["audit", "verify"]);
    assert_eq!(verify.code, 0, "{}", verify.stderr);
}

/// The README says what the build and the tests cost.
#[test]
fn readme_says_what_the_build_costs() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let setup = readme.split("## A short tour").next().unwrap();
    let setup = setup.split_whitespace().collect::<Vec<_>>().join(" ");
    for needle in [
        "GB",
        "minutes",
        "virtual environment",
        "never into the system's Python",
    ] {
        assert!(
            setup.contains(needle),
            "the set-up section does not say {needle:?}"
        );
    }
}
