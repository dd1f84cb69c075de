//! `ctxvault import` of conversation history: ChatGPT's and Claude's data
//! exports (the zip or its `conversations.json`) and chat transcripts.
//!
//! Two passes over the file, each a stream: the first reads everything and
//! checks it (a bad record anywhere stops the import before anything is
//! written) and counts; the second reads it again and sends the items to
//! the agent in batches while reading goes on. Only one conversation and a
//! few batches are in memory at a time.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};
use vault_core::formats::history::{
    self, Conversation, Note, Origin, ReadError, Tally, chatgpt, claude, transcript,
};
use vault_core::{Item, Tag};
use vault_daemon::client::Bytes;
use vault_daemon::protocol as p;

use crate::ctx::Ctx;
use crate::output;

/// Items sent to the agent per batch (one transaction each).
const BATCH_ITEMS: usize = 1000;
/// Text per batch, at most (about).
const BATCH_BYTES: usize = 4 << 20;

/// What a history file is, and where its parts are.
pub struct History {
    path: PathBuf,
    origin: Origin,
    /// The parts to read, in order.
    parts: Vec<Part>,
}

/// One file of an export.
#[derive(Clone)]
enum Part {
    /// Conversations, in a zip entry or a file.
    Conversations(Place),
    /// Claude's projects.
    Projects(Place),
    /// Claude's memories.
    Memories(Place),
}

#[derive(Clone)]
enum Place {
    File(PathBuf),
    Entry(String),
}

const PEEK: usize = 64 * 1024;

/// How the first bytes of a conversations file say whose export it is.
fn whose(head: &[u8]) -> Option<Origin> {
    let text = String::from_utf8_lossy(head);
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if !t.starts_with('[') {
        return None;
    }
    match (text.find("\"mapping\""), text.find("\"chat_messages\"")) {
        (Some(a), Some(b)) => Some(if a < b {
            Origin::ChatGpt
        } else {
            Origin::Claude
        }),
        (Some(_), None) => Some(Origin::ChatGpt),
        (None, Some(_)) => Some(Origin::Claude),
        (None, None) => None,
    }
}

fn peek(r: impl Read) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(PEEK);
    r.take(PEEK as u64).read_to_end(&mut head)?;
    Ok(head)
}

fn is_conversations(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name);
    base == "conversations.json"
        || base
            .strip_prefix("conversations-")
            .and_then(|r| r.strip_suffix(".json"))
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

fn zip_error(path: &Path, e: zip::result::ZipError) -> anyhow::Error {
    anyhow!(
        "{}: not a zip ctxvault can read ({e}): damaged or truncated? download the export again",
        path.display()
    )
}

