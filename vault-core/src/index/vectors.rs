//! Exact nearest neighbours over item vectors: the semantic engine behind
//! the index seam.
//!
//! # Format
//! Vectors are held as 8-bit integers with one scale each (the largest
//! magnitude maps to 127): a quarter of the memory of single precision, and
//! an integer dot product the compiler vectorises. The query is quantised
//! the same way; a score is the scaled integer dot product, within about
//! 0.01 of the exact cosine.
//!
//! # Invariants
//! - Vectors are unit length (the embedder normalises them), so the dot
//!   product is the cosine similarity. A score depends on the query and the
//!   one document only: documents outside a search's view cannot change a
//!   score, an order or a count.
//! - Every live document has one slot (its group, its vector); removed
//!   slots are reused. Registered views hold slots, like the BM25 engine's.
//! - Lives only in memory; the values are wiped when the engine is dropped.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use roaring::RoaringBitmap;
use rustc_hash::FxHashMap;
use zeroize::Zeroize;

use super::{Universe, View, ViewId};

/// The group of a free slot.
const FREE: u32 = u32::MAX;

/// Candidates above which a search splits the scan over two threads.
const PARALLEL_MIN: usize = 24_000;

/// Item vectors of one model, searched exhaustively.
pub struct Vectors {
    dim: usize,
    data: Vec<i8>,
    scales: Vec<f32>,
    rowids: Vec<i64>,
    groups: Vec<u32>,
    by_rowid: FxHashMap<i64, u32>,
    free: Vec<u32>,
    views: Vec<Option<RoaringBitmap>>,
}

impl Drop for Vectors {
    fn drop(&mut self) {
        self.data.zeroize();
        self.scales.zeroize();
    }
}

/// A scored slot, ordered so a max-heap keeps the worst on top.
#[derive(PartialEq)]
struct Scored(f32, i64);

impl Eq for Scored {}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scored {
    /// Worse is greater: lower score, then higher rowid (ties go to the
    /// older item, as in the BM25 engine).
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0).then(self.1.cmp(&other.1))
    }
}

/// `v` as 8-bit integers and the scale that maps them back.
pub fn quantize(v: &[f32]) -> (Vec<i8>, f32) {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    if max == 0.0 || !max.is_finite() {
        return (vec![0; v.len()], 0.0);
    }
    let scale = max / 127.0;
    let q = v
        .iter()
        .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8)
        .collect();
    (q, scale)
}

/// The integer dot product, in sixteen lanes the compiler vectorises.
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let mut acc = [0i32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: i32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| i32::from(*x) * i32::from(*y))
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..16 {
            acc[i] += i32::from(x[i]) * i32::from(y[i]);
        }
    }
    acc.iter().sum::<i32>() + tail
}

/// The exact dot product (the reference for the quantised one).
#[cfg(test)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..16 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

impl Vectors {
    /// An empty engine for vectors of `dim` dimensions.
    pub fn new(dim: usize) -> Vectors {
        Vectors {
            dim,
            data: Vec::new(),
            scales: Vec::new(),
            rowids: Vec::new(),
            groups: Vec::new(),
            by_rowid: FxHashMap::default(),
            free: Vec::new(),
            views: Vec::new(),
        }
    }

    /// Dimensions of the vectors.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of documents with a vector.
    pub fn len(&self) -> usize {
        self.by_rowid.len()
    }

    /// True when no document has a vector.
    pub fn is_empty(&self) -> bool {
        self.by_rowid.is_empty()
    }

    /// True when `rowid` has a vector.
    pub fn contains(&self, rowid: i64) -> bool {
        self.by_rowid.contains_key(&rowid)
    }

