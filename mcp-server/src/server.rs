//! The MCP server handler: tools, resources and the prompt.

use std::sync::Arc;

use client_view::{
    ClientView, PageQuery, ProfileQuery, RememberRequest, SearchQuery, ViewError, ViewErrorKind,
};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CacheScope, CallToolResult, ContentBlock, GetPromptRequestParams, GetPromptResponse,
    GetPromptResult, Implementation, ListPromptsResult, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, Prompt, PromptArgument,
    PromptMessage, ProtocolVersion, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, Resource, ResourceContents, ResourceTemplate, Role, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::output::{AccessOut, HitOut, ItemOut, SearchOut};
use crate::render;
use crate::{
    DEFAULT_LIMIT, FixedView, INSTRUCTIONS, ITEM_URI_PREFIX, MAX_LIMIT, PROFILE_URI,
    PROMPT_MATCHES, RESOURCE_PAGE, ViewResolver,
};

/// Name of the write-back tool, listed only for clients that may use it.
const REMEMBER: &str = "remember";
/// Name of the prompt.
const PROMPT: &str = "personal-context";

// Optional arguments are described by their type alone (`with`) and left
// out of `required` (`serde(default)`): a nullable type array
// (`["string", "null"]`) is what strict (Gemini-style) schema readers warn
// about, and a client leaves an argument out rather than sending null.

/// `search_context` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SearchArgs {
    /// Words to look for; every word must match (stemmed), `word*` for a prefix.
    pub query: String,
    /// Only this namespace and below, such as `work` or `work/acme`.
    #[serde(default)]
    #[schemars(with = "String")]
    pub namespace: Option<String>,
    /// Only items with one of these tags.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub tags: Option<Vec<String>>,
    /// Most results (default 10, at most 50).
    #[serde(default)]
    #[schemars(with = "u32")]
    pub limit: Option<u32>,
}

/// `get_context` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct GetArgs {
    /// The item id, from search_context.
    pub id: String,
}

/// `remember` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RememberArgs {
    /// The fact or note to keep, in plain words (at most 16 KiB).
    pub content: String,
    /// Where to keep it, such as `work/acme`; default `inbox`. Must be inside
    /// a scope describe_access lists with propose or write.
    #[serde(default)]
    #[schemars(with = "String")]
    pub namespace: Option<String>,
    /// Labels, lowercase words.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub tags: Option<Vec<String>>,
    /// What it is: fact, preference, note, person, project, event...
    #[serde(default)]
    #[schemars(with = "String")]
    pub kind: Option<String>,
    /// A short one-line title.
    #[serde(default)]
    #[schemars(with = "String")]
    pub title: Option<String>,
}

/// The MCP server for one client (stdio) or for every client (HTTP, where
/// the resolver finds each request's client from its token).
#[derive(Clone)]
pub struct ContextServer {
    resolver: Arc<dyn ViewResolver>,
    tool_router: ToolRouter<Self>,
}

fn tool_error(msg: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(msg.into())])
}

/// Compact JSON: what a model reads costs it tokens.
fn encode<T: Serialize>(value: &T) -> Result<String, ErrorData> {
    serde_json::to_string(value)
        .map_err(|e| ErrorData::internal_error(format!("cannot encode the answer: {e}"), None))
}

fn json_result<T: Serialize>(value: &T) -> Result<CallToolResult, ErrorData> {
    Ok(CallToolResult::success(vec![ContentBlock::text(encode(
        value,
    )?)]))
}

/// A view error as a JSON-RPC error (for resources and prompts, which
/// have no tool-error form).
fn rpc_error(e: ViewError) -> ErrorData {
    match e.kind {
        ViewErrorKind::NotFound => ErrorData::resource_not_found(e.message, None),
        ViewErrorKind::Invalid | ViewErrorKind::Forbidden | ViewErrorKind::RateLimited => {
            ErrorData::invalid_params(e.message, None)
        }
        ViewErrorKind::Locked
        | ViewErrorKind::Unauthorized
        | ViewErrorKind::Unavailable
        | ViewErrorKind::NeedsConfirmation
        | ViewErrorKind::Internal => ErrorData::internal_error(e.message, None),
    }
}

/// A tool's answer: `structured` as `structuredContent`, and `text` (the
/// same facts as JSON) for clients that read only text.
fn structured<T: Serialize, S: Serialize>(
    text: &T,
    structured: &S,
) -> Result<CallToolResult, ErrorData> {
    let mut r = CallToolResult::success(vec![ContentBlock::text(encode(text)?)]);
    r.structured_content =
        Some(serde_json::to_value(structured).map_err(|e| {
            ErrorData::internal_error(format!("cannot encode the answer: {e}"), None)
        })?);
    Ok(r)
}

impl ContextServer {
    /// A server over one fixed source (the stdio bridge).
    pub fn new(view: Arc<dyn ClientView>) -> Self {
        Self::with_resolver(Arc::new(FixedView(view)))
    }

