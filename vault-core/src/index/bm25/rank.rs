//! Ranking: a search's universe and collection statistics, BM25 scores,
//! and the order they are summed in (which depends on the universe alone).

use rustc_hash::FxHashMap;

use super::{B, DEAD, Index, K1, Mode, ViewDocs, dedup_in_order, in_set};
use crate::index::{Universe, View};

/// How a search tells the documents of its universe.
#[derive(Clone, Copy)]
enum Member<'a> {
    /// Every live document.
    Live,
    /// Live documents of the groups set here.
    Groups(&'a [bool]),
    /// The documents of a view.
    View(&'a ViewDocs),
    /// None (an unknown view).
    Nothing,
}

/// Collection statistics for one search.
struct Stats<'a> {
    n: f32,
    avgdl: f32,
    member: Member<'a>,
    /// Document frequency of each query term within the universe, counted
    /// once per search.
    dfs: FxHashMap<u32, f32>,
}

impl Index {
    /// How to tell the documents of `universe`.
    fn member<'a>(&'a self, universe: Universe<'a>) -> Member<'a> {
        match universe {
            Universe::All => Member::Live,
            Universe::Groups(g) => Member::Groups(g),
            Universe::View(v) => match self.views.get(v as usize) {
                Some(Some(view)) => Member::View(view),
                _ => Member::Nothing,
            },
        }
    }

    /// True when document slot `d` is in the universe `m`.
    #[inline]
    fn is_member(&self, m: Member<'_>, d: u32) -> bool {
        match m {
            Member::Live => self.doc_group[d as usize] != DEAD,
            Member::Groups(g) => in_set(g, self.doc_group[d as usize]),
            Member::View(v) => v.docs.contains(d),
            Member::Nothing => false,
        }
    }

    /// Document frequency of `term` among live documents of the universe
    /// (for every document: every posting, tombstones included until
    /// compaction).
    fn df(&self, term: u32, m: Member<'_>) -> f32 {
        let p = &self.postings[term as usize];
        match m {
            Member::Live => p.docs.len() as f32,
            _ => p.docs.iter().filter(|&&d| self.is_member(m, d)).count() as f32,
        }
    }

    fn idf(&self, term: u32, st: &Stats<'_>) -> f32 {
        let df = match st.dfs.get(&term) {
            Some(&df) => df,
            None => self.df(term, st.member),
        };
        (1.0 + (st.n - df + 0.5) / (df + 0.5)).ln()
    }

