//! `ctxvault keyring`: keep the passphrase in the system keyring.

use anyhow::anyhow;
use vault_daemon::protocol as p;
use vault_daemon::protocol::UnlockWith;

use crate::ctx::Ctx;
use crate::{keyring, secret};

/// Keep the vault's passphrase in the system keyring (the Secret Service
/// on Linux, the Keychain on macOS), so the agent unlocks at its start (at
/// login, with `ctxvault service install`) and commands that find the
/// vault locked unlock without asking. Whoever can use your unlocked
/// login keyring can then unlock the vault; `keyring off` undoes it.
#[derive(clap::Subcommand)]
pub enum Keyring {
    /// Store the passphrase (checked first: `CTXVAULT_PASSPHRASE` or a
    /// prompt).
    On,
    /// Remove it from the keyring.
    Off,
    /// Say whether the keyring holds it.
    Status,
}

impl Keyring {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        ctx.require_vault()?;
        let fail = |e: String| anyhow!("{e}");
        match self {
            Keyring::On => {
                let pass = secret::read(secret::PASSPHRASE_ENV, "Passphrase", false)?;
                ctx.call(p::Verify {
                    with: UnlockWith::Passphrase(pass.clone()),
                })
                .await?;
                keyring::set(&ctx.dir, pass).await.map_err(fail)?;
                keyring::mark(&ctx.dir, true)?;
                crate::output::report(
                    ctx,
                    serde_json::json!({ "keyring": true }),
                    "the passphrase is in the system keyring: the agent unlocks at its start, and commands unlock when the vault is locked (`ctxvault keyring off` removes it)",
                )
            }
            Keyring::Off => {
                keyring::mark(&ctx.dir, false)?;
                let had = keyring::delete(&ctx.dir).await.map_err(fail)?;
                crate::output::report(
                    ctx,
                    serde_json::json!({ "keyring": false, "removed": had }),
                    if had {
                        "the passphrase is no longer in the system keyring"
                    } else {
                        "the system keyring held no passphrase for this vault"
                    },
                )
            }
            Keyring::Status => {
                let has = keyring::get(&ctx.dir).await.map_err(fail)?.is_some();
                crate::output::report(
                    ctx,
                    serde_json::json!({ "keyring": has }),
                    if has {
                        "the system keyring holds this vault's passphrase"
                    } else {
                        "the system keyring holds no passphrase for this vault (`ctxvault keyring on` stores it)"
                    },
                )
            }
        }
    }
}
