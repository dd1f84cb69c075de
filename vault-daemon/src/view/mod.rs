//! The client view, implemented once: what one client may see and do, with
//! policy, redaction and the audit write inside every call. Doors reach it
//! through [`AgentView`] (in the agent's process) or over the socket
//! ([`crate::bridge::SocketView`]); both end in the typed methods here.

mod access;
mod profile;
pub mod reads;
mod remember;
pub mod visible;
#[cfg(test)]
mod visible_tests;

use std::future::Future;

use crate::protocol::Encoded;
use chrono::Utc;
use client_view::*;
use policies::ClientPolicy;
use uuid::Uuid;
use vault_core::audit::AuditEntry;
use vault_core::{ItemFilter, Namespace, SearchMode, Tag};

use crate::agent::AgentHandle;
use crate::owner::answer;
use crate::policy;
use crate::protocol::{ApiError, ErrorKind, Secret};
use crate::session::Session;

pub use remember::{
    PENDING_PER_CLIENT, REMEMBER_DEFAULT_NS, REMEMBER_MAX_BYTES, REMEMBER_PER_WINDOW,
    REMEMBER_WINDOW,
};

/// Namespace whose items make up a client's profile.
pub const PROFILE_NS: &str = "profile";
/// Kind of the items that are the user's preferences.
pub const PREFERENCE_KIND: &str = "preference";

/// Who asks: the client, the door's tool, and whether the call is on the
/// audit record (a user's dry run with `--as` is not).
#[derive(Clone, Debug)]
pub struct Who {
    /// The client's name.
    pub client: String,
    /// The MCP tool or method asking.
    pub tool: Option<String>,
    /// The door the call came through (`stdio`, `http`).
    pub door: Option<&'static str>,
    /// The model provider the answer goes to, when the door knows it (the
    /// proxy); else the one the client declared.
    pub to: Option<String>,
    /// Set when the door asks the user itself for confirmations.
    pub asking: Option<client_view::Asking>,
    /// Record the call in the audit log (only [`Who::dry_run`] does not).
    audited: bool,
}

impl Who {
    /// A client's audited call.
    pub fn client(client: String, tool: Option<String>, door: Option<&'static str>) -> Who {
        Who {
            client,
            tool,
            door,
            to: None,
            asking: None,
            audited: true,
        }
    }

    /// The same call from a door that asks the user itself.
    pub fn asking(self, asking: Option<client_view::Asking>) -> Who {
        Who { asking, ..self }
    }

    /// The same call, its answer going to the provider `to`.
    pub fn towards(self, to: Option<String>) -> Who {
        Who { to, ..self }
    }

    /// The user's dry run as `client`: the same answer, not recorded.
    pub fn dry_run(client: &str) -> Who {
        Who {
            client: client.to_owned(),
            tool: None,
            door: None,
            to: None,
            asking: None,
            audited: false,
        }
    }
}

/// A namespace and tags as a client sent them, checked.
pub(crate) fn filter_of(
    namespace: Option<String>,
    tags: Vec<String>,
) -> Result<ItemFilter, ApiError> {
    let namespace = match namespace
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        None => None,
        Some(n) => Some(n.parse::<Namespace>()?),
    };
    let tags = tags
        .iter()
        .map(|t| t.parse::<Tag>())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ItemFilter { namespace, tags })
}

impl Session {
    /// Run one read for `who`: answered through its policy and, unless a
    /// dry run, recorded in the audit log (also when it fails) before it is
    /// answered.
    async fn read<T, F, Fut>(
        &self,
        who: &Who,
        action: &str,
        query: Option<String>,
        f: F,
    ) -> Result<T, ApiError>
    where
        F: Fn(ClientPolicy) -> Fut,
        Fut: Future<Output = Result<reads::Seen<T>, ApiError>>,
    {
        self.read_to(who, action, query, None, f).await
    }

