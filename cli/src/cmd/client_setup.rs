//! `ctxvault client setup`: write (or merge) ctxvault's entry into an MCP
//! client's own configuration file, the token kept in a file beside the
//! vault rather than in that configuration.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use vault_daemon::protocol as p;

use crate::ctx::Ctx;
use crate::setup::{PrintSetup, SERVER_KEY, Setup};

/// The MCP clients whose configuration `client setup` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// Claude Desktop: claude_desktop_config.json.
    ClaudeDesktop,
    /// Claude Code: ~/.claude.json (user scope).
    ClaudeCode,
    /// Cursor: ~/.cursor/mcp.json.
    Cursor,
    /// VS Code: the user mcp.json.
    Vscode,
}

impl Target {
    /// The file the client reads, and the key holding its servers.
    fn file(self) -> anyhow::Result<(PathBuf, &'static str)> {
        let dirs =
            directories::BaseDirs::new().ok_or_else(|| anyhow!("no home directory: set HOME"))?;
        let home = dirs.home_dir();
        let mac = cfg!(target_os = "macos");
        let app_config = |app: &str| {
            if mac {
                home.join("Library/Application Support").join(app)
            } else {
                dirs.config_dir().join(app)
            }
        };
        Ok(match self {
            Target::ClaudeDesktop => (
                app_config("Claude").join("claude_desktop_config.json"),
                "mcpServers",
            ),
            Target::ClaudeCode => (home.join(".claude.json"), "mcpServers"),
            Target::Cursor => (home.join(".cursor/mcp.json"), "mcpServers"),
            Target::Vscode => (app_config("Code/User").join("mcp.json"), "servers"),
        })
    }

    /// The entry for ctxvault over stdio.
    fn entry(self, setup: &Setup) -> serde_json::Value {
        let mut e = serde_json::json!({
            "command": setup.exe,
            "args": setup.args(),
        });
        match self {
            Target::ClaudeCode => {
                e["type"] = "stdio".into();
                e["env"] = serde_json::json!({});
            }
            Target::Vscode => e["type"] = "stdio".into(),
            Target::ClaudeDesktop | Target::Cursor => {}
        }
        e
    }

    fn app(self) -> &'static str {
        match self {
            Target::ClaudeDesktop => "Claude Desktop",
            Target::ClaudeCode => "Claude Code",
            Target::Cursor => "Cursor",
            Target::Vscode => "VS Code",
        }
    }
}

/// Where a client's token is kept for the entries `setup` writes.
pub fn token_path(vault: &Path, name: &str) -> PathBuf {
    vault.join("tokens").join(format!("{name}.token"))
}

/// The client's token file: the one there if it is still this client's,
/// else a new token (the old one stops working) written there.
async fn token_file(ctx: &Ctx, name: &str) -> anyhow::Result<(PathBuf, bool)> {
    let path = token_path(&ctx.dir, name);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let token = vault_daemon::protocol::Secret::new(text.trim().to_owned());
        if let Ok(Some(owner)) = ctx.call(p::WhoIs { token }).await
            && owner == name
        {
            return Ok((path, false));
        }
    }
    let t = ctx
        .call_vault(p::ClientRotate {
            name: name.to_owned(),
        })
        .await?;
    if let Some(d) = path.parent() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(d)
            .with_context(|| format!("cannot create {}", d.display()))?;
    }
    super::client::write_token(&path, &t.token)?;
    Ok((path, true))
}

/// Write the file: a copy of the old one first (`FILE.ctxvault-backup`,
/// 0600, replacing an older copy), then the new text under a temporary
/// name, synced, renamed over it (keeping its permissions). A symbolic
/// link is written through, not replaced. If the file changed since it was
/// read (the app wrote it meanwhile), nothing is written.
fn write(path: &Path, old: Option<&str>, new: &str) -> anyhow::Result<Option<PathBuf>> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = match std::fs::canonicalize(path) {
        Ok(real) => real,
        Err(_) => path.to_owned(),
    };
    let dir = path
        .parent()
        .ok_or_else(|| anyhow!("{} has no folder", path.display()))?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let backup = match old {
        Some(old) => {
            let b = path.with_file_name(format!(
                "{}.ctxvault-backup",
                path.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            ));
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&b)
                .with_context(|| format!("cannot back {} up to {}", path.display(), b.display()))?;
            f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .and_then(|()| f.write_all(old.as_bytes()))
                .and_then(|()| f.sync_all())
                .with_context(|| format!("cannot back {} up to {}", path.display(), b.display()))?;
            Some(b)
        }
        None => None,
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".ctxvault-setup-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    if let Ok(m) = std::fs::metadata(&path) {
        let _ = std::fs::set_permissions(tmp.path(), m.permissions());
    }
    tmp.write_all(new.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    let now = std::fs::read_to_string(&path).ok();
    if now.as_deref() != old {
        bail!(
            "{} changed while ctxvault was writing it (is the app running?); nothing was written: close it and run this again",
            path.display()
        );
    }
    tmp.persist(&path)
        .map_err(|e| anyhow!("cannot write {}: {}", path.display(), e.error))?;
    Ok(backup)
}

