//! `ctxvault deny`.

use policies::Scope;
use vault_daemon::{Request, Response};

use crate::ctx::{Ctx, unexpected};

/// Remove a scope from a client whatever grants say; prints the rule id.
#[derive(clap::Args)]
pub struct Deny {
    /// The client's name.
    client: String,
    /// Namespace glob, as for `grant`.
    scope: Scope,
}

impl Deny {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        match ctx
            .call_vault(&Request::DenyAdd {
                client: self.client,
                scope: self.scope,
            })
            .await?
        {
            Response::RuleId(id) => {
                println!("{id}");
                Ok(())
            }
            other => Err(unexpected(&other)),
        }
    }
}