    /// A server that finds each request's view with `resolver`.
    pub fn with_resolver(resolver: Arc<dyn ViewResolver>) -> Self {
        ContextServer {
            resolver,
            tool_router: Self::tool_router(),
        }
    }

    /// The request's view; for a client that can ask its user (MCP
    /// elicitation on a protocol that lets the server ask), one whose
    /// confirmations are asked in the app.
    fn source(&self, ctx: &RequestContext<RoleServer>) -> Result<Arc<dyn ClientView>, ErrorData> {
        let view = self
            .resolver
            .resolve(&ctx.extensions)
            .map_err(|e| ErrorData::invalid_request(e.message, None))?;
        Ok(crate::confirm::in_app(view, ctx))
    }
}

#[tool_router]
impl ContextServer {
    #[tool(
        title = "Search the user's context",
        description = "Search the user's context (facts, preferences, projects, people, notes) \
        that you may read. Returns id, namespace, kind, title, a snippet, tags and last update, \
        best match first. Use get_context for the full text.",
        annotations(read_only_hint = true, open_world_hint = false),
        output_schema = schema_for_output::<SearchOut>()
    )]
    async fn search_context(
        &self,
        Parameters(args): Parameters<SearchArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        if let Err(e) = client_view::check_query(&args.query) {
            return Ok(tool_error(e.message));
        }
        let source = self.source(&ctx)?;
        let limit = args.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let q = SearchQuery {
            query: args.query,
            namespace: args.namespace,
            tags: args.tags.unwrap_or_default(),
            limit: limit as usize,
        };
        match source.search("search_context", q).await {
            Ok(hits) => {
                let results: Vec<HitOut> = hits
                    .iter()
                    .map(|h| HitOut {
                        id: h.item.id,
                        namespace: h.item.namespace.clone(),
                        kind: h.item.kind.clone(),
                        title: h.item.title.clone(),
                        snippet: h.snippet.clone(),
                        tags: h.item.tags.clone(),
                        source: h.item.source.clone(),
                        provenance: h.item.provenance_note(),
                        updated_at: h.item.updated_at.to_rfc3339(),
                    })
                    .collect();
                let out = SearchOut { results };
                structured(&out.results, &out)
            }
            Err(e) => Ok(tool_error(e.message)),
        }
    }

    #[tool(
        title = "Read one item of the user's context",
        description = "Read one item of the user's context in full, by the id search_context gave.",
        annotations(read_only_hint = true, open_world_hint = false),
        output_schema = schema_for_output::<ItemOut>()
    )]
    async fn get_context(
        &self,
        Parameters(args): Parameters<GetArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let source = self.source(&ctx)?;
        let Ok(id) = args.id.trim().parse::<Uuid>() else {
            return Ok(tool_error(format!(
                "malformed id {:?}: use an id from search_context",
                args.id
            )));
        };
        match source.get("get_context", id).await {
            Ok(item) => {
                let out = ItemOut::from(&item);
                structured(&out, &out)
            }
            Err(e) => Ok(tool_error(e.message)),
        }
    }

    #[tool(
        title = "List the user's namespaces",
        annotations(read_only_hint = true, open_world_hint = false),
        description = "List the namespaces (areas such as profile or work/acme) of the user's \
        context you may read, with how many items each holds."
    )]
    async fn list_namespaces(
        &self,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        match self.source(&ctx)?.access("list_namespaces").await {
            Ok(a) => json_result(&AccessOut::from(&a).namespaces),
            Err(e) => Ok(tool_error(e.message)),
        }
    }

    #[tool(
        title = "Describe your access",
        annotations(read_only_hint = true, open_world_hint = false),
        description = "Describe what you may do in the user's context vault: your actions \
        (read, propose, write), your grants with their scopes and expiries, and the namespaces \
        you can read."
    )]
    async fn describe_access(
        &self,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        match self.source(&ctx)?.access("describe_access").await {
            Ok(a) => json_result(&AccessOut::from(&a)),
            Err(e) => Ok(tool_error(e.message)),
        }
    }

    #[tool(
        title = "Remember a fact or note",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        ),
        description = "Keep a new fact or note in the user's context vault. With write access \
        it is stored at once (source client:<you>); with propose access it waits for the user's \
        approval and nobody sees it before. It never changes an existing item. Use it sparingly, \
        for durable facts the user would want kept; never for secrets."
    )]
    async fn remember(
        &self,
        Parameters(args): Parameters<RememberArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let source = self.source(&ctx)?;
        let req = RememberRequest {
            request: Some(uuid::Uuid::now_v7()),
            content: args.content,
            namespace: args.namespace,
            tags: args.tags.unwrap_or_default(),
            kind: args.kind,
            title: args.title,
        };
        match source.remember("remember", req).await {
            Ok(o) => json_result(&o),
            Err(e) => Ok(tool_error(e.message)),
        }
    }
}

/// Cache hints for a list answer: what a client sees depends on its grants,
/// which change at any time, so lists are private and stale at once (sent
/// only to peers on a protocol version that knows the fields).
fn no_cache(ctx: &RequestContext<RoleServer>) -> (Option<u64>, Option<CacheScope>) {
    let hints = ctx
        .protocol_version()
        .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
    (hints.then_some(0), hints.then_some(CacheScope::Private))
}

