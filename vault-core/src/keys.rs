//! Key hierarchy: the master key, its age-wrapped key slots and HKDF subkeys.
//!
//! # Format
//! - The master key is 32 random bytes from the OS RNG.
//! - A key slot is an age file (binary, unarmored) whose payload is the
//!   master key. A passphrase slot has a single scrypt recipient; an identity
//!   slot has a single X25519 recipient. The unwrap path also reads armored
//!   files, and refuses scrypt work factors above [`WorkFactor::MAX`].
//! - Subkeys are HKDF-SHA256 of the master key, salt
//!   `"ctxvault/v1/salt" || vault_id`, info `"ctxvault/v1/" || purpose`.
//!
//! # Invariants
//! Key bytes live only in zeroizing buffers; no key type implements `Debug`,
//! `Clone` or `Serialize`.

use std::io::{Read, Write};
use std::iter;
use std::str::FromStr;

use age::secrecy::{ExposeSecret, SecretString};
use age::{Decryptor, Encryptor, armor::ArmoredReader, scrypt, x25519};
use ring::{hkdf, rand::SecureRandom};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// An scrypt work factor (log2 of N) for passphrase slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkFactor(u8);

impl WorkFactor {
    /// The factor every user vault gets: 2^18 (about 0.8 s on a 2020s laptop core).
    pub const DEFAULT: WorkFactor = WorkFactor(18);
    /// The largest factor the unwrap path accepts: the default plus two
    /// doublings (about 3 s and 1 GiB). A key slot or bundle asking for more
    /// is refused before any key derivation, so a crafted file cannot make
    /// ctxvault spend many seconds and gigabytes before "wrong passphrase".
    pub const MAX: WorkFactor = WorkFactor(20);
    /// The smallest factor accepted at all; only tests should go below the default.
    pub const MIN: WorkFactor = WorkFactor(10);

    /// A factor in `MIN..=MAX`.
    pub fn new(log_n: u8) -> Result<Self> {
        if (Self::MIN.0..=Self::MAX.0).contains(&log_n) {
            Ok(WorkFactor(log_n))
        } else {
            Err(Error::Invalid {
                field: "work factor",
                reason: format!(
                    "scrypt work factor {log_n} is outside {}..={}",
                    Self::MIN.0,
                    Self::MAX.0
                ),
            })
        }
    }

    /// log2 N.
    pub fn get(self) -> u8 {
        self.0
    }
}

/// The 32-byte master key. Wiped on drop.
///
/// Kept on the heap and never copied: moving the key moves a pointer, so no
/// stack frame is left holding its bytes after a lock.
/// Its page is locked in memory (never swapped out) where the platform and
/// the user's `RLIMIT_MEMLOCK` allow.
pub struct MasterKey(
    Box<Zeroizing<[u8; 32]>>,
    // Held for its drop: unlocks the page after the key is wiped.
    #[allow(dead_code)] Option<region::LockGuard>,
);

/// Lock the page holding a heap key against swapping; `None` (with a log
/// line) where that is refused. Dropping the guard unlocks it, after the
/// key (declared before it) is wiped.
fn lock_in_memory(key: &[u8; 32]) -> Option<region::LockGuard> {
    match region::lock(key.as_ptr(), key.len()) {
        Ok(g) => Some(g),
        Err(e) => {
            tracing::debug!("key memory not locked against swapping: {e}");
            None
        }
    }
}

impl MasterKey {
    /// A fresh random master key.
    pub fn generate() -> Result<Self> {
        let mut k = Box::new(Zeroizing::new([0u8; 32]));
        ring::rand::SystemRandom::new()
            .fill(&mut k[..])
            .map_err(|_| Error::Crypto("the OS random number generator failed"))?;
        let guard = lock_in_memory(&k);
        Ok(MasterKey(k, guard))
    }

