//! `ctxvault rekey`.

use vault_daemon::protocol as p;

use crate::ctx::Ctx;
use crate::secret;

/// Make a new master key and re-seal every item, policy record and audit
/// entry under it, rewrapping every key slot, in one transaction: a crash
/// at any moment leaves the vault under exactly one key. Needs the
/// passphrase (`CTXVAULT_PASSPHRASE` or a prompt).
#[derive(clap::Args)]
pub struct Rekey {}

impl Rekey {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        ctx.require_vault()?;
        let passphrase = secret::read(secret::PASSPHRASE_ENV, "Passphrase", false)?;
        let work_factor = super::work_factor_from_env()?;
        ctx.call(p::Rekey {
            passphrase,
            work_factor,
        })
        .await?;
        crate::output::report(
            ctx,
            serde_json::json!({ "rekeyed": true }),
            "vault rekeyed: every record is sealed under a new master key",
        )
    }
}
