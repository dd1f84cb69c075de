//! An unlocked session: the vault with its policy state, and the handling
//! of every request that needs them.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use policies::{Action, ClientPolicy, Decision, DenyRule, Grant, ItemFacts, Sensitivity};
use tokio::sync::RwLock;
use uuid::Uuid;
use vault_core::audit::AuditEntry;
use vault_core::vault::RecordChange;
use vault_core::{Item, ItemFilter, Kind, Namespace, NewItem, Tag, UnlockedVault};

use crate::policy::{self, PolicyState};
use crate::protocol::{
    AccessReport, ApiError, ClientCall, ClientInfo, ErrorKind, GrantView, ImportSummary,
    NamespaceCount, Proposal, Remembered, Request, Response, RuleInfo,
};

/// Largest `remember` content, in bytes.
pub const REMEMBER_MAX_BYTES: usize = 16 * 1024;
/// Most `remember` calls a client may make in [`REMEMBER_WINDOW`].
pub const REMEMBER_PER_WINDOW: usize = 30;
/// The window of the `remember` rate limit.
pub const REMEMBER_WINDOW: Duration = Duration::from_secs(60);
/// Most proposals one client may have waiting for review.
pub const PENDING_PER_CLIENT: usize = 100;
/// Where `remember` stores when no namespace is given.
pub const REMEMBER_DEFAULT_NS: &str = "inbox";
/// Namespace whose items make up a client's profile.
pub const PROFILE_NS: &str = "profile";
/// Kind of the items that are the user's preferences.
pub const PREFERENCE_KIND: &str = "preference";

/// The unlocked vault and its clients, grants and deny rules.
pub struct Session {
    /// The vault.
    pub vault: UnlockedVault,
    policy: RwLock<PolicyState>,
    /// Recent `remember` calls per client, for the rate limit.
    remembers: Mutex<HashMap<String, VecDeque<Instant>>>,
}

fn grant_view(g: &Grant) -> GrantView {
    GrantView {
        scope: g.scope.to_string(),
        actions: g.actions.list(),
        tags: g.tags.clone(),
        max_sensitivity: g.max_sensitivity,
        expires: g.expires,
        redact: g.redact.clone(),
    }
}

fn used_grants(d: &Decision) -> Option<Vec<Uuid>> {
    match d {
        Decision::Allow { grants, .. } => Some(grants.clone()),
        Decision::Deny(_) => None,
    }
}

/// Note what a client read in its audit entry, and shape the answer; a
/// failure's message becomes the entry's detail.
fn settle<T>(
    entry: &mut AuditEntry,
    result: Result<policy::Seen<T>, ApiError>,
    answer: impl FnOnce(T) -> Response,
) -> (Result<Response, ApiError>, Option<String>) {
    match result {
        Ok(seen) => {
            entry.ids = seen.ids;
            entry.grants = seen.grants;
            (Ok(answer(seen.value)), None)
        }
        Err(e) => (Err(e.clone()), Some(e.message)),
    }
}

/// The proposal `id`, or an error naming the fix.
fn proposal(st: &PolicyState, id: Uuid) -> Result<&Proposal, ApiError> {
    st.pending.iter().find(|p| p.id == id).ok_or_else(|| {
        ApiError::new(
            ErrorKind::NoProposal,
            format!("no proposal {id}; list them with `ctxvault pending`"),
        )
    })
}

fn rule_info_grant(g: &Grant, now: chrono::DateTime<Utc>) -> RuleInfo {
    RuleInfo {
        id: g.id,
        kind: "grant".into(),
        client: g.client.clone(),
        scope: g.scope.to_string(),
        actions: g.actions.list(),
        tags: g.tags.clone(),
        max_sensitivity: Some(g.max_sensitivity),
        expires: g.expires,
        expired: g.is_expired(now),
        redact: g.redact.clone(),
        created_at: g.created_at,
    }
}

