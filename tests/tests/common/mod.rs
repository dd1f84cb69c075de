//! MCP client helpers shared by the MCP tests: rmcp's client over stdio
//! (`ctxvault mcp` as a child) and over the agent's streamable HTTP.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;

use ctxvault_tests::{Env, bin};
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};

/// A client session.
pub type Session = RunningService<RoleClient, ()>;

/// Which transport a session uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// `ctxvault mcp --client NAME` as a child process.
    Stdio,
    /// The agent's HTTP endpoint.
    Http,
}

/// A session over stdio.
pub async fn stdio(env: &Env, client: &str, token: &str) -> Session {
    let mut cmd = tokio::process::Command::new(bin());
    cmd.args(["mcp", "--client", client])
        .env("CTXVAULT_HOME", &env.vault)
        .env("CTXVAULT_RUNTIME_DIR", &env.runtime)
        .env("CTXVAULT_TOKEN", token)
        .env_remove("CTXVAULT_PASSPHRASE");
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    ().serve(transport)
        .await
        .expect("MCP initialize over stdio")
}

/// A session over HTTP with `token` as the bearer.
pub async fn http(url: &str, token: &str) -> Session {
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(url.to_owned()).auth_header(token.to_owned()),
    );
    ().serve(transport).await.expect("MCP initialize over HTTP")
}

/// A session over either transport.
pub async fn connect(t: Transport, env: &Env, url: &str, client: &str, token: &str) -> Session {
    match t {
        Transport::Stdio => stdio(env, client, token).await,
        Transport::Http => http(url, token).await,
    }
}

/// Call a tool.
pub async fn call(s: &Session, tool: &str, args: serde_json::Value) -> CallToolResult {
    let mut p = CallToolRequestParams::new(tool.to_owned());
    if let serde_json::Value::Object(m) = args {
        p = p.with_arguments(m);
    }
    s.call_tool(p).await.expect("tools/call")
}

/// The text of a tool result.
pub fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text())
        .map(|t| t.text.clone())
        .collect()
}

/// The JSON of a successful tool result.
pub fn json(r: &CallToolResult) -> serde_json::Value {
    assert_ne!(r.is_error, Some(true), "tool error: {}", text(r));
    serde_json::from_str(&text(r)).unwrap()
}

/// Tool names the session lists, sorted.
pub async fn tool_names(s: &Session) -> Vec<String> {
    let mut t: Vec<String> = s
        .list_all_tools()
        .await
        .unwrap()
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    t.sort();
    t
}

/// A client's token from `client add NAME --json`.
pub fn add_client(env: &Env, name: &str) -> String {
    env.json(&["client", "add", name, "--json"])["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The audit entries of one client.
pub fn audit_of(env: &Env, client: &str) -> Vec<serde_json::Value> {
    env.json(&["audit", "--client", client, "--json"])
        .as_array()
        .unwrap()
        .clone()
}
