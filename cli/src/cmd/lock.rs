//! `ctxvault lock`.

use vault_daemon::Request;

use crate::ctx::Ctx;

/// Lock the vault: the agent wipes its keys and drops the search index.
#[derive(clap::Args)]
pub struct Lock {}

impl Lock {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        ctx.require_vault()?;
        match ctx.try_call(&Request::Lock).await? {
            Some(r) => {
                r.map_err(|e| anyhow::anyhow!(e.message))?;
            }
            None => {}
        }
        println!("vault locked");
        Ok(())
    }
}
