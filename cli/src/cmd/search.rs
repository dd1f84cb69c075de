//! `ctxvault search`.

use vault_core::{ItemFilter, Namespace, SearchMode, Tag};
use vault_daemon::protocol as p;

use crate::ctx::Ctx;
use crate::output;

/// Search by words and by meaning, best match first. Words: every word
/// must match (stemmed: "running" finds "run"), `word*` matches a prefix.
/// Meaning: with an embedding model (`ctxvault model`), "what do I drink in
/// the morning" finds "I prefer green tea over coffee".
#[derive(clap::Args)]
pub struct Search {
    /// The words to look for.
    query: String,
    /// lexical (words), semantic (meaning) or hybrid (both, fused). Default:
    /// hybrid when the vault has a model, else lexical.
    #[arg(long, value_name = "MODE", value_parser = parse_mode)]
    mode: Option<SearchMode>,
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
    /// With --as: as if its answer went to this provider (grants limited
    /// to providers decide by it), not the one it declared.
    #[arg(long, value_name = "PROVIDER", requires = "as_client")]
    provider: Option<String>,
}

fn parse_mode(s: &str) -> Result<SearchMode, String> {
    s.parse().map_err(|e: vault_core::Error| e.to_string())
}

/// What an empty search says.
fn nothing(query: &str, client: Option<&str>, scoped: bool) -> String {
    let q = crate::output::visible_line(query);
    let within = if scoped { " within --ns/--tag" } else { "" };
    match client {
        Some(c) => format!("nothing that {c} may read matches \"{q}\"{within}"),
        None => format!(
            "no item matches \"{q}\"{within}: every word must match (stemmed); try fewer words or word*"
        ),
    }
}

impl Search {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let filter = ItemFilter {
            namespace: self.namespace,
            tags: self.tags,
        };
        let limit = usize::from(self.limit);
        let query = self.query.clone();
        let who = self.as_client.clone();
        let scoped = filter.namespace.is_some() || !filter.tags.is_empty();
        let hits: Vec<(f64, output::Row, String)> = match self.as_client {
            None => {
                let query = self.query;
                let hits = ctx
                    .call_vault(p::Search {
                        query,
                        mode: self.mode,
                        filter,
                        limit,
                    })
                    .await?;
                if ctx.json {
                    return output::json(&hits);
                }
                hits.iter()
                    .map(|h| (h.score, output::Row::of_item(&h.item), h.snippet.clone()))
                    .collect()
            }
            Some(client) => {
                let query = client_view::SearchQuery {
                    query: self.query,
                    namespace: filter.namespace.map(|n| n.to_string()),
                    tags: filter.tags.iter().map(|t| t.as_str().to_owned()).collect(),
                    limit,
                };
                let hits = ctx
                    .call_vault(p::SearchAs {
                        client,
                        query,
                        mode: self.mode,
                        provider: self.provider,
                    })
                    .await?;
                if ctx.json {
                    return output::json(&hits);
                }
                hits.iter()
                    .map(|h| {
                        (
                            h.score,
                            output::Row::of_client_item(&h.item),
                            h.snippet.clone(),
                        )
                    })
                    .collect()
            }
        };
        let mut hits = hits;
        if hits.is_empty() {
            // On stderr: a pipe reading the results gets none.
            eprintln!("{}", nothing(&query, who.as_deref(), scoped));
            return Ok(());
        }
        ctx.shorten(hits.iter_mut().map(|(_, r, _)| r)).await;
        output::hits(&hits);
        Ok(())
    }
}
