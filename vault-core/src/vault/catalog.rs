//! The index catalog: which rows the unlocked vault holds, their groups, and
//! the search engine fed from them. Lives only in memory.
//!
//! # Invariants
//! - Every live row is in `rows` and `by_id` with its group, and in the
//!   engine; a row that failed to open is in `damaged` and nowhere else.
//! - Group ids are stable while the vault is unlocked; new groups get
//!   higher ids. `counts[g]` is the number of live rows of group `g`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use uuid::Uuid;
use zeroize::Zeroizing;

use super::views::Views;
use crate::index::{Doc, Index, SearchIndex, Vectors, ViewId};
use crate::item::{Item, Kind, Namespace, Sensitivity, Tag};
use crate::records::ItemPayload;

/// What the policy can know about an item without its text: namespace,
/// tags and sensitivity (and kind). Items sharing all of them form a group,
/// and every policy decision is the same for a whole group.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupKey {
    /// The namespace.
    pub namespace: Namespace,
    /// The tags, sorted.
    pub tags: Vec<Tag>,
    /// The sensitivity.
    pub sensitivity: Sensitivity,
    /// The kind (not a policy fact; it lets the profile find preferences
    /// without opening every item).
    pub kind: Kind,
}

/// A row whose blob was opened (or failed to: `plain` is `None`).
pub(crate) struct Opened {
    pub rowid: i64,
    pub id: Uuid,
    pub created_at: i64,
    pub updated_at: i64,
    pub plain: Option<Zeroizing<Vec<u8>>>,
}

/// Rows, groups and the search engine of an unlocked vault.
pub(crate) struct Catalog {
    /// The search engine (behind the index seam).
    pub index: Box<dyn SearchIndex>,
    /// The semantic engine: vectors of the attached model, when one is.
    pub vectors: Option<Vectors>,
    /// rowid -> group, in rowid (creation) order.
    pub rows: BTreeMap<i64, u32>,
    /// id -> rowid, in id order (for prefixes and shortest starts).
    pub by_id: BTreeMap<Uuid, i64>,
    pub groups: Vec<GroupKey>,
    group_ids: HashMap<GroupKey, u32>,
    /// Live rows per group.
    counts: Vec<u32>,
    /// The namespace id of each group (an index into `namespaces`).
    group_ns: Vec<u32>,
    /// Every namespace a group has had, by id.
    namespaces: Vec<Namespace>,
    ns_ids: HashMap<Namespace, u32>,
    pub damaged: BTreeSet<Uuid>,
    /// Registered views (see `views`).
    pub(super) views: Views,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog {
            index: Box::new(Index::new()),
            vectors: None,
            rows: BTreeMap::new(),
            by_id: BTreeMap::new(),
            groups: Vec::new(),
            group_ids: HashMap::new(),
            counts: Vec::new(),
            group_ns: Vec::new(),
            namespaces: Vec::new(),
            ns_ids: HashMap::new(),
            damaged: BTreeSet::new(),
            views: Views::default(),
        }
    }
}

fn tag_line(tags: &[Tag]) -> Zeroizing<String> {
    Zeroizing::new(tags.iter().map(Tag::as_str).collect::<Vec<_>>().join(" "))
}

impl Catalog {
    fn group_of(&mut self, key: GroupKey) -> u32 {
        if let Some(&g) = self.group_ids.get(&key) {
            return g;
        }
        let g = self.groups.len() as u32;
        let ns = match self.ns_ids.get(&key.namespace) {
            Some(&n) => n,
            None => {
                let n = self.namespaces.len() as u32;
                self.namespaces.push(key.namespace.clone());
                self.ns_ids.insert(key.namespace.clone(), n);
                n
            }
        };
        self.group_ns.push(ns);
        self.views.group_added(&key);
        self.groups.push(key.clone());
        self.group_ids.insert(key, g);
        self.counts.push(0);
        g
    }

    /// The groups passing `f`, as a set indexed by group id.
    pub fn group_set(&self, f: &(dyn Fn(&GroupKey) -> bool + Sync)) -> Vec<bool> {
        self.groups.iter().map(f).collect()
    }

    /// Live rows per namespace, by sensitivity (`[public, normal, private,
    /// secret]`), of the groups `keep` accepts, namespaces in order. One
    /// pass over the groups; nothing is copied but the namespaces counted.
    pub fn namespace_counts(&self, keep: impl Fn(&GroupKey) -> bool) -> Vec<(Namespace, [u64; 4])> {
        let mut by = vec![[0u64; 4]; self.namespaces.len()];
        for (g, key) in self.groups.iter().enumerate() {
            let n = self.counts[g];
            if n == 0 || !keep(key) {
                continue;
            }
            let i = match key.sensitivity {
                Sensitivity::Public => 0,
                Sensitivity::Normal => 1,
                Sensitivity::Private => 2,
                Sensitivity::Secret => 3,
            };
            by[self.group_ns[g] as usize][i] += u64::from(n);
        }
        let mut out: Vec<(Namespace, [u64; 4])> = by
            .into_iter()
            .enumerate()
            .filter(|(_, c)| c.iter().any(|n| *n > 0))
            .map(|(ns, c)| (self.namespaces[ns].clone(), c))
            .collect();
        out.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        out
    }

    /// The group of a live item.
    pub fn group_of_item(&self, id: &Uuid) -> Option<&GroupKey> {
        let rowid = self.by_id.get(id)?;
        let g = self.rows.get(rowid)?;
        self.groups.get(*g as usize)
    }

    /// Live rowids whose group is in `set`, oldest first.
    pub fn rowids_in<'a>(&'a self, set: &'a [bool]) -> impl Iterator<Item = i64> + 'a {
        self.rows
            .iter()
            .filter(|(_, g)| set.get(**g as usize).copied().unwrap_or(false))
            .map(|(r, _)| *r)
    }

