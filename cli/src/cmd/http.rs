//! `ctxvault http`: open and close MCP over HTTP in the running agent.

use std::net::SocketAddr;

use vault_daemon::protocol as p;

use crate::ctx::Ctx;
use crate::output;

/// Where `http on` serves when given no address and config.toml has none.
const DEFAULT_ADDR: &str = "127.0.0.1:7410";

/// Open or close MCP over HTTP in the running agent: no restart, so the
/// vault stays as it is (unlocked or locked). For every agent start, put
/// `http = "ADDR"` in config.toml.
#[derive(clap::Subcommand)]
pub enum Http {
    /// Serve MCP over HTTP at http://ADDR/mcp (ADDR: the argument, else
    /// config.toml's http, else 127.0.0.1:7410; port 0 picks a free one).
    On {
        /// The address, such as 127.0.0.1:7410.
        addr: Option<SocketAddr>,
        /// Allow a non-loopback address (reachable from other machines).
        #[arg(long)]
        allow_remote: bool,
    },
    /// Stop serving MCP over HTTP; its open sessions end.
    Off,
    /// Say whether and where MCP over HTTP is served.
    Status,
}

impl Http {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        ctx.require_vault()?;
        let url = match self {
            Http::On { addr, allow_remote } => {
                // config.toml's allow_remote covers only its own address.
                let from_config = addr.is_none() && ctx.config.http.is_some();
                let addr = match addr.or(ctx.config.http) {
                    Some(a) => a,
                    None => DEFAULT_ADDR.parse()?,
                };
                let allow_remote = allow_remote || (from_config && ctx.config.allow_remote);
                if allow_remote && !addr.ip().is_loopback() {
                    eprintln!(
                        "warning: MCP over HTTP on a non-loopback address is reachable from other machines, in plain HTTP; only a client token stands between them and your grants"
                    );
                }
                let open = Some(p::HttpOpen { addr, allow_remote });
                ctx.call(p::Http { open }).await?
            }
            Http::Off => {
                let was = ctx
                    .try_call(p::StatusQuery {})
                    .await?
                    .and_then(|s| s.ok())
                    .and_then(|s| s.http);
                if was.is_some() {
                    ctx.call(p::Http { open: None }).await?;
                }
                if ctx.json {
                    return output::json(&serde_json::json!({ "url": null, "was": was }));
                }
                match was {
                    Some(u) => outln!("MCP over HTTP closed (it was at {u})"),
                    None => outln!("MCP over HTTP was not served"),
                }
                return Ok(());
            }
            Http::Status => ctx
                .try_call(p::StatusQuery {})
                .await?
                .and_then(|s| s.ok())
                .and_then(|s| s.http),
        };
        if ctx.json {
            return output::json(&serde_json::json!({ "url": url }));
        }
        match url {
            Some(u) => {
                outln!("MCP over HTTP at {u}");
                if ctx.config.http.is_none() {
                    outln!(
                        "(until the agent stops; `http = \"{}\"` in {} serves it at every start)",
                        u.trim_start_matches("http://").trim_end_matches("/mcp"),
                        crate::config::candidates(&ctx.dir)[0].display()
                    );
                }
            }
            None => outln!("MCP over HTTP is not served; `ctxvault http on` serves it"),
        }
        Ok(())
    }
}

/// Show the settings in force and the file they come from.
#[derive(clap::Args)]
pub struct ConfigCmd {}

impl ConfigCmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let c = &ctx.config;
        let lock_after = c.lock_after.map(|d| {
            if d.is_zero() {
                "0".to_owned()
            } else {
                humantime::format_duration(d).to_string()
            }
        });
        if ctx.json {
            return output::json(&serde_json::json!({
                "file": c.path.as_ref().map(|p| p.display().to_string()),
                "looked_in": crate::config::candidates(&ctx.dir),
                "http": c.http,
                "allow_remote": c.allow_remote,
                "lock_after": lock_after,
                "output": if c.output == crate::config::Output::Json { "json" } else { "text" },
                "notify": c.notify.unwrap_or(true),
            }));
        }
        match &c.path {
            Some(p) => outln!("# from {}", p.display()),
            None => {
                let places: Vec<String> = crate::config::candidates(&ctx.dir)
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                outln!(
                    "# no config file (looked for {}); the defaults:",
                    places.join(", ")
                );
            }
        }
        match c.http {
            Some(a) => outln!("http = \"{a}\""),
            None => outln!("# http: not served at start (`ctxvault http on` opens it)"),
        }
        outln!("allow_remote = {}", c.allow_remote);
        outln!(
            "lock_after = \"{}\"",
            lock_after.unwrap_or_else(|| "30m".to_owned())
        );
        outln!(
            "output = \"{}\"",
            if c.output == crate::config::Output::Json {
                "json"
            } else {
                "text"
            }
        );
        outln!("notify = {}", c.notify.unwrap_or(true));
        Ok(())
    }
}
