//! The embedding model as the vault sees it: the agent supplies one (a real
//! sentence encoder); the vault turns item text and queries into vectors
//! with it, seals them and searches them.

use serde::{Deserialize, Serialize};

/// A sentence-embedding model.
pub trait Embed: Send + Sync {
    /// The model's id: names its vectors on disk and is bound into their
    /// sealing, so vectors of one model are never read as another's.
    fn model_id(&self) -> &str;
    /// Dimensions of its vectors.
    fn dim(&self) -> usize;
    /// Unit-length vectors for `texts`, in order; an error names the
    /// problem in one line.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String>;
}

/// Which engines a search uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// Words only (BM25).
    Lexical,
    /// Meaning only (nearest vectors).
    Semantic,
    /// Both, fused (the default once vectors exist).
    Hybrid,
}

impl SearchMode {
    /// Every mode, in the order the CLI lists them.
    pub const ALL: [SearchMode; 3] = [
        SearchMode::Lexical,
        SearchMode::Semantic,
        SearchMode::Hybrid,
    ];

    /// The mode's name.
    pub fn as_str(self) -> &'static str {
        match self {
            SearchMode::Lexical => "lexical",
            SearchMode::Semantic => "semantic",
            SearchMode::Hybrid => "hybrid",
        }
    }
}

impl std::fmt::Display for SearchMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SearchMode {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<SearchMode> {
        SearchMode::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| crate::Error::Invalid {
                field: "mode",
                reason: format!("unknown search mode {s:?}; use lexical, semantic or hybrid"),
            })
    }
}

/// Which engines found a search hit, and their scores.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Engines {
    /// The BM25 score, when the words matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lexical: Option<f64>,
    /// True when the hit matched every word of the query.
    #[serde(default)]
    pub all_words: bool,
    /// The cosine similarity, when the meaning matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semantic: Option<f64>,
}
