//! `ctxvault service`: run the agent at login, as a systemd user unit
//! (Linux) or a launchd agent (macOS).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, anyhow, bail};

use crate::ctx::Ctx;

/// The service managers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// A systemd user unit, ~/.config/systemd/user/ctxvault.service.
    Systemd,
    /// A launchd agent, ~/Library/LaunchAgents/org.ctxvault.agent.plist.
    Launchd,
}

/// Run the agent at login.
#[derive(clap::Subcommand)]
pub enum Service {
    /// Write the unit (or plist) that starts `ctxvault daemon` for this
    /// vault at login, and enable it. The agent starts locked: unlock it
    /// with `ctxvault unlock` (or any command that needs the vault, in a
    /// terminal).
    Install {
        /// The service manager (default: launchd on macOS, else systemd).
        #[arg(long, value_enum)]
        kind: Option<Kind>,
        /// Only write the file; do not run systemctl or launchctl.
        #[arg(long)]
        no_enable: bool,
    },
    /// Disable the service and remove its file.
    Uninstall {
        /// The service manager (default: launchd on macOS, else systemd).
        #[arg(long, value_enum)]
        kind: Option<Kind>,
        /// Only remove the file; do not run systemctl or launchctl.
        #[arg(long)]
        no_enable: bool,
    },
}

const UNIT: &str = "ctxvault.service";
const LABEL: &str = "org.ctxvault.agent";

fn default_kind(kind: Option<Kind>) -> Kind {
    kind.unwrap_or(if cfg!(target_os = "macos") {
        Kind::Launchd
    } else {
        Kind::Systemd
    })
}

/// Where the file goes.
fn path_of(kind: Kind) -> anyhow::Result<PathBuf> {
    let dirs =
        directories::BaseDirs::new().ok_or_else(|| anyhow!("no home directory: set HOME"))?;
    Ok(match kind {
        // config_dir honours XDG_CONFIG_HOME.
        Kind::Systemd => dirs.config_dir().join("systemd/user").join(UNIT),
        Kind::Launchd => dirs
            .home_dir()
            .join("Library/LaunchAgents")
            .join(format!("{LABEL}.plist")),
    })
}

/// A word of a systemd command line, quoted, with `%` and `\` escaped.
fn systemd_word(s: &str) -> String {
    let e = s
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%")
        .replace('$', "$$");
    format!("\"{e}\"")
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The file's text: the agent in the foreground for this vault.
pub fn render(kind: Kind, exe: &Path, vault: &Path) -> anyhow::Result<String> {
    let utf8 = |p: &Path| {
        p.to_str().map(str::to_owned).ok_or_else(|| {
            anyhow!(
                "{} is not UTF-8; the service file cannot name it",
                p.display()
            )
        })
    };
    let (exe, vault) = (utf8(exe)?, utf8(vault)?);
    for p in [&exe, &vault] {
        if p.chars().any(char::is_control) {
            bail!(
                "{p:?} holds a control character (a newline?); a service file cannot name it safely"
            );
        }
    }
    Ok(match kind {
        Kind::Systemd => format!(
            "# Written by `ctxvault service install`; `ctxvault service uninstall` removes it.\n\
             [Unit]\n\
             Description=ctxvault agent for the vault at {}\n\
             Documentation=man:ctxvault(1)\n\
             \n\
             [Service]\n\
             Type=simple\n\
             ExecStart={} --vault {} daemon --unlock-from-keyring\n\
             Restart=on-failure\n\
             \n\
             [Install]\n\
             WantedBy=default.target\n",
            vault.replace('%', "%%"),
            systemd_word(&exe),
            systemd_word(&vault)
        ),
        Kind::Launchd => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
             <plist version=\"1.0\">\n\
             <dict>\n\
             \x20 <key>Label</key>\n\
             \x20 <string>{LABEL}</string>\n\
             \x20 <key>ProgramArguments</key>\n\
             \x20 <array>\n\
             \x20   <string>{}</string>\n\
             \x20   <string>--vault</string>\n\
             \x20   <string>{}</string>\n\
             \x20   <string>daemon</string>\n\
             \x20   <string>--unlock-from-keyring</string>\n\
             \x20 </array>\n\
             \x20 <key>RunAtLoad</key>\n\
             \x20 <true/>\n\
             \x20 <key>KeepAlive</key>\n\
             \x20 <dict>\n\
             \x20   <key>SuccessfulExit</key>\n\
             \x20   <false/>\n\
             \x20 </dict>\n\
             </dict>\n\
             </plist>\n",
            xml(&exe),
            xml(&vault)
        ),
    })
}

