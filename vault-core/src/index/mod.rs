//! The search-index seam: the lexical engine (BM25) implements
//! [`SearchIndex`], and the vault's catalog feeds and queries it without
//! knowing which engine it is; the semantic engine ([`Vectors`]) is fed
//! vectors as they are made, and [`fusion`] merges the two rankings.
//!
//! # Invariants
//! - An engine lives only in memory: built at unlock, kept current by the
//!   change-set path after each commit, dropped on lock.
//! - A search names a [`View`]: the documents that make up the collection
//!   statistics (its [`Universe`]) and, of those, which may be returned. A
//!   document outside the universe must not change any score or order.
//! - A registered view ([`SearchIndex::set_view`]) is a universe kept
//!   current on every write: a document joins the views its [`Doc::views`]
//!   names, and leaves them when removed. A search over it does no work per
//!   group or per hidden document beyond the postings it reads.

mod bm25;
mod dict;
pub mod fusion;
mod text;
mod vectors;

pub use bm25::{Index, Mode};
pub use text::query_terms;
pub use vectors::{Vectors, quantize};

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
    /// The registered views that see it.
    pub views: &'a [ViewId],
}

/// A registered view's slot in the engines (see [`SearchIndex::set_view`]).
pub type ViewId = u32;

/// Which documents make up a search's collection statistics.
#[derive(Clone, Copy, Debug)]
pub enum Universe<'a> {
    /// Every document.
    All,
    /// The documents of the groups set here (a group past the end is out).
    Groups(&'a [bool]),
    /// The documents of a registered view.
    View(ViewId),
}

/// What a search considers: its universe and, of it, what may be returned.
#[derive(Clone, Copy)]
pub struct View<'a> {
    /// The documents that make up the statistics; only they may be returned.
    pub universe: Universe<'a>,
    /// Of the universe, the groups whose documents may be returned; `None`
    /// for all of them.
    pub results: Option<&'a dyn Fn(u32) -> bool>,
}

impl View<'static> {
    /// Every document, for statistics and results.
    pub const ALL: View<'static> = View {
        universe: Universe::All,
        results: None,
    };
}

/// One query as the engines see it.
#[derive(Clone, Copy, Debug)]
pub struct Query<'a> {
    /// The text as the user or client wrote it.
    pub text: &'a str,
    /// Its words (see [`query_terms`]); `true` marks a prefix word (`word*`).
    pub terms: &'a [(String, bool)],
}

/// An engine's ranking for one query.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ranked {
    /// Rowids, best first, with scores (higher is better).
    pub hits: Vec<(i64, f64)>,
    /// True when every hit matched every word of the query (false when the
    /// engine fell back to documents matching some of them).
    pub all_words: bool,
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
    /// Make `view` the set of the live documents at `rowids` (replacing
    /// whatever it held); documents added later join it when their
    /// [`Doc::views`] names it.
    fn set_view(&mut self, view: ViewId, rowids: &mut dyn Iterator<Item = i64>);
    /// Forget a view.
    fn drop_view(&mut self, view: ViewId);
    /// Documents in a view (0 for an unknown one).
    fn view_len(&self, view: ViewId) -> usize;
    /// Rowids matching `query` within `view`, best first, with scores
    /// (higher is better); at most `limit`.
    fn search(&self, query: &Query<'_>, limit: usize, view: View<'_>) -> Ranked;
}
