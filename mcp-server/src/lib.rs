//! ctxvault's MCP surface: one server handler over a [`ContextSource`], the
//! policy-scoped view of the vault for one client. The same handler runs
//! behind the stdio bridge (`ctxvault mcp`), whose source is the agent.
//!
//! Every answer comes from the source, which applies the client's grants,
//! redactions and the audit log; this crate only shapes tools for models.
//! It writes nothing but JSON-RPC to stdout (logs go to stderr).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ErrorData, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vault_core::{Item, Namespace, SearchHit, Tag};

/// What the server tells the model about itself.
pub const INSTRUCTIONS: &str = "ctxvault is the user's own context vault: facts, preferences, \
projects, people and notes they chose to share with you. Use search_context before answering \
questions where the user's own context matters (their preferences, work, people, past \
decisions); use get_context to read a full item by id; list_namespaces to see what areas \
exist; describe_access to see what you may read. You only ever see what the user granted \
you, and every read is recorded for the user.";

/// Default and largest number of search results.
pub const DEFAULT_LIMIT: u32 = 10;
/// Largest `limit` accepted.
pub const MAX_LIMIT: u32 = 50;

/// A failed source call: the message is shown to the model as a tool error.
#[derive(Clone, Debug)]
pub struct SourceError(pub String);

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

/// What the client may read and do.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AccessInfo {
    /// The client's name.
    pub client: String,
    /// Actions it may take (`read`, `propose`, `write`).
    pub actions: Vec<String>,
    /// Namespaces it can read.
    pub namespaces: Vec<NamespaceInfo>,
}

/// The policy-scoped view of the vault for one client.
pub trait ContextSource: Send + Sync + 'static {
    /// Full-text search within the client's view.
    fn search(
        &self,
        query: String,
        namespace: Option<Namespace>,
        tags: Vec<Tag>,
        limit: u32,
    ) -> SourceFuture<'_, Vec<SearchHit>>;
    /// One item (an item the client may not read is "no item <id>").
    fn get(&self, id: Uuid) -> SourceFuture<'_, Item>;
    /// What the client may read and do.
    fn access(&self) -> SourceFuture<'_, AccessInfo>;
}

/// `search_context` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SearchArgs {
    /// Words to look for; every word must match (stemmed), `word*` for a prefix.
    pub query: String,
    /// Only this namespace and below, such as `work` or `work/acme`.
    pub namespace: Option<String>,
    /// Only items with one of these tags.
    pub tags: Option<Vec<String>>,
    /// Most results (default 10, at most 50).
    pub limit: Option<u32>,
}

/// `get_context` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct GetArgs {
    /// The item id, from search_context.
    pub id: String,
}

/// The MCP server for one client.
#[derive(Clone)]
pub struct ContextServer {
    source: Arc<dyn ContextSource>,
    #[allow(dead_code)]
    tool_router: ToolRouter<Self>,
}

fn tool_error(msg: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(msg.into())])
}

fn json_result<T: Serialize>(value: &T) -> Result<CallToolResult, ErrorData> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| ErrorData::internal_error(format!("cannot encode the answer: {e}"), None))?;
    Ok(CallToolResult::success(vec![ContentBlock::text(text)]))
}

#[derive(Serialize)]
struct Hit<'a> {
    id: Uuid,
    namespace: &'a str,
    kind: &'a str,
    title: Option<&'a str>,
    snippet: &'a str,
    tags: Vec<&'a str>,
    updated_at: String,
}

#[tool_router]
impl ContextServer {
    /// A server over `source`.
    pub fn new(source: Arc<dyn ContextSource>) -> Self {
        ContextServer {
            source,
            tool_router: Self::tool_router(),
        }
    }

    #[tool(
        description = "Search the user's context (facts, preferences, projects, people, notes) \
        that you may read. Returns id, namespace, kind, title, a snippet, tags and last update, \
        best match first. Use get_context for the full text."
    )]
    async fn search_context(
        &self,
        Parameters(args): Parameters<SearchArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let namespace = match args.namespace.as_deref().filter(|n| !n.is_empty()) {
            None => None,
            Some(n) => match n.parse::<Namespace>() {
                Ok(ns) => Some(ns),
                Err(e) => return Ok(tool_error(e.to_string())),
            },
        };
        let mut tags = Vec::new();
        for t in args.tags.unwrap_or_default() {
            match t.parse::<Tag>() {
                Ok(t) => tags.push(t),
                Err(e) => return Ok(tool_error(e.to_string())),
            }
        }
        let limit = args.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        match self.source.search(args.query, namespace, tags, limit).await {
            Ok(hits) => {
                let out: Vec<Hit> = hits
                    .iter()
                    .map(|h| Hit {
                        id: h.item.id,
                        namespace: h.item.namespace.as_str(),
                        kind: h.item.kind.as_str(),
                        title: h.item.title.as_deref(),
                        snippet: &h.snippet,
                        tags: h.item.tags.iter().map(Tag::as_str).collect(),
                        updated_at: h.item.updated_at.to_rfc3339(),
                    })
                    .collect();
                json_result(&out)
            }
            Err(e) => Ok(tool_error(e.0)),
        }
    }

    #[tool(
        description = "Read one item of the user's context in full, by the id search_context gave."
    )]
    async fn get_context(
        &self,
        Parameters(args): Parameters<GetArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let Ok(id) = args.id.trim().parse::<Uuid>() else {
            return Ok(tool_error(format!(
                "malformed id {:?}: use an id from search_context",
                args.id
            )));
        };
        match self.source.get(id).await {
            Ok(item) => json_result(&item),
            Err(e) => Ok(tool_error(e.0)),
        }
    }

    #[tool(
        description = "List the namespaces (areas such as profile or work/acme) of the user's \
        context you may read, with how many items each holds."
    )]
    async fn list_namespaces(&self) -> Result<CallToolResult, ErrorData> {
        match self.source.access().await {
            Ok(a) => json_result(&a.namespaces),
            Err(e) => Ok(tool_error(e.0)),
        }
    }

    #[tool(description = "Describe what you may read and do in the user's context vault.")]
    async fn describe_access(&self) -> Result<CallToolResult, ErrorData> {
        match self.source.access().await {
            Ok(a) => json_result(&a),
            Err(e) => Ok(tool_error(e.0)),
        }
    }
}

#[tool_handler]
impl ServerHandler for ContextServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("ctxvault", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }
}
