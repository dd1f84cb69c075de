//! Conversation history from other assistants: ChatGPT's and Claude's data
//! exports and generic chat transcripts, read as streams (one conversation
//! in memory at a time) and cut into items that retrieval can use.
//!
//! # What a conversation becomes
//! Chunks of consecutive turns: a user message with the answers to it, cut
//! into parts where that passes [`WINDOW`] characters. Each chunk is an item
//! under `history/<source>/<year>`, kind `conversation`, sensitivity
//! `private`, titled with the conversation's title, dated by its first
//! message, with source `import:<source>`. Its body ends with a line naming
//! the conversation and the ids of the chunks before and after it (32 hex
//! digits, as `get` takes them).
//!
//! A chunk's id is derived from the source, the conversation and the first
//! message in it (a version 7 UUID carrying the chunk's time), so importing a
//! newer export of the same account yields the same ids for what was
//! already there: only the new turns are added.

use std::io::Read;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use serde::de::{DeserializeOwned, SeqAccess, Visitor};
use uuid::Uuid;

use super::FormatError;
use crate::item::{Item, Namespace, Sensitivity, Source};

pub mod chatgpt;
pub mod claude;
pub mod transcript;

/// Largest chunk body, in characters, before it is cut into parts.
pub const WINDOW: usize = 4000;

/// Where a history comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// ChatGPT's data export.
    ChatGpt,
    /// Claude's data export.
    Claude,
    /// Chat transcripts in the OpenAI messages shape.
    Transcript,
}

impl Origin {
    /// The word used in namespaces and sources.
    pub fn word(self) -> &'static str {
        match self {
            Origin::ChatGpt => "chatgpt",
            Origin::Claude => "claude",
            Origin::Transcript => "transcript",
        }
    }

    /// The name people know it by.
    pub fn display(self) -> &'static str {
        match self {
            Origin::ChatGpt => "ChatGPT",
            Origin::Claude => "Claude",
            Origin::Transcript => "transcript",
        }
    }
}

/// Who said it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The user.
    User,
    /// The assistant.
    Assistant,
}

/// One message kept from a conversation.
#[derive(Clone, Debug)]
pub struct Message {
    /// Its id in the export (stable across exports).
    pub id: String,
    /// Who said it.
    pub role: Role,
    /// When, where the export says.
    pub time: Option<DateTime<Utc>>,
    /// The text.
    pub text: String,
    /// Names of attached files.
    pub attachments: Vec<String>,
}

/// One conversation, its messages in order (the current branch only).
#[derive(Clone, Debug)]
pub struct Conversation {
    /// Its id in the export.
    pub id: String,
    /// Its title.
    pub title: Option<String>,
    /// When it started, where the export says.
    pub created: Option<DateTime<Utc>>,
    /// Its messages.
    pub messages: Vec<Message>,
}

/// Counts over what an import reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Conversations read.
    pub conversations: u64,
    /// Messages kept.
    pub messages: u64,
    /// Chunks of conversations made.
    pub chunks: u64,
    /// Items made of memories and projects.
    pub notes: u64,
    /// The earliest time seen.
    pub first: Option<DateTime<Utc>>,
    /// The latest time seen.
    pub last: Option<DateTime<Utc>>,
}

