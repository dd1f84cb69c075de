//! `ctxvault grants`.

use vault_daemon::protocol as p;

use crate::ctx::Ctx;
use crate::output;

/// List grants and deny rules: id, scope, actions, tags, sensitivity,
/// expiry and whether expired.
#[derive(clap::Args)]
pub struct Grants {
    /// Only this client's.
    client: Option<String>,
}

impl Grants {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let rules = ctx
            .call_vault(p::Rules {
                client: self.client,
            })
            .await?;
        {
            if ctx.json {
                return output::json(&rules);
            }
            if rules.is_empty() {
                outln!("no grants or deny rules: every client sees nothing");
            }
            for r in &rules {
                outln!("{}", rule_line(r));
            }
            Ok(())
        }
    }
}

/// One grant or deny rule as `grants` lists it.
pub(crate) fn rule_line(r: &p::RuleInfo) -> String {
    let what = if r.kind == p::RuleKind::Deny {
        "DENY".to_owned()
    } else {
        r.actions
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut extra = Vec::new();
    if let Some(s) = r.max_sensitivity {
        extra.push(format!("up to {s}"));
    }
    if !r.tags.is_empty() {
        extra.push(format!("tags {}", r.tags.join(",")));
    }
    if !r.redact.is_empty() {
        extra.push(format!(
            "redact {}",
            r.redact
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(",")
        ));
    }
    if let Some(w) = r.providers.words() {
        extra.push(w);
    }
    if let Some(c) = r.confirm {
        extra.push(match c.remember_secs {
            Some(s) => format!("confirm (a yes lasts {s} s)"),
            None => "confirm each read".to_owned(),
        });
    }
    if let Some(e) = r.expires {
        let state = if r.expired { "expired" } else { "expires" };
        extra.push(format!(
            "{state} {}",
            e.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
    }
    format!(
        "{}  {:<16} {:<18} {:<18} {}",
        r.id,
        r.client,
        what,
        r.scope,
        extra.join("; ")
    )
}
