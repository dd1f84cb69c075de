//! What every command needs: the vault directory, the agent's socket, a
//! client that starts the agent when none runs, and error mapping.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, anyhow, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use vault_daemon::protocol::UnlockWith;
use vault_daemon::{ApiError, Client, ErrorKind, Request, Response, TransportError, paths};

use crate::secret;

/// File in the vault directory that receives the background agent's log.
pub const AGENT_LOG: &str = "agent.log";

/// `ctxvault --vault DIR daemon --notify-ready`, stdin closed and stdout
/// piped for the readiness line; the caller adds arguments and stderr.
pub fn agent_command(vault: &Path) -> anyhow::Result<tokio::process::Command> {
    let exe = std::env::current_exe().context("cannot find the ctxvault executable")?;
    let mut cmd = tokio::process::Command::new(exe);
    cmd.arg("--vault")
        .arg(vault)
        .args(["daemon", "--notify-ready"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    Ok(cmd)
}

/// Read the agent's readiness line: `ready` (or `busy`: another agent
/// already serves the vault) is success; otherwise the error it printed, or
/// `hint` if it exited silently.
pub async fn await_ready(child: &mut tokio::process::Child, hint: &str) -> anyhow::Result<()> {
    let stdout = child.stdout.take().context("the agent has no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .await
        .context("reading the agent's readiness")?;
    match line.trim() {
        "ready" | "busy" => Ok(()),
        "" => bail!("the agent exited while starting; {hint}"),
        other => bail!("{}", other.strip_prefix("error: ").unwrap_or(other)),
    }
}

/// Resolve the vault directory: `--vault`, else `$CTXVAULT_HOME`, else the
/// XDG data directory's `ctxvault/`.
pub fn vault_dir(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let dir = match flag.or_else(|| {
        std::env::var_os("CTXVAULT_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    }) {
        Some(d) => d,
        None => directories::BaseDirs::new()
            .ok_or_else(|| {
                anyhow!("cannot find your home directory; pass --vault DIR or set CTXVAULT_HOME")
            })?
            .data_dir()
            .join("ctxvault"),
    };
    std::path::absolute(&dir).with_context(|| format!("bad vault path {}", dir.display()))
}

/// Shared state of one CLI invocation.
pub struct Ctx {
    /// The vault directory (absolute).
    pub dir: PathBuf,
}

fn api(e: ApiError) -> anyhow::Error {
    anyhow!(e.message)
}

impl Ctx {
    /// A context for the vault at `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Ctx { dir }
    }

    /// Fail unless a vault exists here.
    pub fn require_vault(&self) -> anyhow::Result<()> {
        if !vault_core::store::Store::exists(&self.dir) {
            bail!(
                "no vault at {}: run `ctxvault init`, or pass --vault DIR",
                self.dir.display()
            );
        }
        Ok(())
    }

    /// The agent client for this vault, if its directory exists.
    pub fn client(&self) -> anyhow::Result<Client> {
        let socket = paths::socket_path(&paths::runtime_dir(), &self.dir)?;
        Ok(Client::new(socket))
    }

    /// Send a request; `Ok(None)` when no agent runs (or the one reached
    /// was exiting). Only for requests that are safe to send twice.
    pub async fn try_call(
        &self,
        req: &Request,
    ) -> anyhow::Result<Option<Result<Response, ApiError>>> {
        let client = self.client()?;
        match client.call(req).await {
            Ok(r) => Ok(Some(r)),
            Err(TransportError::NotRunning(_)) => Ok(None),
            Err(e @ (TransportError::Http(_) | TransportError::Io(_))) => {
                // The agent we reached may be exiting (killed, or stopping).
                // If nobody holds the vault's agent lock any more it is
                // gone; otherwise (it, or a new one, holds it) ask once more.
                if !agent_lock_held(&self.dir) {
                    return Ok(None);
                }
                match client.call(req).await {
                    Ok(r) => Ok(Some(r)),
                    Err(TransportError::NotRunning(_)) => Ok(None),
                    Err(_) => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Start the agent in the background unless one runs; returns a client.
    pub async fn ensure_agent(&self) -> anyhow::Result<Client> {
        match self.try_call(&Request::Hello).await? {
            Some(Ok(_)) => return self.client(),
            Some(Err(e)) => return Err(api(e)),
            None => {}
        }
        self.start_agent().await?;
        self.client()
    }

    async fn start_agent(&self) -> anyhow::Result<()> {
        let log_path = self.dir.join(AGENT_LOG);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&log_path)
            .with_context(|| format!("cannot open the agent log {}", log_path.display()))?;
        let mut child = agent_command(&self.dir)?
            .stderr(log)
            .process_group(0)
            .spawn()
            .context("cannot start the agent")?;
        await_ready(&mut child, &format!("see {}", log_path.display())).await?;
        Ok(())
    }

    /// Send a request to the agent (starting it if needed).
    pub async fn call(&self, req: &Request) -> anyhow::Result<Response> {
        let client = self.ensure_agent().await?;
        client.call(req).await?.map_err(api)
    }

    /// Send a request that needs the vault unlocked. When the vault is
    /// locked and `CTXVAULT_PASSPHRASE` is set, unlock first.
    pub async fn call_vault(&self, req: &Request) -> anyhow::Result<Response> {
        self.require_vault()?;
        let client = self.ensure_agent().await?;
        match client.call(req).await? {
            Ok(r) => Ok(r),
            Err(e) if e.kind == ErrorKind::Locked => {
                let Some(pass) = secret::from_env() else {
                    return Err(api(e));
                };
                client
                    .call(&Request::Unlock {
                        with: UnlockWith::Passphrase(pass),
                    })
                    .await?
                    .map_err(api)?;
                client.call(req).await?.map_err(api)
            }
            Err(e) => Err(api(e)),
        }
    }
}

/// True when some agent holds the vault's lock (is alive, or still exiting).
fn agent_lock_held(dir: &Path) -> bool {
    let Ok(f) = OpenOptions::new()
        .read(true)
        .open(dir.join(vault_daemon::server::LOCK_FILE))
    else {
        return false;
    };
    match f.try_lock() {
        Ok(()) => {
            let _ = f.unlock();
            false
        }
        Err(_) => true,
    }
}

/// Wait until no agent holds the vault's lock (it has exited).
pub fn wait_agent_exit(dir: &Path) -> anyhow::Result<()> {
    let path = dir.join(vault_daemon::server::LOCK_FILE);
    let Ok(f) = OpenOptions::new().read(true).open(&path) else {
        return Ok(());
    };
    // Blocks until the agent releases its lock on exit.
    f.lock()
        .with_context(|| format!("waiting for the agent to exit ({})", path.display()))?;
    f.unlock().ok();
    Ok(())
}

/// The error for an answer of the wrong kind (names only its kind: an
/// answer may hold the user's context, which never goes into an error).
pub fn unexpected(r: &Response) -> anyhow::Error {
    anyhow!(
        "the agent gave an unexpected answer ({}); run `ctxvault stop` and retry",
        r.variant()
    )
}
