//! Where the agent's socket lives, and the checks that keep it private.
//!
//! The runtime directory is `$CTXVAULT_RUNTIME_DIR`, else
//! `$XDG_RUNTIME_DIR/ctxvault`, else `ctxvault/run` in the user's state
//! directory (`$XDG_STATE_HOME`, or `~/.local/state`), where no other user
//! can create it first; `/tmp/ctxvault-<uid>` only when there is no home. It must be owned
//! by the user and closed to group and others (0700); it is created so when
//! missing, and refused otherwise. Each vault gets the socket
//! `<runtime>/<first 16 hex digits of SHA-256(canonical vault path)>.sock`.

use std::fs::DirBuilder;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::unistd::getuid;

/// Longest socket path the kernel accepts (`sun_path` is 108 bytes with NUL).
pub const MAX_SOCKET_PATH: usize = 107;

/// A problem with the runtime directory or socket path.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    /// Group or others can reach the directory.
    #[error(
        "unsafe socket directory {dir}: group or others can access it (mode {mode:03o}); run `chmod 700 {dir}` or set CTXVAULT_RUNTIME_DIR to a private directory"
    )]
    Unsafe {
        /// The directory.
        dir: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Someone else owns the directory.
    #[error(
        "unsafe socket directory {dir}: it belongs to uid {owner}, not to you (uid {me}); set CTXVAULT_RUNTIME_DIR to a directory you own"
    )]
    NotOwned {
        /// The directory.
        dir: PathBuf,
        /// Its owner.
        owner: u32,
        /// Our uid.
        me: u32,
    },
    /// The path exists and is not a directory.
    #[error("socket directory {0} is not a directory; set CTXVAULT_RUNTIME_DIR to a directory")]
    NotADir(PathBuf),
    /// The socket path is too long for a Unix socket.
    #[error(
        "socket path {path} is {len} bytes, over the {MAX_SOCKET_PATH}-byte limit of Unix sockets; set CTXVAULT_RUNTIME_DIR to a shorter directory"
    )]
    TooLong {
        /// The path.
        path: PathBuf,
        /// Its length.
        len: usize,
    },
    /// An I/O error on a path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// The runtime directory for this user (not created, not checked).
pub fn runtime_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CTXVAULT_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("ctxvault");
    }
    // Not /tmp: another local user could create /tmp/ctxvault-<uid> first
    // and so keep the agent from starting.
    if let Some(state) =
        directories::BaseDirs::new().and_then(|b| b.state_dir().map(Path::to_owned))
    {
        return state.join("ctxvault").join("run");
    }
    PathBuf::from(format!("/tmp/ctxvault-{}", getuid().as_raw()))
}

/// Check that `dir` is a directory owned by us with no group/other access.
pub fn check_private_dir(dir: &Path) -> Result<(), PathError> {
    let md = std::fs::metadata(dir).map_err(|source| PathError::Io {
        path: dir.to_owned(),
        source,
    })?;
    if !md.is_dir() {
        return Err(PathError::NotADir(dir.to_owned()));
    }
    let me = getuid().as_raw();
    if md.uid() != me {
        return Err(PathError::NotOwned {
            dir: dir.to_owned(),
            owner: md.uid(),
            me,
        });
    }
    let mode = md.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(PathError::Unsafe {
            dir: dir.to_owned(),
            mode,
        });
    }
    Ok(())
}

/// Create `dir` (0700, with parents) if missing, then check it.
pub fn ensure_private_dir(dir: &Path) -> Result<(), PathError> {
    if !dir.exists() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| PathError::Io {
                path: dir.to_owned(),
                source,
            })?;
    }
    check_private_dir(dir)
}

/// The socket path for the vault at `vault_dir` (which must exist).
pub fn socket_path(runtime: &Path, vault_dir: &Path) -> Result<PathBuf, PathError> {
    let canon = vault_dir.canonicalize().map_err(|source| PathError::Io {
        path: vault_dir.to_owned(),
        source,
    })?;
    let digest = ring::digest::digest(&ring::digest::SHA256, canon.as_os_str().as_encoded_bytes());
    let name: String = digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let path = runtime.join(format!("{name}.sock"));
    let len = path.as_os_str().len();
    if len > MAX_SOCKET_PATH {
        return Err(PathError::TooLong { path, len });
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn private_dir_checks() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("rt");
        ensure_private_dir(&d).unwrap();
        assert_eq!(
            std::fs::metadata(&d).unwrap().permissions().mode() & 0o777,
            0o700
        );
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = check_private_dir(&d).unwrap_err().to_string();
        assert!(
            e.contains("unsafe socket directory") && e.contains("chmod 700"),
            "{e}"
        );
    }

    #[test]
    fn long_paths_refused() {
        let t = tempfile::tempdir().unwrap();
        let long = t.path().join("x".repeat(120));
        let e = socket_path(&long, t.path()).unwrap_err();
        assert!(matches!(e, PathError::TooLong { .. }));
        let ok = socket_path(t.path(), t.path()).unwrap();
        assert!(ok.as_os_str().len() <= MAX_SOCKET_PATH);
    }
}
