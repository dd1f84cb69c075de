//! Applying other devices' segments, and the conflicts they leave.
//!
//! # Invariants
//! - A segment is applied in one transaction with the record of it as seen:
//!   after a crash it is applied whole or not at all, and never twice.
//! - An operation known here (by id) is never applied again.
//! - After every operation the entity's winner is chosen again from its
//!   leaves alone ([`crate::sync::winner`]); the vault holds the winner's
//!   state and keeps every losing leaf's.

use uuid::Uuid;

use super::UnlockedVault;
use super::sync::{item_body, item_row_of, not_set_up};
use crate::error::{Error, Result};
use crate::item::Item;
use crate::records::{self, PolicyRecord};
use crate::store;
use crate::store::sync::{self as ss, Among, OpRow, SeenRow};
use crate::sync::format::{self, Body, MAX_FILE, Op, Segment};
use crate::sync::{Leaf, Prefer, prefer_of, short, winner};

/// What applying a segment changed.
#[derive(Debug, Default)]
pub struct Applied {
    /// Operations new to this device.
    pub ops: u64,
    /// Items whose state changed.
    pub items: u64,
    /// Policy records put (for the agent's policy state).
    pub records_put: Vec<PolicyRecord>,
    /// Policy records removed.
    pub records_deleted: Vec<Uuid>,
}

/// An item whose versions were changed concurrently on two devices.
#[derive(Debug)]
pub struct Conflict {
    /// The item.
    pub item: Uuid,
    /// The operation that made the version kept aside.
    pub op: Uuid,
    /// The device that made it.
    pub device: Uuid,
    /// The version kept aside (`None`: it removes the item).
    pub other: Option<Item>,
    /// The version the vault holds (`None`: removed).
    pub current: Option<Item>,
}

/// Which version a resolved conflict keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// The one the vault holds.
    Current,
    /// The one kept aside.
    Other,
}

/// What the catalog must learn once a transaction commits.
#[derive(Default)]
struct Effects {
    /// Each item changed, with its last state (`None`: removed).
    items: std::collections::HashMap<Uuid, Option<(i64, Item)>>,
    applied: Applied,
}

/// Open segment `seq` of `device`, which must come after `seen` and chain
/// to it; otherwise say what is wrong with it.
fn check(
    vault: &UnlockedVault,
    device: &Uuid,
    seen: &[SeenRow],
    seq: u64,
    bytes: &[u8],
) -> std::result::Result<Segment, String> {
    let (expected, prev) = seen.last().map_or((1, [0; 32]), |s| (s.seq + 1, s.hash));
    if seq != expected {
        return Err(format!(
            "offers segment {seq} where segment {expected} comes next"
        ));
    }
    if bytes.len() as u64 > MAX_FILE {
        return Err(format!("has a segment {seq} too large to be ctxvault's"));
    }
    match Segment::open(&vault.sync, &vault.vault_id, device, seq, bytes) {
        Ok(Some(s)) if s.prev == prev => Ok(s),
        Ok(Some(_)) => Err(format!(
            "has a segment {seq} that does not follow segment {} (replaced by another copy, or reordered)",
            seq - 1
        )),
        Ok(None) => Err(format!(
            "has a segment {seq} that fails authentication (altered, cut short, or moved from another place or device)"
        )),
        Err(e) => Err(format!("has a segment {seq} that does not parse ({e})")),
    }
}

