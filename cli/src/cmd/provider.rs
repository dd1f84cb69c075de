//! `ctxvault provider add|ls|rm|set-default|route`: the model providers the
//! proxy forwards to, and which one each client reaches.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, bail};
use vault_core::records::{ContextMode, ProviderKind};
use vault_daemon::protocol::{self as p, Secret};

use crate::ctx::Ctx;
use crate::output;

/// The model providers the proxy (`daemon --proxy`) forwards to. Keys are
/// kept sealed in the vault and never printed; `ls` shows their last four
/// characters.
#[derive(clap::Subcommand)]
pub enum Provider {
    /// Add a provider (the first one becomes the default).
    Add {
        /// A name such as openai, anthropic, openrouter or local.
        name: String,
        /// The API it speaks: openai (also OpenRouter, llama.cpp, vLLM,
        /// Mistral...), anthropic or ollama.
        #[arg(long)]
        kind: ProviderKind,
        /// Its base URL, such as https://api.openai.com/v1,
        /// https://api.anthropic.com or http://127.0.0.1:11434.
        #[arg(long)]
        url: String,
        /// Read its API key from one line of standard input.
        #[arg(long, conflicts_with = "key_env")]
        key_stdin: bool,
        /// Read its API key from this environment variable.
        #[arg(long, value_name = "VAR")]
        key_env: Option<String>,
        /// Replace a provider of the same name.
        #[arg(long)]
        replace: bool,
        /// local (runs on this machine) or cloud; default: local for a
        /// loopback URL, cloud otherwise. Grants with --provider-class
        /// decide by it.
        #[arg(long, value_name = "CLASS")]
        class: Option<policies::ProviderClass>,
    },
    /// List providers and the clients routed to each.
    Ls,
    /// Remove a provider; clients routed to it go to the default.
    Rm {
        /// The provider's name.
        name: String,
    },
    /// Make a provider the default for clients without a route.
    SetDefault {
        /// The provider's name.
        name: String,
    },
    /// Route a client to a provider (`default`: back to the default), and
    /// set what its requests carry.
    Route {
        /// The client's name.
        client: String,
        /// The provider's name, or `default`.
        provider: Option<String>,
        /// What its requests carry: full (profile and matches), profile, off.
        #[arg(long)]
        context: Option<ContextMode>,
        /// While the vault is locked, refuse its requests (on) or forward
        /// them without context (off, the default).
        #[arg(long, value_name = "on|off", value_parser = on_off)]
        fail_closed: Option<bool>,
    },
}

fn on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("{s:?}: use on or off")),
    }
}

/// The key, from standard input or an environment variable.
fn read_key(stdin: bool, env: Option<&str>) -> anyhow::Result<Option<Secret>> {
    if let Some(var) = env {
        let key = std::env::var(var)
            .ok()
            .filter(|k| !k.trim().is_empty())
            .with_context(|| {
                format!("{var} is not set or empty: export the API key in it, or use --key-stdin")
            })?;
        return Ok(Some(Secret::new(key)));
    }
    if !stdin {
        return Ok(None);
    }
    if std::io::stdin().is_terminal() {
        let key = Secret::new(
            rpassword::prompt_password("API key: ")
                .context("cannot read the API key from the terminal")?
                .trim()
                .to_owned(),
        );
        if key.expose_secret().is_empty() {
            bail!("no API key given: paste it at the prompt, or use --key-env VAR");
        }
        return Ok(Some(key));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the API key from standard input")?;
    let key = Secret::new(line.trim().to_owned());
    zeroize::Zeroize::zeroize(&mut line);
    if key.expose_secret().is_empty() {
        bail!(
            "no API key on standard input: pipe it in, such as `printenv OPENAI_API_KEY | ctxvault provider add ...`"
        );
    }
    Ok(Some(key))
}

impl Provider {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        match self {
            Provider::Add {
                name,
                kind,
                url,
                key_stdin,
                key_env,
                replace,
                class,
            } => {
                let key = read_key(key_stdin, key_env.as_deref())?;
                let with_key = key.is_some();
                ctx.call_vault(p::ProviderAdd {
                    name: name.clone(),
                    kind,
                    url,
                    key,
                    replace,
                    class,
                })
                .await?;
                output::report(
                    ctx,
                    serde_json::json!({ "added": name, "kind": kind, "key": with_key }),
                    format!(
                        "provider {name} ({kind}) added{}; route a client to it with `ctxvault provider route CLIENT {name}`",
                        if with_key {
                            ", its key sealed in the vault"
                        } else {
                            ", without a key"
                        }
                    ),
                )
            }
            Provider::Ls => {
                let list = ctx.call_vault(p::ProviderList {}).await?;
                if ctx.json {
                    return output::json(&list);
                }
                if list.is_empty() {
                    outln!(
                        "no providers yet: add one with `ctxvault provider add NAME --kind openai|anthropic|ollama --url URL --key-stdin`"
                    );
                }
                for p in list {
                    outln!(
                        "{:<16} {:<9} {:<5} {}  key {}{}{}",
                        p.name,
                        p.kind,
                        p.class,
                        p.url,
                        p.key_hint.as_deref().unwrap_or("none"),
                        if p.default { "  (default)" } else { "" },
                        if p.clients.is_empty() {
                            String::new()
                        } else {
                            format!("  clients: {}", p.clients.join(", "))
                        }
                    );
                }
                Ok(())
            }
            Provider::Rm { name } => {
                ctx.call_vault(p::ProviderRemove { name: name.clone() })
                    .await?;
                output::report(
                    ctx,
                    serde_json::json!({ "removed": name }),
                    format!(
                        "removed provider {name} and its key; clients routed to it now use the default"
                    ),
                )
            }
            Provider::SetDefault { name } => {
                ctx.call_vault(p::ProviderDefault { name: name.clone() })
                    .await?;
                output::report(
                    ctx,
                    serde_json::json!({ "default": name }),
                    format!("provider {name} is now the default"),
                )
            }
            Provider::Route {
                client,
                provider,
                context,
                fail_closed,
            } => {
                let provider = provider.map(|p| (p != "default").then_some(p));
                let r = ctx
                    .call_vault(p::ProviderRoute {
                        client,
                        provider,
                        context,
                        fail_closed,
                    })
                    .await?;
                if ctx.json {
                    return output::json(&r);
                }
                let to = match (&r.provider, r.by_default) {
                    (Some(p), false) => format!("provider {p}"),
                    (Some(p), true) => format!("the default provider ({p})"),
                    (None, _) => {
                        "no provider yet (add one with `ctxvault provider add`)".to_owned()
                    }
                };
                outln!(
                    "client {} goes to {to} with {} context; while locked its requests are {}",
                    r.client,
                    r.context,
                    if r.fail_closed {
                        "refused"
                    } else {
                        "forwarded without context"
                    }
                );
                Ok(())
            }
        }
    }
}
