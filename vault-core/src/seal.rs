//! Authenticated sealing of records with ChaCha20-Poly1305 (ring).
//!
//! # Format
//! `0x01 || nonce (12 random bytes) || ciphertext || tag (16 bytes)`.
//! The associated data of an item is
//! `"ctxvault/item/v1" || vault_id (16) || item_id (16) || version (u64 BE)`,
//! so a blob moved to another row, another version or another vault fails
//! to open.
//!
//! A random 96-bit nonce is safe for about 2^32 seals under one key; each
//! purpose has its own HKDF subkey.

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::keys::SubKey;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Bytes a sealed blob adds to its plaintext.
pub const OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

/// The blob did not authenticate (altered, truncated, moved, or wrong key).
#[derive(Debug, PartialEq, Eq)]
pub struct OpenError;

/// Seals and opens records under one subkey.
pub struct Sealer {
    key: SubKey,
    rng: SystemRandom,
}

impl Sealer {
    /// A sealer for this subkey.
    pub fn new(key: SubKey) -> Self {
        Sealer {
            key,
            rng: SystemRandom::new(),
        }
    }

    // ring keys are not wiped on drop, so a cipher key is built from the
    // zeroizing subkey for each operation and lives only on the stack.
    fn cipher(&self) -> LessSafeKey {
        #[allow(clippy::expect_used)]
        let k = UnboundKey::new(&aead::CHACHA20_POLY1305, self.key.expose_secret())
            .expect("a 32-byte key is always valid for ChaCha20-Poly1305");
        LessSafeKey::new(k)
    }

    /// Seal `plaintext` bound to `aad`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, crate::Error> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| crate::Error::Crypto("the OS random number generator failed"))?;
        let mut out = Vec::with_capacity(plaintext.len() + OVERHEAD);
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = self
            .cipher()
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut out[1 + NONCE_LEN..],
            )
            .map_err(|_| crate::Error::Crypto("AEAD seal failed"))?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Open a sealed blob bound to `aad`.
    pub fn open(&self, aad: &[u8], blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        if blob.len() < OVERHEAD || blob[0] != VERSION {
            return Err(OpenError);
        }
        let nonce: [u8; NONCE_LEN] = blob[1..1 + NONCE_LEN].try_into().map_err(|_| OpenError)?;
        let mut buf = Zeroizing::new(blob[1 + NONCE_LEN..].to_vec());
        let len = self
            .cipher()
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf[..],
            )
            .map_err(|_| OpenError)?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}

/// The associated data binding an item's blob to its vault, id and version.
pub fn item_aad(vault_id: &[u8; 16], item_id: &Uuid, version: u64) -> [u8; 56] {
    let mut aad = [0u8; 56];
    aad[..16].copy_from_slice(b"ctxvault/item/v1");
    aad[16..32].copy_from_slice(vault_id);
    aad[32..48].copy_from_slice(item_id.as_bytes());
    aad[48..].copy_from_slice(&version.to_be_bytes());
    aad
}

/// The associated data binding a vector's blob to its vault, item, the
/// item's version and the model that made it.
pub fn vector_aad(vault_id: &[u8; 16], item_id: &Uuid, version: u64, model: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(58 + model.len());
    aad.extend_from_slice(b"ctxvault/vector/v1");
    aad.extend_from_slice(vault_id);
    aad.extend_from_slice(item_id.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad.extend_from_slice(model.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{MasterKey, Purpose};
    use proptest::prelude::*;

    fn sealer(vault: u8) -> Sealer {
        let mk = MasterKey::generate().unwrap();
        Sealer::new(mk.subkey(&[vault; 16], Purpose::Items).unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn roundtrip(pt in proptest::collection::vec(any::<u8>(), 0..2048), ver in 1u64..1000) {
            let s = sealer(1);
            let id = Uuid::now_v7();
            let aad = item_aad(&[7; 16], &id, ver);
            let blob = s.seal(&aad, &pt).unwrap();
            prop_assert_eq!(blob.len(), pt.len() + OVERHEAD);
            prop_assert_eq!(&s.open(&aad, &blob).unwrap()[..], &pt[..]);
        }

        #[test]
        fn any_bit_flip_fails(pt in proptest::collection::vec(any::<u8>(), 1..512), pos in any::<prop::sample::Index>(), bit in 0u8..8) {
            let s = sealer(1);
            let aad = item_aad(&[7; 16], &Uuid::now_v7(), 1);
            let mut blob = s.seal(&aad, &pt).unwrap();
            let i = pos.index(blob.len());
            blob[i] ^= 1 << bit;
            prop_assert_eq!(s.open(&aad, &blob), Err(OpenError));
        }

        #[test]
        fn wrong_binding_fails(pt in proptest::collection::vec(any::<u8>(), 1..256)) {
            let s = sealer(1);
            let id = Uuid::now_v7();
            let blob = s.seal(&item_aad(&[7; 16], &id, 1), &pt).unwrap();
            prop_assert!(s.open(&item_aad(&[7; 16], &id, 2), &blob).is_err());
            prop_assert!(s.open(&item_aad(&[7; 16], &Uuid::now_v7(), 1), &blob).is_err());
            prop_assert!(s.open(&item_aad(&[8; 16], &id, 1), &blob).is_err());
            prop_assert!(sealer(1).open(&item_aad(&[7; 16], &id, 1), &blob).is_err());
        }

        #[test]
        fn truncation_fails(pt in proptest::collection::vec(any::<u8>(), 1..256), cut in 1usize..64) {
            let s = sealer(1);
            let aad = item_aad(&[7; 16], &Uuid::now_v7(), 1);
            let blob = s.seal(&aad, &pt).unwrap();
            let cut = cut.min(blob.len());
            prop_assert!(s.open(&aad, &blob[..blob.len() - cut]).is_err());
        }
    }
}
