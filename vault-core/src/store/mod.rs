//! The on-disk store: one SQLite database in WAL mode, through sqlx.
//!
//! # Invariants
//! - Every connection runs with `journal_mode=WAL`, `synchronous=FULL`,
//!   `temp_store=MEMORY` and `foreign_keys=ON`; a commit is on disk when it
//!   returns, unless it asked for [`Durability::Process`] (audit entries of
//!   reads alone), which is in the write-ahead log when it returns.
//! - The database file is created 0600 inside a 0700 directory before SQLite
//!   opens it; SQLite gives the `-wal` and `-shm` files the same mode.
//! - The store sees only ids, versions, timestamps and sealed blobs.

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row};
use uuid::Uuid;

use crate::error::{Error, Result};

/// File name of the database inside the vault directory.
pub const DB_FILE: &str = "vault.db";
/// Format number written in `vault_meta`; bumped on incompatible change.
pub const FORMAT: i64 = 1;
/// Rows per statement on the bulk insert path.
const BULK_ROWS: usize = 1000;
/// Rows sealed per chunk handed to [`Store::insert_bulk`].
pub const BULK_CHUNK: usize = 2000;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// One stored item row: plaintext ids and times, and the sealed record.
#[derive(Clone, Debug)]
pub struct ItemRow {
    /// SQLite rowid; also the key of the in-memory index.
    pub rowid: i64,
    /// Item id.
    pub id: Uuid,
    /// Version, from 1.
    pub version: u64,
    /// Creation time, unix microseconds.
    pub created_at: i64,
    /// Last change, unix microseconds.
    pub updated_at: i64,
    /// The sealed record.
    pub sealed: Vec<u8>,
}

/// A key slot row.
#[derive(Clone, Debug)]
pub struct SlotRow {
    /// Slot id.
    pub id: i64,
    /// `passphrase` or `identity`.
    pub kind: String,
    /// For identity slots, the recipient (`age1...`).
    pub label: String,
    /// The age file wrapping the master key.
    pub wrapped: Vec<u8>,
}

mod backup;
pub mod sync;
mod tx;
mod vectors;
mod writes;

pub use tx::{Durability, WriteTx, put_request, raise_generation};
pub use vectors::{VectorRow, delete_vector, delete_vectors, put_vector, reseal_vector};
pub use writes::*;

/// The SQLite store of one vault.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
    path: PathBuf,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

/// The vault directory must be the user's and closed to writes by others:
/// whoever can write to it can replace the database, the guard or the
/// agent's files.
fn check_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(dir).map_err(io_err(dir))?;
    let me = nix::unistd::getuid().as_raw();
    if md.uid() != me {
        return Err(Error::Invalid {
            field: "vault directory",
            reason: format!(
                "{} belongs to uid {}, not to you (uid {me}); use a directory of your own",
                dir.display(),
                md.uid()
            ),
        });
    }
    if md.mode() & 0o022 != 0 {
        return Err(Error::Invalid {
            field: "vault directory",
            reason: format!(
                "{} is writable by group or others (mode {:03o}): run `chmod 700 {}`",
                dir.display(),
                md.mode() & 0o777,
                dir.display()
            ),
        });
    }
    Ok(())
}

fn connect_options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        .pragma("temp_store", "MEMORY")
        // Let the worker thread run ahead on scans instead of handing rows
        // over fifty at a time.
        .row_buffer_size(4096)
        // Keep the write-ahead log bounded: checkpoint every 256 pages (4 MiB)
        // and truncate the file back to 4 MiB after a checkpoint.
        .pragma("wal_autocheckpoint", "256")
        .pragma("journal_size_limit", JOURNAL_LIMIT.to_string())
}

/// True when the database has a vault's tables (a file cut short, or
/// replaced, may open as an empty database).
async fn holds_vault<'e>(db: impl sqlx::SqliteExecutor<'e>) -> Result<bool> {
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'vault_meta'",
    )
    .fetch_one(db)
    .await?;
    Ok(tables > 0)
}

/// Bytes the write-ahead log is cut back to after a checkpoint.
const JOURNAL_LIMIT: u64 = 4 * 1024 * 1024;

impl Store {
    /// Path of the database of the vault in `dir`.
    pub fn db_path(dir: &Path) -> PathBuf {
        dir.join(DB_FILE)
    }

