//! The user's own vault operations: items, searches (also as a client
//! would see them), the audit log and the review queue (import and export
//! are in `transfer`).

use serde::Serialize;
use uuid::Uuid;
use vault_core::records::PendingRecord;
use vault_core::vault::RecordChange;
use vault_core::{Item, Kind, NewItem, Sensitivity};

use crate::policy::{self, PolicyState};
use crate::protocol::*;
use crate::session::Session;

/// Encode a typed answer for the wire, once: `{"Ok": answer}`.
pub(crate) fn answer<T: Serialize>(r: Result<T, ApiError>) -> Result<Encoded, ApiError> {
    let value = r?;
    serde_json::to_vec(&Ok::<&T, ()>(&value))
        .map(Encoded)
        .map_err(|e| {
            ApiError::new(
                ErrorKind::Internal,
                format!("cannot encode the answer: {e}"),
            )
        })
}

/// The proposal `id`, or an error naming the fix.
fn proposal(st: &PolicyState, id: Uuid) -> Result<&PendingRecord, ApiError> {
    st.pending.iter().find(|p| p.id == id).ok_or_else(|| {
        ApiError::new(
            ErrorKind::NoProposal,
            format!("no proposal {id}; list them with `ctxvault pending`"),
        )
    })
}

impl Session {
    /// Handle one of the user's own requests.
    pub async fn handle_vault(&self, req: VaultRequest) -> Result<Encoded, ApiError> {
        let v = &self.vault;
        match req {
            VaultRequest::Add(r) => {
                check_kind(v, &r.item.kind, r.new_kind).await?;
                if let Some(at) = r.expires {
                    crate::aspects::check_expiry(at, crate::clock::now())?;
                }
                answer(self.add_once(r).await)
            }
            VaultRequest::Get(r) => answer(v.get(&r.id).await.map_err(ApiError::from)),
            VaultRequest::Edit(r) => {
                if let Some(kind) = &r.patch.kind {
                    check_kind(v, kind, r.new_kind).await?;
                }
                answer(v.edit(&r.id, r.patch).await.map_err(ApiError::from))
            }
            VaultRequest::Remove(r) => answer(v.remove_all(&r.ids).await.map_err(ApiError::from)),
            VaultRequest::Resolve(r) => {
                answer(v.resolve_prefix(&r.prefix).await.map_err(ApiError::from))
            }
            VaultRequest::ShortIds(r) => answer(Ok(v.short_ids(&r.ids).await)),
            VaultRequest::List(r) => answer(v.list(&r.filter).await.map_err(ApiError::from)),
            VaultRequest::AspectAdd(r) => answer(self.aspect_add(r).await),
            VaultRequest::AspectRemove(r) => answer(self.aspect_remove(r).await),
            VaultRequest::AspectUse(r) => answer(self.aspect_use(r).await),
            VaultRequest::AspectOff(_) => answer(self.aspect_off().await),
            VaultRequest::AspectList(_) => answer(Ok(self.aspect_list().await)),
            VaultRequest::RetentionSet(r) => answer(self.retention_set(r).await),
            VaultRequest::RetentionRemove(r) => answer(self.retention_remove(r).await),
            VaultRequest::RetentionList(_) => answer(Ok(self.retention_list().await)),
            VaultRequest::RetentionSweep(_) => answer(self.sweep_retention().await),
            VaultRequest::SyncAdd(r) => answer(self.sync_add(r).await),
            VaultRequest::SyncNow(_) => answer(self.sync_round(true).await),
            VaultRequest::SyncStatus(_) => answer(self.sync_status().await),
            VaultRequest::SyncConflicts(_) => answer(self.sync_conflicts().await),
            VaultRequest::SyncResolve(r) => answer(self.sync_resolve(r).await),
            VaultRequest::SyncUnblock(r) => answer(self.sync_unblock(r).await),
            VaultRequest::ConfirmList(_) => answer(Ok(self.confirms.list())),
            VaultRequest::ConfirmAnswer(r) => answer(self.confirms.answer(&r.id, r.yes)),
            VaultRequest::Counts(_) => answer(Ok(crate::view::namespace_counts(v, |_| true).await)),
            VaultRequest::ListAs(r) => match self.dry_run(&r.client, r.provider).await {
                Ok(who) => answer(self.list_for(&who, r.query).await),
                Err(e) => answer::<()>(Err(e)),
            },
            VaultRequest::Search(r) => answer(
                v.search(&r.query, r.mode, &r.filter, r.limit)
                    .await
                    .map_err(ApiError::from),
            ),
            VaultRequest::SearchAs(r) => match self.dry_run(&r.client, r.provider).await {
                Ok(who) => answer(self.search_for(&who, r.query, r.mode).await),
                Err(e) => answer::<()>(Err(e)),
            },
            VaultRequest::ClientAdd(r) => {
                answer(self.client_token(r.name, false, r.provider).await)
            }
            VaultRequest::ClientRotate(r) => answer(self.client_token(r.name, true, None).await),
            VaultRequest::ClientRemove(r) => answer(self.client_remove(r).await),
            VaultRequest::ClientList(_) => answer(Ok(self.client_list().await)),
            VaultRequest::GrantAdd(r) => answer(self.grant_add(r).await),
            VaultRequest::DenyAdd(r) => answer(self.deny_add(r).await),
            VaultRequest::Revoke(r) => answer(self.revoke(r).await),
            VaultRequest::RevokeAll(r) => answer(self.revoke_all(r).await),
            VaultRequest::Rules(r) => answer(self.rules(r).await),
            VaultRequest::Access(r) => match self.dry_run(&r.client, r.provider).await {
                Ok(who) => answer(self.access_for(&who).await),
                Err(e) => answer::<()>(Err(e)),
            },
            VaultRequest::Audit(r) => answer(self.audit(r).await),
            VaultRequest::AuditChecked(r) => answer(
                v.audit_scan()
                    .await
                    .map(|mut scan| {
                        select(&mut scan.entries, &r.select);
                        scan
                    })
                    .map_err(ApiError::from),
            ),
            VaultRequest::AuditVerify(r) => answer(
                match &r.against {
                    None => v.audit_verify().await,
                    Some(head) => v.audit_verify_against(head).await,
                }
                .map_err(ApiError::from),
            ),
            VaultRequest::AuditHead(_) => answer(v.audit_head().await.map_err(ApiError::from)),
            VaultRequest::PendingList(_) => {
                let st = self.policy.read().await;
                let mut out: Vec<Proposal> = st.pending.iter().map(Proposal::from).collect();
                out.sort_by_key(|p| (p.created_at, p.id));
                answer(Ok(out))
            }
            VaultRequest::Approve(r) => answer(self.approve(r).await),
            VaultRequest::Reject(r) => answer(self.reject(r).await),
            VaultRequest::ProviderAdd(r) => answer(self.provider_add(r).await),
            VaultRequest::ProviderList(_) => answer(Ok(self.provider_list().await)),
            VaultRequest::ProviderRemove(r) => answer(self.provider_remove(r).await),
            VaultRequest::ProviderDefault(r) => answer(self.provider_default(r).await),
            VaultRequest::ProviderRoute(r) => answer(self.provider_route(r).await),
            // It needs the agent's connections to providers.
            VaultRequest::Distill(_) => Err(ApiError::new(
                ErrorKind::Internal,
                "distill is carried out by the agent, not a session",
            )),
        }
    }

