//! Write transactions that never leave one open, and the rows a write
//! records beside its own (idempotency keys, the commit counter).

use super::{Error, Result};
use uuid::Uuid;

/// How far a commit must reach before it returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// The write-ahead log is synced to the disk: the commit survives a
    /// power loss.
    Disk,
    /// The write-ahead log is written but not synced (`synchronous=NORMAL`
    /// for this commit alone): the commit survives the process being killed,
    /// not a power loss or kernel crash before the next synced commit or
    /// checkpoint, which take it to the disk with them. The database stays
    /// consistent either way.
    Process,
}

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
    /// How far its commit reaches (see [`super::Store::begin_to`]).
    pub(super) durability: Durability,
}

impl WriteTx {
    /// Commit, counting one more generation; returns the new generation.
    /// On failure nothing of the transaction persists and its connection is
    /// closed.
    /// The connection goes back to the pool synced as every connection is
    /// (`synchronous=FULL`), or is closed.
    pub async fn commit(mut self) -> Result<u64> {
        let relaxed = self.durability == Durability::Process;
        // The connection stays inside `self` until it is safe to return: a
        // future dropped part way (a cancelled request) drops `self`, which
        // closes the connection rather than pooling it mid-transaction or
        // relaxed.
        let Some(conn) = self.conn.as_mut() else {
            return Err(Error::Format("transaction already finished".into()));
        };
        let generation = async {
            let g: i64 = sqlx::query_scalar(
                "UPDATE vault_meta SET generation = generation + 1 WHERE singleton = 1 RETURNING generation",
            )
            .fetch_one(&mut **conn)
            .await?;
            sqlx::query("COMMIT").execute(&mut **conn).await?;
            Ok::<_, sqlx::Error>(g as u64)
        }
        .await;
        match generation {
            Ok(g) => {
                let restored = !relaxed
                    || sqlx::query("PRAGMA synchronous = FULL")
                        .execute(&mut **conn)
                        .await
                        .is_ok();
                if restored {
                    // Back to the pool as every connection is.
                    self.conn = None;
                }
                // Otherwise committed, and `self` drops: closed, never
                // pooled relaxed.
                Ok(g)
            }
            // `self` drops: closing rolls back anything SQLite still holds.
            Err(e) => Err(e.into()),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::Store;

    /// A commit to the process's reach counts a generation like any other,
    /// persists, and hands back a connection synced like every other.
    #[tokio::test]
    async fn a_relaxed_commit_leaves_no_relaxed_connection() {
        let t = tempfile::tempdir().unwrap();
        let store = Store::create(&t.path().join("v"), &[1; 16], &[])
            .await
            .unwrap();
        let before = store.generation().await.unwrap();
        for durability in [Durability::Process, Durability::Disk, Durability::Process] {
            let tx = store.begin_to(durability).await.unwrap();
            tx.commit().await.unwrap();
        }
        // Relaxed inside the transaction.
        let mut tx = store.begin_to(Durability::Process).await.unwrap();
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(sync, 1, "synchronous=NORMAL inside");
        tx.commit().await.unwrap();
        // Dropped unfinished: closed, not returned relaxed.
        drop(store.begin_to(Durability::Process).await.unwrap());
        assert_eq!(store.generation().await.unwrap(), before + 4);
        let mut conns = Vec::new();
        for _ in 0..4 {
            conns.push(store.pool().acquire().await.unwrap());
        }
        for c in &mut conns {
            let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(&mut **c)
                .await
                .unwrap();
            assert_eq!(sync, 2, "synchronous=FULL");
        }
        drop(conns);
        store.close().await;
        let store = Store::open(&t.path().join("v")).await.unwrap();
        assert_eq!(store.generation().await.unwrap(), before + 4);
    }
}
