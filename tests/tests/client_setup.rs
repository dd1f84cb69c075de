//! Connecting apps: `client add` prints the token once; `client setup`
//! writes each app's own configuration file (merged, backed up, the change
//! shown, the token in a file); `client bundle` makes a Claude Desktop
//! extension that Anthropic's `mcpb` tool validates. Every written entry is
//! started as the app would start it and answers over MCP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ctxvault_tests::{Env, Out, assert_one_line_error};
use rmcp::ServiceExt;
use serde_json::{Value, json};

fn in_home(env: &Env, home: &Path, args: &[&str]) -> Out {
    let mut c = env.cmd(args);
    c.env("HOME", home);
    c.output().unwrap().into()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Start `command args env` as an app would (no vault variables: only the
/// runtime directory this test's agent uses) and search through it.
async fn answers(env: &Env, command: &str, args: &[String], vars: &[(String, String)]) -> String {
    let mut cmd = tokio::process::Command::new(command);
    cmd.args(args)
        .env_remove("CTXVAULT_HOME")
        .env("CTXVAULT_RUNTIME_DIR", &env.runtime);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let (transport, _) = rmcp::transport::TokioChildProcess::builder(cmd)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let s = ().serve(transport).await.unwrap();
    let r = common::call(&s, "search_context", json!({"query": "lisbon"})).await;
    s.cancel().await.unwrap();
    common::text(&r)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_writes_each_apps_config_and_it_works() {
    let env = Env::new();
    env.init();
    env.add(&["--ns", "work", "The Lisbon offsite is in March"]);
    let home = env.tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();

    // The token is printed once, and no snippet repeats it.
    let added = env.ok(&["client", "add", "desk"]);
    let token = added
        .split_whitespace()
        .find(|w| w.starts_with("cvt_"))
        .unwrap()
        .to_owned();
    assert_eq!(added.matches(&token).count(), 1, "{added}");
    assert!(
        added.contains("ctxvault client setup desk --for"),
        "{added}"
    );
    env.ok(&["grant", "desk", "work/**"]);

    // Claude Code: an existing ~/.claude.json with other state and servers.
    let claude = home.join(".claude.json");
    let before = "{\n  \"numStartups\": 7,\n  \"mcpServers\": {\n    \"other\": {\n      \"command\": \"other-server\",\n      \"env\": {\"OTHER_KEY\": \"sk-other-secret\"}\n    }\n  },\n  \"projects\": {\"/src\": {\"allowedTools\": []}}\n}\n";
    std::fs::write(&claude, before).unwrap();
    let o = in_home(
        &env,
        &home,
        &["client", "setup", "desk", "--for", "claude-code"],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("desk has a new token, kept in"),
        "{}",
        o.stderr
    );
    assert!(
        o.stdout.contains("+    \"ctxvault\": {"),
        "no diff shown: {}",
        o.stdout
    );
    assert!(o.stdout.contains("restart Claude Code"), "{}", o.stdout);
    assert!(
        !o.stdout.contains("sk-other-secret"),
        "another server's key shown: {}",
        o.stdout
    );
    let backup: PathBuf = std::fs::read_dir(&home)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.to_string_lossy()
                .ends_with(".claude.json.ctxvault-backup")
        })
        .expect("a backup of the old file");
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), before);
    assert_eq!(
        std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(&claude).unwrap();
    for line in before.lines() {
        assert!(text.contains(line), "{line:?} changed in {text}");
    }
    // Again: the same bytes, nothing written.
    let o = in_home(
        &env,
        &home,
        &["client", "setup", "desk", "--for", "claude-code"],
    );
    assert!(o.stdout.contains("already has this entry"), "{}", o.stdout);
    assert_eq!(std::fs::read_to_string(&claude).unwrap(), text);
    assert!(
        !text.contains(&token) && !text.contains("cvt_"),
        "a token in the config"
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["numStartups"], 7);
    assert_eq!(v["projects"]["/src"]["allowedTools"], json!([]));
    assert_eq!(v["mcpServers"]["other"]["command"], "other-server");
    let entry = v["mcpServers"]["ctxvault"].clone();
    assert_eq!(
        (&entry["type"], &entry["env"]),
        (&json!("stdio"), &json!({}))
    );
    let token_file = env.vault.join("tokens/desk.token");
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let command = entry["command"].as_str().unwrap().to_owned();
    let args = strings(&entry["args"]);
    assert!(
        args.contains(&token_file.to_str().unwrap().to_owned()),
        "{args:?}"
    );
    assert!(
        answers(&env, &command, &args, &[])
            .await
            .contains("Lisbon offsite")
    );
    // The printed token was replaced by the one in the file.
    let mut c = env.cmd(&["mcp", "--client", "desk"]);
    c.env("CTXVAULT_TOKEN", &token);
    let o: Out = c.output().unwrap().into();
    assert_ne!(o.code, 0, "the old token still works");

    // Claude Desktop, Cursor and VS Code: new files, the same server.
    let xdg = env.tmp.path().join("xdg-config");
    for (app, path, key) in [
        (
            "claude-desktop",
            xdg.join("Claude/claude_desktop_config.json"),
            "mcpServers",
        ),
        ("cursor", home.join(".cursor/mcp.json"), "mcpServers"),
        ("vscode", xdg.join("Code/User/mcp.json"), "servers"),
    ] {
        let o = in_home(
            &env,
            &home,
            &["client", "setup", "desk", "--for", app, "--json"],
        );
        assert_eq!(o.code, 0, "{app}: {}", o.stderr);
        assert!(
            !o.stderr.contains("new token"),
            "{app}: the token file was not reused"
        );
        let out: Value = serde_json::from_str(&o.stdout).unwrap();
        assert_eq!(out["file"], path.to_str().unwrap());
        let e = &read_json(&path)[key]["ctxvault"];
        assert_eq!(
            (e["command"].as_str().unwrap(), strings(&e["args"])),
            (command.as_str(), args.clone()),
            "{app}"
        );
        if app == "vscode" {
            assert_eq!(e["type"], "stdio");
        }
    }
    // Again: nothing changes, no backup.
    let o = in_home(&env, &home, &["client", "setup", "desk", "--for", "cursor"]);
    assert!(
        o.stdout.contains("already has this entry; nothing changed"),
        "{}",
        o.stdout
    );
    // A file that is not plain JSON is left alone, and no token is made.
    let vs = xdg.join("Code/User/mcp.json");
    std::fs::write(&vs, "// my servers\n{}\n").unwrap();
    let token_before = std::fs::read_to_string(&token_file).unwrap();
    std::fs::remove_file(&token_file).unwrap();
    let o = in_home(&env, &home, &["client", "setup", "desk", "--for", "vscode"]);
    assert_one_line_error(
        &o.stderr,
        "nothing was written (`--print` shows the entry to add by hand)",
    );
    assert_eq!(std::fs::read_to_string(&vs).unwrap(), "// my servers\n{}\n");
    assert!(
        !token_file.exists(),
        "a token was made for a setup that failed"
    );
    std::fs::write(&token_file, &token_before).unwrap();
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    // --print: the entries to paste, reading the token file.
    let o = in_home(
        &env,
        &home,
        &["client", "setup", "desk", "--for", "cursor", "--print"],
    );
    assert!(
        o.stdout.contains("--token-file") && !o.stdout.contains("cvt_"),
        "{}",
        o.stdout
    );
    // An unknown client is named.
    let o = in_home(
        &env,
        &home,
        &["client", "setup", "nobody", "--for", "cursor"],
    );
    assert_one_line_error(&o.stderr, "no client \"nobody\"");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_desktop_bundle_validates_and_runs() {
    let env = Env::new();
    env.init();
    env.add(&["--ns", "work", "The Lisbon offsite is in March"]);
    let token = common::add_client(&env, "desktop");
    env.ok(&["grant", "desktop", "work/**"]);
    let bundle = env.tmp.path().join("ctxvault.mcpb");
    env.ok(&[
        "client",
        "bundle",
        "desktop",
        "--out",
        bundle.to_str().unwrap(),
    ]);
    assert_one_line_error(
        &env.fails(&[
            "client",
            "bundle",
            "desktop",
            "--out",
            bundle.to_str().unwrap(),
        ]),
        "already exists",
    );
    let bytes = std::fs::read(&bundle).unwrap();
    assert!(
        !bytes.windows(4).any(|w| w == b"cvt_"),
        "a token in the bundle"
    );

    let mcpb = |args: &[&str]| {
        let o = std::process::Command::new(ctxvault_tests::mcpb())
            .args(args)
            .output()
            .unwrap();
        let out = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.status.success(), "mcpb {args:?}: {out}");
        out
    };
    let dir = env.tmp.path().join("unpacked");
    mcpb(&["unpack", bundle.to_str().unwrap(), dir.to_str().unwrap()]);
    let manifest = dir.join("manifest.json");
    let said = mcpb(&["validate", manifest.to_str().unwrap()]);
    assert!(said.to_lowercase().contains("valid"), "{said}");
    mcpb(&["info", bundle.to_str().unwrap()]);

    let m = read_json(&manifest);
    assert_eq!(
        (&m["manifest_version"], &m["server"]["type"]),
        (&json!("0.3"), &json!("binary"))
    );
    assert_eq!(m["user_config"]["token"]["sensitive"], true);
    assert_eq!(m["user_config"]["vault_dir"]["type"], "directory");
    let vault = env.vault.canonicalize().unwrap();
    assert_eq!(
        m["user_config"]["vault_dir"]["default"],
        vault.to_str().unwrap()
    );
    let entry = dir.join(m["server"]["entry_point"].as_str().unwrap());
    let mode = std::fs::metadata(&entry).unwrap().permissions().mode();
    assert!(mode & 0o111 != 0, "the launcher is not executable");

    // Start it as Claude Desktop does: its variables replaced, the user's
    // values filled in.
    let sub = |s: &str| {
        s.replace("${__dirname}", dir.to_str().unwrap())
            .replace("${user_config.vault_dir}", vault.to_str().unwrap())
            .replace("${user_config.token}", &token)
    };
    let c = &m["server"]["mcp_config"];
    let args: Vec<String> = strings(&c["args"]).iter().map(|a| sub(a)).collect();
    let vars: Vec<(String, String)> = c["env"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), sub(v.as_str().unwrap())))
        .collect();
    let found = answers(&env, &sub(c["command"].as_str().unwrap()), &args, &vars).await;
    assert!(found.contains("Lisbon offsite"), "{found}");
}
