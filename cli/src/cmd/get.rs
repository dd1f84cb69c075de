//! `ctxvault get`.

use vault_daemon::protocol as p;

use crate::ctx::Ctx;
use crate::output;

/// Show one item.
#[derive(clap::Args)]
pub struct Get {
    /// The item's id, or its first characters (at least 4) if no other id starts so.
    #[arg(value_parser = super::parse_item_id)]
    id: super::ItemId,
}

impl Get {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let id = ctx.item_id(&self.id).await?;
        let i = ctx.call_vault(p::Get { id }).await?;
        {
            if ctx.json {
                return output::json(&i);
            }
            output::item(&i);
            Ok(())
        }
    }
}
