//! Connectors in the agent: who a client_id is (a registration, a fetched
//! metadata document, an approved connector), the user's decisions
//! (approve, deny, revoke, list), and the token work that needs the vault
//! (a code's exchange, a refresh, a family's revocation), each an audited
//! policy change.

use std::time::Instant;

use chrono::Utc;
use uuid::Uuid;
use vault_core::audit::AuditEntry;
use vault_core::records::{ConnectorRecord, Family, PolicyRecord, SPENT_KEPT};

use super::flow::Code;
use super::{FAMILY_LIFETIME, OAuthError, random_token, sha256_hex};
use crate::agent::{Agent, lock};
use crate::policy::{self, PolicyState, is_lowercase_word};
use crate::protocol::{
    ApiError, ConnectorApprove, ConnectorInfo, ConnectorReport, ErrorKind, WaitingConnector,
};
use crate::session::Session;

fn invalid(e: OAuthError) -> ApiError {
    ApiError::new(ErrorKind::Invalid, e.description)
}

/// An entry for a token event of `client`'s connector.
fn token_entry(client: &str, action: &str, detail: String) -> AuditEntry {
    AuditEntry {
        client: Some(client.to_owned()),
        ..policy::user_entry(action, vec![], detail)
    }
}

/// Write a connector's record, audited as `action` of its client.
async fn save(
    session: &Session,
    st: &mut PolicyState,
    rec: ConnectorRecord,
    action: &str,
    detail: String,
) -> Result<(), ApiError> {
    let entry = token_entry(&rec.client, action, detail);
    session
        .commit_policy(st, vec![PolicyRecord::Connector(rec)], vec![], entry)
        .await
}

/// A client name from the name a connector registered with.
fn client_name_of(registered: &str) -> String {
    let mut s: String = registered
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let s = s.trim_matches('-');
    let s: String = s.chars().take(48).collect();
    if is_lowercase_word(&s) {
        s
    } else {
        "connector".to_owned()
    }
}

impl Agent {
    /// The name and redirect URIs of an OAuth `client_id`: a registration
    /// waiting, or an approved connector (the vault must be unlocked).
    /// A `client_id` that is an https URL is fetched as a metadata
    /// document (loopback hosts only when `loopback`).
    pub(crate) async fn oauth_client_info(
        &self,
        client_id: &str,
        loopback: bool,
    ) -> Result<Option<(String, Vec<String>, bool)>, OAuthError> {
        if let Some(r) = lock(&self.oauth).registration(client_id) {
            return Ok(Some((r.name.clone(), r.redirect_uris.clone(), false)));
        }
        let session = self.unlocked().map_err(|_| OAuthError::locked())?;
        let approved = {
            let st = session.policy.read().await;
            st.connectors
                .iter()
                .find(|c| c.client_id == client_id)
                .map(|c| (c.name.clone(), c.redirect_uris.clone(), true))
        };
        if approved.is_some() || !super::cimd::is_document_url(client_id) {
            return Ok(approved);
        }
        lock(&self.oauth).admit_fetch(Instant::now())?;
        let (name, uris) = super::cimd::fetch(client_id, loopback).await?;
        lock(&self.oauth).add_document(client_id, name.clone(), uris.clone(), Instant::now());
        Ok(Some((name, uris, false)))
    }

    /// The client an OAuth access token (by hash) acts as and its family,
    /// if it is live, for `resource` (when given), and its family stands.
    pub(crate) async fn oauth_client(
        &self,
        token_sha256: &str,
        resource: Option<&str>,
    ) -> Option<(String, Uuid)> {
        let a = lock(&self.oauth).access(token_sha256, Instant::now())?;
        if resource.is_some_and(|r| r != a.resource) {
            return None;
        }
        // Locked: nothing can be read anyway, and the next unlock checks.
        let Ok(session) = self.unlocked() else {
            return Some((a.client, a.family));
        };
        let st = session.policy.read().await;
        st.connectors
            .iter()
            .any(|c| c.client == a.client && c.family.as_ref().is_some_and(|f| f.id == a.family))
            .then_some((a.client, a.family))
    }

