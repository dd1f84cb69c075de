//! Plain formats that need no ctxvault to read, and the formats people
//! bring in from other tools.
//!
//! # Markdown
//! One file per item, `<namespace path>/<id>.md`: a YAML front matter block
//! between `---` lines, whose values are JSON scalars and arrays (valid
//! YAML), then the body verbatim:
//!
//! ```text
//! ---
//! id: "0192f0c1-7c5e-7d3a-9a4e-3b1f2c4d5e6f"
//! namespace: "work/acme"
//! kind: "note"
//! title: "Q3 roadmap"
//! tags: ["planning"]
//! sensitivity: "normal"
//! source: "user"
//! created_at: "2026-11-22T00:00:00.000000Z"
//! updated_at: "2026-11-22T00:00:00.000000Z"
//! version: 1
//! ---
//! The body, exactly as stored.
//! ```
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

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::item::{Item, Kind, Namespace, Sensitivity, Source, Tag};

/// A record that does not parse: `at` is a line number or a file name.
#[derive(Debug, thiserror::Error)]
#[error("{at}: {reason}")]
pub struct FormatError {
    /// Where.
    pub at: String,
    /// What is wrong.
    pub reason: String,
}

fn ferr(at: impl Into<String>, reason: impl Into<String>) -> FormatError {
    FormatError {
        at: at.into(),
        reason: reason.into(),
    }
}

fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The Markdown file of an item, and its path relative to the export root.
pub fn to_markdown(i: &Item) -> (String, String) {
    let j = |v: &dyn erased::Json| v.json();
    let mut s = String::with_capacity(i.body.len() + 400);
    s.push_str("---\n");
    s.push_str(&format!("id: {}\n", j(&i.id.to_string())));
    s.push_str(&format!("namespace: {}\n", j(&i.namespace.as_str())));
    s.push_str(&format!("kind: {}\n", j(&i.kind.as_str())));
    if let Some(t) = &i.title {
        s.push_str(&format!("title: {}\n", j(t)));
    }
    let tags: Vec<&str> = i.tags.iter().map(Tag::as_str).collect();
    s.push_str(&format!("tags: {}\n", j(&tags)));
    s.push_str(&format!("sensitivity: {}\n", j(&i.sensitivity.as_str())));
    s.push_str(&format!("source: {}\n", j(&i.source.as_str())));
    s.push_str(&format!("created_at: {}\n", j(&ts(&i.created_at))));
    s.push_str(&format!("updated_at: {}\n", j(&ts(&i.updated_at))));
    s.push_str(&format!("version: {}\n", i.version));
    s.push_str("---\n");
    s.push_str(&i.body);
    (format!("{}/{}.md", i.namespace.as_str(), i.id), s)
}

mod erased {
    pub trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize + ?Sized> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap_or_default()
        }
    }
}

