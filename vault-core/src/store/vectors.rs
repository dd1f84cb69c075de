//! The `vectors` table: sealed item vectors, one per item and model.

use sqlx::Row;
use uuid::Uuid;

use super::{Result, Store};
use crate::error::Error;

/// One stored vector: its item (rowid and id), the version embedded, the
/// model and the sealed blob.
pub struct VectorRow {
    /// The item's rowid.
    pub item: i64,
    /// The item's id (bound into the blob's associated data).
    pub id: Uuid,
    /// The item version the vector was made from.
    pub version: u64,
    /// The model's id.
    pub model: String,
    /// The sealed vector.
    pub sealed: Vec<u8>,
}

fn vector_row(r: &sqlx::sqlite::SqliteRow) -> Result<VectorRow> {
    let id: Vec<u8> = r.try_get(1)?;
    let version: i64 = r.try_get(2)?;
    Ok(VectorRow {
        item: r.try_get(0)?,
        id: Uuid::from_slice(&id).map_err(|_| Error::Format("item id is not 16 bytes".into()))?,
        version: version as u64,
        model: r.try_get(3)?,
        sealed: r.try_get(4)?,
    })
}

impl Store {
    /// The current vectors of `model` (those made from their item's
    /// present version), in item order.
    pub fn vectors<'a>(
        &'a self,
        model: &'a str,
    ) -> impl futures_util::Stream<Item = Result<VectorRow>> + 'a {
        use futures_util::StreamExt;
        sqlx::query(
            "SELECT v.item, i.id, v.version, v.model, v.sealed FROM vectors v \
             JOIN items i ON i.rowid = v.item \
             WHERE v.model = ? AND v.version = i.version ORDER BY v.item",
        )
        .bind(model)
        .fetch(self.pool())
        .map(|r| r.map_err(Error::from).and_then(|r| vector_row(&r)))
    }

    /// Every stored vector, of every model and version (for a rekey).
    pub async fn all_vectors(&self) -> Result<Vec<VectorRow>> {
        sqlx::query(
            "SELECT v.item, i.id, v.version, v.model, v.sealed FROM vectors v \
             JOIN items i ON i.rowid = v.item ORDER BY v.item, v.model",
        )
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(vector_row)
        .collect()
    }

    /// Number of stored vectors of `model` made from their item's present
    /// version.
    pub async fn vector_count(&self, model: &str) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM vectors v JOIN items i ON i.rowid = v.item \
             WHERE v.model = ? AND v.version = i.version",
        )
        .bind(model)
        .fetch_one(self.pool())
        .await?;
        Ok(n as u64)
    }
}

/// Store the vector of `model` made from item `id` at `version`, at rowid
/// `item`, inside a transaction, replacing the one it had; nothing when that
/// item is gone from the row (deleted, its rowid taken by another) or at
/// another version by now. True when stored.
pub async fn put_vector(
    tx: &mut sqlx::SqliteConnection,
    (item, id): (i64, &Uuid),
    model: &str,
    version: u64,
    sealed: &[u8],
) -> Result<bool> {
    let n = sqlx::query(
        "INSERT INTO vectors (item, model, version, sealed) \
         SELECT ?1, ?2, ?3, ?4 WHERE EXISTS \
         (SELECT 1 FROM items WHERE rowid = ?1 AND version = ?3 AND id = ?5) \
         ON CONFLICT (item, model) DO UPDATE SET version = excluded.version, sealed = excluded.sealed",
    )
    .bind(item)
    .bind(model)
    .bind(version as i64)
    .bind(sealed)
    .bind(&id.as_bytes()[..])
    .execute(tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Delete every vector of item `item` (its text changed), inside a
/// transaction.
pub async fn delete_vectors(tx: &mut sqlx::SqliteConnection, item: i64) -> Result<()> {
    sqlx::query("DELETE FROM vectors WHERE item = ?")
        .bind(item)
        .execute(tx)
        .await?;
    Ok(())
}

/// Replace a stored vector's blob (same item, model and version), inside a
/// transaction.
pub async fn reseal_vector(
    tx: &mut sqlx::SqliteConnection,
    item: i64,
    model: &str,
    sealed: &[u8],
) -> Result<()> {
    sqlx::query("UPDATE vectors SET sealed = ? WHERE item = ? AND model = ?")
        .bind(sealed)
        .bind(item)
        .bind(model)
        .execute(tx)
        .await?;
    Ok(())
}

/// Delete item `item`'s vector of `model`, inside a transaction.
pub async fn delete_vector(tx: &mut sqlx::SqliteConnection, item: i64, model: &str) -> Result<()> {
    sqlx::query("DELETE FROM vectors WHERE item = ? AND model = ?")
        .bind(item)
        .bind(model)
        .execute(tx)
        .await?;
    Ok(())
}
