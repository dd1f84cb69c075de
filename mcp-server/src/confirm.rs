//! Confirmations asked in the app: a view that, when a read needs the
//! user's yes, asks through MCP elicitation (a form with one yes/no
//! field) and retries the read with the answer. Declined, cancelled, an
//! error or no answer in time is a no. Used only for clients that declared
//! elicitation on a protocol version that lets the server ask (before
//! 2026-07-28); the others' reads wait for `ctxvault confirm`.

use std::sync::Arc;
use std::time::Duration;

use client_view::*;
use rmcp::RoleServer;
use rmcp::model::{ElicitRequestParams, ElicitationAction, ElicitationSchema, ProtocolVersion};
use rmcp::service::{Peer, RequestContext};
use uuid::Uuid;

/// The form field holding the answer.
const FIELD: &str = "allow";
/// How long the app may take to answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(60);

/// `view`, asking in the app when this client can.
pub(crate) fn in_app(
    view: Arc<dyn ClientView>,
    ctx: &RequestContext<RoleServer>,
) -> Arc<dyn ClientView> {
    let legacy = ctx
        .protocol_version()
        .is_none_or(|v| v < ProtocolVersion::V_2026_07_28);
    let can = ctx
        .client_capabilities()
        .is_some_and(|c| c.elicitation.is_some());
    if legacy && can && view.asking(None).is_some() {
        Arc::new(InApp {
            inner: view,
            peer: ctx.peer.clone(),
        })
    } else {
        view
    }
}

struct InApp {
    inner: Arc<dyn ClientView>,
    peer: Peer<RoleServer>,
}

impl InApp {
    /// The user's answer to `question`, asked in the app.
    async fn ask(&self, question: &str) -> bool {
        let Ok(schema) = ElicitationSchema::builder()
            .required_bool_with(FIELD, |b| {
                b.title("Allow this read")
                    .description("Yes lets the assistant read these notes for this request")
            })
            .build()
        else {
            return false;
        };
        let params = ElicitRequestParams::FormElicitationParams {
            meta: None,
            message: question.to_owned(),
            requested_schema: schema,
        };
        match self
            .peer
            .create_elicitation_with_timeout(params, Some(ANSWER_WITHIN))
            .await
        {
            Ok(r) => {
                r.action == ElicitationAction::Accept
                    && r.content
                        .as_ref()
                        .and_then(|c| c.get(FIELD))
                        .and_then(|v| v.as_bool())
                        == Some(true)
            }
            // The app could not ask, or did not answer in time: a no.
            Err(_) => false,
        }
    }

    /// Make a read; if it waits for a yes, ask and make it again with the
    /// answer.
    fn confirmed<'a, T: Send + 'a>(
        &'a self,
        call: impl Fn(Arc<dyn ClientView>) -> ViewFuture<'static, T> + Send + Sync + 'a,
    ) -> ViewFuture<'a, T> {
        Box::pin(async move {
            let Some(first) = self.inner.asking(None) else {
                return call(self.inner.clone()).await;
            };
            match call(first).await {
                Err(e) if e.kind == ViewErrorKind::NeedsConfirmation => {
                    let Some(ticket) = e.ticket else {
                        return Err(e);
                    };
                    let yes = self.ask(&e.message).await;
                    let again = self
                        .inner
                        .asking(Some(Answer { ticket, yes }))
                        .unwrap_or_else(|| self.inner.clone());
                    call(again).await
                }
                other => other,
            }
        })
    }
}

/// Run `f` on an owned view, so its future owns what it borrows.
fn owned<T: Send + 'static>(
    v: Arc<dyn ClientView>,
    f: impl FnOnce(&dyn ClientView) -> ViewFuture<'_, T> + Send + 'static,
) -> ViewFuture<'static, T> {
    Box::pin(async move { f(&*v).await })
}

impl ClientView for InApp {
    fn search(&self, tool: &'static str, q: SearchQuery) -> ViewFuture<'_, Vec<Hit>> {
        self.confirmed(move |v| {
            let q = q.clone();
            owned(v, move |v| v.search(tool, q))
        })
    }

    fn get(&self, tool: &'static str, id: Uuid) -> ViewFuture<'_, ContextItem> {
        self.confirmed(move |v| owned(v, move |v| v.get(tool, id)))
    }

    fn list(&self, tool: &'static str, q: ListQuery) -> ViewFuture<'_, Vec<ContextItem>> {
        self.confirmed(move |v| {
            let q = q.clone();
            owned(v, move |v| v.list(tool, q))
        })
    }

    fn page(&self, tool: &'static str, q: PageQuery) -> ViewFuture<'_, Page> {
        self.confirmed(move |v| {
            let q = q.clone();
            owned(v, move |v| v.page(tool, q))
        })
    }

    fn access(&self, tool: &'static str) -> ViewFuture<'_, AccessReport> {
        self.inner.access(tool)
    }

    fn actions(&self) -> ViewFuture<'_, Vec<Action>> {
        self.inner.actions()
    }

    fn profile(&self, tool: &'static str, q: ProfileQuery) -> ViewFuture<'_, Profile> {
        self.confirmed(move |v| {
            let q = q.clone();
            owned(v, move |v| v.profile(tool, q))
        })
    }

    fn remember(&self, tool: &'static str, r: RememberRequest) -> ViewFuture<'_, Remembered> {
        self.inner.remember(tool, r)
    }

    fn context(&self, tool: &'static str, q: ContextQuery) -> ViewFuture<'_, Profile> {
        self.confirmed(move |v| {
            let q = q.clone();
            owned(v, move |v| v.context(tool, q))
        })
    }
}
