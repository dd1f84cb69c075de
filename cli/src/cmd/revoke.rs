//! `ctxvault revoke`.

use anyhow::anyhow;
use vault_daemon::protocol as p;

use crate::ctx::Ctx;

/// Remove a grant or deny rule by id (`revoke ID`), or every grant and deny
/// rule of a client (`revoke CLIENT --all`). Takes effect on the next request.
#[derive(clap::Args)]
pub struct Revoke {
    /// A grant or deny rule id (see `ctxvault grants`), or with --all a client.
    target: String,
    /// Revoke everything of the client named by TARGET.
    #[arg(long)]
    all: bool,
}

impl Revoke {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        if self.all {
            let n = ctx
                .call_vault(p::RevokeAll {
                    client: self.target.clone(),
                })
                .await?;
            return crate::output::report(
                ctx,
                serde_json::json!({ "client": self.target, "revoked": n }),
                format!(
                    "revoked {} of {}",
                    crate::output::count(n as u64, "rule"),
                    self.target
                ),
            );
        }
        let id = uuid::Uuid::parse_str(self.target.trim()).map_err(|_| {
            anyhow!(
                "malformed rule id {:?}: list ids with `ctxvault grants`, or revoke a client's rules with `ctxvault revoke CLIENT --all`",
                self.target
            )
        })?;
        ctx.call_vault(p::Revoke { id }).await?;
        crate::output::report(
            ctx,
            serde_json::json!({ "revoked": id }),
            format!("revoked {id}"),
        )
    }
}
