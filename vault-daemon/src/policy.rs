//! Policy state: the client registry, grants, deny rules and pending
//! proposals as loaded from the vault's sealed records, and the checks on
//! changing them. The rules themselves live in the pure `policies` crate.

use chrono::{DateTime, Utc};
use policies::{ClientPolicy, DenyRule, Grant, ItemFacts};
use ring::rand::SecureRandom;
use uuid::Uuid;
use vault_core::audit::AuditEntry;
use vault_core::records::{
    AspectRecord, AspectUseRecord, ClientRecord, ConnectorRecord, PendingRecord, PolicyRecord,
    ProviderRecord, RetentionRecord, RouteRecord,
};
use vault_core::vault::{GroupKey, RecordChange};

use crate::protocol::{ApiError, ErrorKind};

/// Every client, grant and deny rule of the vault.
#[derive(Clone, Debug, Default)]
pub struct PolicyState {
    /// Registered clients.
    pub clients: Vec<ClientRecord>,
    /// Grants.
    pub grants: Vec<Grant>,
    /// Deny rules.
    pub denies: Vec<DenyRule>,
    /// Proposals from clients waiting for the user's review.
    pub pending: Vec<PendingRecord>,
    /// Model providers for the proxy.
    pub providers: Vec<ProviderRecord>,
    /// Clients' routes through the proxy.
    pub routes: Vec<RouteRecord>,
    /// Approved OAuth connectors.
    pub connectors: Vec<ConnectorRecord>,
    /// Named views.
    pub aspects: Vec<AspectRecord>,
    /// The aspect switched on (at most one).
    pub aspect_use: Vec<AspectUseRecord>,
    /// How long items are kept.
    pub retention: Vec<RetentionRecord>,
}

/// The refusal of a token no client holds.
pub fn unknown_token() -> ApiError {
    ApiError::new(
        ErrorKind::Unauthorized,
        "unknown or revoked client token; get a new one with `ctxvault client rotate NAME`",
    )
}

/// Hex SHA-256 of a string (how tokens are kept).
pub fn sha256_hex(s: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh client token: `cvt_` and 64 hex digits (256 random bits).
pub fn new_token() -> Result<String, ApiError> {
    let mut b = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| ApiError::new(ErrorKind::Internal, "the OS random number generator failed"))?;
    Ok(format!(
        "cvt_{}",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    ))
}

/// A name the user gives a client or a provider: a lowercase word of
/// a-z 0-9 - _ (starting with a letter or digit), at most 64 bytes.
pub fn is_lowercase_word(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Check a client name: a lowercase word such as `claude-desktop`.
pub fn check_client_name(name: &str) -> Result<(), ApiError> {
    if is_lowercase_word(name) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorKind::Invalid,
            format!(
                "invalid client name {name:?}; use a lowercase word of a-z 0-9 - _ such as claude-desktop"
            ),
        ))
    }
}

/// The error for a client name that is not registered.
pub fn no_client(name: &str) -> ApiError {
    ApiError::new(
        ErrorKind::NoClient,
        format!(
            "unknown client {name:?}; see `ctxvault client ls`, or add it with `ctxvault client add {name}`"
        ),
    )
}

/// The error for a provider name that is not registered.
pub fn no_provider(name: &str) -> ApiError {
    ApiError::new(
        ErrorKind::Invalid,
        format!(
            "unknown provider {name:?}; see `ctxvault provider ls`, or add it with `ctxvault provider add {name} --kind KIND --url URL`"
        ),
    )
}

/// What the policy needs to know of an item's group.
pub fn facts(g: &GroupKey) -> ItemFacts<'_, vault_core::Tag> {
    ItemFacts {
        namespace: g.namespace.as_str(),
        tags: &g.tags,
        sensitivity: g.sensitivity,
    }
}

impl PolicyState {
    /// Load from the vault's records.
    pub fn load(records: Vec<PolicyRecord>) -> Self {
        let mut st = PolicyState::default();
        st.extend(records);
        st
    }

    fn extend(&mut self, records: Vec<PolicyRecord>) {
        for r in records {
            match r {
                PolicyRecord::Client(c) => self.clients.push(c),
                PolicyRecord::Grant(g) => self.grants.push(g.into()),
                PolicyRecord::Deny(d) => self.denies.push(d.into()),
                PolicyRecord::Pending(p) => self.pending.push(p),
                PolicyRecord::Provider(p) => self.providers.push(p),
                PolicyRecord::Route(r) => self.routes.push(r),
                PolicyRecord::Connector(c) => self.connectors.push(c),
                PolicyRecord::Aspect(a) => self.aspects.push(a),
                PolicyRecord::AspectUse(a) => self.aspect_use.push(a),
                PolicyRecord::Retention(r) => self.retention.push(r),
            }
        }
    }

