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
    /// The door the call came through (`stdio`, `http`), for calls made
    /// over MCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub door: Option<String>,
    /// Where the answer went: the model provider and its class
    /// (`ollama (local)`), for a client's reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The aspect in force when it was answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aspect: Option<String>,
}

/// An entry with its position in the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position, from 1.
    pub seq: u64,
    /// The entry.
    #[serde(flatten)]
    pub entry: AuditEntry,
    /// The device whose chain holds it, by short id (none: this one's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
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

/// The log read once: the entries that open, in order, and the check of
/// the chain and its head.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditScan {
    /// Every entry that opens, in order (also past a problem).
    pub entries: Vec<AuditRecord>,
    /// The chain's check.
    pub report: AuditReport,
}

/// The head of the log as exported by `audit head`: a count and the MAC of
/// the last entry, signed with the vault's audit MAC key, to keep outside
/// the vault. `audit verify --against` checks that the log still holds
/// that entry, so a truncation or rollback relative to it is detected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedHead {
    /// Format version, 1.
    pub v: u32,
    /// The vault's id, hex.
    pub vault: String,
    /// Entries in the log when exported.
    pub count: u64,
    /// MAC of entry `count` (the genesis MAC for 0), hex.
    pub last_mac: String,
    /// When it was exported.
    pub time: DateTime<Utc>,
    /// HMAC of the above under the audit MAC key, hex.
    pub mac: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
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

    /// Entry `seq` of a chain of this vault (this device's or another's),
    /// if it opens.
    pub fn open_entry(&self, seq: u64, sealed: &[u8]) -> Option<AuditEntry> {
        let plain = self.sealer.open(&aad(&self.vault_id, seq), sealed).ok()?;
        serde_json::from_slice(&plain).ok()
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
                    device: None,
                })
            })
            .collect()
    }

    fn export_mac(&self, count: u64, last: &[u8], time: DateTime<Utc>) -> [u8; 32] {
        self.mac_of(&[
            b"ctxvault/audit/export/v1",
            &self.vault_id,
            &count.to_be_bytes(),
            last,
            &time.timestamp_micros().to_be_bytes(),
        ])
    }

    /// The head to export: the log's count and last MAC, signed. Fails when
    /// the log itself does not verify.
    pub async fn export_head(&self, conn: &mut SqliteConnection) -> Result<SignedHead> {
        let report = self.verify(conn).await?;
        if let Some(p) = report.problem {
            return Err(Error::AuditBroken(format!(
                "the audit log is damaged at entry {}: {}; no head is exported for a damaged log",
                p.entry, p.what
            )));
        }
        let last = self.mac_at(conn, report.entries).await?;
        let time =
            DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap_or_else(Utc::now);
        Ok(SignedHead {
            v: 1,
            vault: hex(&self.vault_id),
            count: report.entries,
            last_mac: hex(&last),
            time,
            mac: hex(&self.export_mac(report.entries, &last, time)),
        })
    }

    /// The MAC of entry `seq` (the genesis MAC for 0), if it exists.
    async fn mac_at(&self, conn: &mut SqliteConnection, seq: u64) -> Result<Vec<u8>> {
        if seq == 0 {
            return Ok(self.genesis().to_vec());
        }
        let mac: Option<Vec<u8>> = sqlx::query_scalar("SELECT mac FROM audit WHERE seq = ?")
            .bind(seq as i64)
            .fetch_optional(&mut *conn)
            .await?;
        Ok(mac.unwrap_or_default())
    }

    /// Check the chain, then that it still holds the entry `head` was
    /// exported at: fewer entries means truncation or rollback, another
    /// entry at that place means the log was replaced.
    pub async fn verify_against(
        &self,
        conn: &mut SqliteConnection,
        head: &SignedHead,
    ) -> Result<AuditReport> {
        let bad = |why: &str| Error::Invalid {
            field: "head",
            reason: format!("{why}; use a file written by `ctxvault audit head` for this vault"),
        };
        if head.v != 1 {
            return Err(bad(&format!("head format {} is unknown", head.v)));
        }
        if unhex(&head.vault).as_deref() != Some(&self.vault_id[..]) {
            return Err(bad("this head was exported from another vault"));
        }
        let last = unhex(&head.last_mac).ok_or_else(|| bad("the head is malformed"))?;
        let mac = unhex(&head.mac).ok_or_else(|| bad("the head is malformed"))?;
        let key = hmac::Key::new(hmac::HMAC_SHA256, self.mac.expose_secret());
        let mut msg = b"ctxvault/audit/export/v1".to_vec();
        msg.extend_from_slice(&self.vault_id);
        msg.extend_from_slice(&head.count.to_be_bytes());
        msg.extend_from_slice(&last);
        msg.extend_from_slice(&head.time.timestamp_micros().to_be_bytes());
        if hmac::verify(&key, &msg, &mac).is_err() {
            return Err(bad("the head's signature does not verify (it was altered)"));
        }
        let report = self.verify(conn).await?;
        if report.problem.is_some() {
            return Ok(report);
        }
        let when = head.time.format("%Y-%m-%d %H:%M:%S UTC");
        let problem = |entry: u64, what: String| AuditReport {
            entries: report.entries,
            problem: Some(AuditProblem { entry, what }),
        };
        if report.entries < head.count {
            return Ok(problem(
                report.entries + 1,
                format!(
                    "the log holds {} entries, fewer than the {} of the head exported at {when}: it was truncated or rolled back",
                    report.entries, head.count
                ),
            ));
        }
        if self.mac_at(conn, head.count).await? != last {
            return Ok(problem(
                head.count,
                format!(
                    "entry {} is not the one the head exported at {when} recorded: the log was replaced",
                    head.count
                ),
            ));
        }
        Ok(report)
    }

    /// Check the whole chain and the head; report the first problem.
    pub async fn verify(&self, conn: &mut SqliteConnection) -> Result<AuditReport> {
        Ok(self.scan(conn, false).await?.report)
    }

    /// Check the chain and the head as `verify` does and, when `keep`,
    /// open every entry in the same pass (each is decrypted once).
    pub async fn scan(&self, conn: &mut SqliteConnection, keep: bool) -> Result<AuditScan> {
        let rows = sqlx::query("SELECT seq, sealed, mac FROM audit ORDER BY seq")
            .fetch_all(&mut *conn)
            .await?;
        let mut prev = self.genesis();
        let mut expected = 1u64;
        let mut found: Option<AuditReport> = None;
        let mut entries = Vec::with_capacity(if keep { rows.len() } else { 0 });
        for r in &rows {
            let seq: i64 = r.try_get(0)?;
            let sealed: Vec<u8> = r.try_get(1)?;
            let mac: Vec<u8> = r.try_get(2)?;
            let seq = seq as u64;
            if found.is_none() && seq != expected {
                let what = if seq > expected {
                    if seq == expected + 1 {
                        format!("entry {expected} is missing (deleted)")
                    } else {
                        format!("entries {expected} to {} are missing (deleted)", seq - 1)
                    }
                } else {
                    format!("entry {seq} appears out of order")
                };
                found = Some(broken(expected, what));
            }
            if found.is_none() && self.entry_mac(&prev, seq, &sealed)[..] != mac[..] {
                found = Some(broken(
                    seq,
                    format!("entry {seq} was altered, moved, or written without the vault's key"),
                ));
            }
            let opened = self.sealer.open(&aad(&self.vault_id, seq), &sealed).ok();
            let entry = match (&opened, keep) {
                (Some(plain), true) => serde_json::from_slice::<AuditEntry>(plain).ok(),
                _ => None,
            };
            if found.is_none() && (opened.is_none() || (keep && entry.is_none())) {
                found = Some(broken(seq, format!("entry {seq} does not open")));
            }
            if let Some(entry) = entry {
                entries.push(AuditRecord {
                    seq,
                    entry,
                    device: None,
                });
            }
            if found.is_none() {
                prev.copy_from_slice(&mac);
                expected += 1;
            } else if !keep {
                break;
            }
        }
        let report = match found {
            Some(report) => report,
            None => self.check_head(conn, expected - 1, prev).await?,
        };
        Ok(AuditScan { entries, report })
    }

    /// Check the head against a chain of `n` good entries ending in `prev`.
    async fn check_head(
        &self,
        conn: &mut SqliteConnection,
        n: u64,
        prev: [u8; 32],
    ) -> Result<AuditReport> {
        let head =
            sqlx::query("SELECT count, last_mac, head_mac FROM audit_head WHERE singleton = 1")
                .fetch_optional(&mut *conn)
                .await?;
        let Some(head) = head else {
            return Ok(broken(n + 1, "the audit head is missing (deleted)".into()));
        };
        let count: i64 = head.try_get(0)?;
        let last: Vec<u8> = head.try_get(1)?;
        let head_mac: Vec<u8> = head.try_get(2)?;
        let count = count as u64;
        let last_ok: Option<[u8; 32]> = last.try_into().ok();
        let head_ok = last_ok.is_some_and(|l| self.head_mac(count, &l)[..] == head_mac[..]);
        if !head_ok {
            return Ok(broken(count, "the audit head was altered".into()));
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
            return Ok(broken(n + 1, what));
        }
        if count < n {
            return Ok(broken(
                count + 1,
                format!("entry {} was added after the head", count + 1),
            ));
        }
        if last_ok != Some(prev) {
            return Ok(broken(n, format!("entry {n} does not match the head")));
        }
        Ok(AuditReport {
            entries: n,
            problem: None,
        })
    }
}

/// A report of the first problem, at `entry`: the entries before it held.
fn broken(entry: u64, what: String) -> AuditReport {
    AuditReport {
        entries: entry.saturating_sub(1),
        problem: Some(AuditProblem { entry, what }),
    }
}
