//! One round of sync with a remote: write this device's sealed segments,
//! then read and apply every other device's new ones, checking each
//! device's log against what was seen of it before.

use uuid::Uuid;

use super::format;
use super::remote::{self, Entry, Listed, Remote, RemoteError};
use super::{Listed as Seg, plan, short};
use crate::UnlockedVault;
use crate::error::{Error, Result};
use crate::store::sync::SeenRow;
use crate::vault::Applied;

/// What a round of sync did.
#[derive(Debug, Default)]
pub struct Report {
    /// This device's segments written to the remote.
    pub sent: u64,
    /// Other devices' segments applied.
    pub received: u64,
    /// What the applied segments changed.
    pub applied: Applied,
    /// Integrity errors, one line each (their devices are blocked).
    pub problems: Vec<String>,
}

/// Check that `remote` can hold this vault's log: it is empty (apart from
/// hidden files, such as a file-sync engine's), or already this vault's
/// remote. Writes the marker in an empty one.
pub async fn prepare<R: Remote>(remote: &R, vault_id: &[u8; 16]) -> Result<()> {
    match remote.get(remote::MARKER).await? {
        Some(m) => return check_marker(remote, &m, vault_id),
        None => {
            let foreign = remote
                .list("")
                .await?
                .into_iter()
                .any(|e| !e.path.split('/').any(|p| p.starts_with('.')));
            if foreign {
                return Err(Error::Sync(format!(
                    "{} is not a ctxvault sync remote and is not empty: give an empty folder, or the one another device of this vault syncs to",
                    remote.describe()
                )));
            }
        }
    }
    match remote
        .put_new(remote::MARKER, &remote::marker(vault_id))
        .await
    {
        Ok(_) => Ok(()),
        Err(RemoteError::Exists(_)) => match remote.get(remote::MARKER).await? {
            Some(m) => check_marker(remote, &m, vault_id),
            None => Err(Error::Sync(format!(
                "{} changed while it was set up; run the command again",
                remote.describe()
            ))),
        },
        Err(e) => Err(e.into()),
    }
}

fn check_marker<R: Remote>(remote: &R, m: &[u8], vault_id: &[u8; 16]) -> Result<()> {
    match remote::marker_vault(m) {
        Some(v) if &v == vault_id => Ok(()),
        Some(_) => Err(Error::Sync(format!(
            "{} holds another vault's log: give an empty folder, or this vault's own remote",
            remote.describe()
        ))),
        None => Err(Error::Sync(format!(
            "{} has a {} file that is not ctxvault's: give an empty folder",
            remote.describe(),
            remote::MARKER
        ))),
    }
}

/// The vault id and the keys files a remote holds, for a device joining it.
pub async fn keys_of<R: Remote>(remote: &R) -> Result<([u8; 16], Vec<(Uuid, Vec<u8>)>)> {
    let not = || {
        Error::Sync(format!(
            "{} is not a ctxvault sync remote (it has no {} file): give the folder or bucket another device of the vault syncs to",
            remote.describe(),
            remote::MARKER
        ))
    };
    let m = remote.get(remote::MARKER).await?.ok_or_else(not)?;
    let vault_id = remote::marker_vault(&m).ok_or_else(not)?;
    let mut keys = Vec::new();
    for e in remote.list("devices").await? {
        if let Some(Listed::Keys(dev)) = remote::parse_path(&e.path)
            && let Some(b) = remote.get(&e.path).await?
        {
            keys.push((dev, b));
        }
    }
    if keys.is_empty() {
        return Err(Error::Sync(format!(
            "{} holds no device's keys yet: run `ctxvault sync now` on a device that has the vault, then join again",
            remote.describe()
        )));
    }
    Ok((vault_id, keys))
}

