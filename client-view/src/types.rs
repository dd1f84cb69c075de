//! The queries and answers of the client view.

use chrono::{DateTime, Utc};
use policies::{Action, Redaction, Sensitivity};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::Zeroize;

/// An item as a client receives it: after policy and redaction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContextItem {
    /// UUID v7.
    pub id: Uuid,
    /// Slash path such as `work/acme`.
    pub namespace: String,
    /// `fact`, `preference`, `note`...
    pub kind: String,
    /// Optional short title.
    pub title: Option<String>,
    /// The text.
    pub body: String,
    /// Lowercase labels.
    pub tags: Vec<String>,
    /// How sensitive it is.
    pub sensitivity: Sensitivity,
    /// Who wrote it: `user`, `import:<format>`, `client:<name>`.
    pub source: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Its version, from 1.
    pub version: u64,
}

impl Drop for ContextItem {
    fn drop(&mut self) {
        self.body.zeroize();
        if let Some(t) = self.title.as_mut() {
            t.zeroize();
        }
    }
}

/// Who wrote an item, as a client should treat it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provenance<'a> {
    /// The user, by hand or by importing their own file.
    User,
    /// A client proposed it and the user approved it.
    Approved(&'a str),
    /// A client with `write` stored it; the user has not vouched for it.
    Client(&'a str),
}

impl ContextItem {
    /// Who wrote it, from its `source`.
    pub fn provenance(&self) -> Provenance<'_> {
        if let Some(c) = self.source.strip_prefix("client:") {
            Provenance::Client(c)
        } else if let Some(c) = self.source.strip_prefix("approved:") {
            Provenance::Approved(c)
        } else {
            Provenance::User
        }
    }

    /// How a model is told who wrote it, when it was not the user alone.
    pub fn provenance_note(&self) -> Option<String> {
        match self.provenance() {
            Provenance::User => None,
            Provenance::Approved(c) => Some(format!(
                "proposed by the AI client {c}, approved by the user"
            )),
            Provenance::Client(c) => Some(format!(
                "written by the AI client {c}, not by the user; the user has not reviewed it"
            )),
        }
    }

    /// A short name: the title, or the start of the first line.
    pub fn label(&self, max: usize) -> String {
        if let Some(t) = self.title.as_deref().filter(|t| !t.trim().is_empty()) {
            return t.to_owned();
        }
        first_line(&self.body, max)
    }
}

/// The first non-blank line of `text`, trimmed, cut to at most `max`
/// characters (the last one an ellipsis when cut): a label for lists.
pub fn first_line(text: &str, max: usize) -> String {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if line.chars().count() > max {
        let cut: String = line.chars().take(max.saturating_sub(1)).collect();
        // End after a whole word when one ends in the last third.
        let at = cut
            .char_indices()
            .filter(|(_, c)| c.is_whitespace())
            .map(|(i, _)| i)
            .next_back()
            .filter(|i| cut[..*i].chars().count() >= max * 2 / 3)
            .unwrap_or(cut.len());
        let mut cut = cut[..at].trim_end().to_owned();
        cut.push('…');
        cut
    } else {
        line.to_owned()
    }
}

/// One search result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// The item.
    #[serde(flatten)]
    pub item: ContextItem,
    /// Relevance, higher is better.
    pub score: f64,
    /// A short passage around the first match (cut from the redacted text).
    pub snippet: String,
}

/// Search the client's view.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchQuery {
    /// The words.
    pub query: String,
    /// Only this namespace and below.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Only items with one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Most results.
    pub limit: usize,
}

/// One item by id.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GetQuery {
    /// Its id.
    pub id: Uuid,
}

/// Items the client may read.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ListQuery {
    /// Only this namespace and below.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Only items with one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A page of what the client may read, oldest first.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PageQuery {
    /// Items to skip.
    pub offset: usize,
    /// Most items.
    pub limit: usize,
}

/// A page of items.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Page {
    /// The items.
    pub items: Vec<ContextItem>,
    /// Where the next page starts, if there is one.
    pub next: Option<usize>,
}

/// What the client may read and do.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AccessQuery {}

/// The actions the client holds now.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ActionsQuery {}

