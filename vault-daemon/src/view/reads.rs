//! The client view's reads: what one client may see of the vault, with
//! redaction applied, and the items and grants each answer used (for the
//! audit). Decisions are made once per group, then re-checked on each item
//! returned.

use client_view::{ContextItem, Hit, Page};
use policies::{Action, ClientPolicy, Decision, ItemFacts, Redactions};
use uuid::Uuid;
use vault_core::vault::{GroupKey, SearchFilter};
use vault_core::{Item, ItemFilter, SearchMode, UnlockedVault};

use super::visible::ClientViews;
use crate::policy::facts;
use crate::protocol::ApiError;

/// An item as the client receives it.
pub fn context_item(i: Item) -> ContextItem {
    ContextItem {
        id: i.id,
        namespace: i.namespace.to_string(),
        kind: i.kind.as_str().to_owned(),
        title: i.title.clone(),
        body: i.body.clone(),
        tags: i.tags.iter().map(|t| t.as_str().to_owned()).collect(),
        sensitivity: i.sensitivity,
        source: i.source.as_str().to_owned(),
        created_at: i.created_at,
        updated_at: i.updated_at,
        version: i.version,
    }
}

fn item_facts(i: &Item) -> ItemFacts<'_, vault_core::Tag> {
    ItemFacts {
        namespace: i.namespace.as_str(),
        tags: &i.tags,
        sensitivity: i.sensitivity,
    }
}

fn redact_item(item: Item, r: Redactions) -> ContextItem {
    let mut out = context_item(item);
    if !r.is_empty() {
        // Every free-text field a client receives: a tag or a kind can be a
        // phone number too. The namespace is left: it is what grants name,
        // and access reports list it.
        out.title = out.title.as_deref().map(|t| r.apply(t));
        out.body = r.apply(&out.body);
        out.kind = r.apply(&out.kind);
        out.tags = out.tags.iter().map(|t| r.apply(t)).collect();
    }
    out
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

impl Seen<Vec<ContextItem>> {
    /// Keep only the items `keep` accepts (and their ids). The grants stay
    /// as found: the audit entry may name a grant that allowed only a
    /// dropped item.
    pub fn retain(mut self, keep: impl Fn(&ContextItem) -> bool) -> Self {
        let dropped: Vec<Uuid> = self
            .value
            .iter()
            .filter(|i| !keep(i))
            .map(|i| i.id)
            .collect();
        if !dropped.is_empty() {
            self.value.retain(|i| !dropped.contains(&i.id));
            self.ids.retain(|id| !dropped.contains(id));
        }
        self
    }
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
    filter: &ItemFilter,
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
/// read only (so hidden items change nothing), through the client's
/// registered view; redactions applied, the snippet cut from the redacted
/// text.
pub async fn search_as(
    vault: &UnlockedVault,
    views: &ClientViews,
    policy: &ClientPolicy,
    (query, mode): (&str, Option<SearchMode>),
    filter: &ItemFilter,
    limit: usize,
) -> Result<Seen<Vec<Hit>>, ApiError> {
    let wanted = |g: &GroupKey| filter.matches(&g.namespace, &g.tags);
    let filtered = filter.namespace.is_some() || !filter.tags.is_empty();
    let hits = views
        .search(
            vault,
            policy,
            (query, mode),
            limit,
            filtered.then_some(&wanted as &SearchFilter),
        )
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
        out.push(Hit {
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
    filter: &ItemFilter,
) -> Result<Seen<Vec<ContextItem>>, ApiError> {
    let (_, results) = readable_groups(vault, policy, filter).await;
    let items = vault.list_groups(&results).await?;
    Ok(read_as(policy, items, |v| v))
}

/// Items of readable groups as the client gets them: each re-checked,
/// redacted, with the grants used; `wrap` shapes the answer.
fn read_as<T>(
    policy: &ClientPolicy,
    items: Vec<Item>,
    wrap: impl FnOnce(Vec<ContextItem>) -> T,
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
) -> Result<Seen<Vec<ContextItem>>, ApiError> {
    let (_, results) = readable_groups_where(vault, policy, wanted).await;
    let items = vault.list_groups(&results).await?;
    Ok(read_as(policy, items, |v| v))
}

/// The newest `n` items the client may read in the groups passing
/// `wanted`, oldest of them first; only those are opened.
pub async fn newest_groups_as(
    vault: &UnlockedVault,
    views: &ClientViews,
    policy: &ClientPolicy,
    wanted: &vault_core::vault::SearchFilter<'_>,
    n: usize,
) -> Result<Seen<Vec<ContextItem>>, ApiError> {
    let items = views.newest(vault, policy, wanted, n).await?;
    Ok(read_as(policy, items, |v| v))
}

/// One page of what the client may read, oldest first; and where the next
/// page starts.
pub async fn page_as(
    vault: &UnlockedVault,
    policy: &ClientPolicy,
    offset: usize,
    limit: usize,
) -> Result<Seen<Page>, ApiError> {
    let (_, results) = readable_groups(vault, policy, &ItemFilter::default()).await;
    let (items, more) = vault.page_groups(&results, offset, limit).await?;
    let next = more.then_some(offset + limit);
    Ok(read_as(policy, items, |items| Page { items, next }))
}

/// Get as the client would: an item it may not read is reported exactly
/// like one that does not exist.
pub async fn get_as(
    vault: &UnlockedVault,
    policy: &ClientPolicy,
    id: &Uuid,
) -> Result<Seen<ContextItem>, ApiError> {
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