    /// The newest `n` live rows whose group passes `pass`, oldest of them
    /// first. Walks from the newest row and stops once `n` are found; each
    /// group met is decided once.
    pub fn newest_rowids(&self, pass: impl Fn(u32) -> bool, n: usize) -> Vec<i64> {
        let mut decided: Vec<Option<bool>> = vec![None; self.groups.len()];
        let mut found: Vec<i64> = self
            .rows
            .iter()
            .rev()
            .filter(|(_, g)| match decided.get_mut(**g as usize) {
                Some(Some(d)) => *d,
                Some(slot) => *slot.insert(pass(**g)),
                None => false,
            })
            .map(|(r, _)| *r)
            .take(n)
            .collect();
        found.reverse();
        found
    }

    fn place(&mut self, rowid: i64, id: Uuid, group: u32) {
        self.by_id.insert(id, rowid);
        self.rows.insert(rowid, group);
        self.counts[group as usize] += 1;
    }

    /// Parse opened rows and add them; rows that failed to open or parse
    /// are recorded as damaged.
    pub fn index_opened(&mut self, batch: Vec<Opened>) {
        let mut good = Vec::with_capacity(batch.len());
        for o in &batch {
            let parsed = o
                .plain
                .as_ref()
                .and_then(|p| serde_json::from_slice::<ItemPayload>(p).ok())
                .filter(|p| p.created_at == o.created_at && p.updated_at == o.updated_at)
                .and_then(|p| {
                    let tags: Vec<Tag> = p
                        .tags
                        .iter()
                        .map(|t| t.parse())
                        .collect::<crate::Result<_>>()
                        .ok()?;
                    let key = GroupKey {
                        namespace: p.namespace.parse().ok()?,
                        tags,
                        sensitivity: p.sensitivity,
                        kind: p.kind.parse().ok()?,
                    };
                    Some((key, p))
                });
            match parsed {
                Some((key, p)) => {
                    let group = self.group_of(key);
                    good.push((o, group, p));
                }
                None => {
                    self.damaged.insert(o.id);
                }
            }
        }
        let tag_lines: Vec<Zeroizing<String>> = good
            .iter()
            .map(|g| tag_line(&self.groups[g.1 as usize].tags))
            .collect();
        let seeing: Vec<Vec<ViewId>> = good.iter().map(|g| self.views.seeing(g.1)).collect();
        let docs: Vec<Doc> = good
            .iter()
            .zip(&tag_lines)
            .zip(&seeing)
            .map(|(((o, group, p), tags), views)| Doc {
                rowid: o.rowid,
                title: p.title.as_deref().unwrap_or(""),
                body: &p.body,
                tags,
                group: *group,
                views,
            })
            .collect();
        self.index.insert_many(&docs);
        drop(docs);
        for (o, group, _) in good {
            self.place(o.rowid, o.id, group);
        }
    }

    /// Add items stored at the given rowids (an item changed in place is
    /// removed first by the caller).
    pub fn add_items(&mut self, items: &[(i64, &Item)]) {
        let groups: Vec<u32> = items
            .iter()
            .map(|(_, i)| {
                self.group_of(GroupKey {
                    namespace: i.namespace.clone(),
                    tags: i.tags.clone(),
                    sensitivity: i.sensitivity,
                    kind: i.kind.clone(),
                })
            })
            .collect();
        let tag_lines: Vec<Zeroizing<String>> =
            items.iter().map(|(_, i)| tag_line(&i.tags)).collect();
        let seeing: Vec<Vec<ViewId>> = groups.iter().map(|g| self.views.seeing(*g)).collect();
        let docs: Vec<Doc> = items
            .iter()
            .zip(&tag_lines)
            .zip(&groups)
            .zip(&seeing)
            .map(|((((rowid, i), tags), group), views)| Doc {
                rowid: *rowid,
                title: i.title.as_deref().unwrap_or(""),
                body: &i.body,
                tags,
                group: *group,
                views,
            })
            .collect();
        self.index.insert_many(&docs);
        drop(docs);
        for ((rowid, i), group) in items.iter().zip(groups) {
            self.place(*rowid, i.id, group);
        }
    }

    /// Remove an item (absent ids are ignored).
    pub fn remove_item(&mut self, id: &Uuid) {
        if let Some(rowid) = self.by_id.remove(id) {
            self.index.remove(rowid);
            if let Some(v) = &mut self.vectors {
                v.remove(rowid);
            }
            if let Some(g) = self.rows.remove(&rowid) {
                self.counts[g as usize] -= 1;
            }
        }
        self.damaged.remove(id);
    }

    /// Set the vectors of live items at their rows (an item gone by now,
    /// or whose row another item took, is skipped); false when no semantic
    /// engine is attached.
    pub fn put_vectors(&mut self, vectors: &[(i64, Uuid, &[f32])]) -> bool {
        let Some(engine) = self.vectors.as_mut() else {
            return false;
        };
        for (rowid, id, v) in vectors {
            if self.by_id.get(id) != Some(rowid) {
                continue;
            }
            if let Some(&g) = self.rows.get(rowid) {
                engine.put(*rowid, g, &self.views.seeing(g), v);
            }
        }
        true
    }

    /// Live rows without a vector (none when no engine is attached), oldest
    /// first, at most `max`, skipping those in `skip`.
    pub fn unembedded(&self, max: usize, skip: &BTreeSet<i64>) -> Vec<i64> {
        let Some(engine) = &self.vectors else {
            return Vec::new();
        };
        self.rows
            .keys()
            .filter(|r| !engine.contains(**r) && !skip.contains(r))
            .take(max)
            .copied()
            .collect()
    }
}
