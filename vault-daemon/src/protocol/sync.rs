//! Requests about sync across devices, and their answers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{UnlockWith, VaultRequest, calls};

/// Add the vault's sync remote (the first one sets sync up: the vault's
/// items and records go into this device's log) and sync once.
#[derive(Serialize, Deserialize)]
pub struct SyncAdd {
    /// `folder:/absolute/path` or `s3://bucket/prefix`.
    pub remote: String,
}

/// Sync now: write this device's changes, read every other device's.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SyncNow {}

/// Where sync stands.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SyncStatus {}

/// The items changed concurrently on two devices.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SyncConflicts {}

/// Resolve an item's conflict.
#[derive(Debug, Serialize, Deserialize)]
pub struct SyncResolve {
    /// The item's id, or a start of it.
    pub item: String,
    /// Keep the version kept aside (else the one the vault holds).
    pub keep_other: bool,
    /// Which version kept aside, when there are several (its operation id
    /// or a start of it).
    #[serde(default)]
    pub other: Option<String>,
}

/// Apply a blocked device's log again.
#[derive(Debug, Serialize, Deserialize)]
pub struct SyncUnblock {
    /// The device's short id.
    pub device: String,
    /// Take what the remote holds now as that device's log (after a
    /// rollback the user accepts).
    #[serde(default)]
    pub accept: bool,
}

/// Create the vault on this device from a remote another device syncs to
/// (an agent request: there is no vault yet), then sync.
#[derive(Serialize, Deserialize)]
pub struct SyncJoin {
    /// The remote, as for [`SyncAdd`].
    pub remote: String,
    /// The vault's passphrase, or an identity with a key slot.
    pub with: UnlockWith,
}

/// A remote's address without its query (an S3 remote's holds the
/// credentials), for `Debug`.
fn bare(remote: &str) -> &str {
    remote.split('?').next().unwrap_or_default()
}

impl std::fmt::Debug for SyncAdd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncAdd")
            .field("remote", &bare(&self.remote))
            .finish()
    }
}

impl std::fmt::Debug for SyncJoin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncJoin")
            .field("remote", &bare(&self.remote))
            .field("with", &self.with)
            .finish()
    }
}

/// What a round of sync did.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SyncReport {
    /// This device's segments written.
    pub sent: u64,
    /// Other devices' segments applied.
    pub received: u64,
    /// Operations new to this device.
    pub ops: u64,
    /// Items whose state changed.
    pub items: u64,
    /// Integrity errors, one line each.
    pub problems: Vec<String>,
}

/// The last round of sync.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LastSync {
    /// When it ended.
    pub at: DateTime<Utc>,
    /// Its error, if it failed.
    pub error: Option<String>,
}

/// The answer to [`SyncStatus`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SyncStatusReport {
    /// This device's short id.
    pub device: String,
    /// The remote.
    pub remote: Option<String>,
    /// The last round.
    pub last: Option<LastSync>,
    /// Changes not yet written to the remote (operations and segments).
    pub pending: u64,
    /// Conflicts waiting for the user.
    pub conflicts: u64,
    /// Devices whose log is not applied, and why.
    pub blocked: Vec<BlockedDevice>,
    /// Every device seen, with its last segment.
    pub devices: Vec<DeviceSeen>,
}

/// A device whose log is not applied.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BlockedDevice {
    /// Its short id.
    pub device: String,
    /// Why.
    pub reason: String,
}

/// A device of the vault.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeviceSeen {
    /// Its short id.
    pub device: String,
    /// Its last segment read or written.
    pub last_segment: u64,
    /// This device.
    pub this: bool,
}

/// An item changed on two devices at once.
#[derive(Debug, Serialize, Deserialize)]
pub struct ConflictInfo {
    /// The item.
    pub item: Uuid,
    /// The operation that made the version kept aside.
    pub op: Uuid,
    /// The device that made it.
    pub device: String,
    /// The version the vault holds (none: removed).
    pub current: Option<vault_core::Item>,
    /// The version kept aside (none: it removes the item).
    pub other: Option<vault_core::Item>,
}

calls!(Vault / VaultRequest {
    SyncAdd => SyncReport,
    SyncNow => SyncReport,
    SyncStatus => SyncStatusReport,
    SyncConflicts => Vec<ConflictInfo>,
    SyncResolve => (),
    SyncUnblock => (),
});
