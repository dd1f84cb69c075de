//! A local model provider for the proxy tests and benchmark: speaks the
//! OpenAI chat completions, responses and models endpoints, the Anthropic
//! messages endpoint and Ollama's chat, generate and tags, answers at once
//! (streams in several chunks), and records every request it receives.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::Response;

/// One request as the provider received it.
#[derive(Clone, Debug)]
pub struct Received {
    /// Path and query.
    pub path: String,
    /// Headers, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl Received {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }

    /// Everything received, as one text (for "never appears" checks).
    pub fn all_text(&self) -> String {
        let mut s = self.path.clone();
        for (k, v) in &self.headers {
            s.push_str(&format!("\n{k}: {v}"));
        }
        s.push('\n');
        s.push_str(&self.body);
        s
    }
}

/// A running provider.
#[derive(Clone)]
pub struct Upstream {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// What it says in each answer.
    pub name: String,
    seen: Arc<Mutex<Vec<Received>>>,
    /// What a model answers instead of the greeting (for `distill`):
    /// Ollama's chat then answers in one object, as it does unstreamed.
    reply: Arc<Mutex<Option<String>>>,
}

impl Upstream {
    /// Start one on a free port; `name` goes into its answers.
    pub async fn start(name: &str) -> Upstream {
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let up = Upstream {
            addr: tcp.local_addr().unwrap().to_string(),
            name: name.to_owned(),
            seen: Arc::default(),
            reply: Arc::default(),
        };
        let app = Router::new().fallback(handle).with_state(up.clone());
        tokio::spawn(async move { axum::serve(tcp, app).await });
        up
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    /// The last request.
    pub fn last(&self) -> Received {
        self.received()
            .last()
            .cloned()
            .expect("a request reached the provider")
    }

    /// Answer chat requests with `text` from now on.
    pub fn set_reply(&self, text: &str) {
        *self.reply.lock().unwrap() = Some(text.to_owned());
    }

    /// Forget what was received.
    pub fn clear(&self) {
        self.seen.lock().unwrap().clear();
    }
}

fn sse(chunks: Vec<String>) -> Response {
    let stream = futures_util::stream::iter(
        chunks
            .into_iter()
            .map(|c| Ok::<_, Infallible>(Bytes::from(c))),
    );
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap()
}

fn json(v: serde_json::Value) -> Response {
    Response::builder()
        .header("content-type", "application/json")
        .header("x-upstream", "kept")
        .header("set-cookie", "session=upstream")
        .body(Body::from(v.to_string()))
        .unwrap()
}

async fn handle(State(up): State<Upstream>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let received = Received {
        path: parts
            .uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    up.seen.lock().unwrap().push(received.clone());
    let stream = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["stream"].as_bool())
        .unwrap_or(false);
    let name = &up.name;
    let reply = up.reply.lock().unwrap().clone();
    if let Some(text) = reply.filter(|_| !stream) {
        return match parts.uri.path() {
            "/api/chat" => json(serde_json::json!({"model": "test-model",
                "message": {"role": "assistant", "content": text}, "done": true})),
            "/v1/chat/completions" => json(serde_json::json!({
                "id": "c1", "object": "chat.completion", "created": 1, "model": "test-model",
                "choices": [{"index": 0, "finish_reason": "stop",
                    "message": {"role": "assistant", "content": text}}]})),
            "/v1/messages" => json(serde_json::json!({
                "id": "msg_1", "type": "message", "role": "assistant", "model": "test-model",
                "content": [{"type": "text", "text": text}], "stop_reason": "end_turn"})),
            _ => Response::builder()
                .status(404)
                .body(Body::from("no such endpoint"))
                .unwrap(),
        };
    }
    match parts.uri.path() {
        "/v1/models" => json(serde_json::json!({"object": "list", "data": [
            {"id": format!("model-{name}"), "object": "model", "created": 1, "owned_by": name}
        ]})),
        "/v1/chat/completions" if stream => {
            let chunk = |delta: serde_json::Value, finish: serde_json::Value| {
                let c = serde_json::json!({"id": "c1", "object": "chat.completion.chunk",
                    "created": 1, "model": "test-model",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
                format!("data: {c}\n\n")
            };
            let usage = serde_json::json!({"id": "c1", "object": "chat.completion.chunk",
                "created": 1, "model": "test-model", "choices": [],
                "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}});
            sse(vec![
                chunk(
                    serde_json::json!({"role": "assistant", "content": "Hello "}),
                    serde_json::Value::Null,
                ),
                chunk(
                    serde_json::json!({"content": format!("from {name}")}),
                    serde_json::Value::Null,
                ),
                chunk(serde_json::json!({}), serde_json::json!("stop")),
                format!("data: {usage}\n\n"),
                "data: [DONE]\n\n".to_owned(),
            ])
        }
        "/v1/chat/completions" => json(serde_json::json!({
            "id": "c1", "object": "chat.completion", "created": 1, "model": "test-model",
            "choices": [{"index": 0, "finish_reason": "stop",
                "message": {"role": "assistant", "content": format!("Hello from {name}")}}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
        })),
        "/v1/messages" if stream => {
            let ev = |t: &str, d: serde_json::Value| format!("event: {t}\ndata: {d}\n\n");
            sse(vec![
                ev(
                    "message_start",
                    serde_json::json!({"type": "message_start", "message": {
                    "id": "msg_1", "type": "message", "role": "assistant", "model": "test-model",
                    "content": [], "stop_reason": null, "stop_sequence": null,
                    "usage": {"input_tokens": 13, "output_tokens": 1}}}),
                ),
                ev(
                    "content_block_start",
                    serde_json::json!({"type": "content_block_start", "index": 0,
                    "content_block": {"type": "text", "text": ""}}),
                ),
                ev(
                    "content_block_delta",
                    serde_json::json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "text_delta", "text": "Hello "}}),
                ),
                ev(
                    "content_block_delta",
                    serde_json::json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "text_delta", "text": format!("from {name}")}}),
                ),
                ev(
                    "content_block_stop",
                    serde_json::json!({"type": "content_block_stop", "index": 0}),
                ),
                ev(
                    "message_delta",
                    serde_json::json!({"type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                    "usage": {"output_tokens": 5}}),
                ),
                ev("message_stop", serde_json::json!({"type": "message_stop"})),
            ])
        }
        "/v1/messages" => json(serde_json::json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "test-model",
            "content": [{"type": "text", "text": format!("Hello from {name}")}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 13, "output_tokens": 5},
        })),
        "/v1/responses" => json(serde_json::json!({
            "id": "resp_1", "object": "response", "created_at": 1, "status": "completed",
            "model": "test-model", "output": [{"type": "message", "id": "m1", "status": "completed",
                "role": "assistant", "content": [{"type": "output_text", "annotations": [],
                    "text": format!("Hello from {name}")}]}],
            "parallel_tool_calls": false, "tool_choice": "auto", "tools": [],
            "usage": {"input_tokens": 9, "output_tokens": 4, "total_tokens": 13,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0}},
        })),
        "/api/tags" => json(serde_json::json!({"models": [{"name": format!("model-{name}")}]})),
        "/api/chat" | "/api/generate" => {
            let chat = parts.uri.path() == "/api/chat";
            let line = |text: &str, done: bool| {
                let mut v = if chat {
                    serde_json::json!({"model": "test-model", "message": {"role": "assistant", "content": text}, "done": done})
                } else {
                    serde_json::json!({"model": "test-model", "response": text, "done": done})
                };
                if done {
                    v["prompt_eval_count"] = 12.into();
                    v["eval_count"] = 3.into();
                }
                format!("{v}\n")
            };
            let lines = vec![
                line("Hello ", false),
                line(&format!("from {name}"), false),
                line("", true),
            ];
            let stream = futures_util::stream::iter(
                lines
                    .into_iter()
                    .map(|c| Ok::<_, Infallible>(Bytes::from(c))),
            );
            Response::builder()
                .header("content-type", "application/x-ndjson")
                .body(Body::from_stream(stream))
                .unwrap()
        }
        _ => Response::builder()
            .status(404)
            .body(Body::from("no such endpoint"))
            .unwrap(),
    }
}