fn rule_info_deny(d: &DenyRule) -> RuleInfo {
    RuleInfo {
        id: d.id,
        kind: "deny".into(),
        client: d.client.clone(),
        scope: d.scope.to_string(),
        actions: Vec::new(),
        tags: Vec::new(),
        max_sensitivity: None,
        expires: None,
        expired: false,
        redact: Vec::new(),
        created_at: d.created_at,
    }
}

impl Session {
    /// Open a session: load the policy records.
    pub async fn new(vault: UnlockedVault) -> Result<Session, ApiError> {
        let policy = PolicyState::load(vault.records().await?)?;
        Ok(Session {
            vault,
            policy: RwLock::new(policy),
            remembers: Mutex::new(HashMap::new()),
        })
    }

    /// How many proposals wait for review.
    pub async fn pending_count(&self) -> u64 {
        self.policy.read().await.pending.len() as u64
    }

    /// The SHA-256 of every client token, with the client's name.
    pub async fn token_table(&self) -> HashMap<String, String> {
        self.policy.read().await.token_table()
    }

    /// Write a policy change with its audit entry in one transaction, then
    /// apply it to the in-memory copy the caller holds locked.
    async fn commit_policy(
        &self,
        st: &mut PolicyState,
        put: Vec<vault_core::vault::Record>,
        delete: Vec<Uuid>,
        entry: AuditEntry,
    ) -> Result<(), ApiError> {
        self.vault
            .commit(policy::change(put.clone(), delete.clone(), entry))
            .await?;
        st.apply(&put, &delete)
    }

    /// Register `name` (or, with `rotate`, replace its token); answers the
    /// new token.
    async fn client_token(&self, name: String, rotate: bool) -> Result<Response, ApiError> {
        let mut st = self.policy.write().await;
        let (rec, token) = if rotate {
            st.rotate(&name, Utc::now())?
        } else {
            st.add_client(&name, Utc::now())?
        };
        let action = if rotate {
            "client-rotate"
        } else {
            "client-add"
        };
        let entry = policy::user_entry(action, vec![], format!("client {name}"));
        self.commit_policy(&mut st, vec![policy::client_record(&rec)?], vec![], entry)
            .await?;
        Ok(Response::ClientToken { name, token })
    }

    async fn compile(&self, client: &str) -> Result<ClientPolicy, ApiError> {
        self.policy.read().await.compile(client, Utc::now())
    }