impl History {
    /// The history in `path`, if it is one: `None` for other formats. A zip
    /// that is not an export, or a conversations file of neither kind, is
    /// an error. `forced` is the `--format` given, if any.
    pub fn detect(path: &Path, forced: Option<Origin>) -> anyhow::Result<Option<History>> {
        let name = path.display();
        let mut f = File::open(path).map_err(|e| anyhow!("{name}: cannot read: {e}"))?;
        let head = peek(&mut f).map_err(|e| anyhow!("{name}: cannot read: {e}"))?;
        if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
            return Self::zip(path, forced).map(Some);
        }
        let origin = match forced {
            Some(o) => Some(o),
            None => whose(&head).or_else(|| {
                let first = String::from_utf8_lossy(&head);
                let line = first.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                transcript::looks_like(line).then_some(Origin::Transcript)
            }),
        };
        let Some(origin) = origin else {
            // A JSON array is never one memory per line.
            let text = String::from_utf8_lossy(&head);
            if text
                .trim_start_matches('\u{feff}')
                .trim_start()
                .starts_with('[')
            {
                bail!(
                    "{name}: a JSON array, but not ChatGPT or Claude conversations of a version ctxvault knows (no `mapping` or `chat_messages`); for Claude's projects.json or memories.json, import the export's zip or the conversations.json beside them"
                );
            }
            return Ok(None);
        };
        let mut parts = vec![Part::Conversations(Place::File(path.to_owned()))];
        // Claude's other files, beside its conversations.json.
        if origin == Origin::Claude
            && let Some(dir) = path.parent()
        {
            for (file, part) in [
                ("projects.json", Part::Projects as fn(Place) -> Part),
                ("memories.json", Part::Memories),
            ] {
                let p = dir.join(file);
                if p.is_file() {
                    parts.push(part(Place::File(p)));
                }
            }
        }
        Ok(Some(History {
            path: path.to_owned(),
            origin,
            parts,
        }))
    }

    fn zip(path: &Path, forced: Option<Origin>) -> anyhow::Result<History> {
        let f = File::open(path).map_err(|e| anyhow!("{}: cannot read: {e}", path.display()))?;
        let mut z = zip::ZipArchive::new(f).map_err(|e| zip_error(path, e))?;
        let mut names: Vec<String> = z
            .file_names()
            .map(|n| n.map(|n| n.into_owned()))
            .collect::<Result<_, _>>()
            .map_err(|e| zip_error(path, e))?;
        names.sort();
        let convs: Vec<String> = names
            .iter()
            .filter(|n| is_conversations(n))
            .cloned()
            .collect();
        let Some(first) = convs.first() else {
            bail!(
                "{}: a zip, but not a ChatGPT or Claude data export (it holds no conversations.json); unpack it and import what is inside",
                path.display()
            );
        };
        let head = peek(z.by_name(first).map_err(|e| zip_error(path, e))?)
            .map_err(|e| anyhow!("{}, {first}: cannot read: {e}", path.display()))?;
        let origin = match forced.or_else(|| whose(&head)) {
            Some(o) => o,
            None => bail!(
                "{}, {first}: neither a ChatGPT nor a Claude export of a version ctxvault knows (no conversations with `mapping` or `chat_messages`)",
                path.display()
            ),
        };
        let mut parts: Vec<Part> = convs
            .into_iter()
            .map(|n| Part::Conversations(Place::Entry(n)))
            .collect();
        if origin == Origin::Claude {
            for n in &names {
                let base = n.rsplit('/').next().unwrap_or(n);
                let in_projects =
                    n.split('/').rev().nth(1) == Some("projects") && base.ends_with(".json");
                if base == "projects.json" || in_projects {
                    parts.push(Part::Projects(Place::Entry(n.clone())));
                } else if base == "memories.json" {
                    parts.push(Part::Memories(Place::Entry(n.clone())));
                }
            }
        }
        Ok(History {
            path: path.to_owned(),
            origin,
            parts,
        })
    }

    /// The export in words, for reports.
    pub fn words(&self) -> String {
        match self.origin {
            Origin::Transcript => "chat transcripts".into(),
            o => format!("a {} data export", o.display()),
        }
    }

    /// The format's name, as `--format` takes it.
    pub fn format_name(&self) -> &'static str {
        match self.origin {
            Origin::ChatGpt => "chatgpt",
            Origin::Claude => "claude",
            Origin::Transcript => "transcript",
        }
    }

    /// Read every part, handing `sink` the items of each conversation,
    /// memory or project; returns the counts.
    fn read(
        &self,
        tags: &[Tag],
        sink: &mut dyn FnMut(Vec<Item>) -> Result<(), String>,
    ) -> anyhow::Result<Tally> {
        let mut tally = Tally::default();
        let mut zip = match self.parts.first() {
            Some(Part::Conversations(Place::Entry(_))) => Some(
                zip::ZipArchive::new(
                    File::open(&self.path)
                        .map_err(|e| anyhow!("{}: cannot read: {e}", self.path.display()))?,
                )
                .map_err(|e| zip_error(&self.path, e))?,
            ),
            _ => None,
        };
        let origin = self.origin;
        for part in &self.parts {
            let place = match part {
                Part::Conversations(p) | Part::Projects(p) | Part::Memories(p) => p,
            };
            let (name, reader): (String, Box<dyn Read + '_>) = match (place, zip.as_mut()) {
                (Place::File(f), _) => (
                    f.display().to_string(),
                    Box::new(
                        File::open(f).map_err(|e| anyhow!("{}: cannot read: {e}", f.display()))?,
                    ),
                ),
                (Place::Entry(n), Some(z)) => (
                    format!("{}, {n}", self.path.display()),
                    Box::new(z.by_name(n).map_err(|e| zip_error(&self.path, e))?),
                ),
                (Place::Entry(_), None) => bail!("{}: not a zip", self.path.display()),
            };
            let mut with_tags = |mut items: Vec<Item>| {
                for i in &mut items {
                    i.tags.extend(tags.iter().cloned());
                    i.validate().map_err(|e| format!("{e}"))?;
                }
                sink(items)
            };
            let t = &mut tally;
            let mut conv = |c: Conversation| with_tags(history::chunks(origin, &c, t));
            let read = match (part, origin) {
                (Part::Conversations(_), Origin::ChatGpt) => {
                    chatgpt::read(&name, reader, &mut conv)
                }
                (Part::Conversations(_), Origin::Claude) => claude::read(&name, reader, &mut conv),
                (Part::Conversations(_), Origin::Transcript) => {
                    transcript::read(&name, BufReader::new(reader) as BufReader<_>, &mut conv)
                }
                (Part::Projects(_), _) => claude::read_projects(&name, reader, |notes| {
                    with_tags(notes_items(origin, notes, t))
                }),
                (Part::Memories(_), _) => claude::read_memories(&name, reader, |notes| {
                    with_tags(notes_items(origin, notes, t))
                }),
            };
            match read {
                Ok(_) => {}
                Err(ReadError::Format(e)) => return Err(e.into()),
                Err(ReadError::Stopped(e)) => bail!("{name}: {e}"),
            }
        }
        Ok(tally)
    }

    /// Import: check and count, then send in batches. With `dry_run` the
    /// agent only counts what is new.
    pub async fn import(&self, ctx: &Ctx, tags: &[Tag], dry_run: bool) -> anyhow::Result<()> {
        // Pass 1: everything is read and checked before anything is sent.
        let tally = self.read(tags, &mut |_| Ok(()))?;
        // Pass 2: read again on a thread of its own; batches go to the
        // agent as they fill.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Item>>(2);
        let me = History {
            path: self.path.clone(),
            origin: self.origin,
            parts: self.parts.clone(),
        };
        let tags = tags.to_vec();
        let reader = tokio::task::spawn_blocking(move || {
            let mut batch: Vec<Item> = Vec::new();
            let mut bytes = 0;
            let mut send = |items: Vec<Item>| -> Result<(), String> {
                for i in items {
                    bytes += i.body.len();
                    batch.push(i);
                    if batch.len() >= BATCH_ITEMS || bytes >= BATCH_BYTES {
                        bytes = 0;
                        tx.blocking_send(std::mem::take(&mut batch))
                            .map_err(|_| "the import stopped".to_owned())?;
                    }
                }
                Ok(())
            };
            me.read(&tags, &mut send)?;
            if !batch.is_empty() {
                tx.blocking_send(batch)
                    .map_err(|_| anyhow!("the import stopped"))?;
            }
            Ok::<_, anyhow::Error>(())
        });
        let bar = output::progress(tally.chunks as usize, "importing");
        let (mut added, mut duplicates, mut updated) = (0u64, 0u64, 0u64);
        let opts = p::Import {
            dry_run,
            with_policy: false,
            prefix: None,
            tags: Vec::new(),
            ids_only: true,
        };
        while let Some(items) = rx.recv().await {
            let n = items.len() as u64;
            let text = Bytes::from_owner(
                vault_core::bundle::Contents {
                    items,
                    ..Default::default()
                }
                .to_ndjson(chrono::Utc::now()),
            );
            let s = match ctx.import(&opts, text).await? {
                Ok(s) => s,
                Err(e) => {
                    bar.finish_and_clear();
                    bail!(
                        "{}: {}{}",
                        self.path.display(),
                        e.message,
                        if added > 0 && !dry_run {
                            format!(
                                "; {added} items were imported before this: importing again adds the rest"
                            )
                        } else {
                            String::new()
                        }
                    );
                }
            };
            added += s.added;
            duplicates += s.duplicates;
            updated += s.updated;
            bar.inc(n);
        }
        bar.finish_and_clear();
        reader
            .await
            .map_err(|e| anyhow!("the reader stopped: {e}"))??;
        self.report(ctx, &tally, [added, duplicates, updated], dry_run)
    }

    fn report(
        &self,
        ctx: &Ctx,
        t: &Tally,
        [added, duplicates, updated]: [u64; 3],
        dry_run: bool,
    ) -> anyhow::Result<()> {
        let day =
            |d: Option<chrono::DateTime<chrono::Utc>>| d.map(|d| d.format("%Y-%m-%d").to_string());
        if ctx.json {
            return output::json(&serde_json::json!({
                "path": self.path.display().to_string(),
                "format": self.format_name(),
                "dry_run": dry_run,
                "conversations": t.conversations,
                "messages": t.messages,
                "offered": t.chunks + t.notes,
                "chunks": t.chunks,
                "notes": t.notes,
                "added": added,
                "duplicates": duplicates,
                "linked": updated,
                "first": day(t.first),
                "last": day(t.last),
                "namespace": format!("history/{}", self.origin.word()),
            }));
        }
        let range = match (day(t.first), day(t.last)) {
            (Some(a), Some(b)) if a == b => format!(", on {a}"),
            (Some(a), Some(b)) => format!(", {a} to {b}"),
            _ => String::new(),
        };
        let notes = if t.notes > 0 {
            format!(" and {}", output::count(t.notes, "memory or project note"))
        } else {
            String::new()
        };
        outln!(
            "{} {added} of {} items: {} of {} ({}){notes}{range}, from {} ({}); {duplicates} already in the vault",
            if dry_run { "would import" } else { "imported" },
            t.chunks + t.notes,
            output::count(t.chunks, "chunk"),
            output::count(t.conversations, "conversation"),
            output::count(t.messages, "message"),
            self.path.display(),
            self.words(),
        );
        if updated > 0 {
            outln!(
                "{} already there {} to the turns after them",
                output::count(updated, "chunk"),
                if dry_run { "would be linked" } else { "linked" }
            );
        }
        if added > 0 {
            outln!(
                "under history/{}/, private: no client sees it until granted, e.g. `ctxvault grant CLIENT 'history/**' --max-sensitivity private`",
                self.origin.word()
            );
        }
        Ok(())
    }
}

fn notes_items(origin: Origin, notes: Vec<Note>, t: &mut Tally) -> Vec<Item> {
    notes
        .into_iter()
        .flat_map(|n| history::note(origin, n, t))
        .collect()
}
