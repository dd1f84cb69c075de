//! An online copy of the sealed database: consistent while the agent reads
//! and writes, and never holding anything unsealed (it is the same sealed
//! records, key slots and audit chain).

use std::path::Path;

use sqlx::{ConnectOptions, Connection};

use super::{Store, connect_options, holds_vault};
use crate::error::{Error, Result};

impl Store {
    /// Copy the database of the vault in `dir` into `dest`, which must be
    /// an empty file (the caller creates it with the permissions it wants),
    /// with SQLite's `VACUUM INTO`: one read transaction, so the copy is
    /// the database as of one commit, whatever is written meanwhile. The
    /// copy is then checked (`PRAGMA integrity_check`) and synced.
    pub async fn backup(dir: &Path, dest: &Path) -> Result<()> {
        let path = Self::db_path(dir);
        if !path.exists() {
            return Err(Error::NoVault(dir.to_owned()));
        }
        let dest_str = dest.to_str().ok_or_else(|| Error::Io {
            path: dest.to_owned(),
            source: std::io::Error::other("the path is not UTF-8"),
        })?;
        let mut conn = connect_options(&path).connect().await?;
        if !holds_vault(&mut conn).await? {
            return Err(Error::Format(format!("{} holds no vault", path.display())));
        }
        sqlx::query("VACUUM INTO ?")
            .bind(dest_str)
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        let mut copy = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dest)
            .read_only(true)
            .connect()
            .await?;
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&mut copy)
            .await?;
        copy.close().await?;
        if check != "ok" {
            return Err(Error::Format(format!(
                "the copy at {} does not check out ({check})",
                dest.display()
            )));
        }
        std::fs::File::open(dest)
            .and_then(|f| f.sync_all())
            .map_err(|source| Error::Io {
                path: dest.to_owned(),
                source,
            })
    }
}
