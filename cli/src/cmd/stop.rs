//! `ctxvault stop`.

use vault_daemon::Request;

use crate::ctx::{self, Ctx};

/// Stop the agent; the vault locks with it.
#[derive(clap::Args)]
pub struct Stop {}

impl Stop {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        if !ctx.dir.is_dir() {
            println!("no agent is running");
            return Ok(());
        }
        match ctx.try_call(&Request::Stop).await? {
            Some(r) => {
                r.map_err(|e| anyhow::anyhow!(e.message))?;
                ctx::wait_agent_exit(&ctx.dir)?;
                println!("agent stopped");
            }
            None => println!("no agent is running"),
        }
        Ok(())
    }
}
