//! The user's policy operations: clients, grants, deny rules, revocation.
//! Each change is one transaction with its audit entry and applies to the
//! very next request.

use chrono::Utc;
use policies::{DenyRule, Grant};
use uuid::Uuid;
use vault_core::records::PolicyRecord;

use crate::policy;
use crate::protocol::*;
use crate::session::Session;

pub(crate) fn rule_info_grant(g: &Grant, now: chrono::DateTime<Utc>) -> RuleInfo {
    RuleInfo {
        id: g.id,
        kind: RuleKind::Grant,
        client: g.client.clone(),
        scope: g.scope.to_string(),
        actions: g.actions.list(),
        tags: g.tags.clone(),
        max_sensitivity: Some(g.max_sensitivity),
        expires: g.expires,
        expired: g.is_expired(now),
        redact: g.redact.clone(),
        providers: g.providers.clone(),
        confirm: g.confirm,
        created_at: g.created_at,
    }
}

pub(crate) fn rule_info_deny(d: &DenyRule) -> RuleInfo {
    RuleInfo {
        id: d.id,
        kind: RuleKind::Deny,
        client: d.client.clone(),
        scope: d.scope.to_string(),
        actions: Vec::new(),
        tags: Vec::new(),
        max_sensitivity: None,
        expires: None,
        expired: false,
        redact: Vec::new(),
        providers: Default::default(),
        confirm: None,
        created_at: d.created_at,
    }
}

impl Session {
    /// Register `name` (or, with `rotate`, replace its token); answers the
    /// new token.
    pub(crate) async fn client_token(
        &self,
        name: String,
        rotate: bool,
        provider: Option<String>,
    ) -> Result<ClientToken, ApiError> {
        let mut st = self.policy.write().await;
        let (rec, token) = if rotate {
            st.rotate(&name, Utc::now())?
        } else {
            st.add_client(&name, Utc::now(), provider.clone())?
        };
        let action = if rotate {
            "client-rotate"
        } else {
            "client-add"
        };
        let said = match &provider {
            Some(p) => format!("client {name} (provider {p})"),
            None => format!("client {name}"),
        };
        let entry = policy::user_entry(action, vec![], said);
        self.commit_policy(&mut st, vec![PolicyRecord::Client(rec)], vec![], entry)
            .await?;
        Ok(ClientToken { name, token })
    }

    pub(crate) async fn client_remove(&self, r: ClientRemove) -> Result<(), ApiError> {
        let name = r.name;
        let mut st = self.policy.write().await;
        let id = st.client(&name)?.id;
        let mut delete = st.rule_ids_of(&name);
        let rules = delete.clone();
        delete.push(id);
        delete.extend(st.route_of(&name).map(|r| r.id));
        // Its connector too: OAuth tokens stop at the next request.
        delete.extend(
            st.connectors
                .iter()
                .filter(|c| c.client == name)
                .map(|c| c.id),
        );
        let entry = policy::user_entry(
            "client-rm",
            rules,
            format!("client {name} with its token and rules"),
        );
        self.commit_policy(&mut st, vec![], delete, entry).await
    }

