//! Claude's data export: `conversations.json`, an array of conversations
//! (`uuid`, `name`, `created_at`, `chat_messages`), each message with its
//! `sender` (`human` or `assistant`), its `text` and `content` blocks, and
//! attachments; and, where present, `projects.json` (or `projects/*.json`)
//! and `memories.json`.
//!
//! Kept: the text blocks of each message (its `text` where it has none),
//! attachments and files noted by name; where messages carry
//! `parent_message_uuid` and a conversation branched, the branch ending at
//! its newest message. Left out: thinking, tool calls and their results.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use serde::Deserialize;

use super::{Conversation, Message, Note, ReadError, Role, each_in_array, from_rfc3339};

#[derive(Deserialize)]
struct Export {
    uuid: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    chat_messages: Vec<Msg>,
}

#[derive(Deserialize)]
struct Msg {
    uuid: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    content: Vec<Block>,
    sender: String,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    attachments: Vec<File>,
    #[serde(default)]
    files: Vec<File>,
    #[serde(default)]
    parent_message_uuid: Option<String>,
}

#[derive(Deserialize)]
struct Block {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    file_name: Option<String>,
}

/// Read `conversations.json` from `r`, handing `f` each conversation.
/// Returns how many were read.
pub fn read<R: Read>(
    file: &str,
    r: R,
    mut f: impl FnMut(Conversation) -> Result<(), String>,
) -> Result<u64, ReadError> {
    each_in_array(file, "Claude conversations", r, |_, c: Export| {
        f(conversation(c))
    })
}

fn conversation(c: Export) -> Conversation {
    let created = from_rfc3339(c.created_at.as_deref());
    let msgs = current_branch(c.chat_messages);
    Conversation {
        id: c.uuid,
        title: c.name,
        created,
        messages: msgs.into_iter().filter_map(message).collect(),
    }
}

/// The messages in order; where they branched (two with the same parent),
/// only those on the way to the newest message.
fn current_branch(msgs: Vec<Msg>) -> Vec<Msg> {
    let mut parents = HashSet::new();
    let branched = msgs.iter().any(|m| {
        m.parent_message_uuid
            .as_ref()
            .is_some_and(|p| !parents.insert(p.clone()))
    });
    if !branched {
        return msgs;
    }
    let index: HashMap<&str, usize> = msgs
        .iter()
        .enumerate()
        .map(|(k, m)| (m.uuid.as_str(), k))
        .collect();
    let newest = msgs
        .iter()
        .enumerate()
        .max_by_key(|(k, m)| (from_rfc3339(m.created_at.as_deref()), *k))
        .map(|(k, _)| k);
    let mut keep = HashSet::new();
    let mut at = newest;
    while let Some(k) = at {
        if !keep.insert(k) {
            break;
        }
        at = msgs[k]
            .parent_message_uuid
            .as_deref()
            .and_then(|p| index.get(p).copied());
    }
    msgs.into_iter()
        .enumerate()
        .filter(|(k, _)| keep.contains(k))
        .map(|(_, m)| m)
        .collect()
}

fn message(m: Msg) -> Option<Message> {
    let role = match m.sender.as_str() {
        "human" => Role::User,
        "assistant" => Role::Assistant,
        _ => return None,
    };
    let blocks: Vec<&str> = m
        .content
        .iter()
        .filter(|b| b.kind == "text")
        .filter_map(|b| b.text.as_deref())
        .filter(|t| !t.trim().is_empty())
        .collect();
    let text = if blocks.is_empty() {
        m.text.clone().unwrap_or_default()
    } else {
        blocks.join("\n")
    };
    let attachments: Vec<String> = m
        .attachments
        .into_iter()
        .chain(m.files)
        .filter_map(|f| f.file_name)
        .filter(|n| !n.trim().is_empty())
        .collect();
    if text.trim().is_empty() && attachments.is_empty() {
        return None;
    }
    Some(Message {
        id: m.uuid,
        role,
        time: from_rfc3339(m.created_at.as_deref()),
        text,
        attachments,
    })
}

#[derive(Deserialize)]
struct Project {
    uuid: String,
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    prompt_template: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    docs: Vec<Doc>,
}

#[derive(Deserialize)]
struct Doc {
    uuid: String,
    #[serde(default)]
    filename: Option<String>,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
}

fn project_notes(p: Project) -> Vec<Note> {
    let mut about = Vec::new();
    if let Some(d) = p.description.filter(|d| !d.trim().is_empty()) {
        about.push(d);
    }
    if let Some(t) = p.prompt_template.filter(|t| !t.trim().is_empty()) {
        about.push(format!("Project instructions:\n{t}"));
    }
    let mut notes = Vec::new();
    if !about.is_empty() {
        notes.push(Note {
            area: "projects",
            key: p.uuid.clone(),
            kind: "project",
            title: Some(p.name.clone()),
            body: about.join("\n\n"),
            time: from_rfc3339(p.created_at.as_deref()),
        });
    }
    for d in p.docs {
        let Some(body) = d.content.filter(|c| !c.trim().is_empty()) else {
            continue;
        };
        let name = d.filename.unwrap_or_else(|| "document".into());
        notes.push(Note {
            area: "projects",
            key: format!("{}/{}", p.uuid, d.uuid),
            kind: "document",
            title: Some(format!("{}: {name}", p.name)),
            body,
            time: from_rfc3339(d.created_at.as_deref()),
        });
    }
    notes
}

/// Read a projects file (an array of projects, or one project in the
/// newer one-file-per-project layout), handing `f` each project's notes.
pub fn read_projects<R: Read>(
    file: &str,
    r: R,
    mut f: impl FnMut(Vec<Note>) -> Result<(), String>,
) -> Result<u64, ReadError> {
    use std::io::BufRead;
    let mut r = std::io::BufReader::with_capacity(1 << 16, r);
    let head = r
        .fill_buf()
        .map_err(|e| ReadError::Format(super::super::ferr(file, format!("cannot read: {e}"))))?;
    if head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        let p: Project = serde_json::from_reader(r)
            .map_err(|e| super::json_error(file, "a Claude project", &e))?;
        f(project_notes(p)).map_err(ReadError::Stopped)?;
        return Ok(1);
    }
    each_in_array(file, "Claude projects", r, |_, p: Project| {
        f(project_notes(p))
    })
}

#[derive(Deserialize)]
struct Memory {
    #[serde(default)]
    conversations_memory: Option<String>,
    #[serde(default)]
    project_memories: HashMap<String, String>,
}

/// Read `memories.json` (an array of `{conversations_memory,
/// project_memories}`), handing `f` its notes.
pub fn read_memories<R: Read>(
    file: &str,
    r: R,
    mut f: impl FnMut(Vec<Note>) -> Result<(), String>,
) -> Result<u64, ReadError> {
    each_in_array(file, "Claude memories", r, |k, m: Memory| {
        let mut notes = Vec::new();
        if let Some(t) = m.conversations_memory.filter(|t| !t.trim().is_empty()) {
            notes.push(Note {
                area: "memory",
                key: format!("{k}/conversations"),
                kind: "memory",
                title: Some("What Claude remembered".into()),
                body: t,
                time: None,
            });
        }
        let mut projects: Vec<(String, String)> = m.project_memories.into_iter().collect();
        projects.sort();
        for (project, t) in projects {
            if t.trim().is_empty() {
                continue;
            }
            notes.push(Note {
                area: "memory",
                key: format!("{k}/project/{project}"),
                kind: "memory",
                title: Some(format!("What Claude remembered in project {project}")),
                body: t,
                time: None,
            });
        }
        f(notes)
    })
}
