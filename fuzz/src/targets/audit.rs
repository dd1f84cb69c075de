//! Target `audit`: `AuditKeys::verify` (and `verify_against`, `entries`)
//! over an in-memory SQLite database that an attacker without the key has
//! edited. The harness writes a real log with the fixture keys, exports its
//! head, then applies the edits the input describes, and verifies.
//!
//! # Input
//! Byte 0: bit 0 picks the schema, the vault's own (the migrations) or a
//! loose one without types or constraints (what a hand-edited file can
//! have); bits 1..=3 the number `n` of entries appended with the real keys,
//! each from two length-prefixed fields (its action and query). Every later
//! byte is an edit, with its operands after it; see [`edit`].
//!
//! # Checked
//! Never a panic. With no edit the log verifies, `n` entries, no problem.
//! Whenever `verify` (or `verify_against` the exported head) finds no
//! problem, `entries` opens every entry and they are the first entries
//! written, in order: edits without the key can at most roll the log back
//! to an earlier state of itself (the documented limit), never change it;
//! and `verify_against` never accepts fewer entries than the head holds.

use std::cell::RefCell;

use chrono::DateTime;
use sqlx::{Connection, Row, SqliteConnection};
use tokio::runtime::Runtime;
use vault_core::audit::{AuditEntry, AuditKeys, AuditRecord};

use super::Fields;
use crate::fixture;

/// The vault's schema, as the store migrates it.
const MIGRATIONS: [&str; 3] = [
    include_str!("../../../vault-core/migrations/0001_init.sql"),
    include_str!("../../../vault-core/migrations/0002_policy_audit.sql"),
    include_str!("../../../vault-core/migrations/0003_generation.sql"),
];

/// The same tables with no types and no constraints.
const LOOSE: &str = "CREATE TABLE audit (seq, sealed, mac); \
                     CREATE TABLE audit_head (singleton, count, last_mac, head_mac);";

/// Values of the wrong type or size in a log row (`?` is its seq).
const ODD_ROW: &[&str] = &[
    "UPDATE audit SET seq = NULL WHERE seq = ?",
    "UPDATE audit SET seq = 'x' WHERE seq = ?",
    "UPDATE audit SET seq = '2' WHERE seq = ?",
    "UPDATE audit SET seq = 1.5 WHERE seq = ?",
    "UPDATE audit SET seq = -1 WHERE seq = ?",
    "UPDATE audit SET seq = 9223372036854775807 WHERE seq = ?",
    "UPDATE audit SET sealed = NULL WHERE seq = ?",
    "UPDATE audit SET sealed = 'text' WHERE seq = ?",
    "UPDATE audit SET sealed = 1 WHERE seq = ?",
    "UPDATE audit SET sealed = x'' WHERE seq = ?",
    "UPDATE audit SET mac = NULL WHERE seq = ?",
    "UPDATE audit SET mac = 'abc' WHERE seq = ?",
    "UPDATE audit SET mac = 7 WHERE seq = ?",
    "UPDATE audit SET mac = x'' WHERE seq = ?",
    "UPDATE audit SET mac = zeroblob(64) WHERE seq = ?",
];

/// Values of the wrong type or size in the head.
const ODD_HEAD: &[&str] = &[
    "UPDATE audit_head SET count = NULL",
    "UPDATE audit_head SET count = 'x'",
    "UPDATE audit_head SET count = 1.5",
    "UPDATE audit_head SET count = -1",
    "UPDATE audit_head SET count = 9223372036854775807",
    "UPDATE audit_head SET count = -9223372036854775808",
    "UPDATE audit_head SET last_mac = NULL",
    "UPDATE audit_head SET last_mac = 'x'",
    "UPDATE audit_head SET last_mac = zeroblob(31)",
    "UPDATE audit_head SET head_mac = NULL",
    "UPDATE audit_head SET head_mac = 5",
    "UPDATE audit_head SET singleton = 2",
];

/// A few operand bytes that matter to the edits.
pub const DICT: &[&[u8]] = &[b"\x00", b"\x01", b"\x02", b"\x07", b"\x20", b"\xff"];

struct Db {
    rt: Runtime,
    strict: SqliteConnection,
    loose: SqliteConnection,
}

