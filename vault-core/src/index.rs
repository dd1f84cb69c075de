//! The search index: an inverted index that exists only in memory.
//!
//! Built when the vault is unlocked, kept current on every write, dropped on
//! lock; nothing of it is ever written anywhere. It replaces the SQLite FTS5
//! index of the design (see docs/ARCHITECTURE.md): FTS5 took 7 s to index
//! 100k items, this takes a fraction of a second.
//!
//! # Format
//! - Tokens are runs of Unicode letters and digits, lowercased, at most 64
//!   bytes. Each token maps to a term: its Snowball English (Porter 2) stem.
//! - A document has three fields weighted title 4, tags 2, body 1; a term's
//!   frequency in a document is the weighted sum over fields (BM25F-style),
//!   and so is the document's length.
//! - Ranking is BM25 (k1 = 1.2, b = 0.75). Removed documents are tombstoned
//!   and still count in the collection statistics until the postings are
//!   compacted, which happens when tombstones outnumber live documents.
//! - A query word ending in `*` matches every token starting with it.

use std::borrow::Cow;

use std::sync::{Arc, Mutex};

use rust_stemmers::{Algorithm, Stemmer};
use rustc_hash::FxHashMap;

const K1: f32 = 1.2;
const B: f32 = 0.75;
const MAX_TOKEN_BYTES: usize = 64;
/// Field weights: title, tags, body.
const W_TITLE: u16 = 4;
const W_TAGS: u16 = 2;
const W_BODY: u16 = 1;

/// Text of one item to index.
pub struct Doc<'a> {
    /// The item's rowid in the store.
    pub rowid: i64,
    /// Title, or empty.
    pub title: &'a str,
    /// Body.
    pub body: &'a str,
    /// Tags joined by spaces.
    pub tags: &'a str,
}

/// How the words of a query combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every word must match.
    All,
    /// Any word may match.
    Any,
}

type SortedTokens = Vec<(Box<str>, u32)>;

#[derive(Default)]
struct Postings {
    docs: Vec<u32>,
    tfs: Vec<u16>,
}

struct DocEntry {
    rowid: i64,
    len: u32,
    alive: bool,
}

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
struct Dict {
    stemmer: Stemmer,
    /// Short lowercased token -> term id.
    short: FxHashMap<ShortKey, u32>,
    /// Lowercased token -> term id (every token; used for long ones and prefixes).
    tokens: FxHashMap<Box<str>, u32>,
    /// Stem -> term id.
    stems: FxHashMap<Box<str>, u32>,
    /// Number of terms.
    terms: u32,
}

impl Dict {
    fn lookup(&self, token: &str) -> Option<u32> {
        match ShortKey::new(token) {
            Some(k) => self.short.get(&k).copied(),
            None => self.tokens.get(token).copied(),
        }
    }

    fn term_for(&mut self, token: &str) -> u32 {
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

/// An in-memory inverted index with BM25 ranking.
pub struct Index {
    dict: Dict,
    postings: Vec<Postings>,
    docs: Vec<DocEntry>,
    by_rowid: FxHashMap<i64, u32>,
    total_len: u64,
    /// Sorted tokens, for prefix queries; rebuilt when tokens were added
    /// since (the token set only grows).
    sorted_tokens: Mutex<Option<Arc<SortedTokens>>>,
    /// Per-term scratch: the batch-local document that last saw the term,
    /// and its weighted frequency there.
    last_seen: Vec<u32>,
    tf_acc: Vec<u32>,
    token_buf: String,
}

impl Default for Index {
    fn default() -> Self {
        Self::new()
    }
}

/// Call `f` with every token of `text`, lowercased. Runs of lowercase
/// ASCII letters and digits are passed straight from `text`; other tokens
/// are lowercased into `buf`.
fn for_each_token(text: &str, buf: &mut String, mut f: impl FnMut(&str)) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // Skip separators quickly.
        let b = bytes[i];
        if b < 0x80 && !b.is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        let mut simple = true;
        while i < bytes.len() {
            let b = bytes[i];
            if b < 0x80 {
                if b.is_ascii_lowercase() || b.is_ascii_digit() {
                    i += 1;
                } else if b.is_ascii_uppercase() {
                    simple = false;
                    i += 1;
                } else {
                    break;
                }
            } else {
                let c = text[i..].chars().next().unwrap_or(' ');
                if !c.is_alphanumeric() {
                    break;
                }
                simple = false;
                i += c.len_utf8();
            }
        }
        if i == start {
            // A non-ASCII separator.
            i += text[i..].chars().next().map_or(1, char::len_utf8);
            continue;
        }
        let token = &text[start..i];
        if simple {
            if token.len() <= MAX_TOKEN_BYTES {
                f(token);
            }
        } else {
            buf.clear();
            for c in token.chars() {
                buf.extend(c.to_lowercase());
            }
            if buf.len() <= MAX_TOKEN_BYTES {
                f(buf);
            }
        }
    }
}

