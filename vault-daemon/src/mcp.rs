//! The MCP bridge: a [`ContextSource`] that asks the agent as one client,
//! by its token. The agent applies the client's grants and redactions and
//! records every call in the audit log; this side only relays. `ctxvault
//! mcp` serves it over stdio (the agent reached over its socket); the
//! agent's HTTP endpoint uses the same source in process.

use std::sync::Arc;

use mcp_server::{
    AccessInfo, ContextServer, ContextSource, NamespaceInfo, Profile, RememberOutcome,
    RememberRequest, ScopeInfo, SourceError, SourceErrorKind, SourceFuture,
};
use uuid::Uuid;
use vault_core::{Item, Namespace, SearchHit, Tag};

use crate::client::{Client, TransportError};
use crate::protocol::{ClientCall, ErrorKind, Request, Response, Secret};
use crate::server::AgentHandle;

/// How the source reaches the agent.
enum Via {
    /// Over the agent's Unix socket (the stdio bridge).
    Socket(Client),
    /// In the agent's own process (its HTTP endpoint).
    InProcess(AgentHandle),
}

/// The agent, seen as one client (by its token).
pub struct AgentSource {
    via: Via,
    token: Secret,
}

impl AgentSource {
    /// A source asking the agent behind `client` with `token`.
    pub fn new(client: Client, token: Secret) -> Self {
        AgentSource {
            via: Via::Socket(client),
            token,
        }
    }

    /// A source inside the agent's process.
    pub(crate) fn in_process(agent: AgentHandle, token: Secret) -> Self {
        AgentSource {
            via: Via::InProcess(agent),
            token,
        }
    }

    async fn call(&self, tool: &str, call: ClientCall) -> Result<Response, SourceError> {
        let req = Request::AsClient {
            token: self.token.clone(),
            call,
            tool: Some(tool.to_owned()),
        };
        let answer = match &self.via {
            Via::InProcess(agent) => agent.call(req).await,
            Via::Socket(client) => match client.call(&req).await {
                Ok(answer) => answer,
                Err(TransportError::NotRunning(_)) => {
                    return Err(SourceError::other(
                        "the ctxvault agent is not running: run `ctxvault unlock` to start it",
                    ));
                }
                Err(e) => {
                    return Err(SourceError::other(format!(
                        "the ctxvault agent cannot be reached: {e}"
                    )));
                }
            },
        };
        answer.map_err(|e| SourceError {
            kind: match e.kind {
                ErrorKind::NoItem => SourceErrorKind::NotFound,
                ErrorKind::Invalid | ErrorKind::Forbidden | ErrorKind::RateLimited => {
                    SourceErrorKind::Invalid
                }
                _ => SourceErrorKind::Other,
            },
            message: e.message,
        })
    }
}

fn unexpected(r: &Response) -> SourceError {
    SourceError::other(format!(
        "the agent gave an unexpected answer ({})",
        r.variant()
    ))
}

impl ContextSource for AgentSource {
    fn search(
        &self,
        tool: &'static str,
        query: String,
        namespace: Option<Namespace>,
        tags: Vec<Tag>,
        limit: u32,
    ) -> SourceFuture<'_, Vec<SearchHit>> {
        Box::pin(async move {
            let call = ClientCall::Search {
                query,
                namespace,
                tags,
                limit: limit as usize,
            };
            match self.call(tool, call).await? {
                Response::Hits(h) => Ok(h),
                other => Err(unexpected(&other)),
            }
        })
    }

    fn get(&self, tool: &'static str, id: Uuid) -> SourceFuture<'_, Item> {
        Box::pin(async move {
            match self.call(tool, ClientCall::Get { id }).await? {
                Response::Item(i) => Ok(i),
                other => Err(unexpected(&other)),
            }
        })
    }

    fn access(&self, tool: &'static str) -> SourceFuture<'_, AccessInfo> {
        Box::pin(async move {
            match self.call(tool, ClientCall::Access).await? {
                Response::Access(a) => Ok(AccessInfo {
                    client: a.client,
                    actions: a.actions.iter().map(|x| x.as_str().to_owned()).collect(),
                    grants: a
                        .scopes
                        .into_iter()
                        .map(|g| ScopeInfo {
                            scope: g.scope,
                            actions: g.actions.iter().map(|x| x.as_str().to_owned()).collect(),
                            tags: g.tags,
                            max_sensitivity: g.max_sensitivity.to_string(),
                            expires: g.expires.map(|e| e.to_rfc3339()),
                            redact: g.redact.iter().map(|r| r.to_string()).collect(),
                        })
                        .collect(),
                    namespaces: a
                        .namespaces
                        .into_iter()
                        .map(|n| NamespaceInfo {
                            namespace: n.namespace,
                            items: n.total,
                        })
                        .collect(),
                }),
                other => Err(unexpected(&other)),
            }
        })
    }

    fn actions(&self) -> SourceFuture<'_, Vec<String>> {
        Box::pin(async move {
            match self.call("tools/list", ClientCall::Actions).await? {
                Response::Actions(a) => Ok(a.iter().map(|x| x.as_str().to_owned()).collect()),
                other => Err(unexpected(&other)),
            }
        })
    }

    fn page(
        &self,
        tool: &'static str,
        offset: usize,
        limit: usize,
    ) -> SourceFuture<'_, (Vec<Item>, Option<usize>)> {
        Box::pin(async move {
            match self.call(tool, ClientCall::Page { offset, limit }).await? {
                Response::Page { items, next } => Ok((items, next)),
                other => Err(unexpected(&other)),
            }
        })
    }

    fn profile(
        &self,
        tool: &'static str,
        topic: Option<String>,
        limit: usize,
    ) -> SourceFuture<'_, Profile> {
        Box::pin(async move {
            match self
                .call(tool, ClientCall::Profile { topic, limit })
                .await?
            {
                Response::Profile { items, hits } => Ok(Profile { items, hits }),
                other => Err(unexpected(&other)),
            }
        })
    }

    fn remember(
        &self,
        tool: &'static str,
        req: RememberRequest,
    ) -> SourceFuture<'_, RememberOutcome> {
        Box::pin(async move {
            let call = ClientCall::Remember {
                content: req.content,
                namespace: req.namespace,
                tags: req.tags,
                kind: req.kind,
                title: req.title,
            };
            match self.call(tool, call).await? {
                Response::Remembered(r) => Ok(RememberOutcome {
                    id: r.id,
                    status: r.status,
                    namespace: r.namespace,
                }),
                other => Err(unexpected(&other)),
            }
        })
    }
}

/// Serve the MCP protocol on stdin/stdout until the client hangs up.
pub async fn serve_stdio(source: AgentSource) -> std::io::Result<()> {
    use rmcp::ServiceExt;
    let service = ContextServer::new(Arc::new(source))
        .serve(rmcp::transport::stdio())
        .await
        .map_err(std::io::Error::other)?;
    service.waiting().await.map_err(std::io::Error::other)?;
    Ok(())
}
