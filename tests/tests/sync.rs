//! Sync across devices, end to end with the built binary: two vaults, each
//! with its own agent, syncing through one folder; a device joins with the
//! passphrase; a change on one is searchable on the other without a
//! command (the agents sync on their own); concurrent edits become a
//! conflict resolved once for both; a segment altered in the remote is
//! named and its device blocked; no byte of the remote holds plaintext; and
//! every bad input is one line with nothing changed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ctxvault_tests::{Env, assert_one_line_error};

/// A device: its own vault and agent. Automatic sync pulls every `pull_ms`.
fn device(pull_ms: u64) -> Env {
    let mut e = Env::new();
    e.vars
        .push(("CTXVAULT_SYNC_PULL_MS".into(), pull_ms.to_string()));
    e.vars
        .push(("CTXVAULT_TEST_SYNC_TICK_MS".into(), "50".into()));
    e
}

fn remote(env: &Env) -> PathBuf {
    let r = env.tmp.path().join("remote");
    std::fs::create_dir_all(&r).unwrap();
    r
}

/// Wait until `cond` holds (the other agent syncs on its own).
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(30), "{what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn a_joined_device_gets_everything_and_changes_flow_both_ways_on_their_own() {
    let a = device(100);
    a.init();
    let dir = remote(&a);
    let id = a.add(&["--ns", "work/acme", "--tag", "tea", "I prefer green tea"]);
    a.ok(&["client", "add", "claude"]);
    a.ok(&["grant", "claude", "work/**"]);
    let out = a.ok(&["sync", "add", "folder", dir.to_str().unwrap()]);
    assert!(out.contains("1 segment written"), "{out}");

    let b = device(100);
    let out = b.ok(&["sync", "join", "folder", dir.to_str().unwrap()]);
    assert!(out.contains("joined"), "{out}");
    assert_eq!(b.bodies(), vec!["I prefer green tea"]);
    let hits = b.json(&["search", "green", "--json"]);
    assert_eq!(hits[0]["id"], id.as_str());
    // The grant came along: the client's view on b is a's.
    let seen = b.json(&["search", "tea", "--as", "claude", "--json"]);
    assert_eq!(seen.as_array().unwrap().len(), 1);
    let st = b.json(&["sync", "status", "--json"]);
    assert_eq!(st["devices"][0]["this"], false, "{st}");

    // A change on one device reaches the other with no command run there.
    let id2 = b.add(&["--ns", "work/acme", "oat milk, never dairy"]);
    eventually("b's item reaches a", || {
        a.bodies().contains(&"oat milk, never dairy".to_owned())
    });
    let st = a.json(&["sync", "status", "--json"]);
    assert_eq!(st["devices"].as_array().unwrap().len(), 2, "{st}");
    a.ok(&["edit", &id2, "oat milk only"]);
    eventually("a's edit reaches b", || {
        b.bodies().contains(&"oat milk only".to_owned())
    });
    a.ok(&["rm", &id]);
    eventually("a's removal reaches b", || {
        !b.bodies().contains(&"I prefer green tea".to_owned())
    });
    a.ok(&["revoke", "claude", "--all"]);
    eventually("a's revoke reaches b", || {
        b.json(&["search", "oat", "--as", "claude", "--json"])
            .as_array()
            .unwrap()
            .is_empty()
    });
}

#[test]
fn concurrent_edits_become_one_conflict_resolved_for_both() {
    // Automatic sync waits an hour: the test syncs by hand.
    let a = device(3_600_000);
    a.init();
    let dir = remote(&a);
    let id = a.add(&["tea in the morning"]);
    a.ok(&["sync", "add", "folder", dir.to_str().unwrap()]);
    let b = device(3_600_000);
    b.ok(&["sync", "join", "folder", dir.to_str().unwrap()]);
    a.ok(&["edit", &id, "green tea in the morning"]);
    b.ok(&["edit", &id, "black coffee in the morning"]);
    for _ in 0..2 {
        a.ok(&["sync", "now"]);
        b.ok(&["sync", "now"]);
    }
    let ca = a.json(&["sync", "conflicts", "--json"]);
    let cb = b.json(&["sync", "conflicts", "--json"]);
    assert_eq!(ca.as_array().unwrap().len(), 1, "{ca}");
    assert_eq!(ca, cb);
    assert_eq!(a.bodies(), b.bodies());
    let other = ca[0]["other"]["body"].as_str().unwrap().to_owned();
    assert!(a.ok(&["sync", "status"]).contains("conflicts: 1"));
    let st = a.ok(&["status"]);
    assert!(st.contains("1 conflict(s) wait"), "{st}");
    b.ok(&["sync", "resolve", &id[..8], "--keep", "other"]);
    for _ in 0..2 {
        b.ok(&["sync", "now"]);
        a.ok(&["sync", "now"]);
    }
    for env in [&a, &b] {
        assert_eq!(env.bodies(), vec![other.clone()]);
        assert!(
            env.json(&["sync", "conflicts", "--json"])
                .as_array()
                .unwrap()
                .is_empty()
        );
    }
    let err = a.fails(&["sync", "resolve", &id[..8], "--keep", "current"]);
    assert_one_line_error(&err, "no conflict");
}

