//! `ctxvault distill`: a model proposes durable facts and preferences from
//! imported history; they wait in `ctxvault pending` for review.

use vault_core::Namespace;
use vault_daemon::protocol as p;

use crate::ctx::Ctx;
use crate::output;

/// Ask a model (by default the local Ollama provider) to propose durable
/// facts and preferences from history. Every item sent is on the audit
/// record as read by that provider; nothing is stored until you approve.
#[derive(clap::Args)]
pub struct Distill {
    /// The model to ask, e.g. llama3.2.
    #[arg(long)]
    model: String,
    /// The provider (see `ctxvault provider ls`); by default the only
    /// Ollama one. History goes to a hosted provider only when named here.
    #[arg(long)]
    provider: Option<String>,
    /// Read the items under this namespace.
    #[arg(long = "ns", value_name = "NS", default_value = "history")]
    namespace: Namespace,
    /// At most this many items, the newest.
    #[arg(long, default_value_t = 200)]
    limit: usize,
}

impl Distill {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let s = ctx
            .call_vault(p::Distill {
                provider: self.provider,
                model: self.model,
                namespace: self.namespace,
                limit: self.limit,
            })
            .await?;
        if ctx.json {
            return output::json(&s);
        }
        outln!(
            "sent {} to provider {} (model {}) in {}; {} wait for review",
            output::count(s.sent, "item"),
            s.provider,
            output::visible_line(&s.model),
            output::count(s.requests, "request"),
            output::count(s.proposals.len() as u64, "proposal"),
        );
        if !s.proposals.is_empty() {
            outln!("see them with `ctxvault pending`; store one with `ctxvault approve ID`");
        }
        Ok(())
    }
}