    pub(crate) async fn client_list(&self) -> Vec<ClientInfo> {
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
                provider: st.client_destination(&c.name).to_string(),
            })
            .collect();
        clients.sort_by(|a, b| a.name.cmp(&b.name));
        clients
    }

    pub(crate) async fn grant_add(&self, r: GrantAdd) -> Result<Uuid, ApiError> {
        let mut st = self.policy.write().await;
        st.client(&r.client)?;
        let g = new_grant(&st, r, Utc::now())?;
        let entry = policy::user_entry("grant", vec![g.id], grant_words(&g));
        self.commit_policy(&mut st, vec![policy::grant_record(&g)], vec![], entry)
            .await?;
        Ok(g.id)
    }

    pub(crate) async fn deny_add(&self, r: DenyAdd) -> Result<Uuid, ApiError> {
        let mut st = self.policy.write().await;
        st.client(&r.client)?;
        let d = DenyRule {
            id: Uuid::now_v7(),
            client: r.client.clone(),
            scope: r.scope,
            created_at: Utc::now(),
        };
        let entry = policy::user_entry("deny", vec![d.id], deny_words(&d));
        self.commit_policy(&mut st, vec![policy::deny_record(&d)], vec![], entry)
            .await?;
        Ok(d.id)
    }

    pub(crate) async fn revoke(&self, r: Revoke) -> Result<(), ApiError> {
        let id = r.id;
        let mut st = self.policy.write().await;
        // The rule in the words it was made with, so the trail reads
        // "revoke  grant claude read on work/**".
        let rule = st
            .grants
            .iter()
            .find(|g| g.id == id)
            .map(grant_words)
            .or_else(|| st.denies.iter().find(|d| d.id == id).map(deny_words))
            .ok_or_else(|| {
                ApiError::new(
                    ErrorKind::NoRule,
                    format!("no grant or deny rule {id}; list them with `ctxvault grants`"),
                )
            })?;
        let entry = policy::user_entry("revoke", vec![id], rule);
        self.commit_policy(&mut st, vec![], vec![id], entry).await
    }

    pub(crate) async fn revoke_all(&self, r: RevokeAll) -> Result<u64, ApiError> {
        let mut st = self.policy.write().await;
        st.client(&r.client)?;
        let ids = st.rule_ids_of(&r.client);
        let entry = policy::user_entry(
            "revoke-all",
            ids.clone(),
            format!("every rule of {}", r.client),
        );
        self.commit_policy(&mut st, vec![], ids.clone(), entry)
            .await?;
        Ok(ids.len() as u64)
    }

    pub(crate) async fn rules(&self, r: Rules) -> Result<Vec<RuleInfo>, ApiError> {
        let st = self.policy.read().await;
        if let Some(c) = &r.client {
            st.client(c)?;
        }
        let now = Utc::now();
        let wanted = |c: &str| r.client.as_deref().is_none_or(|w| w == c);
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
        Ok(rules)
    }
}

/// A grant in words, as the audit log records it: `grant claude read,propose
/// on work/**`.
fn grant_words(g: &policies::Grant) -> String {
    let actions: Vec<&str> = g.actions.list().iter().map(|a| a.as_str()).collect();
    let mut w = format!("grant {} {} on {}", g.client, actions.join(","), g.scope);
    if let Some(c) = g.providers.words() {
        w.push_str(&format!(", {c}"));
    }
    if g.confirm.is_some() {
        w.push_str(", confirmed at each read");
    }
    w
}

/// A deny rule in words: `deny claude on health/**`.
fn deny_words(d: &policies::DenyRule) -> String {
    format!("deny {} on {}", d.client, d.scope)
}

/// A grant as asked, checked as every door checks it (an action, an
/// expiry in the future); the client is not looked up here.
pub(crate) fn new_grant(
    st: &policy::PolicyState,
    r: GrantAdd,
    now: chrono::DateTime<Utc>,
) -> Result<Grant, ApiError> {
    st.check_condition(&r.providers)?;
    if r.actions.is_empty() {
        return Err(ApiError::new(
            ErrorKind::Invalid,
            "no action given; use read, propose or write",
        ));
    }
    if let Some(e) = r.expires.filter(|e| *e <= now) {
        return Err(ApiError::new(
            ErrorKind::Invalid,
            format!(
                "expiry {} is in the past; give a duration such as 2h or 30d, or a future RFC3339 time",
                e.to_rfc3339()
            ),
        ));
    }
    let mut redact = r.redact;
    redact.sort();
    redact.dedup();
    Ok(Grant {
        id: Uuid::now_v7(),
        client: r.client,
        actions: r.actions,
        scope: r.scope,
        tags: r.tags.iter().map(|t| t.as_str().to_owned()).collect(),
        max_sensitivity: r.max_sensitivity,
        expires: r.expires,
        redact,
        providers: r.providers,
        confirm: r.confirm,
        created_at: now,
    })
}
