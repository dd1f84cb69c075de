//! `ctxvault status`.

use vault_daemon::protocol as p;

use crate::ctx::Ctx;
use crate::output;

/// Show whether the agent runs, whether the vault is locked, and counts.
#[derive(clap::Args)]
pub struct Status {
    /// Print JSON.
    #[arg(long)]
    json: bool,
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
            Some(r) => serde_json::to_value(r.map_err(|e| anyhow::anyhow!(e.message))?)?,
            None => {
                // No agent: ids are plaintext, so the count needs no key.
                let items = if initialized {
                    let v = vault_core::Vault::open(&ctx.dir).await?;
                    let n = v.count().await?;
                    v.store().close().await;
                    Some(n)
                } else {
                    None
                };
                serde_json::json!({
                    "running": false,
                    "initialized": initialized,
                    "locked": true,
                    "items": items,
                    "vault": ctx.dir.display().to_string(),
                })
            }
        };
        if self.json {
            return output::json(&status);
        }
        let running = status["running"].as_bool().unwrap_or(false);
        println!("vault:  {}", ctx.dir.display());
        if !initialized {
            println!("state:  no vault here (run `ctxvault init`)");
            return Ok(());
        }
        if running {
            println!("agent:  running (pid {})", status["pid"]);
        } else {
            println!("agent:  not running");
        }
        let locked = status["locked"].as_bool().unwrap_or(true);
        println!("state:  {}", if locked { "locked" } else { "unlocked" });
        println!("items:  {}", status["items"]);
        if let Some(url) = status["http"].as_str() {
            println!("mcp:    {url}");
        }
        if let Some(n) = status["pending"].as_u64().filter(|n| *n > 0) {
            println!("review: {n} proposal(s) from clients wait: `ctxvault pending`");
        }
        if let Some(d) = status["damaged"].as_array().filter(|d| !d.is_empty()) {
            println!(
                "damaged: {} item(s) failed integrity checks; `ctxvault get ID` names each",
                d.len()
            );
        }
        Ok(())
    }
}