/// One round of sync of `vault` with `remote`; with `audit`, every audit
/// entry of this device not yet sent goes too (else only beside changes).
/// A segment missing before later ones of a device is waited for (engines
/// copy files in any order) for `gap_grace`, then named and the device
/// blocked.
pub async fn sync_now<R: Remote>(
    vault: &UnlockedVault,
    remote: &R,
    audit: bool,
    gap_grace: std::time::Duration,
) -> Result<Report> {
    let me = vault
        .sync_device()
        .ok_or_else(|| Error::Sync("sync is not set up for this vault: add a remote first with `ctxvault sync add folder PATH`".into()))?;
    // The marker is written by `sync add` alone: a folder without it is
    // one not mounted or not replicated yet, never to be written into.
    match remote.get(remote::MARKER).await? {
        Some(m) => check_marker(remote, &m, &vault.vault_id())?,
        None => {
            return Err(Error::Sync(format!(
                "{} has no {} file: is the folder mounted and replicated (or the bucket the right one)? nothing was written",
                remote.describe(),
                remote::MARKER
            )));
        }
    }
    let mut report = Report::default();
    let kp = remote::keys_path(&me);
    let there = remote.get(&kp).await?;
    if let Some(keys) = vault.sync_keys_update(there.as_deref()).await? {
        remote.put(&kp, &keys).await?;
    }
    // One segment at a time: sealed, written, out of the outbox, so the
    // outbox never holds more than one (and a crash at most that one).
    loop {
        for (seq, bytes) in vault.sync_outbox().await? {
            let path = remote::segment_path(&me, seq);
            let stamp = match remote.put_new(&path, &bytes).await {
                Ok(stamp) => stamp,
                Err(RemoteError::Exists(_)) => {
                    // Written before a crash: the same bytes, or someone else's.
                    let there = remote.get(&path).await?;
                    let entry = stamp_of(remote, &path).await?;
                    match (there, entry) {
                        (Some(b), Some(e)) if b == bytes => e.stamp,
                        _ => {
                            report.problems.push(
                            Error::SyncIntegrity {
                                device: short(&me),
                                reason: format!(
                                    "has a segment {seq} this device did not write (its own is kept to be written again)"
                                ),
                            }
                            .to_string(),
                        );
                            return Ok(report);
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            };
            vault.sync_written(seq, &bytes, stamp).await?;
            report.sent += 1;
        }
        if !vault.sync_seal_next(audit).await? {
            break;
        }
    }
    let listing = remote.list("devices").await?;
    let blocked: Vec<Uuid> = vault
        .sync_state()
        .await?
        .blocked
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    let mut by_device: std::collections::BTreeMap<Uuid, Vec<Seg>> = Default::default();
    for e in &listing {
        if let Some(Listed::Segment(dev, seq)) = remote::parse_path(&e.path) {
            by_device.entry(dev).or_default().push(Seg {
                seq,
                size: e.size,
                stamp: e.stamp.clone(),
            });
        }
    }
    // A device read before whose directory is gone is a rollback too.
    for (dev, _) in vault.sync_state().await?.devices {
        by_device.entry(dev).or_default();
    }
    for (dev, listed) in by_device {
        if blocked.contains(&dev) {
            continue;
        }
        match read_device(vault, remote, &me, &dev, &listed, gap_grace, &mut report).await {
            Ok(()) => {}
            Err(e @ Error::SyncIntegrity { .. }) => report.problems.push(e.to_string()),
            // A segment that authenticates but does not apply (an item or
            // record that does not open, a format this version cannot
            // read): that device waits, the others go on.
            Err(e @ (Error::Integrity(_) | Error::RecordIntegrity(_) | Error::Format(_))) => {
                let reason = format!("cannot be applied ({e})");
                vault.sync_block(&dev, &reason).await?;
                report.problems.push(
                    Error::SyncIntegrity {
                        device: short(&dev),
                        reason,
                    }
                    .to_string(),
                );
            }
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}

async fn stamp_of<R: Remote>(remote: &R, path: &str) -> Result<Option<Entry>> {
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    Ok(remote.list(dir).await?.into_iter().find(|e| e.path == path))
}

/// Check and apply one device's log.
async fn read_device<R: Remote>(
    vault: &UnlockedVault,
    remote: &R,
    me: &Uuid,
    dev: &Uuid,
    listed: &[Seg],
    gap_grace: std::time::Duration,
    report: &mut Report,
) -> Result<()> {
    let seen = vault.sync_seen(dev).await?;
    let fail = |reason: String| Error::SyncIntegrity {
        device: short(dev),
        reason,
    };
    let p = match plan(&seen, listed) {
        Ok(p) => p,
        Err(reason) => {
            if dev != me {
                vault.sync_block(dev, &reason).await?;
            }
            return Err(fail(reason));
        }
    };
    for seq in p.recheck {
        let old = seen.iter().find(|s| s.seq == seq);
        let now = listed.iter().find(|l| l.seq == seq);
        let bytes = remote.get(&remote::segment_path(dev, seq)).await?;
        match (old, now, bytes) {
            (Some(old), Some(now), Some(b)) if format::hash(&b) == old.hash => {
                let row = SeenRow {
                    stamp: now.stamp.clone(),
                    ..old.clone()
                };
                vault.sync_restamp(dev, &row).await?;
            }
            _ => {
                let reason = format!("has a segment {seq} that was replaced after it was read");
                if dev != me {
                    vault.sync_block(dev, &reason).await?;
                }
                return Err(fail(reason));
            }
        }
    }
    if dev == me {
        // This device's own segments are all written by it: any it does
        // not know of were put there by someone else.
        if let Some(seq) = p.new.first() {
            return Err(fail(format!("has a segment {seq} this device never wrote")));
        }
        return Ok(());
    }
    for seq in p.new {
        if listed
            .iter()
            .any(|l| l.seq == seq && l.size > format::MAX_FILE)
        {
            let reason = format!("has a segment {seq} too large to be ctxvault's");
            vault.sync_block(dev, &reason).await?;
            return Err(fail(reason));
        }
        let Some(bytes) = remote.get(&remote::segment_path(dev, seq)).await? else {
            return Err(fail(format!("lost segment {seq} while it was read")));
        };
        let stamp = listed
            .iter()
            .find(|l| l.seq == seq)
            .map(|l| l.stamp.clone())
            .unwrap_or_default();
        let a = vault.sync_apply(dev, seq, &bytes, stamp).await?;
        report.received += 1;
        merge(&mut report.applied, a);
    }
    match p.gap {
        None => vault.sync_gap_closed(dev),
        Some(g) => {
            let lasted = vault.sync_gap(dev, g);
            if lasted >= gap_grace {
                let reason = format!(
                    "has no segment {g} though later ones are there, for {} s (deleted, or lost by the file-sync engine)",
                    lasted.as_secs()
                );
                vault.sync_block(dev, &reason).await?;
                return Err(fail(reason));
            }
        }
    }
    Ok(())
}

fn merge(into: &mut Applied, a: Applied) {
    into.ops += a.ops;
    into.items += a.items;
    for id in &a.records_deleted {
        into.records_put.retain(|r| r.id() != *id);
    }
    for r in &a.records_put {
        into.records_deleted.retain(|d| *d != r.id());
        into.records_put.retain(|p| p.id() != r.id());
    }
    into.records_put.extend(a.records_put);
    into.records_deleted.extend(a.records_deleted);
}