impl Index {
    /// A new, empty index.
    pub fn new() -> Index {
        Index {
            dict: Dict {
                stemmer: Stemmer::create(Algorithm::English),
                short: FxHashMap::default(),
                tokens: FxHashMap::default(),
                stems: FxHashMap::default(),
                terms: 0,
            },
            postings: Vec::new(),
            docs: Vec::new(),
            by_rowid: FxHashMap::default(),
            total_len: 0,
            sorted_tokens: Mutex::new(None),
            last_seen: Vec::new(),
            tf_acc: Vec::new(),
            token_buf: String::new(),
        }
    }

    /// Number of live documents.
    pub fn len(&self) -> usize {
        self.by_rowid.len()
    }

    /// True when no document is indexed.
    pub fn is_empty(&self) -> bool {
        self.by_rowid.is_empty()
    }

    /// Add (or replace) a document.
    pub fn insert(&mut self, doc: &Doc<'_>) {
        self.insert_many(std::slice::from_ref(doc));
    }

    /// Add (or replace) many documents. Postings are appended a term at a
    /// time (a counting sort over the batch) rather than a document at a
    /// time, so each posting list is touched once per batch.
    pub fn insert_many(&mut self, docs: &[Doc<'_>]) {
        for d in docs {
            self.remove(d.rowid);
        }
        let mut buf = std::mem::take(&mut self.token_buf);
        let mut last_seen = std::mem::take(&mut self.last_seen);
        let mut tf_acc = std::mem::take(&mut self.tf_acc);
        // (term, batch-local doc, tf) in document order.
        let mut triples: Vec<(u32, u32, u16)> = Vec::with_capacity(docs.len() * 64);
        let mut doc_terms: Vec<u32> = Vec::with_capacity(256);
        let first_idx = self.docs.len() as u32;
        for (local, doc) in docs.iter().enumerate() {
            let local = local as u32;
            doc_terms.clear();
            let dict = &mut self.dict;
            for (text, w) in [(doc.title, W_TITLE), (doc.tags, W_TAGS), (doc.body, W_BODY)] {
                for_each_token(text, &mut buf, |tok| {
                    let t = dict.term_for(tok) as usize;
                    if t >= last_seen.len() {
                        last_seen.resize(t + 1, u32::MAX);
                        tf_acc.resize(t + 1, 0);
                    }
                    if last_seen[t] != local {
                        last_seen[t] = local;
                        tf_acc[t] = 0;
                        doc_terms.push(t as u32);
                    }
                    tf_acc[t] += u32::from(w);
                });
            }
            let mut len: u32 = 0;
            for &t in &doc_terms {
                let tf = tf_acc[t as usize];
                len += tf;
                triples.push((t, local, tf.min(u32::from(u16::MAX)) as u16));
            }
            let idx = first_idx + local;
            self.docs.push(DocEntry {
                rowid: doc.rowid,
                len,
                alive: true,
            });
            self.by_rowid.insert(doc.rowid, idx);
            self.total_len += u64::from(len);
        }
        // The batch-local ids restart at 0 next batch: forget them.
        for &(t, _, _) in &triples {
            last_seen[t as usize] = u32::MAX;
        }
        let terms = self.dict.terms as usize;
        if self.postings.len() < terms {
            self.postings.resize_with(terms, Postings::default);
        }
        if docs.len() < 16 {
            // Few documents: append directly (no sort buffers).
            for &(t, d, tf) in &triples {
                let p = &mut self.postings[t as usize];
                p.docs.push(first_idx + d);
                p.tfs.push(tf);
            }
            self.token_buf = buf;
            self.last_seen = last_seen;
            self.tf_acc = tf_acc;
            return;
        }
        // Counting sort by term into one small, cache-resident buffer.
        let mut starts: Vec<u32> = vec![0; terms + 1];
        for &(t, _, _) in &triples {
            starts[t as usize + 1] += 1;
        }
        for k in 0..terms {
            starts[k + 1] += starts[k];
        }
        let mut cursor = starts.clone();
        let mut sorted: Vec<(u32, u16)> = vec![(0, 0); triples.len()];
        for &(t, d, tf) in &triples {
            let c = &mut cursor[t as usize];
            sorted[*c as usize] = (first_idx + d, tf);
            *c += 1;
        }
        for t in 0..terms {
            let (a, b) = (starts[t] as usize, starts[t + 1] as usize);
            if a < b {
                let p = &mut self.postings[t];
                p.docs.extend(sorted[a..b].iter().map(|x| x.0));
                p.tfs.extend(sorted[a..b].iter().map(|x| x.1));
            }
        }
        self.token_buf = buf;
        self.last_seen = last_seen;
        self.tf_acc = tf_acc;
    }

    /// Remove a document (no-op if absent).
    pub fn remove(&mut self, rowid: i64) {
        if let Some(idx) = self.by_rowid.remove(&rowid) {
            let d = &mut self.docs[idx as usize];
            d.alive = false;
            self.total_len -= u64::from(d.len);
            let dead = self.docs.len() - self.by_rowid.len();
            if dead > 1024 && dead > self.by_rowid.len() {
                self.compact();
            }
        }
    }

    /// Drop tombstoned documents from every posting list.
    fn compact(&mut self) {
        let mut remap = vec![u32::MAX; self.docs.len()];
        let mut docs = Vec::with_capacity(self.by_rowid.len());
        for (old, d) in self.docs.drain(..).enumerate() {
            if d.alive {
                remap[old] = docs.len() as u32;
                docs.push(d);
            }
        }
        self.docs = docs;
        for p in &mut self.postings {
            let mut w = 0;
            for r in 0..p.docs.len() {
                let n = remap[p.docs[r] as usize];
                if n != u32::MAX {
                    p.docs[w] = n;
                    p.tfs[w] = p.tfs[r];
                    w += 1;
                }
            }
            p.docs.truncate(w);
            p.tfs.truncate(w);
            p.docs.shrink_to_fit();
            p.tfs.shrink_to_fit();
        }
        self.by_rowid = self
            .docs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.rowid, i as u32))
            .collect();
    }

    /// Term ids a query word stands for (several for a prefix).
    fn resolve(&self, word: &str, prefix: bool) -> Vec<u32> {
        if prefix {
            let sorted = {
                let mut cache = self.sorted_tokens.lock().unwrap_or_else(|p| p.into_inner());
                match cache.as_ref() {
                    Some(c) if c.len() == self.dict.tokens.len() => c.clone(),
                    _ => {
                        let mut v: SortedTokens = self
                            .dict
                            .tokens
                            .iter()
                            .map(|(k, v)| (k.clone(), *v))
                            .collect();
                        v.sort_unstable();
                        let v = Arc::new(v);
                        *cache = Some(v.clone());
                        v
                    }
                }
            };
            let start = sorted.partition_point(|(k, _)| &**k < word);
            let mut ids: Vec<u32> = sorted[start..]
                .iter()
                .take_while(|(k, _)| k.starts_with(word))
                .map(|(_, t)| *t)
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        } else if let Some(t) = self.dict.lookup(word) {
            vec![t]
        } else {
            let stem = self.dict.stemmer.stem(word);
            self.dict
                .stems
                .get(&*stem)
                .map(|&t| vec![t])
                .unwrap_or_default()
        }
    }

    fn idf(&self, term: u32) -> f32 {
        let n = self.docs.len() as f32;
        let df = self.postings[term as usize].docs.len() as f32;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    fn norm(&self, tf: u16, doc: u32, avgdl: f32) -> f32 {
        let tf = f32::from(tf);
        let dl = self.docs[doc as usize].len as f32;
        tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * dl / avgdl))
    }

    /// Rowids matching the query words, best first, with BM25 scores.
    /// `keep` filters rows; at most `limit` are returned.
    pub fn search(
        &self,
        words: &[(String, bool)],
        mode: Mode,
        limit: usize,
        mut keep: impl FnMut(i64) -> bool,
    ) -> Vec<(i64, f64)> {
        if limit == 0 || words.is_empty() || self.is_empty() {
            return Vec::new();
        }
        let clauses: Vec<Vec<u32>> = words.iter().map(|(w, p)| self.resolve(w, *p)).collect();
        let avgdl = (self.total_len as f32 / self.len() as f32).max(1.0);
        let mut scored: Vec<(f32, u32)> = match mode {
            Mode::All => {
                if clauses.iter().any(Vec::is_empty) {
                    return Vec::new();
                }
                self.score_all(&clauses, avgdl)
            }
            Mode::Any => self.score_any(&clauses, avgdl),
        };
        scored.retain(|(_, d)| self.docs[*d as usize].alive);
        let by_score = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1));
        let mut out = Vec::with_capacity(limit.min(256));
        // Rank a window at a time so `keep` runs on few rows.
        let mut from = 0;
        let mut window = limit.saturating_mul(4).max(32);
        while from < scored.len() && out.len() < limit {
            let rest = &mut scored[from..];
            let w = window.min(rest.len());
            if w < rest.len() {
                rest.select_nth_unstable_by(w - 1, by_score);
            }
            rest[..w].sort_unstable_by(by_score);
            for &(s, d) in &rest[..w] {
                let rowid = self.docs[d as usize].rowid;
                if keep(rowid) {
                    out.push((rowid, f64::from(s)));
                    if out.len() == limit {
                        break;
                    }
                }
            }
            from += w;
            window = window.saturating_mul(4);
        }
        out
    }

    /// Documents holding a term of every clause, scored.
    fn score_all(&self, clauses: &[Vec<u32>], avgdl: f32) -> Vec<(f32, u32)> {
        let size = |c: &Vec<u32>| {
            c.iter()
                .map(|&t| self.postings[t as usize].docs.len())
                .sum::<usize>()
        };
        let mut order: Vec<&Vec<u32>> = clauses.iter().collect();
        order.sort_by_key(|c| size(c));
        let mut cand = self.score_clause(order[0], avgdl);
        for clause in &order[1..] {
            cand.retain_mut(|(score, doc)| {
                let mut hit = false;
                for &t in clause.iter() {
                    let p = &self.postings[t as usize];
                    if let Ok(i) = p.docs.binary_search(doc) {
                        *score += self.idf(t) * self.norm(p.tfs[i], *doc, avgdl);
                        hit = true;
                    }
                }
                hit
            });
            if cand.is_empty() {
                break;
            }
        }
        cand
    }

    /// Every document of one clause with its score for that clause.
    fn score_clause(&self, clause: &[u32], avgdl: f32) -> Vec<(f32, u32)> {
        if let [t] = clause {
            let idf = self.idf(*t);
            let p = &self.postings[*t as usize];
            return p
                .docs
                .iter()
                .zip(&p.tfs)
                .map(|(&d, &tf)| (idf * self.norm(tf, d, avgdl), d))
                .collect();
        }
        self.score_any(&[clause.to_vec()], avgdl)
    }

    /// Documents holding any term, scored by the sum over terms.
    fn score_any(&self, clauses: &[Vec<u32>], avgdl: f32) -> Vec<(f32, u32)> {
        let mut acc = vec![0f32; self.docs.len()];
        let mut touched = Vec::new();
        let mut terms: Vec<u32> = clauses.iter().flatten().copied().collect();
        terms.sort_unstable();
        terms.dedup();
        for t in terms {
            let idf = self.idf(t);
            let p = &self.postings[t as usize];
            for (&d, &tf) in p.docs.iter().zip(&p.tfs) {
                let slot = &mut acc[d as usize];
                if *slot == 0.0 {
                    touched.push(d);
                }
                *slot += idf * self.norm(tf, d, avgdl);
            }
        }
        touched.into_iter().map(|d| (acc[d as usize], d)).collect()
    }
}

