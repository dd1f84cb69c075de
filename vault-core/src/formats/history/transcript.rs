//! Generic chat transcripts: JSON lines of messages in the OpenAI messages
//! shape, `{"role": "user", "content": "..."}`, `content` a string or an
//! array of parts (`{"type": "text", "text": ...}`). Optional fields:
//! `conversation_id` (lines with the same one form a conversation; without
//! it the whole file is one), `id`, `title`, and a time in `created_at`
//! (RFC 3339) or `timestamp` (seconds since the epoch).
//!
//! Kept: user and assistant messages with text; left out: system,
//! developer and tool messages.

use std::collections::HashMap;
use std::io::BufRead;

use serde::Deserialize;

use super::{Conversation, Message, ReadError, Role, from_epoch, from_rfc3339};
use crate::formats::ferr;

#[derive(Deserialize)]
struct Line {
    role: String,
    content: Option<Content>,
    #[serde(default)]
    conversation_id: Option<serde_json::Value>,
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    timestamp: Option<f64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Deserialize)]
struct Part {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

/// True when `first_line` looks like a transcript message.
pub fn looks_like(first_line: &str) -> bool {
    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(first_line)
        .is_ok_and(|o| o.contains_key("role") && o.contains_key("content"))
}

fn key(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// Read transcript lines from `r`, handing `f` each conversation (a run of
/// lines with the same `conversation_id`). Returns how many were handed.
pub fn read<R: BufRead>(
    file: &str,
    r: R,
    mut f: impl FnMut(Conversation) -> Result<(), String>,
) -> Result<u64, ReadError> {
    let mut current: Option<Conversation> = None;
    // Messages seen per conversation, for the ids of those without one.
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut handed = 0;
    let mut hand = |c: Option<Conversation>, handed: &mut u64| -> Result<(), ReadError> {
        if let Some(mut c) = c {
            if c.id.is_empty() {
                c.id = file_key(file, &c);
            }
            *handed += 1;
            f(c).map_err(ReadError::Stopped)?;
        }
        Ok(())
    };
    for (n, line) in r.lines().enumerate() {
        let at = format!("{file}:{}", n + 1);
        let line = line.map_err(|e| ferr(&at, format!("cannot read: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let l: Line = serde_json::from_str(&line).map_err(|e| {
            ferr(
                &at,
                format!(
                    "not a chat message ({{\"role\", \"content\"}}): {}",
                    super::quiet(&e.to_string())
                ),
            )
        })?;
        let conv = l.conversation_id.as_ref().map_or_else(String::new, key);
        if current.as_ref().is_some_and(|c| c.id != conv) {
            hand(current.take(), &mut handed)?;
        }
        let count = seen.entry(conv.clone()).or_insert(0);
        *count += 1;
        let time = from_rfc3339(l.created_at.as_deref()).or(from_epoch(l.timestamp));
        let c = current.get_or_insert_with(|| Conversation {
            id: conv.clone(),
            title: None,
            created: time,
            messages: Vec::new(),
        });
        if c.title.is_none() {
            c.title = l.title.filter(|t| !t.trim().is_empty());
        }
        let role = match l.role.as_str() {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "system" | "developer" | "tool" | "function" => continue,
            other => {
                return Err(ferr(
                    &at,
                    format!("{other:?} is not a role; use user, assistant, system or tool"),
                )
                .into());
            }
        };
        let (text, images) = match l.content {
            None => (String::new(), 0),
            Some(Content::Text(t)) => (t, 0),
            Some(Content::Parts(parts)) => {
                let mut texts = Vec::new();
                let mut images = 0;
                for p in parts {
                    match (p.kind.as_str(), p.text) {
                        (_, Some(t)) if !t.trim().is_empty() => texts.push(t),
                        ("image_url" | "input_image" | "image", _) => images += 1,
                        _ => {}
                    }
                }
                (texts.join("\n"), images)
            }
        };
        let attachments = match images {
            0 => vec![],
            1 => vec!["an image".to_owned()],
            n => vec![format!("{n} images")],
        };
        if text.trim().is_empty() && attachments.is_empty() {
            continue;
        }
        c.messages.push(Message {
            id: l.id.as_ref().map_or_else(|| format!("line-{count}"), key),
            role,
            time,
            text,
            attachments,
        });
    }
    hand(current.take(), &mut handed)?;
    Ok(handed)
}

/// The id a file's conversation gets when its lines carry none: a digest
/// of the file's name and its first two messages, so a longer copy of the
/// same file keeps it and two files that open alike do not share it.
fn file_key(file: &str, c: &Conversation) -> String {
    let mut d = ring::digest::Context::new(&ring::digest::SHA256);
    let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
    d.update(&(base.len() as u64).to_le_bytes());
    d.update(base.as_bytes());
    for m in c.messages.iter().take(2) {
        d.update(&(m.text.len() as u64).to_le_bytes());
        d.update(m.text.as_bytes());
    }
    let digest = d.finish();
    let hex: String = digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("file-{hex}")
}
