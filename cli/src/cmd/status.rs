//! `ctxvault status`.

use serde::Serialize;
use vault_daemon::protocol as p;

use crate::ctx::Ctx;
use crate::output;

/// Show whether the agent runs, whether the vault is locked, and counts.
#[derive(clap::Args)]
pub struct Status {}

/// What `status` knows when no agent runs (ids are plaintext, so the count
/// needs no key).
#[derive(Serialize)]
struct NoAgent {
    running: bool,
    initialized: bool,
    locked: bool,
    items: Option<u64>,
    vault: String,
}

/// Print the vault line; false (after saying so) when there is no vault.
fn header(ctx: &Ctx, initialized: bool) -> bool {
    outln!("vault:  {}", ctx.dir.display());
    if !initialized {
        outln!("state:  no vault here (run `ctxvault init`)");
    }
    initialized
}

impl Status {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let initialized = vault_core::store::Store::exists(&ctx.dir);
        let answer = if ctx.dir.is_dir() {
            ctx.try_call(p::StatusQuery {}).await?
        } else {
            None
        };
        let status = match answer {
            Some(r) => Some(r.map_err(|e| anyhow::anyhow!(e.message))?),
            None => None,
        };
        let Some(s) = status else {
            let items = if initialized {
                let v = vault_core::Vault::open(&ctx.dir).await?;
                let n = v.count().await?;
                v.store().close().await;
                Some(n)
            } else {
                None
            };
            let none = NoAgent {
                running: false,
                initialized,
                locked: true,
                items,
                vault: ctx.dir.display().to_string(),
            };
            if ctx.json {
                return output::json(&none);
            }
            if !header(ctx, initialized) {
                return Ok(());
            }
            outln!("agent:  not running");
            outln!("state:  locked");
            outln!("items:  {}", items.unwrap_or(0));
            return Ok(());
        };
        if ctx.json {
            return output::json(&s);
        }
        if !header(ctx, initialized) {
            return Ok(());
        }
        outln!("agent:  running (pid {})", s.pid);
        outln!("state:  {}", if s.locked { "locked" } else { "unlocked" });
        outln!("items:  {}", s.items);
        if let Some(url) = &s.http {
            outln!("mcp:    {url}");
        }
        if s.pending > 0 {
            outln!(
                "review: {} proposal(s) from clients wait: `ctxvault pending`",
                s.pending
            );
        }
        for w in &s.warnings {
            outln!("warning: {w}");
        }
        if !s.damaged.is_empty() {
            outln!(
                "damaged: {} item(s) failed integrity checks; `ctxvault get ID` names each",
                s.damaged.len()
            );
        }
        Ok(())
    }
}
