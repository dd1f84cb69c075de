//! `ctxvault identity add|rm|ls`.

use std::path::PathBuf;

use vault_daemon::protocol as p;

use crate::ctx::Ctx;
use crate::secret;

/// Manage the age identities that can unlock the vault.
#[derive(clap::Subcommand)]
pub enum Identity {
    /// Let the identities in FILE (age-keygen's format) unlock the vault.
    /// Needs the passphrase (`CTXVAULT_PASSPHRASE` or a prompt).
    Add {
        /// An age identity file.
        file: PathBuf,
    },
    /// Remove the key slot of a recipient (`age1...`).
    Rm {
        /// The recipient, as `identity ls` shows it.
        recipient: String,
    },
    /// List the recipients whose identities can unlock the vault.
    Ls,
}

impl Identity {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        ctx.require_vault()?;
        match self {
            Identity::Add { file } => {
                let identity_file = secret::identity_file(&file)?;
                let passphrase = secret::read(secret::PASSPHRASE_ENV, "Passphrase", false)?;
                let added = ctx
                    .call(p::IdentityAdd {
                        passphrase,
                        identity_file,
                    })
                    .await?;
                if ctx.json {
                    return crate::output::json(&serde_json::json!({ "added": added }));
                }
                if added.is_empty() {
                    outln!(
                        "every identity in {} can already unlock the vault",
                        file.display()
                    );
                }
                for r in added {
                    outln!("added {r}");
                }
                Ok(())
            }
            Identity::Rm { recipient } => {
                ctx.call(p::IdentityRm {
                    recipient: recipient.clone(),
                })
                .await?;
                crate::output::report(
                    ctx,
                    serde_json::json!({ "removed": recipient }),
                    format!("removed {recipient}"),
                )
            }
            Identity::Ls => {
                let ids = ctx.call(p::IdentityList {}).await?;
                if ctx.json {
                    return crate::output::json(&ids);
                }
                if ids.is_empty() {
                    outln!("no identity can unlock the vault; only the passphrase");
                }
                for r in ids {
                    outln!("{r}");
                }
                Ok(())
            }
        }
    }
}
