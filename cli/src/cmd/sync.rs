//! `ctxvault sync add|now|status|join|conflicts|resolve|unblock`.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use vault_daemon::protocol as p;
use vault_daemon::protocol::UnlockWith;

use crate::ctx::Ctx;
use crate::{output, secret};

/// One vault on every device: end-to-end encrypted sync through a folder
/// that a file-sync engine (Syncthing, Dropbox, iCloud Drive, Nextcloud)
/// replicates, or an S3-compatible bucket. The remote sees ciphertext only.
#[derive(clap::Subcommand)]
pub enum Sync {
    /// Sync this vault with a remote (an empty folder, or the one another
    /// device of this vault syncs to), then once now; the agent then syncs
    /// on its own while unlocked.
    #[command(subcommand)]
    Add(Where),
    /// Sync now: write this device's changes and apply the other devices'.
    Now,
    /// The remote, the last sync, what is pending, conflicts and blocked
    /// devices.
    Status,
    /// Make this device's vault from a remote another device syncs to,
    /// unlocked with the vault's passphrase or an identity with a key slot.
    Join {
        /// Unlock with this age identity file instead of the passphrase.
        #[arg(long, value_name = "FILE", global = true)]
        identity: Option<PathBuf>,
        /// Read the passphrase from the first line of standard input.
        #[arg(long, conflicts_with = "identity", global = true)]
        passphrase_stdin: bool,
        /// Where the remote is.
        #[command(subcommand)]
        remote: Where,
    },
    /// Items changed on two devices at once: each version kept aside.
    Conflicts,
    /// Resolve an item's conflict: keep the version the vault holds
    /// (--keep current) or the one kept aside (--keep other).
    Resolve {
        /// The item's id, or a start of it.
        item: String,
        /// Which version stays.
        #[arg(long, value_enum)]
        keep: KeepWhich,
        /// With several versions kept aside: which one (the version id
        /// `sync conflicts` shows).
        #[arg(long, value_name = "ID")]
        version: Option<String>,
    },
    /// Apply a blocked device's log again once you trust the remote (after
    /// putting back what went missing); --accept takes what the remote
    /// holds now as that device's log (after a rollback you accept).
    Unblock {
        /// The device's short id (`sync status` lists blocked ones).
        device: String,
        /// Take the remote's copy of its log as it is now.
        #[arg(long)]
        accept: bool,
    },
}

/// Where a remote is.
#[derive(clap::Subcommand, Clone)]
pub enum Where {
    /// A folder, usually one a file-sync engine replicates.
    Folder {
        /// The folder (it must exist).
        path: PathBuf,
    },
    /// A bucket of an S3-compatible store (AWS S3, R2, MinIO, Garage), as
    /// s3://BUCKET/PREFIX; credentials from AWS_ACCESS_KEY_ID and
    /// AWS_SECRET_ACCESS_KEY, kept sealed in the vault.
    S3 {
        /// s3://BUCKET/PREFIX.
        url: String,
        /// The store's endpoint (default AWS_ENDPOINT_URL, else AWS's).
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
        /// The region (default AWS_REGION, else us-east-1).
        #[arg(long)]
        region: Option<String>,
    },
}

impl Where {
    /// The remote as the agent takes it.
    fn remote(&self) -> anyhow::Result<String> {
        match self {
            Where::Folder { path } => folder(path),
            Where::S3 {
                url,
                endpoint,
                region,
            } => s3(url, endpoint.clone(), region.clone()),
        }
    }
}

/// An S3 remote with its endpoint, region and credentials.
fn s3(url: &str, endpoint: Option<String>, region: Option<String>) -> anyhow::Result<String> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let parsed = url::Url::parse(url).ok().filter(|u| {
        u.scheme() == "s3" && u.host_str().is_some_and(|h| !h.is_empty()) && u.query().is_none()
    });
    let Some(mut parsed) = parsed else {
        bail!("{url:?} is not an S3 address; give it as s3://BUCKET/PREFIX");
    };
    let (Some(key), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) else {
        bail!(
            "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (they are kept sealed in the vault)"
        );
    };
    {
        let mut q = parsed.query_pairs_mut();
        if let Some(e) = endpoint.or_else(|| env("AWS_ENDPOINT_URL")) {
            q.append_pair("endpoint", &e);
        }
        if let Some(r) = region
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
        {
            q.append_pair("region", &r);
        }
        q.append_pair("key", &key);
        q.append_pair("secret", &secret);
    }
    Ok(parsed.to_string())
}

/// Which version a resolved conflict keeps.
#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
pub enum KeepWhich {
    /// The version the vault holds.
    Current,
    /// The version kept aside.
    Other,
}

/// A folder as the agent takes it: its absolute, resolved path.
fn folder(path: &Path) -> anyhow::Result<String> {
    let full = std::fs::canonicalize(path).with_context(|| {
        format!(
            "the sync folder {} cannot be opened; create it first, or give the folder the file-sync engine shares",
            path.display()
        )
    })?;
    if !full.is_dir() {
        bail!(
            "{} is not a folder; give the folder the file-sync engine shares",
            path.display()
        );
    }
    Ok(format!("folder:{}", full.display()))
}

