//! `audit verify` on an intact log, and on each kind of tampering done with
//! raw SQL and no key: an edited entry, a deleted one, two swapped, one
//! appended, and the last ones truncated. Each report names the entry.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ctxvault_tests::console::Raw;
use ctxvault_tests::{Env, assert_one_line_error};
use sqlx::{Connection, SqliteConnection};

/// A stopped vault whose audit log holds six entries.
fn source() -> Env {
    let env = Env::new();
    env.init();
    env.ok(&["client", "add", "claude"]);
    env.ok(&["client", "add", "ollama"]);
    let g = env.ok(&["grant", "claude", "work/**"]).trim().to_owned();
    env.ok(&["grant", "ollama", "**"]);
    env.ok(&["deny", "ollama", "health"]);
    env.ok(&["revoke", &g]);
    assert_eq!(env.json(&["audit", "--json"]).as_array().unwrap().len(), 6);
    env.ok(&["stop"]);
    env
}

/// A copy of the source vault, tampered with by `sql`.
fn tampered(src: &Env, sql: &[&str]) -> Env {
    let env = Env::new();
    std::fs::create_dir_all(&env.vault).unwrap();
    for name in ["vault.db", "vault.db-wal", "vault.db-shm", "vault.head"] {
        let from = src.vault.join(name);
        if from.exists() {
            std::fs::copy(&from, env.vault.join(name)).unwrap();
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = SqliteConnection::connect(&format!("sqlite://{}", env.db().display()))
            .await
            .unwrap();
        for s in sql {
            sqlx::query(sqlx::AssertSqlSafe(*s))
                .execute(&mut c)
                .await
                .unwrap();
        }
        c.close().await.unwrap();
    });
    env
}

fn verify_fails(env: &Env, needle: &str) {
    let o = env.run(&["audit", "verify"]);
    assert_eq!(o.code, 1, "verify must fail: {} {}", o.stdout, o.stderr);
    assert_one_line_error(&o.stderr, needle);
    // The console's audit page, which checks the chain in the same pass
    // that opens the entries, reports the same problem.
    let what = needle.split_once("damaged at ").map_or(needle, |(_, w)| w);
    let page = console_audit(env);
    assert!(
        page.contains("Chain broken at ") && page.contains(what),
        "the console must report {what:?}"
    );
}

/// The console's audit page.
fn console_audit(env: &Env) -> String {
    let (status, _, page) = Raw::login(env).get("/audit");
    assert_eq!(status, 200);
    page
}

#[test]
fn verify_names_the_first_bad_entry() {
    let src = source();

    let intact = tampered(&src, &[]);
    let out = intact.ok(&["audit", "verify"]);
    assert!(out.contains("audit log intact: 6 entries"), "{out}");
    let report = intact.json(&["audit", "verify", "--json"]);
    assert_eq!(report["entries"], 6);
    assert_eq!(report["problem"], serde_json::Value::Null);
    let page = console_audit(&intact);
    assert!(page.contains("Chain intact: 6 entries checked"), "{page}");
    assert!(page.contains("6 entries, newest first"), "{page}");

    // An edited entry: one byte of its sealed record changed.
    let edited = tampered(
        &src,
        &[
            // A byte other than the one there (a fixed X'00' left one
            // record in 256 as it was).
            "UPDATE audit SET sealed = substr(sealed, 1, 20) || CASE WHEN substr(sealed, 21, 1) = X'00' THEN X'01' ELSE X'00' END || substr(sealed, 22) WHERE seq = 3",
        ],
    );
    verify_fails(&edited, "damaged at entry 3: entry 3 was altered");

    // A deleted entry.
    let deleted = tampered(&src, &["DELETE FROM audit WHERE seq = 3"]);
    verify_fails(&deleted, "damaged at entry 3: entry 3 is missing (deleted)");

    // Two entries swapped.
    let swapped = tampered(
        &src,
        &[
            "UPDATE audit SET seq = 100 WHERE seq = 2",
            "UPDATE audit SET seq = 2 WHERE seq = 3",
            "UPDATE audit SET seq = 3 WHERE seq = 100",
        ],
    );
    verify_fails(&swapped, "damaged at entry 2: entry 2 was altered, moved");

    // An entry appended without the key (a copy of the last one's record).
    let appended = tampered(
        &src,
        &[
            "INSERT INTO audit (seq, sealed, mac) SELECT 7, sealed, randomblob(32) FROM audit WHERE seq = 6",
        ],
    );
    verify_fails(
        &appended,
        "damaged at entry 7: entry 7 was altered, moved, or written without the vault's key",
    );

    // The last entries truncated.
    let truncated = tampered(&src, &["DELETE FROM audit WHERE seq >= 5"]);
    verify_fails(
        &truncated,
        "damaged at entry 5: entries 5 to 6 are missing: the log was truncated after entry 4",
    );

    // The head itself forged (count lowered to hide truncation).
    let head = tampered(
        &src,
        &[
            "DELETE FROM audit WHERE seq = 6",
            "UPDATE audit_head SET count = 5",
        ],
    );
    verify_fails(&head, "the audit head was altered");

    // Listing refuses a log whose entries do not open, instead of showing a lie.
    let o = edited.run(&["audit"]);
    assert_ne!(o.code, 0);
    assert_one_line_error(&o.stderr, "audit entry 3 does not open");
}

