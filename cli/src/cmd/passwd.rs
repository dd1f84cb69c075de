//! `ctxvault passwd`.

use vault_daemon::protocol as p;

use crate::ctx::Ctx;
use crate::secret;

/// Change the passphrase. Only the passphrase's key slot changes; no item
/// is re-sealed. The current passphrase comes from `CTXVAULT_PASSPHRASE` or
/// a prompt, the new one from `CTXVAULT_NEW_PASSPHRASE` or a prompt (twice).
#[derive(clap::Args)]
pub struct Passwd {}

impl Passwd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        ctx.require_vault()?;
        let old = secret::read(secret::PASSPHRASE_ENV, "Current passphrase", false)?;
        let new = secret::read("CTXVAULT_NEW_PASSPHRASE", "New passphrase", true)?;
        let work_factor = super::work_factor_from_env()?;
        ctx.call(p::Passwd {
            old,
            new: new.clone(),
            work_factor,
        })
        .await?;
        // The keyring's copy follows, or it would unlock nothing.
        let keyring = if crate::keyring::enabled(&ctx.dir) {
            match crate::keyring::set(&ctx.dir, new).await {
                Ok(()) => "; the system keyring holds the new one",
                Err(e) => {
                    eprintln!(
                        "warning: {e}; run `ctxvault keyring on` to store the new passphrase"
                    );
                    ""
                }
            }
        } else {
            ""
        };
        crate::output::report(
            ctx,
            serde_json::json!({ "changed": true }),
            format!("passphrase changed{keyring}"),
        )
    }
}
