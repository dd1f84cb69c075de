//! `ctxvault ls`.

use vault_core::{ItemFilter, Namespace, Tag};
use vault_daemon::protocol as p;

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
        let rows: Vec<output::Row> = match self.as_client {
            None => {
                let items = ctx.call_vault(p::List { filter }).await?;
                if self.json {
                    return output::json(&items);
                }
                items.iter().map(output::Row::of_item).collect()
            }
            Some(client) => {
                let query = client_view::ListQuery {
                    namespace: filter.namespace.map(|n| n.to_string()),
                    tags: filter.tags.iter().map(|t| t.as_str().to_owned()).collect(),
                };
                let items = ctx.call_vault(p::ListAs { client, query }).await?;
                if self.json {
                    return output::json(&items);
                }
                items.iter().map(output::Row::of_client_item).collect()
            }
        };
        let mut rows = rows;
        ctx.shorten(rows.iter_mut()).await;
        output::item_lines(&rows);
        Ok(())
    }
}
