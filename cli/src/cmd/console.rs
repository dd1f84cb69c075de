//! `ctxvault console`: the web console, served by the agent on this
//! machine, opened in the browser with a one-time login link.

use std::net::SocketAddr;

use vault_daemon::protocol as p;

use crate::ctx::Ctx;
use crate::output;

/// Open the web console: clients, grants, the audit trail and approvals in
/// your browser. The agent serves it on a loopback port to your user only;
/// the link printed or opened logs in once, within two minutes.
#[derive(clap::Args)]
pub struct ConsoleCmd {
    /// Serve it at ADDR, a loopback address such as 127.0.0.1:7412
    /// (default: where it is served already, else a free port).
    #[arg(long, value_name = "ADDR")]
    addr: Option<SocketAddr>,
    /// Print the login link instead of opening a browser.
    #[arg(long)]
    no_browser: bool,
}

/// The command that opens a URL in the desktop's browser, when there is a
/// desktop.
fn opener() -> Option<&'static str> {
    if cfg!(target_os = "macos") {
        return Some("open");
    }
    let desktop = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
    desktop.then_some("xdg-open")
}

impl ConsoleCmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        ctx.require_vault()?;
        if let Some(a) = self.addr
            && !a.ip().is_loopback()
        {
            anyhow::bail!(
                "{a} is not a loopback address: the console is served on this machine only; use 127.0.0.1:PORT"
            );
        }
        let link = ctx.call(p::Console { addr: self.addr }).await?;
        if ctx.json {
            return output::json(&link);
        }
        let minutes = link.expires_secs.div_ceil(60);
        if !self.no_browser
            && let Some(cmd) = opener()
        {
            let opened = std::process::Command::new(cmd)
                .arg(&link.login)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if opened {
                outln!(
                    "opened the console ({}) in your browser; if nothing opened, run `ctxvault console --no-browser` for a link",
                    link.url
                );
                return Ok(());
            }
        }
        outln!(
            "The console is at {}. Log in with this link (it works once, within {minutes} minutes):",
            link.url
        );
        outln!();
        outln!("    {}", link.login);
        outln!();
        outln!(
            "The session ends after 15 idle minutes and when the vault locks; run `ctxvault console` again for a new link."
        );
        Ok(())
    }
}
