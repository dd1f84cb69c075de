//! The vault's side of sync: setting it up, recording every change of the
//! change-set path as an operation of this device's log, and sealing
//! pending operations into segments for the remote. Applying other
//! devices' segments and conflicts are in `sync_apply`.
//!
//! # Invariants
//! - An operation is written in the transaction of the change it records:
//!   a change committed is in the log, and nothing is in the log that was
//!   not committed.
//! - A segment is sealed and kept in the outbox in one transaction with its
//!   operations leaving the pending set, so a crash between sealing and
//!   writing it to the remote writes the very same bytes again.

use uuid::Uuid;

use super::UnlockedVault;
use crate::error::{Error, Result};
use crate::seal::Sealer;
use crate::store::sync::{self as ss, DeviceRow, OpRow, SeenRow};
use crate::store::{self, ItemRow};
use crate::sync::format::{self, Body, MAX_SEGMENT_OPS, Op, Segment};

/// One change to record: the item or record, and the state it leaves.
pub(super) type Logged = (Uuid, Body);

/// The body of an item row.
pub(super) fn item_body(row: &ItemRow) -> Body {
    Body::Item {
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
        sealed: row.sealed.clone(),
    }
}

/// About the most bytes of bodies one segment holds (a receiver refuses
/// files over [`format::MAX_FILE`]; an item is at most 1 MiB).
const SEGMENT_BUDGET: usize = 32 << 20;

/// The item row an item state is, for `id` (`None` for any other body);
/// the inverse of [`item_body`] (its rowid is not known: 0).
pub(super) fn item_row_of(id: Uuid, body: &Body) -> Option<ItemRow> {
    match body {
        Body::Item {
            version,
            created_at,
            updated_at,
            sealed,
        } => Some(ItemRow {
            rowid: 0,
            id,
            version: *version,
            created_at: *created_at,
            updated_at: *updated_at,
            sealed: sealed.clone(),
        }),
        _ => None,
    }
}

/// A local write's change of an item, for the log.
pub(super) fn logged_item(row: &ItemRow) -> Logged {
    (row.id, item_body(row))
}

/// Now, unix microseconds.
fn wall() -> u64 {
    chrono::Utc::now().timestamp_micros().max(0) as u64
}

/// Where sync stands on this device.
#[derive(Clone, Debug)]
pub struct SyncState {
    /// This device's id.
    pub device: Uuid,
    /// The remote, if one was added.
    pub remote: Option<String>,
    /// Operations not yet in a segment.
    pub pending: u64,
    /// Segments sealed but not yet written to the remote.
    pub outbox: u64,
    /// Devices whose log is not applied, and why.
    pub blocked: Vec<(Uuid, String)>,
    /// Every device whose segments were seen, with the last one's number.
    pub devices: Vec<(Uuid, u64)>,
}

