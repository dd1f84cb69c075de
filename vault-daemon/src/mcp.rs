//! The MCP bridge: a [`ContextSource`] that asks the agent, over its socket,
//! with the client's token. The agent applies the client's grants and
//! redactions and records every call in the audit log; this side only
//! relays. `ctxvault mcp` serves it over stdio.

use mcp_server::{
    AccessInfo, ContextServer, ContextSource, NamespaceInfo, SourceError, SourceFuture,
};
use uuid::Uuid;
use vault_core::{Item, Namespace, SearchHit, Tag};

use crate::client::{Client, TransportError};
use crate::protocol::{ClientCall, Request, Response, Secret};

/// The agent, seen as one client (by its token).
pub struct AgentSource {
    client: Client,
    token: Secret,
}

impl AgentSource {
    /// A source asking the agent behind `client` with `token`.
    pub fn new(client: Client, token: Secret) -> Self {
        AgentSource { client, token }
    }

    async fn call(&self, call: ClientCall) -> Result<Response, SourceError> {
        let req = Request::AsClient {
            token: self.token.clone(),
            call,
        };
        match self.client.call(&req).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(SourceError(e.message)),
            Err(TransportError::NotRunning(_)) => Err(SourceError(
                "the ctxvault agent is not running: run `ctxvault unlock` to start it".into(),
            )),
            Err(e) => Err(SourceError(format!(
                "the ctxvault agent cannot be reached: {e}"
            ))),
        }
    }
}

fn unexpected(r: &Response) -> SourceError {
    SourceError(format!(
        "the agent gave an unexpected answer ({})",
        r.variant()
    ))
}

impl ContextSource for AgentSource {
    fn search(
        &self,
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
            match self.call(call).await? {
                Response::Hits(h) => Ok(h),
                other => Err(unexpected(&other)),
            }
        })
    }

    fn get(&self, id: Uuid) -> SourceFuture<'_, Item> {
        Box::pin(async move {
            match self.call(ClientCall::Get { id }).await? {
                Response::Item(i) => Ok(i),
                other => Err(unexpected(&other)),
            }
        })
    }

    fn access(&self) -> SourceFuture<'_, AccessInfo> {
        Box::pin(async move {
            match self.call(ClientCall::Access).await? {
                Response::Access(a) => Ok(AccessInfo {
                    client: a.client,
                    actions: a.actions.iter().map(|x| x.as_str().to_owned()).collect(),
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
}

/// Serve the MCP protocol on stdin/stdout until the client hangs up.
pub async fn serve_stdio(source: AgentSource) -> std::io::Result<()> {
    use rmcp::ServiceExt;
    let service = ContextServer::new(std::sync::Arc::new(source))
        .serve(rmcp::transport::stdio())
        .await
        .map_err(std::io::Error::other)?;
    service.waiting().await.map_err(std::io::Error::other)?;
    Ok(())
}
