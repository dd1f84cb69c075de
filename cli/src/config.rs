//! `config.toml`: the settings every command and every agent start read,
//! from the vault directory, else `$XDG_CONFIG_HOME/ctxvault/`.
//!
//! ```toml
//! http = "127.0.0.1:7410"   # serve MCP over HTTP at every agent start
//! proxy = "127.0.0.1:7411"  # serve the provider proxy at every agent start
//! allow_remote = false      # allow a non-loopback http or proxy address
//! lock_after = "30m"        # idle auto-lock; "0" disables
//! output = "text"           # or "json": as if --json were given
//! notify = true             # a desktop notification when a client finds the vault locked
//! ```
//!
//! A flag or environment variable (`--http`/`CTXVAULT_HTTP`,
//! `--proxy`/`CTXVAULT_PROXY`,
//! `--lock-after`/`CTXVAULT_LOCK_AFTER`, `--json`) wins over the file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail};
use serde::Deserialize;

/// The file's name.
pub const FILE: &str = "config.toml";

/// How results are printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Output {
    /// For people.
    #[default]
    Text,
    /// One JSON document, as with `--json`.
    Json,
}

/// The settings (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Serve MCP over HTTP here at every agent start.
    pub http: Option<std::net::SocketAddr>,
    /// Serve the provider proxy here at every agent start.
    pub proxy: Option<std::net::SocketAddr>,
    /// Allow `http` or `proxy` on a non-loopback address.
    #[serde(default)]
    pub allow_remote: bool,
    /// Idle auto-lock (`30m`, `2h`; `0` disables).
    #[serde(default, deserialize_with = "lock_after")]
    pub lock_after: Option<Duration>,
    /// How results are printed.
    #[serde(default)]
    pub output: Output,
    /// A desktop notification when a client finds the vault locked
    /// (default on).
    pub notify: Option<bool>,
    /// The file read, if any.
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

fn lock_after<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// A duration such as `30m` or `2h`; `0` is zero (disabled).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if s.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("{s:?}: {e}; use a duration such as 30m, 2h or 0 to disable"))
}

/// Where the file is looked for, in order.
pub fn candidates(vault_dir: &Path) -> Vec<PathBuf> {
    let mut c = vec![vault_dir.join(FILE)];
    if let Some(d) = directories::BaseDirs::new() {
        c.push(d.config_dir().join("ctxvault").join(FILE));
    }
    c
}

impl Config {
    /// Read the first file that exists (none: the defaults). A file that
    /// does not parse is an error naming it, the line and the fix.
    pub fn load(vault_dir: &Path) -> anyhow::Result<Config> {
        let Some(path) = candidates(vault_dir).into_iter().find(|p| p.exists()) else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow!("{}: cannot read: {e}", path.display()))?;
        let mut config: Config = toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(1);
            anyhow!(
                "{}:{line}: {}; the keys are http, proxy, allow_remote, lock_after, output and notify (see `ctxvault config`)",
                path.display(),
                e.message().trim().replace('\n', " ")
            )
        })?;
        for (key, addr) in [("http", config.http), ("proxy", config.proxy)] {
            if let Some(a) = addr
                && !a.ip().is_loopback()
                && !config.allow_remote
            {
                bail!(
                    "{}: {key} = \"{a}\" is not a loopback address: other machines could reach it; set allow_remote = true if you mean it",
                    path.display()
                );
            }
        }
        config.path = Some(path);
        Ok(config)
    }
}