fn print_report(ctx: &Ctx, r: &p::SyncReport, what: &str) -> anyhow::Result<()> {
    if ctx.json {
        return output::json(r);
    }
    outln!(
        "{what}: {} segment{} written, {} read ({} change{} applied, {} item{} updated)",
        r.sent,
        if r.sent == 1 { "" } else { "s" },
        r.received,
        r.ops,
        if r.ops == 1 { "" } else { "s" },
        r.items,
        if r.items == 1 { "" } else { "s" }
    );
    // Each integrity error on its own line; the last is the command's error.
    match r.problems.split_last() {
        Some((last, rest)) => {
            for p in rest {
                eprintln!("{p}");
            }
            bail!("{last}")
        }
        None => Ok(()),
    }
}

impl Sync {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        match self {
            Sync::Add(w) => {
                let remote = w.remote()?;
                let r = ctx.call_vault(p::SyncAdd { remote }).await?;
                print_report(ctx, &r, "syncing with the remote")
            }
            Sync::Now => {
                let r = ctx.call_vault(p::SyncNow {}).await?;
                print_report(ctx, &r, "synced")
            }
            Sync::Join {
                identity,
                passphrase_stdin,
                remote: w,
            } => {
                if vault_core::store::Store::exists(&ctx.dir) {
                    bail!(
                        "a vault already exists at {}; join from a new directory with --vault",
                        ctx.dir.display()
                    );
                }
                let remote = w.remote()?;
                let with = match &identity {
                    Some(f) => UnlockWith::IdentityFile(secret::identity_file(f)?),
                    None => UnlockWith::Passphrase(secret::passphrase(passphrase_stdin, false)?),
                };
                let made = !ctx.dir.exists();
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&ctx.dir)
                    .with_context(|| {
                        format!("cannot create the vault directory {}", ctx.dir.display())
                    })?;
                let r = match ctx.call(p::SyncJoin { remote, with }).await {
                    Ok(r) => r,
                    Err(e) => {
                        // Nothing was made: leave no empty directory behind
                        // (the agent's own files stay if it runs there).
                        if made {
                            let _ = std::fs::remove_dir(&ctx.dir);
                        }
                        return Err(e);
                    }
                };
                print_report(ctx, &r, &format!("joined; vault at {}", ctx.dir.display()))
            }
            Sync::Status => {
                let s = ctx.call_vault(p::SyncStatus {}).await?;
                if ctx.json {
                    return output::json(&s);
                }
                outln!(
                    "this device: {}  remote: {}",
                    s.device,
                    s.remote.as_deref().unwrap_or("none")
                );
                match &s.last {
                    Some(l) => outln!(
                        "last sync: {}{}",
                        l.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        l.error
                            .as_deref()
                            .map(|e| format!(" (failed: {e})"))
                            .unwrap_or_default()
                    ),
                    None => outln!("last sync: not since the agent started"),
                }
                outln!("pending: {} change(s) not yet written", s.pending);
                outln!(
                    "conflicts: {}{}",
                    s.conflicts,
                    if s.conflicts > 0 {
                        " (see `ctxvault sync conflicts`)"
                    } else {
                        ""
                    }
                );
                for d in &s.devices {
                    outln!(
                        "device {}{}: {} segment(s)",
                        d.device,
                        if d.this { " (this one)" } else { "" },
                        d.last_segment
                    );
                }
                for b in &s.blocked {
                    outln!("blocked {}: {}", b.device, b.reason);
                }
                Ok(())
            }
            Sync::Conflicts => {
                let cs = ctx.call_vault(p::SyncConflicts {}).await?;
                if ctx.json {
                    return output::json(&cs);
                }
                if cs.is_empty() {
                    outln!("no conflicts");
                }
                let line = |i: &Option<vault_core::Item>| match i {
                    Some(i) => format!("{:?}", i.body.chars().take(70).collect::<String>()),
                    None => "(removed)".to_owned(),
                };
                for c in &cs {
                    outln!("item {}", c.item);
                    outln!("  current: {}", line(&c.current));
                    outln!(
                        "  other:   {} (version {} from device {})",
                        line(&c.other),
                        &c.op.simple().to_string()[24..],
                        c.device
                    );
                }
                Ok(())
            }
            Sync::Resolve {
                item,
                keep,
                version,
            } => {
                ctx.call_vault(p::SyncResolve {
                    item: item.clone(),
                    keep_other: keep == KeepWhich::Other,
                    other: version,
                })
                .await?;
                output::report(
                    ctx,
                    serde_json::json!({ "resolved": item }),
                    format!("conflict of item {item} resolved on every device at their next sync"),
                )
            }
            Sync::Unblock { device, accept } => {
                ctx.call_vault(p::SyncUnblock {
                    device: device.clone(),
                    accept,
                })
                .await?;
                output::report(
                    ctx,
                    serde_json::json!({ "unblocked": device }),
                    format!("device {device} unblocked: its log is applied at the next sync"),
                )
            }
        }
    }
}
