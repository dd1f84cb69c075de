//! What every command needs: the vault directory, the agent's socket, a
//! client that starts the agent when none runs, and error mapping.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, anyhow, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use uuid::Uuid;
use vault_daemon::client::{Bytes, ExportStream, Prepared};
use vault_daemon::protocol::{
    ClientList, Export, Import, ImportSummary, PROTOCOL_VERSION, Resolve, ShortIds, Unlock,
    UnlockWith,
};

use crate::cmd::ItemId;
use vault_daemon::{ApiError, Call, Client, ErrorKind, TransportError, paths};

use crate::secret;

/// How long to wait for an agent another process started to answer.
const AGENT_START_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// How long to wait for an agent to exit once asked to.
const AGENT_EXIT_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

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
        // A test's stand-in for another release never passes to our agent.
        .env_remove("CTXVAULT_TEST_PROTOCOL")
        // Nor do secrets meant for this command: the agent's environment
        // is readable for its whole life.
        .env_remove("CTXVAULT_PASSPHRASE")
        .env_remove("CTXVAULT_TOKEN")
        .env_remove("CTXVAULT_TOKEN_FILE")
        .env_remove("CTXVAULT_BUNDLE_PASSPHRASE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    Ok(cmd)
}

/// Read the agent's readiness line: `ready` (or `busy`: another agent
/// already serves the vault) is success; otherwise the error it printed, or
/// `hint` if it exited silently. True for `busy`.
pub async fn await_ready(child: &mut tokio::process::Child, hint: &str) -> anyhow::Result<bool> {
    let stdout = child.stdout.take().context("the agent has no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .await
        .context("reading the agent's readiness")?;
    match line.trim() {
        "ready" => Ok(false),
        "busy" => Ok(true),
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
    /// Print results as JSON (`--json`, or `output = "json"`).
    pub json: bool,
    /// The settings of config.toml.
    pub config: crate::config::Config,
}

fn api(e: ApiError) -> anyhow::Error {
    anyhow!(e.message)
}

impl Ctx {
    /// A context for the vault at `dir`.
    pub fn new(dir: PathBuf, json: bool) -> Self {
        Ctx {
            dir,
            json,
            config: Default::default(),
        }
    }

    /// This context with the settings of config.toml.
    pub fn with_config(mut self, config: crate::config::Config) -> Self {
        self.config = config;
        self
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

    /// True when an agent holds this vault's lock (runs, or is exiting).
    pub fn agent_running(&self) -> bool {
        agent_lock_held(&self.dir)
    }

    /// The agent client for this vault, if its directory exists.
    pub fn client(&self) -> anyhow::Result<Client> {
        let socket = paths::socket_path(&paths::runtime_dir(), &self.dir)?;
        Ok(Client::new(socket))
    }

    /// Send a request; `Ok(None)` when no agent runs (or the one reached
    /// was exiting). Only for requests that are safe to send twice.
    pub async fn try_call<R: Call>(
        &self,
        req: R,
    ) -> anyhow::Result<Option<Result<R::Answer, ApiError>>> {
        let client = self.client()?;
        let req = Client::prepare(req)?;
        match client.send_prepared(&req).await {
            Ok(r) => Ok(Some(r)),
            Err(TransportError::NotRunning(_)) => Ok(None),
            Err(
                e @ (TransportError::Http(_)
                | TransportError::Io(_)
                | TransportError::Interrupted(_)),
            ) => {
                // The agent we reached may be exiting (killed, or stopping).
                // If nobody holds the vault's agent lock any more it is
                // gone; otherwise (it, or a new one, holds it) ask once more.
                if !agent_lock_held(&self.dir) {
                    return Ok(None);
                }
                match client.send_prepared(&req).await {
                    Ok(r) => Ok(Some(r)),
                    Err(TransportError::NotRunning(_)) => Ok(None),
                    Err(_) => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Start the agent in the background unless one of this version runs;
    /// an agent speaking another protocol version (from an older or newer
    /// ctxvault) is stopped and replaced, as rbw does.
    pub async fn ensure_agent(&self) -> anyhow::Result<Client> {
        let client = self.client()?;
        let mut hello = client.hello().await;
        if matches!(
            hello,
            Err(TransportError::Http(_) | TransportError::Io(_) | TransportError::Interrupted(_))
        ) {
            // The agent we reached may be exiting (killed, or stopping). If
            // nobody holds the vault's agent lock any more it is gone;
            // otherwise (it, or a new one, holds it) ask once more.
            if !agent_lock_held(&self.dir) {
                self.start_agent().await?;
                return Ok(client);
            }
            hello = client.hello().await;
        }
        match hello {
            Ok(h) if h.protocol == PROTOCOL_VERSION => return Ok(client),
            Ok(h) => {
                eprintln!(
                    "note: the running agent (pid {}, ctxvault {}) speaks protocol {} and this ctxvault {}; restarting it",
                    h.pid, h.version, h.protocol, PROTOCOL_VERSION
                );
                self.stop_agent(&client).await?;
            }
            Err(TransportError::NotRunning(_)) => {}
            Err(TransportError::BadResponse(_)) => {
                eprintln!(
                    "note: the running agent is from another ctxvault version; restarting it"
                );
                self.stop_agent(&client).await?;
            }
            Err(e) => return Err(e.into()),
        }
        self.start_agent().await?;
        Ok(client)
    }

    /// Stop the agent, whatever protocol version it speaks, and wait until
    /// it has exited: ask it to stop, and if it cannot hear that, send
    /// SIGTERM to the pid its vault lock names. False when none ran.
    pub async fn stop_agent(&self, client: &Client) -> anyhow::Result<bool> {
        match client.stop().await {
            Ok(()) => {}
            Err(TransportError::NotRunning(_)) => return Ok(false),
            Err(e @ TransportError::Path(_)) => return Err(e.into()),
            Err(
                TransportError::BadResponse(_)
                | TransportError::Http(_)
                | TransportError::Io(_)
                | TransportError::Interrupted(_),
            ) => {
                // An agent that cannot hear /stop (one older than it), or
                // one already exiting.
                if !terminate_lock_holder(&self.dir)? {
                    return Ok(false);
                }
            }
        }
        wait_agent_exit(&self.dir)?;
        Ok(true)
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
        let busy = await_ready(&mut child, &format!("see {}", log_path.display())).await?;
        if busy {
            self.await_other_agent().await?;
        }
        Ok(())
    }

    /// Another agent holds the vault (one a door started a moment ago, say):
    /// wait until it answers, or until it has gone (the caller's next call
    /// then says so), at most [`AGENT_START_WAIT`].
    async fn await_other_agent(&self) -> anyhow::Result<()> {
        let client = self.client()?;
        let start = std::time::Instant::now();
        let mut pause = std::time::Duration::from_millis(2);
        loop {
            if client.hello().await.is_ok() || !agent_lock_held(&self.dir) {
                return Ok(());
            }
            if start.elapsed() > AGENT_START_WAIT {
                bail!(
                    "another ctxvault agent holds {} but does not answer on its socket; stop it with `ctxvault stop` or see {}",
                    self.dir.display(),
                    self.dir.join(AGENT_LOG).display()
                );
            }
            // Another process's readiness: nothing to wait on but its socket.
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(std::time::Duration::from_millis(100));
        }
    }

    /// After an unlock: print on stderr what it found wrong with the
    /// vault's state (a rollback), one line each.
    pub async fn warn_vault_state(&self) {
        if let Ok(s) = self.call(vault_daemon::protocol::StatusQuery {}).await {
            for w in &s.warnings {
                eprintln!("warning: {w}");
            }
        }
    }

    /// Send a request to the agent (starting it if needed).
    pub async fn call<R: Call>(&self, req: R) -> anyhow::Result<R::Answer> {
        let client = self.ensure_agent().await?;
        client.call(req).await?.map_err(api)
    }

    /// Send a request that needs the vault unlocked. When the vault is
    /// locked and `CTXVAULT_PASSPHRASE` is set, unlock first.
    pub async fn call_vault<R: Call>(&self, req: R) -> anyhow::Result<R::Answer> {
        self.call_vault_with(req, false).await
    }

    /// [`Ctx::call_vault`] for a request carrying an idempotency key: when
    /// the agent stops before answering, it is started again and the same
    /// request sent once more, which the agent answers from the first
    /// outcome if that one was committed.
    pub async fn call_vault_once<R: Call>(&self, req: R) -> anyhow::Result<R::Answer> {
        self.call_vault_with(req, true).await
    }

    async fn call_vault_with<R: Call>(&self, req: R, retry: bool) -> anyhow::Result<R::Answer> {
        self.require_vault()?;
        let req: Prepared<R> = Client::prepare(req)?;
        let client = self.ensure_agent().await?;
        match self.send_unlocking(&client, &req).await {
            Err(TransportError::Interrupted(why)) if retry => {
                // Alive (the answer was lost on the way) or gone: wait for a
                // dying agent to let go of the vault, then ask again.
                if client.hello().await.is_err() {
                    wait_agent_exit(&self.dir)?;
                }
                let client = self.ensure_agent().await?;
                match self.send_unlocking(&client, &req).await {
                    Err(TransportError::Interrupted(_)) => Err(maybe_saved(&why)),
                    other => other?.map_err(api),
                }
            }
            Err(TransportError::Interrupted(why)) => Err(maybe_saved(&why)),
            other => other?.map_err(api),
        }
    }

    /// Send; when the vault is locked and `CTXVAULT_PASSPHRASE` is set,
    /// unlock and send again.
    async fn send_unlocking<R: Call>(
        &self,
        client: &Client,
        req: &Prepared<R>,
    ) -> Result<Result<R::Answer, ApiError>, TransportError> {
        self.unlocking(client, || client.send_prepared(req)).await
    }

    /// Make a call; when the agent answers that the vault is locked, unlock
    /// with `CTXVAULT_PASSPHRASE`, else the system keyring's passphrase
    /// (`ctxvault keyring on`), else (on a terminal) a passphrase asked for
    /// there (three tries), and make it again.
    async fn unlocking<T, F, Fut>(
        &self,
        client: &Client,
        send: F,
    ) -> Result<Result<T, ApiError>, TransportError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Result<T, ApiError>, TransportError>>,
    {
        match send().await? {
            Err(e) if e.kind == ErrorKind::Locked => {
                // Where a passphrase may come from, in order: the
                // environment, the system keyring, the terminal.
                let mut offered: Vec<(vault_daemon::protocol::Secret, &str)> = Vec::new();
                if let Some(p) = secret::from_env() {
                    offered.push((p, "env"));
                } else if let Some(p) = crate::keyring::passphrase(&self.dir).await {
                    offered.push((p, "keyring"));
                }
                let mut tries = 0;
                loop {
                    let (p, from) = match offered.pop() {
                        Some(o) => o,
                        None if secret::can_prompt() && tries < 3 => {
                            tries += 1;
                            match secret::prompt_locked(tries > 1) {
                                Ok(p) => (p, "terminal"),
                                Err(_) => return Ok(Err(e)),
                            }
                        }
                        None => return Ok(Err(e)),
                    };
                    match client
                        .call(Unlock {
                            with: UnlockWith::Passphrase(p),
                        })
                        .await?
                    {
                        Ok(()) => {
                            self.warn_vault_state().await;
                            return send().await;
                        }
                        Err(u) if u.kind == ErrorKind::WrongPassphrase && from == "keyring" => {
                            eprintln!(
                                "warning: the system keyring's passphrase no longer opens the vault; run `ctxvault keyring on` to store the current one"
                            );
                            if !secret::can_prompt() {
                                return Ok(Err(u));
                            }
                        }
                        Err(u)
                            if u.kind == ErrorKind::WrongPassphrase
                                && from == "terminal"
                                && tries < 3 => {}
                        Err(u) => return Ok(Err(u)),
                    }
                }
            }
            other => Ok(other),
        }
    }

    /// The item an id argument names: a whole id as it is, the start of
    /// one through the agent (which knows every id).
    pub async fn item_id(&self, arg: &ItemId) -> anyhow::Result<Uuid> {
        match arg {
            ItemId::Whole(id) => Ok(*id),
            ItemId::Start(prefix) => {
                self.call_vault(Resolve {
                    prefix: prefix.clone(),
                })
                .await
            }
        }
    }

    /// Show each row's id as its shortest unique start (whole ids stay if
    /// the agent cannot say).
    pub async fn shorten<'a>(&self, rows: impl IntoIterator<Item = &'a mut crate::output::Row>) {
        let mut rows: Vec<&mut crate::output::Row> = rows.into_iter().collect();
        let ids = rows.iter().map(|r| r.id).collect();
        if let Ok(short) = self.call_vault(ShortIds { ids }).await {
            for (r, s) in rows.iter_mut().zip(short) {
                r.shown = s;
            }
        }
    }

    /// Import bundle text (streamed to the agent), unlocking first as
    /// [`Ctx::call_vault`] does. The agent's refusal is given back as it
    /// came, for the caller to name the file.
    pub async fn import(
        &self,
        opts: &Import,
        text: Bytes,
    ) -> anyhow::Result<Result<ImportSummary, ApiError>> {
        self.require_vault()?;
        let client = self.ensure_agent().await?;
        // Unlock (or learn it cannot be) before sending the whole file.
        if let Err(e) = self
            .unlocking(&client, || client.call(ClientList {}))
            .await?
        {
            return Ok(Err(e));
        }
        match self
            .unlocking(&client, || client.import(opts, text.clone()))
            .await
        {
            Err(TransportError::Interrupted(why)) => Err(maybe_saved(&why)),
            other => Ok(other?),
        }
    }

    /// Start an export (streamed from the agent), unlocking first as
    /// [`Ctx::call_vault`] does.
    pub async fn export(&self, req: &Export) -> anyhow::Result<ExportStream> {
        self.require_vault()?;
        let client = self.ensure_agent().await?;
        self.unlocking(&client, || client.export(req))
            .await?
            .map_err(api)
    }
}

/// The error for a change whose outcome cannot be known.
fn maybe_saved(why: &str) -> anyhow::Error {
    anyhow!(
        "the agent stopped before answering ({why}): the change may or may not have been saved; check (for example with `ctxvault ls`) before trying again"
    )
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
    // The agent releases its lock on exit; wait for that, but not forever
    // (it finishes the requests in flight first, an import included).
    let (done, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = f.lock().map(|()| {
            f.unlock().ok();
        });
        let _ = done.send(r);
    });
    match wait.recv_timeout(AGENT_EXIT_WAIT) {
        Ok(r) => r.with_context(|| format!("waiting for the agent to exit ({})", path.display())),
        Err(_) => bail!(
            "the agent did not exit within {} s (it holds {}); look at its log, or end it by the pid in that file",
            AGENT_EXIT_WAIT.as_secs(),
            path.display()
        ),
    }
}

/// Send SIGTERM to the agent holding the vault's lock: the pid its lock
/// file names, once `/proc/locks` shows that very process holding the
/// file's lock (so a stale pid, or another command probing the lock, is
/// never signalled). False when no process holds it.
fn terminate_lock_holder(dir: &Path) -> anyhow::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let path = dir.join(vault_daemon::server::LOCK_FILE);
    let Ok(meta) = std::fs::metadata(&path) else {
        return Ok(false);
    };
    let pid: Option<i32> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| s.trim().parse().ok());
    let locks = std::fs::read_to_string("/proc/locks").unwrap_or_default();
    let holds = |pid: i32| {
        locks.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // "1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234567 0 EOF"
            f.get(1) == Some(&"FLOCK")
                && f.get(4) == Some(&pid.to_string().as_str())
                && f.get(5)
                    .and_then(|d| d.rsplit(':').next())
                    .is_some_and(|ino| ino == meta.ino().to_string())
        })
    };
    match pid {
        Some(pid) if holds(pid) => {
            match nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            ) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(true),
                Err(e) => bail!("cannot stop the agent (pid {pid}): {e}"),
            }
        }
        _ if agent_lock_held(dir) => bail!(
            "an agent of another ctxvault version holds {} and does not answer; stop it by hand (its pid is in that file)",
            path.display()
        ),
        _ => Ok(false),
    }
}
