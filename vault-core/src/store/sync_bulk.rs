//! Many rows at a time for the sync log: batch lookups, multi-row inserts,
//! and the scans a device's log starts from.

use sqlx::Row;
use sqlx::SqliteConnection;
use uuid::Uuid;

use super::{OpRow, Result, uuid};

/// Every item row, inside a transaction (the start of a device's log).
pub async fn all_item_rows(c: &mut SqliteConnection) -> Result<Vec<crate::store::ItemRow>> {
    item_rows_after(c, i64::MIN).await
}

/// Item rows above `rowid`, inside a transaction (what a bulk insert made).
pub async fn item_rows_after(
    c: &mut SqliteConnection,
    rowid: i64,
) -> Result<Vec<crate::store::ItemRow>> {
    let rows = sqlx::query(
        "SELECT rowid, id, version, created_at, updated_at, sealed FROM items WHERE rowid > ? ORDER BY rowid",
    )
    .bind(rowid)
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(crate::store::ItemRow {
                rowid: r.try_get(0)?,
                id: uuid(r.try_get(1)?)?,
                version: r.try_get::<i64, _>(2)? as u64,
                created_at: r.try_get(3)?,
                updated_at: r.try_get(4)?,
                sealed: r.try_get(5)?,
            })
        })
        .collect()
}

/// Every policy record, inside a transaction.
pub async fn all_record_rows(c: &mut SqliteConnection) -> Result<Vec<(Uuid, Vec<u8>)>> {
    let rows = sqlx::query("SELECT id, sealed FROM records ORDER BY rowid")
        .fetch_all(c)
        .await?;
    rows.iter()
        .map(|r| Ok((uuid(r.try_get(0)?)?, r.try_get(1)?)))
        .collect()
}

/// Which ids a batch lookup checks.
#[derive(Clone, Copy)]
pub enum Among {
    /// Operations known here.
    Ops,
    /// Entities with an operation here.
    Entities,
    /// Operations some known operation names as its parent.
    Parents,
}

/// Those of `ids` that are known as `what`.
pub async fn known_among(
    c: &mut SqliteConnection,
    what: Among,
    ids: &[Uuid],
) -> Result<std::collections::HashSet<Uuid>> {
    let (col, table) = match what {
        Among::Ops => ("op", "sync_ops"),
        Among::Entities => ("entity", "sync_ops"),
        Among::Parents => ("parent", "sync_edges"),
    };
    let mut out = std::collections::HashSet::new();
    for chunk in ids.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(",");
        let sql = format!("SELECT DISTINCT {col} FROM {table} WHERE {col} IN ({marks})");
        let mut q = sqlx::query_scalar::<_, Vec<u8>>(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(id.as_bytes().to_vec());
        }
        for b in q.fetch_all(&mut *c).await? {
            out.insert(uuid(b)?);
        }
    }
    Ok(out)
}

/// Insert many operations' rows (100 a statement).
pub async fn insert_ops(c: &mut SqliteConnection, rows: &[OpRow]) -> Result<()> {
    for chunk in rows.chunks(100) {
        let marks = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(",");
        let sql = format!(
            "INSERT INTO sync_ops (op, entity, clock, device, leaf, winner, pending, parents, body) VALUES {marks}"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for o in chunk {
            q = q
                .bind(o.op.as_bytes().to_vec())
                .bind(o.entity.as_bytes().to_vec())
                .bind(o.clock as i64)
                .bind(o.device.as_bytes().to_vec())
                .bind(o.leaf)
                .bind(o.winner)
                .bind(o.pending)
                .bind(
                    o.parents
                        .iter()
                        .flat_map(|p| *p.as_bytes())
                        .collect::<Vec<u8>>(),
                )
                .bind(o.body.clone());
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}

/// Put many item rows whatever versions they hold (150 a statement);
/// returns each id's rowid.
pub async fn put_item_rows(
    c: &mut SqliteConnection,
    rows: &[crate::store::ItemRow],
) -> Result<std::collections::HashMap<Uuid, i64>> {
    let mut out = std::collections::HashMap::with_capacity(rows.len());
    for chunk in rows.chunks(150) {
        let marks = vec!["(?, ?, ?, ?, ?)"; chunk.len()].join(",");
        let sql = format!(
            "INSERT INTO items (id, version, created_at, updated_at, sealed) VALUES {marks}
             ON CONFLICT(id) DO UPDATE SET version = excluded.version, created_at = excluded.created_at,
             updated_at = excluded.updated_at, sealed = excluded.sealed RETURNING id, rowid"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for r in chunk {
            q = q
                .bind(r.id.as_bytes().to_vec())
                .bind(r.version as i64)
                .bind(r.created_at)
                .bind(r.updated_at)
                .bind(r.sealed.clone());
        }
        for row in q.fetch_all(&mut *c).await? {
            out.insert(uuid(row.try_get(0)?)?, row.try_get(1)?);
        }
    }
    Ok(out)
}
