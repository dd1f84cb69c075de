//! Daily use, continued: config.toml, and MCP over HTTP opened and closed
//! in the running agent without a restart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use ctxvault_tests::{Env, assert_one_line_error};

fn search(r: &rmcp::model::CallToolResult) -> String {
    common::text(r)
}

/// A config.toml in the vault directory is read at every agent start (HTTP
/// address, lock-after) and by every command (output); `http off` and
/// `http on` close and open MCP over HTTP in the same agent, the vault
/// staying unlocked, and a real MCP client works through the new door.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_file_and_http_on_off_without_a_restart() {
    let env = Env::new();
    env.init();
    env.add(&["--ns", "work", "The Lisbon offsite is in March"]);
    let token = common::add_client(&env, "desk");
    env.ok(&["grant", "desk", "work/**"]);
    env.ok(&["stop"]);
    std::fs::write(
        env.vault.join("config.toml"),
        "http = \"127.0.0.1:0\"\nlock_after = \"2h\"\noutput = \"json\"\n",
    )
    .unwrap();
    env.ok(&["unlock"]);
    // `output = "json"`: plain `status` prints JSON.
    let status: serde_json::Value = serde_json::from_str(&env.ok(&["status"])).unwrap();
    assert_eq!(status["lock_after_secs"], 7200, "{status}");
    let url = status["http"]
        .as_str()
        .expect("served from config.toml")
        .to_owned();
    let pid = status["pid"].clone();
    let s = common::http(&url, &token).await;
    let r = common::call(&s, "search_context", serde_json::json!({"query": "lisbon"})).await;
    assert!(search(&r).contains("Lisbon offsite"), "{}", search(&r));

    let off = env.json(&["http", "off"]);
    assert_eq!(off["was"], url.as_str());
    assert!(env.status()["http"].is_null());
    let addr = url.trim_start_matches("http://").trim_end_matches("/mcp");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "still listening"
    );
    drop(s);

    let on = env.json(&["http", "on", "127.0.0.1:0"]);
    let url2 = on["url"].as_str().unwrap().to_owned();
    let status = env.status();
    assert_eq!(
        (&status["pid"], &status["locked"]),
        (&pid, &serde_json::json!(false)),
        "restarted or locked: {status}"
    );
    assert_eq!(status["http"], url2.as_str());
    let s = common::http(&url2, &token).await;
    let r = common::call(
        &s,
        "search_context",
        serde_json::json!({"query": "offsite"}),
    )
    .await;
    assert!(search(&r).contains("Lisbon offsite"));
    // Asking again for the same address is the same door; another is refused.
    assert_eq!(
        env.json(&["http", "on", "127.0.0.1:0"])["url"],
        url2.as_str()
    );
    assert_eq!(env.json(&["http", "status"])["url"], url2.as_str());
    let e = env.fails(&["http", "on", "127.0.0.1:1"]);
    assert_one_line_error(&e, "already served at");
    let e = env.fails(&["http", "on", "0.0.0.0:0"]);
    assert_one_line_error(&e, "not a loopback address");
    s.cancel().await.unwrap();
}

/// A config.toml that does not parse stops every command with one line
/// naming the file, the line and the keys; nothing changes. Without one in
/// the vault directory, $XDG_CONFIG_HOME/ctxvault/config.toml is read.
#[test]
fn bad_config_is_named_and_the_xdg_one_is_read() {
    let env = Env::new();
    env.init();
    env.add(&["one item"]);
    let before = env.json(&["ls", "--json"]);
    let file = env.vault.join("config.toml");
    for (text, needle) in [
        (
            "output = \"json\"\nlock_after = \"soon\"\n",
            "config.toml:2",
        ),
        ("proxyy = \"127.0.0.1:1\"\n", "unknown field `proxyy`"),
        ("http = \"0.0.0.0:7410\"\n", "not a loopback address"),
        ("output = [\n", "config.toml:1"),
    ] {
        std::fs::write(&file, text).unwrap();
        let e = env.fails(&["add", "two"]);
        assert_one_line_error(&e, needle);
        assert!(e.contains(file.to_str().unwrap()), "{e}");
    }
    std::fs::remove_file(&file).unwrap();
    assert_eq!(env.json(&["ls", "--json"]), before);

    let xdg = env.tmp.path().join("xdg-config/ctxvault");
    std::fs::create_dir_all(&xdg).unwrap();
    std::fs::write(xdg.join("config.toml"), "output = \"json\"\n").unwrap();
    let listed: serde_json::Value = serde_json::from_str(&env.ok(&["ls"])).unwrap();
    assert_eq!(listed, before);
    let shown = env.json(&["config"]);
    assert_eq!(shown["file"], xdg.join("config.toml").to_str().unwrap());
}