fn open() -> Result<Db, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let (strict, loose) = rt
        .block_on(async {
            let mut strict = SqliteConnection::connect("sqlite::memory:").await?;
            for m in MIGRATIONS {
                sqlx::raw_sql(m).execute(&mut strict).await?;
            }
            let mut loose = SqliteConnection::connect("sqlite::memory:").await?;
            sqlx::raw_sql(LOOSE).execute(&mut loose).await?;
            Ok::<_, sqlx::Error>((strict, loose))
        })
        .map_err(|e| e.to_string())?;
    Ok(Db { rt, strict, loose })
}

thread_local! {
    static DB: RefCell<Option<Result<Db, String>>> = const { RefCell::new(None) };
}

fn entry(f: &mut Fields<'_>, k: usize) -> AuditEntry {
    AuditEntry {
        time: DateTime::from_timestamp(1_790_000_000 + k as i64, 0).unwrap_or_default(),
        client: k.is_multiple_of(2).then(|| "fuzz".to_owned()),
        action: String::from_utf8_lossy(f.short()).into_owned(),
        query: Some(String::from_utf8_lossy(f.short()).into_owned()),
        ids: Vec::new(),
        grants: Vec::new(),
        detail: None,
        tool: Some("search_context".into()),
        door: None,
        provider: None,
        aspect: None,
    }
}

/// A copy of the head row, as an attacker can keep an old file.
type HeadRow = (i64, Vec<u8>, Vec<u8>);

async fn head_row(conn: &mut SqliteConnection) -> Option<HeadRow> {
    let row = sqlx::query("SELECT count, last_mac, head_mac FROM audit_head")
        .fetch_optional(&mut *conn)
        .await
        .ok()??;
    Some((
        row.try_get(0).ok()?,
        row.try_get(1).ok()?,
        row.try_get(2).ok()?,
    ))
}

fn seq(f: &mut Fields<'_>) -> i64 {
    i64::from(f.u8())
}

/// Apply one edit; its own failure (a constraint, a missing row) is no
/// matter, the database is then left as it was.
async fn edit(conn: &mut SqliteConnection, f: &mut Fields<'_>, op: u8, heads: &[HeadRow]) {
    let c = &mut *conn;
    let _ = match op % 14 {
        0 => {
            sqlx::query("DELETE FROM audit WHERE seq = ?")
                .bind(seq(f))
                .execute(c)
                .await
        }
        1 => {
            let to = f.u64() as i64;
            sqlx::query("UPDATE audit SET seq = ? WHERE seq = ?")
                .bind(to)
                .bind(seq(f))
                .execute(c)
                .await
        }
        2 => {
            let s = seq(f);
            sqlx::query("UPDATE audit SET sealed = ? WHERE seq = ?")
                .bind(f.short())
                .bind(s)
                .execute(c)
                .await
        }
        3 => {
            let (s, bit) = (seq(f), f.u8());
            let mac: Option<Vec<u8>> = sqlx::query_scalar("SELECT mac FROM audit WHERE seq = ?")
                .bind(s)
                .fetch_optional(&mut *c)
                .await
                .ok()
                .flatten();
            let Some(mut mac) = mac.filter(|m| !m.is_empty()) else {
                return;
            };
            let i = usize::from(bit / 8) % mac.len();
            mac[i] ^= 1 << (bit % 8);
            sqlx::query("UPDATE audit SET mac = ? WHERE seq = ?")
                .bind(mac)
                .bind(s)
                .execute(c)
                .await
        }
        4 => {
            let s = f.u64() as i64;
            let sealed = f.short().to_vec();
            sqlx::query("INSERT INTO audit (seq, sealed, mac) VALUES (?, ?, ?)")
                .bind(s)
                .bind(sealed)
                .bind(f.take(32))
                .execute(c)
                .await
        }
        5 => {
            sqlx::query("UPDATE audit_head SET count = ?")
                .bind(f.u64() as i64)
                .execute(c)
                .await
        }
        6 => {
            sqlx::query("UPDATE audit_head SET last_mac = (SELECT mac FROM audit WHERE seq = ?)")
                .bind(seq(f))
                .execute(c)
                .await
        }
        7 => {
            sqlx::query("UPDATE audit_head SET head_mac = ?")
                .bind(f.take(32))
                .execute(c)
                .await
        }
        8 => sqlx::query("DELETE FROM audit_head").execute(c).await,
        9 => {
            let Some((count, last, mac)) = heads.get(usize::from(f.u8()) % heads.len().max(1))
            else {
                return;
            };
            sqlx::query("UPDATE audit_head SET count = ?, last_mac = ?, head_mac = ?")
                .bind(count)
                .bind(last)
                .bind(mac)
                .execute(c)
                .await
        }
        10 => {
            sqlx::query("DELETE FROM audit WHERE seq > ?")
                .bind(seq(f))
                .execute(c)
                .await
        }
        11 => {
            let (a, b) = (seq(f), seq(f));
            sqlx::query(
                "UPDATE audit SET (sealed, mac) = (SELECT sealed, mac FROM audit AS o WHERE o.seq = \
                 CASE audit.seq WHEN ?1 THEN ?2 ELSE ?1 END) WHERE seq IN (?1, ?2)",
            )
            .bind(a)
            .bind(b)
            .execute(c)
            .await
        }
        12 => {
            let sql = ODD_ROW[usize::from(f.u8()) % ODD_ROW.len()];
            sqlx::query(sql).bind(seq(f)).execute(c).await
        }
        _ => {
            let sql = ODD_HEAD[usize::from(f.u8()) % ODD_HEAD.len()];
            sqlx::query(sql).execute(c).await
        }
    };
}

