//! Write transactions that never leave one open, and the rows a write
//! records beside its own (idempotency keys, the commit counter).

use super::{Error, Result};
use uuid::Uuid;
/// A write transaction on one pooled connection.
///
/// sqlx's own transaction type trusts its bookkeeping after a failed
/// `COMMIT`: when SQLite has already rolled back (a full disk, an I/O
/// error), the connection goes back to the pool believing a transaction is
/// still open, and every later "transaction" on it is a savepoint inside
/// one that never commits, acknowledged and then lost. This type never
/// returns a connection to the pool unless its `COMMIT` succeeded: a failed
/// commit, or a transaction dropped unfinished, closes the connection,
/// which rolls back whatever it held.
pub struct WriteTx {
    pub(super) conn: Option<sqlx::pool::PoolConnection<sqlx::Sqlite>>,
}

impl WriteTx {
    /// Commit, counting one more generation; returns the new generation.
    /// On failure nothing of the transaction persists and its connection is
    /// closed.
    pub async fn commit(mut self) -> Result<u64> {
        let Some(mut conn) = self.conn.take() else {
            return Err(Error::Format("transaction already finished".into()));
        };
        let generation = async {
            let g: i64 = sqlx::query_scalar(
                "UPDATE vault_meta SET generation = generation + 1 WHERE singleton = 1 RETURNING generation",
            )
            .fetch_one(&mut *conn)
            .await?;
            sqlx::query("COMMIT").execute(&mut *conn).await?;
            Ok::<_, sqlx::Error>(g as u64)
        }
        .await;
        match generation {
            Ok(g) => Ok(g),
            Err(e) => {
                // Closing rolls back anything SQLite still holds open.
                let _ = conn.close().await;
                Err(e.into())
            }
        }
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::SqliteConnection;
    fn deref(&self) -> &Self::Target {
        #[allow(clippy::expect_used)]
        self.conn
            .as_deref()
            .expect("connection present until commit")
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        #[allow(clippy::expect_used)]
        self.conn
            .as_deref_mut()
            .expect("connection present until commit")
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.as_mut() {
            conn.close_on_drop();
        }
    }
}

/// Record that the request `key` made `result`, inside its transaction.
pub async fn put_request(tx: &mut sqlx::SqliteConnection, key: &Uuid, result: &Uuid) -> Result<()> {
    sqlx::query("INSERT INTO requests (key, result, created_at) VALUES (?, ?, ?)")
        .bind(&key.as_bytes()[..])
        .bind(&result.as_bytes()[..])
        .bind(chrono::Utc::now().timestamp_micros())
        .execute(tx)
        .await?;
    Ok(())
}

/// Raise the commit counter to at least `to`, inside a transaction.
pub async fn raise_generation(tx: &mut sqlx::SqliteConnection, to: u64) -> Result<()> {
    sqlx::query("UPDATE vault_meta SET generation = max(generation, ?) WHERE singleton = 1")
        .bind(to as i64)
        .execute(tx)
        .await?;
    Ok(())
}