impl UnlockedVault {
    /// Apply segment `seq` of `device` (`bytes` as read, `stamp` as the
    /// remote listed it). It must be the one after the last applied of that
    /// device, authenticate as that device's, and chain to the one before;
    /// otherwise the device is blocked and an integrity error names it.
    pub async fn sync_apply(
        &self,
        device: &Uuid,
        seq: u64,
        bytes: &[u8],
        stamp: String,
    ) -> Result<Applied> {
        let me = self.sync_device().ok_or_else(not_set_up)?;
        if *device == me {
            return Err(Error::Sync(
                "a segment of this device's own log is not applied to it".into(),
            ));
        }
        let _w = self.writer.lock().await;
        let mut tx = self.store.begin().await?;
        if let Some((_, why)) = ss::blocked(&mut tx)
            .await?
            .into_iter()
            .find(|(d, _)| d == device)
        {
            return Err(Error::Sync(format!(
                "the log of device {} is blocked ({why})",
                short(device)
            )));
        }
        let seen = ss::seen(&mut tx, device).await?;
        let seg = match check(self, device, &seen, seq, bytes) {
            Ok(seg) => seg,
            Err(reason) => {
                drop(tx);
                let mut tx = self.store.begin().await?;
                ss::block(&mut tx, device, &reason).await?;
                self.finish(tx).await?;
                return Err(integrity(device, reason));
            }
        };
        let mut fx = Effects::default();
        let mut top = 0;
        // What this device knows of the segment's operations and entities,
        // asked once: an operation on an entity new here, with no parents
        // and no children, needs no merge (a join is made of those).
        let ids: Vec<Uuid> = seg.ops.iter().map(|o| o.id).collect();
        let entities: Vec<Uuid> = seg.ops.iter().map(|o| o.entity).collect();
        let known = ss::known_among(&mut tx, Among::Ops, &ids).await?;
        let parents = ss::known_among(&mut tx, Among::Parents, &ids).await?;
        let mut touched = ss::known_among(&mut tx, Among::Entities, &entities).await?;
        let mut fresh_ops = Vec::new();
        for op in seg.ops {
            top = top.max(op.clock);
            if let Body::Audit { seq, sealed } = &op.body {
                ss::put_peer_audit(&mut tx, device, *seq, sealed).await?;
                continue;
            }
            if known.contains(&op.id) {
                continue;
            }
            let fresh =
                op.parents.is_empty() && !parents.contains(&op.id) && !touched.contains(&op.entity);
            touched.insert(op.entity);
            if fresh {
                fresh_ops.push(op);
            } else {
                // What came before it is in place first.
                let ready = std::mem::take(&mut fresh_ops);
                self.apply_fresh(&mut tx, device, ready, &mut fx).await?;
                self.apply_op(&mut tx, device, op, &mut fx).await?;
            }
        }
        self.apply_fresh(&mut tx, device, fresh_ops, &mut fx)
            .await?;
        let seen = SeenRow {
            seq,
            size: bytes.len() as u64,
            stamp,
            hash: format::hash(bytes),
        };
        ss::put_seen(&mut tx, device, &seen).await?;
        if let Some(mut d) = ss::device(&mut tx).await?
            && d.clock < top
        {
            d.clock = top;
            ss::put_device(&mut tx, &d).await?;
        }
        self.finish(tx).await?;
        Ok(self.settle(fx).await)
    }

    /// Bring the catalog up to a committed transaction's effects.
    async fn settle(&self, fx: Effects) -> Applied {
        let Effects { items, mut applied } = fx;
        if !items.is_empty() {
            let mut st = self.state.write().await;
            for id in items.keys() {
                st.remove_item(id);
            }
            let rows: Vec<(i64, &Item)> = items.values().flatten().map(|(r, i)| (*r, i)).collect();
            st.add_items(&rows);
            let placed = !rows.is_empty();
            drop(st);
            if placed {
                self.want_embedding();
            }
        }
        applied.items = items.len() as u64;
        applied
    }

    /// Apply operations on entities this device has no operation of: each
    /// is its entity's only leaf, so its winner. Their rows go in a few
    /// statements.
    async fn apply_fresh(
        &self,
        tx: &mut sqlx::SqliteConnection,
        device: &Uuid,
        ops: Vec<Op>,
        fx: &mut Effects,
    ) -> Result<()> {
        if ops.is_empty() {
            return Ok(());
        }
        let rows: Vec<OpRow> = ops
            .iter()
            .map(|op| OpRow {
                op: op.id,
                entity: op.entity,
                clock: op.clock,
                device: *device,
                leaf: true,
                winner: true,
                pending: false,
                parents: Vec::new(),
                body: None,
            })
            .collect();
        ss::insert_ops(tx, &rows).await?;
        fx.applied.ops += ops.len() as u64;
        let mut items = Vec::new();
        let mut opened = Vec::new();
        for op in ops {
            match item_row_of(op.entity, &op.body) {
                Some(row) => {
                    opened.push(self.open_item(&row)?);
                    items.push(row);
                }
                None => self.hold(tx, &op.entity, &op.body, fx).await?,
            }
        }
        let rowids = ss::put_item_rows(tx, &items).await?;
        for item in opened {
            let rowid = *rowids
                .get(&item.id)
                .ok_or_else(|| Error::Format("an item row was not written".into()))?;
            fx.items.insert(item.id, Some((rowid, item)));
        }
        Ok(())
    }

