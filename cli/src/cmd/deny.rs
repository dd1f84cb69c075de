//! `ctxvault deny`.

use policies::Scope;
use vault_daemon::protocol as p;

use crate::ctx::Ctx;

/// Remove a scope from a client whatever grants say, with everything below
/// it (`deny bob health` also covers `health/labs`); prints the rule id.
#[derive(clap::Args)]
pub struct Deny {
    /// The client's name.
    client: String,
    /// Namespace glob, as for `grant`; the rule also covers every namespace
    /// below one it matches.
    scope: Scope,
}

impl Deny {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let id = ctx
            .call_vault(p::DenyAdd {
                client: self.client,
                scope: self.scope,
            })
            .await?;
        crate::output::report(ctx, serde_json::json!({ "id": id }), id)
    }
}