#[test]
fn listing_filters() {
    let env = Env::new();
    env.init();
    env.ok(&["client", "add", "claude"]);
    env.ok(&["grant", "claude", "work/**"]);
    let all = env.json(&["audit", "--json"]);
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(all[0]["action"], "client-add");
    assert_eq!(all[1]["action"], "grant");
    assert_eq!(
        all[0]["client"],
        serde_json::Value::Null,
        "the user's own changes"
    );
    let last = env.json(&["audit", "--limit", "1", "--json"]);
    assert_eq!(last.as_array().unwrap().len(), 1);
    assert_eq!(last[0]["seq"], 2);
    assert!(
        env.json(&["audit", "--client", "claude", "--json"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        env.json(&["audit", "--since", "1h", "--json"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(
        env.json(&["audit", "--since", "2999-01-01T00:00:00Z", "--json"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    let text = env.ok(&["audit"]);
    assert!(
        text.contains("client-add") && text.contains("(you)"),
        "{text}"
    );
}

#[test]
fn wiping_the_whole_log_is_detected() {
    let src = source();
    let env = tampered(&src, &["DELETE FROM audit", "DELETE FROM audit_head"]);
    verify_fails(&env, "the audit head is missing");
}

#[test]
fn an_exported_head_detects_a_rollback_the_log_alone_cannot() {
    let src = source();
    // An older copy of the whole vault, log and head consistent.
    let old = tampered(&src, &[]);
    old.ok(&["stop"]);
    src.ok(&["client", "add", "gemini"]);
    src.ok(&["grant", "gemini", "notes/**"]);
    let head = src.tmp.path().join("head.json");
    let head_s = head.to_str().unwrap();
    src.ok(&["audit", "head", "--out", head_s]);
    let printed: serde_json::Value = serde_json::from_str(&src.ok(&["audit", "head"])).unwrap();
    assert_eq!(printed["count"], 8);
    assert!(
        src.ok(&["audit", "verify", "--against", head_s])
            .contains("intact")
    );
    src.ok(&["client", "add", "later"]);
    assert!(
        src.ok(&["audit", "verify", "--against", head_s])
            .contains("intact: 9")
    );
    src.ok(&["stop"]);
    // Put the older copy back: the log verifies on its own...
    for name in ["vault.db", "vault.db-wal", "vault.db-shm", "vault.head"] {
        let _ = std::fs::remove_file(src.vault.join(name));
        let from = old.vault.join(name);
        if from.exists() {
            std::fs::copy(&from, src.vault.join(name)).unwrap();
        }
    }
    assert!(src.ok(&["audit", "verify"]).contains("intact: 6"));
    // ...but not against the exported head.
    let o = src.run(&["audit", "verify", "--against", head_s]);
    assert_eq!(o.code, 1);
    assert_one_line_error(&o.stderr, "fewer than the 8 of the head exported");
    // A head from another vault, or altered, is refused with a clear line.
    let other = source();
    let o = other.run(&["audit", "verify", "--against", head_s]);
    assert_ne!(o.code, 0);
    assert_one_line_error(&o.stderr, "exported from another vault");
    let mut forged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&head).unwrap()).unwrap();
    forged["count"] = 2.into();
    std::fs::write(&head, forged.to_string()).unwrap();
    let o = src.run(&["audit", "verify", "--against", head_s]);
    assert_ne!(o.code, 0);
    assert_one_line_error(&o.stderr, "does not verify");
}
