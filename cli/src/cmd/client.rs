//! `ctxvault client add|ls|rm|rotate`.

use std::path::Path;

use anyhow::Context;
use vault_daemon::protocol as p;

use crate::ctx::Ctx;
use crate::output;
use crate::setup::{PrintSetup, Setup};

/// Manage the AI clients that may read from the vault.
#[derive(clap::Subcommand)]
pub enum Client {
    /// Register a client and print its token (shown once).
    Add {
        /// A name such as claude-desktop, cursor or ollama.
        name: String,
        /// Write the token to FILE (0600) instead of printing it; the
        /// setup lines then read it from there (`ctxvault mcp --token-file`).
        #[arg(long, value_name = "FILE")]
        token_file: Option<std::path::PathBuf>,
        /// The model provider behind the app (anthropic, openai, ollama,
        /// or one added with `ctxvault provider add`); grants limited to
        /// providers judge its reads by it. Undeclared counts as cloud.
        #[arg(long, value_name = "PROVIDER")]
        provider: Option<String>,
    },
    /// List clients.
    Ls,
    /// Remove a client with its token, grants and deny rules.
    Rm {
        /// The client's name.
        name: String,
    },
    /// Give a client a new token; the old one stops working at once.
    Rotate {
        /// The client's name.
        name: String,
        /// Write the new token to FILE (0600) instead of printing it.
        #[arg(long, value_name = "FILE")]
        token_file: Option<std::path::PathBuf>,
    },
    /// Write ctxvault's entry into an app's MCP configuration (Claude
    /// Desktop, Claude Code, Cursor, VS Code), the token kept in a file.
    Setup(super::client_setup::SetupCmd),
    /// Build a Claude Desktop extension (.mcpb) that connects it as this
    /// client; Claude Desktop asks for the token and keeps it in the
    /// system's keychain.
    Bundle(super::mcpb::Bundle),
}

/// Print a new token and the setup snippets that carry it.
async fn print_token(
    ctx: &Ctx,
    name: &str,
    token: &str,
    verb: &str,
    token_file: Option<&Path>,
) -> anyhow::Result<()> {
    // The agent's HTTP endpoint and proxy, if it serves them.
    let status = ctx.call(p::StatusQuery {}).await.ok();
    let proxy = status
        .as_ref()
        .and_then(|s| s.proxy.clone())
        .unwrap_or_else(|| "http://127.0.0.1:7411".to_owned());
    let url = status.and_then(|s| s.http);
    let proxy_setup = serde_json::json!({
        "openai_base_url": format!("{proxy}/v1"),
        "anthropic_base_url": proxy,
        "ollama_host": proxy,
    });
    let http_running = url.is_some();
    let json = ctx.json;
    let mut setup = Setup::new(name, token, &ctx.dir, url);
    if let Some(file) = token_file {
        write_token(file, token)?;
        setup = setup.with_token_file(file);
        if json {
            return output::json(&serde_json::json!({
                "name": name,
                "token_file": setup.token_file,
                "setup": setup.snippets(),
                "proxy": proxy_setup,
            }));
        }
        outln!(
            "client {name} {verb}. Its token is in {} (readable only by you); the lines below read it from there.",
            file.display()
        );
        outln!("`ctxvault client rotate {name}` replaces it.");
        outln!();
        setup.print(http_running);
        print_proxy(&proxy);
        return Ok(());
    }
    if json {
        return output::json(&serde_json::json!({
            "name": name,
            "token": token,
            "setup": setup.snippets(),
            "proxy": proxy_setup,
        }));
    }
    outln!("client {name} {verb}. Its token, shown only this once:");
    outln!();
    outln!("    {token}");
    outln!();
    outln!("The agent knows the client by it, applies its grants and records each of its calls.");
    outln!("Keep it secret; `ctxvault client rotate {name}` replaces it.");
    outln!();
    outln!("Connect an app as {name} (its configuration reads a token file, never this token):");
    outln!("    ctxvault client setup {name} --for claude-desktop|claude-code|cursor|vscode");
    outln!("    ctxvault client bundle {name}          # a Claude Desktop extension (.mcpb)");
    outln!(
        "    ctxvault client setup {name} --for cursor --print   # the entries, to paste by hand"
    );
    outln!("Over HTTP (`ctxvault http on`), an app sends it as `Authorization: Bearer TOKEN`.");
    print_proxy(&proxy);
    Ok(())
}

/// How an app reaches its providers through the proxy with this token.
fn print_proxy(proxy: &str) {
    outln!();
    outln!(
        "Through the provider proxy (`ctxvault daemon --proxy ADDR`, or proxy = in config.toml), the token is the API key:"
    );
    outln!(
        "    OpenAI SDKs, Open WebUI: base URL {proxy}/v1   (OPENAI_BASE_URL, OPENAI_API_KEY=TOKEN)"
    );
    outln!(
        "    Anthropic SDKs:          base URL {proxy}      (ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY=TOKEN)"
    );
    outln!("    Ollama clients:          host {proxy}, header Authorization: Bearer TOKEN");
    outln!("Choose the provider with `ctxvault provider route NAME PROVIDER`.");
}

impl Client {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        match self {
            Client::Add {
                name,
                token_file,
                provider,
            } => {
                let t = ctx.call_vault(p::ClientAdd { name, provider }).await?;
                print_token(ctx, &t.name, &t.token, "added", token_file.as_deref()).await
            }
            Client::Rotate { name, token_file } => {
                let t = ctx.call_vault(p::ClientRotate { name }).await?;
                print_token(
                    ctx,
                    &t.name,
                    &t.token,
                    "has a new token",
                    token_file.as_deref(),
                )
                .await
            }
            Client::Rm { name } => {
                ctx.call_vault(p::ClientRemove { name: name.clone() })
                    .await?;
                output::report(
                    ctx,
                    serde_json::json!({ "removed": name }),
                    format!("removed client {name} with its token, grants and deny rules"),
                )
            }
            Client::Setup(c) => c.run(ctx).await,
            Client::Bundle(c) => c.run(ctx).await,
            Client::Ls => {
                let c = ctx.call_vault(p::ClientList {}).await?;
                {
                    if ctx.json {
                        return output::json(&c);
                    }
                    if c.is_empty() {
                        outln!("no clients yet: add one with `ctxvault client add NAME`");
                    }
                    for c in c {
                        outln!(
                            "{:<20} {} grant(s), {} deny rule(s), added {}, answers to {}",
                            c.name,
                            c.grants,
                            c.denies,
                            c.created_at.format("%Y-%m-%d %H:%M"),
                            c.provider
                        );
                    }
                    Ok(())
                }
            }
        }
    }
}

/// Write a token to `file`, readable and writable by the user only.
/// Fail unless a client `name` exists, saying how to add it.
pub(super) async fn require_client(ctx: &Ctx, name: &str) -> anyhow::Result<()> {
    let known = ctx.call_vault(p::ClientList {}).await?;
    if !known.iter().any(|c| c.name == name) {
        anyhow::bail!("no client {name:?}: add it first with `ctxvault client add {name}`");
    }
    Ok(())
}

pub(super) fn write_token(file: &Path, token: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(file)
        .with_context(|| format!("cannot write the token to {}", file.display()))?;
    // An existing file keeps its mode on open: close it to others now.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .and_then(|()| f.write_all(format!("{token}\n").as_bytes()))
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write the token to {}", file.display()))
}
