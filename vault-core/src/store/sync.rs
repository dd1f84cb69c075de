//! The sync log's tables (see `migrations/0006_sync.sql`), read and written
//! inside the caller's transaction.

use sqlx::Row;
use sqlx::SqliteConnection;
use uuid::Uuid;

use super::{Error, Result};

#[path = "sync_bulk.rs"]
mod bulk;
pub use bulk::*;

/// This device's row.
#[derive(Clone, Debug)]
pub struct DeviceRow {
    /// The device's id in the log.
    pub device: Uuid,
    /// The last clock it issued or saw.
    pub clock: u64,
    /// The number its next segment gets.
    pub next_seq: u64,
    /// The SHA-256 of its last segment (zeros before the first).
    pub last_hash: [u8; 32],
    /// The remote, sealed (none until one is added).
    pub remote: Option<Vec<u8>>,
    /// The last of this device's audit entries put in a segment.
    pub audit_sent: u64,
}

/// One operation's row.
#[derive(Clone, Debug)]
pub struct OpRow {
    /// The operation's id.
    pub op: Uuid,
    /// What it changes.
    pub entity: Uuid,
    /// Its clock.
    pub clock: u64,
    /// The device that made it.
    pub device: Uuid,
    /// No known operation names it as a parent.
    pub leaf: bool,
    /// The vault holds its state.
    pub winner: bool,
    /// One of this device's, not yet in a segment.
    pub pending: bool,
    /// The operations it was made on.
    pub parents: Vec<Uuid>,
    /// Its body's bytes, while pending or a losing leaf.
    pub body: Option<Vec<u8>>,
}

fn uuid(b: Vec<u8>) -> Result<Uuid> {
    Uuid::from_slice(&b).map_err(|_| Error::Format("sync id is not 16 bytes".into()))
}

fn hash32(b: Vec<u8>) -> Result<[u8; 32]> {
    b.try_into()
        .map_err(|_| Error::Format("sync hash is not 32 bytes".into()))
}

impl super::Store {
    /// This device's id in the sync log, if sync was set up.
    pub async fn sync_device(&self) -> Result<Option<Uuid>> {
        let mut c = self.pool.acquire().await?;
        Ok(device(&mut c).await?.map(|d| d.device))
    }
}

/// This device's row, if sync was ever set up.
pub async fn device(c: &mut SqliteConnection) -> Result<Option<DeviceRow>> {
    let Some(r) = sqlx::query(
        "SELECT device, clock, next_seq, last_hash, remote, audit_sent FROM sync_device",
    )
    .fetch_optional(&mut *c)
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(DeviceRow {
        device: uuid(r.try_get(0)?)?,
        clock: r.try_get::<i64, _>(1)? as u64,
        next_seq: r.try_get::<i64, _>(2)? as u64,
        last_hash: hash32(r.try_get(3)?)?,
        remote: r.try_get(4)?,
        audit_sent: r.try_get::<i64, _>(5)? as u64,
    }))
}

/// Write this device's row.
pub async fn put_device(c: &mut SqliteConnection, d: &DeviceRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO sync_device (singleton, device, clock, next_seq, last_hash, remote, audit_sent) VALUES (1, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(singleton) DO UPDATE SET device = excluded.device, clock = excluded.clock,
         next_seq = excluded.next_seq, last_hash = excluded.last_hash, remote = excluded.remote,
         audit_sent = excluded.audit_sent",
    )
    .bind(&d.device.as_bytes()[..])
    .bind(d.clock as i64)
    .bind(d.next_seq as i64)
    .bind(&d.last_hash[..])
    .bind(&d.remote)
    .bind(d.audit_sent as i64)
    .execute(c)
    .await?;
    Ok(())
}

fn op_row(r: &sqlx::sqlite::SqliteRow) -> Result<OpRow> {
    Ok(OpRow {
        op: uuid(r.try_get(0)?)?,
        entity: uuid(r.try_get(1)?)?,
        clock: r.try_get::<i64, _>(2)? as u64,
        device: uuid(r.try_get(3)?)?,
        leaf: r.try_get(4)?,
        winner: r.try_get(5)?,
        pending: r.try_get(6)?,
        parents: r
            .try_get::<Vec<u8>, _>(7)?
            .chunks(16)
            .map(|c| uuid(c.to_vec()))
            .collect::<Result<_>>()?,
        body: r.try_get(8)?,
    })
}

