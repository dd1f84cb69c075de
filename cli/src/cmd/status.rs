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
        if let Some(url) = &s.proxy {
            outln!("proxy:  {url}");
        }
        if let Some(url) = &s.console {
            outln!("console: {url} (log in with `ctxvault console`)");
        }
        if s.pending > 0 {
            outln!(
                "review: {} proposal(s) from clients wait: `ctxvault pending`",
                s.pending
            );
        }
        model_lines(s.model.as_ref(), s.locked);
        if let Some(a) = &s.aspect {
            outln!("{}", super::aspect::in_force_line(a));
        }
        if let Some(y) = &s.sync {
            outln!(
                "sync:   {} as device {}{}",
                y.remote.as_deref().unwrap_or("no remote"),
                y.device,
                match y.last.as_ref().and_then(|l| l.error.as_deref()) {
                    Some(e) => format!("; last sync failed: {e}"),
                    None => String::new(),
                }
            );
            if y.conflicts > 0 {
                outln!(
                    "sync:   {} conflict(s) wait: `ctxvault sync conflicts`",
                    y.conflicts
                );
            }
            for b in &y.blocked {
                outln!("sync:   device {} blocked: {}", b.device, b.reason);
            }
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

/// A count with thousands separators.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The model lines of `status`.
fn model_lines(m: Option<&p::ModelStatus>, locked: bool) {
    let Some(m) = m else {
        outln!(
            "model:  none: search is by words only (`ctxvault model install PATH` adds search by meaning)"
        );
        return;
    };
    if let Some(e) = &m.error {
        outln!("model:  {} is not in use: {e}", m.name);
        return;
    }
    match m.dim {
        Some(d) => outln!("model:  {} ({d} dimensions)", m.name),
        None if locked => outln!("model:  {} (loaded at unlock)", m.name),
        None => outln!("model:  {}", m.name),
    }
    if let (Some(done), Some(total)) = (m.embedded, m.items)
        && done + m.failed < total
    {
        outln!(
            "        embedding {} of {} items in the background",
            grouped(done),
            grouped(total)
        );
    }
    if m.failed > 0 {
        outln!(
            "        {} item(s) could not be embedded (see agent.log)",
            m.failed
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn grouped() {
        assert_eq!(super::grouped(0), "0");
        assert_eq!(super::grouped(999), "999");
        assert_eq!(super::grouped(4200), "4,200");
        assert_eq!(super::grouped(1_000_000), "1,000,000");
    }
}
