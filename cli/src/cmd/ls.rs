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
    /// Only the first N items.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    limit: Option<u32>,
}

impl Ls {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let filter = ItemFilter {
            namespace: self.namespace,
            tags: self.tags,
        };
        let limit = self.limit.map_or(usize::MAX, |n| n as usize);
        let who = self.as_client.clone();
        let scoped = filter.namespace.is_some() || !filter.tags.is_empty();
        let rows: Vec<output::Row> = match self.as_client {
            None => {
                let mut items = ctx.call_vault(p::List { filter }).await?;
                items.truncate(limit);
                if ctx.json {
                    return output::json(&items);
                }
                items.iter().map(output::Row::of_item).collect()
            }
            Some(client) => {
                let query = client_view::ListQuery {
                    namespace: filter.namespace.map(|n| n.to_string()),
                    tags: filter.tags.iter().map(|t| t.as_str().to_owned()).collect(),
                };
                let mut items = ctx
                    .call_vault(p::ListAs {
                        client,
                        query,
                        provider: None,
                    })
                    .await?;
                items.truncate(limit);
                if ctx.json {
                    return output::json(&items);
                }
                items.iter().map(output::Row::of_client_item).collect()
            }
        };
        let mut rows = rows;
        if rows.is_empty() {
            // On stderr: a pipe reading the list gets nothing.
            eprintln!("{}", match (&who, scoped) {
                (Some(c), _) => format!("{c} may read no items{}", if scoped { " within --ns/--tag" } else { "" }),
                (None, true) => "no items within --ns/--tag".to_owned(),
                (None, false) => "no items yet: add one with `ctxvault add TEXT` or bring some in with `ctxvault import`".to_owned(),
            });
            return Ok(());
        }
        ctx.shorten(rows.iter_mut()).await;
        output::item_lines(&rows);
        Ok(())
    }
}
