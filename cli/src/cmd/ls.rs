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
    /// Show exactly what this client would get (a dry run: not recorded
    /// as the client's read).
    #[arg(long = "as", value_name = "CLIENT")]
    as_client: Option<String>,
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
        let req = Request::List {
            filter,
            as_client: self.as_client,
        };
        match ctx.call_vault(&req).await? {
            Response::Items(items) if self.json => output::json(&items),
            Response::Items(items) => {
                output::item_lines(&items);
                Ok(())
            }
            other => Err(crate::ctx::unexpected(&other)),
        }
    }
}