    /// Handle a request that needs the unlocked vault.
    pub async fn handle(&self, req: Request) -> Result<Response, ApiError> {
        let v = &self.vault;
        match req {
            Request::Add { item } => Ok(Response::Item(v.add(item).await?)),
            Request::Get { id } => Ok(Response::Item(v.get(&id).await?)),
            Request::Edit { id, patch } => Ok(Response::Item(v.edit(&id, patch).await?)),
            Request::Remove { id } => {
                v.remove(&id).await?;
                Ok(Response::Done)
            }
            Request::List {
                filter,
                as_client: None,
            } => Ok(Response::Items(v.list(&filter).await?)),
            Request::List {
                filter,
                as_client: Some(c),
            } => {
                let p = self.compile(&c).await?;
                Ok(Response::Items(
                    policy::list_as(v, &p, &filter).await?.value,
                ))
            }
            Request::Search {
                query,
                filter,
                limit,
                as_client: None,
            } => Ok(Response::Hits(v.search(&query, &filter, limit).await?)),
            Request::Search {
                query,
                filter,
                limit,
                as_client: Some(c),
            } => {
                let p = self.compile(&c).await?;
                Ok(Response::Hits(
                    policy::search_as(v, &p, &query, &filter, limit)
                        .await?
                        .value,
                ))
            }
            Request::ClientAdd { name } => self.client_token(name, false).await,
            Request::ClientRotate { name } => self.client_token(name, true).await,
            Request::ClientRemove { name } => {
                let mut st = self.policy.write().await;
                let id = st.client(&name)?.id;
                let mut delete = st.rule_ids_of(&name);
                let rules = delete.clone();
                delete.push(id);
                let entry = policy::user_entry(
                    "client-rm",
                    rules,
                    format!("client {name} with its token and rules"),
                );
                self.commit_policy(&mut st, vec![], delete, entry).await?;
                Ok(Response::Done)
            }
            Request::ClientList => {
                let st = self.policy.read().await;
                let mut clients: Vec<ClientInfo> = st
                    .clients
                    .iter()
                    .map(|c| ClientInfo {
                        name: c.name.clone(),
                        created_at: c.created_at,
                        rotated_at: c.rotated_at,
                        grants: st.grants.iter().filter(|g| g.client == c.name).count(),
                        denies: st.denies.iter().filter(|d| d.client == c.name).count(),
                    })
                    .collect();
                clients.sort_by(|a, b| a.name.cmp(&b.name));
                Ok(Response::Clients(clients))
            }
            Request::GrantAdd {
                client,
                scope,
                actions,
                tags,
                max_sensitivity,
                expires,
                redact,
            } => {
                let now = Utc::now();
                let mut st = self.policy.write().await;
                st.client(&client)?;
                if actions.is_empty() {
                    return Err(ApiError::new(
                        ErrorKind::Invalid,
                        "no action given; use read, propose or write",
                    ));
                }
                if let Some(e) = expires.filter(|e| *e <= now) {
                    return Err(ApiError::new(
                        ErrorKind::Invalid,
                        format!(
                            "expiry {} is in the past; give a duration such as 2h or 30d, or a future RFC3339 time",
                            e.to_rfc3339()
                        ),
                    ));
                }
                let mut redact = redact;
                redact.sort();
                redact.dedup();
                let g = Grant {
                    id: Uuid::now_v7(),
                    client: client.clone(),
                    actions,
                    scope,
                    tags: tags.iter().map(|t| t.as_str().to_owned()).collect(),
                    max_sensitivity,
                    expires,
                    redact,
                    created_at: now,
                };
                let put = vec![policy::grant_record(&g)?];
                let detail = format!(
                    "grant {} {} on {}",
                    client,
                    g.actions
                        .list()
                        .iter()
                        .map(|a| a.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                    g.scope
                );
                self.commit_policy(
                    &mut st,
                    put,
                    vec![],
                    policy::user_entry("grant", vec![g.id], detail),
                )
                .await?;
                Ok(Response::RuleId(g.id))
            }
            Request::DenyAdd { client, scope } => {
                let mut st = self.policy.write().await;
                st.client(&client)?;
                let d = DenyRule {
                    id: Uuid::now_v7(),
                    client: client.clone(),
                    scope,
                    created_at: Utc::now(),
                };
                let put = vec![policy::deny_record(&d)?];
                let detail = format!("deny {} on {}", client, d.scope);
                self.commit_policy(
                    &mut st,
                    put,
                    vec![],
                    policy::user_entry("deny", vec![d.id], detail),
                )
                .await?;
                Ok(Response::RuleId(d.id))
            }
            Request::Revoke { id } => {
                let mut st = self.policy.write().await;
                let known =
                    st.grants.iter().any(|g| g.id == id) || st.denies.iter().any(|d| d.id == id);
                if !known {
                    return Err(ApiError::new(
                        ErrorKind::NoRule,
                        format!("no grant or deny rule {id}; list them with `ctxvault grants`"),
                    ));
                }
                let entry = policy::user_entry("revoke", vec![id], format!("rule {id}"));
                self.commit_policy(&mut st, vec![], vec![id], entry).await?;
                Ok(Response::Done)
            }
            Request::RevokeAll { client } => {
                let mut st = self.policy.write().await;
                st.client(&client)?;
                let ids = st.rule_ids_of(&client);
                let entry = policy::user_entry(
                    "revoke-all",
                    ids.clone(),
                    format!("every rule of {client}"),
                );
                self.commit_policy(&mut st, vec![], ids.clone(), entry)
                    .await?;
                Ok(Response::Count(ids.len() as u64))
            }
            Request::Rules { client } => {
                let st = self.policy.read().await;
                if let Some(c) = &client {
                    st.client(c)?;
                }
                let now = Utc::now();
                let wanted = |c: &str| client.as_deref().is_none_or(|w| w == c);
                let mut rules: Vec<RuleInfo> = st
                    .grants
                    .iter()
                    .filter(|g| wanted(&g.client))
                    .map(|g| rule_info_grant(g, now))
                    .chain(
                        st.denies
                            .iter()
                            .filter(|d| wanted(&d.client))
                            .map(rule_info_deny),
                    )
                    .collect();
                rules.sort_by(|a, b| (&a.client, a.created_at).cmp(&(&b.client, b.created_at)));
                Ok(Response::Rules(rules))
            }
            Request::Access { client } => Ok(Response::Access(self.access(&client).await?)),
            Request::AsClient { token, call, tool } => {
                let name = self
                    .policy
                    .read()
                    .await
                    .client_by_token(token.expose_secret())?
                    .name
                    .clone();
                self.client_call(&name, call, tool).await
            }
            Request::Audit {
                client,
                since,
                limit,
            } => {
                let mut entries = v.audit_entries().await?;
                entries.retain(|e| {
                    client
                        .as_deref()
                        .is_none_or(|c| e.entry.client.as_deref() == Some(c))
                        && since.is_none_or(|s| e.entry.time >= s)
                });
                if let Some(n) = limit {
                    let skip = entries.len().saturating_sub(n);
                    entries.drain(..skip);
                }
                Ok(Response::Audit(entries))
            }
            Request::AuditVerify => Ok(Response::AuditReport(v.audit_verify().await?)),
            Request::PendingList => {
                let st = self.policy.read().await;
                let mut out = st.pending.clone();
                out.sort_by_key(|p| (p.created_at, p.id));
                Ok(Response::Pending(out))
            }
            Request::Approve { id, namespace } => self.approve(id, namespace).await,
            Request::Reject { id } => {
                let mut st = self.policy.write().await;
                let p = proposal(&st, id)?;
                let entry = policy::user_entry(
                    "reject",
                    vec![],
                    format!("proposal {id} from {} for {}", p.client, p.namespace),
                );
                self.commit_policy(&mut st, vec![], vec![id], entry).await?;
                Ok(Response::Done)
            }
            Request::Import {
                items,
                clients,
                grants,
                denies,
                dry_run,
            } => self.import(items, clients, grants, denies, dry_run).await,
            Request::Hello
            | Request::Status
            | Request::Init { .. }
            | Request::Unlock { .. }
            | Request::Lock
            | Request::Stop
            | Request::Passwd { .. }
            | Request::IdentityAdd { .. }
            | Request::IdentityRm { .. }
            | Request::IdentityList
            | Request::Rekey { .. } => Err(ApiError::new(
                ErrorKind::Internal,
                "request routed to the wrong handler",
            )),
        }
    }

    /// Bring in items and policy records in one transaction. Clients come
    /// without a usable token (a bundle never holds one): `client rotate`
    /// gives them one. Records already present, or for a client neither
    /// present nor imported, are skipped and counted.
    async fn import(
        &self,
        items: Vec<vault_core::Item>,
        clients: Vec<vault_core::bundle::BundleClient>,
        grants: Vec<Grant>,
        denies: Vec<DenyRule>,
        dry_run: bool,
    ) -> Result<Response, ApiError> {
        let mut st = self.policy.write().await;
        let mut summary = ImportSummary {
            dry_run,
            ..Default::default()
        };
        let mut known: Vec<String> = st.clients.iter().map(|c| c.name.clone()).collect();
        let mut put = Vec::new();
        for c in clients {
            if known.contains(&c.name) {
                summary.rules_skipped += 1;
                continue;
            }
            let (mut rec, _unshown_token) = st.add_client(&c.name, c.created_at)?;
            rec.created_at = c.created_at;
            put.push(policy::client_record(&rec)?);
            known.push(c.name);
            summary.clients += 1;
        }
        for g in grants {
            if !known.contains(&g.client) || st.grants.iter().any(|x| x.id == g.id) {
                summary.rules_skipped += 1;
                continue;
            }
            put.push(policy::grant_record(&g)?);
            summary.grants += 1;
        }
        for d in denies {
            if !known.contains(&d.client) || st.denies.iter().any(|x| x.id == d.id) {
                summary.rules_skipped += 1;
                continue;
            }
            put.push(policy::deny_record(&d)?);
            summary.denies += 1;
        }
        let offered = items.len();
        let entry = policy::user_entry(
            "import",
            vec![],
            format!(
                "{offered} items offered; {} clients, {} grants, {} deny rules",
                summary.clients, summary.grants, summary.denies
            ),
        );
        let change = vault_core::vault::RecordChange {
            put: put.clone(),
            delete: vec![],
            audit: Some(entry),
        };
        let report = self.vault.import(items, change, dry_run).await?;
        if !dry_run {
            st.apply(&put, &[])?;
        }
        summary.added = report.added;
        summary.duplicates = report.duplicates;
        Ok(Response::Imported(summary))
    }

    /// Store a proposal as an item, removing it from the queue, in one
    /// transaction.
    async fn approve(&self, id: Uuid, namespace: Option<Namespace>) -> Result<Response, ApiError> {
        let mut st = self.policy.write().await;
        let p = proposal(&st, id)?;
        let source = format!("client:{}", p.client).parse()?;
        let namespace = namespace.unwrap_or_else(|| p.namespace.clone());
        let new = NewItem {
            namespace: namespace.clone(),
            kind: p.kind.clone(),
            title: p.title.clone(),
            body: p.body.clone(),
            tags: p.tags.clone(),
            sensitivity: Sensitivity::default(),
            source,
        };
        let entry = policy::user_entry(
            "approve",
            vec![],
            format!("proposal {id} from {} into {namespace}", p.client),
        );
        let item = self
            .vault
            .add_with(
                new,
                RecordChange {
                    put: vec![],
                    delete: vec![id],
                    audit: Some(entry),
                },
            )
            .await?;
        st.apply(&[], &[id])?;
        Ok(Response::Item(item))
    }

    /// Count a `remember` against the client's rate limit, or refuse it.
    fn rate_check(&self, client: &str) -> Result<(), ApiError> {
        let now = Instant::now();
        let mut all = self.remembers.lock().unwrap_or_else(|p| p.into_inner());
        let recent = all.entry(client.to_owned()).or_default();
        while recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= REMEMBER_WINDOW)
        {
            recent.pop_front();
        }
        if recent.len() >= REMEMBER_PER_WINDOW {
            let wait = recent
                .front()
                .map(|t| REMEMBER_WINDOW.saturating_sub(now.duration_since(*t)))
                .unwrap_or_default();
            return Err(ApiError::new(
                ErrorKind::RateLimited,
                format!(
                    "too many remember calls: at most {REMEMBER_PER_WINDOW} a minute; try again in {} s",
                    wait.as_secs().max(1)
                ),
            ));
        }
        recent.push_back(now);
        Ok(())
    }

