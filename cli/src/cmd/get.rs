//! `ctxvault get`.

use uuid::Uuid;
use vault_daemon::protocol as p;

use crate::ctx::Ctx;
use crate::output;

/// Show one item.
#[derive(clap::Args)]
pub struct Get {
    /// The item id.
    #[arg(value_parser = super::parse_id)]
    id: Uuid,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

impl Get {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let i = ctx.call_vault(p::Get { id: self.id }).await?;
        {
            if self.json {
                return output::json(&i);
            }
            output::item(&i);
            Ok(())
        }
    }
}