#[test]
fn an_altered_segment_is_named_and_its_device_blocked_until_the_user_decides() {
    let a = device(3_600_000);
    a.init();
    let dir = remote(&a);
    a.ok(&["sync", "add", "folder", dir.to_str().unwrap()]);
    let b = device(3_600_000);
    b.ok(&["sync", "join", "folder", dir.to_str().unwrap()]);
    a.add(&["a second note"]);
    a.ok(&["sync", "now"]);
    let mut segs = Vec::new();
    files(&dir, &mut segs);
    let seg = segs
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "seg"))
        .unwrap()
        .clone();
    let good = std::fs::read(&seg).unwrap();
    let mut bad = good.clone();
    bad[30] ^= 1;
    std::fs::write(&seg, &bad).unwrap();
    let err = b.fails(&["sync", "now"]);
    assert_one_line_error(&err, "fails authentication");
    assert!(err.contains("segment 1"), "{err}");
    assert!(
        b.bodies().is_empty(),
        "nothing of the altered segment applied"
    );
    let st = b.json(&["sync", "status", "--json"]);
    let dev = st["blocked"][0]["device"].as_str().unwrap().to_owned();
    assert!(err.contains(&dev), "{err}");
    // Put back, unblocked: the log applies.
    std::fs::write(&seg, &good).unwrap();
    b.ok(&["sync", "unblock", &dev]);
    b.ok(&["sync", "now"]);
    assert_eq!(b.bodies(), vec!["a second note"]);
    let err = b.fails(&["sync", "unblock", &dev]);
    assert_one_line_error(&err, "no blocked device");
}

#[test]
fn no_byte_of_the_remote_holds_plaintext() {
    let a = device(3_600_000);
    a.init();
    let dir = remote(&a);
    let markers = [
        "nsmarkerqx",
        "titlemarkerqx",
        "bodymarkerqx",
        "tagmarkerqx",
        "clientmarkerqx",
    ];
    a.add(&[
        "--ns",
        "nsmarkerqx/deep",
        "--title",
        "titlemarkerqx",
        "--tag",
        "tagmarkerqx",
        "bodymarkerqx and more",
    ]);
    a.ok(&["client", "add", "clientmarkerqx"]);
    a.ok(&["grant", "clientmarkerqx", "nsmarkerqx/**"]);
    a.ok(&["deny", "clientmarkerqx", "nsmarkerqx/deep"]);
    a.ok(&["sync", "add", "folder", dir.to_str().unwrap()]);
    let b = device(3_600_000);
    b.ok(&["sync", "join", "folder", dir.to_str().unwrap()]);
    b.ok(&[
        "edit",
        "--title",
        "titlemarkerqx two",
        &b.json(&["ls", "--json"])[0]["id"].as_str().unwrap()[..8],
    ]);
    b.ok(&["sync", "now"]);
    let mut all = Vec::new();
    files(&dir, &mut all);
    assert!(all.len() >= 4, "{all:?}");
    for f in &all {
        let bytes = std::fs::read(f).unwrap();
        for m in markers {
            let utf16le: Vec<u8> = m.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
            let utf16be: Vec<u8> = m.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
            for needle in [m.as_bytes().to_vec(), utf16le, utf16be] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle),
                    "{m} in {}",
                    f.display()
                );
            }
        }
    }
}