    /// Set the vector of document `rowid` of `group`, seen by `views`
    /// (replacing any it had). A vector of the wrong length is ignored.
    pub fn put(&mut self, rowid: i64, group: u32, views: &[ViewId], vector: &[f32]) {
        if vector.len() != self.dim {
            return;
        }
        self.remove(rowid);
        let (mut q, scale) = quantize(vector);
        let slot = match self.free.pop() {
            Some(s) => {
                let at = s as usize * self.dim;
                self.data[at..at + self.dim].copy_from_slice(&q);
                self.scales[s as usize] = scale;
                self.rowids[s as usize] = rowid;
                self.groups[s as usize] = group;
                s
            }
            None => {
                self.data.extend_from_slice(&q);
                self.scales.push(scale);
                self.rowids.push(rowid);
                self.groups.push(group);
                (self.rowids.len() - 1) as u32
            }
        };
        q.zeroize();
        self.by_rowid.insert(rowid, slot);
        for &v in views {
            if let Some(Some(view)) = self.views.get_mut(v as usize) {
                view.insert(slot);
            }
        }
    }

    /// Remove document `rowid`'s vector (absent ones are ignored).
    pub fn remove(&mut self, rowid: i64) {
        let Some(slot) = self.by_rowid.remove(&rowid) else {
            return;
        };
        let at = slot as usize * self.dim;
        self.data[at..at + self.dim].zeroize();
        self.scales[slot as usize] = 0.0;
        self.groups[slot as usize] = FREE;
        for view in self.views.iter_mut().flatten() {
            view.remove(slot);
        }
        self.free.push(slot);
    }

    /// Make `view` the documents at `rowids` that have a vector.
    pub fn set_view(&mut self, view: ViewId, rowids: &mut dyn Iterator<Item = i64>) {
        let docs: RoaringBitmap = rowids
            .filter_map(|r| self.by_rowid.get(&r).copied())
            .collect();
        let v = view as usize;
        if self.views.len() <= v {
            self.views.resize_with(v + 1, || None);
        }
        self.views[v] = Some(docs);
    }

    /// Forget a view.
    pub fn drop_view(&mut self, view: ViewId) {
        if let Some(v) = self.views.get_mut(view as usize) {
            *v = None;
        }
    }

    /// The similarity of slot `slot` to a quantised query.
    fn score(&self, slot: u32, (q, qs): (&[i8], f32)) -> f32 {
        let at = slot as usize * self.dim;
        dot_i8(q, &self.data[at..at + self.dim]) as f32 * qs * self.scales[slot as usize]
    }

