//! The vault's passphrase in the operating system's keyring (the Secret
//! Service on Linux, the Keychain on macOS), for unlocking without typing
//! it: at agent start (so at login, with `service install`) and when a
//! command finds the vault locked. Opt-in with `ctxvault keyring on`.
//!
//! The trade-off: whoever can use the login session's keyring (the user,
//! and any program running as them while it is unlocked) can unlock the
//! vault. Without it, a program running as the user can still talk to an
//! unlocked agent, but cannot unlock a locked one.

use std::path::{Path, PathBuf};

use vault_daemon::protocol::Secret;

/// The keyring's service name for ctxvault entries.
const SERVICE: &str = "ctxvault";

/// The file in the vault directory that says the keyring holds the
/// passphrase: without it the keyring is never asked (no D-Bus traffic, no
/// keyring prompt, for those who did not opt in).
const MARKER: &str = "keyring";

/// True when `keyring on` was run for the vault at `dir`.
pub fn enabled(dir: &Path) -> bool {
    dir.join(MARKER).exists()
}

/// Record that the keyring holds the passphrase (or no longer does).
pub fn mark(dir: &Path, on: bool) -> std::io::Result<()> {
    let path = dir.join(MARKER);
    if on {
        std::fs::write(
            path,
            "The system keyring holds this vault's passphrase (`ctxvault keyring off` removes it).\n",
        )
    } else {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// The stored passphrase, if `keyring on` was run and the keyring has it;
/// any failure is `None` (the vault then stays locked, as without one).
pub async fn passphrase(dir: &Path) -> Option<Secret> {
    if !enabled(dir) {
        return None;
    }
    match get(dir).await {
        Ok(p) => p,
        Err(e) => {
            tracing::debug!("no keyring unlock: {e}");
            None
        }
    }
}

/// The entry for the vault at `dir`: one per vault, named by its path.
fn account(dir: &Path) -> String {
    dir.canonicalize()
        .unwrap_or_else(|_| PathBuf::from(dir))
        .display()
        .to_string()
}

/// Why the keyring could not be used, in one line.
fn why(e: keyring::Error) -> String {
    match e {
        keyring::Error::NoDefaultStore | keyring::Error::PlatformFailure(_) => format!(
            "the system keyring is not reachable ({e}); on Linux it is the Secret Service (GNOME Keyring, KWallet) of a desktop session"
        ),
        e => format!("the system keyring refused: {e}"),
    }
}

/// Run a keyring call off the async runtime (the Secret Service client
/// blocks on D-Bus).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    // A locked keyring may put up a dialog nobody answers (over SSH, or
    // away from the desk): give up rather than hang the command.
    match tokio::time::timeout(WAIT, tokio::task::spawn_blocking(f)).await {
        Ok(r) => r.map_err(|e| format!("the keyring call failed: {e}"))?,
        Err(_) => Err(format!(
            "the system keyring did not answer within {} s (is it locked?)",
            WAIT.as_secs()
        )),
    }
}

/// How long a keyring call may take.
const WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The stored passphrase of the vault at `dir`; `None` when none is stored.
pub async fn get(dir: &Path) -> Result<Option<Secret>, String> {
    let account = account(dir);
    blocking(move || {
        let entry = keyring::Entry::new(SERVICE, &account).map_err(why)?;
        match entry.get_password() {
            Ok(p) => Ok(Some(Secret::new(p))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(why(e)),
        }
    })
    .await
}

/// Store `passphrase` for the vault at `dir`.
pub async fn set(dir: &Path, passphrase: Secret) -> Result<(), String> {
    let account = account(dir);
    blocking(move || {
        let entry = keyring::Entry::new(SERVICE, &account).map_err(why)?;
        entry.set_password(passphrase.expose_secret()).map_err(why)
    })
    .await
}

/// Remove the stored passphrase; false when there was none.
pub async fn delete(dir: &Path) -> Result<bool, String> {
    let account = account(dir);
    blocking(move || {
        let entry = keyring::Entry::new(SERVICE, &account).map_err(why)?;
        match entry.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(why(e)),
        }
    })
    .await
}
