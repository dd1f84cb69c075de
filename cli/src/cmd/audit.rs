//! `ctxvault audit`, `ctxvault audit verify` and `ctxvault audit head`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use vault_daemon::protocol as p;

use crate::ctx::Ctx;
use crate::output;

/// The record of every read and write made for a client and of every
/// policy change: time, client, action, query, ids returned, grants used.
#[derive(clap::Args)]
pub struct Audit {
    #[command(subcommand)]
    verify: Option<Verify>,
    /// Only this client's entries.
    #[arg(long, value_name = "CLIENT")]
    client: Option<String>,
    /// Only entries since then: a duration ago (1d, 2h), `today`,
    /// `yesterday`, a date (2026-11-30, local midnight), or an RFC 3339 time.
    #[arg(long, value_name = "WHEN", value_parser = |s: &str| super::parse_time(s, false))]
    since: Option<DateTime<Utc>>,
    /// Only the last N entries.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Also the entries of this vault's other devices (their chains come
    /// with sync), each marked with its device.
    #[arg(long)]
    devices: bool,
}

/// `audit verify` and `audit head`.
#[derive(clap::Subcommand)]
enum Verify {
    /// Check the whole chain; names the first bad entry, exit 0 only when intact.
    Verify {
        /// Also check that the log still holds everything a head exported
        /// earlier with `audit head` recorded (detects truncation and rollback).
        #[arg(long, value_name = "FILE")]
        against: Option<PathBuf>,
    },
    /// Export the signed head of the log (count and last entry), to keep
    /// outside the vault for `audit verify --against`.
    Head {
        /// Write it to FILE (created 0600) instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

impl Audit {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        if let Some(Verify::Head { out }) = &self.verify {
            let head = ctx.call_vault(p::AuditHead {}).await?;
            let text = serde_json::to_string_pretty(&head)? + "\n";
            return match out {
                None => {
                    out!("{text}");
                    Ok(())
                }
                Some(path) => {
                    use std::io::Write;
                    use std::os::unix::fs::OpenOptionsExt;
                    let mut f = std::fs::OpenOptions::new()
                        .write(true)
                        .create(true)
                        .truncate(true)
                        .mode(0o600)
                        .open(path)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    f.write_all(text.as_bytes())
                        .and_then(|()| f.sync_all())
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!(
                        "audit head written to {} ({} entries); keep it outside the vault",
                        path.display(),
                        head.count
                    );
                    Ok(())
                }
            };
        }
        if let Some(Verify::Verify { against }) = self.verify {
            let json = ctx.json;
            let against = match &against {
                None => None,
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    Some(serde_json::from_str(&text).map_err(|e| {
                        anyhow::anyhow!(
                            "{} is not an audit head ({e}): use a file written by `ctxvault audit head`",
                            path.display()
                        )
                    })?)
                }
            };
            let r = ctx.call_vault(p::AuditVerify { against }).await?;
            return {
                {
                    if json {
                        output::json(&r)?;
                    }
                    match r.problem {
                        None => {
                            if !json {
                                outln!("audit log intact: {} entries", r.entries);
                            }
                            Ok(())
                        }
                        Some(p) => bail!(
                            "audit log damaged at entry {}: {}; entries before it are intact",
                            p.entry,
                            p.what
                        ),
                    }
                }
            };
        }
        let req = p::Audit {
            client: self.client,
            since: self.since,
            limit: self.limit,
            devices: self.devices,
        };
        let entries = ctx.call_vault(req).await?;
        {
            if ctx.json {
                return output::json(&entries);
            }
            for e in entries {
                let who = output::visible_line(e.entry.client.as_deref().unwrap_or("(you)"));
                let mut line = match &e.device {
                    Some(d) => format!("{d} "),
                    None => String::new(),
                };
                line.push_str(&format!(
                    "{:>5}  {}  {:<16} {:<14}",
                    e.seq,
                    e.entry.time.format("%Y-%m-%d %H:%M:%S"),
                    who,
                    output::visible_line(&e.entry.action)
                ));
                match (&e.entry.tool, &e.entry.door) {
                    (Some(t), Some(d)) => line.push_str(&format!(
                        " [{} over {}]",
                        output::visible_line(t),
                        output::visible_line(d)
                    )),
                    (Some(t), None) => line.push_str(&format!(" [{}]", output::visible_line(t))),
                    _ => {}
                }
                if let Some(q) = &e.entry.query {
                    line.push_str(&format!(" \"{}\"", output::visible_line(q)));
                }
                if !e.entry.ids.is_empty() {
                    line.push_str(&format!(" -> {} item(s)", e.entry.ids.len()));
                }
                if let Some(d) = &e.entry.detail {
                    line.push_str(&format!(" ({})", output::visible_line(d)));
                }
                outln!("{line}");
            }
            Ok(())
        }
    }
}
