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
        /// The public URL a tunnel you run forwards to ADDR (such as
        /// https://vault.example.ts.net): its host is accepted, and hosted
        /// assistants can connect with OAuth (`ctxvault connector`).
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
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
            Http::On {
                addr,
                allow_remote,
                public_url,
            } => {
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
                let open = Some(p::HttpOpen {
                    addr,
                    allow_remote,
                    public_url,
                });
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
