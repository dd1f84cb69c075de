//! ctxvault's MCP door: one server handler over a [`ClientView`], the
//! policy-scoped view of the vault for one client. The same handler runs
//! behind the stdio bridge (`ctxvault mcp`) and inside the agent's
//! streamable HTTP endpoint; a [`ViewResolver`] finds the view for each
//! request (fixed for stdio, from the request's bearer token for HTTP).
//!
//! Every answer comes from the view, which applies the client's grants,
//! redactions and the audit log; this crate only shapes tools, resources and
//! prompts for models. It depends on the view's types, never on the vault,
//! and writes nothing but JSON-RPC to stdout.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod confirm;
mod output;
mod render;
mod server;

use std::sync::Arc;

use client_view::{ClientView, ViewError};

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

/// Finds the client view for one request: the stdio bridge has one fixed
/// view; the HTTP endpoint builds one from the request's own bearer token
/// (found in the request's extensions), so a session id alone authorizes
/// nothing.
pub trait ViewResolver: Send + Sync + 'static {
    /// The view for the request whose extensions are `ext`.
    fn resolve(&self, ext: &rmcp::model::Extensions) -> Result<Arc<dyn ClientView>, ViewError>;
}

/// A resolver that always answers the same view.
pub struct FixedView(pub Arc<dyn ClientView>);

impl ViewResolver for FixedView {
    fn resolve(&self, _: &rmcp::model::Extensions) -> Result<Arc<dyn ClientView>, ViewError> {
        Ok(self.0.clone())
    }
}
