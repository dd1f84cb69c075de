//! Target `bundle`: what `ctxvault import` does with a bundle file. The
//! bytes go through the one age unwrap path (`keys::age_unwrap`) with the
//! fixture identity, and with the fixture passphrase when every scrypt
//! stanza asks for a work factor of at most [`MAX_FUZZ_WORK_FACTOR`]; the
//! plaintext, and the input itself (the plain JSONL export), go to
//! `Contents::from_ndjson`.
//!
//! Invariant checked: contents that read write back to text that reads as
//! the same contents.

use std::io::Read;

use chrono::Utc;
use vault_core::bundle::Contents;
use vault_core::keys::{self, Unlock};

use crate::fixture;

/// Work factors above this are skipped on the passphrase path: the unwrap
/// path accepts up to `WorkFactor::MAX` (2^22, seconds per input) by
/// design, which would only make the fuzzer slow.
pub const MAX_FUZZ_WORK_FACTOR: u8 = 12;

/// Words of the bundle and age formats.
pub const DICT: &[&[u8]] = &[
    b"{\"format\":\"ctxvault-bundle\",\"version\":1,\"created_at\":\"2026-11-22T10:00:00Z\",\"items\":1}\n",
    b"\"type\":\"item\"",
    b"\"type\":\"client\"",
    b"\"type\":\"grant\"",
    b"\"type\":\"deny\"",
    b"\"items\":",
    b"\"clients\":",
    b"\"grants\":",
    b"\"denies\":",
    b"\"namespace\":\"work/acme\"",
    b"\"tags\":[\"a\",\"b\"]",
    b"\"sensitivity\":\"secret\"",
    b"\"source\":\"client:x\"",
    b"\"actions\":[\"read\",\"propose\",\"write\"]",
    b"\"scope\":\"**\"",
    b"\"scope\":\"work/*/x\"",
    b"\"redact\":[\"email\",\"phone\",\"url\",\"ip\",\"card\"]",
    b"\"expires\":null",
    b"\"max_sensitivity\":\"private\"",
    b"\"version\":",
    b"\"id\":\"0192f0c1-7c5e-7d3a-9a4e-3b1f2c4d5e6f\"",
    b"age-encryption.org/v1\n",
    b"-> X25519 ",
    b"-> scrypt ",
    b"\n--- ",
    b"-----BEGIN AGE ENCRYPTED FILE-----\n",
    b"-----END AGE ENCRYPTED FILE-----\n",
];

/// True when the passphrase path costs little: every scrypt stanza in the
/// (de-armored) header names a work factor of at most
/// [`MAX_FUZZ_WORK_FACTOR`]. Anything unclear counts as costly.
fn cheap_scrypt(data: &[u8]) -> bool {
    let mut plain = Vec::new();
    // A read that fails part way leaves what it read; age would stop there too.
    let _ = age::armor::ArmoredReader::new(data)
        .take(64 * 1024)
        .read_to_end(&mut plain);
    plain.split(|b| *b == b'\n').all(|line| {
        let Some(args) = line.strip_prefix(b"-> ") else {
            return true;
        };
        let mut args = args.split(|b| *b == b' ');
        if !args
            .next()
            .is_some_and(|tag| tag.eq_ignore_ascii_case(b"scrypt"))
        {
            return true;
        }
        args.nth(1)
            .and_then(|wf| std::str::from_utf8(wf).ok())
            .and_then(|wf| wf.parse::<u8>().ok())
            .is_some_and(|wf| wf <= MAX_FUZZ_WORK_FACTOR)
    })
}

fn contents(text: &[u8]) {
    let Ok(c) = Contents::from_ndjson(text) else {
        return;
    };
    let written = c.to_ndjson(Utc::now());
    match Contents::from_ndjson(&written) {
        Ok(again) => assert!(
            again == c,
            "a bundle read back differs from what was written"
        ),
        Err(e) => panic!("a bundle written from read contents does not read: {e}"),
    }
    for mut item in c.items {
        let _ = item.validate();
    }
}

/// Run the target on one input.
pub fn run(data: &[u8]) {
    contents(data);
    let by_identity = Unlock::Identities(vec![fixture::identity()]);
    if let Ok(plain) = keys::age_unwrap(data, &by_identity) {
        contents(&plain);
    }
    if cheap_scrypt(data) {
        let by_passphrase = Unlock::Passphrase(fixture::secret_passphrase());
        if let Ok(plain) = keys::age_unwrap(data, &by_passphrase) {
            contents(&plain);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costly_work_factors_are_skipped() {
        assert!(cheap_scrypt(
            b"age-encryption.org/v1\n-> scrypt c2FsdA 10\nAAAA\n--- x\n"
        ));
        assert!(!cheap_scrypt(
            b"age-encryption.org/v1\n-> scrypt c2FsdA 18\nAAAA\n--- x\n"
        ));
        assert!(!cheap_scrypt(
            b"age-encryption.org/v1\n-> Scrypt c2FsdA 22\n"
        ));
        assert!(!cheap_scrypt(b"age-encryption.org/v1\n-> scrypt c2FsdA\n"));
        assert!(cheap_scrypt(b"age-encryption.org/v1\n-> X25519 abc\n"));
    }
}
