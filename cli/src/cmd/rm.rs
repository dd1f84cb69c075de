//! `ctxvault rm`.

use uuid::Uuid;
use vault_daemon::protocol as p;

use crate::ctx::Ctx;

/// Delete an item.
#[derive(clap::Args)]
pub struct Rm {
    /// The item id.
    #[arg(value_parser = super::parse_id)]
    id: Uuid,
}

impl Rm {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        ctx.call_vault(p::Remove { id: self.id }).await?;
        outln!("removed {}", self.id);
        Ok(())
    }
}
