//! The BM25 index's dictionaries: tokens to terms (short tokens stored
//! inline for fast probes) and Snowball English stems to terms.

use std::borrow::Cow;

use rust_stemmers::{Algorithm, Stemmer};
use rustc_hash::FxHashMap;

/// A token of at most 22 bytes stored inline, so a hash probe compares it
/// in place instead of following a pointer.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct ShortKey([u64; 3]);

const SHORT_MAX: usize = 22;

impl ShortKey {
    fn new(s: &str) -> Option<ShortKey> {
        let b = s.as_bytes();
        if b.len() > SHORT_MAX {
            return None;
        }
        let mut raw = [0u8; 24];
        raw[..b.len()].copy_from_slice(b);
        raw[23] = b.len() as u8;
        let w = |i: usize| u64::from_ne_bytes(raw[i * 8..i * 8 + 8].try_into().unwrap_or_default());
        Some(ShortKey([w(0), w(1), w(2)]))
    }
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
        }
    }

    /// The term of a token already seen.
    pub(super) fn lookup(&self, token: &str) -> Option<u32> {
        match ShortKey::new(token) {
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
        if let Some(k) = ShortKey::new(token) {
            self.short.insert(k, t);
        }
        t
    }
}