/// Run a service manager command; its failure as one line.
fn run(program: &str, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {program}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!(
            "`{program} {}` failed: {}",
            args.join(" "),
            err.lines().next().unwrap_or("no message")
        );
    }
    Ok(())
}

impl Service {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        match self {
            Service::Install { kind, no_enable } => {
                ctx.require_vault()?;
                let kind = default_kind(kind);
                let exe =
                    std::env::current_exe().context("cannot tell where this ctxvault binary is")?;
                let text = render(kind, &exe, &ctx.dir)?;
                let path = path_of(kind)?;
                match std::fs::read_to_string(&path) {
                    Ok(old) if old == text => {}
                    Ok(_) => bail!(
                        "{} exists and starts another binary or vault; run `ctxvault service uninstall` first",
                        path.display()
                    ),
                    Err(_) => {
                        if let Some(d) = path.parent() {
                            std::fs::create_dir_all(d)
                                .with_context(|| format!("cannot create {}", d.display()))?;
                        }
                        std::fs::write(&path, &text)
                            .with_context(|| format!("cannot write {}", path.display()))?;
                    }
                }
                let running = ctx.agent_running();
                let started = if no_enable {
                    false
                } else {
                    enable(kind, &path, running)?;
                    !running
                };
                if ctx.json {
                    return crate::output::json(&serde_json::json!({
                        "path": path.display().to_string(),
                        "kind": format!("{kind:?}").to_lowercase(),
                        "enabled": !no_enable,
                        "started": started,
                    }));
                }
                outln!("wrote {}", path.display());
                match (no_enable, running, kind) {
                    (true, _, Kind::Systemd) => outln!(
                        "enable it with `systemctl --user daemon-reload && systemctl --user enable --now {UNIT}`"
                    ),
                    (true, _, Kind::Launchd) => {
                        outln!("enable it with `launchctl load -w {}`", path.display())
                    }
                    (false, true, _) => outln!(
                        "enabled: it starts the agent at your next login (an agent runs now, so it was not started twice)"
                    ),
                    (false, false, _) => {
                        outln!(
                            "enabled and started: the agent now runs at login, locked until you unlock it"
                        )
                    }
                }
                Ok(())
            }
            Service::Uninstall { kind, no_enable } => {
                let kind = default_kind(kind);
                let path = path_of(kind)?;
                if !path.exists() {
                    bail!("{} does not exist: no service to remove", path.display());
                }
                if !no_enable {
                    match kind {
                        Kind::Systemd => run("systemctl", &["--user", "disable", UNIT])?,
                        Kind::Launchd => {
                            run("launchctl", &["unload", "-w", &path.to_string_lossy()])?
                        }
                    }
                }
                std::fs::remove_file(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
                crate::output::report(
                    ctx,
                    serde_json::json!({ "removed": path.display().to_string() }),
                    format!(
                        "removed {} (a running agent keeps running until `ctxvault stop`)",
                        path.display()
                    ),
                )
            }
        }
    }
}

/// Enable the service; start it too unless an agent already runs (a second
/// one would find the vault's lock held).
fn enable(kind: Kind, path: &Path, running: bool) -> anyhow::Result<()> {
    match kind {
        Kind::Systemd => {
            run("systemctl", &["--user", "daemon-reload"])?;
            let mut args = vec!["--user", "enable"];
            if !running {
                args.push("--now");
            }
            args.push(UNIT);
            run("systemctl", &args)
        }
        Kind::Launchd => {
            if running {
                // launchd starts a loaded agent at once (RunAtLoad); leave
                // it for the next login.
                return Ok(());
            }
            run("launchctl", &["load", "-w", &path.to_string_lossy()])
        }
    }
}
