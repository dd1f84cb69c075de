//! Markdown files: the ones `export --format markdown` writes, and the ones
//! people write by hand or keep in tools such as Obsidian.
//!
//! An exported file is a YAML front matter block between `---` lines, whose
//! values are JSON scalars and arrays (valid YAML), then the body verbatim
//! and a newline (which reading takes off, as it does the newline that ends
//! any file):
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
//! Reading is lenient with hand-written files: the front matter is read by
//! a YAML parser (block lists, bare words, `tags: food, drink`, `#tags`,
//! dates such as `2024-05-01`, `created`/`date`/`updated`/`modified` for the
//! times); keys ctxvault has no field for are reported, not refused; a file
//! without front matter is a note whose title is its first heading.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use uuid::Uuid;
use yaml_rust2::{Yaml, YamlLoader};

use super::{FormatError, ferr};
use crate::item::{Item, Kind, Namespace, Sensitivity, Source, Tag};

/// Largest front matter read, in bytes.
pub const MAX_FRONT_MATTER: usize = 64 * 1024;

/// An item read from a Markdown file.
#[derive(Debug)]
pub struct Markdown {
    /// The item (not yet validated: see [`Item::validate`]).
    pub item: Item,
    /// False when the file had no front matter (all fields are defaults).
    pub front_matter: bool,
    /// Front matter keys that ctxvault has no field for, and so left out.
    pub ignored: Vec<String>,
    /// Tags that are not ctxvault tags (lowercase a-z 0-9 _ -), left out.
    pub bad_tags: Vec<String>,
}

fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn json<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The Markdown file of an item, and its path relative to the export root.
pub fn to_markdown(i: &Item) -> (String, String) {
    let mut s = String::with_capacity(i.body.len() + 400);
    s.push_str("---\n");
    s.push_str(&format!("id: {}\n", json(&i.id.to_string())));
    s.push_str(&format!("namespace: {}\n", json(i.namespace.as_str())));
    s.push_str(&format!("kind: {}\n", json(i.kind.as_str())));
    if let Some(t) = &i.title {
        s.push_str(&format!("title: {}\n", json(t)));
    }
    let tags: Vec<&str> = i.tags.iter().map(Tag::as_str).collect();
    s.push_str(&format!("tags: {}\n", json(&tags)));
    s.push_str(&format!("sensitivity: {}\n", json(i.sensitivity.as_str())));
    s.push_str(&format!("source: {}\n", json(i.source.as_str())));
    s.push_str(&format!("created_at: {}\n", json(&ts(&i.created_at))));
    s.push_str(&format!("updated_at: {}\n", json(&ts(&i.updated_at))));
    s.push_str(&format!("version: {}\n", i.version));
    s.push_str("---\n");
    s.push_str(&i.body);
    // Files end in a newline; reading takes one off again.
    s.push('\n');
    (format!("{}/{}.md", i.namespace.as_str(), i.id), s)
}

/// The body of a file: its text without the newline that ends the file.
fn body_of(text: &str) -> String {
    text.strip_suffix('\n').unwrap_or(text).to_owned()
}

/// The front matter text and the rest of the file.
fn split(name: &str, text: &str) -> Result<Option<(String, String)>, FormatError> {
    let mut lines = text.split_inclusive('\n');
    let first = lines.next().unwrap_or("");
    if first.trim_end() != "---" {
        return Ok(None);
    }
    let mut offset = first.len();
    let mut front = String::new();
    for line in lines {
        offset += line.len();
        let l = line.trim_end();
        if l == "---" || l == "..." {
            return Ok(Some((front, text[offset..].to_owned())));
        }
        if front.len() + line.len() > MAX_FRONT_MATTER {
            return Err(ferr(
                format!("{name}:1"),
                format!(
                    "the front matter is over {} KiB; is the closing --- line missing?",
                    MAX_FRONT_MATTER / 1024
                ),
            ));
        }
        front.push_str(line);
    }
    // Never closed: the first line was a rule, not front matter.
    Ok(None)
}

/// Deepest nesting of lists and maps front matter may have.
const MAX_DEPTH: usize = 16;
/// Most values front matter may hold.
const MAX_NODES: usize = 10_000;

/// Check front matter before it is loaded: no anchors or aliases (an
/// alias is copied where it is used, so a few of them make a small file
/// load as billions of values), at most [`MAX_DEPTH`] levels and
/// [`MAX_NODES`] values. The error and the line it is on.
fn check_shape(front: &str) -> Result<(), (usize, String)> {
    use yaml_rust2::parser::{Event, Parser};
    let mut parser = Parser::new_from_str(front);
    let (mut depth, mut nodes) = (0usize, 0usize);
    loop {
        let (event, mark) = parser.next_token().map_err(|e| {
            (
                e.marker().line(),
                format!("the front matter is not valid YAML: {}", e.info()),
            )
        })?;
        let line = mark.line();
        let anchored = match &event {
            Event::Alias(_) => true,
            Event::Scalar(_, _, a, _) | Event::SequenceStart(a, _) | Event::MappingStart(a, _) => {
                *a != 0
            }
            _ => false,
        };
        if anchored {
            return Err((line, "the front matter uses YAML anchors or aliases (& or *), which ctxvault does not read; write the values out".into()));
        }
        match event {
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                depth += 1;
                nodes += 1;
            }
            Event::SequenceEnd | Event::MappingEnd => depth = depth.saturating_sub(1),
            Event::Scalar(..) => nodes += 1,
            Event::StreamEnd => return Ok(()),
            _ => {}
        }
        if depth > MAX_DEPTH || nodes > MAX_NODES {
            return Err((
                line,
                format!(
                    "the front matter nests deeper than {MAX_DEPTH} levels or holds more than {MAX_NODES} values; it is not an item's fields"
                ),
            ));
        }
    }
}