    /// Apply one operation of another device.
    async fn apply_op(
        &self,
        tx: &mut sqlx::SqliteConnection,
        device: &Uuid,
        op: Op,
        fx: &mut Effects,
    ) -> Result<()> {
        if ss::op_known(tx, &op.id).await? {
            return Ok(());
        }
        for p in &op.parents {
            ss::add_edge(tx, p, &op.id).await?;
        }
        let leaf = !ss::has_child(tx, &op.id).await?;
        ss::insert_op(
            tx,
            &OpRow {
                op: op.id,
                entity: op.entity,
                clock: op.clock,
                device: *device,
                leaf,
                winner: false,
                pending: false,
                parents: op.parents,
                body: leaf.then(|| op.body.encode()),
            },
        )
        .await?;
        fx.applied.ops += 1;
        self.choose(tx, &op.entity, op.body.is_item(), fx).await
    }

    /// Choose `entity`'s winner again from its leaves, and hold its state.
    async fn choose(
        &self,
        tx: &mut sqlx::SqliteConnection,
        entity: &Uuid,
        is_item: bool,
        fx: &mut Effects,
    ) -> Result<()> {
        let rows = ss::entity_ops(tx, entity).await?;
        let current = rows.iter().find(|r| r.winner).map(|r| r.op);
        let held = self.held(tx, entity, is_item).await?;
        let mut leaves = Vec::new();
        let mut bodies = Vec::new();
        for r in rows.iter().filter(|r| r.leaf) {
            let body = match &r.body {
                Some(b) => Body::decode(b)?,
                None if r.winner => held.clone(),
                None => return Err(Error::Format("a losing version has no body".into())),
            };
            leaves.push(Leaf {
                op: r.op,
                clock: r.clock,
                device: r.device,
                gone: body.is_gone(),
            });
            bodies.push(body);
        }
        let prefer = bodies
            .iter()
            .find_map(|b| match b {
                Body::Record(sealed) => {
                    records::open_record(&self.records, &self.vault_id, *entity, sealed)
                        .ok()
                        .map(|r| prefer_of(&r))
                }
                _ => None,
            })
            .unwrap_or(Prefer::Latest);
        let Some(w) = winner(&leaves, prefer) else {
            return Ok(());
        };
        if current == Some(leaves[w].op) {
            return Ok(());
        }
        if let Some(cur) = current {
            ss::set_winner(tx, &cur, false, Some(&held.encode())).await?;
        }
        ss::set_winner(tx, &leaves[w].op, true, None).await?;
        self.hold(tx, entity, &bodies[w], fx).await
    }

    /// The state the vault holds of `entity`.
    pub(super) async fn held(
        &self,
        tx: &mut sqlx::SqliteConnection,
        entity: &Uuid,
        is_item: bool,
    ) -> Result<Body> {
        Ok(if is_item {
            match ss::item_row(tx, entity).await? {
                Some(r) => item_body(&r),
                None => Body::ItemGone,
            }
        } else {
            match ss::record_row(tx, entity).await? {
                Some(s) => Body::Record(s),
                None => Body::RecordGone,
            }
        })
    }

    /// Make the vault hold `body` as `entity`'s state.
    async fn hold(
        &self,
        tx: &mut sqlx::SqliteConnection,
        entity: &Uuid,
        body: &Body,
        fx: &mut Effects,
    ) -> Result<()> {
        if let Some(mut row) = item_row_of(*entity, body) {
            let item = self.open_item(&row)?;
            row.rowid = ss::put_item_row(tx, &row).await?;
            store::delete_vectors(tx, row.rowid).await?;
            fx.items.insert(*entity, Some((row.rowid, item)));
            return Ok(());
        }
        match body {
            // Held above; audit entries are kept apart, never a state.
            Body::Item { .. } | Body::Audit { .. } => {}
            Body::ItemGone => {
                if store::delete_item(tx, entity).await? {
                    fx.items.insert(*entity, None);
                }
            }
            Body::Record(sealed) => {
                let r = records::open_record(&self.records, &self.vault_id, *entity, sealed)?;
                store::put_record(tx, entity, sealed).await?;
                fx.applied.records_deleted.retain(|d| d != entity);
                fx.applied.records_put.retain(|p| p.id() != *entity);
                fx.applied.records_put.push(r);
            }
            Body::RecordGone => {
                store::delete_record(tx, entity).await?;
                fx.applied.records_put.retain(|p| p.id() != *entity);
                fx.applied.records_deleted.push(*entity);
            }
        }
        Ok(())
    }