    /// [`Session::read`], its audit entry saying where the answer goes
    /// (`detail`; a failure's message replaces it).
    async fn read_to<T, F, Fut>(
        &self,
        who: &Who,
        action: &str,
        query: Option<String>,
        detail: Option<String>,
        f: F,
    ) -> Result<T, ApiError>
    where
        F: Fn(ClientPolicy) -> Fut,
        Fut: Future<Output = Result<reads::Seen<T>, ApiError>>,
    {
        if who.audited
            && let Err(wait) = self.reads.take(&who.client, std::time::Instant::now())
        {
            // Refused without an audit entry: writing one per refused read
            // would be the disk filler the limit is there to stop.
            return Err(ApiError::new(
                ErrorKind::RateLimited,
                format!(
                    "too many reads: a client may make {}; try again in {} ms",
                    self.reads.describe(),
                    wait.as_millis().max(1)
                ),
            ));
        }
        let mut entry = self.entry(who, action);
        entry.query = query.map(|q| audit_query(&q));
        entry.detail = detail;
        let p = self.compile(who).await?;
        entry.aspect = p.aspect().map(|a| a.name.clone());
        entry.provider = Some(self.destination(who).await.to_string());
        let result = if p.asks_confirmation() && who.audited {
            self.confirming(who, p, &f).await
        } else {
            f(p).await
        };
        if !who.audited {
            return result.map(|s| s.value);
        }
        let answer = match result {
            Ok(seen) => {
                entry.ids = seen.ids;
                entry.grants = seen.grants;
                Ok(seen.value)
            }
            Err(e) => {
                entry.detail = Some(e.message.clone());
                Err(e)
            }
        };
        self.vault.record_audit(&entry).await?;
        answer
    }

    pub(crate) fn entry(&self, who: &Who, action: &str) -> AuditEntry {
        AuditEntry {
            time: Utc::now(),
            client: Some(who.client.clone()),
            action: action.into(),
            query: None,
            ids: Vec::new(),
            grants: Vec::new(),
            detail: None,
            tool: who.tool.clone(),
            door: who.door.map(str::to_owned),
            provider: None,
            aspect: None,
        }
    }

    /// Search within the client's view (`mode` `None`: hybrid with a
    /// model, lexical without; clients always get that).
    pub async fn search_for(
        &self,
        who: &Who,
        q: SearchQuery,
        mode: Option<SearchMode>,
    ) -> Result<Vec<Hit>, ApiError> {
        check_query(&q.query).map_err(view_error)?;
        let filter = filter_of(q.namespace, q.tags)?;
        let query = q.query;
        let (text, filter) = (&query, &filter);
        self.read(who, "search", Some(query.clone()), |p| async move {
            reads::search_as(&self.vault, &self.views, &p, (text, mode), filter, q.limit).await
        })
        .await
    }

    /// One item, or "no item" (also for a hidden one).
    pub async fn get_for(&self, who: &Who, id: Uuid) -> Result<ContextItem, ApiError> {
        self.read(who, "get", Some(id.to_string()), |p| async move {
            reads::get_as(&self.vault, &p, &id).await
        })
        .await
    }

    /// Items the client may read, oldest first.
    pub async fn list_for(&self, who: &Who, q: ListQuery) -> Result<Vec<ContextItem>, ApiError> {
        let filter = filter_of(q.namespace, q.tags)?;
        let filter = &filter;
        self.read(who, "list", None, |p| async move {
            reads::list_as(&self.vault, &p, filter).await
        })
        .await
    }

    /// A page of what the client may read.
    pub async fn page_for(&self, who: &Who, q: PageQuery) -> Result<Page, ApiError> {
        let query = Some(format!("offset {}", q.offset));
        self.read(who, "list", query, |p| async move {
            reads::page_as(&self.vault, &p, q.offset, q.limit).await
        })
        .await
    }

    /// The actions the client holds now (reads no context: not audited).
    pub async fn actions_for(&self, who: &Who) -> Result<Vec<Action>, ApiError> {
        Ok(self.compile(who).await?.actions().list())
    }

    /// What the client can read, by namespace and sensitivity, and its
    /// actions and grants.
    pub async fn access_for(&self, who: &Who) -> Result<AccessReport, ApiError> {
        self.read(who, "describe-access", None, |p| async move {
            // What waits for a yes is not counted (a no must leave the
            // client knowing nothing of it); the summary names the scopes
            // that ask.
            Ok(reads::Seen {
                value: self.access_report(who, &p).await,
                ids: Vec::new(),
                grants: Vec::new(),
            })
        })
        .await
    }