/// The text of the first heading (`# Title`) outside code blocks.
fn first_heading(body: &str) -> Option<String> {
    let mut fence: Option<&str> = None;
    for line in body.lines() {
        let t = line.trim_start();
        if let Some(f) = fence {
            if t.starts_with(f) {
                fence = None;
            }
            continue;
        }
        if t.starts_with("```") || t.starts_with("~~~") {
            fence = Some(&t[..3]);
            continue;
        }
        let hashes = t.len() - t.trim_start_matches('#').len();
        if (1..=6).contains(&hashes) && t[hashes..].starts_with([' ', '\t']) {
            let title = t[hashes..].trim().trim_end_matches('#').trim();
            if !title.is_empty() {
                return Some(title.to_owned());
            }
        }
    }
    None
}

/// The text of a YAML scalar; `None` for null.
fn scalar(v: &Yaml) -> Result<Option<String>, &'static str> {
    match v {
        Yaml::String(s) | Yaml::Real(s) => Ok(Some(s.clone())),
        Yaml::Integer(n) => Ok(Some(n.to_string())),
        Yaml::Boolean(b) => Ok(Some(b.to_string())),
        Yaml::Null => Ok(None),
        Yaml::Array(_) | Yaml::Hash(_) | Yaml::Alias(_) | Yaml::BadValue => {
            Err("expected a single value, not a list or a map")
        }
    }
}

/// The source of an item read from a Markdown file without one.
fn imported() -> Source {
    "import:markdown".parse().unwrap_or_else(|_| Source::user())
}

/// A tag as people write it (`#Food`, ` travel `, Obsidian's nested
/// `project/alpha`) made a ctxvault tag (`food`, `travel`,
/// `project-alpha`); `None` when it cannot be one.
fn tag(raw: &str) -> Option<Tag> {
    raw.trim()
        .trim_start_matches('#')
        .to_lowercase()
        .replace(['/', ' '], "-")
        .parse()
        .ok()
}

/// A time: RFC 3339, a date (`2024-05-01`, midnight UTC) or a date and time
/// without zone (`2024-05-01 10:30`, UTC).
fn time(s: &str) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    for f in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(t.and_utc());
        }
    }
    Err(format!(
        "{s:?} is not a date; write 2024-05-01, 2024-05-01 10:30 or an RFC 3339 time"
    ))
}

/// The keys a field is read from, first found wins.
const CREATED: &[&str] = &["created_at", "created", "date"];
const UPDATED: &[&str] = &["updated_at", "updated", "modified", "lastmod"];
const KNOWN: &[&str] = &[
    "id",
    "namespace",
    "kind",
    "title",
    "tags",
    "sensitivity",
    "source",
    "version",
];

/// The front matter (its text and its fields) and the rest of the file;
/// `None` when the file has none. A block that is only words (a `---`
/// rule, text, another rule) is text, not front matter.
fn front_matter(
    name: &str,
    text: &str,
) -> Result<Option<(String, yaml_rust2::yaml::Hash, String)>, FormatError> {
    let Some((front, rest)) = split(name, text)? else {
        return Ok(None);
    };
    check_shape(&front).map_err(|(line, why)| ferr(format!("{name}:{}", line + 1), why))?;
    let docs = YamlLoader::load_from_str(&front).map_err(|e| {
        ferr(
            format!("{name}:{}", e.marker().line() + 1),
            format!("the front matter is not valid YAML: {}", e.info()),
        )
    })?;
    match docs.into_iter().next() {
        None | Some(Yaml::Null) => Ok(Some((front, Default::default(), rest))),
        Some(Yaml::Hash(h)) => Ok(Some((front, h, rest))),
        Some(Yaml::String(_) | Yaml::Integer(_) | Yaml::Real(_) | Yaml::Boolean(_)) => Ok(None),
        Some(_) => Err(ferr(
            format!("{name}:2"),
            "the front matter is not a set of `key: value` lines",
        )),
    }
}

