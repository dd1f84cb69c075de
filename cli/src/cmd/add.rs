//! `ctxvault add`.

use vault_core::{NewItem, item::Source};
use vault_daemon::{Request, Response};

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
    /// Print the stored item as JSON.
    #[arg(long)]
    json: bool,
}

impl Add {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let body = read_text(&self.text)?;
        vault_core::item::check_body(&body)?;
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
        match ctx.call_vault(&Request::Add { item }).await? {
            Response::Item(i) if self.json => output::json(&i),
            Response::Item(i) => {
                println!("{}", i.id);
                Ok(())
            }
            other => Err(crate::ctx::unexpected(&other)),
        }
    }
}
