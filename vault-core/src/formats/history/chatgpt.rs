//! ChatGPT's data export: `conversations.json` (in the downloaded zip, or
//! split into `conversations-000.json`, `-001`... in newer exports), an
//! array of conversations whose messages form a tree (`mapping`: node id to
//! `{message, parent, children}`); edits and regenerations are branches.
//!
//! Kept: the branch that ends at the conversation's `current_node`, walked
//! up through the parents; of it, user and assistant messages with text
//! (`text` and `multimodal_text` parts), attachments noted by name. Left out:
//! system and tool messages, messages hidden from the conversation, the
//! assistant's calls to tools (a recipient other than `all`), code it runs,
//! browsing results and reasoning.

use std::collections::HashMap;
use std::io::Read;

use serde::Deserialize;

use super::{Conversation, Message, ReadError, Role, each_in_array, from_epoch};

#[derive(Deserialize)]
struct Export {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    conversation_id: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    create_time: Option<f64>,
    mapping: HashMap<String, Node>,
    #[serde(default)]
    current_node: Option<String>,
}

#[derive(Deserialize)]
struct Node {
    #[serde(default)]
    message: Option<Msg>,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default)]
    children: Vec<String>,
}

#[derive(Deserialize)]
struct Msg {
    id: String,
    author: Author,
    #[serde(default)]
    create_time: Option<f64>,
    #[serde(default)]
    content: Option<Content>,
    #[serde(default)]
    metadata: Option<Meta>,
    #[serde(default)]
    recipient: Option<String>,
}

#[derive(Deserialize)]
struct Author {
    role: String,
}

#[derive(Deserialize)]
struct Content {
    content_type: String,
    #[serde(default)]
    parts: Vec<serde_json::Value>,
}

#[derive(Deserialize, Default)]
struct Meta {
    #[serde(default)]
    is_visually_hidden_from_conversation: Option<bool>,
    #[serde(default)]
    attachments: Vec<Attachment>,
}

#[derive(Deserialize)]
struct Attachment {
    #[serde(default)]
    name: Option<String>,
}

/// Read `conversations.json` from `r`, handing `f` each conversation.
/// Returns how many were read.
pub fn read<R: Read>(
    file: &str,
    r: R,
    mut f: impl FnMut(Conversation) -> Result<(), String>,
) -> Result<u64, ReadError> {
    each_in_array(file, "ChatGPT conversations", r, |_, c: Export| {
        f(conversation(c))
    })
}

fn conversation(c: Export) -> Conversation {
    let id = c
        .conversation_id
        .or(c.id)
        .unwrap_or_else(|| format!("untitled-{}", c.create_time.unwrap_or(0.0)));
    // The current branch: from the current node up to the root. Without a
    // current node, the newest leaf.
    let leaf = c
        .current_node
        .filter(|n| c.mapping.contains_key(n))
        .or_else(|| newest_leaf(&c.mapping));
    let mut path = Vec::new();
    let mut at = leaf;
    while let Some(node_id) = at {
        // A cycle cannot go on for longer than there are nodes.
        if path.len() > c.mapping.len() {
            break;
        }
        let Some(node) = c.mapping.get(&node_id) else {
            break;
        };
        path.push(node_id);
        at = node.parent.clone();
    }
    path.reverse();
    let mut mapping = c.mapping;
    let messages = path
        .iter()
        .filter_map(|n| mapping.remove(n)?.message)
        .filter_map(message)
        .collect();
    Conversation {
        id,
        title: c.title,
        created: from_epoch(c.create_time),
        messages,
    }
}

fn newest_leaf(mapping: &HashMap<String, Node>) -> Option<String> {
    mapping
        .iter()
        .filter(|(_, n)| n.children.is_empty())
        .max_by(|(a, x), (b, y)| {
            let t = |n: &Node| {
                n.message
                    .as_ref()
                    .and_then(|m| m.create_time)
                    .unwrap_or(0.0)
            };
            t(x).total_cmp(&t(y)).then_with(|| a.cmp(b))
        })
        .map(|(id, _)| id.clone())
}

fn message(m: Msg) -> Option<Message> {
    let role = match m.author.role.as_str() {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        _ => return None,
    };
    let meta = m.metadata.unwrap_or_default();
    if meta.is_visually_hidden_from_conversation == Some(true) {
        return None;
    }
    if m.recipient.as_deref().is_some_and(|r| r != "all") {
        return None;
    }
    let content = m.content?;
    if !matches!(content.content_type.as_str(), "text" | "multimodal_text") {
        return None;
    }
    let mut pieces: Vec<String> = Vec::new();
    let mut images = 0;
    for p in &content.parts {
        match p {
            serde_json::Value::String(s) if !s.trim().is_empty() => pieces.push(s.clone()),
            serde_json::Value::Object(o) => match o.get("content_type").and_then(|t| t.as_str()) {
                Some("audio_transcription") => {
                    if let Some(t) = o.get("text").and_then(|t| t.as_str()) {
                        pieces.push(t.to_owned());
                    }
                }
                Some("image_asset_pointer") => images += 1,
                _ => {}
            },
            _ => {}
        }
    }
    let mut attachments: Vec<String> = meta
        .attachments
        .into_iter()
        .filter_map(|a| a.name)
        .collect();
    if images > attachments.len() {
        attachments.push(if images == 1 {
            "an image".to_owned()
        } else {
            format!("{images} images")
        });
    }
    if pieces.is_empty() && attachments.is_empty() {
        return None;
    }
    Some(Message {
        id: m.id,
        role,
        time: from_epoch(m.create_time),
        text: pieces.join("\n"),
        attachments,
    })
}
