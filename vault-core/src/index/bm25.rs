//! The BM25 index: an in-memory inverted index, one [`SearchIndex`] engine.
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
//! - Ranking is BM25 (k1 = 1.2, b = 0.75). Removed documents are tombstoned;
//!   for an unrestricted search they still count in the document
//!   frequencies until the postings are compacted (when tombstones outnumber
//!   live documents).
//! - Every document belongs to a *group* (for the vault: one namespace,
//!   tag set and sensitivity). A search names a *universe*: every document,
//!   a set of groups, or a registered view (a compressed bitmap of document
//!   slots with its document count and total length, kept current on every
//!   insert and removal). The collection statistics (N, document
//!   frequencies, average length) are computed over live documents of that
//!   universe only; documents outside it cannot change a score or an order.
//!   It also says which groups of the universe may be returned.
//! - A query word ending in `*` matches every token starting with it.

use std::sync::{Arc, Mutex};

use roaring::RoaringBitmap;
use rustc_hash::FxHashMap;

use super::dict::Dict;
use super::text::for_each_token;
use super::{Doc, Query, Ranked, SearchIndex, View, ViewId};

mod rank;

const K1: f32 = 1.2;
const B: f32 = 0.75;
/// Field weights: title, tags, body.
const W_TITLE: u16 = 4;
const W_TAGS: u16 = 2;
const W_BODY: u16 = 1;

/// The group of a removed document.
const DEAD: u32 = u32::MAX;

fn in_set(set: &[bool], group: u32) -> bool {
    set.get(group as usize).copied().unwrap_or(false)
}

/// Live documents and their total length, per group.
#[derive(Clone, Copy, Debug, Default)]
struct GroupStat {
    live: u32,
    len: u64,
}

/// The live documents of one registered view: their slots, how many, and
/// their total length.
#[derive(Default)]
struct ViewDocs {
    docs: RoaringBitmap,
    n: u64,
    len: u64,
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
    group: u32,
    alive: bool,
}

/// An in-memory inverted index with BM25 ranking.
pub struct Index {
    dict: Dict,
    postings: Vec<Postings>,
    docs: Vec<DocEntry>,
    by_rowid: FxHashMap<i64, u32>,
    /// Each document's group, or [`DEAD`] once removed: one compact array
    /// for the hot loops over postings.
    doc_group: Vec<u32>,
    total_len: u64,
    groups: Vec<GroupStat>,
    /// Registered views, by [`ViewId`].
    views: Vec<Option<ViewDocs>>,
    /// Sorted tokens, for prefix queries; rebuilt when tokens were added
    /// since (the token set only grows).
    sorted_tokens: Mutex<Option<Arc<SortedTokens>>>,
    /// Per-term scratch: the batch-local document that last saw the term,
    /// and its weighted frequency there.
    last_seen: Vec<u32>,
    tf_acc: Vec<u32>,
    token_buf: String,
}

impl Drop for Index {
    /// Wipe the cached sorted tokens and the scratch buffer (the
    /// dictionaries wipe themselves).
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.token_buf.zeroize();
        let cached = self
            .sorted_tokens
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(Ok(tokens)) = cached.map(Arc::try_unwrap) {
            for (t, _) in tokens {
                String::from(t).zeroize();
            }
        }
    }
}

impl Default for Index {
    fn default() -> Self {
        Self::new()
    }
}

impl Index {
    /// A new, empty index.
    pub fn new() -> Index {
        Index {
            dict: Dict::new(),
            postings: Vec::new(),
            docs: Vec::new(),
            by_rowid: FxHashMap::default(),
            doc_group: Vec::new(),
            total_len: 0,
            groups: Vec::new(),
            views: Vec::new(),
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
                group: doc.group,
                alive: true,
            });
            self.doc_group.push(doc.group);
            self.by_rowid.insert(doc.rowid, idx);
            self.total_len += u64::from(len);
            let g = doc.group as usize;
            if self.groups.len() <= g {
                self.groups.resize(g + 1, GroupStat::default());
            }
            self.groups[g].live += 1;
            self.groups[g].len += u64::from(len);
            for &v in doc.views {
                if let Some(Some(view)) = self.views.get_mut(v as usize) {
                    view.docs.insert(idx);
                    view.n += 1;
                    view.len += u64::from(len);
                }
            }
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
            self.doc_group[idx as usize] = DEAD;
            self.total_len -= u64::from(d.len);
            let g = &mut self.groups[d.group as usize];
            g.live -= 1;
            g.len -= u64::from(d.len);
            for view in self.views.iter_mut().flatten() {
                if view.docs.remove(idx) {
                    view.n -= 1;
                    view.len -= u64::from(d.len);
                }
            }
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
        self.doc_group = self.docs.iter().map(|d| d.group).collect();
        for view in self.views.iter_mut().flatten() {
            // Slots keep their order, so the remapped set is still sorted.
            let kept = view.docs.iter().map(|d| remap[d as usize]);
            view.docs = RoaringBitmap::from_sorted_iter(kept.filter(|&d| d != u32::MAX))
                .unwrap_or_default();
        }
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
            // In token order, not id order: ids depend on which item first
            // used a token, and the order terms are summed in must not
            // depend on any item outside the search's universe.
            dedup_in_order(&mut ids);
            ids
        } else if let Some(t) = self.dict.lookup(word) {
            vec![t]
        } else {
            self.dict.by_stem(word).into_iter().collect()
        }
    }
}

/// Drop repeated ids, keeping the first of each in place.
fn dedup_in_order(ids: &mut Vec<u32>) {
    let mut seen = rustc_hash::FxHashSet::default();
    ids.retain(|t| seen.insert(*t));
}

impl SearchIndex for Index {
    fn name(&self) -> &'static str {
        "bm25"
    }

    fn len(&self) -> usize {
        Index::len(self)
    }

    fn insert_many(&mut self, docs: &[Doc<'_>]) {
        Index::insert_many(self, docs);
    }

    fn remove(&mut self, rowid: i64) {
        Index::remove(self, rowid);
    }

    fn set_view(&mut self, view: ViewId, rowids: &mut dyn Iterator<Item = i64>) {
        let mut v = ViewDocs::default();
        for rowid in rowids {
            if let Some(&idx) = self.by_rowid.get(&rowid)
                && v.docs.insert(idx)
            {
                v.n += 1;
                v.len += u64::from(self.docs[idx as usize].len);
            }
        }
        let slot = view as usize;
        if self.views.len() <= slot {
            self.views.resize_with(slot + 1, || None);
        }
        self.views[slot] = Some(v);
    }

    fn drop_view(&mut self, view: ViewId) {
        if let Some(v) = self.views.get_mut(view as usize) {
            *v = None;
        }
    }

    fn view_len(&self, view: ViewId) -> usize {
        match self.views.get(view as usize) {
            Some(Some(v)) => v.n as usize,
            _ => 0,
        }
    }

    /// Every word must match; if no document matches all, any word may.
    fn search(&self, query: &Query<'_>, limit: usize, view: View<'_>) -> Ranked {
        let hits = Index::search(self, query.terms, Mode::All, limit, view);
        if hits.is_empty() && query.terms.len() > 1 {
            return Ranked {
                hits: Index::search(self, query.terms, Mode::Any, limit, view),
                all_words: false,
            };
        }
        Ranked {
            all_words: !hits.is_empty(),
            hits,
        }
    }
}

#[cfg(test)]
#[path = "bm25_tests.rs"]
mod tests;