fn cursor_offset(request: Option<PaginatedRequestParams>) -> Result<usize, ErrorData> {
    match request.and_then(|r| r.cursor) {
        None => Ok(0),
        Some(c) => c.parse::<usize>().map_err(|_| {
            ErrorData::invalid_params(
                format!("malformed cursor {c:?}: pass the nextCursor of the previous page"),
                None,
            )
        }),
    }
}

#[tool_handler]
impl ServerHandler for ContextServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_prompts()
                .build(),
        )
        .with_server_info(Implementation::new("ctxvault", env!("CARGO_PKG_VERSION")))
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let source = self.source(&ctx)?;
        // A locked vault cannot say; list the read tools, which then answer
        // the locked error.
        let actions = source.actions().await.unwrap_or_default();
        let may_write = actions
            .iter()
            .any(|a| matches!(a, client_view::Action::Propose | client_view::Action::Write));
        let tools = self
            .tool_router
            .list_all()
            .into_iter()
            .filter(|t| may_write || t.name != REMEMBER)
            .collect();
        let mut result = ListToolsResult::with_all_items(tools);
        (result.ttl_ms, result.cache_scope) = no_cache(&ctx);
        Ok(result)
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let source = self.source(&ctx)?;
        let offset = cursor_offset(request)?;
        let page = source
            .page(
                "resources/list",
                PageQuery {
                    offset,
                    limit: RESOURCE_PAGE,
                },
            )
            .await
            .map_err(rpc_error)?;
        let (items, next) = (page.items.as_slice(), page.next);
        let mut resources = Vec::with_capacity(items.len() + 1);
        if offset == 0 {
            resources.push(
                Resource::new(PROFILE_URI, "profile")
                    .with_title("The user's profile and preferences")
                    .with_description(
                        "Everything in the profile namespace and every preference you may read, as Markdown",
                    )
                    .with_mime_type("text/markdown"),
            );
        }
        for i in items {
            resources.push(
                Resource::new(format!("{ITEM_URI_PREFIX}{}", i.id), render::item_name(i))
                    .with_description(format!("{} in {}", i.kind, i.namespace))
                    .with_mime_type("text/markdown"),
            );
        }
        let mut result = ListResourcesResult::with_all_items(resources);
        result.next_cursor = next.map(|n| n.to_string());
        (result.ttl_ms, result.cache_scope) = no_cache(&ctx);
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new(format!("{ITEM_URI_PREFIX}{{id}}"), "item")
                .with_title("One item of the user's context")
                .with_description("An item by its id (from search_context), as Markdown")
                .with_mime_type("text/markdown"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let source = self.source(&ctx)?;
        let uri = request.uri;
        let text = if uri == PROFILE_URI {
            let q = ProfileQuery {
                topic: None,
                limit: 0,
            };
            let p = source
                .profile("resources/read", q)
                .await
                .map_err(rpc_error)?;
            render::profile(&p, None)
        } else if let Some(rest) = uri.strip_prefix(ITEM_URI_PREFIX) {
            let id = rest.parse::<Uuid>().map_err(|_| {
                ErrorData::resource_not_found(
                    format!("no resource {uri}; item URIs are {ITEM_URI_PREFIX}<id>"),
                    None,
                )
            })?;
            render::item(&source.get("resources/read", id).await.map_err(rpc_error)?)
        } else {
            return Err(ErrorData::resource_not_found(
                format!("no resource {uri}; use {PROFILE_URI} or {ITEM_URI_PREFIX}<id>"),
                None,
            ));
        };
        Ok(ReadResourceResult::new(vec![
            ResourceContents::text(text, uri).with_mime_type("text/markdown"),
        ])
        .into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(vec![Prompt::new(
            PROMPT,
            Some(
                "The user's profile and preferences from their ctxvault, plus the items that \
                 best match a topic",
            ),
            Some(vec![
                PromptArgument::new("topic")
                    .with_description("What the conversation is about (optional)")
                    .with_required(false),
            ]),
        )]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        if request.name != PROMPT {
            return Err(ErrorData::invalid_params(
                format!("no prompt {:?}; the prompt is {PROMPT}", request.name),
                None,
            ));
        }
        let source = self.source(&ctx)?;
        let topic = match request.arguments.as_ref().and_then(|a| a.get("topic")) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s.clone()).filter(|s| !s.trim().is_empty()),
            Some(_) => {
                return Err(ErrorData::invalid_params("topic must be a string", None));
            }
        };
        if let Some(t) = &topic {
            client_view::check_query(t).map_err(rpc_error)?;
        }
        let q = ProfileQuery {
            topic: topic.clone(),
            limit: PROMPT_MATCHES,
        };
        let p = source.profile("prompts/get", q).await.map_err(rpc_error)?;
        let text = render::profile(&p, topic.as_deref());
        Ok(
            GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
                .with_description("Context the user shares with you from their ctxvault")
                .into(),
        )
    }
}
