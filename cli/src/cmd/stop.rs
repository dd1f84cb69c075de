//! `ctxvault stop`.

use crate::ctx::Ctx;

/// Stop the agent; the vault locks with it.
#[derive(clap::Args)]
pub struct Stop {}

impl Stop {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        // Works whatever protocol version the agent speaks.
        let stopped = ctx.dir.is_dir() && ctx.stop_agent(&ctx.client()?).await?;
        crate::output::report(
            ctx,
            serde_json::json!({ "stopped": stopped }),
            if stopped {
                "agent stopped"
            } else {
                "no agent is running"
            },
        )
    }
}
