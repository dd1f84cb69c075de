//! `ctxvault connector`: hosted assistants that connect with OAuth (the
//! agent run with `--http ADDR --public-url URL`). A connector's request
//! waits until approved here, on this machine.

use policies::Scope;
use vault_daemon::protocol as p;

use crate::ctx::Ctx;
use crate::output;

/// Hosted assistants connecting with OAuth: approve, deny, list, revoke.
#[derive(clap::Subcommand)]
pub enum Connector {
    /// Requests waiting for approval (with their codes), and approved
    /// connectors.
    Ls,
    /// Approve the request showing CODE: the connector becomes a client
    /// (named after it, or --name) with these grants.
    Approve {
        /// The code its page shows, such as BCDF-GHJK.
        code: String,
        /// A scope to grant (repeat): `work/**`, `profile`...
        #[arg(long = "grant", value_name = "SCOPE")]
        grants: Vec<Scope>,
        /// The client name for a new connector (default: from its name).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// What each grant allows (as for `ctxvault grant`).
        #[command(flatten)]
        options: super::grant::GrantOptions,
        /// Do not ask (on a terminal, approve asks after showing who waits).
        #[arg(long)]
        yes: bool,
    },
    /// Refuse the request showing CODE.
    Deny {
        /// The code its page shows.
        code: String,
    },
    /// Revoke a connector's tokens, at its next request (its client and
    /// grants remain; `ctxvault client rm NAME` removes them too).
    Revoke {
        /// The client the connector acts as.
        name: String,
    },
}

impl Connector {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        match self {
            Connector::Ls => {
                let r = ctx.call_vault(p::ConnectorList {}).await?;
                if ctx.json {
                    return output::json(&r);
                }
                if r.waiting.is_empty() && r.approved.is_empty() {
                    outln!(
                        "no connectors; a hosted assistant connects to the agent's --public-url, then waits for `ctxvault connector approve CODE --grant SCOPE`"
                    );
                    return Ok(());
                }
                for w in &r.waiting {
                    outln!(
                        "waiting  {}  \"{}\"  back to {}",
                        w.code,
                        output::visible_line(&w.name),
                        output::visible_line(&w.redirect_uri)
                    );
                }
                for c in &r.approved {
                    let tokens = match c.expires {
                        Some(e) => format!(
                            "{} live token(s), refresh until {}",
                            c.live_tokens,
                            e.format("%Y-%m-%d")
                        ),
                        None => "no tokens".to_owned(),
                    };
                    outln!(
                        "{}  \"{}\"  approved {}  {tokens}",
                        c.client,
                        output::visible_line(&c.name),
                        c.approved_at.format("%Y-%m-%d %H:%M")
                    );
                }
                if !r.waiting.is_empty() {
                    outln!();
                    outln!(
                        "approve one with `ctxvault connector approve CODE --grant SCOPE`, refuse it with `ctxvault connector deny CODE`"
                    );
                }
                Ok(())
            }
            Connector::Approve {
                code,
                grants,
                name,
                options,
                yes,
            } => {
                // Say who is approved, before anything is: a code can be
                // passed on by someone else.
                let list = ctx.call_vault(p::ConnectorList {}).await?;
                let norm = |c: &str| {
                    c.chars()
                        .filter(char::is_ascii_alphanumeric)
                        .map(|c| c.to_ascii_uppercase())
                        .collect::<String>()
                };
                let Some(w) = list.waiting.iter().find(|w| norm(&w.code) == norm(&code)) else {
                    anyhow::bail!(
                        "no connector waits for approval with code {code:?}; see `ctxvault connector ls`"
                    );
                };
                let host = w
                    .redirect_uri
                    .split_once("://")
                    .map_or(w.redirect_uri.as_str(), |(_, rest)| {
                        rest.split(['/', '?']).next().unwrap_or(rest)
                    });
                // A metadata document's URL is the one thing here its
                // sender cannot make up; a registration's name is anyone's.
                let who = if w.client_id.starts_with("https://") {
                    format!("described at {}", output::visible_line(&w.client_id))
                } else {
                    "registered here under that name (unverified)".to_owned()
                };
                eprintln!(
                    "\"{}\", {who}, asked {} s ago, to be sent back to {}; approve only the code your own browser shows",
                    output::visible_line(&w.name),
                    w.age_secs,
                    output::visible_line(host)
                );
                if !yes && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                    eprint!("approve it? [y/N] ");
                    let mut answer = String::new();
                    std::io::stdin().read_line(&mut answer)?;
                    if !matches!(answer.trim(), "y" | "Y" | "yes") {
                        anyhow::bail!("not approved; nothing changed");
                    }
                }
                let grants = grants
                    .into_iter()
                    .map(|scope| options.grant(String::new(), scope))
                    .collect();
                let client = ctx
                    .call_vault(p::ConnectorApprove { code, name, grants })
                    .await?;
                output::report(
                    ctx,
                    serde_json::json!({ "client": client }),
                    format!("approved: the connector acts as client {client}"),
                )
            }
            Connector::Deny { code } => {
                ctx.call_vault(p::ConnectorDeny { code }).await?;
                output::report(ctx, serde_json::json!({}), "denied")
            }
            Connector::Revoke { name } => {
                ctx.call_vault(p::ConnectorRevoke {
                    client: name.clone(),
                })
                .await?;
                output::report(
                    ctx,
                    serde_json::json!({ "client": name }),
                    format!("revoked: connector {name}'s tokens stop working at its next request"),
                )
            }
        }
    }
}