    /// True when a vault database exists in `dir`.
    pub fn exists(dir: &Path) -> bool {
        Self::db_path(dir).exists()
    }

    /// Create a new, empty database in `dir` (created 0700 if missing) and
    /// write the vault metadata and first key slots in one transaction.
    pub async fn create(
        dir: &Path,
        vault_id: &[u8; 16],
        slots: &[(&str, String, Vec<u8>)],
    ) -> Result<Store> {
        let path = Self::db_path(dir);
        if path.exists() {
            return Err(Error::AlreadyExists(dir.to_owned()));
        }
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_err(dir))?;
        check_dir(dir)?;
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    Error::AlreadyExists(dir.to_owned())
                } else {
                    io_err(&path)(e)
                }
            })?;
        let result = async {
            // Larger pages: a quarter of the page reads on the full scan at
            // unlock. Must be set before the first table exists.
            {
                use sqlx::Connection;
                let mut c = sqlx::SqliteConnection::connect_with(
                    &connect_options(&path).journal_mode(SqliteJournalMode::Delete),
                )
                .await?;
                sqlx::query("PRAGMA page_size = 16384").execute(&mut c).await?;
                sqlx::query("VACUUM").execute(&mut c).await?;
                c.close().await?;
            }
            let store = Self::connect(&path).await?;
            MIGRATOR.run(&store.pool).await?;
            let now = chrono::Utc::now().timestamp_micros();
            let mut tx = store.begin().await?;
            sqlx::query("INSERT INTO vault_meta (singleton, vault_id, format, created_at) VALUES (1, ?, ?, ?)")
                .bind(&vault_id[..])
                .bind(FORMAT)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            for (kind, label, wrapped) in slots {
                sqlx::query("INSERT INTO key_slots (kind, label, wrapped, created_at) VALUES (?, ?, ?, ?)")
                    .bind(*kind)
                    .bind(label)
                    .bind(wrapped)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok::<_, Error>(store)
        }
        .await;
        if result.is_err() {
            // Leave nothing half-made behind.
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
        result
    }

    /// Open the existing database in `dir`, applying pending migrations.
    pub async fn open(dir: &Path) -> Result<Store> {
        let path = Self::db_path(dir);
        if !path.exists() {
            return Err(Error::NoVault(dir.to_owned()));
        }
        check_dir(dir)?;
        let store = Self::connect(&path).await?;
        // Never create a schema in a file that should hold a vault: a
        // database whose tables are gone (a write-ahead log cut at its
        // header, a truncated copy) is refused, not made anew.
        if !holds_vault(&store.pool).await? {
            store.pool.close().await;
            return Err(Error::Format(format!(
                "{} holds no vault (it was cut short or replaced; its write-ahead log may be missing): restore the vault directory from a backup or an export",
                path.display()
            )));
        }
        MIGRATOR.run(&store.pool).await?;
        Ok(store)
    }

    /// What the request `key` made, if it was committed.
    pub async fn request(&self, key: &Uuid) -> Result<Option<Uuid>> {
        let made: Option<Vec<u8>> = sqlx::query_scalar("SELECT result FROM requests WHERE key = ?")
            .bind(&key.as_bytes()[..])
            .fetch_optional(&self.pool)
            .await?;
        made.map(|b| {
            Uuid::from_slice(&b).map_err(|_| Error::Format("request result is not 16 bytes".into()))
        })
        .transpose()
    }

    /// Forget requests answered before `before` (unix microseconds): a
    /// retry comes within moments, not weeks.
    pub async fn prune_requests(&self, before: i64) -> Result<()> {
        sqlx::query("DELETE FROM requests WHERE created_at < ?")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The commit counter kept in the database.
    pub async fn generation(&self) -> Result<u64> {
        let g: i64 = sqlx::query_scalar("SELECT generation FROM vault_meta WHERE singleton = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(g as u64)
    }

    /// Copy the write-ahead log into the database and truncate it (after a
    /// large transaction, so the log does not stay at its size).
    pub async fn checkpoint(&self) -> Result<()> {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn connect(path: &Path) -> Result<Store> {
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            // An in-process SQLite connection has no peer to lose; the ping
            // sqlx sends before each acquire would be a wasted round trip to
            // the connection's worker thread on every query.
            .test_before_acquire(false)
            .connect_with(connect_options(path))
            .await?;
        Ok(Store {
            pool,
            path: path.to_owned(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection pool (for checks such as `PRAGMA synchronous`).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Close every connection, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The vault id and format.
    pub async fn meta(&self) -> Result<([u8; 16], i64)> {
        let row = sqlx::query("SELECT vault_id, format FROM vault_meta WHERE singleton = 1")
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::Format("vault metadata is missing".into()))?;
        let id: Vec<u8> = row.try_get(0)?;
        let format: i64 = row.try_get(1)?;
        let id: [u8; 16] = id
            .try_into()
            .map_err(|_| Error::Format("vault id is not 16 bytes".into()))?;
        if format != FORMAT {
            return Err(Error::Format(format!(
                "vault format {format} is not supported by this ctxvault (format {FORMAT}); upgrade ctxvault"
            )));
        }
        Ok((id, format))
    }

    /// Every key slot.
    pub async fn slots(&self) -> Result<Vec<SlotRow>> {
        let rows = sqlx::query("SELECT id, kind, label, wrapped FROM key_slots ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|r| {
                Ok(SlotRow {
                    id: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    label: r.try_get(2)?,
                    wrapped: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Number of item rows.
    pub async fn count(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    fn row(r: &sqlx::sqlite::SqliteRow) -> Result<ItemRow> {
        let id: Vec<u8> = r.try_get(1)?;
        let version: i64 = r.try_get(2)?;
        Ok(ItemRow {
            rowid: r.try_get(0)?,
            id: Uuid::from_slice(&id)
                .map_err(|_| Error::Format("item id is not 16 bytes".into()))?,
            version: version as u64,
            created_at: r.try_get(3)?,
            updated_at: r.try_get(4)?,
            sealed: r.try_get(5)?,
        })
    }

    /// The row of one item.
    pub async fn get(&self, id: &Uuid) -> Result<Option<ItemRow>> {
        let r = sqlx::query(
            "SELECT rowid, id, version, created_at, updated_at, sealed FROM items WHERE id = ?",
        )
        .bind(&id.as_bytes()[..])
        .fetch_optional(&self.pool)
        .await?;
        r.as_ref().map(Self::row).transpose()
    }

    /// The rows with these rowids, in the order given (missing ones skipped).
    pub async fn get_many(&self, rowids: &[i64]) -> Result<Vec<ItemRow>> {
        let mut out = Vec::with_capacity(rowids.len());
        for chunk in rowids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql = format!(
                "SELECT rowid, id, version, created_at, updated_at, sealed FROM items WHERE rowid IN ({marks})"
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for r in chunk {
                q = q.bind(*r);
            }
            let rows = q.fetch_all(&self.pool).await?;
            let mut by_rowid: std::collections::HashMap<i64, ItemRow> = rows
                .iter()
                .map(|r| Self::row(r).map(|row| (row.rowid, row)))
                .collect::<Result<_>>()?;
            out.extend(chunk.iter().filter_map(|r| by_rowid.remove(r)));
        }
        Ok(out)
    }

    /// Every row, in rowid order.
    pub fn stream(&self) -> impl futures_util::Stream<Item = Result<ItemRow>> + '_ {
        use futures_util::StreamExt;
        sqlx::query(
            "SELECT rowid, id, version, created_at, updated_at, sealed FROM items ORDER BY rowid",
        )
        .fetch(&self.pool)
        .map(|r| r.map_err(Error::from).and_then(|r| Self::row(&r)))
    }

    /// Insert one row in its own transaction; returns its rowid.
    pub async fn insert(&self, row: &ItemRow) -> Result<i64> {
        let mut tx = self.begin().await?;
        let rowid = Self::insert_in(&mut tx, row).await?;
        tx.commit().await?;
        Ok(rowid)
    }

    /// Insert one row inside a transaction; returns its rowid.
    pub async fn insert_in(tx: &mut sqlx::SqliteConnection, row: &ItemRow) -> Result<i64> {
        let rowid: i64 = sqlx::query_scalar(
            "INSERT INTO items (id, version, created_at, updated_at, sealed) VALUES (?, ?, ?, ?, ?) RETURNING rowid",
        )
        .bind(&row.id.as_bytes()[..])
        .bind(row.version as i64)
        .bind(row.created_at)
        .bind(row.updated_at)
        .bind(&row.sealed)
        .fetch_one(tx)
        .await?;
        Ok(rowid)
    }

    /// The largest rowid in use (0 when empty).
    pub async fn max_rowid(&self) -> Result<i64> {
        let n: i64 = sqlx::query_scalar("SELECT coalesce(max(rowid), 0) FROM items")
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    /// Insert many rows, each with its `rowid` set by the caller, inside the
    /// caller's transaction, several rows per statement. Rows arrive in
    /// chunks, so the producer can seal the next chunk while SQLite writes
    /// this one; an `Err` chunk fails the call (the caller drops the
    /// transaction).
    pub async fn insert_bulk(
        tx: &mut sqlx::SqliteConnection,
        mut chunks: tokio::sync::mpsc::Receiver<Result<Vec<ItemRow>>>,
    ) -> Result<()> {
        while let Some(chunk) = chunks.recv().await {
            for rows in chunk?.chunks(BULK_ROWS) {
                let marks = vec!["(?, ?, ?, ?, ?, ?)"; rows.len()].join(",");
                let sql = format!(
                    "INSERT INTO items (rowid, id, version, created_at, updated_at, sealed) VALUES {marks}"
                );
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for row in rows {
                    q = q
                        .bind(row.rowid)
                        .bind(&row.id.as_bytes()[..])
                        .bind(row.version as i64)
                        .bind(row.created_at)
                        .bind(row.updated_at)
                        .bind(&row.sealed);
                }
                q.execute(&mut *tx).await?;
            }
        }
        Ok(())
    }

    /// Begin a write transaction (`BEGIN IMMEDIATE`: the write lock is
    /// taken now, not at the first write) whose commit is on disk.
    pub async fn begin(&self) -> Result<WriteTx> {
        self.begin_to(Durability::Disk).await
    }

    /// Begin a write transaction whose commit reaches as far as
    /// `durability` says.
    pub async fn begin_to(&self, durability: Durability) -> Result<WriteTx> {
        // Wrapped at once: if this future is dropped part way, the
        // transaction's drop closes the connection.
        let mut tx = WriteTx {
            conn: Some(self.pool.acquire().await?),
            durability,
        };
        // SQLite takes the safety level only outside a transaction. On an
        // error `tx` drops and closes the connection, so none goes back to
        // the pool relaxed.
        // One round trip to SQLite's thread for both statements.
        let begin = match durability {
            Durability::Process => "PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE",
            Durability::Disk => "BEGIN IMMEDIATE",
        };
        sqlx::raw_sql(begin).execute(&mut *tx).await?;
        Ok(tx)
    }

    /// Every policy record: (id, sealed).
    pub async fn records(&self) -> Result<Vec<(Uuid, Vec<u8>)>> {
        let rows = sqlx::query("SELECT id, sealed FROM records ORDER BY rowid")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let id: Vec<u8> = r.try_get(0)?;
                let id = Uuid::from_slice(&id)
                    .map_err(|_| Error::Format("record id is not 16 bytes".into()))?;
                Ok((id, r.try_get(1)?))
            })
            .collect()
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_connection_is_wal_and_synchronous_full() {
        let t = tempfile::tempdir().unwrap();
        let store = Store::create(&t.path().join("v"), &[1; 16], &[])
            .await
            .unwrap();
        // Hold every pool connection at once so each one is checked.
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
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&mut **c)
                .await
                .unwrap();
            assert_eq!(mode, "wal");
            let temp: i64 = sqlx::query_scalar("PRAGMA temp_store")
                .fetch_one(&mut **c)
                .await
                .unwrap();
            assert_eq!(temp, 2, "temp_store=MEMORY");
        }
        drop(conns);
        // Reopened, the same holds.
        store.close().await;
        let store = Store::open(&t.path().join("v")).await.unwrap();
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(sync, 2);
    }

    #[tokio::test]
    async fn files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("v");
        let store = Store::create(&dir, &[1; 16], &[]).await.unwrap();
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        for f in ["vault.db", "vault.db-wal", "vault.db-shm"] {
            let m = std::fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777;
            assert_eq!(m, 0o600, "{f}");
        }
        store.close().await;
        assert!(matches!(
            Store::create(&dir, &[1; 16], &[]).await,
            Err(Error::AlreadyExists(_))
        ));
    }
}
