//! `ctxvault unlock`.

use std::path::PathBuf;

use vault_daemon::protocol as p;
use vault_daemon::protocol::UnlockWith;

use crate::ctx::Ctx;
use crate::secret;

/// Unlock the vault in the agent.
#[derive(clap::Args)]
pub struct Unlock {
    /// Unlock with this age identity file instead of the passphrase.
    #[arg(long, value_name = "FILE")]
    identity: Option<PathBuf>,
    /// Read the passphrase from the first line of standard input.
    #[arg(long, conflicts_with = "identity")]
    passphrase_stdin: bool,
}

impl Unlock {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        ctx.require_vault()?;
        let with = match &self.identity {
            Some(path) => UnlockWith::IdentityFile(secret::identity_file(path)?),
            None => UnlockWith::Passphrase(secret::passphrase(self.passphrase_stdin, false)?),
        };
        ctx.call(p::Unlock { with }).await?;
        if ctx.json {
            return crate::output::json(&serde_json::json!({ "locked": false }));
        }
        outln!("vault unlocked");
        ctx.warn_vault_state().await;
        Ok(())
    }
}