    async fn audit(&self, r: Audit) -> Result<Vec<vault_core::audit::AuditRecord>, ApiError> {
        let mut entries = self.vault.audit_entries().await?;
        if r.devices {
            entries.extend(self.vault.sync_audit_entries().await?);
            // One timeline: by time, each device's own order kept.
            entries.sort_by_key(|e| e.entry.time);
        }
        select(&mut entries, &r);
        Ok(entries)
    }

    async fn reject(&self, r: Reject) -> Result<(), ApiError> {
        let id = r.id;
        let mut st = self.policy.write().await;
        let p = proposal(&st, id)?;
        let entry = policy::user_entry(
            "reject",
            vec![],
            format!("proposal {id} from {} for {}", p.client, p.namespace),
        );
        self.commit_policy(&mut st, vec![], vec![id], entry).await
    }

    /// Store a proposal as an item, removing it from the queue, in one
    /// transaction.
    pub(crate) async fn approve(&self, r: Approve) -> Result<Item, ApiError> {
        let Approve { id, namespace } = r;
        let mut st = self.policy.write().await;
        let p = proposal(&st, id)?;
        // Proposed by the client, vouched for by the user.
        let source = format!("approved:{}", p.client).parse()?;
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
                    request: None,
                },
            )
            .await?;
        st.apply(&[], &[id]);
        Ok(item)
    }
}

