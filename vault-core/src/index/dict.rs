//! The BM25 index's dictionaries: tokens to terms (short tokens stored
//! inline for fast probes) and Snowball English stems to terms.

use std::borrow::Cow;

use rust_stemmers::{Algorithm, Stemmer};
use rustc_hash::FxHashMap;

/// A token of at most 22 bytes stored inline, so a hash probe compares it
/// in place instead of following a pointer. Stored masked with the
/// dictionary's random mask: a hash table's freed memory keeps bit copies
/// of its keys, which then hold no text.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct ShortKey([u64; 3]);

const SHORT_MAX: usize = 22;

impl ShortKey {
    fn new(s: &str, mask: &[u64; 3]) -> Option<ShortKey> {
        let b = s.as_bytes();
        if b.len() > SHORT_MAX {
            return None;
        }
        let mut raw = [0u8; 24];
        raw[..b.len()].copy_from_slice(b);
        raw[23] = b.len() as u8;
        let w = |i: usize| u64::from_ne_bytes(raw[i * 8..i * 8 + 8].try_into().unwrap_or_default());
        let key = ShortKey([w(0) ^ mask[0], w(1) ^ mask[1], w(2) ^ mask[2]]);
        zeroize::Zeroize::zeroize(&mut raw);
        Some(key)
    }
}

/// A random mask for the short keys (zero if the system has no randomness,
/// which only weakens the wipe).
fn random_mask() -> [u64; 3] {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 24];
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    let w = |i: usize| u64::from_ne_bytes(b[i * 8..i * 8 + 8].try_into().unwrap_or_default());
    let mask = [w(0), w(1), w(2)];
    zeroize::Zeroize::zeroize(&mut b);
    mask
}

/// Token and stem dictionaries.
pub(super) struct Dict {
    stemmer: Stemmer,
    /// Short lowercased token -> term id.
    short: FxHashMap<ShortKey, u32>,
    /// Lowercased token -> term id (every token; used for long ones and prefixes).
    pub(super) tokens: FxHashMap<Box<str>, u32>,
    /// Stem -> term id.
    stems: FxHashMap<Box<str>, u32>,
    /// Number of terms.
    pub(super) terms: u32,
    /// Masks the inline short keys.
    mask: [u64; 3],
}

impl Drop for Dict {
    /// Wipe every token and stem: the index must not leave the vault's
    /// words in freed memory after a lock.
    fn drop(&mut self) {
        use zeroize::Zeroize;
        for (k, _) in self.tokens.drain().chain(self.stems.drain()) {
            String::from(k).zeroize();
        }
        self.mask.zeroize();
    }
}

impl Dict {
    /// Empty dictionaries.
    pub(super) fn new() -> Dict {
        Dict {
            stemmer: Stemmer::create(Algorithm::English),
            short: FxHashMap::default(),
            tokens: FxHashMap::default(),
            stems: FxHashMap::default(),
            terms: 0,
            mask: random_mask(),
        }
    }

    /// The term of a token already seen.
    pub(super) fn lookup(&self, token: &str) -> Option<u32> {
        match ShortKey::new(token, &self.mask) {
            Some(k) => self.short.get(&k).copied(),
            None => self.tokens.get(token).copied(),
        }
    }

    /// The term a word stands for through its stem (a word not seen as a token).
    pub(super) fn by_stem(&self, word: &str) -> Option<u32> {
        self.stems.get(&*self.stemmer.stem(word)).copied()
    }

    /// The term of a token, made (from its stem) if new.
    pub(super) fn term_for(&mut self, token: &str) -> u32 {
        if let Some(t) = self.lookup(token) {
            return t;
        }
        let stem: Cow<str> = self.stemmer.stem(token);
        let next = self.terms;
        let t = *self.stems.entry(stem.into()).or_insert(next);
        if t == next {
            self.terms += 1;
        }
        self.tokens.insert(token.into(), t);
        if let Some(k) = ShortKey::new(token, &self.mask) {
            self.short.insert(k, t);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Two short tokens share a key exactly when they are equal (the
        /// length byte tells "a" from "a\0").
        #[test]
        fn short_keys_tell_tokens_apart(a in "[a-z\\x00é]{0,22}", b in "[a-z\\x00é]{0,22}") {
            let mask = random_mask();
            let (ka, kb) = (ShortKey::new(&a, &mask), ShortKey::new(&b, &mask));
            if a.len() <= SHORT_MAX && b.len() <= SHORT_MAX {
                prop_assert_eq!(ka.is_some_and(|x| Some(x) == kb), a == b);
            } else {
                prop_assert!(ka.is_none() || kb.is_none());
            }
        }

        /// A dictionary gives a token the same term however often it is seen.
        #[test]
        fn terms_are_stable(tokens in proptest::collection::vec("[a-z]{1,30}", 1..40)) {
            let mut d = Dict::new();
            let first: Vec<u32> = tokens.iter().map(|t| d.term_for(t)).collect();
            let again: Vec<Option<u32>> = tokens.iter().map(|t| d.lookup(t)).collect();
            prop_assert_eq!(again, first.into_iter().map(Some).collect::<Vec<_>>());
        }
    }
}