    async fn access_report(&self, who: &Who, p: &ClientPolicy) -> AccessReport {
        let counted = p.confirmed(|_| false);
        let namespaces = namespace_counts(&self.vault, |g| {
            counted.allows(Action::Read, &policy::facts(g))
        })
        .await;
        let to = self.destination(who).await;
        let held: Vec<policies::Grant> = {
            let st = self.policy.read().await;
            let now = crate::clock::now();
            st.grants
                .iter()
                .filter(|g| g.client == who.client && !g.is_expired(now))
                .cloned()
                .collect()
        };
        let items: u64 = namespaces.iter().map(|n| n.total).sum();
        let summary = access::summary(&who.client, items, &to, &held, p);
        AccessReport {
            summary,
            destination: to.to_string(),
            aspect: p.aspect().map(|a| a.name.clone()),
            client: who.client.clone(),
            actions: p.actions().list(),
            grants: p.grants().len(),
            denies: p.denies().len(),
            items,
            namespaces,
            scopes: p
                .grants()
                .iter()
                .map(|g| GrantView {
                    scope: g.scope.to_string(),
                    actions: g.actions.list(),
                    tags: g.tags.clone(),
                    max_sensitivity: g.max_sensitivity,
                    expires: g.expires,
                    redact: g.redact.clone(),
                    providers: g.providers.words(),
                    confirm: g.confirm.is_some(),
                })
                .collect(),
        }
    }

    /// A client call from the socket, answered by the typed method it names.
    pub async fn client_call(&self, who: &Who, call: ClientCall) -> Result<Encoded, ApiError> {
        match call {
            ClientCall::Search(q) => answer(self.search_for(who, q, None).await),
            ClientCall::Get(q) => answer(self.get_for(who, q.id).await),
            ClientCall::List(q) => answer(self.list_for(who, q).await),
            ClientCall::Page(q) => answer(self.page_for(who, q).await),
            ClientCall::Access(_) => answer(self.access_for(who).await),
            ClientCall::Actions(_) => answer(self.actions_for(who).await),
            ClientCall::Profile(q) => answer(self.profile_for(who, q).await),
            ClientCall::Remember(r) => answer(self.remember_for(who, r).await),
            ClientCall::Context(q) => answer(self.context_for(who, q).await),
        }
    }
}

/// Most characters of a query kept in its audit entry.
const AUDIT_QUERY_CHARS: usize = 200;

/// A query as its audit entry keeps it: bounded, with its full length said
/// when cut.
fn audit_query(q: &str) -> String {
    let n = q.chars().count();
    if n <= AUDIT_QUERY_CHARS {
        return q.to_owned();
    }
    let kept: String = q.chars().take(AUDIT_QUERY_CHARS).collect();
    format!("{kept}… ({n} characters)")
}

/// A view error from a check made here, as the agent answers it.
fn view_error(e: ViewError) -> ApiError {
    ApiError::new(ErrorKind::Invalid, e.message)
}

/// An item the user wrote, imported or approved (not one a client stored
/// on its own).
fn vouched(i: &client_view::ContextItem) -> bool {
    !matches!(i.provenance(), client_view::Provenance::Client(_))
}

/// The client view inside the agent's process (the HTTP door): each call
/// finds the client by its token at that moment, so a revoked or rotated
/// token, a lock and a grant change apply to the very next call.
pub struct AgentView {
    agent: AgentHandle,
    token: Secret,
    /// The door its calls come through, for the audit log.
    door: &'static str,
    /// The provider its answers go to, when the door knows it.
    to: Option<String>,
    /// Set when the door asks the user itself for confirmations.
    asking: Option<Asking>,
}

impl AgentView {
    /// The view of the client holding `token`.
    pub fn new(agent: AgentHandle, token: Secret, door: &'static str) -> Self {
        AgentView {
            agent,
            token,
            door,
            to: None,
            asking: None,
        }
    }

