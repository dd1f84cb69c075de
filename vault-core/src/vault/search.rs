//! Searches over the index seam, and the snippets cut for each hit.

use std::cell::RefCell;
use std::collections::HashMap;

use super::catalog::{Catalog, GroupKey};
use super::{SearchHit, UnlockedVault};
use crate::embed::{Engines, SearchMode};
use crate::error::{Error, Result};
use crate::index::{self, Query, Ranked, Universe, View, fusion};
use crate::item::ItemFilter;

/// Characters of context in a search snippet.
const SNIPPET_CHARS: usize = 160;

/// A condition on an item's group (its namespace and tags, say) that a
/// search's results must meet.
pub type SearchFilter<'a> = dyn Fn(&GroupKey) -> bool + Sync + 'a;

/// The same condition given the group's id too.
type GroupTest<'a> = dyn Fn(u32, &GroupKey) -> bool + Sync + 'a;

impl UnlockedVault {
    /// Search by words (every word must match, stemmed; `word*` for a
    /// prefix; if nothing matches all words, items matching any word), by
    /// meaning, or both fused: `mode`, or when `None` hybrid with a model
    /// attached and lexical without.
    pub async fn search(
        &self,
        query: &str,
        mode: Option<SearchMode>,
        filter: &ItemFilter,
        limit: usize,
    ) -> Result<Vec<SearchHit>> {
        let test = |_: u32, g: &GroupKey| filter.matches(&g.namespace, &g.tags);
        let filtered = filter.namespace.is_some() || !filter.tags.is_empty();
        let hits = self
            .search_where(
                b"owner",
                query,
                mode,
                limit,
                filtered.then_some(&test as &GroupTest),
                |_| Some(Universe::All),
            )
            .await?;
        Ok(hits.unwrap_or_default())
    }

    /// Search with the groups given as sets of group ids (see
    /// [`UnlockedVault::group_keys`]; a group not in a set is out): scores
    /// use only the items of `universe` (every item when `None`), and only
    /// items of `results` are returned. A caller that passes the same set
    /// for both sees results that do not depend on any other item. This
    /// decides membership per group on every search; a registered view
    /// ([`UnlockedVault::search_view`]) does not.
    pub async fn search_groups(
        &self,
        query: &str,
        mode: Option<SearchMode>,
        limit: usize,
        universe: Option<&[bool]>,
        results: &[bool],
    ) -> Result<Vec<SearchHit>> {
        let test = |id: u32, _: &GroupKey| results.get(id as usize).copied().unwrap_or(false);
        let universe = universe.map_or(Universe::All, Universe::Groups);
        let hits = self
            .search_where(b"groups", query, mode, limit, Some(&test), |_| {
                Some(universe)
            })
            .await?;
        Ok(hits.unwrap_or_default())
    }

    /// Search within a registered view, of its items only those whose group
    /// passes `wanted`; `None` when there is no such view.
    pub(super) async fn search_view_where(
        &self,
        reader: &[u8],
        query: &str,
        mode: Option<SearchMode>,
        limit: usize,
        wanted: Option<&SearchFilter<'_>>,
        universe: impl FnOnce(&Catalog) -> Option<Universe<'static>>,
    ) -> Result<Option<Vec<SearchHit>>> {
        match wanted {
            None => {
                self.search_where(reader, query, mode, limit, None, universe)
                    .await
            }
            Some(w) => {
                let test = |_: u32, g: &GroupKey| w(g);
                self.search_where(reader, query, mode, limit, Some(&test), universe)
                    .await
            }
        }
    }