impl UnlockedVault {
    /// This device's id in the sync log, once sync is set up.
    pub fn sync_device(&self) -> Option<Uuid> {
        *self.device.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The vault's id (the remote is bound to it).
    pub fn vault_id(&self) -> [u8; 16] {
        self.vault_id
    }

    /// Set sync up: give this device an id and put every item and policy
    /// record in its log, so another device can start from it. Returns the
    /// device id (the present one when sync was set up before, whose remote
    /// address is then replaced: the caller checks it is the same remote).
    pub async fn sync_enable(&self, remote: &str) -> Result<Uuid> {
        let remote = self.seal_remote(remote)?;
        let _w = self.writer.lock().await;
        let mut tx = self.store.begin().await?;
        if let Some(mut d) = ss::device(&mut tx).await? {
            // The same remote added again: its address (and credentials)
            // are kept anew.
            d.remote = Some(remote);
            ss::put_device(&mut tx, &d).await?;
            self.finish(tx).await?;
            return Ok(d.device);
        }
        let d = DeviceRow {
            device: Uuid::now_v7(),
            clock: wall(),
            next_seq: 1,
            last_hash: [0; 32],
            remote: Some(remote),
            audit_sent: 0,
        };
        // Every item and record is one operation of the log's start; its
        // body is read from the vault when it is sealed, not copied now.
        let mut entities: Vec<Uuid> = store::sync::all_item_rows(&mut tx)
            .await?
            .iter()
            .map(|r| r.id)
            .collect();
        for (id, sealed) in store::sync::all_record_rows(&mut tx).await? {
            let r = crate::records::open_record(&self.records, &self.vault_id, id, &sealed)?;
            if !matches!(r, crate::records::PolicyRecord::Connector(_)) {
                entities.push(id);
            }
        }
        let mut d = d;
        let rows: Vec<OpRow> = entities
            .into_iter()
            .map(|entity| {
                d.clock = wall().max(d.clock + 1);
                OpRow {
                    op: Uuid::now_v7(),
                    entity,
                    clock: d.clock,
                    device: d.device,
                    leaf: true,
                    winner: true,
                    pending: true,
                    parents: Vec::new(),
                    body: None,
                }
            })
            .collect();
        ss::insert_ops(&mut tx, &rows).await?;
        ss::put_device(&mut tx, &d).await?;
        let device = d.device;
        self.finish(tx).await?;
        *self.device.lock().unwrap_or_else(|p| p.into_inner()) = Some(device);
        Ok(device)
    }

    fn seal_remote(&self, remote: &str) -> Result<Vec<u8>> {
        seal_remote(&self.sync, &self.vault_id, remote)
    }

    fn open_remote(&self, sealed: &[u8]) -> Result<String> {
        let plain = self
            .sync
            .open(&remote_aad(&self.vault_id), sealed)
            .map_err(|_| Error::Format("the sync remote's address fails authentication".into()))?;
        String::from_utf8(plain.to_vec())
            .map_err(|_| Error::Format("the sync remote's address is not UTF-8".into()))
    }

    /// Record changes as this device's operations, inside the change's
    /// transaction. Nothing happens until sync is set up.
    pub(super) async fn log_changes(
        &self,
        tx: &mut sqlx::SqliteConnection,
        changes: Vec<Logged>,
    ) -> Result<()> {
        if self.sync_device().is_none() || changes.is_empty() {
            return Ok(());
        }
        let Some(d) = ss::device(tx).await? else {
            return Ok(());
        };
        self.log_as(tx, d, changes).await
    }

    async fn log_as(
        &self,
        tx: &mut sqlx::SqliteConnection,
        mut d: DeviceRow,
        changes: Vec<Logged>,
    ) -> Result<()> {
        for (entity, body) in changes {
            let ops = ss::entity_ops(tx, &entity).await?;
            // The removal of a record the log never had (a connector's).
            if body == Body::RecordGone && ops.is_empty() {
                continue;
            }
            d.clock = wall().max(d.clock + 1);
            let op = Uuid::now_v7();
            // An item's change is made on the version the vault holds (its
            // conflicts stay); a record's on every version, since the user
            // saw their merge (it has no conflicts of its own).
            let item = body.is_item();
            let parents: Vec<Uuid> = ops
                .into_iter()
                .filter(|o| o.winner || (!item && o.leaf))
                .map(|o| o.op)
                .collect();
            for p in &parents {
                ss::set_winner(tx, p, false, None).await?;
                ss::add_edge(tx, p, &op).await?;
            }
            ss::insert_op(
                tx,
                &OpRow {
                    op,
                    entity,
                    clock: d.clock,
                    device: d.device,
                    leaf: true,
                    winner: true,
                    pending: true,
                    parents,
                    body: Some(body.encode()),
                },
            )
            .await?;
        }
        ss::put_device(tx, &d).await
    }

    /// Seal the next segment of pending operations into the outbox, with
    /// this device's audit entries not yet sent (all of them with `audit`,
    /// else only beside operations); false when there was nothing to seal.
    pub async fn sync_seal_next(&self, audit: bool) -> Result<bool> {
        let _w = self.writer.lock().await;
        {
            let mut tx = self.store.begin().await?;
            let Some(mut d) = ss::device(&mut tx).await? else {
                return Err(not_set_up());
            };
            let rows = ss::pending_ops(&mut tx, MAX_SEGMENT_OPS, SEGMENT_BUDGET).await?;
            let entries = if audit || !rows.is_empty() {
                ss::audit_after(&mut tx, d.audit_sent, MAX_SEGMENT_OPS - rows.len()).await?
            } else {
                Vec::new()
            };
            if rows.is_empty() && entries.is_empty() {
                return Ok(false);
            }
            let mut ops = Vec::with_capacity(rows.len());
            let mut size = 0;
            let mut taken = 0;
            for r in &rows {
                // Bodies read from the vault count too: a segment stays
                // well under what a receiver accepts.
                if taken > 0 && size >= SEGMENT_BUDGET {
                    break;
                }
                taken += 1;
                let body = match r.body.as_deref() {
                    Some(b) => Body::decode(b)?,
                    // The log's start: the state the vault holds (an entity
                    // changed since has its own operation; one gone since
                    // needs no start).
                    None => match self.current(&mut tx, &r.entity).await? {
                        Some(b) => b,
                        None => continue,
                    },
                };
                size += body.encode().len();
                ops.push(Op {
                    id: r.op,
                    clock: r.clock,
                    entity: r.entity,
                    parents: r.parents.clone(),
                    body,
                });
            }
            let rows = &rows[..taken];
            for (seq, sealed) in entries {
                d.audit_sent = seq;
                ops.push(Op {
                    id: Uuid::now_v7(),
                    clock: d.clock,
                    entity: Uuid::nil(),
                    parents: Vec::new(),
                    body: Body::Audit { seq, sealed },
                });
            }
            let seg = Segment {
                seq: d.next_seq,
                prev: d.last_hash,
                ops,
            };
            let bytes = seg.seal(&self.sync, &self.vault_id, &d.device)?;
            ss::put_outbox(&mut tx, seg.seq, &bytes).await?;
            for r in rows {
                ss::mark_sent(&mut tx, &r.op).await?;
            }
            d.next_seq += 1;
            d.last_hash = format::hash(&bytes);
            ss::put_device(&mut tx, &d).await?;
            self.finish(tx).await?;
            Ok(true)
        }
    }

    /// The state the vault holds of an item or record, if it holds it.
    async fn current(
        &self,
        tx: &mut sqlx::SqliteConnection,
        entity: &Uuid,
    ) -> Result<Option<Body>> {
        if let Some(r) = ss::item_row(tx, entity).await? {
            return Ok(Some(item_body(&r)));
        }
        Ok(ss::record_row(tx, entity).await?.map(Body::Record))
    }

    /// This device's sealed segments not yet on the remote, in order.
    pub async fn sync_outbox(&self) -> Result<Vec<(u64, Vec<u8>)>> {
        let mut c = self.store.pool().acquire().await?;
        ss::outbox(&mut c).await
    }

    /// The remote has this device's segment `seq` (of `size` bytes, stamped
    /// `stamp`): it leaves the outbox and is remembered as seen.
    pub async fn sync_written(&self, seq: u64, bytes: &[u8], stamp: String) -> Result<()> {
        let device = self.sync_device().ok_or_else(not_set_up)?;
        let _w = self.writer.lock().await;
        let mut tx = self.store.begin().await?;
        let seen = SeenRow {
            seq,
            size: bytes.len() as u64,
            stamp,
            hash: format::hash(bytes),
        };
        ss::put_seen(&mut tx, &device, &seen).await?;
        ss::drop_outbox(&mut tx, seq).await?;
        self.finish(tx).await
    }

    /// This device's keys file (the vault's key slots, for a new device
    /// joining with the same passphrase or identity), if the remote's copy
    /// (`there`) is missing or out of date.
    pub async fn sync_keys_update(&self, there: Option<&[u8]>) -> Result<Option<Vec<u8>>> {
        let device = self.sync_device().ok_or_else(not_set_up)?;
        let slots: Vec<format::SlotEntry> = self
            .store
            .slots()
            .await?
            .into_iter()
            .map(|s| (s.kind, s.label, s.wrapped))
            .collect();
        let current = there.and_then(|b| format::open_keys(&self.sync, &self.vault_id, &device, b));
        if current.as_ref() == Some(&slots) {
            return Ok(None);
        }
        format::seal_keys(&self.sync, &self.vault_id, &device, &slots).map(Some)
    }

    /// Where sync stands.
    pub async fn sync_state(&self) -> Result<SyncState> {
        let mut c = self.store.pool().acquire().await?;
        let d = ss::device(&mut c).await?.ok_or_else(not_set_up)?;
        let mut devices = Vec::new();
        for dev in ss::seen_devices(&mut c).await? {
            let last = ss::seen(&mut c, &dev).await?.last().map_or(0, |s| s.seq);
            devices.push((dev, last));
        }
        Ok(SyncState {
            device: d.device,
            remote: d
                .remote
                .as_deref()
                .map(|r| self.open_remote(r))
                .transpose()?,
            pending: ss::pending_count(&mut c).await?,
            outbox: ss::outbox(&mut c).await?.len() as u64,
            blocked: ss::blocked(&mut c).await?,
            devices,
        })
    }

    /// The other devices' audit entries that came with their logs, each
    /// naming its device.
    pub async fn sync_audit_entries(&self) -> Result<Vec<crate::audit::AuditRecord>> {
        let mut c = self.store.pool().acquire().await?;
        Ok(ss::peer_audit(&mut c)
            .await?
            .into_iter()
            .filter_map(|(dev, seq, sealed)| {
                let entry = self.audit.open_entry(seq, &sealed)?;
                Some(crate::audit::AuditRecord {
                    seq,
                    entry,
                    device: Some(crate::sync::short(&dev)),
                })
            })
            .collect())
    }

    /// How long segment `seq` of `device` has been missing before later
    /// ones (from the first round that saw the gap, in this session).
    pub fn sync_gap(&self, device: &Uuid, seq: u64) -> std::time::Duration {
        let mut gaps = self.gaps.lock().unwrap_or_else(|p| p.into_inner());
        let at = gaps
            .entry(*device)
            .or_insert((seq, std::time::Instant::now()));
        if at.0 != seq {
            *at = (seq, std::time::Instant::now());
        }
        at.1.elapsed()
    }

    /// `device`'s log has no gap (any seen before was filled).
    pub fn sync_gap_closed(&self, device: &Uuid) {
        self.gaps
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(device);
    }

    /// What was seen of `device`'s segments.
    pub async fn sync_seen(&self, device: &Uuid) -> Result<Vec<SeenRow>> {
        let mut c = self.store.pool().acquire().await?;
        ss::seen(&mut c, device).await
    }

    /// Remember a recheck of a seen segment that found the same bytes under
    /// a new stamp.
    pub async fn sync_restamp(&self, device: &Uuid, seen: &SeenRow) -> Result<()> {
        let _w = self.writer.lock().await;
        let mut tx = self.store.begin().await?;
        ss::put_seen(&mut tx, device, seen).await?;
        self.finish(tx).await
    }

    /// Stop applying `device`'s log, saying why.
    pub async fn sync_block(&self, device: &Uuid, reason: &str) -> Result<()> {
        let _w = self.writer.lock().await;
        let mut tx = self.store.begin().await?;
        ss::block(&mut tx, device, reason).await?;
        self.finish(tx).await
    }

    /// Apply `device`'s log again, from the segment after the last one
    /// applied; with `accept`, what the remote holds now is taken as that
    /// device's log (segments this device read that are gone are forgotten;
    /// their operations stay applied). False when it was not blocked.
    pub async fn sync_unblock(&self, device: &Uuid, accept: bool) -> Result<bool> {
        let _w = self.writer.lock().await;
        let mut tx = self.store.begin().await?;
        let was = ss::unblock(&mut tx, device).await?;
        if accept {
            ss::forget_seen(&mut tx, device).await?;
        }
        self.finish(tx).await?;
        Ok(was)
    }
}

fn seal_remote(sync: &Sealer, vault_id: &[u8; 16], remote: &str) -> Result<Vec<u8>> {
    sync.seal(&remote_aad(vault_id), remote.as_bytes())
}

/// The sync row of a new, empty vault joining `remote`: a device of its
/// own with nothing in its log yet (written in the vault's first commit).
pub(super) fn joined(sync: &Sealer, vault_id: &[u8; 16], remote: &str) -> Result<DeviceRow> {
    Ok(DeviceRow {
        device: Uuid::now_v7(),
        clock: wall(),
        next_seq: 1,
        last_hash: [0; 32],
        remote: Some(seal_remote(sync, vault_id, remote)?),
        audit_sent: 0,
    })
}

fn remote_aad(vault_id: &[u8; 16]) -> Vec<u8> {
    let mut a = b"ctxvault/sync-remote/v1".to_vec();
    a.extend_from_slice(vault_id);
    a
}

/// The error for a sync request before sync is set up.
pub(super) fn not_set_up() -> Error {
    Error::Sync(
        "sync is not set up for this vault: add a remote first with `ctxvault sync add folder PATH`"
            .into(),
    )
}