    /// The client called `name`.
    pub fn client(&self, name: &str) -> Result<&ClientRecord, ApiError> {
        self.clients
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| no_client(name))
    }

    /// The client holding `token`.
    pub fn client_by_token(&self, token: &str) -> Result<&ClientRecord, ApiError> {
        let h = sha256_hex(token);
        self.clients
            .iter()
            .find(|c| c.token_sha256 == h)
            .ok_or_else(unknown_token)
    }

    /// The SHA-256 of every client's token, with the client's name.
    pub fn token_table(&self) -> std::collections::HashMap<String, String> {
        self.clients
            .iter()
            .map(|c| (c.token_sha256.clone(), c.name.clone()))
            .collect()
    }

    /// `name`'s active rules at `now` for answers going to `to` (the
    /// provider it declared when `None`), narrowed by the aspect in force
    /// for it.
    pub fn compile(
        &self,
        name: &str,
        now: DateTime<Utc>,
        to: Option<&str>,
    ) -> Result<ClientPolicy, ApiError> {
        self.client(name)?;
        let to = match to {
            Some(p) => self.destination_of(p),
            None => self.client_destination(name),
        };
        Ok(
            ClientPolicy::new(name, &self.grants, &self.denies, now, &to)
                .within(self.aspect_for(name, now)),
        )
    }

    /// The aspect narrowing `client` at `now`, if one is in force for it.
    pub fn aspect_for(&self, client: &str, now: DateTime<Utc>) -> Option<policies::Aspect> {
        let using = self.aspect_use.iter().find(|u| u.applies(client, now))?;
        let a = self.aspects.iter().find(|a| a.name == using.aspect);
        // An aspect in force whose definition is gone admits nothing: it
        // never widens by disappearing.
        Some(a.map_or_else(
            || policies::Aspect {
                name: using.aspect.clone(),
                scopes: Vec::new(),
                max_sensitivity: policies::Sensitivity::Public,
            },
            AspectRecord::aspect,
        ))
    }

    /// Register a client; returns the change and its token.
    pub fn add_client(
        &self,
        name: &str,
        now: DateTime<Utc>,
        provider: Option<String>,
    ) -> Result<(ClientRecord, String), ApiError> {
        check_client_name(name)?;
        if let Some(p) = &provider {
            self.check_provider(p)?;
        }
        if self.clients.iter().any(|c| c.name == name) {
            return Err(ApiError::new(
                ErrorKind::Invalid,
                format!(
                    "client {name:?} already exists; choose another name, or run `ctxvault client rotate {name}` for a new token"
                ),
            ));
        }
        let token = new_token()?;
        Ok((
            ClientRecord {
                id: Uuid::now_v7(),
                name: name.to_owned(),
                token_sha256: sha256_hex(&token),
                created_at: now,
                rotated_at: None,
                provider,
            },
            token,
        ))
    }

    /// A new token for `name`; the old one stops working.
    pub fn rotate(
        &self,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<(ClientRecord, String), ApiError> {
        let mut c = self.client(name)?.clone();
        let token = new_token()?;
        c.token_sha256 = sha256_hex(&token);
        c.rotated_at = Some(now);
        Ok((c, token))
    }

    /// The ids of `name`'s grants and deny rules.
    pub fn rule_ids_of(&self, name: &str) -> Vec<Uuid> {
        self.grants
            .iter()
            .filter(|g| g.client == name)
            .map(|g| g.id)
            .chain(
                self.denies
                    .iter()
                    .filter(|d| d.client == name)
                    .map(|d| d.id),
            )
            .collect()
    }

    /// `name`'s route through the proxy, if it has one of its own.
    pub fn route_of(&self, name: &str) -> Option<&RouteRecord> {
        self.routes.iter().find(|r| r.client == name)
    }

    /// The provider called `name`.
    pub fn provider(&self, name: &str) -> Result<&ProviderRecord, ApiError> {
        self.providers
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| no_provider(name))
    }

    /// Apply a committed change to this in-memory copy.
    pub fn apply(&mut self, put: &[PolicyRecord], delete: &[Uuid]) {
        let gone = |id: &Uuid| delete.contains(id) || put.iter().any(|p| p.id() == *id);
        self.clients.retain(|c| !gone(&c.id));
        self.grants.retain(|g| !gone(&g.id));
        self.denies.retain(|d| !gone(&d.id));
        self.pending.retain(|p| !gone(&p.id));
        self.providers.retain(|p| !gone(&p.id));
        self.routes.retain(|r| !gone(&r.id));
        self.connectors.retain(|c| !gone(&c.id));
        self.aspects.retain(|a| !gone(&a.id));
        self.aspect_use.retain(|a| !gone(&a.id));
        self.retention.retain(|r| !gone(&r.id));
        self.extend(put.to_vec());
    }
}

/// The record of a grant.
pub fn grant_record(g: &Grant) -> PolicyRecord {
    PolicyRecord::Grant(g.into())
}

/// The record of a deny rule.
pub fn deny_record(d: &DenyRule) -> PolicyRecord {
    PolicyRecord::Deny(d.into())
}

/// A change that also records who did what.
pub fn change(put: Vec<PolicyRecord>, delete: Vec<Uuid>, entry: AuditEntry) -> RecordChange {
    RecordChange {
        put,
        delete,
        audit: Some(entry),
        request: None,
    }
}

/// An audit entry for the user's own change.
pub fn user_entry(action: &str, rules: Vec<Uuid>, detail: String) -> AuditEntry {
    AuditEntry {
        time: Utc::now(),
        client: None,
        action: action.into(),
        query: None,
        ids: Vec::new(),
        grants: rules,
        detail: Some(detail),
        tool: None,
        door: None,
        provider: None,
        aspect: None,
    }
}
