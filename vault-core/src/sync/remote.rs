//! Where the log is kept: the remote's interface and the folder remote (a
//! directory any file-sync engine replicates).
//!
//! # Layout
//! `ctxvault-sync` (a marker naming the format and the vault's random id),
//! then per device `devices/<device>/keys` and `devices/<device>/<seq>.seg`
//! (twelve digits). A device writes only under its own directory; a
//! segment is written once, never replaced.

use std::future::Future;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use uuid::Uuid;

/// The marker file at the top of a remote.
pub const MARKER: &str = "ctxvault-sync";
const MARKER_HEAD: &str = "ctxvault sync remote, format 1\nvault ";

/// A file in the remote, as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its path under the remote's root, `/`-separated.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its stamp: changes whenever the file is written again.
    pub stamp: String,
}

/// What went wrong talking to a remote, in one line naming the fix.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The remote cannot be reached (missing folder, network, server).
    #[error("the sync remote {remote} cannot be reached: {reason}")]
    Unreachable {
        /// The remote.
        remote: String,
        /// Why, and the fix.
        reason: String,
    },
    /// The remote refused the credentials.
    #[error("the sync remote {remote} refused the credentials: {reason}")]
    Denied {
        /// The remote.
        remote: String,
        /// What it said.
        reason: String,
    },
    /// A file that is written once is there already.
    #[error("{0} is in the remote already")]
    Exists(String),
}

/// A place the log is kept. Every method is safe to retry.
pub trait Remote: Send + Sync {
    /// The remote as the user named it.
    fn describe(&self) -> String;
    /// A file's bytes; `None` when it is not there.
    fn get(&self, path: &str) -> impl Future<Output = Result<Option<Vec<u8>>, RemoteError>> + Send;
    /// Write a file that must not exist yet; [`RemoteError::Exists`] when
    /// it does. Returns the stamp it got.
    fn put_new(
        &self,
        path: &str,
        bytes: &[u8],
    ) -> impl Future<Output = Result<String, RemoteError>> + Send;
    /// Write or replace a file whole.
    fn put(&self, path: &str, bytes: &[u8])
    -> impl Future<Output = Result<(), RemoteError>> + Send;
    /// Every file under `prefix`.
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<Entry>, RemoteError>> + Send;
}

/// The marker's bytes for a vault.
pub fn marker(vault_id: &[u8; 16]) -> Vec<u8> {
    format!("{MARKER_HEAD}{}\n", Uuid::from_bytes(*vault_id).simple()).into_bytes()
}

/// The vault id a marker names, if it is one.
pub fn marker_vault(bytes: &[u8]) -> Option<[u8; 16]> {
    let s = std::str::from_utf8(bytes).ok()?;
    let id = s.strip_prefix(MARKER_HEAD)?.trim_end();
    Uuid::try_parse(id).ok().map(|u| *u.as_bytes())
}

/// The path of a device's segment `seq`.
pub fn segment_path(device: &Uuid, seq: u64) -> String {
    format!("devices/{}/{seq:012}.seg", device.simple())
}

/// The path of a device's keys file.
pub fn keys_path(device: &Uuid) -> String {
    format!("devices/{}/keys", device.simple())
}

/// What a listed path is: a device's segment, or its keys file.
pub enum Listed {
    /// A segment of a device.
    Segment(Uuid, u64),
    /// A device's keys file.
    Keys(Uuid),
}

/// Read a listed path; `None` for anything else (a file-sync engine's
/// temporary files, for instance).
pub fn parse_path(path: &str) -> Option<Listed> {
    let rest = path.strip_prefix("devices/")?;
    let (dev, file) = rest.split_once('/')?;
    let dev = Uuid::try_parse(dev).ok()?;
    if file == "keys" {
        return Some(Listed::Keys(dev));
    }
    let seq = file.strip_suffix(".seg")?;
    if seq.len() != 12 || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    seq.parse()
        .ok()
        .filter(|&s| s >= 1)
        .map(|s| Listed::Segment(dev, s))
}

