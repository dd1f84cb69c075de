//! Registered views: which groups one reader (a client's compiled rules) may
//! see, decided once per group and kept current on every write, so that a
//! search within it does no work per group or per hidden item.
//!
//! # Invariants
//! - A view's `groups[g]` is its [`Admit`]'s decision on group `g`, made
//!   when the view was registered or when the group first appeared.
//! - The engine's copy of a view holds exactly the live rows of the groups
//!   it admits: rows join it as they are indexed, leave it when removed.
//! - A view is found by its key (a digest of the rules it stands for): rules
//!   that change get a new key and so a new view; at most [`MAX_VIEWS`] are
//!   kept, the least recently used dropped first.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::catalog::{Catalog, GroupKey};
use super::search::SearchFilter;
use super::{SearchHit, UnlockedVault};
use crate::embed::SearchMode;
use crate::error::Result;
use crate::index::{Universe, ViewId};
use crate::item::Item;

/// What identifies a view: a digest of the rules it stands for.
pub type ViewKey = [u8; 32];

/// Views kept at once; registering one more drops the least recently used.
pub const MAX_VIEWS: usize = 64;

/// Decides which groups a view admits.
pub trait Admit: Send + Sync {
    /// For each group, whether the view admits its items.
    fn admit(&self, groups: &[GroupKey]) -> Vec<bool>;
}

struct Slot {
    key: ViewKey,
    admit: Arc<dyn Admit>,
    groups: Vec<bool>,
    used: AtomicU64,
}

/// The registered views of a catalog.
#[derive(Default)]
pub(crate) struct Views {
    slots: Vec<Option<Slot>>,
    by_key: HashMap<ViewKey, ViewId>,
    clock: AtomicU64,
}

impl Views {
    /// The view registered under `key`, marked as used now.
    pub fn find(&self, key: &ViewKey) -> Option<ViewId> {
        let id = *self.by_key.get(key)?;
        if let Some(Some(slot)) = self.slots.get(id as usize) {
            let now = self.clock.fetch_add(1, Ordering::Relaxed);
            slot.used.store(now, Ordering::Relaxed);
        }
        Some(id)
    }

    /// The groups view `id` admits, by group id.
    pub fn groups_of(&self, id: ViewId) -> Option<&[bool]> {
        self.slots
            .get(id as usize)?
            .as_ref()
            .map(|s| s.groups.as_slice())
    }

    /// A new group appeared: decide it for every view.
    pub fn group_added(&mut self, key: &GroupKey) {
        for slot in self.slots.iter_mut().flatten() {
            let admitted = slot
                .admit
                .admit(std::slice::from_ref(key))
                .first()
                .copied()
                .unwrap_or(false);
            slot.groups.push(admitted);
        }
    }

    /// The views that admit group `g`.
    pub fn seeing(&self, g: u32) -> Vec<ViewId> {
        if self.by_key.is_empty() {
            return Vec::new();
        }
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(id, s)| {
                let s = s.as_ref()?;
                s.groups
                    .get(g as usize)
                    .copied()
                    .unwrap_or(false)
                    .then_some(id as ViewId)
            })
            .collect()
    }

    /// Forget the view under `key`; its slot id, if it had one.
    fn remove(&mut self, key: &ViewKey) -> Option<ViewId> {
        let id = self.by_key.remove(key)?;
        self.slots[id as usize] = None;
        Some(id)
    }

    /// A free slot, dropping the least recently used view when all are taken.
    fn free_slot(&mut self) -> (ViewId, Option<ViewId>) {
        if let Some(i) = self.slots.iter().position(Option::is_none) {
            return (i as ViewId, None);
        }
        if self.slots.len() < MAX_VIEWS {
            self.slots.push(None);
            return ((self.slots.len() - 1) as ViewId, None);
        }
        let oldest = self
            .slots
            .iter()
            .flatten()
            .min_by_key(|s| s.used.load(Ordering::Relaxed))
            .map(|s| s.key);
        let dropped = oldest.and_then(|k| self.remove(&k));
        (dropped.unwrap_or(0), dropped)
    }
}