    /// A master key with known bytes, for tests and fuzz targets that need
    /// the same keys on every run (sealed corpora, reproducible failures).
    /// A vault's own key always comes from [`MasterKey::generate`].
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let bytes = Zeroizing::new(bytes);
        let mut k = Box::new(Zeroizing::new([0u8; 32]));
        k.copy_from_slice(&bytes[..]);
        let guard = lock_in_memory(&k);
        MasterKey(k, guard)
    }

    fn from_slice(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != 32 {
            return Err(Error::MalformedSlot("payload is not a 32-byte key".into()));
        }
        let mut k = Box::new(Zeroizing::new([0u8; 32]));
        k.copy_from_slice(bytes);
        let guard = lock_in_memory(&k);
        Ok(MasterKey(k, guard))
    }

    /// Derive the subkey for one purpose, bound to one vault.
    pub fn subkey(&self, vault_id: &[u8; 16], purpose: Purpose) -> Result<SubKey> {
        let mut salt = b"ctxvault/v1/salt".to_vec();
        salt.extend_from_slice(vault_id);
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &salt).extract(&self.0[..]);
        let info = [b"ctxvault/v1/".as_slice(), purpose.label().as_bytes()];
        let okm = prk
            .expand(&info, Len32)
            .map_err(|_| Error::Crypto("HKDF expand failed"))?;
        let mut out = Box::new(Zeroizing::new([0u8; 32]));
        okm.fill(&mut out[..])
            .map_err(|_| Error::Crypto("HKDF fill failed"))?;
        let guard = lock_in_memory(&out);
        Ok(SubKey(out, guard))
    }

    /// Wrap this key in a new passphrase slot.
    pub fn wrap_passphrase(&self, passphrase: &SecretString, wf: WorkFactor) -> Result<Vec<u8>> {
        let mut r = scrypt::Recipient::new(passphrase.clone());
        r.set_work_factor(wf.get());
        self.wrap_to(&r)
    }

    /// Wrap this key in a new slot for one X25519 recipient.
    pub fn wrap_identity(&self, recipient: &x25519::Recipient) -> Result<Vec<u8>> {
        self.wrap_to(recipient)
    }

    fn wrap_to(&self, r: &dyn age::Recipient) -> Result<Vec<u8>> {
        let enc = Encryptor::with_recipients(iter::once(r))
            .map_err(|_| Error::Crypto("age refused the recipient"))?;
        let mut out = Vec::with_capacity(256);
        let io = |_| Error::Crypto("age encryption failed");
        let mut w = enc.wrap_output(&mut out).map_err(io)?;
        w.write_all(&self.0[..]).map_err(io)?;
        w.finish().map_err(io)?;
        Ok(out)
    }
}

/// What a subkey is for. Each purpose gets an independent key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Sealing items.
    Items,
    /// Sealing policy records (clients, grants, deny rules).
    Records,
    /// Sealing audit entries.
    Audit,
    /// MACs of the audit chain and its head.
    AuditMac,
    /// Sealing item vectors (recall by meaning).
    Vectors,
    /// Sealing the sync log's segments and keys files.
    Sync,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Purpose::Items => "items",
            Purpose::Records => "records",
            Purpose::Audit => "audit",
            Purpose::AuditMac => "audit-mac",
            Purpose::Vectors => "vectors",
            Purpose::Sync => "sync",
        }
    }
}

struct Len32;
impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

/// A 32-byte subkey. Wiped on drop.
/// On the heap, never copied, its page locked against swapping where
/// allowed (as the master key).
pub struct SubKey(
    Box<Zeroizing<[u8; 32]>>,
    // Held for its drop: unlocks the page after the key is wiped.
    #[allow(dead_code)] Option<region::LockGuard>,
);

impl SubKey {
    /// The key bytes, for handing to a cipher.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }
}

/// A way to open the vault.
pub enum Unlock {
    /// The passphrase of the passphrase slot.
    Passphrase(SecretString),
    /// One or more X25519 identities, from an age identity file.
    Identities(Vec<x25519::Identity>),
}

impl Unlock {
    /// Parse an age identity file as `age-keygen` or `rage-keygen` write it:
    /// `#` comments, blank lines and `AGE-SECRET-KEY-1...` lines.
    pub fn identity_file(contents: &str) -> Result<Self> {
        Ok(Unlock::Identities(parse_identity_file(contents)?))
    }
}

/// Parse the identities in an age identity file (see [`Unlock::identity_file`]).
pub fn parse_identity_file(contents: &str) -> Result<Vec<x25519::Identity>> {
    let mut ids = Vec::new();
    for (n, line) in contents.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match x25519::Identity::from_str(line) {
            Ok(id) => ids.push(id),
            Err(_) => {
                return Err(Error::BadIdentity(format!(
                    "line {} is not an X25519 identity",
                    n + 1
                )));
            }
        }
    }
    if ids.is_empty() {
        return Err(Error::BadIdentity("the file holds no identity".into()));
    }
    Ok(ids)
}

/// The public recipient (`age1...`) of an identity.
pub fn recipient_of(id: &x25519::Identity) -> x25519::Recipient {
    id.to_public()
}

/// Decrypt an age file (binary or armored) with a passphrase or identities.
///
/// This is the one unwrap path of the vault; the age testkit runs through it.
pub fn age_unwrap(file: &[u8], unlock: &Unlock) -> Result<Zeroizing<Vec<u8>>> {
    let d = Decryptor::new_buffered(ArmoredReader::new(file)).map_err(|e| map_err(e, unlock))?;
    let reader = match unlock {
        Unlock::Passphrase(p) => {
            if !d.is_scrypt() {
                return Err(Error::WrongPassphrase);
            }
            let mut id = scrypt::Identity::new(p.clone());
            id.set_max_work_factor(WorkFactor::MAX.get());
            d.decrypt(iter::once(&id as &dyn age::Identity))
        }
        Unlock::Identities(ids) => d.decrypt(ids.iter().map(|i| i as &dyn age::Identity)),
    };
    let mut reader = reader.map_err(|e| map_err(e, unlock))?;
    let mut out = Zeroizing::new(Vec::with_capacity(32));
    reader
        .read_to_end(&mut out)
        .map_err(|e| Error::MalformedSlot(format!("payload: {e}")))?;
    Ok(out)
}

