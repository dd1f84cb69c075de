//! Fixed keys for the targets, so sealed seeds open on every run and a
//! failure reproduces. Test keys only: nothing real is sealed under them.

use std::str::FromStr;

use age::x25519;
use vault_core::audit::AuditKeys;
use vault_core::keys::{MasterKey, Purpose, SubKey, passphrase};
use vault_core::seal::Sealer;

/// The vault id every target uses.
pub const VAULT_ID: [u8; 16] = *b"ctxvault-fuzzing";

/// The passphrase of passphrase-sealed seed bundles.
pub const PASSPHRASE: &str = "fuzz-passphrase";

/// The identity of recipient-sealed seed bundles (generated once with
/// `age-keygen`; a test key).
const IDENTITY: &str = "AGE-SECRET-KEY-1DRKZCLR0JJTJCCFYPE5XE6KETR8VV3DHE7RHQN755HM2S3W9S88QYPXX6X";

/// The fixed master key.
pub fn master() -> MasterKey {
    MasterKey::from_bytes([0x5a; 32])
}

fn subkey(purpose: Purpose) -> SubKey {
    match master().subkey(&VAULT_ID, purpose) {
        Ok(k) => k,
        // HKDF-SHA256 expands 32 bytes for any input.
        Err(e) => panic!("the fixture subkey cannot be derived: {e}"),
    }
}

/// The sealer of item payloads.
pub fn items() -> Sealer {
    Sealer::new(subkey(Purpose::Items))
}

/// The sealer of policy records.
pub fn records() -> Sealer {
    Sealer::new(subkey(Purpose::Records))
}

/// The audit keys.
pub fn audit() -> AuditKeys {
    AuditKeys::new(
        Sealer::new(subkey(Purpose::Audit)),
        subkey(Purpose::AuditMac),
        VAULT_ID,
    )
}

/// The fixed X25519 identity.
pub fn identity() -> x25519::Identity {
    match x25519::Identity::from_str(IDENTITY) {
        Ok(i) => i,
        Err(e) => panic!("the fixture identity does not parse: {e}"),
    }
}

/// The passphrase as a secret.
pub fn secret_passphrase() -> age::secrecy::SecretString {
    passphrase(PASSPHRASE)
}
