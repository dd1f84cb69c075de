//! ctxvault's MCP surface: one server handler over a [`ContextSource`], the
//! policy-scoped view of the vault for one client. The same handler runs
//! behind the stdio bridge (`ctxvault mcp`) and inside the agent's
//! streamable HTTP endpoint; a [`SourceResolver`] finds the source for each
//! request (fixed for stdio, from the request's bearer token for HTTP).
//!
//! Every answer comes from the source, which applies the client's grants,
//! redactions and the audit log; this crate only shapes tools, resources and
//! prompts for models. It writes nothing but JSON-RPC to stdout.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod render;
mod server;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vault_core::{Item, Kind, Namespace, SearchHit, Tag};

pub use server::ContextServer;

/// What the server tells the model about itself.
pub const INSTRUCTIONS: &str = "ctxvault is the user's own context vault: facts, preferences, \
projects, people and notes they chose to share with you. Use search_context before answering \
questions where the user's own context matters (their preferences, work, people, past \
decisions); use get_context to read a full item by id; list_namespaces to see what areas \
exist; describe_access to see what you may read, propose and write. If a remember tool is \
listed, use it only for durable facts the user would want kept, never for secrets. You only \
ever see what the user granted you, and every call is recorded for the user.";

/// Default number of search results.
pub const DEFAULT_LIMIT: u32 = 10;
/// Largest `limit` accepted.
pub const MAX_LIMIT: u32 = 50;
/// Resources per page of `resources/list`.
pub const RESOURCE_PAGE: usize = 100;
/// Topic matches in the `personal-context` prompt.
pub const PROMPT_MATCHES: usize = 8;
/// URI of the profile resource.
pub const PROFILE_URI: &str = "ctxvault://profile";
/// Prefix of item resource URIs.
pub const ITEM_URI_PREFIX: &str = "ctxvault://item/";

/// What kind of failure a source met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceErrorKind {
    /// No such item (or one the client may not read: the same answer).
    NotFound,
    /// Bad arguments, or a request outside the client's grants.
    Invalid,
    /// Anything else: locked vault, agent unreachable, database.
    Other,
}

/// A failed source call: the message is shown to the model.
#[derive(Clone, Debug)]
pub struct SourceError {
    /// What kind of failure.
    pub kind: SourceErrorKind,
    /// One line naming the problem and the fix.
    pub message: String,
}

impl SourceError {
    /// An error of kind [`SourceErrorKind::Other`].
    pub fn other(message: impl Into<String>) -> Self {
        SourceError {
            kind: SourceErrorKind::Other,
            message: message.into(),
        }
    }
}

/// A boxed future, for the object-safe [`ContextSource`].
pub type SourceFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, SourceError>> + Send + 'a>>;

/// A namespace the client can read, with its item count.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct NamespaceInfo {
    /// The namespace.
    pub namespace: String,
    /// Items the client can read there.
    pub items: u64,
}

/// One of the client's active grants.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ScopeInfo {
    /// Namespace glob, such as `work/**`.
    pub scope: String,
    /// What it allows: `read`, `propose`, `write`.
    pub actions: Vec<String>,
    /// Only items with one of these tags (empty: any).
    pub tags: Vec<String>,
    /// The most sensitive items reached.
    pub max_sensitivity: String,
    /// When it stops working (RFC 3339), if ever.
    pub expires: Option<String>,
    /// What is masked in returned text.
    pub redact: Vec<String>,
}

/// What the client may read and do.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AccessInfo {
    /// The client's name.
    pub client: String,
    /// Actions it may take somewhere (`read`, `propose`, `write`).
    pub actions: Vec<String>,
    /// Its active grants, with expiries.
    pub grants: Vec<ScopeInfo>,
    /// Namespaces it can read.
    pub namespaces: Vec<NamespaceInfo>,
}

/// What `remember` asks for.
#[derive(Clone, Debug)]
pub struct RememberRequest {
    /// The text.
    pub content: String,
    /// Where (the source's default when absent).
    pub namespace: Option<Namespace>,
    /// Labels.
    pub tags: Vec<Tag>,
    /// What it is (`note` when absent).
    pub kind: Option<Kind>,
    /// A short title.
    pub title: Option<String>,
}

/// What became of a `remember`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RememberOutcome {
    /// The new item's id, or the proposal's.
    pub id: Uuid,
    /// `stored`, or `pending` (waiting for the user's approval).
    pub status: String,
    /// Where it is (or will be) stored.
    pub namespace: String,
}

/// The client's profile: its visible `profile` items and preferences, and
/// the best matches for a topic.
#[derive(Clone, Debug, Default)]
pub struct Profile {
    /// Profile and preference items.
    pub items: Vec<Item>,
    /// Topic matches (not repeating `items`).
    pub hits: Vec<SearchHit>,
}

/// The policy-scoped view of the vault for one client. `tool` names the MCP
/// tool or method asking (`search_context`, `resources/read`...), for the
/// audit log.
pub trait ContextSource: Send + Sync + 'static {
    /// Full-text search within the client's view.
    fn search(
        &self,
        tool: &'static str,
        query: String,
        namespace: Option<Namespace>,
        tags: Vec<Tag>,
        limit: u32,
    ) -> SourceFuture<'_, Vec<SearchHit>>;
    /// One item (an item the client may not read is "no item <id>").
    fn get(&self, tool: &'static str, id: Uuid) -> SourceFuture<'_, Item>;
    /// What the client may read and do.
    fn access(&self, tool: &'static str) -> SourceFuture<'_, AccessInfo>;
    /// The actions the client holds now (to decide which tools to list).
    fn actions(&self) -> SourceFuture<'_, Vec<String>>;
    /// A page of the items the client can read, and where the next starts.
    fn page(
        &self,
        tool: &'static str,
        offset: usize,
        limit: usize,
    ) -> SourceFuture<'_, (Vec<Item>, Option<usize>)>;
    /// Profile, preferences and matches for `topic`.
    fn profile(
        &self,
        tool: &'static str,
        topic: Option<String>,
        limit: usize,
    ) -> SourceFuture<'_, Profile>;
    /// Store or propose a new item.
    fn remember(
        &self,
        tool: &'static str,
        req: RememberRequest,
    ) -> SourceFuture<'_, RememberOutcome>;
}

/// Finds the source for one request: the stdio bridge has one fixed
/// source; the HTTP endpoint builds one from the request's own bearer
/// token (found in the request's extensions), so a session id alone
/// authorizes nothing.
pub trait SourceResolver: Send + Sync + 'static {
    /// The source for the request whose extensions are `ext`.
    fn resolve(&self, ext: &rmcp::model::Extensions)
    -> Result<Arc<dyn ContextSource>, SourceError>;
}

/// A resolver that always answers the same source.
pub struct FixedSource(pub Arc<dyn ContextSource>);

impl SourceResolver for FixedSource {
    fn resolve(&self, _: &rmcp::model::Extensions) -> Result<Arc<dyn ContextSource>, SourceError> {
        Ok(self.0.clone())
    }
}
