//! `ctxvault search`.

use vault_core::{ItemFilter, Namespace, Tag};
use vault_daemon::{Request, Response};

use crate::ctx::Ctx;
use crate::output;

/// Full-text search, best match first. Every word must match (stemmed:
/// "running" finds "run"); `word*` matches a prefix.
#[derive(clap::Args)]
pub struct Search {
    /// The words to look for.
    query: String,
    /// Only items in this namespace or below it.
    #[arg(long = "ns", value_name = "PREFIX")]
    namespace: Option<Namespace>,
    /// Only items with this tag (repeat: any of them).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<Tag>,
    /// Most results to show (1-1000).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=1000))]
    limit: u16,
    /// Show exactly what this client would get, redactions applied (a dry
    /// run: not recorded as the client's read).
    #[arg(long = "as", value_name = "CLIENT")]
    as_client: Option<String>,
    /// Print a JSON array.
    #[arg(long)]
    json: bool,
}

impl Search {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let filter = ItemFilter {
            namespace: self.namespace,
            tags: self.tags,
        };
        let req = Request::Search {
            query: self.query,
            filter,
            limit: usize::from(self.limit),
            as_client: self.as_client,
        };
        match ctx.call_vault(&req).await? {
            Response::Hits(h) if self.json => output::json(&h),
            Response::Hits(h) => {
                output::hits(&h);
                Ok(())
            }
            other => Err(crate::ctx::unexpected(&other)),
        }
    }
}