impl Tally {
    fn saw(&mut self, t: Option<DateTime<Utc>>) {
        if let Some(t) = t {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
    }
}

/// The items of one conversation, in order, linked to their neighbours.
pub fn chunks(origin: Origin, c: &Conversation, tally: &mut Tally) -> Vec<Item> {
    tally.conversations += 1;
    // Turns: a user message and what answers it (a conversation may open
    // with the assistant).
    let mut turns: Vec<&[Message]> = Vec::new();
    let mut start = 0;
    for (k, m) in c.messages.iter().enumerate() {
        tally.messages += 1;
        tally.saw(m.time);
        if m.role == Role::User && k > start {
            turns.push(&c.messages[start..k]);
            start = k;
        }
    }
    if start < c.messages.len() {
        turns.push(&c.messages[start..]);
    }
    // Parts: (id key, time, last time, text).
    type Part = (String, Option<DateTime<Utc>>, Option<DateTime<Utc>>, String);
    let mut parts: Vec<Part> = Vec::new();
    for turn in turns {
        let first = &turn[0];
        let time = turn.iter().find_map(|m| m.time).or(c.created);
        let last = turn.iter().rev().find_map(|m| m.time).or(time);
        let text = turn.iter().map(render).collect::<Vec<_>>().join("\n\n");
        for (k, piece) in cut(&text, WINDOW).into_iter().enumerate() {
            parts.push((format!("{}#{k}", first.id), time, last, piece));
        }
    }
    let ids: Vec<Uuid> = parts
        .iter()
        .map(|(key, time, _, _)| chunk_id(origin, &c.id, key, *time))
        .collect();
    let source: Source = format!("import:{}", origin.word())
        .parse()
        .unwrap_or_else(|_| Source::user());
    let title = c
        .title
        .as_deref()
        .and_then(one_line)
        .unwrap_or_else(|| "Untitled conversation".into());
    let items: Vec<Item> = parts
        .into_iter()
        .enumerate()
        .map(|(k, (_, time, last, text))| {
            let mut links = format!("({} conversation {}", origin.display(), c.id);
            // Ids without dashes: one search token each, not five that no
            // other text shares (`get` and get_context take this form).
            if k > 0 {
                links.push_str(&format!("; previous: {}", ids[k - 1].simple()));
            }
            if let Some(next) = ids.get(k + 1) {
                links.push_str(&format!("; next: {}", next.simple()));
            }
            links.push(')');
            let created = time.unwrap_or(DateTime::UNIX_EPOCH);
            Item {
                id: ids[k],
                namespace: namespace(origin, time),
                kind: "conversation".parse().unwrap_or_default(),
                title: Some(title.clone()),
                body: format!("{text}\n\n{links}"),
                tags: Vec::new(),
                sensitivity: Sensitivity::Private,
                source: source.clone(),
                created_at: created,
                updated_at: last.unwrap_or(created).max(created),
                version: 1,
            }
        })
        .collect();
    tally.chunks += items.len() as u64;
    items
}

/// An item of an export that is not a conversation (a memory, a project).
pub struct Note {
    /// Where under `history/<source>/` it goes.
    pub area: &'static str,
    /// What names it stably within the export.
    pub key: String,
    /// Its kind.
    pub kind: &'static str,
    /// Its title.
    pub title: Option<String>,
    /// Its text.
    pub body: String,
    /// When, where the export says.
    pub time: Option<DateTime<Utc>>,
}

/// The items of a [`Note`] (more than one where its text passes
/// [`WINDOW`]).
pub fn note(origin: Origin, n: Note, tally: &mut Tally) -> Vec<Item> {
    tally.saw(n.time);
    let source: Source = format!("import:{}", origin.word())
        .parse()
        .unwrap_or_else(|_| Source::user());
    let namespace: Namespace = format!("history/{}/{}", origin.word(), n.area)
        .parse()
        .unwrap_or_default();
    let created = n.time.unwrap_or(DateTime::UNIX_EPOCH);
    let items: Vec<Item> = cut(n.body.trim(), WINDOW)
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .enumerate()
        .map(|(k, piece)| Item {
            id: chunk_id(origin, n.area, &format!("{}#{k}", n.key), n.time),
            namespace: namespace.clone(),
            kind: n.kind.parse().unwrap_or_default(),
            title: n.title.as_deref().and_then(one_line),
            body: piece,
            tags: Vec::new(),
            sensitivity: Sensitivity::Private,
            source: source.clone(),
            created_at: created,
            updated_at: created,
            version: 1,
        })
        .collect();
    tally.notes += items.len() as u64;
    items
}

/// True when `new` is `old` with only a link to the next chunk added (the
/// conversation went on in a later export): the same source, place and
/// title, and `old`'s closing link line now naming a next chunk.
pub fn extends(old: &Item, new: &Item) -> bool {
    let last_line = old.body.rsplit('\n').next().unwrap_or("");
    old.source == new.source
        && old.namespace == new.namespace
        && old.title == new.title
        && old.source.as_str().starts_with("import:")
        && last_line.starts_with('(')
        && !last_line.contains("; next: ")
        && old.body.strip_suffix(')').is_some_and(|head| {
            new.body
                .strip_prefix(head)
                .and_then(|rest| rest.strip_prefix("; next: "))
                .and_then(|rest| rest.strip_suffix(')'))
                .is_some_and(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        })
}

/// A title as one line of at most 200 characters (titles in exports may
/// hold line breaks); `None` when nothing is left.
fn one_line(t: &str) -> Option<String> {
    let t: String = t
        .split(|c: char| c.is_control())
        .filter(|p| !p.trim().is_empty())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    (!t.is_empty()).then(|| t.chars().take(200).collect())
}

fn namespace(origin: Origin, time: Option<DateTime<Utc>>) -> Namespace {
    let year = time.map_or("undated".to_owned(), |t| t.format("%Y").to_string());
    format!("history/{}/{year}", origin.word())
        .parse()
        .unwrap_or_default()
}

fn render(m: &Message) -> String {
    let who = match m.role {
        Role::User => "User",
        Role::Assistant => "Assistant",
    };
    let mut s = format!("{who}: {}", m.text.trim());
    if !m.attachments.is_empty() {
        s.push_str(&format!("\n[attached: {}]", m.attachments.join(", ")));
    }
    s
}

/// `text` in pieces of at most `max` characters, cut at a paragraph, line
/// or word break where there is one in the second half of a piece.
fn cut(text: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    // `nth(max)` finds whether more than `max` are left, looking no further.
    while let Some((end, _)) = rest.char_indices().nth(max) {
        let head = &rest[..end];
        let half = head.char_indices().nth(max / 2).map_or(0, |(i, _)| i);
        let at = ["\n\n", "\n", " "]
            .iter()
            .find_map(|sep| head[half..].rfind(sep).map(|i| half + i))
            .filter(|i| *i > 0)
            .unwrap_or(end);
        out.push(rest[..at].trim_end().to_owned());
        rest = rest[at..].trim_start();
    }
    if !rest.is_empty() || out.is_empty() {
        out.push(rest.to_owned());
    }
    out
}

/// A version 7 UUID with the chunk's time whose other bits come from a
/// digest of where it came from: the same chunk always gets the same id.
fn chunk_id(origin: Origin, conversation: &str, key: &str, time: Option<DateTime<Utc>>) -> Uuid {
    let mut d = ring::digest::Context::new(&ring::digest::SHA256);
    for part in ["ctxvault history chunk", origin.word(), conversation, key] {
        d.update(&(part.len() as u64).to_le_bytes());
        d.update(part.as_bytes());
    }
    let digest = d.finish();
    let mut bits = [0u8; 10];
    bits.copy_from_slice(&digest.as_ref()[..10]);
    let ms = time.map_or(0, |t| t.timestamp_millis().max(0) as u64);
    uuid::Builder::from_unix_timestamp_millis(ms, &bits).into_uuid()
}

/// Seconds since the epoch (ChatGPT's times) as a time.
pub(crate) fn from_epoch(secs: Option<f64>) -> Option<DateTime<Utc>> {
    let s = secs.filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e11)?;
    DateTime::from_timestamp_millis((s * 1000.0) as i64)
}

/// An RFC 3339 time (Claude's), when it is one.
pub(crate) fn from_rfc3339(s: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s?).ok().map(|t| t.to_utc())
}

