//! What the proxy knows of each API it serves: its paths, where the user's
//! latest message is, where system text goes, how a provider is named in
//! the model, how the key is sent, and the shape of its errors. Bodies are
//! JSON values: every field the proxy does not touch is kept.

use axum::http::StatusCode;
use serde_json::{Value, json};
use vault_core::records::ProviderKind;

/// One endpoint of one API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Api {
    /// OpenAI `POST /v1/chat/completions`.
    OpenaiChat,
    /// OpenAI `POST /v1/responses`.
    OpenaiResponses,
    /// OpenAI `GET /v1/models`.
    OpenaiModels,
    /// Anthropic `POST /v1/messages`.
    AnthropicMessages,
    /// Ollama `POST /api/chat`.
    OllamaChat,
    /// Ollama `POST /api/generate`.
    OllamaGenerate,
    /// Ollama `GET /api/tags`.
    OllamaTags,
}

impl Api {
    /// The API family, which must be the provider's kind.
    pub(crate) fn kind(self) -> ProviderKind {
        match self {
            Api::OpenaiChat | Api::OpenaiResponses | Api::OpenaiModels => ProviderKind::Openai,
            Api::AnthropicMessages => ProviderKind::Anthropic,
            Api::OllamaChat | Api::OllamaGenerate | Api::OllamaTags => ProviderKind::Ollama,
        }
    }

    /// The path the proxy serves it at.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Api::OpenaiChat => "/v1/chat/completions",
            Api::OpenaiResponses => "/v1/responses",
            Api::OpenaiModels => "/v1/models",
            Api::AnthropicMessages => "/v1/messages",
            Api::OllamaChat => "/api/chat",
            Api::OllamaGenerate => "/api/generate",
            Api::OllamaTags => "/api/tags",
        }
    }

    /// The path under the provider's base URL (an OpenAI base URL ends
    /// with `/v1`, as the OpenAI SDKs take it).
    pub(crate) fn upstream_path(self) -> &'static str {
        match self {
            Api::OpenaiChat => "/chat/completions",
            Api::OpenaiResponses => "/responses",
            Api::OpenaiModels => "/models",
            other => other.path(),
        }
    }

    /// True for the endpoints that carry a conversation.
    pub(crate) fn is_chat(self) -> bool {
        !matches!(self, Api::OpenaiModels | Api::OllamaTags)
    }

    /// An error in this API's own shape, so the caller's SDK reports it.
    pub(crate) fn error(self, status: StatusCode, message: &str) -> Value {
        match self.kind() {
            ProviderKind::Openai => json!({"error": {
                "message": message,
                "type": openai_type(status),
                "code": Value::Null,
            }}),
            ProviderKind::Anthropic => json!({
                "type": "error",
                "error": {"type": anthropic_type(status), "message": message},
            }),
            ProviderKind::Ollama => json!({"error": message}),
        }
    }
}

fn openai_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        413 | 400 => "invalid_request_error",
        429 => "rate_limit_error",
        _ => "api_error",
    }
}

fn anthropic_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        413 => "request_too_large",
        400 => "invalid_request_error",
        429 => "rate_limit_error",
        503 => "overloaded_error",
        _ => "api_error",
    }
}

/// The text of a message's content: a string, or the text parts of an
/// array of blocks (`text`, `input_text`); other parts (images, files,
/// tool results) are not text and are left out.
fn content_text(content: &Value) -> Option<String> {
    match content {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter(|p| {
                    matches!(
                        p.get("type").and_then(Value::as_str),
                        Some("text" | "input_text")
                    )
                })
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect();
            (!texts.is_empty()).then(|| texts.join("\n"))
        }
        _ => None,
    }
}

/// The latest message from the user in a conversation list.
fn last_user(list: &[Value]) -> Option<String> {
    list.iter()
        .rev()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .find_map(|m| m.get("content").and_then(content_text))
}

