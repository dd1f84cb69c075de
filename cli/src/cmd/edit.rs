//! `ctxvault edit`.

use vault_core::ItemPatch;
use vault_daemon::protocol as p;

use super::{ItemFields, read_text};
use crate::ctx::Ctx;
use crate::output;

/// Change an item; only the fields given change. `--tag` replaces the tag
/// set; `--title ""` clears the title. With no text and no field, the item
/// opens in `$VISUAL` or `$EDITOR` (front matter and text) when one is set
/// or the command runs in a terminal (then `vi` by default).
#[derive(clap::Args)]
pub struct Edit {
    /// The item's id, or its first characters (at least 4) if no other id starts so.
    #[arg(value_parser = super::parse_item_id)]
    id: super::ItemId,
    #[command(flatten)]
    fields: ItemFields,
    /// Remove every tag.
    #[arg(long, conflicts_with = "tags")]
    clear_tags: bool,
    /// Put this tag on, keeping the others (repeat for several).
    #[arg(long = "add-tag", value_name = "TAG")]
    add_tags: Vec<vault_core::Tag>,
    /// Take this tag off, keeping the others (repeat for several).
    #[arg(long = "rm-tag", value_name = "TAG")]
    rm_tags: Vec<vault_core::Tag>,
    /// New text, or `-` to read it from standard input. The text may start
    /// with `-` (a list, a `---` line).
    #[arg(value_name = "TEXT|-", allow_hyphen_values = true)]
    text: Option<String>,
}

impl Edit {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let body = self.text.as_deref().map(read_text).transpose()?;
        let f = self.fields;
        let new_kind = f.new_kind;
        let tags = if self.clear_tags {
            Some(Vec::new())
        } else {
            (!f.tags.is_empty()).then_some(f.tags)
        };
        let patch = ItemPatch {
            namespace: f.namespace,
            kind: f.kind,
            title: f.title,
            body,
            tags,
            remove_tags: self.rm_tags,
            add_tags: self.add_tags,
            sensitivity: f.sensitivity,
        };
        let id = ctx.item_id(&self.id).await?;
        let patch = if patch.is_empty() && super::editor::available() {
            match super::editor::edit_item(&ctx.call_vault(p::Get { id }).await?)? {
                Some(p) => p,
                None => {
                    outln!("no change to {id}");
                    return Ok(());
                }
            }
        } else {
            patch
        };
        let i = ctx
            .call_vault(p::Edit {
                id,
                patch,
                new_kind,
            })
            .await?;
        if ctx.json {
            return output::json(&i);
        }
        outln!("updated {} (version {})", i.id, i.version);
        Ok(())
    }
}
