//! `ctxvault add`.

use vault_core::{NewItem, item::Source};
use vault_daemon::protocol as p;

use super::{ItemFields, read_text};
use crate::ctx::Ctx;
use crate::output;

/// Add an item; prints its id.
#[derive(clap::Args)]
pub struct Add {
    #[command(flatten)]
    fields: ItemFields,
    /// The text, or `-` to read it from standard input. The text may start
    /// with `-` (a list, a `---` line).
    #[arg(value_name = "TEXT|-", allow_hyphen_values = true)]
    text: String,
    /// Remove the item by itself then: a duration (30d, 1y; at least 1m),
    /// a date (2027-01-01), or an RFC 3339 time. The removal is audited.
    #[arg(long, value_name = "WHEN", value_parser = |s: &str| super::parse_time(s, true))]
    expires: Option<chrono::DateTime<chrono::Utc>>,
}

impl Add {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let body = read_text(&self.text)?;
        let f = self.fields;
        let item = NewItem {
            namespace: f.namespace.unwrap_or_default(),
            kind: f.kind.unwrap_or_default(),
            title: f.title,
            body,
            tags: f.tags,
            sensitivity: f.sensitivity.unwrap_or_default(),
            source: Source::user(),
        };
        // An idempotency key: if the agent dies before answering, the
        // retry is answered with what the first attempt stored, if anything.
        let i = ctx
            .call_vault_once(p::Add {
                item,
                new_kind: f.new_kind,
                request: Some(uuid::Uuid::now_v7()),
                expires: self.expires,
            })
            .await?;
        {
            if ctx.json {
                return output::json(&i);
            }
            outln!("{}", i.id);
            Ok(())
        }
    }
}