/// The user's latest message in a request body, if it has one.
pub(crate) fn last_user_text(api: Api, body: &Value) -> Option<String> {
    let text = match api {
        Api::OpenaiChat | Api::AnthropicMessages | Api::OllamaChat => {
            last_user(body.get("messages")?.as_array()?)
        }
        Api::OpenaiResponses => match body.get("input")? {
            Value::String(s) => Some(s.clone()),
            Value::Array(items) => last_user(items),
            _ => None,
        },
        Api::OllamaGenerate => body.get("prompt")?.as_str().map(str::to_owned),
        Api::OpenaiModels | Api::OllamaTags => None,
    }?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// Put `text` where the API expects system text, before the caller's own.
pub(crate) fn inject(api: Api, body: &mut Value, text: &str) {
    let Some(obj) = body.as_object_mut() else {
        return;
    };
    let prepend = |field: Option<&Value>| match field.and_then(Value::as_str) {
        Some(own) if !own.is_empty() => Value::String(format!("{text}\n\n{own}")),
        _ => Value::String(text.to_owned()),
    };
    match api {
        Api::OpenaiChat | Api::OllamaChat => {
            if let Some(Value::Array(messages)) = obj.get_mut("messages") {
                messages.insert(0, json!({"role": "system", "content": text}));
            }
        }
        Api::OpenaiResponses => {
            let v = prepend(obj.get("instructions"));
            obj.insert("instructions".into(), v);
        }
        Api::AnthropicMessages => match obj.get_mut("system") {
            Some(Value::Array(blocks)) => {
                blocks.insert(0, json!({"type": "text", "text": text}));
            }
            _ => {
                let v = prepend(obj.get("system"));
                obj.insert("system".into(), v);
            }
        },
        Api::OllamaGenerate => {
            let v = prepend(obj.get("system"));
            obj.insert("system".into(), v);
        }
        Api::OpenaiModels | Api::OllamaTags => {}
    }
}

/// The model a request names.
pub(crate) fn model(body: &Value) -> Option<&str> {
    body.get("model").and_then(Value::as_str)
}

/// Name the model without the `provider/` prefix the caller chose it by.
pub(crate) fn set_model(body: &mut Value, model: &str) {
    if let Some(obj) = body.as_object_mut() {
        obj.insert("model".into(), Value::String(model.to_owned()));
    }
}

/// The header and value that carry `key` to a provider of `kind`.
pub(crate) fn key_header(kind: ProviderKind, key: &str) -> (&'static str, String) {
    match kind {
        ProviderKind::Anthropic => ("x-api-key", key.to_owned()),
        ProviderKind::Openai | ProviderKind::Ollama => ("authorization", format!("Bearer {key}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_user_text_is_found_in_every_shape() {
        let chat = json!({"messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "text", "text": "tea?"}, {"type": "image_url"}]},
        ]});
        assert_eq!(
            last_user_text(Api::OpenaiChat, &chat).as_deref(),
            Some("tea?")
        );
        let responses = json!({"input": [{"role": "user", "content": [{"type": "input_text", "text": "lisbon"}]}]});
        assert_eq!(
            last_user_text(Api::OpenaiResponses, &responses).as_deref(),
            Some("lisbon")
        );
        assert_eq!(
            last_user_text(Api::OpenaiResponses, &json!({"input": "plain"})).as_deref(),
            Some("plain")
        );
        assert_eq!(
            last_user_text(Api::OllamaGenerate, &json!({"prompt": "  "})),
            None
        );
    }

    #[test]
    fn system_text_goes_first_and_keeps_the_callers() {
        let mut a = json!({"system": [{"type": "text", "text": "own"}], "messages": []});
        inject(Api::AnthropicMessages, &mut a, "ctx");
        assert_eq!(a["system"][0]["text"], "ctx");
        assert_eq!(a["system"][1]["text"], "own");
        let mut b = json!({"system": "own"});
        inject(Api::AnthropicMessages, &mut b, "ctx");
        assert_eq!(b["system"], "ctx\n\nown");
        let mut r = json!({"input": "x", "extra": {"kept": true}});
        inject(Api::OpenaiResponses, &mut r, "ctx");
        assert_eq!(r["instructions"], "ctx");
        assert_eq!(r["extra"]["kept"], true);
        let mut c = json!({"messages": [{"role": "user", "content": "hi"}]});
        inject(Api::OpenaiChat, &mut c, "ctx");
        assert_eq!(c["messages"][0]["role"], "system");
        assert_eq!(c["messages"][1]["content"], "hi");
    }
}
