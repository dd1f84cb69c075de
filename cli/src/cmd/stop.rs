//! `ctxvault stop`.

use crate::ctx::Ctx;

/// Stop the agent; the vault locks with it.
#[derive(clap::Args)]
pub struct Stop {}

impl Stop {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        if !ctx.dir.is_dir() {
            outln!("no agent is running");
            return Ok(());
        }
        // Works whatever protocol version the agent speaks.
        if ctx.stop_agent(&ctx.client()?).await? {
            outln!("agent stopped");
        } else {
            outln!("no agent is running");
        }
        Ok(())
    }
}
