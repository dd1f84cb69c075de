//! `ctxvault daemon`: the agent in the foreground.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use vault_daemon::server::{self, DaemonConfig, DaemonError};
use vault_daemon::{harden, paths};

/// Run the agent in the foreground (other commands start it in the background).
#[derive(clap::Args)]
pub struct Daemon {
    /// Lock the vault after this much idle time (e.g. 30m, 2h; 0 disables;
    /// default: config.toml's lock_after, else 30m).
    #[arg(long, value_name = "DURATION", env = "CTXVAULT_LOCK_AFTER", value_parser = crate::config::parse_duration)]
    lock_after: Option<Duration>,
    /// Also serve MCP over streamable HTTP at http://ADDR/mcp (such as
    /// 127.0.0.1:7410; port 0 picks a free port; default: config.toml's
    /// http). Clients send their token as `Authorization: Bearer`. `ctxvault
    /// http on|off` opens and closes it in a running agent.
    #[arg(long, value_name = "ADDR", env = "CTXVAULT_HTTP")]
    http: Option<std::net::SocketAddr>,
    /// The public URL a tunnel you run (Tailscale Funnel, cloudflared...)
    /// forwards to --http's address, such as https://vault.example.ts.net:
    /// its host is accepted, and hosted assistants can connect with OAuth
    /// (approve them with `ctxvault connector approve`).
    #[arg(long, value_name = "URL", env = "CTXVAULT_PUBLIC_URL", requires = "http", value_parser = |s: &str| vault_daemon::http::PublicUrl::parse(s))]
    public_url: Option<vault_daemon::http::PublicUrl>,
    /// Also serve the provider proxy at http://ADDR (such as 127.0.0.1:7411;
    /// default: config.toml's proxy): the OpenAI, Anthropic and Ollama APIs,
    /// forwarded to your providers with your context (`ctxvault provider`).
    #[arg(long, value_name = "ADDR", env = "CTXVAULT_PROXY")]
    proxy: Option<std::net::SocketAddr>,
    /// Audited reads one client may make at once before it is slowed down.
    #[arg(long, value_name = "N", env = "CTXVAULT_READ_BURST",
          default_value_t = vault_daemon::throttle::DEFAULT_READ_BURST,
          value_parser = clap::value_parser!(u32).range(1..))]
    read_burst: u32,
    /// Audited reads a second a client's allowance refills with.
    #[arg(long, value_name = "N", env = "CTXVAULT_READ_RATE",
          default_value_t = vault_daemon::throttle::DEFAULT_READ_RATE,
          value_parser = clap::value_parser!(u32).range(1..))]
    read_rate: u32,
    /// Allow --http or --proxy on a non-loopback address (reachable from
    /// other machines).
    #[arg(long)]
    allow_remote: bool,
    /// Unlock at start with the passphrase the system keyring holds (after
    /// `ctxvault keyring on`); `service install` runs the agent so at
    /// login. An agent started any other way (by a command, or by an AI
    /// app's `ctxvault mcp`) starts locked.
    #[arg(long)]
    unlock_from_keyring: bool,
    /// Print one line on stdout when ready ("ready"), for the CLI that spawned us.
    #[arg(long, hide = true)]
    notify_ready: bool,
}