    fn norm(&self, tf: u16, doc: u32, avgdl: f32) -> f32 {
        let tf = f32::from(tf);
        let dl = self.docs[doc as usize].len as f32;
        tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * dl / avgdl))
    }

    fn stats<'a>(&self, member: Member<'a>) -> Stats<'a> {
        let (n, len) = match member {
            Member::Live => (self.len() as u64, self.total_len),
            Member::Groups(u) => self
                .groups
                .iter()
                .enumerate()
                .filter(|(g, _)| in_set(u, *g as u32))
                .fold((0u64, 0u64), |(n, l), (_, s)| {
                    (n + u64::from(s.live), l + s.len)
                }),
            Member::View(v) => (v.n, v.len),
            Member::Nothing => (0, 0),
        };
        Stats {
            n: n as f32,
            avgdl: (len as f32 / (n.max(1)) as f32).max(1.0),
            member,
            dfs: FxHashMap::default(),
        }
    }

    /// Live documents per group.
    pub fn group_counts(&self) -> Vec<u32> {
        self.groups.iter().map(|g| g.live).collect()
    }

    /// Rowids matching the query words within `view`, best first, with
    /// BM25 scores; at most `limit`.
    pub fn search(
        &self,
        words: &[(String, bool)],
        mode: Mode,
        limit: usize,
        view: View<'_>,
    ) -> Vec<(i64, f64)> {
        if limit == 0 || words.is_empty() || self.is_empty() {
            return Vec::new();
        }
        let clauses: Vec<Vec<u32>> = words.iter().map(|(w, p)| self.resolve(w, *p)).collect();
        let mut st = self.stats(self.member(view.universe));
        if st.n == 0.0 {
            return Vec::new();
        }
        for &t in clauses.iter().flatten() {
            if !st.dfs.contains_key(&t) {
                let df = self.df(t, st.member);
                st.dfs.insert(t, df);
            }
        }
        let mut scored: Vec<(f32, u32)> = match mode {
            Mode::All => {
                if clauses.iter().any(Vec::is_empty) {
                    return Vec::new();
                }
                self.score_all(&clauses, &st)
            }
            Mode::Any => self.score_any(&clauses, &st),
        };
        if let Some(results) = view.results {
            scored.retain(|(_, d)| results(self.doc_group[*d as usize]));
        }
        let by_score = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        let take = limit.min(scored.len());
        if take < scored.len() {
            scored.select_nth_unstable_by(take, by_score);
        }
        scored.truncate(take);
        scored.sort_unstable_by(by_score);
        scored
            .into_iter()
            .map(|(s, d)| (self.docs[d as usize].rowid, f64::from(s)))
            .collect()
    }

    /// Documents holding a term of every clause, scored.
    fn score_all(&self, clauses: &[Vec<u32>], st: &Stats<'_>) -> Vec<(f32, u32)> {
        // Rarest clause first, by document frequency within the universe
        // (ties in query order), so the order scores are summed in, down to
        // the last bit, depends on nothing outside the universe.
        let size = |c: &Vec<u32>| {
            c.iter()
                .map(|t| st.dfs.get(t).copied().unwrap_or(0.0) as u64)
                .sum::<u64>()
        };
        let mut order: Vec<&Vec<u32>> = clauses.iter().collect();
        order.sort_by_cached_key(|c| size(c));
        let mut cand = self.score_clause(order[0], st);
        for clause in &order[1..] {
            let idfs: Vec<f32> = clause.iter().map(|&t| self.idf(t, st)).collect();
            cand.retain_mut(|(score, doc)| {
                let mut hit = false;
                for (&t, idf) in clause.iter().zip(&idfs) {
                    let p = &self.postings[t as usize];
                    if let Ok(i) = p.docs.binary_search(doc) {
                        *score += idf * self.norm(p.tfs[i], *doc, st.avgdl);
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
    fn score_clause(&self, clause: &[u32], st: &Stats<'_>) -> Vec<(f32, u32)> {
        if let [t] = clause {
            let idf = self.idf(*t, st);
            let p = &self.postings[*t as usize];
            return p
                .docs
                .iter()
                .zip(&p.tfs)
                .filter(|(d, _)| self.is_member(st.member, **d))
                .map(|(&d, &tf)| (idf * self.norm(tf, d, st.avgdl), d))
                .collect();
        }
        self.score_any(&[clause.to_vec()], st)
    }

    /// Documents holding any term, scored by the sum over terms.
    fn score_any(&self, clauses: &[Vec<u32>], st: &Stats<'_>) -> Vec<(f32, u32)> {
        let mut acc = vec![0f32; self.docs.len()];
        let mut touched = Vec::new();
        let mut terms: Vec<u32> = clauses.iter().flatten().copied().collect();
        dedup_in_order(&mut terms);
        for t in terms {
            let idf = self.idf(t, st);
            let p = &self.postings[t as usize];
            for (&d, &tf) in p.docs.iter().zip(&p.tfs) {
                if !self.is_member(st.member, d) {
                    continue;
                }
                let slot = &mut acc[d as usize];
                if *slot == 0.0 {
                    touched.push(d);
                }
                *slot += idf * self.norm(tf, d, st.avgdl);
            }
        }
        touched.into_iter().map(|d| (acc[d as usize], d)).collect()
    }
}
