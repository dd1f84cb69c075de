//! The MCP stdio bridge: `ctxvault mcp` serves the MCP door on
//! stdin/stdout over a [`SocketView`], the client view reached over the
//! agent's socket with the client's token. The agent applies the client's
//! grants and redactions and records every call; this side only relays.
//!
//! When the agent stops under an open session (a crash, kill -9, `stop`),
//! or answers "locked", the bridge asks its [`Revive`] (the CLI's: start the
//! agent, and unlock it where the user's configuration allows, by the same
//! rules as every other command) and sends the call once more. A
//! `remember` carries an idempotency key, so its retry never stores twice.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use client_view::*;
use mcp_server::ContextServer;
use uuid::Uuid;

use crate::client::{Client, TransportError};
use crate::protocol::Secret;

/// Brings the agent back for the bridge: starts it when it is not running
/// and unlocks it where allowed. `Err` says why it could not.
pub trait Revive: Send + Sync {
    /// Make a running, and if possible unlocked, agent; `locked` says the
    /// agent answered "locked" (so only an unlock is needed).
    fn revive(&self, locked: bool)
    -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>>;
}

/// The client view of the client holding `token`, over the agent's socket.
pub struct SocketView {
    client: Client,
    token: Secret,
    revive: Option<Arc<dyn Revive>>,
    asking: Option<Asking>,
}

impl SocketView {
    /// The view behind `client` for the client holding `token`.
    pub fn new(client: Client, token: Secret) -> Self {
        SocketView {
            client,
            token,
            revive: None,
            asking: None,
        }
    }

    /// The same view, bringing the agent back with `revive` when it has
    /// stopped or is locked.
    pub fn with_revive(mut self, revive: Arc<dyn Revive>) -> Self {
        self.revive = Some(revive);
        self
    }

    fn ask<C: ViewCall + Clone + Send + Sync + 'static>(
        &self,
        tool: Option<&'static str>,
        call: C,
    ) -> ViewFuture<'_, C::Answer>
    where
        C::Answer: Send,
    {
        Box::pin(async move {
            let first = self
                .client
                .call_view(&self.token, tool, call.clone(), self.asking)
                .await;
            let again = match (&first, &self.revive) {
                (Err(TransportError::NotRunning(_) | TransportError::Interrupted(_)), Some(r)) => {
                    Some(r.revive(false).await)
                }
                (Ok(Err(e)), Some(r)) if e.kind == crate::protocol::ErrorKind::Locked => {
                    Some(r.revive(true).await)
                }
                _ => None,
            };
            let result = match again {
                Some(Ok(())) => {
                    self.client
                        .call_view(&self.token, tool, call, self.asking)
                        .await
                }
                // Locked and no way to unlock here: the agent's own answer.
                Some(Err(_)) if matches!(first, Ok(Err(_))) => first,
                Some(Err(why)) => {
                    return Err(ViewError::new(ViewErrorKind::Unavailable, why));
                }
                None => first,
            };
            match result {
                Ok(answer) => answer.map_err(ViewError::from),
                Err(TransportError::NotRunning(_)) => Err(ViewError::new(
                    ViewErrorKind::Unavailable,
                    "the ctxvault agent is not running: run `ctxvault unlock` to start it",
                )),
                Err(e) => Err(ViewError::new(
                    ViewErrorKind::Unavailable,
                    format!("the ctxvault agent cannot be reached: {e}"),
                )),
            }
        })
    }
}

impl ClientView for SocketView {
    fn search(&self, tool: &'static str, q: SearchQuery) -> ViewFuture<'_, Vec<Hit>> {
        self.ask(Some(tool), q)
    }

    fn get(&self, tool: &'static str, id: Uuid) -> ViewFuture<'_, ContextItem> {
        self.ask(Some(tool), GetQuery { id })
    }

    fn list(&self, tool: &'static str, q: ListQuery) -> ViewFuture<'_, Vec<ContextItem>> {
        self.ask(Some(tool), q)
    }

    fn page(&self, tool: &'static str, q: PageQuery) -> ViewFuture<'_, Page> {
        self.ask(Some(tool), q)
    }

    fn access(&self, tool: &'static str) -> ViewFuture<'_, AccessReport> {
        self.ask(Some(tool), AccessQuery {})
    }

    fn actions(&self) -> ViewFuture<'_, Vec<Action>> {
        self.ask(Some("tools/list"), ActionsQuery {})
    }

    fn profile(&self, tool: &'static str, q: ProfileQuery) -> ViewFuture<'_, Profile> {
        self.ask(Some(tool), q)
    }

    fn remember(&self, tool: &'static str, r: RememberRequest) -> ViewFuture<'_, Remembered> {
        self.ask(Some(tool), r)
    }

    fn context(&self, tool: &'static str, q: ContextQuery) -> ViewFuture<'_, Profile> {
        self.ask(Some(tool), q)
    }

    fn asking(&self, answer: Option<Answer>) -> Option<Arc<dyn ClientView>> {
        Some(Arc::new(SocketView {
            client: self.client.clone(),
            token: self.token.clone(),
            revive: self.revive.clone(),
            asking: Some(Asking { answer }),
        }))
    }
}

/// Serve the MCP protocol on stdin/stdout until the client hangs up.
pub async fn serve_stdio(view: SocketView) -> std::io::Result<()> {
    use rmcp::ServiceExt;
    let service = ContextServer::new(Arc::new(view))
        .serve(rmcp::transport::stdio())
        .await
        .map_err(std::io::Error::other)?;
    service.waiting().await.map_err(std::io::Error::other)?;
    Ok(())
}
