//! Import and export stream a bundle's text between the CLI and the agent
//! in frames: a vault larger than one frame and one read chunk goes out
//! and comes back whole; an import cut off before its end writes nothing;
//! an export that fails midway leaves no file behind.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use ctxvault_tests::{Env, PASS, assert_one_line_error};
use sqlx::{Connection, SqliteConnection};
use vault_daemon::protocol::PROTOCOL_VERSION;
use vault_daemon::protocol::frames::{FrameKind, IMPORT_PATH, encode};

/// Plain JSONL of `n` items of about 900 bytes each, in `dir`.
fn jsonl(dir: &Path, n: usize) -> std::path::PathBuf {
    jsonl_of(dir, n, 0, &"lorem ipsum dolor ".repeat(50))
}

/// Plain JSONL of `n` items whose text is `words` after a number, their
/// ids numbered from `first`.
fn jsonl_of(dir: &Path, n: usize, first: u128, words: &str) -> std::path::PathBuf {
    let path = dir.join(format!("items-{n}-{}.jsonl", words.len()));
    let mut text = format!(
        "{{\"format\":\"ctxvault-bundle\",\"version\":1,\"created_at\":\"2026-01-01T00:00:00Z\",\"items\":{n}}}\n"
    );
    for k in 0..n {
        let id =
            uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + first + k as u128);
        let body = format!("item {k}: {words}");
        let line = serde_json::json!({
            "type": "item", "id": id.to_string(), "namespace": format!("work/n{}", k % 7),
            "kind": "note", "title": null, "body": body, "tags": [format!("t{}", k % 13)],
            "sensitivity": "normal", "source": "user",
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z", "version": 1
        });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn run_bundle(env: &Env, args: &[&str]) -> ctxvault_tests::Out {
    let mut c = env.cmd(args);
    c.env("CTXVAULT_PASSPHRASE", PASS)
        .env("CTXVAULT_BUNDLE_PASSPHRASE", "bundle pass")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    c.output().unwrap().into()
}

/// Sorted item lines of a plain export.
fn item_lines(env: &Env, out: &Path) -> Vec<String> {
    env.ok(&["export", "--plain", "--out", out.to_str().unwrap()]);
    let mut lines: Vec<String> = std::fs::read_to_string(out)
        .unwrap()
        .lines()
        .skip(1)
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

#[test]
fn a_vault_larger_than_a_frame_goes_out_and_comes_back_whole() {
    let env = Env::new();
    env.init();
    let src = jsonl(env.tmp.path(), 3000);
    let out = env.ok(&["import", src.to_str().unwrap()]);
    assert!(out.contains("imported 3000 of 3000 items"), "{out}");
    let bundle = env.tmp.path().join("all.bundle");
    let o = run_bundle(&env, &["export", "--out", bundle.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("exported 3000 items"), "{}", o.stdout);
    assert!(std::fs::metadata(&bundle).unwrap().len() > 2 * 1024 * 1024);

    let other = Env::new();
    other.init();
    let o = run_bundle(&other, &["import", bundle.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains("imported 3000 of 3000 items"),
        "{}",
        o.stdout
    );
    let a = item_lines(&env, &env.tmp.path().join("a.jsonl"));
    let b = item_lines(&other, &other.tmp.path().join("b.jsonl"));
    assert_eq!(a.len(), 3000);
    assert_eq!(a, b, "every item comes back as it went out");
    // Importing again finds every item already there.
    let o = run_bundle(&other, &["import", bundle.to_str().unwrap()]);
    assert!(
        o.stdout.contains("imported 0 of 3000 items"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("3000 duplicates"), "{}", o.stdout);
}

/// Items far larger than a frame, and one whose JSON line (a megabyte of
/// quotes, each escaped) is longer than a frame on its own, go out in
/// frames the reader takes and come back whole.
#[test]
fn items_larger_than_a_frame_go_out_whole() {
    let env = Env::new();
    env.init();
    let src = jsonl_of(env.tmp.path(), 700, 0, &"eight kilobytes ".repeat(512));
    env.ok(&["import", src.to_str().unwrap()]);
    let quotes = jsonl_of(env.tmp.path(), 1, 1_000_000, &"\"".repeat(1024 * 1024 - 20));
    let o = env.run(&["import", "--ns", "big", quotes.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let bundle = env.tmp.path().join("big.bundle");
    let o = run_bundle(&env, &["export", "--out", bundle.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("exported 701 items"), "{}", o.stdout);
    let other = Env::new();
    other.init();
    let o = run_bundle(&other, &["import", bundle.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let a = item_lines(&env, &env.tmp.path().join("a.jsonl"));
    let b = item_lines(&other, &other.tmp.path().join("b.jsonl"));
    assert_eq!(a.len(), 701);
    assert_eq!(a, b);
    assert!(
        a.iter()
            .any(|l| l.len() > 2 * 1024 * 1024 && l.contains("\"big/"))
    );
}

/// One HTTP/1.1 request to the agent's socket announcing `length` bytes
/// of body and sending `body`. With all of it sent, the answer (status
/// line to body); otherwise the connection is dropped at once.
fn raw_import(env: &Env, body: &[u8], length: usize) -> String {
    let socket = vault_daemon::paths::socket_path(&env.runtime, &env.vault).unwrap();
    let mut s = UnixStream::connect(socket).unwrap();
    let head = format!(
        "POST {IMPORT_PATH} HTTP/1.1\r\nhost: agent\r\nx-ctxvault-protocol: {PROTOCOL_VERSION}\r\ncontent-length: {length}\r\nconnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    if body.len() < length {
        return String::new();
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer
}

#[test]
fn an_import_cut_off_before_its_end_writes_nothing() {
    let env = Env::new();
    env.init();
    env.add(&["already here"]);
    let text = std::fs::read(jsonl(env.tmp.path(), 50)).unwrap();
    let mut body = encode(FrameKind::Start, br#"{"dry_run":false}"#).to_vec();
    body.extend_from_slice(&encode(FrameKind::Data, &text));

    // Every frame but the end: the body is whole, the import is not.
    let answer = raw_import(&env, &body, body.len());
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("cut off before its end"), "{answer}");

    // The connection dropped partway through the text.
    let cut = body.len() - text.len() / 2;
    let _ = raw_import(&env, &body[..cut], body.len());

    // With the end frame, the same body imports.
    let items = env.json(&["ls", "--json"]);
    assert_eq!(items.as_array().unwrap().len(), 1, "nothing was written");
    body.extend_from_slice(&encode(FrameKind::End, b""));
    let answer = raw_import(&env, &body, body.len());
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(env.json(&["ls", "--json"]).as_array().unwrap().len(), 51);
}

#[test]
fn an_export_that_fails_midway_leaves_no_file() {
    let env = Env::new();
    env.init();
    let src = jsonl(env.tmp.path(), 2500);
    env.ok(&["import", src.to_str().unwrap()]);
    // Alter the sealed record of an item past the first read chunk while
    // the agent runs: the export reaches it only after sending text.
    let last = uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + 2400);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let mut c = SqliteConnection::connect(&format!("sqlite://{}", env.db().display()))
                .await
                .unwrap();
            let mut b: Vec<u8> = sqlx::query_scalar("SELECT sealed FROM items WHERE id = ?")
                .bind(&last.as_bytes()[..])
                .fetch_one(&mut c)
                .await
                .unwrap();
            let k = b.len() / 2;
            b[k] ^= 1;
            sqlx::query("UPDATE items SET sealed = ? WHERE id = ?")
                .bind(&b)
                .bind(&last.as_bytes()[..])
                .execute(&mut c)
                .await
                .unwrap();
        });
    for args in [vec!["export", "--plain"], vec!["export"]] {
        let out = env.tmp.path().join("partial");
        let mut a = args.clone();
        a.extend(["--out", out.to_str().unwrap()]);
        let o = run_bundle(&env, &a);
        assert_ne!(o.code, 0, "{args:?} must fail: {}", o.stdout);
        let err = o
            .stderr
            .lines()
            .filter(|l| !l.starts_with("warning:"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_one_line_error(&err, &format!("item {last} failed authentication"));
        assert!(!out.exists(), "{args:?} left a partial file behind");
        let leftovers: Vec<_> = std::fs::read_dir(env.tmp.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".ctxvault-export")
            })
            .collect();
        assert!(leftovers.is_empty(), "{args:?} left {leftovers:?}");
    }
}
