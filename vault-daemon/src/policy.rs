//! Policy glue: the client registry, grants and deny rules as stored in the
//! vault, and the client views that apply them (with redaction and audit).
//!
//! The rules themselves live in the pure `policies` crate; this module
//! loads them from sealed records, checks changes, and runs searches, gets
//! and lists as one client would see them.

use chrono::{DateTime, Utc};
use policies::{Action, ClientPolicy, Decision, DenyRule, Grant, ItemFacts, Redactions};
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vault_core::audit::AuditEntry;
use vault_core::vault::{GroupKey, Record, RecordChange};
use vault_core::{Item, SearchHit, UnlockedVault};

use crate::protocol::{ApiError, ErrorKind, Proposal};

/// Record kinds.
const CLIENT: &str = "client";
const GRANT: &str = "grant";
const DENY: &str = "deny";
const PENDING: &str = "pending";

/// A registered client. Its token is never stored, only its SHA-256.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClientRecord {
    /// Record id.
    pub id: Uuid,
    /// The client's name.
    pub name: String,
    /// Hex SHA-256 of the current token.
    pub token_sha256: String,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// When its token was last replaced.
    #[serde(default)]
    pub rotated_at: Option<DateTime<Utc>>,
}

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
    pub pending: Vec<Proposal>,
}

fn bad_record(id: Uuid) -> ApiError {
    ApiError::new(
        ErrorKind::Integrity,
        format!("policy record {id} is unreadable"),
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

/// Check a client name: a lowercase word such as `claude-desktop`.
pub fn check_client_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
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

/// What the policy needs to know of an item's group.
pub fn facts(g: &GroupKey) -> ItemFacts<'_, vault_core::Tag> {
    ItemFacts {
        namespace: g.namespace.as_str(),
        tags: &g.tags,
        sensitivity: g.sensitivity,
    }
}

fn item_facts(i: &Item) -> ItemFacts<'_, vault_core::Tag> {
    ItemFacts {
        namespace: i.namespace.as_str(),
        tags: &i.tags,
        sensitivity: i.sensitivity,
    }
}

impl PolicyState {
    /// Load from the vault's sealed records.
    pub fn load(records: Vec<Record>) -> Result<Self, ApiError> {
        let mut st = PolicyState::default();
        for r in records {
            let id = r.id;
            match r.kind.as_str() {
                CLIENT => st
                    .clients
                    .push(serde_json::from_value(r.data).map_err(|_| bad_record(id))?),
                GRANT => st
                    .grants
                    .push(serde_json::from_value(r.data).map_err(|_| bad_record(id))?),
                DENY => st
                    .denies
                    .push(serde_json::from_value(r.data).map_err(|_| bad_record(id))?),
                PENDING => st
                    .pending
                    .push(serde_json::from_value(r.data).map_err(|_| bad_record(id))?),
                _ => return Err(bad_record(id)),
            }
        }
        Ok(st)
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
        self.clients.iter().find(|c| c.token_sha256 == h).ok_or_else(|| {
            ApiError::new(
                ErrorKind::Unauthorized,
                "unknown or revoked client token; get a new one with `ctxvault client rotate NAME`",
            )
        })
    }

    /// The SHA-256 of every client's token, with the client's name.
    pub fn token_table(&self) -> std::collections::HashMap<String, String> {
        self.clients
            .iter()
            .map(|c| (c.token_sha256.clone(), c.name.clone()))
            .collect()
    }

    /// `name`'s active rules at `now`.
    pub fn compile(&self, name: &str, now: DateTime<Utc>) -> Result<ClientPolicy, ApiError> {
        self.client(name)?;
        Ok(ClientPolicy::new(name, &self.grants, &self.denies, now))
    }

