//! `ctxvault aspect add|use|off|ls|rm` and `ctxvault retention
//! set|rm|ls|sweep`.

use chrono::{DateTime, Utc};
use policies::{Scope, Sensitivity};
use vault_daemon::protocol as p;

use crate::ctx::Ctx;
use crate::output;

/// Named views that narrow what clients see while one is in force (an
/// aspect never gives a client what its grants do not).
#[derive(clap::Subcommand)]
pub enum Aspect {
    /// Define an aspect: the scopes it admits, up to a sensitivity.
    Add {
        /// A name such as interview.
        name: String,
        /// A namespace glob it admits (repeat: any of them), such as
        /// 'work/**' or profile.
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<Scope>,
        /// The most sensitive items it admits.
        #[arg(long, value_name = "S", default_value = "normal")]
        max_sensitivity: Sensitivity,
        /// Redefine an aspect of the same name.
        #[arg(long)]
        replace: bool,
    },
    /// Switch an aspect on: every client (or those named) sees only what it
    /// admits, from its next call, until `aspect off` or --for runs out.
    Use {
        /// The aspect's name.
        name: String,
        /// Switch it off by itself after this long (such as 2h), or at
        /// this time.
        #[arg(long = "for", value_name = "WHEN", value_parser = |s: &str| super::parse_time(s, true))]
        until: Option<DateTime<Utc>>,
        /// Only these clients (comma-separated).
        #[arg(long, value_name = "A,B", value_delimiter = ',')]
        clients: Vec<String>,
    },
    /// Switch the aspect in force off: every client sees what its grants
    /// give again.
    Off,
    /// List aspects and the one in force.
    Ls,
    /// Remove an aspect (switching it off if it is in force).
    Rm {
        /// The aspect's name.
        name: String,
    },
}

/// How long items are kept: a scope's items are removed a while after they
/// were made (an item's own expiry is `add --expires`).
#[derive(clap::Subcommand)]
pub enum Retention {
    /// Keep a scope's items for this long after they were made (at least
    /// 1m), such as `retention set 'history/**' 1y`.
    Set {
        /// A namespace glob, such as 'history/**'.
        scope: Scope,
        /// How long, such as 30d or 1y.
        #[arg(value_parser = parse_keep)]
        keep: i64,
    },
    /// Remove a scope's retention.
    Rm {
        /// The scope, as it was set.
        scope: Scope,
    },
    /// List retentions.
    Ls,
    /// Remove now every item whose retention ran out (the agent does this
    /// every minute and at unlock).
    Sweep,
}

/// A retention length in whole seconds.
fn parse_keep(s: &str) -> Result<i64, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("{s:?} is not a duration ({e}); use one such as 30d or 1y"))?;
    i64::try_from(d.as_secs()).map_err(|_| format!("{s:?} is too long; use one such as 30d or 1y"))
}

impl Aspect {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        match self {
            Aspect::Add {
                name,
                scopes,
                max_sensitivity,
                replace,
            } => {
                ctx.call_vault(p::AspectAdd {
                    name: name.clone(),
                    scopes,
                    max_sensitivity,
                    replace,
                })
                .await?;
                output::report(
                    ctx,
                    serde_json::json!({ "added": name }),
                    format!(
                        "aspect {name} defined; switch it on with `ctxvault aspect use {name}`"
                    ),
                )
            }
            Aspect::Use {
                name,
                until,
                clients,
            } => {
                ctx.call_vault(p::AspectUse {
                    name: name.clone(),
                    until,
                    clients: clients.clone(),
                })
                .await?;
                let whom = if clients.is_empty() {
                    "every client".to_owned()
                } else {
                    clients.join(", ")
                };
                let till = until.map_or(" until `ctxvault aspect off`".to_owned(), |u| {
                    format!(
                        " until {}",
                        u.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    )
                });
                output::report(
                    ctx,
                    serde_json::json!({ "in_force": name, "until": until, "clients": clients }),
                    format!("aspect {name} in force for {whom}{till}"),
                )
            }
            Aspect::Off => {
                ctx.call_vault(p::AspectOff {}).await?;
                output::report(
                    ctx,
                    serde_json::json!({ "in_force": null }),
                    "aspect off: every client sees what its grants give",
                )
            }
            Aspect::Ls => {
                let r = ctx.call_vault(p::AspectList {}).await?;
                if ctx.json {
                    return output::json(&r);
                }
                if r.aspects.is_empty() {
                    outln!(
                        "no aspects yet: define one with `ctxvault aspect add NAME --scope SCOPE`"
                    );
                }
                for a in &r.aspects {
                    let on = r.in_force.as_ref().is_some_and(|f| f.name == a.name);
                    outln!(
                        "{}{:<16} {}  up to {}",
                        if on { "* " } else { "  " },
                        a.name,
                        a.scopes.join(", "),
                        a.max_sensitivity
                    );
                }
                if let Some(f) = &r.in_force {
                    outln!("{}", in_force_line(f));
                }
                Ok(())
            }
            Aspect::Rm { name } => {
                ctx.call_vault(p::AspectRemove { name: name.clone() })
                    .await?;
                output::report(
                    ctx,
                    serde_json::json!({ "removed": name }),
                    format!("aspect {name} removed"),
                )
            }
        }
    }
}

/// The aspect in force, in one line (`status` and `aspect ls`).
pub fn in_force_line(f: &p::AspectInForce) -> String {
    format!(
        "aspect {} in force for {}{}",
        f.name,
        if f.clients.is_empty() {
            "every client".to_owned()
        } else {
            f.clients.join(", ")
        },
        f.until
            .map(|u| format!(
                " until {}",
                u.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ))
            .unwrap_or_default()
    )
}

impl Retention {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        match self {
            Retention::Set { scope, keep } => {
                ctx.call_vault(p::RetentionSet {
                    scope: scope.clone(),
                    keep_secs: keep,
                })
                .await?;
                output::report(
                    ctx,
                    serde_json::json!({ "scope": scope.to_string(), "keep_secs": keep }),
                    format!(
                        "items in {scope} are removed {} after they were made",
                        humantime::format_duration(std::time::Duration::from_secs(keep as u64))
                    ),
                )
            }
            Retention::Rm { scope } => {
                ctx.call_vault(p::RetentionRemove {
                    scope: scope.clone(),
                })
                .await?;
                output::report(
                    ctx,
                    serde_json::json!({ "removed": scope.to_string() }),
                    format!("retention on {scope} removed"),
                )
            }
            Retention::Ls => {
                let list = ctx.call_vault(p::RetentionList {}).await?;
                if ctx.json {
                    return output::json(&list);
                }
                if list.is_empty() {
                    outln!("no retention: items are kept until you remove them");
                }
                for r in &list {
                    match (&r.scope, r.keep_secs, r.item, r.expires) {
                        (Some(s), Some(k), _, _) => outln!(
                            "{s:<24} kept {}",
                            humantime::format_duration(std::time::Duration::from_secs(k as u64))
                        ),
                        (_, _, Some(i), Some(e)) => outln!(
                            "item {i}  removed at {}",
                            e.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                        ),
                        _ => {}
                    }
                }
                Ok(())
            }
            Retention::Sweep => {
                let n = ctx.call_vault(p::RetentionSweep {}).await?;
                output::report(
                    ctx,
                    serde_json::json!({ "removed": n }),
                    format!("{n} item(s) removed: their retention ran out"),
                )
            }
        }
    }
}