    /// The same view, its answers going to the provider `to` (the proxy
    /// knows where each request is routed).
    pub fn towards(self, to: &str) -> Self {
        AgentView {
            to: Some(to.to_owned()),
            ..self
        }
    }

    /// Run `f` as its own task (a client that hangs up must not cancel a
    /// write between its commit and the index update).
    fn run<T, F, Fut>(&self, tool: Option<&'static str>, f: F) -> ViewFuture<'_, T>
    where
        T: Send + 'static,
        F: FnOnce(std::sync::Arc<Session>, Who) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, ApiError>> + Send + 'static,
    {
        let agent = self.agent.clone();
        let token = self.token.clone();
        let door = self.door;
        let to = self.to.clone();
        let asking = self.asking;
        Box::pin(async move {
            let task = tokio::spawn(async move {
                let (session, client) = agent.client_session(&token).await?;
                f(
                    session,
                    Who::client(client, tool.map(str::to_owned), Some(door))
                        .towards(to)
                        .asking(asking),
                )
                .await
            });
            match task.await {
                Ok(r) => r.map_err(ViewError::from),
                Err(e) => Err(ViewError::new(
                    ViewErrorKind::Internal,
                    format!("request failed: {e}"),
                )),
            }
        })
    }
}

impl ClientView for AgentView {
    fn search(&self, tool: &'static str, q: SearchQuery) -> ViewFuture<'_, Vec<Hit>> {
        self.run(
            Some(tool),
            |s, w| async move { s.search_for(&w, q, None).await },
        )
    }

    fn get(&self, tool: &'static str, id: Uuid) -> ViewFuture<'_, ContextItem> {
        self.run(
            Some(tool),
            move |s, w| async move { s.get_for(&w, id).await },
        )
    }

    fn list(&self, tool: &'static str, q: ListQuery) -> ViewFuture<'_, Vec<ContextItem>> {
        self.run(Some(tool), |s, w| async move { s.list_for(&w, q).await })
    }

    fn page(&self, tool: &'static str, q: PageQuery) -> ViewFuture<'_, Page> {
        self.run(Some(tool), |s, w| async move { s.page_for(&w, q).await })
    }

    fn access(&self, tool: &'static str) -> ViewFuture<'_, AccessReport> {
        self.run(Some(tool), |s, w| async move { s.access_for(&w).await })
    }

    fn actions(&self) -> ViewFuture<'_, Vec<Action>> {
        self.run(None, |s, w| async move { s.actions_for(&w).await })
    }

    fn profile(&self, tool: &'static str, q: ProfileQuery) -> ViewFuture<'_, Profile> {
        self.run(Some(tool), |s, w| async move { s.profile_for(&w, q).await })
    }

    fn remember(&self, tool: &'static str, r: RememberRequest) -> ViewFuture<'_, Remembered> {
        self.run(
            Some(tool),
            |s, w| async move { s.remember_for(&w, r).await },
        )
    }

    fn context(&self, tool: &'static str, q: ContextQuery) -> ViewFuture<'_, Profile> {
        self.run(Some(tool), |s, w| async move { s.context_for(&w, q).await })
    }

    fn asking(&self, answer: Option<Answer>) -> Option<std::sync::Arc<dyn ClientView>> {
        Some(std::sync::Arc::new(AgentView {
            agent: self.agent.clone(),
            token: self.token.clone(),
            door: self.door,
            to: self.to.clone(),
            asking: Some(Asking { answer }),
        }))
    }
}

/// The error for a client call while the vault is locked.
pub(crate) fn locked_error() -> ApiError {
    ApiError::new(ErrorKind::Locked, "vault is locked: run `ctxvault unlock`")
}

/// Items per namespace, by sensitivity, of the groups `keep` accepts.
pub(crate) async fn namespace_counts(
    vault: &vault_core::vault::UnlockedVault,
    keep: impl Fn(&vault_core::vault::GroupKey) -> bool,
) -> Vec<NamespaceCount> {
    vault
        .namespace_counts(keep)
        .await
        .into_iter()
        .map(|(ns, [public, normal, private, secret])| NamespaceCount {
            namespace: ns.to_string(),
            public,
            normal,
            private,
            secret,
            total: public + normal + private + secret,
        })
        .collect()
}
