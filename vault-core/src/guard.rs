//! The rollback guard: a copy of the database's commit counter, under a MAC,
//! kept outside the database in `vault.head`.
//!
//! SQLite cannot tell that it was rolled back: a write-ahead log cut short,
//! or an older copy of `vault.db` put back, opens as a consistent database
//! without the newest writes. Every commit adds one to a counter in the
//! database; after the commit, the unlocked vault writes the counter, the
//! time and a MAC under the audit MAC subkey to this file. At unlock a file
//! ahead of the database means writes are missing.
//!
//! # Format (56 bytes)
//! `"CVHEAD01"`, generation (u64 BE), time of that commit (unix
//! microseconds, i64 BE), HMAC-SHA256 of
//! `"ctxvault/guard/v1" || vault_id || generation || time`.
//!
//! # Durability
//! The file is written after the commit's fsync and is not itself synced:
//! after a power loss it may be behind the database (which only weakens the
//! check), never ahead of it (which would be a false alarm).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::audit::AuditKeys;
use crate::error::{Error, Result};

/// File name of the guard inside the vault directory.
pub const HEAD_FILE: &str = "vault.head";
const MAGIC: &[u8; 8] = b"CVHEAD01";
const LEN: usize = 56;

/// What the guard says about the database at unlock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GuardCheck {
    /// The file agrees with the database (or is behind it).
    Agrees,
    /// No file, and the database was never written with the guard in place
    /// (a new vault, or one made before the guard existed).
    Missing,
    /// No file, though the database has been written since: it was removed.
    Removed,
    /// The file does not verify: altered, damaged, or from another vault.
    Unverifiable,
    /// The database is behind the file: `missing` commits are gone, the
    /// newest of them made at `last_write`.
    RolledBack {
        /// The database's generation.
        database: u64,
        /// The generation the file records.
        recorded: u64,
        /// When the last recorded commit was made.
        last_write: DateTime<Utc>,
    },
}

impl GuardCheck {
    /// A one-line warning for the user, when there is something to say.
    pub fn warning(&self) -> Option<String> {
        match self {
            GuardCheck::Agrees | GuardCheck::Missing => None,
            GuardCheck::Removed => Some(format!(
                "the rollback guard ({HEAD_FILE}) was missing though the vault has been written to: it was written anew; if you did not remove it, check who can write to the vault directory"
            )),
            GuardCheck::Unverifiable => Some(format!(
                "the rollback guard ({HEAD_FILE}) failed authentication (altered, damaged or from another vault): it was written anew, so an earlier rollback of the database would go unnoticed"
            )),
            GuardCheck::RolledBack {
                database,
                recorded,
                last_write,
            } => Some(format!(
                "the vault was rolled back: its newest {} write(s), the last made at {}, are missing (the database was cut short or an older copy restored); restore the vault directory from a backup if you have one, or re-add what is missing",
                recorded - database,
                last_write.format("%Y-%m-%d %H:%M:%S UTC")
            )),
        }
    }
}

/// The open guard file of an unlocked vault.
pub struct Guard {
    path: PathBuf,
    file: Mutex<Option<File>>,
    last: Mutex<u64>,
}

/// The path of the guard of the vault in `dir`.
pub fn path_in(dir: &Path) -> PathBuf {
    dir.join(HEAD_FILE)
}

fn encode(keys: &AuditKeys, generation: u64, time: DateTime<Utc>) -> [u8; LEN] {
    let micros = time.timestamp_micros();
    let mac = keys.guard_mac(generation, micros);
    let mut out = [0u8; LEN];
    out[..8].copy_from_slice(MAGIC);
    out[8..16].copy_from_slice(&generation.to_be_bytes());
    out[16..24].copy_from_slice(&micros.to_be_bytes());
    out[24..].copy_from_slice(&mac);
    out
}

fn decode(keys: &AuditKeys, bytes: &[u8]) -> Option<(u64, DateTime<Utc>)> {
    if bytes.len() != LEN || &bytes[..8] != MAGIC {
        return None;
    }
    let generation = u64::from_be_bytes(bytes[8..16].try_into().ok()?);
    let micros = i64::from_be_bytes(bytes[16..24].try_into().ok()?);
    if !keys.guard_mac_matches(generation, micros, &bytes[24..]) {
        return None;
    }
    Some((generation, DateTime::from_timestamp_micros(micros)?))
}

impl Guard {
    /// Check the guard of the vault in `dir` against the database's
    /// `generation`, and open it for writing.
    pub fn open(dir: &Path, keys: &AuditKeys, generation: u64) -> Result<(Guard, GuardCheck)> {
        let path = path_in(dir);
        let check = match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && generation == 0 => {
                GuardCheck::Missing
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => GuardCheck::Removed,
            Err(source) => return Err(Error::Io { path, source }),
            Ok(bytes) => match decode(keys, &bytes) {
                None => GuardCheck::Unverifiable,
                Some((recorded, _)) if recorded <= generation => GuardCheck::Agrees,
                Some((recorded, last_write)) => GuardCheck::RolledBack {
                    database: generation,
                    recorded,
                    last_write,
                },
            },
        };
        let guard = Guard {
            path,
            file: Mutex::new(None),
            last: Mutex::new(0),
        };
        Ok((guard, check))
    }

    /// Record that the database reached `generation` (after its commit).
    /// A failure to write is logged, not returned: the commit stands.
    pub fn record(&self, keys: &AuditKeys, generation: u64) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if generation <= *last {
            return;
        }
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if file.is_none() {
            match OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&self.path)
            {
                Ok(f) => *file = Some(f),
                Err(e) => {
                    tracing::warn!("cannot open the rollback guard: {e}");
                    return;
                }
            }
        }
        let bytes = encode(keys, generation, Utc::now());
        let written = file.as_ref().map(|f| {
            f.write_all_at(&bytes, 0)
                .and_then(|()| f.set_len(LEN as u64))
        });
        match written {
            Some(Ok(())) => *last = generation,
            Some(Err(e)) => tracing::warn!("cannot write the rollback guard: {e}"),
            None => {}
        }
    }
}