/// Read an item from a Markdown file with front matter. `name` is used in
/// errors; fields missing from the front matter get defaults (a new id,
/// namespace `notes`, kind `note`, now, version 1, source `import:markdown`).
pub fn from_markdown(name: &str, text: &str) -> Result<Item, FormatError> {
    let rest = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
        .ok_or_else(|| {
            ferr(
                format!("{name}:1"),
                "no front matter: the file must start with a --- line",
            )
        })?;
    let mut fields: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    let mut offset = text.len() - rest.len();
    let mut closed = false;
    for (n, line) in rest.split_inclusive('\n').enumerate() {
        offset += line.len();
        let l = line.trim_end_matches(['\n', '\r']);
        if l == "---" {
            closed = true;
            break;
        }
        if l.trim().is_empty() {
            continue;
        }
        let at = format!("{name}:{}", n + 2);
        let (k, v) = l
            .split_once(':')
            .ok_or_else(|| ferr(&at, format!("front matter line {l:?} is not `key: value`")))?;
        let v = v.trim();
        let value = serde_json::from_str(v)
            .or_else(|_| {
                if v.is_empty() {
                    Err(())
                } else {
                    Ok(serde_json::Value::String(v.to_owned()))
                }
            })
            .map_err(|_| ferr(&at, format!("no value for {k:?}")))?;
        fields.insert(k.trim().to_owned(), value);
    }
    if !closed {
        return Err(ferr(
            format!("{name}:1"),
            "the front matter is never closed by a --- line",
        ));
    }
    let body = text[offset..].to_owned();
    let at = format!("{name}:1");
    let get_str = |k: &str| -> Result<Option<String>, FormatError> {
        match fields.get(k) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Ok(Some(v.to_string())),
        }
    };
    let bad = |k: &str, e: &dyn std::fmt::Display| ferr(&at, format!("front matter {k}: {e}"));
    let now = Utc::now();
    let time = |k: &str| -> Result<DateTime<Utc>, FormatError> {
        match get_str(k)? {
            None => Ok(now),
            Some(s) => DateTime::parse_from_rfc3339(&s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| bad(k, &e)),
        }
    };
    let tags: Vec<Tag> = match fields.get("tags") {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .map(|t| t.as_str().unwrap_or_default().parse::<Tag>())
            .collect::<Result<_, _>>()
            .map_err(|e| bad("tags", &e))?,
        Some(_) => return Err(bad("tags", &"expected a list such as [\"a\", \"b\"]")),
    };
    Ok(Item {
        id: match get_str("id")? {
            Some(s) => s.parse().map_err(|e| bad("id", &e))?,
            None => Uuid::now_v7(),
        },
        namespace: get_str("namespace")?
            .map(|s| s.parse::<Namespace>())
            .transpose()
            .map_err(|e| bad("namespace", &e))?
            .unwrap_or_default(),
        kind: get_str("kind")?
            .map(|s| s.parse::<Kind>())
            .transpose()
            .map_err(|e| bad("kind", &e))?
            .unwrap_or_default(),
        title: get_str("title")?,
        body,
        tags,
        sensitivity: get_str("sensitivity")?
            .map(|s| s.parse::<Sensitivity>())
            .transpose()
            .map_err(|e| bad("sensitivity", &e))?
            .unwrap_or_default(),
        source: match get_str("source")? {
            Some(s) => s.parse::<Source>().map_err(|e| bad("source", &e))?,
            None => "import:markdown".parse().map_err(|e| bad("source", &e))?,
        },
        created_at: time("created_at")?,
        updated_at: time("updated_at")?,
        version: match fields.get("version") {
            None => 1,
            Some(v) => v
                .as_u64()
                .filter(|v| *v >= 1)
                .ok_or_else(|| bad("version", &"expected a whole number from 1"))?,
        },
    })
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
    fn markdown_roundtrip_and_errors() {
        let ns: Namespace = "work/acme".parse().unwrap();
        let mut i = new_item(
            &ns,
            "note",
            Some("Q3: \"roadmap\"".into()),
            "---\nbody with --- and\nlines\n".into(),
            "user",
        );
        i.tags = vec!["a".parse().unwrap(), "b-c".parse().unwrap()];
        i.version = 3;
        let now = DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap();
        i.created_at = now;
        i.updated_at = now;
        let (path, text) = to_markdown(&i);
        assert_eq!(path, format!("work/acme/{}.md", i.id));
        assert_eq!(from_markdown("x.md", &text).unwrap(), i);
        assert!(
            from_markdown("x.md", "no front matter")
                .unwrap_err()
                .to_string()
                .starts_with("x.md:1")
        );
        assert!(
            from_markdown("x.md", "---\nid: 1\n")
                .unwrap_err()
                .to_string()
                .contains("never closed")
        );
        let e = from_markdown("x.md", "---\nnamespace: \"Bad NS\"\n---\nbody")
            .unwrap_err()
            .to_string();
        assert!(e.contains("namespace"), "{e}");
        let e = from_markdown("x.md", "---\njust words\n---\nbody")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.md:2"), "{e}");
        // Hand-written files get defaults.
        let hand = from_markdown("h.md", "---\ntitle: My note\n---\nHello").unwrap();
        assert_eq!(
            (hand.title.as_deref(), hand.body.as_str(), hand.version),
            (Some("My note"), "Hello", 1)
        );
    }

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
