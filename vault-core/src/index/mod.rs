//! The search-index seam: every engine (today BM25; vectors and a fusion of
//! both next) implements [`SearchIndex`], and the vault's catalog feeds and
//! queries it without knowing which engine it is.
//!
//! # Invariants
//! - An engine lives only in memory: built at unlock, kept current by the
//!   change-set path after each commit, dropped on lock.
//! - A search names a [`View`]: the groups whose documents make up the
//!   collection statistics and the groups whose documents may be returned.
//!   A document outside the universe must not change any score or order.

mod bm25;
mod dict;
mod text;

pub use bm25::{Index, Mode};
pub use text::query_terms;

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
    /// The document's group.
    pub group: u32,
}

/// Which groups a search considers.
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    /// Groups whose documents make up the collection statistics; `None`
    /// for every document.
    pub universe: Option<&'a [bool]>,
    /// Groups whose documents may be returned (a group past the end is out).
    pub results: &'a [bool],
}

/// One query as the engines see it.
#[derive(Clone, Copy, Debug)]
pub struct Query<'a> {
    /// The text as the user or client wrote it.
    pub text: &'a str,
    /// Its words (see [`query_terms`]); `true` marks a prefix word (`word*`).
    pub terms: &'a [(String, bool)],
}

/// A search engine over the vault's documents.
pub trait SearchIndex: Send + Sync {
    /// The engine's name, such as `bm25`.
    fn name(&self) -> &'static str;
    /// Number of live documents.
    fn len(&self) -> usize;
    /// True when no document is indexed.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Add (or replace) documents.
    fn insert_many(&mut self, docs: &[Doc<'_>]);
    /// Remove a document (absent rowids are ignored).
    fn remove(&mut self, rowid: i64);
    /// Rowids matching `query` within `view`, best first, with scores
    /// (higher is better); at most `limit`.
    fn search(&self, query: &Query<'_>, limit: usize, view: View<'_>) -> Vec<(i64, f64)>;
}