/// Read an item from a Markdown file. `name` is used in errors. Fields the
/// file does not give get defaults: a new id, namespace `notes`, kind
/// `note`, sensitivity `normal`, source `import:markdown`, now, version 1;
/// without a title (and without an id, so not one of our exports), the
/// first heading is the title.
pub fn from_markdown(name: &str, text: &str) -> Result<Markdown, FormatError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some((front, map, rest)) = front_matter(name, text)? else {
        let now = Utc::now();
        let item = Item {
            id: Uuid::now_v7(),
            namespace: Namespace::default(),
            kind: Kind::default(),
            title: first_heading(text),
            body: body_of(text),
            tags: Vec::new(),
            sensitivity: Sensitivity::default(),
            source: imported(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        return Ok(Markdown {
            item,
            front_matter: false,
            ignored: Vec::new(),
            bad_tags: Vec::new(),
        });
    };
    // Where a key is, for errors: the line it starts on.
    let line_of = |key: &str| {
        front
            .lines()
            .position(|l| {
                l.strip_prefix(key)
                    .is_some_and(|r| r.trim_start().starts_with(':'))
            })
            .map_or(1, |n| n + 2)
    };
    let mut fields: Vec<(String, Yaml)> = Vec::with_capacity(map.len());
    for (k, v) in map {
        let k = scalar(&k)
            .ok()
            .flatten()
            .ok_or_else(|| ferr(format!("{name}:2"), "a front matter key is not a word"))?;
        fields.push((k, v));
    }
    let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v);
    let bad = |k: &str, e: &dyn std::fmt::Display| {
        ferr(
            format!("{name}:{}", line_of(k)),
            format!("front matter {k}: {e}"),
        )
    };
    let text_of = |k: &str| -> Result<Option<String>, FormatError> {
        get(k)
            .map_or(Ok(None), |v| scalar(v))
            .map_err(|e| bad(k, &e))
    };
    let parsed = |k: &str| -> Result<Option<String>, FormatError> {
        Ok(text_of(k)?.filter(|s| !s.trim().is_empty()))
    };
    let time_of = |keys: &[&str]| -> Result<Option<DateTime<Utc>>, FormatError> {
        for k in keys {
            if let Some(s) = parsed(k)? {
                return time(&s).map(Some).map_err(|e| bad(k, &e));
            }
        }
        Ok(None)
    };
    let written: Vec<String> = match get("tags") {
        None | Some(Yaml::Null) => Vec::new(),
        Some(Yaml::Array(a)) => a
            .iter()
            .filter_map(|t| scalar(t).transpose())
            .collect::<Result<_, _>>()
            .map_err(|e| bad("tags", &e))?,
        Some(v) => scalar(v)
            .map_err(|e| bad("tags", &e))?
            .unwrap_or_default()
            .split([',', ' '])
            .filter(|t| !t.trim().is_empty())
            .map(str::to_owned)
            .collect(),
    };
    let (mut tags, mut bad_tags): (Vec<Tag>, Vec<String>) = (Vec::new(), Vec::new());
    for t in written {
        match tag(&t) {
            Some(t) => tags.push(t),
            None => bad_tags.push(t),
        }
    }
    let id = parsed("id")?
        .map(|s| s.trim().parse::<Uuid>().map_err(|e| bad("id", &e)))
        .transpose()?;
    let body = body_of(&rest);
    let title = text_of("title")?;
    let title = match (title, id) {
        (None, None) => first_heading(&body),
        (t, _) => t,
    };
    let now = Utc::now();
    let created_at = time_of(CREATED)?;
    let updated_at = time_of(UPDATED)?;
    let item = Item {
        id: id.unwrap_or_else(Uuid::now_v7),
        namespace: parsed("namespace")?
            .map(|s| {
                s.trim()
                    .parse::<Namespace>()
                    .map_err(|e| bad("namespace", &e))
            })
            .transpose()?
            .unwrap_or_default(),
        kind: parsed("kind")?
            .map(|s| {
                s.trim()
                    .to_lowercase()
                    .parse::<Kind>()
                    .map_err(|e| bad("kind", &e))
            })
            .transpose()?
            .unwrap_or_default(),
        title,
        body,
        tags,
        sensitivity: parsed("sensitivity")?
            .map(|s| {
                s.trim()
                    .to_lowercase()
                    .parse::<Sensitivity>()
                    .map_err(|e| bad("sensitivity", &e))
            })
            .transpose()?
            .unwrap_or_default(),
        source: match parsed("source")? {
            Some(s) => s.parse::<Source>().map_err(|e| bad("source", &e))?,
            None => imported(),
        },
        created_at: created_at.unwrap_or(now),
        updated_at: updated_at.or(created_at).unwrap_or(now),
        version: match get("version") {
            None | Some(Yaml::Null) => 1,
            Some(Yaml::Integer(v)) if *v >= 1 => *v as u64,
            Some(_) => return Err(bad("version", &"expected a whole number from 1")),
        },
    };
    let ignored = fields
        .iter()
        .map(|(k, _)| k)
        .filter(|k| {
            !KNOWN.contains(&k.as_str())
                && !CREATED.contains(&k.as_str())
                && !UPDATED.contains(&k.as_str())
        })
        .cloned()
        .collect();
    Ok(Markdown {
        item,
        front_matter: true,
        ignored,
        bad_tags,
    })
}

#[cfg(test)]
#[path = "markdown_tests.rs"]
mod tests;
