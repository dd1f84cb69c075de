//! `ctxvault ls`.

use vault_core::{ItemFilter, Namespace, Tag};
use vault_daemon::{Request, Response};

use crate::ctx::Ctx;
use crate::output;

/// List items, oldest first.
#[derive(clap::Args)]
pub struct Ls {
    /// Only items in this namespace or below it.
    #[arg(long = "ns", value_name = "PREFIX")]
    namespace: Option<Namespace>,
    /// Only items with this tag (repeat: any of them).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<Tag>,
    /// Print a JSON array.
    #[arg(long)]
    json: bool,
}

impl Ls {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let filter = ItemFilter {
            namespace: self.namespace,
            tags: self.tags,
        };
        match ctx.call_vault(&Request::List { filter }).await? {
            Response::Items(items) if self.json => output::json(&items),
            Response::Items(items) => {
                output::item_lines(&items);
                Ok(())
            }
            other => Err(crate::ctx::unexpected(&other)),
        }
    }
}