impl Daemon {
    pub fn run(self, vault_dir: PathBuf, config: &crate::config::Config) -> ExitCode {
        drop_secret_env();
        harden::harden_process();
        init_logging();
        let rt = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => return self.fail(&format!("cannot start the async runtime: {e}"), false),
        };
        // Flags and environment first, then config.toml.
        let lock_after = self
            .lock_after
            .or(config.lock_after)
            .unwrap_or(Duration::from_secs(30 * 60));
        // --allow-remote covers the addresses given with it; config.toml's
        // allow_remote covers config.toml's own.
        let allow = |flag: bool| {
            if flag {
                self.allow_remote
            } else {
                config.allow_remote
            }
        };
        let (http, http_remote) = (self.http.or(config.http), allow(self.http.is_some()));
        let (proxy, proxy_remote) = (self.proxy.or(config.proxy), allow(self.proxy.is_some()));
        let allow_remote = http_remote || proxy_remote;
        let config = DaemonConfig {
            vault_dir,
            runtime_dir: paths::runtime_dir(),
            lock_after: (!lock_after.is_zero()).then_some(lock_after),
            http: http.map(|addr| server::HttpConfig {
                addr,
                allow_remote: http_remote,
                public_url: self.public_url.clone(),
            }),
            proxy: proxy.map(|addr| server::HttpConfig {
                addr,
                allow_remote: proxy_remote,
                public_url: None,
            }),
            notify: config.notify.unwrap_or(true),
            read_burst: self.read_burst,
            read_rate: self.read_rate,
        };
        if allow_remote
            && [http, proxy]
                .iter()
                .any(|a| a.is_some_and(|a| !a.ip().is_loopback()))
        {
            eprintln!(
                "warning: a door on a non-loopback address is reachable from other machines, in plain HTTP; only a client token stands between them and your grants"
            );
        }
        let vault_dir = config.vault_dir.clone();
        rt.block_on(async {
            let bound = match server::bind(config) {
                Ok(b) => b,
                Err(e) => {
                    return self.fail(&e.to_string(), matches!(e, DaemonError::AlreadyRunning(_)));
                }
            };
            tracing::info!(socket = %bound.socket().display(), "agent listening");
            if let Some(url) = bound.http_url() {
                tracing::info!(%url, "MCP over HTTP");
                eprintln!("ctxvault MCP endpoint at {url}");
            }
            if let Some(url) = bound.proxy_url() {
                eprintln!("ctxvault provider proxy at {url}");
            }
            let socket = bound.socket().to_owned();
            let serving = tokio::spawn(bound.serve());
            // With `ctxvault keyring on`, unlock now (at login, when a
            // service manager starts the agent), before saying ready.
            if self.unlock_from_keyring {
                unlock_from_keyring(&vault_dir, &socket).await;
            }
            if self.notify_ready {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "ready");
                let _ = out.flush();
            } else {
                eprintln!("ctxvault agent listening on {}", socket.display());
            }
            match serving.await {
                Ok(Ok(())) => ExitCode::SUCCESS,
                Ok(Err(e)) => {
                    tracing::error!("agent failed: {e}");
                    ExitCode::FAILURE
                }
                Err(e) => {
                    tracing::error!("agent failed: {e}");
                    ExitCode::FAILURE
                }
            }
        })
    }

    fn fail(&self, msg: &str, busy: bool) -> ExitCode {
        if self.notify_ready {
            outln!(
                "{}",
                if busy {
                    "busy".to_owned()
                } else {
                    format!("error: {msg}")
                }
            );
        }
        eprintln!("error: {msg}");
        ExitCode::FAILURE
    }
}

/// Unlock the agent at `socket` with the passphrase the system keyring
/// holds for the vault, if it holds one; failures are logged, not fatal
/// (the vault stays locked, as without a keyring).
async fn unlock_from_keyring(vault_dir: &std::path::Path, socket: &std::path::Path) {
    let Some(pass) = crate::keyring::passphrase(vault_dir).await else {
        return;
    };
    let client = vault_daemon::client::Client::new(socket.to_owned());
    let with = vault_daemon::protocol::UnlockWith::Passphrase(pass);
    match client.call(vault_daemon::protocol::Unlock { with }).await {
        Ok(Ok(())) => tracing::info!("vault unlocked from the system keyring"),
        Ok(Err(e)) => tracing::warn!(
            "the system keyring's passphrase did not unlock the vault: {}; run `ctxvault keyring on` again",
            e.message
        ),
        Err(e) => tracing::warn!("cannot unlock from the system keyring: {e}"),
    }
}

/// Log to stderr at `CTXVAULT_LOG` (default `info`). Whatever the level,
/// other crates log at most `info`: below it, the MCP SDK and the HTTP and
/// database layers write messages, queries and item text, and no log level
/// may write the user's context. ctxvault's own debug events carry none.
fn init_logging() {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    const OURS: [&str; 6] = [
        "ctxvault",
        "vault_daemon",
        "vault_core",
        "mcp_server",
        "client_view",
        "policies",
    ];
    let env = tracing_subscriber::EnvFilter::try_from_env("CTXVAULT_LOG")
        .unwrap_or_else(|_| "info".into());
    let no_context = tracing_subscriber::filter::filter_fn(|meta| {
        *meta.level() <= tracing::Level::INFO
            || OURS
                .iter()
                .any(|c| meta.target() == *c || meta.target().starts_with(&format!("{c}::")))
    });
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(env)
        .with_filter(no_context);
    tracing_subscriber::registry().with(fmt).init();
}

/// Secrets the agent never needs; its environment stays readable (in
/// `/proc/PID/environ`) for its whole life.
const SECRET_ENV: [&str; 4] = [
    "CTXVAULT_PASSPHRASE",
    "CTXVAULT_TOKEN",
    "CTXVAULT_TOKEN_FILE",
    "CTXVAULT_BUNDLE_PASSPHRASE",
];

/// A daemon started with a secret in its environment (by hand, or by a
/// service manager) executes itself again without it, so no copy stays in
/// the process. If that fails it goes on, with a warning.
fn drop_secret_env() {
    use std::os::unix::process::CommandExt;
    if !SECRET_ENV.iter().any(|k| std::env::var_os(k).is_some()) {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        eprintln!(
            "warning: the agent keeps a secret from its environment: cannot find its executable"
        );
        return;
    };
    let mut cmd = std::process::Command::new(exe);
    cmd.args(std::env::args_os().skip(1));
    for k in SECRET_ENV {
        cmd.env_remove(k);
    }
    let e = cmd.exec();
    eprintln!(
        "warning: the agent keeps a secret from its environment: cannot restart without it: {e}"
    );
}
