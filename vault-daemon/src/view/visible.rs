//! Each client's registered view in the vault: the groups its rules let it
//! read, decided once per rule set and kept current by the vault on every
//! write, found again by a digest of the rules (so a changed grant, one
//! that expired, an aspect or another provider makes a new view).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use policies::{Action, ClientPolicy, Decision};
use vault_core::vault::{Admit, GroupKey, SearchFilter, ViewKey};
use vault_core::{Item, SearchHit, SearchMode, UnlockedVault};

use crate::policy::facts;

/// The digest of a client's active rules that names its view (`None` if
/// the rules cannot be encoded: then no view is shared).
pub fn view_key(policy: &ClientPolicy) -> Option<ViewKey> {
    // Grants, deny rules and the aspect are plain data: their JSON is a
    // faithful, stable encoding of everything a decision depends on (the
    // destination is in it too: the grants are those that hold for it).
    let rules = serde_json::to_vec(&(
        policy.client(),
        policy.grants(),
        policy.denies(),
        policy.aspect(),
    ))
    .ok()?;
    let d = ring::digest::digest(&ring::digest::SHA256, &rules);
    let mut key = [0u8; 32];
    key.copy_from_slice(d.as_ref());
    Some(key)
}

/// The groups a client's rules let it read.
struct Readable(ClientPolicy);

impl Admit for Readable {
    fn admit(&self, groups: &[GroupKey]) -> Vec<bool> {
        self.0
            .decide_all(Action::Read, groups.iter().map(facts))
            .iter()
            .map(Decision::is_allowed)
            .collect()
    }
}

/// The view key each client used last, so that a client's new rules replace
/// its old view rather than sit beside it.
#[derive(Default)]
pub struct ClientViews {
    current: Mutex<HashMap<String, ViewKey>>,
}

impl ClientViews {
    /// Search within what `policy` may read: statistics and results over its
    /// readable items only, of them those whose group passes `wanted`. The
    /// client's view is registered first when its rules are new.
    pub async fn search(
        &self,
        vault: &UnlockedVault,
        policy: &ClientPolicy,
        (query, mode): (&str, Option<SearchMode>),
        limit: usize,
        wanted: Option<&SearchFilter<'_>>,
    ) -> vault_core::Result<Vec<SearchHit>> {
        if let Some(key) = view_key(policy) {
            if let Some(hits) = vault.search_view(&key, query, mode, limit, wanted).await? {
                return Ok(hits);
            }
            self.register(vault, policy, key).await;
            // Gone again only if other readers filled the vault's views
            // since (it keeps a bounded number).
            if let Some(hits) = vault.search_view(&key, query, mode, limit, wanted).await? {
                return Ok(hits);
            }
        }
        // No view: decide the groups for this search alone.
        let keys = vault.group_keys().await;
        let readable = Readable(policy.clone()).admit(&keys);
        let results: Vec<bool> = keys
            .iter()
            .zip(&readable)
            .map(|(g, r)| *r && wanted.is_none_or(|w| w(g)))
            .collect();
        vault
            .search_groups(query, mode, limit, Some(&readable), &results)
            .await
    }

    /// The newest `n` items `policy` may read whose group passes `wanted`,
    /// oldest of them first, found through the client's view (registered
    /// first when its rules are new): no decision per group on the way.
    pub async fn newest(
        &self,
        vault: &UnlockedVault,
        policy: &ClientPolicy,
        wanted: &SearchFilter<'_>,
        n: usize,
    ) -> vault_core::Result<Vec<Item>> {
        if let Some(key) = view_key(policy) {
            if let Some(items) = vault.newest_in_view(&key, wanted, n).await? {
                return Ok(items);
            }
            self.register(vault, policy, key).await;
            if let Some(items) = vault.newest_in_view(&key, wanted, n).await? {
                return Ok(items);
            }
        }
        let keys = vault.group_keys().await;
        let readable = Readable(policy.clone()).admit(&keys);
        let results: Vec<bool> = keys
            .iter()
            .zip(&readable)
            .map(|(g, r)| *r && wanted(g))
            .collect();
        vault.newest_in_groups(&results, n).await
    }

    /// Register `policy`'s view under `key`, replacing the client's last one.
    async fn register(&self, vault: &UnlockedVault, policy: &ClientPolicy, key: ViewKey) {
        let replaces = self
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(policy.client().to_owned(), key);
        let admit = Arc::new(Readable(policy.clone()));
        vault.set_view(key, replaces, admit).await;
    }
}
