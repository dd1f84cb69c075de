//! Writes inside a caller's transaction: key slots, item rows, policy
//! records.

use super::{ItemRow, Result};
use uuid::Uuid;

/// Rewrite the passphrase slot; false when the vault has none.
pub async fn set_passphrase_slot(tx: &mut sqlx::SqliteConnection, wrapped: &[u8]) -> Result<bool> {
    let n = sqlx::query("UPDATE key_slots SET wrapped = ? WHERE kind = 'passphrase'")
        .bind(wrapped)
        .execute(tx)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// Add a key slot of `kind` (`passphrase` or `identity`) with its label.
pub async fn insert_slot(
    tx: &mut sqlx::SqliteConnection,
    kind: &str,
    label: &str,
    wrapped: &[u8],
) -> Result<()> {
    sqlx::query("INSERT INTO key_slots (kind, label, wrapped, created_at) VALUES (?, ?, ?, ?)")
        .bind(kind)
        .bind(label)
        .bind(wrapped)
        .bind(chrono::Utc::now().timestamp_micros())
        .execute(tx)
        .await?;
    Ok(())
}

/// Delete the identity slot labelled `recipient`; false when there is none.
pub async fn delete_identity_slot(
    tx: &mut sqlx::SqliteConnection,
    recipient: &str,
) -> Result<bool> {
    let n = sqlx::query("DELETE FROM key_slots WHERE kind = 'identity' AND label = ?")
        .bind(recipient)
        .execute(tx)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// Delete every key slot (rekey writes them all again in the same transaction).
pub async fn delete_all_slots(tx: &mut sqlx::SqliteConnection) -> Result<()> {
    sqlx::query("DELETE FROM key_slots").execute(tx).await?;
    Ok(())
}

/// Replace an item row's blob (rekey: same id and version, new key).
pub async fn reseal_item(tx: &mut sqlx::SqliteConnection, rowid: i64, sealed: &[u8]) -> Result<()> {
    sqlx::query("UPDATE items SET sealed = ? WHERE rowid = ?")
        .bind(sealed)
        .bind(rowid)
        .execute(tx)
        .await?;
    Ok(())
}

/// Replace a row's version, times and blob if its version is still
/// `expected`, inside a transaction. False when the row is gone or changed.
pub async fn update_item(
    tx: &mut sqlx::SqliteConnection,
    row: &ItemRow,
    expected: u64,
) -> Result<bool> {
    let n = sqlx::query(
        "UPDATE items SET version = ?, updated_at = ?, sealed = ? WHERE id = ? AND version = ?",
    )
    .bind(row.version as i64)
    .bind(row.updated_at)
    .bind(&row.sealed)
    .bind(&row.id.as_bytes()[..])
    .bind(expected as i64)
    .execute(tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Delete an item row inside a transaction; false when there was none.
pub async fn delete_item(tx: &mut sqlx::SqliteConnection, id: &Uuid) -> Result<bool> {
    let n = sqlx::query("DELETE FROM items WHERE id = ?")
        .bind(&id.as_bytes()[..])
        .execute(tx)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// Put a sealed policy record inside a transaction (insert or replace).
pub async fn put_record(tx: &mut sqlx::SqliteConnection, id: &Uuid, sealed: &[u8]) -> Result<()> {
    sqlx::query("INSERT INTO records (id, sealed) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET sealed = excluded.sealed")
        .bind(&id.as_bytes()[..])
        .bind(sealed)
        .execute(tx)
        .await?;
    Ok(())
}

/// Delete a policy record inside a transaction.
pub async fn delete_record(tx: &mut sqlx::SqliteConnection, id: &Uuid) -> Result<()> {
    sqlx::query("DELETE FROM records WHERE id = ?")
        .bind(&id.as_bytes()[..])
        .execute(tx)
        .await?;
    Ok(())
}