    /// What waits for the user and what was approved.
    pub(crate) async fn connector_list(&self) -> Result<ConnectorReport, ApiError> {
        let now = Instant::now();
        let (waiting, live) = {
            let mut f = lock(&self.oauth);
            (f.all_waiting(now), f.live_per_family(now))
        };
        let waiting = waiting
            .into_iter()
            .map(|r| WaitingConnector {
                age_secs: r.age(now).as_secs(),
                client_id: r.params.client_id.clone(),
                code: r.user_code,
                name: r.params.name,
                redirect_uri: r.params.redirect_uri,
            })
            .collect();
        let session = self.owner_session()?;
        let st = session.policy.read().await;
        let mut approved: Vec<ConnectorInfo> = st
            .connectors
            .iter()
            .map(|c| ConnectorInfo {
                client: c.client.clone(),
                name: c.name.clone(),
                redirect_uris: c.redirect_uris.clone(),
                approved_at: c.created_at,
                refreshed_at: c.family.as_ref().map(|f| f.refreshed_at),
                expires: c.family.as_ref().map(|f| f.expires),
                live_tokens: c
                    .family
                    .as_ref()
                    .and_then(|f| live.get(&f.id).copied())
                    .unwrap_or(0),
            })
            .collect();
        approved.sort_by(|a, b| a.client.cmp(&b.client));
        Ok(ConnectorReport { waiting, approved })
    }

    /// Approve a waiting request: the connector's client (made, or the one
    /// it had) gets the grants asked for, all in one change, then the code
    /// goes out. Until then the request can neither expire nor be decided
    /// again; a failure puts it back to waiting.
    pub(crate) async fn connector_approve(&self, r: ConnectorApprove) -> Result<String, ApiError> {
        let session = self.owner_session()?;
        let params = lock(&self.oauth)
            .begin(&r.code, Instant::now())
            .map_err(invalid)?;
        let done = self
            .approve_records(&session, &params, r.name, r.grants)
            .await;
        let mut f = lock(&self.oauth);
        match done {
            Ok(client) => {
                f.forget_registration(&params.client_id);
                f.finish(&r.code, Some(&client), Instant::now())
                    .map_err(invalid)?;
                Ok(client)
            }
            Err(e) => {
                f.abort(&r.code, Instant::now());
                Err(e)
            }
        }
    }

    async fn approve_records(
        &self,
        session: &Session,
        params: &super::flow::AuthParams,
        name: Option<String>,
        grants: Vec<crate::protocol::GrantAdd>,
    ) -> Result<String, ApiError> {
        let now = Utc::now();
        let registered = lock(&self.oauth)
            .registration(&params.client_id)
            .map(|reg| reg.redirect_uris.clone());
        let mut st = session.policy.write().await;
        // The connector this client_id was approved as; else, only when the
        // user named it and it holds no tokens (revoked), the connector of
        // that client, re-linked. A registration's own name never picks an
        // existing client: anyone can register as "Claude".
        let asked = name.is_some();
        let name = name.unwrap_or_else(|| client_name_of(&params.name));
        let mut existing = st
            .connectors
            .iter()
            .find(|c| c.client_id == params.client_id)
            .cloned();
        if existing.is_none()
            && let Some(c) = st.connectors.iter().find(|c| c.client == name)
        {
            if !asked || c.family.is_some() {
                return Err(ApiError::new(
                    ErrorKind::Invalid,
                    format!(
                        "connector {name:?} already exists; to move it to this new registration, revoke it first (`ctxvault connector revoke {name}`) and approve with --name {name}, or give another --name"
                    ),
                ));
            }
            existing = Some(c.clone());
        }
        let mut put = Vec::new();
        let client = match &existing {
            Some(c) => c.client.clone(),
            None => {
                policy::check_client_name(&name)?;
                if st.client(&name).is_ok() {
                    return Err(ApiError::new(
                        ErrorKind::Invalid,
                        format!(
                            "client {name:?} already exists and is not a connector; give the connector another name with --name"
                        ),
                    ));
                }
                if grants.is_empty() {
                    return Err(ApiError::new(
                        ErrorKind::Invalid,
                        "a new connector needs at least one grant; add --grant SCOPE (such as --grant 'work/**')",
                    ));
                }
                // Its static token is never shown: it reaches the vault
                // only through OAuth.
                let (rec, _token) = st.add_client(&name, now, None)?;
                put.push(PolicyRecord::Client(rec));
                name
            }
        };
        let mut rules = Vec::new();
        for g in grants {
            let g = crate::rules::new_grant(
                &st,
                crate::protocol::GrantAdd {
                    client: client.clone(),
                    ..g
                },
                now,
            )?;
            rules.push(g.id);
            put.push(policy::grant_record(&g));
        }
        let redirect_uris = registered.unwrap_or_else(|| vec![params.redirect_uri.clone()]);
        let rec = match existing {
            // Re-linked to this registration; its old tokens go.
            Some(mut c) if c.client_id != params.client_id => {
                if let Some(f) = c.family.take() {
                    lock(&self.oauth).revoke_families(&[f.id]);
                }
                c.client_id = params.client_id.clone();
                c.name = params.name.clone();
                c.redirect_uris = redirect_uris;
                c
            }
            Some(c) => c,
            None => ConnectorRecord {
                id: Uuid::now_v7(),
                client: client.clone(),
                client_id: params.client_id.clone(),
                name: params.name.clone(),
                redirect_uris,
                family: None,
                created_at: now,
            },
        };
        put.push(PolicyRecord::Connector(rec));
        let entry = token_entry(
            &client,
            "connector-approve",
            format!(
                "connector {:?} as client {client} with {} new grant(s), sent back to {}",
                params.name,
                rules.len(),
                params.redirect_uri
            ),
        );
        session
            .commit_policy(
                &mut st,
                put,
                vec![],
                AuditEntry {
                    grants: rules,
                    ..entry
                },
            )
            .await?;
        Ok(client)
    }

