//! Hybrid ranking: the lexical (BM25) and semantic (cosine) rankings of one
//! query merged by normalised weighted score fusion.
//!
//! # Format
//! - Each engine gives its best [`CANDIDATES`] within the search's view.
//! - Lexical scores are divided by the best one (1 for the top hit).
//!   Similarities are mapped from [`FLOOR`]..best to 0..1 (below the floor
//!   is 0: the item shares nothing with the query).
//! - The weight of the lexical side depends on the query: when some item
//!   matched every word ([`Ranked::all_words`]) the words are trusted
//!   ([`LEXICAL_ALL`]); when items matched only some words, mostly the
//!   meaning is ([`LEXICAL_SOME`]). One fixed weight for every query loses
//!   on one kind of question or the other (measured on `eval/recall`).
//! - An item's fused score is the weighted sum; missing from one side, it
//!   gets 0 there. Ties go to the older item (lower rowid).
//! - Every number depends only on the candidates, which come from the
//!   view alone, so a hidden item changes nothing.

use super::Ranked;

/// Candidates each engine contributes.
pub const CANDIDATES: usize = 50;
/// Similarity at or below which an item counts as unrelated.
pub const FLOOR: f64 = 0.15;
/// Weight of the lexical side when some item matched every word.
pub const LEXICAL_ALL: f64 = 0.55;
/// Weight of the lexical side when items matched only some words.
pub const LEXICAL_SOME: f64 = 0.2;

/// One fused result.
#[derive(Clone, Debug, PartialEq)]
pub struct Fused {
    /// The item's rowid.
    pub rowid: i64,
    /// The fused score, 0..=1.
    pub score: f64,
    /// The BM25 score, when the lexical engine found it.
    pub lexical: Option<f64>,
    /// The cosine similarity, when the semantic engine found it above the floor.
    pub semantic: Option<f64>,
}

/// Merge the two rankings; at most `limit` results, best first.
pub fn fuse(lexical: &Ranked, semantic: &[(i64, f64)], limit: usize) -> Vec<Fused> {
    let mut out: Vec<Fused> = Vec::with_capacity(lexical.hits.len() + semantic.len());
    let w = if lexical.all_words {
        LEXICAL_ALL
    } else {
        LEXICAL_SOME
    };
    let top_l = lexical.hits.iter().map(|h| h.1).fold(0.0, f64::max);
    for &(rowid, s) in &lexical.hits {
        let norm = if top_l > 0.0 { s / top_l } else { 0.0 };
        out.push(Fused {
            rowid,
            score: w * norm,
            lexical: Some(s),
            semantic: None,
        });
    }
    let top_s = semantic.iter().map(|h| h.1).fold(FLOOR, f64::max);
    for &(rowid, c) in semantic {
        if c <= FLOOR {
            continue;
        }
        let norm = (c - FLOOR) / (top_s - FLOOR);
        let part = (1.0 - w) * norm;
        match out.iter_mut().find(|f| f.rowid == rowid) {
            Some(f) => {
                f.score += part;
                f.semantic = Some(c);
            }
            None => out.push(Fused {
                rowid,
                score: part,
                lexical: None,
                semantic: Some(c),
            }),
        }
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.rowid.cmp(&b.rowid)));
    out.truncate(limit);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_count_and_order_is_total() {
        let lex = Ranked {
            hits: vec![(1, 10.0), (2, 5.0)],
            all_words: true,
        };
        let sem = [(2, 0.9), (3, 0.8), (4, 0.1)];
        let f = fuse(&lex, &sem, 10);
        let ids: Vec<i64> = f.iter().map(|h| h.rowid).collect();
        assert_eq!(ids, vec![2, 1, 3], "4 is below the floor");
        assert_eq!(f[0].lexical, Some(5.0));
        assert_eq!(f[0].semantic, Some(0.9));
        assert_eq!(f[2].lexical, None);
        // Some words only: meaning weighs more.
        let weak = Ranked {
            all_words: false,
            ..lex.clone()
        };
        assert_eq!(fuse(&weak, &sem, 1)[0].rowid, 2);
        assert_eq!(fuse(&weak, &[(3, 0.9)], 1)[0].rowid, 3);
        assert_eq!(fuse(&lex, &[(3, 0.9)], 1)[0].rowid, 1);
        // Ties go to the lower rowid.
        let tie = fuse(&Ranked::default(), &[(9, 0.5), (8, 0.5)], 2);
        assert_eq!(tie[0].rowid, 8);
        assert!(fuse(&Ranked::default(), &[], 5).is_empty());
    }
}
