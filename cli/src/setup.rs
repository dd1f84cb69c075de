//! Printing the ready-to-paste MCP client configuration of
//! [`vault_daemon::setup`] for people (`client add`, `client rotate`).

use serde_json::Value;
pub use vault_daemon::setup::*;

/// Print a setup's snippets.
pub trait PrintSetup {
    /// Print the snippets for people.
    fn print(&self, http_running: bool);
}

impl PrintSetup for Setup<'_> {
    fn print(&self, http_running: bool) {
        let s = self.snippets();
        let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
        outln!("Set up {}:", self.name);
        outln!();
        outln!("Claude Desktop: add to claude_desktop_config.json (it runs ctxvault over stdio;");
        outln!("its config file takes no HTTP servers, and stdio reaches the same agent):");
        outln!("{}", pretty(&s["claude_desktop"]["stdio"]));
        outln!();
        outln!("Claude Code, stdio:");
        outln!(
            "  {}",
            s["claude_code"]["stdio"].as_str().unwrap_or_default()
        );
        if self.token_file.is_none() {
            outln!(
                "  (to keep the token off command lines and shell history: `ctxvault client rotate {} --token-file FILE` keeps it in FILE, and this line then reads it from there)",
                self.name
            );
        }
        outln!("Claude Code, HTTP:");
        outln!(
            "  {}",
            s["claude_code"]["http"].as_str().unwrap_or_default()
        );
        outln!();
        outln!("Cursor, ~/.cursor/mcp.json, stdio:");
        outln!("{}", pretty(&s["cursor"]["stdio"]));
        outln!("Cursor, HTTP:");
        outln!("{}", pretty(&s["cursor"]["http"]));
        outln!();
        outln!("VS Code, .vscode/mcp.json, stdio:");
        outln!("{}", pretty(&s["vscode"]["stdio"]));
        outln!("VS Code, HTTP:");
        outln!("{}", pretty(&s["vscode"]["http"]));
        if !http_running {
            outln!();
            outln!(
                "The HTTP entries need the agent's endpoint: run `ctxvault daemon --http 127.0.0.1:7410`."
            );
        }
    }
}