const OP_COLS: &str = "op, entity, clock, device, leaf, winner, pending, parents, body";

/// True when the operation is known here.
pub async fn op_known(c: &mut SqliteConnection, op: &Uuid) -> Result<bool> {
    Ok(sqlx::query("SELECT 1 FROM sync_ops WHERE op = ?")
        .bind(&op.as_bytes()[..])
        .fetch_optional(c)
        .await?
        .is_some())
}

/// Insert an operation's row.
pub async fn insert_op(c: &mut SqliteConnection, o: &OpRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO sync_ops (op, entity, clock, device, leaf, winner, pending, parents, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&o.op.as_bytes()[..])
    .bind(&o.entity.as_bytes()[..])
    .bind(o.clock as i64)
    .bind(&o.device.as_bytes()[..])
    .bind(o.leaf)
    .bind(o.winner)
    .bind(o.pending)
    .bind(o.parents.iter().flat_map(|p| *p.as_bytes()).collect::<Vec<u8>>())
    .bind(&o.body)
    .execute(c)
    .await?;
    Ok(())
}

/// Record that `child` was made on `parent`; the parent, if known, is no
/// longer a leaf (and drops its body unless it is still to be sent).
pub async fn add_edge(c: &mut SqliteConnection, parent: &Uuid, child: &Uuid) -> Result<()> {
    sqlx::query("INSERT OR IGNORE INTO sync_edges (parent, child) VALUES (?, ?)")
        .bind(&parent.as_bytes()[..])
        .bind(&child.as_bytes()[..])
        .execute(&mut *c)
        .await?;
    sqlx::query(
        "UPDATE sync_ops SET leaf = 0, body = CASE WHEN pending = 1 THEN body ELSE NULL END WHERE op = ?",
    )
    .bind(&parent.as_bytes()[..])
    .execute(c)
    .await?;
    Ok(())
}

/// True when some known operation names `op` as its parent.
pub async fn has_child(c: &mut SqliteConnection, op: &Uuid) -> Result<bool> {
    Ok(
        sqlx::query("SELECT 1 FROM sync_edges WHERE parent = ? LIMIT 1")
            .bind(&op.as_bytes()[..])
            .fetch_optional(c)
            .await?
            .is_some(),
    )
}

/// The leaves of `entity`, and its winner.
pub async fn entity_ops(c: &mut SqliteConnection, entity: &Uuid) -> Result<Vec<OpRow>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {OP_COLS} FROM sync_ops WHERE entity = ? AND (leaf = 1 OR winner = 1)"
    )))
    .bind(&entity.as_bytes()[..])
    .fetch_all(c)
    .await?;
    rows.iter().map(op_row).collect()
}

/// Set whether `op` is its entity's winner. Its body (`body`, or the one
/// it has) is kept while it is pending or a losing leaf, else dropped.
pub async fn set_winner(
    c: &mut SqliteConnection,
    op: &Uuid,
    winner: bool,
    body: Option<&[u8]>,
) -> Result<()> {
    sqlx::query(
        "UPDATE sync_ops SET winner = ?1, body = CASE WHEN pending = 1 OR (leaf = 1 AND ?1 = 0) THEN coalesce(?2, body) ELSE NULL END WHERE op = ?3",
    )
        .bind(winner)
        .bind(body)
        .bind(&op.as_bytes()[..])
        .execute(c)
        .await?;
    Ok(())
}

/// This device's operations not yet in a segment, oldest first.
/// The bodies they hold add up to about `budget` bytes at most (always one
/// at least).
pub async fn pending_ops(
    c: &mut SqliteConnection,
    limit: usize,
    budget: usize,
) -> Result<Vec<OpRow>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {OP_COLS} FROM (SELECT *, sum(coalesce(length(body), 0)) OVER (ORDER BY clock, op ROWS UNBOUNDED PRECEDING) AS run
         FROM sync_ops WHERE pending = 1) WHERE run - coalesce(length(body), 0) < ? ORDER BY clock, op LIMIT ?"
    )))
    .bind(budget as i64)
    .bind(limit as i64)
    .fetch_all(c)
    .await?;
    rows.iter().map(op_row).collect()
}

/// How many of this device's operations wait for a segment.
pub async fn pending_count(c: &mut SqliteConnection) -> Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sync_ops WHERE pending = 1")
        .fetch_one(c)
        .await?;
    Ok(n as u64)
}

