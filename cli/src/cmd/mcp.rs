//! `ctxvault mcp`: the stdio MCP server for one client.

use anyhow::bail;
use vault_daemon::bridge::{SocketView, serve_stdio};
use vault_daemon::protocol::Secret;

use crate::ctx::Ctx;

/// Serve MCP on stdin/stdout for one client (for Claude Desktop, Claude Code,
/// Cursor...): the client's token comes from `CTXVAULT_TOKEN`. Every call goes
/// through the agent, which applies the client's grants and records it.
/// Writes only JSON-RPC to stdout; logs go to stderr.
#[derive(clap::Args)]
pub struct Mcp {
    /// The client's name (as in `ctxvault client add NAME`), for messages.
    #[arg(long, value_name = "NAME")]
    client: String,
}

impl Mcp {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let Some(token) = std::env::var("CTXVAULT_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
        else {
            bail!(
                "CTXVAULT_TOKEN is not set: give {} the token `ctxvault client add {}` printed (or `ctxvault client rotate {}`)",
                self.client,
                self.client,
                self.client
            );
        };
        ctx.require_vault()?;
        let client = ctx.ensure_agent().await?;
        serve_stdio(SocketView::new(client, Secret::new(token))).await?;
        Ok(())
    }
}
