//! `ctxvault grant`.

use chrono::{DateTime, Utc};
use policies::{Actions, Confirm, ProviderClass, ProviderCondition, Redaction, Scope, Sensitivity};
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
    /// Only when the answer goes to this provider (repeat: any of them):
    /// one added with `ctxvault provider add`, or anthropic, openai,
    /// ollama...
    #[arg(long = "provider", value_name = "PROVIDER")]
    providers: Vec<String>,
    /// Only when the answer goes to a provider of this class: local (on
    /// this machine) or cloud.
    #[arg(long, value_name = "CLASS")]
    provider_class: Option<ProviderClass>,
    /// Each read of what only this grant allows waits for your yes (asked
    /// in the app when it can, else `ctxvault confirm`); no answer in 60 s
    /// is a no.
    #[arg(long)]
    confirm: bool,
    /// With --confirm: remember a yes this long (such as 1h).
    #[arg(long, value_name = "DURATION", requires = "confirm", value_parser = parse_secs)]
    confirm_once_per: Option<u64>,
}

/// A duration (`1h`, `30m`) in whole seconds.
fn parse_secs(s: &str) -> Result<u64, String> {
    humantime::parse_duration(s.trim())
        .map(|d| d.as_secs())
        .map_err(|e| format!("{s:?} is not a duration ({e}); use one such as 30m or 1h"))
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
            providers: ProviderCondition {
                providers: self.providers.clone(),
                class: self.provider_class,
            },
            confirm: self.confirm.then_some(Confirm {
                remember_secs: self.confirm_once_per,
            }),
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