    /// `remember` for a client: stored with `write`, queued for review with
    /// `propose`, refused otherwise. Never touches an existing item. On
    /// success the audit entry is written in the same transaction.
    #[allow(clippy::too_many_arguments)]
    async fn remember(
        &self,
        client: &str,
        p: &ClientPolicy,
        content: String,
        namespace: Option<Namespace>,
        tags: Vec<Tag>,
        kind: Option<Kind>,
        title: Option<String>,
        mut entry: AuditEntry,
    ) -> Result<Response, ApiError> {
        if content.len() > REMEMBER_MAX_BYTES {
            return Err(ApiError::new(
                ErrorKind::Invalid,
                format!(
                    "content is {} bytes, over the {} KiB limit of remember; keep it to one fact or note",
                    content.len(),
                    REMEMBER_MAX_BYTES / 1024
                ),
            ));
        }
        let namespace = match namespace {
            Some(n) => n,
            None => REMEMBER_DEFAULT_NS.parse()?,
        };
        let new = NewItem {
            namespace: namespace.clone(),
            kind: kind.unwrap_or_default(),
            title: title.filter(|t| !t.is_empty()),
            body: content,
            tags,
            sensitivity: Sensitivity::default(),
            source: format!("client:{client}").parse()?,
        }
        .validate()?;
        let facts = ItemFacts {
            namespace: namespace.as_str(),
            tags: &new.tags,
            sensitivity: new.sensitivity,
        };
        let write = used_grants(&p.decide(Action::Write, &facts));
        let propose = used_grants(&p.decide(Action::Propose, &facts));
        if write.is_none() && propose.is_none() {
            return Err(ApiError::new(
                ErrorKind::Forbidden,
                format!(
                    "{namespace} is outside what you may write or propose; see describe_access for your scopes"
                ),
            ));
        }
        self.rate_check(client)?;
        if let Some(grants) = write {
            entry.grants = grants;
            entry.detail = Some(format!("stored in {namespace}"));
            let item = self
                .vault
                .add_with(
                    new,
                    RecordChange {
                        audit: Some(entry),
                        ..Default::default()
                    },
                )
                .await?;
            return Ok(Response::Remembered(Remembered {
                id: item.id,
                status: "stored".into(),
                namespace: namespace.to_string(),
            }));
        }
        let mut st = self.policy.write().await;
        let waiting = st.pending.iter().filter(|x| x.client == client).count();
        if waiting >= PENDING_PER_CLIENT {
            return Err(ApiError::new(
                ErrorKind::RateLimited,
                format!(
                    "{waiting} of your proposals already wait for the user's review; wait until they approve or reject some"
                ),
            ));
        }
        let proposal = Proposal {
            id: Uuid::now_v7(),
            client: client.to_owned(),
            created_at: Utc::now(),
            namespace: namespace.clone(),
            kind: new.kind.clone(),
            title: new.title.clone(),
            body: new.body.clone(),
            tags: new.tags.clone(),
        };
        entry.grants = propose.unwrap_or_default();
        entry.ids = vec![proposal.id];
        entry.detail = Some(format!("proposed for {namespace}, pending review"));
        let put = vec![policy::pending_record(&proposal)?];
        self.commit_policy(&mut st, put, vec![], entry).await?;
        Ok(Response::Remembered(Remembered {
            id: proposal.id,
            status: "pending".into(),
            namespace: namespace.to_string(),
        }))
    }

