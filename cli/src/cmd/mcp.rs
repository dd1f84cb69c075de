//! `ctxvault mcp`: the stdio MCP server for one client.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use anyhow::bail;
use vault_daemon::ErrorKind;
use vault_daemon::bridge::{Revive, SocketView, serve_stdio};
use vault_daemon::protocol::{Secret, Unlock, UnlockWith, WhoIs};

use crate::ctx::{self, Ctx};
use crate::secret;

/// Serve MCP on stdin/stdout for one client (for Claude Desktop, Claude Code,
/// Cursor...): the client's token comes from `CTXVAULT_TOKEN`. Every call goes
/// through the agent, which applies the client's grants and records it.
/// Writes only JSON-RPC to stdout; logs go to stderr.
#[derive(clap::Args)]
pub struct Mcp {
    /// The client's name (as in `ctxvault client add NAME`), for messages.
    #[arg(long, value_name = "NAME")]
    client: String,
    /// Read the token from FILE (as written by `client add --token-file`)
    /// instead of `CTXVAULT_TOKEN`; it must be closed to group and others.
    #[arg(long, value_name = "FILE", env = "CTXVAULT_TOKEN_FILE")]
    token_file: Option<std::path::PathBuf>,
}

/// The token kept in `file`, refused when others may read it.
fn token_from(file: &std::path::Path) -> anyhow::Result<String> {
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(file)
        .map_err(|e| anyhow::anyhow!("cannot read the token file {}: {e}", file.display()))?;
    if md.mode() & 0o077 != 0 {
        bail!(
            "the token file {} can be read by others (mode {:03o}): run `chmod 600 {}`",
            file.display(),
            md.mode() & 0o777,
            file.display()
        );
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("cannot read the token file {}: {e}", file.display()))?;
    let token = text.trim().to_owned();
    if token.is_empty() {
        bail!("the token file {} is empty", file.display());
    }
    Ok(token)
}

impl Mcp {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let from_file = self.token_file.as_deref().map(token_from).transpose()?;
        let Some(token) = from_file.or_else(|| {
            std::env::var("CTXVAULT_TOKEN")
                .ok()
                .filter(|t| !t.is_empty())
        }) else {
            bail!(
                "CTXVAULT_TOKEN is not set: give {} the token `ctxvault client add {}` printed (or `ctxvault client rotate {}`), or pass --token-file FILE",
                self.client,
                self.client,
                self.client
            );
        };
        ctx.require_vault()?;
        let client = ctx.ensure_agent().await?;
        // A wrong token is said now, not at the client's first call.
        match client
            .call(WhoIs {
                token: Secret::new(token.clone()),
            })
            .await?
        {
            Ok(Some(holder)) if holder != self.client => eprintln!(
                "warning: this token belongs to client {holder}, not {}: the vault treats every call as {holder}'s",
                self.client
            ),
            Ok(_) => {}
            Err(e) if e.kind == ErrorKind::Unauthorized => bail!(
                "the token given for client {} is unknown or revoked: run `ctxvault client rotate {}` and give the new token to the client",
                self.client,
                self.client
            ),
            Err(e) => bail!("{}", e.message),
        }
        let revive = Arc::new(Reviver {
            dir: ctx.dir.clone(),
        });
        serve_stdio(SocketView::new(client, Secret::new(token)).with_revive(revive)).await?;
        Ok(())
    }
}

/// Brings the agent back for an open MCP session, by the rules every
/// command follows: start it, and unlock with `CTXVAULT_PASSPHRASE` when
/// that is set.
struct Reviver {
    dir: PathBuf,
}

impl Reviver {
    async fn bring_back(&self, locked: bool) -> anyhow::Result<()> {
        let ctx = Ctx::new(self.dir.clone(), false);
        if !locked {
            // A killed agent may still be letting go of the vault.
            if ctx.client()?.hello().await.is_err() {
                ctx::wait_agent_exit(&self.dir)?;
            }
            ctx.ensure_agent().await?;
        }
        match secret::from_env() {
            Some(pass) => {
                ctx.call(Unlock {
                    with: UnlockWith::Passphrase(pass),
                })
                .await
            }
            None if locked => bail!(
                "the vault is locked: run `ctxvault unlock` (or set CTXVAULT_PASSPHRASE where this client runs ctxvault)"
            ),
            // Started; the next call says whether it is locked.
            None => Ok(()),
        }
    }
}

impl Revive for Reviver {
    fn revive(
        &self,
        locked: bool,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move {
            self.bring_back(locked)
                .await
                .map_err(|e| format!("the ctxvault agent could not be brought back: {e:#}"))
        })
    }
}