    /// Register a client; returns the change and its token.
    pub fn add_client(
        &self,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<(ClientRecord, String), ApiError> {
        check_client_name(name)?;
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

    /// Apply a committed change to this in-memory copy.
    pub fn apply(&mut self, put: &[Record], delete: &[Uuid]) -> Result<(), ApiError> {
        self.clients
            .retain(|c| !delete.contains(&c.id) && !put.iter().any(|p| p.id == c.id));
        self.grants
            .retain(|g| !delete.contains(&g.id) && !put.iter().any(|p| p.id == g.id));
        self.denies
            .retain(|d| !delete.contains(&d.id) && !put.iter().any(|p| p.id == d.id));
        self.pending
            .retain(|d| !delete.contains(&d.id) && !put.iter().any(|p| p.id == d.id));
        let loaded = PolicyState::load(put.to_vec())?;
        self.clients.extend(loaded.clients);
        self.grants.extend(loaded.grants);
        self.denies.extend(loaded.denies);
        self.pending.extend(loaded.pending);
        Ok(())
    }
}

fn record<T: Serialize>(id: Uuid, kind: &str, value: &T) -> Result<Record, ApiError> {
    Ok(Record {
        id,
        kind: kind.into(),
        data: serde_json::to_value(value).map_err(|e| {
            ApiError::new(
                ErrorKind::Internal,
                format!("cannot encode a policy record: {e}"),
            )
        })?,
    })
}

/// A record for a client.
pub fn client_record(c: &ClientRecord) -> Result<Record, ApiError> {
    record(c.id, CLIENT, c)
}

/// A record for a grant.
pub fn grant_record(g: &Grant) -> Result<Record, ApiError> {
    record(g.id, GRANT, g)
}

/// A record for a deny rule.
pub fn deny_record(d: &DenyRule) -> Result<Record, ApiError> {
    record(d.id, DENY, d)
}

/// A record for a proposal.
pub fn pending_record(p: &Proposal) -> Result<Record, ApiError> {
    record(p.id, PENDING, p)
}

/// A change that also records who did what.
pub fn change(put: Vec<Record>, delete: Vec<Uuid>, entry: AuditEntry) -> RecordChange {
    RecordChange {
        put,
        delete,
        audit: Some(entry),
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
    }
}

fn redact_item(mut item: Item, r: Redactions) -> Item {
    if !r.is_empty() {
        item.title = item.title.as_deref().map(|t| r.apply(t));
        item.body = r.apply(&item.body);
    }
    item
}

fn allowed(d: &Decision) -> Option<(&[Uuid], Redactions)> {
    match d {
        Decision::Allow { grants, redactions } => Some((grants, *redactions)),
        Decision::Deny(_) => None,
    }
}

/// What a view returned, and the grants that allowed it (for the audit).
pub struct Seen<T> {
    /// The results, redacted.
    pub value: T,
    /// Ids of the items returned.
    pub ids: Vec<Uuid>,
    /// Grants used.
    pub grants: Vec<Uuid>,
}

fn union(into: &mut Vec<Uuid>, more: &[Uuid]) {
    for g in more {
        if !into.contains(g) {
            into.push(*g);
        }
    }
}

/// The groups `policy` may read, and those it may read that pass `filter`,
/// as sets of group ids; one decision per group.
async fn readable_groups(
    vault: &UnlockedVault,
    policy: &ClientPolicy,
    filter: &vault_core::ItemFilter,
) -> (Vec<bool>, Vec<bool>) {
    readable_groups_where(vault, policy, |g| filter.matches(&g.namespace, &g.tags)).await
}

/// Like [`readable_groups`], with any predicate on the group.
async fn readable_groups_where(
    vault: &UnlockedVault,
    policy: &ClientPolicy,
    wanted: impl Fn(&GroupKey) -> bool,
) -> (Vec<bool>, Vec<bool>) {
    let keys = vault.group_keys().await;
    let readable: Vec<bool> = policy
        .decide_all(Action::Read, keys.iter().map(facts))
        .iter()
        .map(Decision::is_allowed)
        .collect();
    let results = keys
        .iter()
        .zip(&readable)
        .map(|(g, r)| *r && wanted(g))
        .collect();
    (readable, results)
}

/// Search as the client would: statistics and results over what it may
/// read only (so hidden items change nothing), redactions applied, the
/// snippet cut from the redacted text.
pub async fn search_as(
    vault: &UnlockedVault,
    policy: &ClientPolicy,
    query: &str,
    filter: &vault_core::ItemFilter,
    limit: usize,
) -> Result<Seen<Vec<SearchHit>>, ApiError> {
    let (readable, results) = readable_groups(vault, policy, filter).await;
    let hits = vault
        .search_groups(query, limit, Some(&readable), &results)
        .await?;
    let terms = vault_core::index::query_terms(query);
    let mut grants = Vec::new();
    let mut out = Vec::with_capacity(hits.len());
    for h in hits {
        let d = policy.decide(Action::Read, &item_facts(&h.item));
        // The group was readable a moment ago; re-check on the item itself.
        let Some((used, r)) = allowed(&d) else {
            continue;
        };
        union(&mut grants, used);
        // Cut the snippet again only if redaction changed the text.
        let snippet = if r.is_empty() {
            h.snippet
        } else {
            vault_core::vault::snippet(&r.apply(&h.item.body), &terms)
        };
        let item = redact_item(h.item, r);
        out.push(SearchHit {
            item,
            score: h.score,
            snippet,
        });
    }
    let ids = out.iter().map(|h| h.item.id).collect();
    Ok(Seen {
        value: out,
        ids,
        grants,
    })
}

/// List as the client would.
pub async fn list_as(
    vault: &UnlockedVault,
    policy: &ClientPolicy,
    filter: &vault_core::ItemFilter,
) -> Result<Seen<Vec<Item>>, ApiError> {
    let (_, results) = readable_groups(vault, policy, filter).await;
    let items = vault.list_groups(&results).await?;
    Ok(read_as(policy, items, |v| v))
}

/// Items of readable groups as the client gets them: each re-checked,
/// redacted, with the grants used; `wrap` shapes the answer.
fn read_as<T>(
    policy: &ClientPolicy,
    items: Vec<Item>,
    wrap: impl FnOnce(Vec<Item>) -> T,
) -> Seen<T> {
    let mut grants = Vec::new();
    let mut out = Vec::with_capacity(items.len());
    for i in items {
        let d = policy.decide(Action::Read, &item_facts(&i));
        let Some((used, r)) = allowed(&d) else {
            continue;
        };
        union(&mut grants, used);
        out.push(redact_item(i, r));
    }
    Seen {
        ids: out.iter().map(|i| i.id).collect(),
        value: wrap(out),
        grants,
    }
}

/// Every item the client may read in the groups passing `wanted`, oldest
/// first; only those are opened.
pub async fn list_groups_as(
    vault: &UnlockedVault,
    policy: &ClientPolicy,
    wanted: impl Fn(&GroupKey) -> bool,
) -> Result<Seen<Vec<Item>>, ApiError> {
    let (_, results) = readable_groups_where(vault, policy, wanted).await;
    let items = vault.list_groups(&results).await?;
    Ok(read_as(policy, items, |v| v))
}

/// One page of what the client may read, oldest first; and where the next
/// page starts.
pub async fn page_as(
    vault: &UnlockedVault,
    policy: &ClientPolicy,
    offset: usize,
    limit: usize,
) -> Result<Seen<(Vec<Item>, Option<usize>)>, ApiError> {
    let (_, results) = readable_groups(vault, policy, &vault_core::ItemFilter::default()).await;
    let (items, more) = vault.page_groups(&results, offset, limit).await?;
    let next = more.then_some(offset + limit);
    Ok(read_as(policy, items, |out| (out, next)))
}

/// Get as the client would: an item it may not read is reported exactly
/// like one that does not exist.
pub async fn get_as(
    vault: &UnlockedVault,
    policy: &ClientPolicy,
    id: &Uuid,
) -> Result<Seen<Item>, ApiError> {
    let absent = || ApiError::from(vault_core::Error::NoItem(*id));
    let group = vault.group_of_item(id).await.ok_or_else(absent)?;
    if !policy.allows(Action::Read, &facts(&group)) {
        return Err(absent());
    }
    let item = vault.get(id).await?;
    let d = policy.decide(Action::Read, &item_facts(&item));
    let (used, r) = allowed(&d).ok_or_else(absent)?;
    let grants = used.to_vec();
    Ok(Seen {
        ids: vec![item.id],
        value: redact_item(item, r),
        grants,
    })
}
