//! `ctxvault pending`, `approve` and `reject`: the review queue of what
//! clients with `propose` asked to remember, and of what `distill` drew
//! from history.

use uuid::Uuid;
use vault_daemon::protocol as p;

use crate::ctx::Ctx;
use crate::output;

/// List proposals, oldest first.
#[derive(clap::Args)]
pub struct Pending {}

/// Store a proposal as an item (its source is `client:NAME`).
#[derive(clap::Args)]
pub struct Approve {
    /// The proposal's id (from `ctxvault pending`).
    #[arg(value_parser = super::parse_id)]
    id: Uuid,
    /// Store it in this namespace instead of the one proposed.
    #[arg(long = "ns", value_name = "NS")]
    namespace: Option<vault_core::Namespace>,
}

/// Drop a proposal without storing it.
#[derive(clap::Args)]
pub struct Reject {
    /// The proposal's id (from `ctxvault pending`).
    #[arg(value_parser = super::parse_id)]
    id: Uuid,
}

impl Pending {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let list = ctx.call_vault(p::PendingList {}).await?;
        if ctx.json {
            return output::json(&list);
        }
        if list.is_empty() {
            outln!("nothing pending");
            return Ok(());
        }
        for p in &list {
            let title = p
                .title
                .as_deref()
                .map(|t| format!(" \"{}\"", output::visible_line(t)))
                .unwrap_or_default();
            outln!(
                "{}  {}  from {}  into {} ({}){title}",
                p.id,
                p.created_at.format("%Y-%m-%d %H:%M"),
                p.client,
                p.namespace,
                output::visible_line(p.kind.as_str())
            );
            for line in p.body.lines() {
                outln!("    {}", output::visible_line(line));
            }
            if !p.sources.is_empty() {
                let ids: Vec<String> = p.sources.iter().map(|s| s.simple().to_string()).collect();
                outln!("    (from {}: `ctxvault get ID`)", ids.join(", "));
            }
        }
        outln!();
        outln!(
            "store one with `ctxvault approve ID [--ns NS]`, drop one with `ctxvault reject ID`"
        );
        Ok(())
    }
}

impl Approve {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let req = p::Approve {
            id: self.id,
            namespace: self.namespace,
        };
        let i = ctx.call_vault(req).await?;
        if ctx.json {
            return output::json(&i);
        }
        outln!("stored {} in {} as {}", self.id, i.namespace, i.id);
        Ok(())
    }
}

impl Reject {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        ctx.call_vault(p::Reject { id: self.id }).await?;
        output::report(
            ctx,
            serde_json::json!({ "rejected": self.id }),
            format!("rejected {}", self.id),
        )
    }
}