async fn case(keys: &AuditKeys, conn: &mut SqliteConnection, f: &mut Fields<'_>, n: usize) {
    for table in ["DELETE FROM audit", "DELETE FROM audit_head"] {
        if let Err(e) = sqlx::query(table).execute(&mut *conn).await {
            panic!("the harness cannot reset the database: {e}");
        }
    }
    if let Err(e) = keys.create_head(conn).await {
        panic!("the harness cannot create the head: {e}");
    }
    let mut written = Vec::new();
    let mut heads: Vec<HeadRow> = head_row(conn).await.into_iter().collect();
    for k in 0..n {
        let e = entry(f, k);
        match keys.append(conn, &e).await {
            Ok(seq) => written.push(AuditRecord {
                seq,
                entry: e,
                device: None,
            }),
            Err(err) => panic!("appending entry {} to a fresh log failed: {err}", k + 1),
        }
        heads.extend(head_row(conn).await);
    }
    let exported = match keys.export_head(conn).await {
        Ok(h) => h,
        Err(e) => panic!("a fresh log of {n} entries does not export its head: {e}"),
    };
    let mut edits = 0;
    while !f.0.is_empty() {
        let op = f.u8();
        edit(conn, f, op, &heads).await;
        edits += 1;
    }
    let report = keys.verify(conn).await;
    if edits == 0 {
        match &report {
            Ok(r) => assert!(
                r.problem.is_none() && r.entries == n as u64,
                "an untouched log of {n} entries does not verify: {r:?}"
            ),
            Err(e) => panic!("an untouched log of {n} entries fails to verify: {e}"),
        }
    }
    let clean = |r: &vault_core::Result<vault_core::audit::AuditReport>| {
        r.as_ref()
            .ok()
            .filter(|r| r.problem.is_none())
            .map(|r| r.entries)
    };
    let against = keys.verify_against(conn, &exported).await;
    if let Some(m) = clean(&against) {
        assert!(
            m >= exported.count,
            "verify_against accepted {m} entries, fewer than the {} of the head",
            exported.count
        );
    }
    if let Some(m) = clean(&report).or(clean(&against)) {
        match keys.entries(conn).await {
            Ok(got) => assert!(
                got.len() as u64 == m && written.get(..got.len()) == Some(&got[..]),
                "a log that verifies ({m} entries) is not what was written: {} entries read",
                got.len()
            ),
            Err(e) => panic!("a log that verifies ({m} entries) does not open: {e}"),
        }
    }
}

/// Run the target on one input.
pub fn run(data: &[u8]) {
    let mut f = Fields(data);
    let flags = f.u8();
    let n = usize::from((flags >> 1) & 7);
    let keys = fixture::audit();
    DB.with(|db| {
        let mut db = db.borrow_mut();
        let db = match db.get_or_insert_with(open) {
            Ok(db) => db,
            Err(e) => panic!("the audit target has no database: {e}"),
        };
        let Db { rt, strict, loose } = db;
        let conn = if flags & 1 == 0 { strict } else { loose };
        rt.block_on(case(&keys, conn, &mut f, n));
    });
}