/// Read a JSON array from `r` one element at a time, handing each to `f`
/// with its position; `file` names the input in errors, which give the line
/// and column. `what` says what the elements should be. An error from `f`
/// ends the read and is returned as it is.
pub fn each_in_array<T, R, F>(file: &str, what: &str, r: R, f: F) -> Result<u64, ReadError>
where
    T: DeserializeOwned,
    R: Read,
    F: FnMut(u64, T) -> Result<(), String>,
{
    struct Each<'a, T, F> {
        f: F,
        what: &'a str,
        stopped: &'a mut Option<String>,
        _t: PhantomData<T>,
    }
    impl<'de, T: DeserializeOwned, F: FnMut(u64, T) -> Result<(), String>> Visitor<'de>
        for Each<'_, T, F>
    {
        type Value = u64;
        fn expecting(&self, out: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(out, "an array of {}", self.what)
        }
        fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<u64, A::Error> {
            let mut n = 0;
            while let Some(x) = seq.next_element::<T>()? {
                if let Err(e) = (self.f)(n, x) {
                    *self.stopped = Some(e);
                    return Err(serde::de::Error::custom("stopped"));
                }
                n += 1;
            }
            Ok(n)
        }
    }
    let mut stopped = None;
    let mut de =
        serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(1 << 16, r));
    let each = Each {
        f,
        what,
        stopped: &mut stopped,
        _t: PhantomData,
    };
    let read =
        serde::Deserializer::deserialize_seq(&mut de, each).and_then(|n| de.end().map(|_| n));
    match (read, stopped) {
        (_, Some(e)) => Err(ReadError::Stopped(e)),
        (Ok(n), None) => Ok(n),
        (Err(e), None) => Err(ReadError::Format(json_error(file, what, &e))),
    }
}

/// Why reading an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The input is not what it should be.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// The one handed the items said stop.
    #[error("{0}")]
    Stopped(String),
}

/// serde's message with any quoted value of the user's taken out (`invalid
/// type: string "..."` would print what they wrote).
pub(crate) fn quiet(msg: &str) -> String {
    match msg.find("string \"") {
        Some(i) => match msg[i + 8..].find("\", expected") {
            Some(j) => format!("{}string{}", &msg[..i], &msg[i + 8 + j + 1..]),
            None => msg[..i + 6].to_owned(),
        },
        None => msg.to_owned(),
    }
}

/// A JSON error as one line naming the file and position.
pub(crate) fn json_error(file: &str, what: &str, e: &serde_json::Error) -> FormatError {
    use serde_json::error::Category;
    let at = format!("{file}: line {} column {}", e.line(), e.column());
    // serde_json puts the position at the end of its message: keep it once.
    let msg = e.to_string();
    let msg = quiet(
        msg.rsplit_once(" at line ")
            .map_or(msg.as_str(), |(m, _)| m),
    );
    let reason = match e.classify() {
        Category::Eof => {
            format!("the file ends early ({msg}): truncated? download the export again")
        }
        Category::Syntax => format!("not JSON ({msg})"),
        Category::Data => format!("not {what} of a version ctxvault knows ({msg})"),
        Category::Io => format!("cannot read ({msg})"),
    };
    super::ferr(at, reason)
}

#[cfg(test)]
mod tests;