    /// Items changed concurrently on two devices: each version kept aside,
    /// with the one the vault holds.
    pub async fn sync_conflicts(&self) -> Result<Vec<Conflict>> {
        let mut c = self.store.pool().acquire().await?;
        let mut out = Vec::new();
        for r in ss::losing_leaves(&mut c).await? {
            let Some(body) = &r.body else { continue };
            let body = Body::decode(body)?;
            if !body.is_item() {
                continue;
            }
            let current = match ss::item_row(&mut c, &r.entity).await? {
                Some(row) => Some(self.open_item(&row)?),
                None => None,
            };
            let other = match item_row_of(r.entity, &body) {
                Some(row) => Some(self.open_item(&row)?),
                None => None,
            };
            // Two removals of one item agree: nothing to choose.
            if other.is_none() && current.is_none() {
                continue;
            }
            out.push(Conflict {
                item: r.entity,
                op: r.op,
                device: r.device,
                other,
                current,
            });
        }
        Ok(out)
    }

    /// Resolve the conflicts of `item`: keep the version the vault holds,
    /// or the one made by operation `other`. Either way one new operation,
    /// made on every version, ends the conflict on every device.
    pub async fn sync_resolve(&self, item: &Uuid, keep: Keep, other: Option<Uuid>) -> Result<()> {
        let me = self.sync_device().ok_or_else(not_set_up)?;
        let _w = self.writer.lock().await;
        let mut tx = self.store.begin().await?;
        let rows = ss::entity_ops(&mut tx, item).await?;
        let leaves: Vec<&OpRow> = rows.iter().filter(|r| r.leaf).collect();
        if leaves.len() < 2 {
            return Err(Error::Sync(format!(
                "item {item} has no conflict to resolve; see `ctxvault sync conflicts`"
            )));
        }
        let body = match keep {
            Keep::Current => self.held(&mut tx, item, true).await?,
            Keep::Other => {
                let pick = leaves
                    .iter()
                    .filter(|r| !r.winner)
                    .find(|r| other.is_none_or(|o| o == r.op))
                    .and_then(|r| r.body.as_deref())
                    .ok_or_else(|| {
                        Error::Sync(format!(
                            "item {item} has no other version by that id; see `ctxvault sync conflicts`"
                        ))
                    })?;
                Body::decode(pick)?
            }
        };
        let mut d = ss::device(&mut tx).await?.ok_or_else(not_set_up)?;
        let clock = leaves.iter().map(|r| r.clock).max().unwrap_or(0);
        d.clock = d
            .clock
            .max(clock)
            .max(chrono::Utc::now().timestamp_micros().max(0) as u64)
            + 1;
        let op = Uuid::now_v7();
        let parents: Vec<Uuid> = leaves.iter().map(|r| r.op).collect();
        for p in &parents {
            ss::add_edge(&mut tx, p, &op).await?;
        }
        ss::insert_op(
            &mut tx,
            &OpRow {
                op,
                entity: *item,
                clock: d.clock,
                device: me,
                leaf: true,
                winner: false,
                pending: true,
                parents,
                body: Some(body.encode()),
            },
        )
        .await?;
        ss::put_device(&mut tx, &d).await?;
        let mut fx = Effects::default();
        self.choose(&mut tx, item, true, &mut fx).await?;
        self.finish(tx).await?;
        self.settle(fx).await;
        Ok(())
    }
}

fn integrity(device: &Uuid, reason: String) -> Error {
    Error::SyncIntegrity {
        device: short(device),
        reason,
    }
}
