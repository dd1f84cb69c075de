//! Plain formats that need no ctxvault to read, and the formats people
//! bring in from other tools.
//!
//! # Markdown
//! One file per item, `<namespace path>/<id>.md`, with YAML front matter
//! (see [`markdown`]); hand-written files and files without front matter
//! are read too.
//!
//! # lines
//! One memory per non-empty line, as people copy them out of the memory
//! settings of ChatGPT or Claude; list markers (`- `, `* `, `• `, `1. `) are
//! dropped.
//!
//! # mcp-memory
//! The `memory.jsonl` of the official MCP memory server: lines
//! `{"type":"entity","name","entityType","observations"}` and
//! `{"type":"relation","from","to","relationType"}`. Each entity becomes an
//! item (title: its name; body: its observations, then the relations it
//! takes part in).

use chrono::Utc;
use serde::Deserialize;
use uuid::Uuid;

use crate::item::{Item, Kind, Namespace, Sensitivity, Source};

pub mod history;
pub mod markdown;

pub use markdown::{Markdown, from_markdown, to_markdown};

/// A record that does not parse: `at` is a line number or a file name.
#[derive(Debug, thiserror::Error)]
#[error("{at}: {reason}")]
pub struct FormatError {
    /// Where.
    pub at: String,
    /// What is wrong.
    pub reason: String,
}

pub(crate) fn ferr(at: impl Into<String>, reason: impl Into<String>) -> FormatError {
    FormatError {
        at: at.into(),
        reason: reason.into(),
    }
}

fn new_item(
    namespace: &Namespace,
    kind: &str,
    title: Option<String>,
    body: String,
    source: &str,
) -> Item {
    let now = Utc::now();
    Item {
        id: Uuid::now_v7(),
        namespace: namespace.clone(),
        kind: kind.parse().unwrap_or_default(),
        title,
        body,
        tags: Vec::new(),
        sensitivity: Sensitivity::default(),
        source: source.parse().unwrap_or_else(|_| Source::user()),
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

/// One item per non-empty line, list markers dropped.
pub fn from_lines(text: &str, namespace: &Namespace) -> Vec<Item> {
    text.lines()
        .map(|l| {
            let l = l.trim();
            let l = l
                .strip_prefix("- ")
                .or_else(|| l.strip_prefix("* "))
                .or_else(|| l.strip_prefix("• "))
                .unwrap_or(l);
            // "12. text" numbered lists.
            match l.split_once(". ") {
                Some((n, rest)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => {
                    rest.trim()
                }
                _ => l.trim(),
            }
        })
        .filter(|l| !l.is_empty())
        .map(|l| new_item(namespace, "fact", None, l.to_owned(), "import:lines"))
        .collect()
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum MemoryLine {
    Entity {
        name: String,
        #[serde(rename = "entityType", default)]
        entity_type: String,
        #[serde(default)]
        observations: Vec<String>,
    },
    Relation {
        from: String,
        to: String,
        #[serde(rename = "relationType")]
        relation_type: String,
    },
}

/// True when `text` looks like the MCP memory server's file.
pub fn looks_like_mcp_memory(text: &str) -> bool {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| {
            l.contains("\"type\"")
                && (l.contains("\"entity\"") || l.contains("\"relation\""))
                && !l.contains("\"format\"")
        })
}

/// Items from the MCP memory server's `memory.jsonl`.
pub fn from_mcp_memory(
    name: &str,
    text: &str,
    namespace: &Namespace,
) -> Result<Vec<Item>, FormatError> {
    let mut entities: Vec<(String, String, Vec<String>)> = Vec::new();
    let mut relations: Vec<(String, String, String)> = Vec::new();
    for (n, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let line: MemoryLine = serde_json::from_str(l).map_err(|e| {
            ferr(
                format!("{name}:{}", n + 1),
                format!("not a memory-server record: {e}"),
            )
        })?;
        match line {
            MemoryLine::Entity {
                name,
                entity_type,
                observations,
            } => entities.push((name, entity_type, observations)),
            MemoryLine::Relation {
                from,
                to,
                relation_type,
            } => relations.push((from, to, relation_type)),
        }
    }
    Ok(entities
        .into_iter()
        .map(|(ename, etype, obs)| {
            let mut body: Vec<String> = obs.iter().map(|o| format!("- {o}")).collect();
            let rels: Vec<String> = relations
                .iter()
                .filter_map(|(f, t, r)| {
                    if *f == ename {
                        Some(format!("- {ename} {r} {t}"))
                    } else if *t == ename {
                        Some(format!("- {f} {r} {ename}"))
                    } else {
                        None
                    }
                })
                .collect();
            if !rels.is_empty() {
                if !body.is_empty() {
                    body.push(String::new());
                }
                body.push("Relations:".into());
                body.extend(rels);
            }
            if body.is_empty() {
                body.push(format!("{ename} ({etype})"));
            }
            let kind: String = etype
                .to_lowercase()
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            let kind = if kind.parse::<Kind>().is_ok() {
                kind
            } else {
                "fact".into()
            };
            new_item(
                namespace,
                &kind,
                Some(ename),
                body.join("\n"),
                "import:mcp-memory",
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_memory() {
        let ns: Namespace = "memories".parse().unwrap();
        let items = from_lines(
            "- Likes tea\n\n* Lives in Lyon\n3. Has a cat\n• Speaks French\nPlain line\n",
            &ns,
        );
        let bodies: Vec<&str> = items.iter().map(|i| i.body.as_str()).collect();
        assert_eq!(
            bodies,
            [
                "Likes tea",
                "Lives in Lyon",
                "Has a cat",
                "Speaks French",
                "Plain line"
            ]
        );
        let mem = "{\"type\":\"entity\",\"name\":\"Ann\",\"entityType\":\"person\",\"observations\":[\"likes tea\"]}\n\
                   {\"type\":\"entity\",\"name\":\"Acme\",\"entityType\":\"organization\",\"observations\":[]}\n\
                   {\"type\":\"relation\",\"from\":\"Ann\",\"to\":\"Acme\",\"relationType\":\"works_at\"}\n";
        assert!(looks_like_mcp_memory(mem));
        let items = from_mcp_memory("m.jsonl", mem, &ns).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].title.as_deref(), Some("Ann"));
        assert_eq!(items[0].kind.as_str(), "person");
        assert_eq!(
            items[0].body,
            "- likes tea\n\nRelations:\n- Ann works_at Acme"
        );
        assert_eq!(items[1].body, "Relations:\n- Ann works_at Acme");
        let e = from_mcp_memory("m.jsonl", "{\"type\":\"entity\"}\n{oops", &ns)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("m.jsonl:1"), "{e}");
    }
}