/// Mark `op` as sent: its body goes unless it is a losing leaf.
pub async fn mark_sent(c: &mut SqliteConnection, op: &Uuid) -> Result<()> {
    sqlx::query(
        "UPDATE sync_ops SET pending = 0, body = CASE WHEN leaf = 1 AND winner = 0 THEN body ELSE NULL END WHERE op = ?",
    )
    .bind(&op.as_bytes()[..])
    .execute(c)
    .await?;
    Ok(())
}

/// Leaves that lost to another version of their entity.
pub async fn losing_leaves(c: &mut SqliteConnection) -> Result<Vec<OpRow>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {OP_COLS} FROM sync_ops WHERE leaf = 1 AND winner = 0 ORDER BY clock"
    )))
    .fetch_all(c)
    .await?;
    rows.iter().map(op_row).collect()
}

/// Keep a sealed segment until the remote has it.
pub async fn put_outbox(c: &mut SqliteConnection, seq: u64, bytes: &[u8]) -> Result<()> {
    sqlx::query("INSERT INTO sync_outbox (seq, bytes) VALUES (?, ?)")
        .bind(seq as i64)
        .bind(bytes)
        .execute(c)
        .await?;
    Ok(())
}

/// Segments waiting to be written, in order.
pub async fn outbox(c: &mut SqliteConnection) -> Result<Vec<(u64, Vec<u8>)>> {
    let rows = sqlx::query("SELECT seq, bytes FROM sync_outbox ORDER BY seq")
        .fetch_all(c)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<i64, _>(0)? as u64, r.try_get(1)?)))
        .collect()
}

/// The remote has segment `seq`.
pub async fn drop_outbox(c: &mut SqliteConnection, seq: u64) -> Result<()> {
    sqlx::query("DELETE FROM sync_outbox WHERE seq = ?")
        .bind(seq as i64)
        .execute(c)
        .await?;
    Ok(())
}

/// A segment as last seen in the remote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenRow {
    /// Its number.
    pub seq: u64,
    /// Its size in bytes.
    pub size: u64,
    /// The remote's stamp of it (a modification time or entity tag).
    pub stamp: String,
    /// The SHA-256 of its bytes.
    pub hash: [u8; 32],
}

/// Remember a segment of `device` as seen.
pub async fn put_seen(c: &mut SqliteConnection, device: &Uuid, s: &SeenRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO sync_seen (device, seq, size, stamp, hash) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(device, seq) DO UPDATE SET size = excluded.size, stamp = excluded.stamp, hash = excluded.hash",
    )
    .bind(&device.as_bytes()[..])
    .bind(s.seq as i64)
    .bind(s.size as i64)
    .bind(&s.stamp)
    .bind(&s.hash[..])
    .execute(c)
    .await?;
    Ok(())
}

/// Every segment of `device` seen, in order.
pub async fn seen(c: &mut SqliteConnection, device: &Uuid) -> Result<Vec<SeenRow>> {
    let rows =
        sqlx::query("SELECT seq, size, stamp, hash FROM sync_seen WHERE device = ? ORDER BY seq")
            .bind(&device.as_bytes()[..])
            .fetch_all(c)
            .await?;
    rows.iter()
        .map(|r| {
            Ok(SeenRow {
                seq: r.try_get::<i64, _>(0)? as u64,
                size: r.try_get::<i64, _>(1)? as u64,
                stamp: r.try_get(2)?,
                hash: hash32(r.try_get(3)?)?,
            })
        })
        .collect()
}

/// Every device whose segments were seen here.
pub async fn seen_devices(c: &mut SqliteConnection) -> Result<Vec<Uuid>> {
    let rows = sqlx::query("SELECT DISTINCT device FROM sync_seen ORDER BY device")
        .fetch_all(c)
        .await?;
    rows.iter().map(|r| uuid(r.try_get(0)?)).collect()
}

/// Stop applying `device`'s log, saying why.
pub async fn block(c: &mut SqliteConnection, device: &Uuid, reason: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO sync_blocked (device, reason) VALUES (?, ?) ON CONFLICT(device) DO UPDATE SET reason = excluded.reason",
    )
    .bind(&device.as_bytes()[..])
    .bind(reason)
    .execute(c)
    .await?;
    Ok(())
}