    /// The client's visible profile and preferences, and matches for a topic.
    async fn profile(
        &self,
        p: &ClientPolicy,
        topic: Option<&str>,
        limit: usize,
    ) -> Result<policy::Seen<(Vec<Item>, Vec<vault_core::SearchHit>)>, ApiError> {
        let profile_ns: Namespace = PROFILE_NS.parse()?;
        let found = policy::list_groups_as(&self.vault, p, |g| {
            g.namespace.is_under(&profile_ns) || g.kind.as_str() == PREFERENCE_KIND
        })
        .await?;
        let mut grants = found.grants;
        let mut ids = found.ids;
        let items = found.value;
        let hits = match topic.map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) => {
                let seen =
                    policy::search_as(&self.vault, p, t, &ItemFilter::default(), limit).await?;
                for g in seen.grants {
                    if !grants.contains(&g) {
                        grants.push(g);
                    }
                }
                let hits: Vec<_> = seen
                    .value
                    .into_iter()
                    .filter(|h| !ids.contains(&h.item.id))
                    .collect();
                ids.extend(hits.iter().map(|h| h.item.id));
                hits
            }
            None => Vec::new(),
        };
        Ok(policy::Seen {
            value: (items, hits),
            ids,
            grants,
        })
    }

    /// What `client` can read, by namespace and sensitivity, and its actions.
    async fn access(&self, client: &str) -> Result<AccessReport, ApiError> {
        let p = self.compile(client).await?;
        let mut by_ns: BTreeMap<String, NamespaceCount> = BTreeMap::new();
        for (g, n) in self.vault.group_counts().await {
            if !p.allows(Action::Read, &policy::facts(&g)) {
                continue;
            }
            let c = by_ns
                .entry(g.namespace.to_string())
                .or_insert_with(|| NamespaceCount {
                    namespace: g.namespace.to_string(),
                    ..Default::default()
                });
            let n = u64::from(n);
            match g.sensitivity {
                Sensitivity::Public => c.public += n,
                Sensitivity::Normal => c.normal += n,
                Sensitivity::Private => c.private += n,
                Sensitivity::Secret => c.secret += n,
            }
            c.total += n;
        }
        let namespaces: Vec<NamespaceCount> = by_ns.into_values().collect();
        Ok(AccessReport {
            client: client.to_owned(),
            actions: p.actions().list(),
            grants: p.grants().len(),
            denies: p.denies().len(),
            items: namespaces.iter().map(|n| n.total).sum(),
            namespaces,
            scopes: p.grants().iter().map(grant_view).collect(),
        })
    }

    /// A read made for a client: answered through its policy and recorded
    /// in the audit log (also when nothing is returned).
    async fn client_call(
        &self,
        client: &str,
        call: ClientCall,
        tool: Option<String>,
    ) -> Result<Response, ApiError> {
        let p = self.compile(client).await?;
        let v = &self.vault;
        let mut entry = AuditEntry {
            time: Utc::now(),
            client: Some(client.to_owned()),
            action: String::new(),
            query: None,
            ids: Vec::new(),
            grants: Vec::new(),
            detail: None,
            tool,
        };
        let (response, outcome) = match call {
            // Which tools to list: reads no context, so it is not recorded.
            ClientCall::Actions => return Ok(Response::Actions(p.actions().list())),
            ClientCall::Remember {
                content,
                namespace,
                tags,
                kind,
                title,
            } => {
                entry.action = "remember".into();
                let result = self
                    .remember(
                        client,
                        &p,
                        content,
                        namespace,
                        tags,
                        kind,
                        title,
                        entry.clone(),
                    )
                    .await;
                // A stored or queued item was recorded in its own
                // transaction; only a refusal is recorded below.
                match result {
                    Ok(r) => return Ok(r),
                    Err(e) => (Err(e.clone()), Some(format!("refused: {}", e.message))),
                }
            }
            ClientCall::Page { offset, limit } => {
                entry.action = "list".into();
                entry.query = Some(format!("offset {offset}"));
                settle(
                    &mut entry,
                    policy::page_as(v, &p, offset, limit).await,
                    |(items, next)| Response::Page { items, next },
                )
            }
            ClientCall::Profile { topic, limit } => {
                entry.action = "profile".into();
                entry.query = topic.clone();
                settle(
                    &mut entry,
                    self.profile(&p, topic.as_deref(), limit).await,
                    |(items, hits)| Response::Profile { items, hits },
                )
            }
            ClientCall::Search {
                query,
                namespace,
                tags,
                limit,
            } => {
                entry.action = "search".into();
                entry.query = Some(query.clone());
                let filter = ItemFilter { namespace, tags };
                settle(
                    &mut entry,
                    policy::search_as(v, &p, &query, &filter, limit).await,
                    Response::Hits,
                )
            }
            ClientCall::Get { id } => {
                entry.action = "get".into();
                entry.query = Some(id.to_string());
                settle(&mut entry, policy::get_as(v, &p, &id).await, Response::Item)
            }
            ClientCall::List { namespace, tags } => {
                entry.action = "list".into();
                let filter = ItemFilter { namespace, tags };
                settle(
                    &mut entry,
                    policy::list_as(v, &p, &filter).await,
                    Response::Items,
                )
            }
            ClientCall::Access => {
                entry.action = "describe-access".into();
                match self.access(client).await {
                    Ok(a) => (Ok(Response::Access(a)), None),
                    Err(e) => (Err(e.clone()), Some(e.message)),
                }
            }
        };
        entry.detail = outcome;
        v.record_audit(&entry).await?;
        response
    }
}