/// The words of a user query: runs of letters and digits, lowercased; a
/// trailing `*` on a word asks for a prefix match.
pub fn query_terms(query: &str) -> Vec<(String, bool)> {
    let mut terms = Vec::new();
    let mut cur = String::new();
    for c in query.chars() {
        if c.is_alphanumeric() {
            cur.extend(c.to_lowercase());
            continue;
        }
        if !cur.is_empty() {
            terms.push((std::mem::take(&mut cur), c == '*'));
        }
    }
    if !cur.is_empty() {
        terms.push((cur, false));
    }
    terms.retain(|(t, _)| t.len() <= MAX_TOKEN_BYTES);
    terms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Vec<(String, bool)> {
        query_terms(s)
    }

    fn sample() -> Index {
        let mut ix = Index::new();
        for d in [
            Doc {
                rowid: 1,
                title: "Running shoes",
                body: "I run marathons on weekends",
                tags: "sport",
            },
            Doc {
                rowid: 2,
                title: "",
                body: "Coffee: oat flat white, no sugar",
                tags: "food",
            },
            Doc {
                rowid: 3,
                title: "Acme project",
                body: "Quarterly planning for acme; café meetings",
                tags: "work",
            },
        ] {
            ix.insert(&d);
        }
        ix
    }

    #[test]
    fn terms() {
        assert_eq!(
            q("Rust's async* \"x\""),
            vec![
                ("rust".into(), false),
                ("s".into(), false),
                ("async".into(), true),
                ("x".into(), false)
            ]
        );
        assert!(q("  ** -- ").is_empty());
    }

    #[test]
    fn stemming_prefix_and_filter() {
        let ix = sample();
        let hits = ix.search(&q("running"), Mode::All, 10, |_| true);
        assert_eq!(
            hits.first().map(|h| h.0),
            Some(1),
            "run/running share a stem"
        );
        assert_eq!(ix.search(&q("ac*"), Mode::All, 10, |_| true).len(), 1);
        assert_eq!(ix.search(&q("CAFÉ"), Mode::All, 10, |_| true).len(), 1);
        assert!(
            ix.search(&q("coffee"), Mode::All, 10, |r| r != 2)
                .is_empty()
        );
        assert!(
            ix.search(&q("coffee marathon"), Mode::All, 10, |_| true)
                .is_empty()
        );
        assert_eq!(
            ix.search(&q("coffee marathon"), Mode::Any, 10, |_| true)
                .len(),
            2
        );
    }

    #[test]
    fn title_outranks_body() {
        let mut ix = Index::new();
        ix.insert(&Doc {
            rowid: 1,
            title: "",
            body: "notes about the garden and more words here",
            tags: "",
        });
        ix.insert(&Doc {
            rowid: 2,
            title: "garden",
            body: "notes and more words here too",
            tags: "",
        });
        let hits = ix.search(&q("garden"), Mode::All, 10, |_| true);
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), vec![2, 1]);
    }

    #[test]
    fn remove_replace_and_compact() {
        let mut ix = sample();
        ix.remove(3);
        assert!(ix.search(&q("acme"), Mode::All, 10, |_| true).is_empty());
        ix.insert(&Doc {
            rowid: 2,
            title: "",
            body: "tea now",
            tags: "",
        });
        assert!(ix.search(&q("coffee"), Mode::All, 10, |_| true).is_empty());
        assert_eq!(ix.search(&q("tea"), Mode::All, 10, |_| true).len(), 1);
        for i in 10..3000 {
            ix.insert(&Doc {
                rowid: i,
                title: "",
                body: "filler words",
                tags: "",
            });
        }
        for i in 10..3000 {
            ix.remove(i);
        }
        assert_eq!(ix.len(), 2);
        assert!(ix.docs.len() < 1100, "tombstones were compacted");
        assert_eq!(ix.search(&q("tea"), Mode::All, 10, |_| true).len(), 1);
        assert_eq!(ix.search(&q("marathon"), Mode::All, 10, |_| true).len(), 1);
    }

    #[test]
    fn huge_limits_do_not_panic() {
        let ix = sample();
        assert_eq!(
            ix.search(&q("acme"), Mode::All, usize::MAX, |_| true).len(),
            1
        );
        assert_eq!(
            ix.search(&q("coffee running"), Mode::Any, usize::MAX, |_| false)
                .len(),
            0
        );
    }

    #[test]
    fn limit_and_keep_windows() {
        let mut ix = Index::new();
        for i in 0..500 {
            ix.insert(&Doc {
                rowid: i,
                title: "",
                body: "common word",
                tags: "",
            });
        }
        let hits = ix.search(&q("common"), Mode::All, 5, |r| r % 100 == 7);
        assert_eq!(hits.len(), 5);
        assert!(hits.iter().all(|h| h.0 % 100 == 7));
    }
}
