//! `ctxvault grant`.

use chrono::{DateTime, Utc};
use policies::{Actions, Redaction, Scope, Sensitivity};
use vault_core::Tag;
use vault_daemon::protocol as p;

use crate::ctx::Ctx;

/// Give a client actions on a scope; prints the grant id.
#[derive(clap::Args)]
pub struct GrantCmd {
    /// The client's name.
    client: String,
    /// Namespace glob: `work/**` (work and below), `notes/*` (one level), `profile`.
    scope: Scope,
    #[command(flatten)]
    options: GrantOptions,
}

/// What a grant allows beyond its scope (shared with `connector approve`).
#[derive(clap::Args)]
pub struct GrantOptions {
    /// Actions: read, propose, write (comma-separated).
    #[arg(long, value_name = "ACTIONS", default_value = "read")]
    allow: Actions,
    /// Only items with this tag (repeat: any of them).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<Tag>,
    /// The most sensitive items reached: public, normal, private or secret.
    #[arg(long, value_name = "S", default_value = "normal")]
    max_sensitivity: Sensitivity,
    /// When the grant stops working: a duration (2h, 30d), a date
    /// (2027-01-01, at local midnight), `tomorrow`, or an RFC 3339 time.
    #[arg(long, value_name = "WHEN", value_parser = |s: &str| super::parse_time(s, true))]
    expires: Option<DateTime<Utc>>,
    /// Mask in returned text: email, phone, url, ip, card (comma-separated).
    #[arg(long, value_name = "KINDS", value_delimiter = ',')]
    redact: Vec<Redaction>,
}

impl GrantOptions {
    /// The request granting `client` these on `scope`.
    pub fn grant(&self, client: String, scope: Scope) -> p::GrantAdd {
        p::GrantAdd {
            client,
            scope,
            actions: self.allow,
            tags: self.tags.clone(),
            max_sensitivity: self.max_sensitivity,
            expires: self.expires,
            redact: self.redact.clone(),
        }
    }
}

impl GrantCmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let req = self.options.grant(self.client, self.scope);
        let id = ctx.call_vault(req).await?;
        crate::output::report(ctx, serde_json::json!({ "id": id }), id)
    }
}
