//! `remember`: a client's write-back, stored with `write`, queued for the
//! user's review with `propose`, refused otherwise; never touching an
//! existing item. Size, rate and queue limits apply per client.

use std::time::{Duration, Instant};

use chrono::Utc;
use client_view::{RememberRequest, RememberStatus, Remembered};
use policies::{Action, ClientPolicy, Decision, ItemFacts, Sensitivity};
use uuid::Uuid;
use vault_core::audit::AuditEntry;
use vault_core::records::{PendingRecord, PolicyRecord};
use vault_core::vault::RecordChange;
use vault_core::{Kind, Namespace, NewItem, Tag};

use super::{Who, filter_of};
use crate::protocol::{ApiError, ErrorKind};
use crate::session::Session;

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

/// Where a remembered item goes, parsed from the request.
struct Where {
    namespace: Namespace,
    tags: Vec<Tag>,
    kind: Option<Kind>,
}

fn used_grants(d: &Decision) -> Option<Vec<Uuid>> {
    match d {
        Decision::Allow { grants, .. } => Some(grants.clone()),
        Decision::Deny(_) => None,
    }
}

impl Session {
    /// `remember` for a client. A stored or queued item is recorded in the
    /// audit log in its own transaction; a refusal is recorded on its own.
    pub async fn remember_for(
        &self,
        who: &Who,
        r: RememberRequest,
    ) -> Result<Remembered, ApiError> {
        let p = self.compile(who).await?;
        let entry = self.entry(who, "remember");
        // Arguments that do not parse are refused before anything is read
        // or written, as the MCP layer refuses malformed arguments.
        let blank = |s: &Option<String>| s.as_deref().is_none_or(|s| s.trim().is_empty());
        let namespace = if blank(&r.namespace) {
            REMEMBER_DEFAULT_NS.to_owned()
        } else {
            r.namespace.clone().unwrap_or_default()
        };
        let filter = filter_of(Some(namespace), r.tags.clone())?;
        let Some(namespace) = filter.namespace else {
            return Err(ApiError::new(
                ErrorKind::Invalid,
                "remember needs a namespace",
            ));
        };
        let kind = match r.kind.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
            None => None,
            Some(k) => Some(k.parse::<Kind>()?),
        };
        let where_ = Where {
            namespace,
            tags: filter.tags,
            kind,
        };
        match self
            .remember_as(&who.client, &p, r, where_, entry.clone())
            .await
        {
            Ok(r) => Ok(r),
            Err(e) => {
                if who.audited {
                    let mut entry = entry;
                    entry.detail = Some(format!("refused: {}", e.message));
                    self.vault.record_audit(&entry).await?;
                }
                Err(e)
            }
        }
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
    async fn remember_as(
        &self,
        client: &str,
        p: &ClientPolicy,
        r: RememberRequest,
        where_: Where,
        mut entry: AuditEntry,
    ) -> Result<Remembered, ApiError> {
        let RememberRequest {
            content,
            title,
            request,
            ..
        } = r;
        let Where {
            namespace,
            tags,
            kind,
        } = where_;
        if let Some(key) = request
            && let Some(made) = self.vault.answered(&key).await?
        {
            return Ok(self.repeated(made, &namespace).await);
        }
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
            let item = match self
                .vault
                .add_with(
                    new,
                    RecordChange {
                        audit: Some(entry),
                        request,
                        ..Default::default()
                    },
                )
                .await
            {
                Err(vault_core::Error::Repeated(made)) => {
                    return Ok(self.repeated(made, &namespace).await);
                }
                r => r?,
            };
            return Ok(Remembered {
                id: item.id,
                status: RememberStatus::Stored,
                namespace: namespace.to_string(),
            });
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
        let proposal = PendingRecord {
            id: Uuid::now_v7(),
            client: client.to_owned(),
            created_at: Utc::now(),
            namespace: namespace.clone(),
            kind: new.kind.clone(),
            title: new.title.clone(),
            body: new.body.clone(),
            tags: new.tags.clone(),
            sources: Vec::new(),
        };
        entry.grants = propose.unwrap_or_default();
        entry.ids = vec![proposal.id];
        entry.detail = Some(format!("proposed for {namespace}, pending review"));
        let id = proposal.id;
        let put = vec![PolicyRecord::Pending(proposal)];
        let mut change = crate::policy::change(put.clone(), vec![], entry);
        change.request = request;
        match self.vault.commit(change).await {
            Err(vault_core::Error::Repeated(made)) => {
                drop(st);
                return Ok(self.repeated(made, &namespace).await);
            }
            r => r?,
        }
        st.apply(&put, &[]);
        Ok(Remembered {
            id,
            status: RememberStatus::Pending,
            namespace: namespace.to_string(),
        })
    }

    /// The answer to a `remember` whose request was carried out before:
    /// what it made, stored or still waiting for review.
    async fn repeated(&self, made: Uuid, namespace: &Namespace) -> Remembered {
        let pending = self
            .policy
            .read()
            .await
            .pending
            .iter()
            .any(|p| p.id == made);
        Remembered {
            id: made,
            status: if pending {
                RememberStatus::Pending
            } else {
                RememberStatus::Stored
            },
            namespace: namespace.to_string(),
        }
    }
}
