//! The audit log: a record of every read and write made for a client, and
//! of every policy change, that cannot be edited unnoticed.
//!
//! # Format
//! - Entry `seq` (1, 2, ...) is the JSON of [`AuditEntry`], sealed with the
//!   audit subkey; associated data `"ctxvault/audit/v1" || vault_id || seq`.
//! - Its MAC is HMAC-SHA256 under the audit MAC subkey of
//!   `"ctxvault/audit/v1" || previous MAC || seq (u64 BE) || sealed`; the
//!   first entry's previous MAC is HMAC(`"ctxvault/audit/genesis" || vault_id`).
//! - The head row holds the entry count, the last MAC and
//!   HMAC(`"ctxvault/audit/head" || count (u64 BE) || last MAC`). It is
//!   written with every entry, in the same transaction.
//!
//! # What verification detects
//! An edited entry (its MAC no longer matches), a deleted one (a gap in
//! `seq`), swapped or reordered entries (each MAC covers its position and
//! its predecessor), entries added without the key (no valid MAC), and
//! truncation (the keyed head counts more entries than remain). Not
//! detected: replacing the whole log and head with an older copy of both.

use chrono::{DateTime, Utc};
use ring::hmac;
use serde::{Deserialize, Serialize};
use sqlx::{Row, SqliteConnection};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::keys::SubKey;
use crate::seal::Sealer;

/// One audited event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When it happened.
    pub time: DateTime<Utc>,
    /// The client it was done for; `None` for the user's own changes.
    pub client: Option<String>,
    /// What was done: `search`, `get`, `list`, `client-add`, `grant`, ...
    pub action: String,
    /// The query, for searches.
    #[serde(default)]
    pub query: Option<String>,
    /// Ids of the items returned or written.
    #[serde(default)]
    pub ids: Vec<Uuid>,
    /// The grants that allowed it (or the rules it changed).
    #[serde(default)]
    pub grants: Vec<Uuid>,
    /// Anything else worth knowing, in a few words.
    #[serde(default)]
    pub detail: Option<String>,
    /// The MCP tool or method that made the call (`search_context`,
    /// `resources/read`, `prompts/get`...), for calls made over MCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
}

/// An entry with its position in the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position, from 1.
    pub seq: u64,
    /// The entry.
    #[serde(flatten)]
    pub entry: AuditEntry,
}

/// The first problem `verify` found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditProblem {
    /// The entry concerned (for the head: the count it claims).
    pub entry: u64,
    /// What is wrong, in one line.
    pub what: String,
}

/// The outcome of verifying the whole log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditReport {
    /// Entries checked.
    pub entries: u64,
    /// The first problem, if any.
    pub problem: Option<AuditProblem>,
}

/// The keys of the audit log.
pub struct AuditKeys {
    sealer: Sealer,
    mac: SubKey,
    vault_id: [u8; 16],
}

fn aad(vault_id: &[u8; 16], seq: u64) -> Vec<u8> {
    let mut a = b"ctxvault/audit/v1".to_vec();
    a.extend_from_slice(vault_id);
    a.extend_from_slice(&seq.to_be_bytes());
    a
}

impl AuditKeys {
    /// Keys for the vault `vault_id`.
    pub fn new(sealer: Sealer, mac: SubKey, vault_id: [u8; 16]) -> Self {
        AuditKeys {
            sealer,
            mac,
            vault_id,
        }
    }

