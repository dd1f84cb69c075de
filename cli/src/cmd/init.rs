//! `ctxvault init`.

use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;

use anyhow::{Context, bail};
use vault_daemon::protocol as p;

use crate::ctx::Ctx;
use crate::secret;

/// Create a vault and leave the agent running with it unlocked.
#[derive(clap::Args)]
pub struct Init {
    /// Also let this age identity file (age-keygen's format) unlock the vault.
    #[arg(long, value_name = "FILE")]
    identity: Option<PathBuf>,
    /// Read the passphrase from the first line of standard input.
    #[arg(long)]
    passphrase_stdin: bool,
}

impl Init {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        if vault_core::store::Store::exists(&ctx.dir) {
            bail!(
                "a vault already exists at {}; use it, or choose another directory with --vault",
                ctx.dir.display()
            );
        }
        let identity_file = self
            .identity
            .as_deref()
            .map(secret::identity_file)
            .transpose()?;
        let work_factor = super::work_factor_from_env()?;
        let passphrase = secret::passphrase(self.passphrase_stdin, true)?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&ctx.dir)
            .with_context(|| format!("cannot create the vault directory {}", ctx.dir.display()))?;
        ctx.call(p::Init {
            passphrase,
            identity_file,
            work_factor,
        })
        .await?;
        crate::output::report(
            ctx,
            serde_json::json!({ "vault": ctx.dir.display().to_string(), "locked": false }),
            format!("created vault at {} (unlocked)", ctx.dir.display()),
        )
    }
}