#[test]
fn bad_input_is_one_line_and_changes_nothing() {
    let a = device(3_600_000);
    a.init();
    let dir = remote(&a);
    let missing = a.tmp.path().join("no-such-folder");
    let err = a.fails(&["sync", "add", "folder", missing.to_str().unwrap()]);
    assert_one_line_error(&err, "cannot be opened");
    let junk = a.tmp.path().join("junk");
    std::fs::create_dir(&junk).unwrap();
    std::fs::write(junk.join("photo.jpg"), b"not ours").unwrap();
    let out = a.run(&["sync", "add", "folder", junk.to_str().unwrap()]);
    assert_ne!(out.code, 0);
    assert_one_line_error(&out.stderr, "is not a ctxvault sync remote");
    assert_eq!(
        std::fs::read_dir(&junk).unwrap().count(),
        1,
        "nothing written"
    );
    let out = a.run(&["sync", "status"]);
    assert_ne!(out.code, 0);
    assert_one_line_error(&out.stderr, "sync is not set up");

    a.ok(&["sync", "add", "folder", dir.to_str().unwrap()]);
    // Another vault cannot take this remote.
    let c = device(3_600_000);
    c.init();
    let out = c.run(&["sync", "add", "folder", dir.to_str().unwrap()]);
    assert_one_line_error(&out.stderr, "holds another vault's log");

    // Joining with the wrong passphrase, or from a folder that is no remote.
    let b = device(3_600_000);
    let out = b.run_with(
        &["sync", "join", "folder", dir.to_str().unwrap()],
        None,
        Some("not the passphrase"),
    );
    assert_ne!(out.code, 0);
    assert_one_line_error(&out.stderr, "wrong passphrase");
    assert!(!b.db().exists(), "no vault made");
    let out = b.run(&["sync", "join", "folder", junk.to_str().unwrap()]);
    assert_one_line_error(&out.stderr, "is not a ctxvault sync remote");
    assert!(!b.db().exists(), "no vault made");
    let out = b.run(&["sync", "join", "folder", missing.to_str().unwrap()]);
    assert_one_line_error(&out.stderr, "cannot be opened");
    // The remote goes away: sync says so, and the vault is as it was.
    let before = a.bodies();
    std::fs::rename(&dir, a.tmp.path().join("moved")).unwrap();
    let out = a.run(&["sync", "now"]);
    assert_ne!(out.code, 0);
    assert_one_line_error(&out.stderr, "cannot be reached");
    assert_eq!(a.bodies(), before);
}

#[test]
fn a_conflict_is_shown_and_resolved_in_the_console() {
    let a = device(3_600_000);
    a.init();
    let dir = remote(&a);
    let id = a.add(&["tea in the morning"]);
    a.ok(&["sync", "add", "folder", dir.to_str().unwrap()]);
    let b = device(3_600_000);
    b.ok(&["sync", "join", "folder", dir.to_str().unwrap()]);
    a.ok(&["edit", &id, "green tea zqx"]);
    b.ok(&["edit", &id, "black coffee zqx"]);
    for _ in 0..2 {
        a.ok(&["sync", "now"]);
        b.ok(&["sync", "now"]);
    }
    let conflict = a.json(&["sync", "conflicts", "--json"])[0].clone();
    let op = conflict["op"].as_str().unwrap();
    let other = conflict["other"]["body"].as_str().unwrap().to_owned();
    let c = ctxvault_tests::console::Raw::login(&a);
    let (_, _, page) = c.get("/");
    assert!(
        page.contains("Sync conflicts")
            && page.contains("green tea zqx")
            && page.contains("black coffee zqx"),
        "{page}"
    );
    let (status, _, _) = c.post(&format!("/sync/{id}/other/{op}"), &[]);
    assert_eq!(status, 303);
    assert_eq!(a.bodies(), vec![other.clone()]);
    let (_, _, page) = c.get("/");
    assert!(!page.contains("Sync conflicts"), "{page}");
    a.ok(&["sync", "now"]);
    b.ok(&["sync", "now"]);
    assert_eq!(b.bodies(), vec![other]);
}

#[test]
fn each_device_keeps_its_own_audit_chain_and_audit_devices_shows_every_one() {
    let a = device(3_600_000);
    a.init();
    let dir = remote(&a);
    a.ok(&["sync", "add", "folder", dir.to_str().unwrap()]);
    let b = device(3_600_000);
    b.ok(&["sync", "join", "folder", dir.to_str().unwrap()]);
    b.ok(&["client", "add", "laptopclientzqx"]);
    b.ok(&["sync", "now"]);
    a.ok(&["sync", "now"]);
    let bdev = b.json(&["sync", "status", "--json"])["device"]
        .as_str()
        .unwrap()
        .to_owned();
    let own = a.json(&["audit", "--json"]).to_string();
    assert!(!own.contains("laptopclientzqx"), "{own}");
    let all = a.json(&["audit", "--devices", "--json"]);
    let theirs: Vec<_> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["device"] == bdev.as_str())
        .collect();
    assert!(
        theirs
            .iter()
            .any(|e| e.to_string().contains("laptopclientzqx")),
        "{all}"
    );
    assert!(a.ok(&["audit", "--devices"]).contains(&bdev));
    a.ok(&["audit", "verify"]);
    b.ok(&["audit", "verify"]);
}
