//! A full disk (here: a file size limit set on the running agent, which
//! takes SIGXFSZ rather than dying of it, so writes fail the way they do on a full filesystem) loses nothing that
//! was acknowledged: every write either fails with a clear error or is on
//! disk after a restart, reads keep working, and once space is back writes
//! commit again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use ctxvault_tests::Env;
use sqlx::Connection;

/// Set the agent's soft file size limit (`prlimit` from util-linux).
fn limit_file_size(pid: i32, soft: &str) {
    let ok = Command::new("prlimit")
        .args([
            "--pid",
            &pid.to_string(),
            &format!("--fsize={soft}:unlimited"),
        ])
        .status()
        .expect("prlimit (util-linux)");
    assert!(ok.success());
}

fn file_len(p: &std::path::Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// Add `body`; Some(id) when acknowledged, None (with the error checked)
/// when refused.
fn try_add(env: &Env, body: &str) -> Option<String> {
    let out = env.run_with(&["add", "--ns", "disk", "-"], Some(body.as_bytes()), None);
    if out.code == 0 {
        return Some(out.stdout.trim().to_owned());
    }
    let line = out.stderr.trim();
    assert_eq!(line.lines().count(), 1, "one line: {line}");
    assert!(
        line.contains("disk") && line.contains("nothing was saved"),
        "the error names the disk and says nothing was saved: {line}"
    );
    assert!(!line.contains("locked"), "no lock left behind: {line}");
    None
}

#[test]
fn a_full_disk_loses_no_acknowledged_write() {
    let env = Env::new();
    env.init();
    env.add(&["--ns", "disk", "before the disk filled"]);
    let pid = env.agent_pid().expect("agent pid");
    let db = env.db();
    let wal = db.with_file_name("vault.db-wal");
    let limit = file_len(&db).max(file_len(&wal)) + 256 * 1024;
    limit_file_size(pid, &limit.to_string());

    let mut acked = vec!["before the disk filled".to_owned()];
    // A write larger than the room left fails, cleanly.
    let big = "x".repeat(1024 * 1024);
    assert_eq!(try_add(&env, &big), None, "a write past the limit fails");
    // Later writes fail or are kept; none is acknowledged and then lost.
    for n in 0..30 {
        let body = format!("small write {n} {}", "y".repeat(4000));
        if try_add(&env, &body).is_some() {
            acked.push(body);
        }
    }
    // Reads keep working, and agree with what was acknowledged.
    let listed = env.json(&["ls", "--ns", "disk", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), acked.len());
    let status = env.status();
    assert_eq!(
        status["items"].as_u64(),
        Some(acked.len() as u64),
        "{status}"
    );

    // Space comes back: writes commit again.
    limit_file_size(pid, "unlimited");
    for n in 0..3 {
        let body = format!("after space came back {n}");
        assert!(try_add(&env, &body).is_some(), "writes work again");
        acked.push(body);
    }
    assert!(try_add(&env, &big).is_some());
    acked.push(big);

    // After a restart everything acknowledged is there, and nothing else.
    env.ok(&["stop"]);
    let listed = env.json(&["ls", "--ns", "disk", "--json"]);
    let mut bodies: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["body"].as_str().unwrap().to_owned())
        .collect();
    bodies.sort();
    acked.sort();
    assert_eq!(bodies, acked);
    assert!(env.ok(&["audit", "verify"]).contains("intact"));
    env.ok(&["stop"]);
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let url = format!("sqlite://{}?mode=ro", db.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let r: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(r, "ok");
    });
}