    /// Deny a waiting request; the connector is sent back refused.
    pub(crate) async fn connector_deny(&self, code: &str) -> Result<(), ApiError> {
        let session = self.owner_session()?;
        let params = lock(&self.oauth)
            .begin(code, Instant::now())
            .map_err(invalid)?;
        lock(&self.oauth)
            .finish(code, None, Instant::now())
            .map_err(invalid)?;
        let entry = policy::user_entry(
            "connector-deny",
            vec![],
            format!(
                "connector {:?}, sent back to {}",
                params.name, params.redirect_uri
            ),
        );
        session
            .vault
            .commit(policy::change(vec![], vec![], entry))
            .await?;
        Ok(())
    }

    /// Revoke `client`'s connector: its tokens stop at the next request.
    /// The connector stays, without tokens, so that approving it again
    /// finds its client and grants.
    pub(crate) async fn connector_revoke(&self, client: &str) -> Result<(), ApiError> {
        let session = self.owner_session()?;
        let mut st = session.policy.write().await;
        let Some(c) = st.connectors.iter().find(|c| c.client == client).cloned() else {
            return Err(ApiError::new(
                ErrorKind::Invalid,
                format!("no connector acts as client {client:?}; see `ctxvault connector ls`"),
            ));
        };
        let why = format!(
            "connector {:?} of client {client}; the client and its grants remain",
            c.name
        );
        self.end_family(&session, &mut st, c, why).await
    }

    /// Start a family for an exchanged code: its access and refresh tokens.
    pub(crate) async fn connector_exchange(
        &self,
        code: &Code,
    ) -> Result<(String, String, Uuid), OAuthError> {
        let session = self.unlocked().map_err(|_| OAuthError::locked())?;
        let mut st = session.policy.write().await;
        let Some(mut rec) = st
            .connectors
            .iter()
            .find(|c| c.client_id == code.params.client_id && c.client == code.client)
            .cloned()
        else {
            return Err(OAuthError::grant(
                "this connector's approval was revoked; authorize again",
            ));
        };
        let refresh = format!("cvr_{}", random_token()?);
        let now = Utc::now();
        let family = Uuid::now_v7();
        let old = rec.family.replace(Family {
            id: family,
            refresh_sha256: sha256_hex(&refresh),
            spent: Vec::new(),
            resource: code.params.resource.clone(),
            expires: now + FAMILY_LIFETIME,
            refreshed_at: now,
        });
        save(
            &session,
            &mut st,
            rec.clone(),
            "connector-token",
            "authorization code exchanged: new tokens".into(),
        )
        .await?;
        let mut f = lock(&self.oauth);
        if let Some(old) = old {
            f.revoke_families(&[old.id]);
        }
        let access = f.issue(&rec.client, family, &code.params.resource, Instant::now())?;
        Ok((access, refresh, family))
    }