    /// The `limit` documents of `view` most similar to `query` (a unit
    /// vector of this engine's dimension), best first, with their cosine
    /// similarity. Only documents that may be returned are scored.
    pub fn search(&self, query: &[f32], limit: usize, view: View<'_>) -> Vec<(i64, f64)> {
        if query.len() != self.dim || limit == 0 {
            return Vec::new();
        }
        let (mut qv, qs) = quantize(query);
        let slots: Vec<u32> = match view.universe {
            Universe::All => (0..self.rowids.len() as u32)
                .filter(|s| self.groups[*s as usize] != FREE)
                .collect(),
            Universe::Groups(set) => (0..self.rowids.len() as u32)
                .filter(|s| {
                    let g = self.groups[*s as usize];
                    g != FREE && set.get(g as usize).copied().unwrap_or(false)
                })
                .collect(),
            Universe::View(v) => match self.views.get(v as usize) {
                Some(Some(docs)) => docs.iter().collect(),
                _ => Vec::new(),
            },
        };
        let slots: Vec<u32> = match view.results {
            None => slots,
            Some(pass) => slots
                .into_iter()
                .filter(|s| pass(self.groups[*s as usize]))
                .collect(),
        };
        let scan = |part: &[u32]| {
            let mut heap = BinaryHeap::with_capacity(limit + 1);
            for &s in part {
                let score = self.score(s, (&qv, qs));
                let cand = Scored(score, self.rowids[s as usize]);
                if heap.len() < limit {
                    heap.push(cand);
                } else if heap.peek().is_some_and(|worst| cand < *worst) {
                    heap.pop();
                    heap.push(cand);
                }
            }
            heap.into_vec()
        };
        let mut found = if slots.len() >= PARALLEL_MIN {
            let (a, b) = slots.split_at(slots.len() / 2);
            std::thread::scope(|sc| {
                let other = sc.spawn(|| scan(b));
                let mut mine = scan(a);
                mine.extend(other.join().unwrap_or_default());
                mine
            })
        } else {
            scan(&slots)
        };
        qv.zeroize();
        found.sort();
        found.truncate(limit);
        found
            .into_iter()
            .map(|Scored(s, r)| (r, f64::from(s)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(seed: u64, dim: usize) -> Vec<f32> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut v: Vec<f32> = (0..dim)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 2000) as f32 / 1000.0 - 1.0
            })
            .collect();
        let n = v.iter().map(|a| a * a).sum::<f32>().sqrt();
        v.iter_mut().for_each(|a| *a /= n);
        v
    }

    fn naive(e: &Vectors, q: &[f32], limit: usize, keep: impl Fn(i64) -> bool) -> Vec<i64> {
        let mut all: Vec<(f32, i64)> = e
            .by_rowid
            .iter()
            .filter(|(r, _)| keep(**r))
            .map(|(r, s)| {
                let (qv, qs) = quantize(q);
                (e.score(*s, (&qv, qs)), *r)
            })
            .collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        all.into_iter().take(limit).map(|x| x.1).collect()
    }

    #[test]
    fn exact_top_k_in_every_universe() {
        let dim = 24;
        let mut e = Vectors::new(dim);
        for r in 0..300i64 {
            e.put(r, (r % 5) as u32, &[], &unit(r as u64, dim));
        }
        for r in (0..300).step_by(7) {
            e.remove(r);
        }
        for r in 0..10 {
            e.put(1000 + r, 1, &[], &unit(5000 + r as u64, dim));
        }
        e.set_view(0, &mut (0..2000).filter(|r| r % 3 == 0));
        let q = unit(42, dim);
        let hits = |v: View<'_>| {
            e.search(&q, 10, v)
                .into_iter()
                .map(|h| h.0)
                .collect::<Vec<_>>()
        };
        assert_eq!(hits(View::ALL), naive(&e, &q, 10, |_| true));
        let set = [true, false, true, false, false];
        let groups = View {
            universe: Universe::Groups(&set),
            results: None,
        };
        assert_eq!(
            hits(groups),
            naive(&e, &q, 10, |r| {
                let g = if r >= 1000 { 1 } else { r % 5 };
                g == 0 || g == 2
            })
        );
        let view = View {
            universe: Universe::View(0),
            results: None,
        };
        assert_eq!(hits(view), naive(&e, &q, 10, |r| r % 3 == 0));
        let pass = |g: u32| g == 1;
        let only = View {
            universe: Universe::View(0),
            results: Some(&pass),
        };
        assert_eq!(
            hits(only),
            naive(&e, &q, 10, |r| {
                r % 3 == 0 && (if r >= 1000 { 1 } else { r % 5 }) == 1
            })
        );
        // The parallel scan gives the same answer.
        let mut big = Vectors::new(8);
        for r in 0..(PARALLEL_MIN as i64 + 500) {
            big.put(r, 0, &[], &unit(r as u64, 8));
        }
        let q8 = unit(7, 8);
        let got: Vec<i64> = big
            .search(&q8, 20, View::ALL)
            .into_iter()
            .map(|h| h.0)
            .collect();
        assert_eq!(got, naive(&big, &q8, 20, |_| true));
    }

    #[test]
    fn quantised_scores_are_close_to_exact() {
        let mut e = Vectors::new(384);
        for r in 0..200i64 {
            e.put(r, 0, &[], &unit(r as u64, 384));
        }
        let q = unit(999, 384);
        for (r, s) in e.search(&q, 200, View::ALL) {
            let exact = dot(&q, &unit(r as u64, 384));
            assert!((s - f64::from(exact)).abs() < 0.01, "{s} vs {exact}");
        }
    }

    #[test]
    fn dot_matches_naive() {
        for dim in [1, 15, 16, 17, 384] {
            let (a, b) = (unit(1, dim), unit(2, dim));
            let want: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - want).abs() < 1e-5);
        }
    }
}