fn map_err(e: age::DecryptError, unlock: &Unlock) -> Error {
    use age::DecryptError as D;
    match e {
        D::DecryptionFailed | D::NoMatchingKeys | D::KeyDecryptionFailed => match unlock {
            Unlock::Passphrase(_) => Error::WrongPassphrase,
            Unlock::Identities(_) => Error::IdentityNoMatch,
        },
        // age's `target` is its own calibration, not our cap: name ours.
        D::ExcessiveWork { required, .. } => Error::ExcessiveWork {
            required,
            max: WorkFactor::MAX.get(),
        },
        D::InvalidHeader => Error::MalformedSlot("invalid age header".into()),
        D::InvalidMac => Error::MalformedSlot("age header MAC mismatch".into()),
        D::UnknownFormat => Error::MalformedSlot("unknown age format version".into()),
        D::Io(e) => Error::MalformedSlot(format!("read: {e}")),
        _ => Error::MalformedSlot("unsupported age file".into()),
    }
}

/// Open the master key from one wrapped slot.
pub fn unwrap_master(slot: &[u8], unlock: &Unlock) -> Result<MasterKey> {
    let payload = age_unwrap(slot, unlock)?;
    MasterKey::from_slice(&payload)
}

/// A passphrase as a secret, for callers that hold it as a plain string.
pub fn passphrase(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

/// True when the passphrase is acceptable for a new vault (not empty).
pub fn check_new_passphrase(p: &SecretString) -> Result<()> {
    if p.expose_secret().is_empty() {
        return Err(Error::Invalid {
            field: "passphrase",
            reason: "the passphrase is empty; choose one".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passphrase_slot_roundtrip() {
        let mk = MasterKey::generate().unwrap();
        let slot = mk
            .wrap_passphrase(&passphrase("pw"), WorkFactor::MIN)
            .unwrap();
        let back = unwrap_master(&slot, &Unlock::Passphrase(passphrase("pw"))).unwrap();
        assert_eq!(&mk.0[..], &back.0[..]);
        assert!(matches!(
            unwrap_master(&slot, &Unlock::Passphrase(passphrase("nope"))),
            Err(Error::WrongPassphrase)
        ));
    }

    #[test]
    fn identity_slot_roundtrip() {
        let id = x25519::Identity::generate();
        let file = format!(
            "# created: now\n# public key: {}\n{}\n",
            id.to_public(),
            id.to_string().expose_secret()
        );
        let mk = MasterKey::generate().unwrap();
        let slot = mk.wrap_identity(&id.to_public()).unwrap();
        let back = unwrap_master(&slot, &Unlock::identity_file(&file).unwrap()).unwrap();
        assert_eq!(&mk.0[..], &back.0[..]);
        let other = x25519::Identity::generate();
        assert!(matches!(
            unwrap_master(&slot, &Unlock::Identities(vec![other])),
            Err(Error::IdentityNoMatch)
        ));
    }

    #[test]
    fn excessive_work_refused() {
        // Wrapping at 2^23 would take many seconds; rewrite the stanza's work
        // factor instead: the check happens before any key derivation.
        let mk = MasterKey::generate().unwrap();
        let slot = mk
            .wrap_passphrase(&passphrase("pw"), WorkFactor::MIN)
            .unwrap();
        let text = String::from_utf8_lossy(&slot).into_owned();
        let header_end = text.find("\n---").unwrap();
        let header = text[..header_end].replacen(" 10\n", " 23\n", 1);
        let mut slot2 = header.into_bytes();
        slot2.extend_from_slice(&slot[header_end..]);
        let slot = slot2;
        assert!(matches!(
            unwrap_master(&slot, &Unlock::Passphrase(passphrase("pw"))),
            Err(Error::ExcessiveWork {
                required: 23,
                max: 20
            })
        ));
    }

    #[test]
    fn the_cap_is_the_default_plus_a_margin() {
        assert_eq!(WorkFactor::MAX.get(), WorkFactor::DEFAULT.get() + 2);
        assert!(WorkFactor::new(21).is_err());
    }

    #[test]
    fn bad_identity_files() {
        assert!(Unlock::identity_file("").is_err());
        assert!(Unlock::identity_file("# only a comment\n").is_err());
        assert!(Unlock::identity_file("hello world\n").is_err());
        assert!(Unlock::identity_file("age1qqqq\n").is_err());
    }

    #[test]
    fn subkeys_differ_by_vault() {
        let mk = MasterKey::generate().unwrap();
        let a = mk.subkey(&[1; 16], Purpose::Items).unwrap();
        let b = mk.subkey(&[2; 16], Purpose::Items).unwrap();
        let a2 = mk.subkey(&[1; 16], Purpose::Items).unwrap();
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_eq!(a.expose_secret(), a2.expose_secret());
    }
}