    /// Rotate a refresh token: new access and refresh tokens. One used
    /// before revokes its whole family.
    pub(crate) async fn connector_refresh(
        &self,
        refresh: &str,
        client_id: &str,
    ) -> Result<(String, String), OAuthError> {
        let session = self.unlocked().map_err(|_| OAuthError::locked())?;
        let h = sha256_hex(refresh);
        let mut st = session.policy.write().await;
        let current = st
            .connectors
            .iter()
            .find(|c| c.family.as_ref().is_some_and(|f| f.refresh_sha256 == h))
            .cloned();
        let Some(mut rec) = current else {
            let replayed = st
                .connectors
                .iter()
                .find(|c| c.family.as_ref().is_some_and(|f| f.spent.contains(&h)))
                .cloned();
            if let Some(rec) = replayed {
                let why =
                    "a refresh token was used twice: every token of this connector is revoked";
                self.end_family(&session, &mut st, rec, why.into()).await?;
                return Err(OAuthError::grant(
                    "this refresh token was already used; every token of this connector is revoked: authorize again",
                ));
            }
            return Err(OAuthError::grant(
                "the refresh token is unknown, revoked or expired; authorize again",
            ));
        };
        if rec.client_id != client_id {
            return Err(OAuthError::grant(
                "the refresh token was issued to another client",
            ));
        }
        let now = Utc::now();
        let Some(fam) = rec.family.as_mut() else {
            return Err(OAuthError::internal("the token family vanished"));
        };
        if fam.expires <= now {
            return Err(OAuthError::grant(
                "the refresh token expired; authorize again",
            ));
        }
        let next = format!("cvr_{}", random_token()?);
        let spent = std::mem::replace(&mut fam.refresh_sha256, sha256_hex(&next));
        fam.spent.push(spent);
        let over = fam.spent.len().saturating_sub(SPENT_KEPT);
        fam.spent.drain(..over);
        fam.refreshed_at = now;
        let (family, resource) = (fam.id, fam.resource.clone());
        save(
            &session,
            &mut st,
            rec.clone(),
            "connector-token",
            "refreshed".into(),
        )
        .await?;
        // One live access token per family: the ones before stop.
        let mut f = lock(&self.oauth);
        f.revoke_families(&[family]);
        let access = f.issue(&rec.client, family, &resource, Instant::now())?;
        Ok((access, next))
    }

    /// A connector gives up `token` (RFC 7009): its own access token stops;
    /// its own current refresh token ends the family. Anything else
    /// changes nothing.
    pub(crate) async fn connector_give_up(
        &self,
        token: &str,
        client_id: &str,
    ) -> Result<(), OAuthError> {
        let h = sha256_hex(token);
        let session = self.unlocked().map_err(|_| OAuthError::locked())?;
        let mut st = session.policy.write().await;
        let access = lock(&self.oauth).access(&h, Instant::now());
        if let Some(a) = access {
            let mine = st.connectors.iter().any(|c| {
                c.client_id == client_id && c.family.as_ref().is_some_and(|f| f.id == a.family)
            });
            if mine {
                lock(&self.oauth).revoke_access(&h);
            }
            return Ok(());
        }
        let Some(rec) = st
            .connectors
            .iter()
            .find(|c| {
                c.client_id == client_id && c.family.as_ref().is_some_and(|f| f.refresh_sha256 == h)
            })
            .cloned()
        else {
            return Ok(());
        };
        let why = "the connector gave up its tokens (RFC 7009)";
        Ok(self.end_family(&session, &mut st, rec, why.into()).await?)
    }

    /// Revoke a family whose code was replayed.
    pub(crate) async fn revoke_family(&self, family: Uuid, why: &str) {
        lock(&self.oauth).revoke_families(&[family]);
        let Ok(session) = self.unlocked() else {
            return;
        };
        let mut st = session.policy.write().await;
        let Some(rec) = st
            .connectors
            .iter()
            .find(|c| c.family.as_ref().is_some_and(|f| f.id == family))
            .cloned()
        else {
            return;
        };
        let why = format!("{why}: every token of this connector is revoked");
        if let Err(e) = self.end_family(&session, &mut st, rec, why).await {
            tracing::warn!("could not record a revoked token family: {}", e.message);
        }
    }

    /// End `rec`'s token family: the connector kept without it (audited
    /// `connector-revoke`, saying `why`), then its access tokens stop.
    async fn end_family(
        &self,
        session: &Session,
        st: &mut PolicyState,
        mut rec: ConnectorRecord,
        why: String,
    ) -> Result<(), ApiError> {
        let gone = rec.family.take();
        save(session, st, rec, "connector-revoke", why).await?;
        if let Some(f) = gone {
            lock(&self.oauth).revoke_families(&[f.id]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_names_from_registered_names() {
        assert_eq!(client_name_of("Claude"), "claude");
        assert_eq!(client_name_of("ChatGPT Connector!"), "chatgpt-connector");
        assert_eq!(client_name_of("  "), "connector");
        assert_eq!(client_name_of("日本"), "connector");
    }
}