/// Write ctxvault's entry for client NAME into an app's MCP configuration
/// (merged with what is there, a backup made first, the change shown). The
/// entry runs `ctxvault mcp` over stdio and reads the client's token from
/// a file in the vault directory, never from the configuration itself.
#[derive(clap::Args)]
pub struct SetupCmd {
    /// The client's name (as in `ctxvault client add NAME`).
    name: String,
    /// The app whose configuration to write.
    #[arg(long = "for", value_enum, value_name = "APP")]
    target: Target,
    /// Write this file instead of the app's usual one (a VS Code
    /// workspace's .vscode/mcp.json, a Claude Code project's .mcp.json).
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Print the entries to paste instead of writing anything (the token
    /// file is still made).
    #[arg(long)]
    print: bool,
}

impl SetupCmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        ctx.require_vault()?;
        super::client::require_client(ctx, &self.name).await?;
        let url = ctx.call(p::StatusQuery {}).await.ok().and_then(|s| s.http);
        let http_running = url.is_some();
        let setup = Setup::new(&self.name, "", &ctx.dir, url)
            .with_token_file(&token_path(&ctx.dir, &self.name));
        // The token is made (or checked) only once nothing else can fail.
        let ready_token = || async {
            let (token_file, rotated) = token_file(ctx, &self.name).await?;
            if rotated {
                eprintln!(
                    "{} has a new token, kept in {} (readable only by you); the old one no longer works",
                    self.name,
                    token_file.display()
                );
            }
            anyhow::Ok(token_file)
        };
        if self.print {
            ready_token().await?;
            if ctx.json {
                return crate::output::json(&setup.snippets());
            }
            setup.print(http_running);
            return Ok(());
        }
        let (default_path, key) = self.target.file()?;
        let path = self.file.clone().unwrap_or(default_path);
        let old = match std::fs::read_to_string(&path) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => bail!("cannot read {}: {e}", path.display()),
        };
        let entry = self.target.entry(&setup);
        let new = crate::merge::merge(old.as_deref(), key, SERVER_KEY, &entry).map_err(|why| {
            anyhow!(
                "cannot merge into {}: {why}; nothing was written (`--print` shows the entry to add by hand)",
                path.display()
            )
        })?;
        let token_file = ready_token().await?;
        if old.as_deref() == Some(new.as_str()) {
            return crate::output::report(
                ctx,
                serde_json::json!({ "file": path, "changed": false, "backup": null }),
                format!("{} already has this entry; nothing changed", path.display()),
            );
        }
        let backup = write(&path, old.as_deref(), &new)?;
        if ctx.json {
            return crate::output::json(&serde_json::json!({
                "file": path,
                "changed": true,
                "backup": backup,
                "token_file": token_file,
            }));
        }
        let diff = similar::TextDiff::from_lines(old.as_deref().unwrap_or(""), &new);
        let shown = diff
            .unified_diff()
            // Only the entry's own lines: other servers' settings (their
            // keys, often) are not shown.
            .context_radius(0)
            .header(
                &backup
                    .as_ref()
                    .map_or("(no file)".to_owned(), |b| b.display().to_string()),
                &path.display().to_string(),
            )
            .to_string();
        out!("{shown}");
        outln!(
            "{} {}{}; restart {} to load it",
            if old.is_some() { "updated" } else { "wrote" },
            path.display(),
            backup
                .as_ref()
                .map(|b| format!(" (a copy of the old file is in {})", b.display()))
                .unwrap_or_default(),
            self.target.app()
        );
        Ok(())
    }
}