impl Catalog {
    /// Register the view `key` deciding groups with `admit` (a view already
    /// under `key` stays as it is), first dropping the view under `replaces`.
    pub fn set_view(&mut self, key: ViewKey, replaces: Option<ViewKey>, admit: Arc<dyn Admit>) {
        if let Some(old) = replaces.filter(|old| *old != key)
            && let Some(id) = self.views.remove(&old)
        {
            self.index.drop_view(id);
            if let Some(v) = &mut self.vectors {
                v.drop_view(id);
            }
        }
        if self.views.find(&key).is_some() {
            return;
        }
        let (id, dropped) = self.views.free_slot();
        if let Some(d) = dropped {
            self.index.drop_view(d);
            if let Some(v) = &mut self.vectors {
                v.drop_view(d);
            }
        }
        let groups = admit.admit(&self.groups);
        let admitted = |g: &u32| groups.get(*g as usize).copied().unwrap_or(false);
        let mut rows = self
            .rows
            .iter()
            .filter(|(_, g)| admitted(g))
            .map(|(r, _)| *r);
        self.index.set_view(id, &mut rows);
        if let Some(v) = &mut self.vectors {
            let mut rows = self
                .rows
                .iter()
                .filter(|(_, g)| admitted(g))
                .map(|(r, _)| *r);
            v.set_view(id, &mut rows);
        }
        let now = self.views.clock.fetch_add(1, Ordering::Relaxed);
        self.views.slots[id as usize] = Some(Slot {
            key,
            admit,
            groups,
            used: AtomicU64::new(now),
        });
        self.views.by_key.insert(key, id);
    }
}

impl Catalog {
    /// Give the semantic engine every registered view (after it is made).
    pub fn refresh_vector_views(&mut self) {
        let Some(vectors) = self.vectors.as_mut() else {
            return;
        };
        for (id, slot) in self.views.slots.iter().enumerate() {
            let Some(slot) = slot else { continue };
            let mut rows = self
                .rows
                .iter()
                .filter(|(_, g)| slot.groups.get(**g as usize).copied().unwrap_or(false))
                .map(|(r, _)| *r);
            vectors.set_view(id as ViewId, &mut rows);
        }
    }
}

impl UnlockedVault {
    /// Register a view: the items of the groups `admit` admits, now and as
    /// the vault changes, found again by `key`. The view under `replaces`
    /// (the same reader's earlier rules) is dropped.
    pub async fn set_view(&self, key: ViewKey, replaces: Option<ViewKey>, admit: Arc<dyn Admit>) {
        self.state.write().await.set_view(key, replaces, admit);
    }

    /// Items in the view under `key` (`None` when no such view).
    pub async fn view_len(&self, key: &ViewKey) -> Option<usize> {
        let st = self.state.read().await;
        let id = st.views.find(key)?;
        Some(st.index.view_len(id))
    }

    /// Search within the view under `key`: statistics and results over its
    /// items only, and of them only those whose group passes `wanted`.
    /// `None` when no view is registered under `key` (register it with
    /// [`UnlockedVault::set_view`] and ask again).
    pub async fn search_view(
        &self,
        key: &ViewKey,
        query: &str,
        mode: Option<SearchMode>,
        limit: usize,
        wanted: Option<&SearchFilter<'_>>,
    ) -> Result<Option<Vec<SearchHit>>> {
        self.search_view_where(key, query, mode, limit, wanted, |st| {
            st.views.find(key).map(Universe::View)
        })
        .await
    }

    /// The newest `n` items of the view under `key` whose group passes
    /// `wanted`, oldest of them first; only those are opened. `None` when no
    /// view is registered under `key`.
    pub async fn newest_in_view(
        &self,
        key: &ViewKey,
        wanted: &SearchFilter<'_>,
        n: usize,
    ) -> Result<Option<Vec<Item>>> {
        let rowids: Vec<i64> = {
            let st = self.state.read().await;
            let Some(admitted) = st.views.find(key).and_then(|id| st.views.groups_of(id)) else {
                return Ok(None);
            };
            st.newest_rowids(
                |g| {
                    admitted.get(g as usize).copied().unwrap_or(false)
                        && st.groups.get(g as usize).is_some_and(wanted)
                },
                n,
            )
        };
        Ok(Some(self.open_rows(&self.store.get_many(&rowids).await?)?))
    }
}