/// Apply `device`'s log again; false when it was not blocked.
pub async fn unblock(c: &mut SqliteConnection, device: &Uuid) -> Result<bool> {
    Ok(sqlx::query("DELETE FROM sync_blocked WHERE device = ?")
        .bind(&device.as_bytes()[..])
        .execute(c)
        .await?
        .rows_affected()
        == 1)
}

/// Devices whose log is not applied, and why.
pub async fn blocked(c: &mut SqliteConnection) -> Result<Vec<(Uuid, String)>> {
    let rows = sqlx::query("SELECT device, reason FROM sync_blocked ORDER BY device")
        .fetch_all(c)
        .await?;
    rows.iter()
        .map(|r| Ok((uuid(r.try_get(0)?)?, r.try_get(1)?)))
        .collect()
}

/// An item's row by id, inside a transaction: (rowid, version, created_at,
/// updated_at, sealed).
pub async fn item_row(c: &mut SqliteConnection, id: &Uuid) -> Result<Option<super::ItemRow>> {
    let Some(r) = sqlx::query(
        "SELECT rowid, version, created_at, updated_at, sealed FROM items WHERE id = ?",
    )
    .bind(&id.as_bytes()[..])
    .fetch_optional(c)
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(super::ItemRow {
        rowid: r.try_get(0)?,
        id: *id,
        version: r.try_get::<i64, _>(1)? as u64,
        created_at: r.try_get(2)?,
        updated_at: r.try_get(3)?,
        sealed: r.try_get(4)?,
    }))
}

/// A policy record's sealed blob by id, inside a transaction.
pub async fn record_row(c: &mut SqliteConnection, id: &Uuid) -> Result<Option<Vec<u8>>> {
    Ok(
        sqlx::query_scalar("SELECT sealed FROM records WHERE id = ?")
            .bind(&id.as_bytes()[..])
            .fetch_optional(c)
            .await?,
    )
}

/// Put an item row whatever version it holds (a state from another device).
pub async fn put_item_row(c: &mut SqliteConnection, row: &super::ItemRow) -> Result<i64> {
    let rowid: i64 = sqlx::query_scalar(
        "INSERT INTO items (id, version, created_at, updated_at, sealed) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET version = excluded.version, created_at = excluded.created_at,
         updated_at = excluded.updated_at, sealed = excluded.sealed RETURNING rowid",
    )
    .bind(&row.id.as_bytes()[..])
    .bind(row.version as i64)
    .bind(row.created_at)
    .bind(row.updated_at)
    .bind(&row.sealed)
    .fetch_one(c)
    .await?;
    Ok(rowid)
}

/// Forget every segment seen of `device` (its log is read again from the
/// start; operations already applied are skipped by id).
pub async fn forget_seen(c: &mut SqliteConnection, device: &Uuid) -> Result<()> {
    sqlx::query("DELETE FROM sync_seen WHERE device = ?")
        .bind(&device.as_bytes()[..])
        .execute(c)
        .await?;
    Ok(())
}

/// This device's audit entries after `seq`, at most `limit`: (seq, sealed).
pub async fn audit_after(
    c: &mut SqliteConnection,
    seq: u64,
    limit: usize,
) -> Result<Vec<(u64, Vec<u8>)>> {
    let rows = sqlx::query("SELECT seq, sealed FROM audit WHERE seq > ? ORDER BY seq LIMIT ?")
        .bind(seq as i64)
        .bind(limit as i64)
        .fetch_all(c)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<i64, _>(0)? as u64, r.try_get(1)?)))
        .collect()
}

/// Keep an entry of another device's audit chain.
pub async fn put_peer_audit(
    c: &mut SqliteConnection,
    device: &Uuid,
    seq: u64,
    sealed: &[u8],
) -> Result<()> {
    sqlx::query("INSERT OR IGNORE INTO sync_audit (device, seq, sealed) VALUES (?, ?, ?)")
        .bind(&device.as_bytes()[..])
        .bind(seq as i64)
        .bind(sealed)
        .execute(c)
        .await?;
    Ok(())
}

/// Every entry of the other devices' audit chains: (device, seq, sealed).
pub async fn peer_audit(c: &mut SqliteConnection) -> Result<Vec<(Uuid, u64, Vec<u8>)>> {
    let rows = sqlx::query("SELECT device, seq, sealed FROM sync_audit ORDER BY device, seq")
        .fetch_all(c)
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                uuid(r.try_get(0)?)?,
                r.try_get::<i64, _>(1)? as u64,
                r.try_get(2)?,
            ))
        })
        .collect()
}
