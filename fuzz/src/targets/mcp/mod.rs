//! Target `mcp`: the MCP server (`mcp_server::ContextServer`, the handler
//! behind `ctxvault mcp` and the agent's HTTP endpoint) over an in-memory
//! duplex, with the in-memory [`view::FuzzView`].
//!
//! # Input
//! The input is written to the server as it is, after a valid
//! `initialize` request and `notifications/initialized` (protocol
//! 2025-11-25); then the client side is closed. An input starting with
//! `!` skips the handshake: the rest goes to the server's pre-initialize
//! loop and the 2026-07-28 lifecycle, whose requests carry their own
//! `_meta`.
//!
//! # Checked
//! The server does not panic (in any task), finishes within
//! [`LIMIT`] of the input's end, and writes only JSON-RPC 2.0 objects, one a
//! line; after the handshake its first line answers `initialize`.

pub mod view;

use std::sync::Arc;
use std::time::Duration;

use mcp_server::ContextServer;
use rmcp::ServiceExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;

/// Longest a server may take to answer everything and close.
pub const LIMIT: Duration = Duration::from_secs(10);

/// The `initialize` request of the handshake.
pub const INITIALIZE: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"fuzz\",\"version\":\"1\"}}}\n";
/// The notification that ends the handshake.
pub const INITIALIZED: &[u8] = b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n";

/// Methods, tools and arguments of the server.
pub const DICT: &[&[u8]] = &[
    b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}\n",
    b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"search_context\",\"arguments\":{\"query\":\"tea\"}}}\n",
    b"\"jsonrpc\":\"2.0\"",
    b"\"id\":",
    b"\"method\":",
    b"\"params\":",
    b"\"tools/call\"",
    b"\"tools/list\"",
    b"\"resources/list\"",
    b"\"resources/read\"",
    b"\"resources/templates/list\"",
    b"\"prompts/list\"",
    b"\"prompts/get\"",
    b"\"ping\"",
    b"\"notifications/cancelled\"",
    b"\"requestId\":",
    b"\"search_context\"",
    b"\"get_context\"",
    b"\"list_namespaces\"",
    b"\"describe_access\"",
    b"\"remember\"",
    b"\"personal-context\"",
    b"\"arguments\":",
    b"\"query\":",
    b"\"namespace\":",
    b"\"tags\":",
    b"\"limit\":",
    b"\"content\":",
    b"\"cursor\":",
    b"\"uri\":",
    b"\"topic\":",
    b"\"ctxvault://profile\"",
    b"\"ctxvault://item/0192f0c1-7c5e-7d3a-9a4e-000000000003\"",
    b"\"0192f0c1-7c5e-7d3a-9a4e-000000000001\"",
    b"\"00000000-0000-0000-0000-000000000000\"",
    b"\"ffffffff-ffff-ffff-ffff-ffffffffffff\"",
    b"\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\",\"io.modelcontextprotocol/clientCapabilities\":{}}",
    b"\"io.modelcontextprotocol/protocolVersion\"",
    b"\"2026-07-28\"",
    b"\"2025-06-18\"",
    b"!locked",
    b"!invalid",
    b"!notfound",
    b"!internal",
    b"!unauthorized",
];

thread_local! {
    /// One runtime per thread, kept across inputs: a worker runs the server
    /// while this thread drives the client, so a server stuck in a loop
    /// still lets the timeout fire.
    static RUNTIME: Result<Runtime, String> = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string());
}

async fn exchange(input: &[u8], handshake: bool) -> Vec<u8> {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let server_task = tokio::spawn(async move {
        let (r, w) = tokio::io::split(server);
        let view: Arc<dyn client_view::ClientView> = Arc::new(view::FuzzView::default());
        if let Ok(running) = ContextServer::new(view).serve((r, w)).await {
            let _ = running.waiting().await;
        }
    });
    let (mut from_server, mut to_server) = tokio::io::split(client);
    let write = async move {
        // A server that stops reading early fails these writes: fine.
        if handshake {
            let _ = to_server.write_all(INITIALIZE).await;
            let _ = to_server.write_all(INITIALIZED).await;
        }
        let _ = to_server.write_all(input).await;
        let _ = to_server.write_all(b"\n").await;
        let _ = to_server.shutdown().await;
    };
    let read = async move {
        let mut out = Vec::new();
        let _ = from_server.read_to_end(&mut out).await;
        out
    };
    let ((), out) = tokio::join!(write, read);
    // A panic in the task is counted by the runner's hook.
    let _ = server_task.await;
    out
}

fn check_output(out: &[u8], handshake: bool) {
    let text = match std::str::from_utf8(out) {
        Ok(t) => t,
        Err(e) => panic!("the server wrote bytes that are not UTF-8: {e}"),
    };
    for (n, line) in text.lines().enumerate() {
        let v: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => panic!("server line {} is not JSON ({e}): {line:?}", n + 1),
        };
        assert!(
            v.get("jsonrpc").and_then(|j| j.as_str()) == Some("2.0"),
            "server line {} is not a JSON-RPC 2.0 message: {line:?}",
            n + 1
        );
        let kinds = ["result", "error", "method"]
            .iter()
            .filter(|k| v.get(**k).is_some())
            .count();
        assert!(
            kinds == 1,
            "server line {} is neither a response, an error nor a message: {line:?}",
            n + 1
        );
        if n == 0 && handshake {
            assert!(
                v.get("id") == Some(&serde_json::json!(0)) && v.get("result").is_some(),
                "the server's first line does not answer initialize: {line:?}"
            );
        }
    }
    assert!(
        !handshake || !text.is_empty(),
        "the server wrote nothing, not even the initialize answer"
    );
}

/// What the server writes for one input (the handshake's answer
/// included); panics when it does not finish within [`LIMIT`].
pub fn transcript(data: &[u8]) -> Vec<u8> {
    let (handshake, input) = split(data);
    let out = RUNTIME.with(|rt| {
        let rt = match rt {
            Ok(rt) => rt,
            Err(e) => panic!("no tokio runtime for the MCP target: {e}"),
        };
        rt.block_on(async { tokio::time::timeout(LIMIT, exchange(input, handshake)).await })
    });
    match out {
        Ok(out) => out,
        Err(_) => panic!("the MCP server did not finish within {LIMIT:?} of the input's end"),
    }
}

fn split(data: &[u8]) -> (bool, &[u8]) {
    match data.strip_prefix(b"!") {
        Some(rest) => (false, rest),
        None => (true, data),
    }
}

/// Run the target on one input.
pub fn run(data: &[u8]) {
    let out = transcript(data);
    check_output(&out, split(data).0);
}
