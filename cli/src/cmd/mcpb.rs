//! `ctxvault client bundle`: a Claude Desktop extension (MCP Bundle,
//! `.mcpb`, manifest version 0.3) that runs `ctxvault mcp` for one client.
//!
//! The bundle holds a manifest and a small launcher that starts this
//! machine's ctxvault binary (one binary for the CLI, the agent and the
//! bridge, so their protocol versions always agree). The vault directory
//! and the client's token are user configuration: Claude Desktop asks for
//! them when the extension is installed and keeps the token, marked
//! `sensitive`, in the system's keychain. The bundle holds no secret.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};

use crate::ctx::Ctx;

/// Where the launcher sits in the bundle.
const LAUNCHER: &str = "server/ctxvault-mcp";

/// Build a Claude Desktop extension (.mcpb) for client NAME.
#[derive(clap::Args)]
pub struct Bundle {
    /// The client's name (as in `ctxvault client add NAME`).
    name: String,
    /// The file to write (default: ctxvault-NAME.mcpb); it must not exist.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// A string quoted for a POSIX shell.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The manifest for client `name`, with `vault` as the vault directory's
/// default.
pub fn manifest(name: &str, vault: &str) -> serde_json::Value {
    let platform = if cfg!(target_os = "macos") {
        "darwin"
    } else {
        "linux"
    };
    serde_json::json!({
        "manifest_version": "0.3",
        "name": format!("ctxvault-{name}"),
        "display_name": format!("ctxvault ({name})"),
        "version": env!("CARGO_PKG_VERSION"),
        "description": "Your own encrypted context vault: this app sees only the slice you granted it.",
        "long_description": format!(
            "Connects Claude Desktop to your ctxvault as the client `{name}`. The vault stays on your machine, encrypted; the ctxvault agent answers with exactly what `{name}` is granted (`ctxvault access {name}`), and records every read (`ctxvault audit --client {name}`)."
        ),
        "author": { "name": "ctxvault" },
        "license": "Apache-2.0 OR MIT",
        "server": {
            "type": "binary",
            "entry_point": LAUNCHER,
            "mcp_config": {
                "command": format!("${{__dirname}}/{LAUNCHER}"),
                "args": ["--vault", "${user_config.vault_dir}", "mcp", "--client", name],
                "env": { "CTXVAULT_TOKEN": "${user_config.token}" },
            },
        },
        "user_config": {
            "vault_dir": {
                "type": "directory",
                "title": "Vault directory",
                "description": "The ctxvault vault to read (`ctxvault status` names it).",
                "required": true,
                "default": vault,
            },
            "token": {
                "type": "string",
                "title": "Client token",
                "description": format!("The token of the client `{name}` (`ctxvault client rotate {name}` gives a new one)."),
                "required": true,
                "sensitive": true,
            },
        },
        "compatibility": { "platforms": [platform] },
    })
}

impl Bundle {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        ctx.require_vault()?;
        super::client::require_client(ctx, &self.name).await?;
        let out = self
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("ctxvault-{}.mcpb", self.name)));
        if out.exists() {
            bail!(
                "{} already exists; choose another name or remove it first",
                out.display()
            );
        }
        let exe = std::env::current_exe()
            .and_then(|p| p.canonicalize())
            .context("cannot tell where this ctxvault binary is")?;
        let exe = exe
            .to_str()
            .ok_or_else(|| anyhow!("{} is not UTF-8; the bundle cannot name it", exe.display()))?;
        let vault = ctx.dir.canonicalize().unwrap_or_else(|_| ctx.dir.clone());
        let vault = vault.to_string_lossy();
        let manifest = serde_json::to_string_pretty(&manifest(&self.name, &vault))?;
        let launcher = format!(
            "#!/bin/sh\n# Starts the ctxvault binary this extension was made for.\nexec {} \"$@\"\n",
            sh_quote(exe)
        );
        let dir = match out.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".ctxvault-bundle-")
            .tempfile_in(&dir)
            .with_context(|| format!("cannot create a file in {}", dir.display()))?;
        let mut zip = zip::ZipWriter::new(tmp.as_file());
        let file = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        let zerr = |e: zip::result::ZipError| anyhow!("cannot write {}: {e}", out.display());
        zip.start_file("manifest.json", file.unix_permissions(0o644))
            .map_err(zerr)?;
        zip.write_all(manifest.as_bytes())?;
        zip.start_file(LAUNCHER, file.unix_permissions(0o755))
            .map_err(zerr)?;
        zip.write_all(launcher.as_bytes())?;
        zip.finish().map_err(zerr)?;
        tmp.as_file().sync_all()?;
        tmp.persist_noclobber(&out)
            .map_err(|e| anyhow!("cannot create {}: {}", out.display(), e.error))?;
        crate::output::report(
            ctx,
            serde_json::json!({ "path": out, "client": self.name }),
            format!(
                "wrote {}: open it with Claude Desktop (Settings > Extensions) and give it {}'s token when asked (`ctxvault client rotate {}` gives a new one)",
                out.display(),
                self.name,
                self.name
            ),
        )
    }
}
