//! Typed errors of the vault. Messages name the problem and, where there is
//! one, the fix; they never carry key material or item plaintext.

use std::path::PathBuf;

use uuid::Uuid;

/// SQLite's primary result codes for a full disk and an I/O error.
const SQLITE_FULL: i64 = 13;
const SQLITE_IOERR: i64 = 10;

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        let code = e
            .as_database_error()
            .and_then(|d| d.code())
            .and_then(|c| c.parse::<i64>().ok());
        match code.map(|c| c & 0xff) {
            Some(SQLITE_FULL) => Error::DiskFull,
            Some(SQLITE_IOERR) => Error::Storage(
                e.as_database_error()
                    .map(|d| d.message().to_owned())
                    .unwrap_or_default(),
            ),
            _ => Error::Db(e),
        }
    }
}

/// Result alias for vault operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the vault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field of an item failed validation.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field that was rejected (`namespace`, `tag`, `body`...).
        field: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// No item has this id.
    #[error("no item {0}")]
    NoItem(Uuid),
    /// An item's sealed record failed authentication: it was altered or moved.
    #[error(
        "integrity error: item {0} failed authentication (its sealed record was altered or moved)"
    )]
    Integrity(Uuid),
    /// A policy record's sealed blob failed authentication or does not parse.
    #[error(
        "integrity error: policy record {0} failed authentication (its sealed record was altered or moved); restore the vault from a backup or export"
    )]
    RecordIntegrity(Uuid),
    /// The passphrase did not open the vault.
    #[error("wrong passphrase: the vault stays locked; check it and run `ctxvault unlock` again")]
    WrongPassphrase,
    /// None of the given identities opens any key slot.
    #[error(
        "this identity does not open the vault: no key slot was made for it; unlock with the passphrase instead"
    )]
    IdentityNoMatch,
    /// An identity file could not be read as age identities.
    #[error("not an age identity file: expected lines starting with AGE-SECRET-KEY-1 ({0})")]
    BadIdentity(String),
    /// A key slot needs more scrypt work than allowed.
    #[error(
        "this passphrase-sealed file asks for scrypt work factor {required}, above the maximum {max} ctxvault accepts (its default is 18): it was not made by ctxvault's defaults, or was crafted to stall; nothing was derived"
    )]
    ExcessiveWork {
        /// Work factor (log2 N) in the slot.
        required: u8,
        /// The maximum this build accepts.
        max: u8,
    },
    /// A key slot or age file is malformed.
    #[error("malformed key slot: {0}")]
    MalformedSlot(String),
    /// A vault already exists at this path.
    #[error("a vault already exists at {0}")]
    AlreadyExists(PathBuf),
    /// No vault exists at this path.
    #[error("no vault at {0}")]
    NoVault(PathBuf),
    /// The vault's metadata is missing or of an unknown format.
    #[error("unsupported or damaged vault: {0}")]
    Format(String),
    /// The audit log cannot take or give entries.
    #[error("{0}")]
    AuditBroken(String),
    /// The operation needs the vault unlocked.
    #[error("vault is locked")]
    Locked,
    /// The disk holding the vault is full: the write was not saved.
    #[error("the disk holding the vault is full: nothing was saved; free some space and try again")]
    DiskFull,
    /// The disk refused a write or read (an I/O error, or a file size limit).
    #[error(
        "the disk refused a write to the vault ({0}): nothing was saved; check the disk and free space, then try again"
    )]
    Storage(String),
    /// The vault changed while it was read in pieces (an export): the
    /// pieces would not add up. Nothing was left half done; run it again.
    #[error("the vault changed during the {0} (an item was removed meanwhile); run it again")]
    Changed(&'static str),
    /// The request was made before: this is what it made (an item or a
    /// proposal id). Callers answer from it instead of writing again.
    #[error("this request was already carried out (it made {0})")]
    Repeated(Uuid),
    /// A database error.
    #[error("database error: {0}")]
    Db(sqlx::Error),
    /// A migration error.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A filesystem error with the path it concerns.
    #[error("{path}: {source}")]
    Io {
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A cryptographic primitive failed where it should not (RNG, KDF).
    #[error("cryptographic failure: {0}")]
    Crypto(&'static str),
    /// The remote's copy of a device's log failed a check (a segment
    /// missing, altered, moved, replaced or rolled back): that device's
    /// changes are not applied until the user decides.
    #[error(
        "sync integrity error: the log of device {device} {reason}; its changes are not applied until you decide (see `ctxvault sync status`, then `ctxvault sync unblock {device}` once you trust the remote again)"
    )]
    SyncIntegrity {
        /// The device's short id.
        device: String,
        /// What is wrong, naming the segment.
        reason: String,
    },
    /// The sync remote failed (unreachable, refused, or already holding a file).
    #[error(transparent)]
    Remote(#[from] crate::sync::remote::RemoteError),
    /// A sync request that cannot be carried out, saying why and the fix.
    #[error("{0}")]
    Sync(String),
    /// The embedding model failed (one line saying how).
    #[error("the embedding model failed: {0}")]
    Embed(String),
}