/// The context a door hands a model along with a request: the client's
/// profile and preferences and, unless `profile_only`, the best matches for
/// the user's message. Answered as a [`Profile`]; audited as `inject`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContextQuery {
    /// The user's latest message (at most [`crate::MAX_QUERY_CHARS`]).
    #[serde(default)]
    pub message: Option<String>,
    /// The profile and preferences only.
    #[serde(default)]
    pub profile_only: bool,
    /// Most matches for the message.
    pub limit: usize,
    /// Most profile and preference items, the newest (`None`: all).
    #[serde(default)]
    pub profile_limit: Option<usize>,
    /// Where the context goes (such as `provider openai, model gpt-4o`),
    /// for the audit log.
    pub destination: String,
}

/// The client's profile, and matches for a topic.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProfileQuery {
    /// Words to search for.
    #[serde(default)]
    pub topic: Option<String>,
    /// Most matches for the topic.
    pub limit: usize,
}

/// The client's visible `profile` namespace and `preference` items, and the
/// best matches for a topic.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Profile {
    /// Profile and preference items, oldest first.
    pub items: Vec<ContextItem>,
    /// Topic matches, best first (some may be in `items` too).
    pub hits: Vec<Hit>,
}

/// Store or propose a new item.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RememberRequest {
    /// The text.
    pub content: String,
    /// Where; `inbox` when absent.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Labels.
    #[serde(default)]
    pub tags: Vec<String>,
    /// What it is; `note` when absent.
    #[serde(default)]
    pub kind: Option<String>,
    /// A short title.
    #[serde(default)]
    pub title: Option<String>,
    /// An idempotency key: a retry with the same key is answered from the
    /// first outcome instead of storing the text twice. Doors set it.
    #[serde(default)]
    pub request: Option<Uuid>,
}

/// Where a remembered item went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RememberStatus {
    /// Stored (the client holds `write`).
    Stored,
    /// Waiting for the user's approval (the client holds `propose`).
    Pending,
}

/// What became of a `remember` call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Remembered {
    /// The new item's id, or the proposal's.
    pub id: Uuid,
    /// Stored or pending.
    pub status: RememberStatus,
    /// Where it is (or will be) stored.
    pub namespace: String,
}

/// One of a client's own active grants, as shown to the client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GrantView {
    /// Namespace glob.
    pub scope: String,
    /// What it allows.
    pub actions: Vec<Action>,
    /// Tags it is limited to (empty: any).
    pub tags: Vec<String>,
    /// The most sensitive items reached.
    pub max_sensitivity: Sensitivity,
    /// When it stops working.
    pub expires: Option<DateTime<Utc>>,
    /// What it masks.
    pub redact: Vec<Redaction>,
    /// Where what it allows may go, in words (`local providers only`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub providers: Option<String>,
    /// Its reads wait for the user's yes.
    #[serde(default)]
    pub confirm: bool,
}

/// Items a client can read in one namespace, by sensitivity.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NamespaceCount {
    /// The namespace.
    pub namespace: String,
    /// `public` items.
    pub public: u64,
    /// `normal` items.
    pub normal: u64,
    /// `private` items.
    pub private: u64,
    /// `secret` items.
    pub secret: u64,
    /// All of them.
    pub total: u64,
}

/// What a client can see and do.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessReport {
    /// The client.
    pub client: String,
    /// Actions some active grant gives it.
    pub actions: Vec<Action>,
    /// Active grants.
    pub grants: usize,
    /// Deny rules.
    pub denies: usize,
    /// Readable items per namespace.
    pub namespaces: Vec<NamespaceCount>,
    /// Readable items in all.
    pub items: u64,
    /// The active grants themselves (never the deny rules, whose scopes
    /// could name what is hidden).
    #[serde(default)]
    pub scopes: Vec<GrantView>,
    /// Where its answers go (`ollama (local)`).
    #[serde(default)]
    pub destination: String,
    /// The aspect in force for it, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aspect: Option<String>,
    /// Its access in a few sentences it can relay to the user ("health/**
    /// is shared with local providers only.").
    #[serde(default)]
    pub summary: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_lines() {
        assert_eq!(first_line("\n  \n  hello world \nmore", 20), "hello world");
        assert_eq!(first_line("abcdef", 4), "abc…");
        assert_eq!(first_line("abcd", 4), "abcd");
        assert_eq!(first_line("", 4), "");
        // Between words when a word ends in the last third.
        assert_eq!(
            first_line("the quick brown fox jumps", 18),
            "the quick brown…"
        );
        assert_eq!(first_line("a verylongwordwithoutspaces", 10), "a verylon…");
    }
}
