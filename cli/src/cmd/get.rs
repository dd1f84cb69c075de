//! `ctxvault get`.

use uuid::Uuid;
use vault_daemon::{Request, Response};

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
        match ctx.call_vault(&Request::Get { id: self.id }).await? {
            Response::Item(i) if self.json => output::json(&i),
            Response::Item(i) => {
                output::item(&i);
                Ok(())
            }
            other => Err(crate::ctx::unexpected(&other)),
        }
    }
}
