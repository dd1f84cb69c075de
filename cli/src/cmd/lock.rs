//! `ctxvault lock`.

use vault_daemon::protocol as p;

use crate::ctx::Ctx;

/// Lock the vault: the agent wipes its keys and drops the search index.
#[derive(clap::Args)]
pub struct Lock {}

impl Lock {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        ctx.require_vault()?;
        // No agent running means no key in memory: already locked.
        if let Some(r) = ctx.try_call(p::Lock {}).await? {
            r.map_err(|e| anyhow::anyhow!(e.message))?;
        }
        crate::output::report(ctx, serde_json::json!({ "locked": true }), "vault locked")
    }
}
