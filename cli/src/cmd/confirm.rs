//! `ctxvault confirm`: the reads waiting for your yes, and your answer.

use vault_daemon::protocol as p;

use crate::ctx::Ctx;
use crate::output;

/// Reads of what a `--confirm` grant covers wait for your answer: without
/// an id, list them; with one, answer it. No answer in time is a no, and
/// the app then sees what it would see without those items.
#[derive(clap::Args)]
pub struct Confirm {
    /// The question's id (its first characters are enough).
    id: Option<String>,
    /// Let the read go on.
    #[arg(long, requires = "id", conflicts_with = "no")]
    yes: bool,
    /// Refuse it: the app gets the answer without those items.
    #[arg(long, requires = "id")]
    no: bool,
}

impl Confirm {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let Some(id) = self.id else {
            let list = ctx.call_vault(p::ConfirmList {}).await?;
            if ctx.json {
                return output::json(&list);
            }
            if list.is_empty() {
                outln!("no read waits for your yes");
            }
            for q in &list {
                outln!(
                    "{}  {} asks to read {} item(s) under {}   (ctxvault confirm {} --yes|--no)",
                    vault_daemon::confirm::short(&q.id),
                    q.client,
                    q.items,
                    q.scopes.join(", "),
                    vault_daemon::confirm::short(&q.id),
                );
            }
            return Ok(());
        };
        if !self.yes && !self.no {
            anyhow::bail!("say --yes or --no to answer question {id}");
        }
        let q = ctx
            .call_vault(p::ConfirmAnswer { id, yes: self.yes })
            .await?;
        output::report(
            ctx,
            serde_json::json!({ "answered": q.id, "yes": self.yes, "client": q.client }),
            format!(
                "{} {} reading {}",
                if self.yes { "allowed" } else { "refused" },
                q.client,
                q.scopes.join(", ")
            ),
        )
    }
}
