//! Ready-to-paste MCP client configuration, shown by `client add` and
//! `client rotate` and by the console: Claude Desktop, Claude Code, Cursor
//! and VS Code, for stdio (`ctxvault mcp`) and for the agent's HTTP
//! endpoint.

use std::path::Path;

use serde_json::{Value, json};

/// Where `daemon --http` listens unless told otherwise.
pub const DEFAULT_HTTP_URL: &str = "http://127.0.0.1:7410/mcp";

/// The key under which the server is configured in each client.
pub const SERVER_KEY: &str = "ctxvault";

/// Everything needed to write a client's configuration.
pub struct Setup<'a> {
    /// The client's name.
    pub name: &'a str,
    /// Its token.
    pub token: &'a str,
    /// The `ctxvault` binary, absolute.
    pub exe: String,
    /// The vault directory, absolute.
    pub vault: String,
    /// The MCP HTTP endpoint.
    pub url: String,
    /// Where the token is kept, when it went to a file: stdio entries then
    /// read it from there and no entry carries the token itself.
    pub token_file: Option<String>,
}

/// Quote a word for a POSIX shell when it needs it.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

impl<'a> Setup<'a> {
    /// A setup for `name` with `token`, for the vault at `vault`.
    pub fn new(name: &'a str, token: &'a str, vault: &Path, url: Option<String>) -> Self {
        let exe = std::env::current_exe()
            .ok()
            .and_then(|p| p.canonicalize().ok())
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "ctxvault".to_owned());
        let vault = vault
            .canonicalize()
            .unwrap_or_else(|_| vault.to_owned())
            .display()
            .to_string();
        Setup {
            name,
            token,
            exe,
            vault,
            url: url.unwrap_or_else(|| DEFAULT_HTTP_URL.to_owned()),
            token_file: None,
        }
    }

    /// The same setup, with the token kept in `file`.
    pub fn with_token_file(mut self, file: &Path) -> Self {
        self.token_file = Some(
            file.canonicalize()
                .unwrap_or_else(|_| file.to_owned())
                .display()
                .to_string(),
        );
        self
    }

    /// The arguments of `ctxvault mcp` for this client.
    pub fn args(&self) -> Vec<String> {
        let mut a = vec![
            "--vault".into(),
            self.vault.clone(),
            "mcp".into(),
            "--client".into(),
            self.name.into(),
        ];
        if let Some(f) = &self.token_file {
            a.extend(["--token-file".into(), f.clone()]);
        }
        a
    }

    fn stdio_server(&self) -> Value {
        match &self.token_file {
            Some(_) => json!({ "command": self.exe, "args": self.args() }),
            None => json!({
                "command": self.exe,
                "args": self.args(),
                "env": { "CTXVAULT_TOKEN": self.token },
            }),
        }
    }

    fn bearer(&self) -> String {
        match &self.token_file {
            Some(f) => format!("Bearer <the token in {f}>"),
            None => format!("Bearer {}", self.token),
        }
    }

    /// Every snippet, as JSON values (and command lines as strings).
    pub fn snippets(&self) -> Value {
        let stdio = self.stdio_server();
        let mut vscode_stdio = stdio.clone();
        vscode_stdio["type"] = json!("stdio");
        let env = match &self.token_file {
            Some(_) => String::new(),
            None => format!("--env CTXVAULT_TOKEN={} ", shell_quote(self.token)),
        };
        let claude_code_stdio = format!(
            "claude mcp add --transport stdio {SERVER_KEY} {env}-- {} {}",
            shell_quote(&self.exe),
            self.args()
                .iter()
                .map(|a| shell_quote(a))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let claude_code_http = format!(
            "claude mcp add --transport http {SERVER_KEY} {} --header {}",
            shell_quote(&self.url),
            shell_quote(&format!("Authorization: {}", self.bearer()))
        );
        json!({
            "claude_desktop": {
                "file": "claude_desktop_config.json",
                "stdio": { "mcpServers": { SERVER_KEY: stdio } },
            },
            "claude_code": {
                "stdio": claude_code_stdio,
                "http": claude_code_http,
            },
            "cursor": {
                "file": "~/.cursor/mcp.json",
                "stdio": { "mcpServers": { SERVER_KEY: stdio } },
                "http": { "mcpServers": { SERVER_KEY: {
                    "url": self.url,
                    "headers": { "Authorization": self.bearer() },
                } } },
            },
            "vscode": {
                "file": ".vscode/mcp.json",
                "stdio": { "servers": { SERVER_KEY: vscode_stdio } },
                "http": { "servers": { SERVER_KEY: {
                    "type": "http",
                    "url": self.url,
                    "headers": { "Authorization": self.bearer() },
                } } },
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("cvt_ab12"), "cvt_ab12");
        assert_eq!(shell_quote("/a b/c"), "'/a b/c'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn snippets_carry_token_and_vault() {
        let s = Setup::new("cursor", "cvt_x", Path::new("/v"), None);
        let v = s.snippets();
        let server = &v["cursor"]["stdio"]["mcpServers"]["ctxvault"];
        assert_eq!(server["env"]["CTXVAULT_TOKEN"], "cvt_x");
        assert_eq!(server["args"][1], "/v");
        assert_eq!(
            v["vscode"]["http"]["servers"]["ctxvault"]["headers"]["Authorization"],
            "Bearer cvt_x"
        );
        assert_eq!(
            v["vscode"]["http"]["servers"]["ctxvault"]["url"],
            DEFAULT_HTTP_URL
        );
    }
}
