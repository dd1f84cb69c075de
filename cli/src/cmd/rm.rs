//! `ctxvault rm`.

use anyhow::bail;
use vault_core::{ItemFilter, Namespace};
use vault_daemon::protocol as p;

use super::ItemId;
use crate::ctx::Ctx;
use crate::output;

/// Delete items: those named, or every item in a namespace (and below it),
/// in one step: either all go or none does.
#[derive(clap::Args)]
pub struct Rm {
    /// Item ids, or their first characters (at least 4) where no other id
    /// starts so.
    #[arg(value_parser = super::parse_item_id, required_unless_present = "namespace", conflicts_with = "namespace")]
    ids: Vec<ItemId>,
    /// Every item in this namespace and below it.
    #[arg(long = "ns", value_name = "NS")]
    namespace: Option<Namespace>,
    /// Do not ask before removing a namespace's items (required when not
    /// run in a terminal).
    #[arg(long)]
    yes: bool,
}

impl Rm {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let ids = match &self.namespace {
            None => {
                let mut ids = Vec::with_capacity(self.ids.len());
                for a in &self.ids {
                    let id = ctx.item_id(a).await?;
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
                ids
            }
            Some(ns) => {
                let filter = ItemFilter {
                    namespace: Some(ns.clone()),
                    tags: Vec::new(),
                };
                let items = ctx.call_vault(p::List { filter }).await?;
                if items.is_empty() {
                    bail!("no items in {ns}: nothing to remove");
                }
                if !self.yes {
                    use std::io::IsTerminal;
                    if !std::io::stdin().is_terminal() {
                        bail!(
                            "removing the {} items in {ns} needs --yes when not run in a terminal",
                            items.len()
                        );
                    }
                    eprint!("remove the {} items in {ns}? [y/N] ", items.len());
                    let mut answer = String::new();
                    std::io::stdin().read_line(&mut answer)?;
                    if !matches!(answer.trim(), "y" | "Y" | "yes") {
                        bail!("nothing was removed");
                    }
                }
                items.iter().map(|i| i.id).collect()
            }
        };
        ctx.call_vault(p::Remove { ids: ids.clone() }).await?;
        if ctx.json {
            return output::json(&ids);
        }
        for id in &ids {
            outln!("removed {id}");
        }
        Ok(())
    }
}