    // ring keys are not wiped on drop: build one per use from the zeroizing subkey.
    fn mac_of(&self, parts: &[&[u8]]) -> [u8; 32] {
        let key = hmac::Key::new(hmac::HMAC_SHA256, self.mac.expose_secret());
        let mut ctx = hmac::Context::with_key(&key);
        for p in parts {
            ctx.update(p);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    fn genesis(&self) -> [u8; 32] {
        self.mac_of(&[b"ctxvault/audit/genesis", &self.vault_id])
    }

    fn entry_mac(&self, prev: &[u8; 32], seq: u64, sealed: &[u8]) -> [u8; 32] {
        self.mac_of(&[b"ctxvault/audit/v1", prev, &seq.to_be_bytes(), sealed])
    }

    /// The MAC of the rollback guard's contents (see [`crate::guard`]).
    pub(crate) fn guard_mac(&self, generation: u64, micros: i64) -> [u8; 32] {
        self.mac_of(&[
            b"ctxvault/guard/v1",
            &self.vault_id,
            &generation.to_be_bytes(),
            &micros.to_be_bytes(),
        ])
    }

    /// Whether `tag` is the guard MAC of these contents (constant time).
    pub(crate) fn guard_mac_matches(&self, generation: u64, micros: i64, tag: &[u8]) -> bool {
        let key = hmac::Key::new(hmac::HMAC_SHA256, self.mac.expose_secret());
        let mut msg = b"ctxvault/guard/v1".to_vec();
        msg.extend_from_slice(&self.vault_id);
        msg.extend_from_slice(&generation.to_be_bytes());
        msg.extend_from_slice(&micros.to_be_bytes());
        hmac::verify(&key, &msg, tag).is_ok()
    }

    fn head_mac(&self, count: u64, last: &[u8; 32]) -> [u8; 32] {
        self.mac_of(&[b"ctxvault/audit/head", &count.to_be_bytes(), last])
    }

    /// Write the head of an empty log, at vault creation. Only a new vault
    /// gets a head: a head found missing later means the log was wiped,
    /// which verification reports and no unlock papers over.
    pub async fn create_head(&self, conn: &mut SqliteConnection) -> Result<()> {
        let head: Option<i64> =
            sqlx::query_scalar("SELECT count FROM audit_head WHERE singleton = 1")
                .fetch_optional(&mut *conn)
                .await?;
        let entries: i64 = sqlx::query_scalar("SELECT count(*) FROM audit")
            .fetch_one(&mut *conn)
            .await?;
        if head.is_none() && entries == 0 {
            let g = self.genesis();
            sqlx::query(
                "INSERT INTO audit_head (singleton, count, last_mac, head_mac) VALUES (1, 0, ?, ?)",
            )
            .bind(&g[..])
            .bind(&self.head_mac(0, &g)[..])
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Append an entry inside the caller's transaction; returns its `seq`.
    pub async fn append(&self, conn: &mut SqliteConnection, entry: &AuditEntry) -> Result<u64> {
        let row =
            sqlx::query("SELECT count, last_mac, head_mac FROM audit_head WHERE singleton = 1")
                .fetch_optional(&mut *conn)
                .await?
                .ok_or_else(|| {
                    Error::AuditBroken(
                        "the audit head is missing: run `ctxvault audit verify`".into(),
                    )
                })?;
        let count: i64 = row.try_get(0)?;
        let last: Vec<u8> = row.try_get(1)?;
        let head: Vec<u8> = row.try_get(2)?;
        let last: [u8; 32] = last
            .try_into()
            .map_err(|_| Error::AuditBroken("the audit head is malformed".into()))?;
        if self.head_mac(count as u64, &last)[..] != head[..] {
            return Err(Error::AuditBroken(
                "the audit head was altered; nothing more is recorded until you check it: run `ctxvault audit verify`".into(),
            ));
        }
        let seq = count as u64 + 1;
        let plain = Zeroizing::new(
            serde_json::to_vec(entry).map_err(|_| Error::Crypto("audit serialisation failed"))?,
        );
        let sealed = self.sealer.seal(&aad(&self.vault_id, seq), &plain)?;
        let mac = self.entry_mac(&last, seq, &sealed);
        sqlx::query("INSERT INTO audit (seq, sealed, mac) VALUES (?, ?, ?)")
            .bind(seq as i64)
            .bind(&sealed)
            .bind(&mac[..])
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "UPDATE audit_head SET count = ?, last_mac = ?, head_mac = ? WHERE singleton = 1",
        )
        .bind(seq as i64)
        .bind(&mac[..])
        .bind(&self.head_mac(seq, &mac)[..])
        .execute(&mut *conn)
        .await?;
        Ok(seq)
    }

    /// Re-seal every entry and rebuild the chain and head under `new` keys,
    /// inside the caller's transaction (for `rekey`). Fails if any entry
    /// does not open under these keys.
    pub async fn reseal_into(&self, conn: &mut SqliteConnection, new: &AuditKeys) -> Result<()> {
        let rows = sqlx::query("SELECT seq, sealed FROM audit ORDER BY seq")
            .fetch_all(&mut *conn)
            .await?;
        let mut prev = new.genesis();
        let mut count = 0u64;
        for r in &rows {
            let seq: i64 = r.try_get(0)?;
            let sealed: Vec<u8> = r.try_get(1)?;
            let seq = seq as u64;
            let plain = self
                .sealer
                .open(&aad(&self.vault_id, seq), &sealed)
                .map_err(|_| Error::AuditBroken(format!("audit entry {seq} does not open; run `ctxvault audit verify` before rekeying")))?;
            let resealed = new.sealer.seal(&aad(&new.vault_id, seq), &plain)?;
            let mac = new.entry_mac(&prev, seq, &resealed);
            sqlx::query("UPDATE audit SET sealed = ?, mac = ? WHERE seq = ?")
                .bind(&resealed)
                .bind(&mac[..])
                .bind(seq as i64)
                .execute(&mut *conn)
                .await?;
            prev = mac;
            count = seq;
        }
        sqlx::query("DELETE FROM audit_head")
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "INSERT INTO audit_head (singleton, count, last_mac, head_mac) VALUES (1, ?, ?, ?)",
        )
        .bind(count as i64)
        .bind(&prev[..])
        .bind(&new.head_mac(count, &prev)[..])
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Every entry, in order. Fails on the first entry that does not open.
    pub async fn entries(&self, conn: &mut SqliteConnection) -> Result<Vec<AuditRecord>> {
        let rows = sqlx::query("SELECT seq, sealed FROM audit ORDER BY seq")
            .fetch_all(&mut *conn)
            .await?;
        rows.iter()
            .map(|r| {
                let seq: i64 = r.try_get(0)?;
                let sealed: Vec<u8> = r.try_get(1)?;
                let bad = || {
                    Error::AuditBroken(format!(
                        "audit entry {seq} does not open: run `ctxvault audit verify`"
                    ))
                };
                let plain = self
                    .sealer
                    .open(&aad(&self.vault_id, seq as u64), &sealed)
                    .map_err(|_| bad())?;
                let entry: AuditEntry = serde_json::from_slice(&plain).map_err(|_| bad())?;
                Ok(AuditRecord {
                    seq: seq as u64,
                    entry,
                })
            })
            .collect()
    }

    /// Check the whole chain and the head; report the first problem.
    pub async fn verify(&self, conn: &mut SqliteConnection) -> Result<AuditReport> {
        let rows = sqlx::query("SELECT seq, sealed, mac FROM audit ORDER BY seq")
            .fetch_all(&mut *conn)
            .await?;
        let mut prev = self.genesis();
        let mut expected = 1u64;
        let problem = |entry: u64, what: String| AuditReport {
            entries: entry.saturating_sub(1),
            problem: Some(AuditProblem { entry, what }),
        };
        for r in &rows {
            let seq: i64 = r.try_get(0)?;
            let sealed: Vec<u8> = r.try_get(1)?;
            let mac: Vec<u8> = r.try_get(2)?;
            let seq = seq as u64;
            if seq != expected {
                let what = if seq > expected {
                    if seq == expected + 1 {
                        format!("entry {expected} is missing (deleted)")
                    } else {
                        format!("entries {expected} to {} are missing (deleted)", seq - 1)
                    }
                } else {
                    format!("entry {seq} appears out of order")
                };
                return Ok(problem(expected, what));
            }
            if self.entry_mac(&prev, seq, &sealed)[..] != mac[..] {
                return Ok(problem(
                    seq,
                    format!("entry {seq} was altered, moved, or written without the vault's key"),
                ));
            }
            if self
                .sealer
                .open(&aad(&self.vault_id, seq), &sealed)
                .is_err()
            {
                return Ok(problem(seq, format!("entry {seq} does not open")));
            }
            prev.copy_from_slice(&mac);
            expected += 1;
        }
        let n = expected - 1;
        let head =
            sqlx::query("SELECT count, last_mac, head_mac FROM audit_head WHERE singleton = 1")
                .fetch_optional(&mut *conn)
                .await?;
        let Some(head) = head else {
            return Ok(problem(n + 1, "the audit head is missing (deleted)".into()));
        };
        let count: i64 = head.try_get(0)?;
        let last: Vec<u8> = head.try_get(1)?;
        let head_mac: Vec<u8> = head.try_get(2)?;
        let count = count as u64;
        let last_ok: Option<[u8; 32]> = last.try_into().ok();
        let head_ok = last_ok.is_some_and(|l| self.head_mac(count, &l)[..] == head_mac[..]);
        if !head_ok {
            return Ok(problem(count, "the audit head was altered".into()));
        }
        if count > n {
            let what = if count == n + 1 {
                format!("entry {count} is missing: the log was truncated after entry {n}")
            } else {
                format!(
                    "entries {} to {count} are missing: the log was truncated after entry {n}",
                    n + 1
                )
            };
            return Ok(problem(n + 1, what));
        }
        if count < n {
            return Ok(problem(
                count + 1,
                format!("entry {} was added after the head", count + 1),
            ));
        }
        if last_ok != Some(prev) {
            return Ok(problem(n, format!("entry {n} does not match the head")));
        }
        Ok(AuditReport {
            entries: n,
            problem: None,
        })
    }
}