/// A folder remote: a directory, usually one a file-sync engine
/// (Syncthing, Dropbox, iCloud Drive, Nextcloud) replicates.
#[derive(Clone, Debug)]
pub struct Folder {
    root: PathBuf,
}

impl Folder {
    /// The folder at `root`.
    pub fn new(root: &Path) -> Folder {
        Folder {
            root: root.to_owned(),
        }
    }

    fn unreachable(&self, e: &std::io::Error) -> RemoteError {
        RemoteError::Unreachable {
            remote: self.describe(),
            reason: format!("{e}; check that the folder exists and is yours"),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn stamp(md: &std::fs::Metadata) -> String {
        use std::os::unix::fs::MetadataExt;
        format!("{}.{:09}.{}", md.mtime(), md.mtime_nsec(), md.ino())
    }

    /// Write `bytes` to a temporary file beside `dest`, synced.
    fn temp(&self, dest: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
        let dir = dest.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(".ctxvault-tmp-{}", Uuid::now_v7().simple()));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        Ok(tmp)
    }

    fn sync_dir(dir: &Path) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }

    fn check_root(&self) -> Result<(), RemoteError> {
        match std::fs::metadata(&self.root) {
            Ok(md) if md.is_dir() => Ok(()),
            Ok(_) => Err(RemoteError::Unreachable {
                remote: self.describe(),
                reason: "it is not a folder".into(),
            }),
            Err(e) => Err(self.unreachable(&e)),
        }
    }
}

impl Remote for Folder {
    fn describe(&self) -> String {
        format!("folder {}", self.root.display())
    }

    async fn get(&self, path: &str) -> Result<Option<Vec<u8>>, RemoteError> {
        self.check_root()?;
        match std::fs::read(self.path(path)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.unreachable(&e)),
        }
    }

    async fn put_new(&self, path: &str, bytes: &[u8]) -> Result<String, RemoteError> {
        self.check_root()?;
        let dest = self.path(path);
        let tmp = self.temp(&dest, bytes).map_err(|e| self.unreachable(&e))?;
        // A hard link never replaces: the name is taken whole or not at all.
        let linked = std::fs::hard_link(&tmp, &dest);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(RemoteError::Exists(path.to_owned()));
            }
            Err(e) => return Err(self.unreachable(&e)),
        }
        if let Some(dir) = dest.parent() {
            Self::sync_dir(dir);
        }
        let md = std::fs::metadata(&dest).map_err(|e| self.unreachable(&e))?;
        Ok(Self::stamp(&md))
    }

    async fn put(&self, path: &str, bytes: &[u8]) -> Result<(), RemoteError> {
        self.check_root()?;
        let dest = self.path(path);
        let tmp = self.temp(&dest, bytes).map_err(|e| self.unreachable(&e))?;
        std::fs::rename(&tmp, &dest).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            self.unreachable(&e)
        })?;
        if let Some(dir) = dest.parent() {
            Self::sync_dir(dir);
        }
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Entry>, RemoteError> {
        self.check_root()?;
        let mut out = Vec::new();
        let mut dirs = vec![prefix.trim_end_matches('/').to_owned()];
        while let Some(rel) = dirs.pop() {
            let rd = match std::fs::read_dir(self.path(&rel)) {
                Ok(rd) => rd,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(self.unreachable(&e)),
            };
            for entry in rd {
                let entry = entry.map_err(|e| self.unreachable(&e))?;
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                let md = entry.metadata().map_err(|e| self.unreachable(&e))?;
                let child = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                if md.is_dir() {
                    dirs.push(child);
                } else if md.is_file() {
                    out.push(Entry {
                        path: child,
                        size: md.len(),
                        stamp: Self::stamp(&md),
                    });
                }
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }
}