/// Refuse a kind that is neither common nor on any item yet, unless
/// `new` says it is meant: `--kind preferance` would otherwise make a kind
/// of its own, and the item would never reach the profile.
async fn check_kind(
    v: &vault_core::UnlockedVault,
    kind: &vault_core::Kind,
    new: bool,
) -> Result<(), ApiError> {
    let mut known: Vec<String> = Kind::COMMON.iter().map(|k| (*k).to_owned()).collect();
    for g in v.group_keys().await {
        if !known.iter().any(|k| k == g.kind.as_str()) {
            known.push(g.kind.as_str().to_owned());
        }
    }
    if new || known.iter().any(|k| k == kind.as_str()) {
        return Ok(());
    }
    let closest = known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(k, kind.as_str()), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min();
    let hint = match closest {
        Some((_, k)) => format!("did you mean {k:?}? "),
        None => String::new(),
    };
    Err(ApiError::new(
        ErrorKind::Invalid,
        format!(
            "unknown kind {:?}: {hint}kinds in use: {}; pass --new-kind to make a new one",
            kind.as_str(),
            known.join(", ")
        ),
    ))
}

/// Store an item once per idempotency key: a retry is answered with the
/// item the first request stored.
impl Session {
    /// Store a new item, once per idempotency key, with its own expiry
    /// record in the same transaction.
    async fn add_once(&self, r: Add) -> Result<Item, ApiError> {
        let v = &self.vault;
        if let Some(key) = r.request
            && let Some(made) = v.answered(&key).await?
        {
            return Ok(v.get(&made).await?);
        }
        let id = Uuid::now_v7();
        let put: Vec<_> = r
            .expires
            .map(|at| crate::aspects::item_retention(id, at))
            .into_iter()
            .collect();
        // The policy copy is held while the record is written, so the
        // sweep sees it as soon as the item exists.
        let mut st = self.policy.write().await;
        let change = RecordChange {
            request: r.request,
            put: put.clone(),
            ..Default::default()
        };
        match v.add_as(r.item, id, change).await {
            Err(vault_core::Error::Repeated(made)) => Ok(v.get(&made).await?),
            Err(e) => Err(e.into()),
            Ok(item) => {
                st.apply(&put, &[]);
                Ok(item)
            }
        }
    }
}

/// Keep the entries `r` selects: its client's, from its time on, the last
/// `limit` of them.
fn select(entries: &mut Vec<vault_core::audit::AuditRecord>, r: &Audit) {
    entries.retain(|e| {
        r.client
            .as_deref()
            .is_none_or(|c| e.entry.client.as_deref() == Some(c))
            && r.since.is_none_or(|s| e.entry.time >= s)
    });
    if let Some(n) = r.limit {
        let skip = entries.len().saturating_sub(n);
        entries.drain(..skip);
    }
}