    /// The one search path: the universe is chosen under the catalog's lock
    /// (`None` from `universe` means it does not exist), `results` is asked
    /// once per group met among the candidates.
    async fn search_where<'u>(
        &self,
        reader: &[u8],
        query: &str,
        mode: Option<SearchMode>,
        limit: usize,
        results: Option<&GroupTest<'_>>,
        universe: impl FnOnce(&Catalog) -> Option<Universe<'u>>,
    ) -> Result<Option<Vec<SearchHit>>> {
        let terms = index::query_terms(query);
        if terms.is_empty() {
            return Err(Error::Invalid {
                field: "query",
                reason: "the query has no words; give at least one word to search for".into(),
            });
        }
        let mode = self.resolve_mode(mode)?;
        let vector = match mode {
            SearchMode::Lexical => None,
            _ => self.query_vector(reader, query).await?,
        };
        let hits = {
            let st = self.state.read().await;
            let Some(universe) = universe(&st) else {
                return Ok(None);
            };
            // 0: not asked yet, 1: passes, 2: does not.
            let memo = RefCell::new(Vec::<u8>::new());
            let pass = |g: u32| {
                let Some(test) = results else { return true };
                let mut memo = memo.borrow_mut();
                let i = g as usize;
                if memo.len() <= i {
                    memo.resize(i + 1, 0);
                }
                if memo[i] == 0 {
                    let ok = st.groups.get(i).is_some_and(|k| test(g, k));
                    memo[i] = if ok { 1 } else { 2 };
                }
                memo[i] == 1
            };
            let q = Query {
                text: query,
                terms: &terms,
            };
            let view = View {
                universe,
                results: results.map(|_| &pass as &dyn Fn(u32) -> bool),
            };
            let wide = match mode {
                SearchMode::Hybrid => limit.max(fusion::CANDIDATES),
                _ => limit,
            };
            let lexical = match mode {
                SearchMode::Semantic => Ranked::default(),
                _ => st.index.search(&q, wide, view),
            };
            let semantic = match (&vector, &st.vectors) {
                // Only with the vector of the engine's own model (one
                // attached while this query was embedded has another).
                (Some((sem, v)), Some(engine)) if self.is_attached(sem) => {
                    engine.search(v, wide, view)
                }
                _ => Vec::new(),
            };
            rank(mode, lexical, semantic, limit)
        };
        let rowids: Vec<i64> = hits.iter().map(|h| h.0).collect();
        let rows = self.store.get_many(&rowids).await?;
        let scores: HashMap<i64, (f64, Engines)> =
            hits.into_iter().map(|(r, s, e)| (r, (s, e))).collect();
        let hits = rows
            .iter()
            .map(|row| {
                let item = self.open_item(row)?;
                let snippet = snippet(&item.body, &terms);
                let (score, engines) = scores.get(&row.rowid).copied().unwrap_or_default();
                Ok(SearchHit {
                    score,
                    snippet,
                    engines,
                    item,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(hits))
    }
}

impl UnlockedVault {
    /// The mode a search runs in: the one asked for, or hybrid when a model
    /// is attached and lexical when not. Asking for meaning without a model
    /// is an error saying how to get one.
    pub fn resolve_mode(&self, mode: Option<SearchMode>) -> Result<SearchMode> {
        let attached = self.model().is_some();
        match mode {
            None if attached => Ok(SearchMode::Hybrid),
            None => Ok(SearchMode::Lexical),
            Some(SearchMode::Lexical) => Ok(SearchMode::Lexical),
            Some(m) if attached => Ok(m),
            Some(m) => Err(Error::Invalid {
                field: "mode",
                reason: format!(
                    "{m} search needs an embedding model and none is active; install one with \
                     `ctxvault model install PATH`, or search with --mode lexical"
                ),
            }),
        }
    }
}

/// The results of one search: rowid, score and which engines found it.
fn rank(
    mode: SearchMode,
    lexical: Ranked,
    semantic: Vec<(i64, f64)>,
    limit: usize,
) -> Vec<(i64, f64, Engines)> {
    match mode {
        SearchMode::Lexical => {
            let all_words = lexical.all_words;
            lexical
                .hits
                .into_iter()
                .map(|(r, s)| {
                    let e = Engines {
                        lexical: Some(s),
                        all_words,
                        semantic: None,
                    };
                    (r, s, e)
                })
                .collect()
        }
        SearchMode::Semantic => semantic
            .into_iter()
            .map(|(r, s)| {
                let e = Engines {
                    semantic: Some(s),
                    ..Engines::default()
                };
                (r, s, e)
            })
            .collect(),
        SearchMode::Hybrid => fusion::fuse(&lexical, &semantic, limit)
            .into_iter()
            .map(|f| {
                let e = Engines {
                    lexical: f.lexical,
                    all_words: f.lexical.is_some() && lexical.all_words,
                    semantic: f.semantic,
                };
                (f.rowid, f.score, e)
            })
            .collect(),
    }
}

/// True when `word` and `term` share a leading run of at least
/// `min(4, len(word), len(term))` characters, ignoring case: the stem-like
/// match used to place snippets ("running" matches "run").
fn shares_prefix(word: &str, term: &str) -> bool {
    let need = word.chars().count().min(term.chars().count()).min(4);
    if need == 0 {
        return false;
    }
    let common = word
        .chars()
        .flat_map(char::to_lowercase)
        .zip(term.chars())
        .take_while(|(a, b)| a == b)
        .count();
    common >= need
}

/// A passage of `body` around the first word sharing a stem-like prefix with
/// a query term, on one line, about [`SNIPPET_CHARS`] characters.
pub fn snippet(body: &str, terms: &[(String, bool)]) -> String {
    // Find the first matching word without allocating.
    let mut start = 0;
    let mut rest = body.char_indices().peekable();
    'words: while let Some((i, c)) = rest.next() {
        if !c.is_alphanumeric() {
            continue;
        }
        let mut end = i + c.len_utf8();
        while let Some(&(j, d)) = rest.peek() {
            if !d.is_alphanumeric() {
                break;
            }
            end = j + d.len_utf8();
            rest.next();
        }
        let word = &body[i..end];
        if terms.iter().any(|(t, _)| shares_prefix(word, t)) {
            start = i;
            break 'words;
        }
    }
    // Back up a quarter of the window, to the start of a word when one
    // starts there (not past the match).
    let mut from = body[..start]
        .char_indices()
        .rev()
        .nth(SNIPPET_CHARS / 4 - 1)
        .map_or(0, |(i, _)| i);
    let inside_word = |at: usize| {
        body[..at]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric)
            && body[at..].chars().next().is_some_and(char::is_alphanumeric)
    };
    if from > 0 && inside_word(from) {
        from = body[from..start]
            .find(|c: char| !c.is_alphanumeric())
            .map_or(start, |k| from + k);
        from += body[from..].find(|c: char| !c.is_whitespace()).unwrap_or(0);
    }
    let mut s = String::with_capacity(SNIPPET_CHARS + 8);
    if from > 0 {
        s.push('…');
    }
    let window: String = body[from..]
        .chars()
        .take(SNIPPET_CHARS)
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    let cut = body[from..].chars().nth(SNIPPET_CHARS).is_some();
    if cut {
        // End at a word's end when one ends in the last fifth.
        let keep = window
            .char_indices()
            .filter(|(_, c)| *c == ' ')
            .map(|(i, _)| i)
            .next_back()
            .filter(|i| window[..*i].chars().count() >= SNIPPET_CHARS * 4 / 5)
            .unwrap_or(window.len());
        s.push_str(window[..keep].trim_end());
        s.push('…');
    } else {
        s.push_str(&window);
    }
    s
}

#[cfg(test)]
mod snippet_tests {
    use super::*;

    fn t(q: &str) -> Vec<(String, bool)> {
        index::query_terms(q)
    }

    #[test]
    fn snippets() {
        assert_eq!(snippet("short text", &t("text")), "short text");
        let long = format!("{} Running far {}", "a ".repeat(100), "b ".repeat(100));
        let s = snippet(&long, &t("run"));
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("Running far"), "{s}");
        assert!(s.chars().count() <= SNIPPET_CHARS + 2, "{s}");
        // Cut between words, not inside one.
        let words = format!(
            "{} needle {}",
            "alpha beta gamma ".repeat(20),
            "delta epsilon ".repeat(20)
        );
        let s = snippet(&words, &t("needle"));
        let inner = s.trim_start_matches('…').trim_end_matches('…');
        for w in inner.split(' ') {
            assert!(
                words.split(' ').any(|x| x == w),
                "{w:?} is a cut word in {s}"
            );
        }
        assert!(snippet("line one\nline two", &t("two")).contains("line one line two"));
        assert_eq!(
            snippet("Café crème", &t("creme")),
            "Café crème",
            "no match: from the start"
        );
        assert!(snippet(&"é".repeat(300), &t("x")).ends_with('…'));
    }
}
