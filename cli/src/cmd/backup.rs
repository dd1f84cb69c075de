//! `ctxvault backup`.

use std::path::PathBuf;

use anyhow::{anyhow, bail};

use crate::ctx::Ctx;

/// Copy the sealed database to FILE while the agent keeps running: a
/// consistent copy as of one moment (SQLite's VACUUM INTO), as sealed as
/// the vault itself, checked and synced. Restore it by putting it back as
/// `vault.db` in a vault directory (see the README).
#[derive(clap::Args)]
pub struct Backup {
    /// The file to write; it must not exist.
    file: PathBuf,
}

impl Backup {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        ctx.require_vault()?;
        let file = &self.file;
        if file.exists() {
            bail!(
                "{} already exists; choose another name or remove it first",
                file.display()
            );
        }
        let dir = match file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => std::path::Path::new("."),
        };
        // Written under a temporary name (0600, as tempfile makes it), and
        // named only once whole and checked.
        let tmp = tempfile::Builder::new()
            .prefix(".ctxvault-backup-")
            .tempfile_in(dir)
            .map_err(|e| anyhow!("cannot create a file in {}: {e}", dir.display()))?;
        vault_core::store::Store::backup(&ctx.dir, tmp.path())
            .await
            .map_err(|e| anyhow!("backup failed, nothing was written: {e}"))?;
        let size = std::fs::metadata(tmp.path()).map(|m| m.len()).unwrap_or(0);
        tmp.persist_noclobber(file)
            .map_err(|e| anyhow!("cannot create {}: {}", file.display(), e.error))?;
        crate::output::report(
            ctx,
            serde_json::json!({ "path": file.display().to_string(), "bytes": size }),
            format!(
                "backed up the sealed vault to {} ({size} bytes); it opens with the same passphrase",
                file.display()
            ),
        )
    }
}
