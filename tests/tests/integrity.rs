//! Tampering with sealed blobs is detected per item, names the item, and
//! never yields another item's text.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ctxvault_tests::Env;
use sqlx::{Connection, SqliteConnection};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn conn(env: &Env) -> SqliteConnection {
    SqliteConnection::connect(&format!("sqlite://{}", env.db().display()))
        .await
        .unwrap()
}

async fn blob(c: &mut SqliteConnection, id: &str) -> Vec<u8> {
    let id = uuid::Uuid::parse_str(id).unwrap();
    sqlx::query_scalar("SELECT sealed FROM items WHERE id = ?")
        .bind(&id.as_bytes()[..])
        .fetch_one(c)
        .await
        .unwrap()
}

async fn set_blob(c: &mut SqliteConnection, id: &str, b: &[u8]) {
    let id = uuid::Uuid::parse_str(id).unwrap();
    let n = sqlx::query("UPDATE items SET sealed = ? WHERE id = ?")
        .bind(b)
        .bind(&id.as_bytes()[..])
        .execute(c)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(n, 1);
}

#[test]
fn flipped_bytes_fail_only_that_item() {
    let env = Env::new();
    env.init();
    let a = env.add(&["--ns", "a", "alpha text"]);
    let b = env.add(&[
        "--ns",
        "b",
        "bravo text that is a little longer than the others",
    ]);
    let c = env.add(&["--ns", "c", "charlie text"]);
    let rt = rt();
    rt.block_on(async {
        let mut db = conn(&env).await;
        let orig = blob(&mut db, &b).await;
        // Every byte position: version, nonce, ciphertext and tag.
        for pos in 0..orig.len() {
            let mut bad = orig.clone();
            bad[pos] ^= 0x01;
            set_blob(&mut db, &b, &bad).await;
            let err = env.fails(&["get", &b]);
            ctxvault_tests::assert_one_line_error(&err, &format!("integrity error: item {b}"));
            if pos % 16 == 0 {
                assert_eq!(env.json(&["get", &a, "--json"])["body"], "alpha text");
                assert_eq!(env.json(&["get", &c, "--json"])["body"], "charlie text");
            }
        }
        // Damaged at unlock: the vault still opens, others still read.
        let mut bad = orig.clone();
        bad[orig.len() / 2] ^= 0x80;
        set_blob(&mut db, &b, &bad).await;
        env.ok(&["lock"]);
        let s = env.json(&["status", "--json"]);
        assert_eq!(s["locked"], true);
        assert_eq!(env.json(&["get", &a, "--json"])["body"], "alpha text");
        let s = env.status();
        assert_eq!(s["damaged"], serde_json::json!([b.clone()]));
        assert_eq!(
            env.json(&["search", "charlie", "--json"])[0]["id"],
            c.as_str()
        );
        let err = env.fails(&["get", &b]);
        ctxvault_tests::assert_one_line_error(&err, &format!("integrity error: item {b}"));
        // Restored, it reads again.
        set_blob(&mut db, &b, &orig).await;
        assert_eq!(
            env.json(&["get", &b, "--json"])["body"],
            "bravo text that is a little longer than the others"
        );
        db.close().await.unwrap();
    });
}

#[test]
fn blob_copied_over_another_row_fails() {
    let env = Env::new();
    env.init();
    let a = env.add(&["the text of item a"]);
    let b = env.add(&["the text of item b"]);
    rt().block_on(async {
        let mut db = conn(&env).await;
        let blob_a = blob(&mut db, &a).await;
        set_blob(&mut db, &b, &blob_a).await;
        let o = env.run_with(&["get", &b, "--json"], None, Some(ctxvault_tests::PASS));
        assert_ne!(o.code, 0);
        assert!(
            !o.stdout.contains("item a") && !o.stderr.contains("item a"),
            "leaked a's text"
        );
        ctxvault_tests::assert_one_line_error(&o.stderr, &format!("integrity error: item {b}"));
        // Also after a fresh unlock: b is damaged, a still reads.
        env.ok(&["stop"]);
        assert_eq!(
            env.json(&["get", &a, "--json"])["body"],
            "the text of item a"
        );
        let ls = env.ok(&["ls", "--json"]);
        assert_eq!(ls.matches("the text of item a").count(), 1, "{ls}");
        db.close().await.unwrap();
    });
}

/// A policy record with a flipped byte is an integrity error naming it.
#[test]
fn flipped_policy_record_is_an_integrity_error_naming_it() {
    let env = Env::new();
    env.init();
    env.ok(&["client", "add", "claude"]);
    env.ok(&["stop"]);
    let rt = rt();
    let id = rt.block_on(async {
        let mut db = conn(&env).await;
        let (id, mut sealed): (Vec<u8>, Vec<u8>) =
            sqlx::query_as("SELECT id, sealed FROM records LIMIT 1")
                .fetch_one(&mut db)
                .await
                .unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 0x01;
        sqlx::query("UPDATE records SET sealed = ? WHERE id = ?")
            .bind(&sealed)
            .bind(&id)
            .execute(&mut db)
            .await
            .unwrap();
        uuid::Uuid::from_slice(&id).unwrap()
    });
    let err = env.fails(&["ls"]);
    let err = if err.contains("locked") {
        env.run(&["unlock"]).stderr
    } else {
        err
    };
    ctxvault_tests::assert_one_line_error(
        &err,
        &format!("integrity error: policy record {id} failed authentication"),
    );
}
