//! While unlocked, the key pages are locked against swapping; after `lock`,
//! the agent's memory holds neither the master key nor the passphrase (its
//! environment included) nor the text of an item a client read: read from
//! `/proc/<agent>/mem` as root can (the agent is not dumpable, so another
//! process of the user cannot read it at all). The index wipes its words on
//! lock, and the binary's allocator wipes every block it frees, transport
//! buffers included.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod proxy_upstream;

use std::io::{Read, Seek, SeekFrom};

use ctxvault_tests::{Env, PASS};
use sqlx::Connection;

/// The master key, unwrapped from the passphrase slot with the age crate.
async fn master_key(env: &Env) -> Vec<u8> {
    let url = format!("sqlite://{}?mode=ro", env.db().display());
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let wrapped: Vec<u8> =
        sqlx::query_scalar("SELECT wrapped FROM key_slots WHERE kind = 'passphrase'")
            .fetch_one(&mut c)
            .await
            .unwrap();
    let id = age::scrypt::Identity::new(age::secrecy::SecretString::from(PASS.to_owned()));
    age::decrypt(&id, &wrapped).unwrap()
}

/// Every readable mapping of `pid` with its `maps` line, or None when the
/// kernel refuses.
fn memory(pid: i32) -> Option<Vec<(String, Vec<u8>)>> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).ok()?;
    let mut all = Vec::new();
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (range, perms) = (f.next()?, f.next()?);
        if !perms.starts_with('r') || line.contains("[vvar]") || line.contains("[vsyscall]") {
            continue;
        }
        let (a, b) = range.split_once('-')?;
        let (a, b) = (
            u64::from_str_radix(a, 16).ok()?,
            u64::from_str_radix(b, 16).ok()?,
        );
        let mut buf = vec![0u8; (b - a) as usize];
        if mem.seek(SeekFrom::Start(a)).is_ok() && mem.read_exact(&mut buf).is_ok() {
            all.push((line.to_owned(), buf));
        }
    }
    Some(all)
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    memchr::memmem::find_iter(hay, needle).count()
}

/// How many copies of `needle` the mappings hold, and in which mappings.
fn find(maps: &[(String, Vec<u8>)], needle: &[u8]) -> (usize, Vec<String>) {
    let mut total = 0;
    let mut at = Vec::new();
    for (line, bytes) in maps {
        let n = count(bytes, needle);
        if n > 0 {
            total += n;
            at.push(format!("{n} in {line}"));
        }
    }
    (total, at)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_leaves_neither_the_master_key_nor_the_passphrase_in_memory() {
    let env = Env::new();
    env.init();
    env.add(&[
        "--ns",
        "notes",
        "--title",
        "zqxmemtitle",
        "zqxmembody about the orchard",
    ]);
    let token = common::add_client(&env, "reader");
    env.ok(&["grant", "reader", "**"]);
    // A provider behind the proxy, so item text also crosses its
    // connections (injected context) before the lock.
    let up = proxy_upstream::Upstream::start("mem").await;
    let url = format!("http://{}/v1", up.addr);
    let out = env.run_with(
        &[
            "provider",
            "add",
            "mem",
            "--kind",
            "openai",
            "--url",
            &url,
            "--key-stdin",
        ],
        Some(b"sk-memtest-zqxkey-0000"),
        Some(PASS),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let agent = env.http_agent_with(&["--proxy", "127.0.0.1:0"]);
    let proxy = env.status()["proxy"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://")
        .to_owned();
    let body = r#"{"model":"m","messages":[{"role":"user","content":"zqxmembody orchard"}]}"#;
    let req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {proxy}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (status, _, _) = ctxvault_tests::raw_http(&proxy, &req);
    assert_eq!(status, 200);
    assert!(
        up.last().body.contains("zqxmembody about the orchard"),
        "context went out"
    );
    let s = common::stdio(&env, "reader", &token).await;
    for _ in 0..20 {
        common::call(
            &s,
            "search_context",
            serde_json::json!({"query": "zqxmembody"}),
        )
        .await;
    }
    drop(s);
    let key = master_key(&env).await;
    let pid = agent.pid() as i32;
    let Some(before) = memory(pid) else {
        // Not root: the agent's memory is closed to us, which is the point.
        assert!(std::fs::File::open(format!("/proc/{pid}/mem")).is_err());
        return;
    };
    assert!(
        find(&before, b"zqxmembody").0 > 0,
        "the scan sees the unlocked vault"
    );
    env.ok(&["lock"]);
    let after = memory(pid).unwrap();
    let (keys, at) = find(&after, &key);
    assert_eq!(keys, 0, "the master key is still in memory: {at:?}");
    let (passes, at) = find(&after, PASS.as_bytes());
    assert_eq!(passes, 0, "the passphrase is still in memory: {at:?}");
    let (texts, at) = find(&after, b"zqxmembody");
    assert_eq!(texts, 0, "item text is still in memory: {at:?}");
    let (titles, at) = find(&after, b"zqxmemtitle");
    assert_eq!(titles, 0, "an item title is still in memory: {at:?}");
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    assert_eq!(
        count(&environ, PASS.as_bytes()),
        0,
        "the passphrase is in the environment"
    );
}
