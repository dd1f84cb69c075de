//! The bundle: everything in a vault, in an open format (docs/bundle-format.md).
//!
//! # Format
//! Newline-delimited JSON. Line 1 is a [`Header`]: format name, version,
//! creation time and record counts. Every later line is one [`Line`],
//! tagged by `"type"`: `item`, `client`, `grant` or `deny`. A bundle is
//! this text inside an age file (to a passphrase or X25519 recipients); the
//! plain JSONL export is the same text with only item lines, unencrypted.

use std::io::Write;

use age::secrecy::SecretString;
use age::x25519;
use chrono::{DateTime, Utc};
use policies::{DenyRule, Grant};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::item::Item;
use crate::keys::WorkFactor;
use crate::records::PolicyRecord;

/// The `format` field of every header.
pub const FORMAT: &str = "ctxvault-bundle";
/// The format version this build writes and the newest it reads.
pub const VERSION: u32 = 1;

/// The first line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// Format version.
    pub version: u32,
    /// When the export was made.
    pub created_at: DateTime<Utc>,
    /// Item lines that follow.
    pub items: u64,
    /// Client lines that follow.
    #[serde(default)]
    pub clients: u64,
    /// Grant lines that follow.
    #[serde(default)]
    pub grants: u64,
    /// Deny rule lines that follow.
    #[serde(default)]
    pub denies: u64,
}

/// A client in a bundle: its name only, never a token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BundleClient {
    /// The client's name.
    pub name: String,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

/// One record line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Line {
    /// An item with every field.
    Item(Item),
    /// A client (name only).
    Client(BundleClient),
    /// A grant.
    Grant(Grant),
    /// A deny rule.
    Deny(DenyRule),
}

/// [`Line`] by reference, for writing without copying the vault.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum LineRef<'a> {
    Item(&'a Item),
    Client(&'a BundleClient),
    Grant(&'a Grant),
    Deny(&'a DenyRule),
}

/// Everything a bundle holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Contents {
    /// Items.
    pub items: Vec<Item>,
    /// Clients.
    pub clients: Vec<BundleClient>,
    /// Grants.
    pub grants: Vec<Grant>,
    /// Deny rules.
    pub denies: Vec<DenyRule>,
}

/// A bundle or JSONL file that does not read; `line` is 1-based, `None`
/// when the problem is the whole file (not UTF-8, counts that disagree).
#[derive(Debug, thiserror::Error)]
#[error("{}{reason}", line.map(|n| format!("line {n}: ")).unwrap_or_default())]
pub struct ReadError {
    /// Where.
    pub line: Option<usize>,
    /// What is wrong and what to do.
    pub reason: String,
}

fn err(line: usize, reason: impl Into<String>) -> ReadError {
    ReadError {
        line: Some(line),
        reason: reason.into(),
    }
}

fn whole_file(reason: impl Into<String>) -> ReadError {
    ReadError {
        line: None,
        reason: reason.into(),
    }
}

impl Contents {
    /// The contents of a vault: every item and, with `with_policy`, every
    /// client (by name), grant and deny rule of `records`.
    pub fn assemble(items: Vec<Item>, records: &[PolicyRecord], with_policy: bool) -> Contents {
        let mut c = Contents {
            items,
            ..Default::default()
        };
        if !with_policy {
            return c;
        }
        for r in records {
            match r {
                PolicyRecord::Client(x) => c.clients.push(BundleClient {
                    name: x.name.clone(),
                    created_at: x.created_at,
                }),
                PolicyRecord::Grant(g) => c.grants.push(g.clone().into()),
                PolicyRecord::Deny(d) => c.denies.push(d.clone().into()),
                // Proposals are not the user's yet; providers hold API keys
                // and routes name them; a connector's tokens belong to the
                // one device that approved it: none leaves in a bundle.
                PolicyRecord::Pending(_)
                | PolicyRecord::Provider(_)
                | PolicyRecord::Route(_)
                | PolicyRecord::Connector(_)
                | PolicyRecord::Aspect(_)
                | PolicyRecord::AspectUse(_)
                | PolicyRecord::Retention(_) => {}
            }
        }
        c.clients.sort_by(|a, b| a.name.cmp(&b.name));
        c.grants
            .sort_by(|a, b| (&a.client, a.created_at).cmp(&(&b.client, b.created_at)));
        c.denies
            .sort_by(|a, b| (&a.client, a.created_at).cmp(&(&b.client, b.created_at)));
        c
    }

    /// What a header announces for these contents.
    pub fn counts(&self) -> Counts {
        Counts {
            items: self.items.len() as u64,
            clients: self.clients.len() as u64,
            grants: self.grants.len() as u64,
            denies: self.denies.len() as u64,
        }
    }

    /// The NDJSON text: header, items, clients, grants, deny rules.
    pub fn to_ndjson(&self, created_at: DateTime<Utc>) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(self.items.len() * 1200 + 256));
        header_line(created_at, &self.counts(), &mut out);
        for i in &self.items {
            item_line(i, &mut out);
        }
        self.policy_lines(&mut out);
        out
    }

    /// The client, grant and deny rule lines, in that order.
    pub fn policy_lines(&self, out: &mut Vec<u8>) {
        let mut line = |v: &dyn erased::Json| {
            v.write_json(out);
            out.push(b'\n');
        };
        for c in &self.clients {
            line(&LineRef::Client(c));
        }
        for g in &self.grants {
            line(&LineRef::Grant(g));
        }
        for d in &self.denies {
            line(&LineRef::Deny(d));
        }
    }

    /// Parse NDJSON text: check the header, read every line, check counts.
    pub fn from_ndjson(text: &[u8]) -> Result<Contents, ReadError> {
        let mut r = Reader::new();
        r.push(text)?;
        r.finish().map(|p| p.contents)
    }
}

/// The record counts a header announces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Item lines.
    pub items: u64,
    /// Client lines.
    pub clients: u64,
    /// Grant lines.
    pub grants: u64,
    /// Deny rule lines.
    pub denies: u64,
}

/// Append the header line announcing `counts`.
pub fn header_line(created_at: DateTime<Utc>, counts: &Counts, out: &mut Vec<u8>) {
    let header = Header {
        format: FORMAT.into(),
        version: VERSION,
        created_at,
        items: counts.items,
        clients: counts.clients,
        grants: counts.grants,
        denies: counts.denies,
    };
    erased::Json::write_json(&header, out);
    out.push(b'\n');
}

/// Append one item line.
pub fn item_line(item: &Item, out: &mut Vec<u8>) {
    erased::Json::write_json(&LineRef::Item(item), out);
    out.push(b'\n');
}

/// Longest line a reader accepts: an item's text is at most 1 MiB, which
/// JSON escaping can make six times longer.
pub const MAX_LINE: usize = 8 * 1024 * 1024;

/// What a [`Reader`] read: the contents, and the line of each item (for
/// errors found later, such as an item a namespace prefix makes invalid).
#[derive(Debug, Default)]
pub struct Parsed {
    /// The records.
    pub contents: Contents,
    /// `item_lines[k]` is the 1-based line of `contents.items[k]`.
    pub item_lines: Vec<usize>,
}

/// Reads bundle text as it arrives, in pieces cut anywhere: complete lines
/// are parsed at once, so only the records (not the text) are kept. The
/// unfinished line is wiped when dropped.
#[derive(Default)]
pub struct Reader {
    /// The unfinished last line.
    partial: Zeroizing<Vec<u8>>,
    /// Lines read so far.
    line: usize,
    header: Option<Header>,
    parsed: Parsed,
}

impl Reader {
    /// A reader expecting the header line first.
    pub fn new() -> Reader {
        Reader::default()
    }

    /// Read the next piece of text.
    pub fn push(&mut self, mut bytes: &[u8]) -> Result<(), ReadError> {
        if !self.partial.is_empty() {
            let Some(end) = bytes.iter().position(|&b| b == b'\n') else {
                self.keep(bytes)?;
                return Ok(());
            };
            self.keep(&bytes[..end])?;
            let line = std::mem::take(&mut self.partial);
            self.line(&line)?;
            bytes = &bytes[end + 1..];
        }
        let mut lines = bytes.split(|&b| b == b'\n');
        let last = lines.next_back().unwrap_or_default();
        for l in lines {
            self.line(l)?;
        }
        self.keep(last)
    }

    /// The text is complete: check what the header announced.
    pub fn finish(mut self) -> Result<Parsed, ReadError> {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line)?;
        }
        let header = self
            .header
            .take()
            .ok_or_else(|| whole_file("empty file: no header line"))?;
        let c = &self.parsed.contents;
        let counts = [
            ("items", header.items, c.items.len()),
            ("clients", header.clients, c.clients.len()),
            ("grants", header.grants, c.grants.len()),
            ("deny rules", header.denies, c.denies.len()),
        ];
        for (what, want, got) in counts {
            if want != got as u64 {
                return Err(whole_file(format!(
                    "the header announces {want} {what} but the file holds {got}: it is truncated or edited"
                )));
            }
        }
        Ok(std::mem::take(&mut self.parsed))
    }

    fn keep(&mut self, bytes: &[u8]) -> Result<(), ReadError> {
        if self.partial.len() + bytes.len() > MAX_LINE {
            return Err(err(
                self.line + 1,
                format!("longer than {} MiB: not a ctxvault bundle", MAX_LINE >> 20),
            ));
        }
        crate::wiped::extend(&mut self.partial, bytes);
        Ok(())
    }

    fn line(&mut self, raw: &[u8]) -> Result<(), ReadError> {
        self.line += 1;
        let n = self.line;
        let text = std::str::from_utf8(raw)
            .map_err(|e| whole_file(format!("not UTF-8 text: {e} (on line {n})")))?;
        let text = text.strip_suffix('\r').unwrap_or(text);
        if text.trim().is_empty() {
            return Ok(());
        }
        if self.header.is_none() {
            let header: Header = serde_json::from_str(text)
                .map_err(|e| err(n, format!("not a ctxvault bundle header ({e})")))?;
            if header.format != FORMAT {
                return Err(err(
                    n,
                    format!("format is {:?}, not {FORMAT:?}", header.format),
                ));
            }
            if header.version > VERSION {
                return Err(err(
                    n,
                    format!(
                        "bundle format version {} is newer than this ctxvault reads ({VERSION}); upgrade ctxvault",
                        header.version
                    ),
                ));
            }
            self.header = Some(header);
            return Ok(());
        }
        let line: Line =
            serde_json::from_str(text).map_err(|e| err(n, format!("malformed record: {e}")))?;
        let c = &mut self.parsed.contents;
        match line {
            Line::Item(i) => {
                c.items.push(i);
                self.parsed.item_lines.push(n);
            }
            Line::Client(x) => c.clients.push(x),
            Line::Grant(g) => c.grants.push(g),
            Line::Deny(d) => c.denies.push(d),
        }
        Ok(())
    }
}

mod erased {
    /// Serialize into a buffer (serialisation of these types cannot fail).
    pub trait Json {
        fn write_json(&self, out: &mut Vec<u8>);
    }
    impl<T: serde::Serialize> Json for T {
        fn write_json(&self, out: &mut Vec<u8>) {
            let _ = serde_json::to_writer(out, self);
        }
    }
}

/// Who can open a bundle.
pub enum Seal {
    /// A passphrase (age scrypt recipient) with this work factor.
    Passphrase(SecretString, WorkFactor),
    /// These X25519 recipients.
    Recipients(Vec<x25519::Recipient>),
}

/// An age writer sealing bundle text to `to` as it is written into `out`;
/// call `finish` on it at the end.
pub fn encrypt_to<W: Write>(to: &Seal, out: W) -> crate::Result<age::stream::StreamWriter<W>> {
    let enc = match to {
        Seal::Passphrase(p, wf) => {
            let mut r = age::scrypt::Recipient::new(p.clone());
            r.set_work_factor(wf.get());
            age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient))
                .map_err(|_| crate::Error::Crypto("age refused the passphrase"))?
        }
        Seal::Recipients(rs) => {
            age::Encryptor::with_recipients(rs.iter().map(|r| r as &dyn age::Recipient))
                .map_err(|_| crate::Error::Crypto("age refused the recipients"))?
        }
    };
    enc.wrap_output(out)
        .map_err(|_| crate::Error::Crypto("age encryption failed"))
}

/// Encrypt bundle text with age.
pub fn encrypt(plain: &[u8], to: &Seal) -> crate::Result<Vec<u8>> {
    let fail = |_| crate::Error::Crypto("age encryption failed");
    let mut out = Vec::with_capacity(plain.len() + 512);
    let mut w = encrypt_to(to, &mut out)?;
    w.write_all(plain).map_err(fail)?;
    w.finish().map_err(fail)?;
    Ok(out)
}

/// True when `bytes` start like an age file (binary or armored).
pub fn is_age(bytes: &[u8]) -> bool {
    bytes.starts_with(b"age-encryption.org/")
        || bytes.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_checks() {
        let c = Contents::default();
        let text = c.to_ndjson(Utc::now());
        assert_eq!(Contents::from_ndjson(&text).unwrap(), c);
        let future = String::from_utf8(text.to_vec())
            .unwrap()
            .replace("\"version\":1", "\"version\":9");
        let e = Contents::from_ndjson(future.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains("newer than this ctxvault reads"), "{e}");
        assert!(Contents::from_ndjson(b"").is_err());
        assert!(Contents::from_ndjson(b"{\"format\":\"other\",\"version\":1,\"created_at\":\"2026-01-01T00:00:00Z\",\"items\":0}").is_err());
        let short = b"{\"format\":\"ctxvault-bundle\",\"version\":1,\"created_at\":\"2026-01-01T00:00:00Z\",\"items\":2}\n";
        assert!(
            Contents::from_ndjson(short)
                .unwrap_err()
                .to_string()
                .contains("truncated")
        );
    }

    #[test]
    fn errors_name_real_lines_or_none() {
        let short = b"{\"format\":\"ctxvault-bundle\",\"version\":1,\"created_at\":\"2026-01-01T00:00:00Z\",\"items\":2}\n";
        let e = Contents::from_ndjson(short).unwrap_err();
        assert_eq!(e.line, None);
        assert!(!e.to_string().contains("line 0"), "{e}");
        let late =
            b"\n\n{\"format\":\"other\",\"version\":1,\"created_at\":\"2026-01-01T00:00:00Z\"}\n";
        let e = Contents::from_ndjson(late).unwrap_err();
        assert_eq!(e.line, Some(3), "the header is on line 3: {e}");
        let e = Contents::from_ndjson(b"\xff\xfe").unwrap_err();
        assert!(e.to_string().starts_with("not UTF-8"), "{e}");
    }

    fn sample() -> Contents {
        let item = |n: u32| {
            let t = Utc::now();
            Item {
                id: uuid::Uuid::now_v7(),
                namespace: "work/notes".parse().unwrap(),
                kind: "note".parse().unwrap(),
                title: Some(format!("title {n}")),
                body: format!("body {n} with \"quotes\", \\ and é"),
                tags: vec!["a".parse().unwrap()],
                sensitivity: crate::Sensitivity::Normal,
                source: crate::names::Source::user(),
                created_at: t,
                updated_at: t,
                version: 1,
            }
        };
        Contents {
            items: (0..7).map(item).collect(),
            clients: vec![BundleClient {
                name: "claude".into(),
                created_at: Utc::now(),
            }],
            ..Default::default()
        }
    }

    proptest::proptest! {
        /// Text cut into pieces anywhere reads as the whole text does, and
        /// names each item's line.
        #[test]
        fn pieces_read_as_the_whole(cuts in proptest::collection::vec(0usize..4000, 0..12)) {
            let c = sample();
            let mut text = c.to_ndjson(Utc::now()).to_vec();
            text.splice(0..0, b"\r\n".iter().copied());
            let mut cuts: Vec<usize> = cuts.into_iter().map(|k| k % (text.len() + 1)).collect();
            cuts.sort();
            let mut r = Reader::new();
            let mut at = 0;
            for k in cuts.into_iter().chain([text.len()]) {
                r.push(&text[at..k]).unwrap();
                at = k;
            }
            let p = r.finish().unwrap();
            proptest::prop_assert_eq!(&p.contents, &c);
            proptest::prop_assert_eq!(p.item_lines, (3..10).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_line_without_end_is_bounded() {
        let mut r = Reader::new();
        let chunk = vec![b'x'; 1 << 20];
        let mut failed = None;
        for _ in 0..10 {
            if let Err(e) = r.push(&chunk) {
                failed = Some(e);
                break;
            }
        }
        let e = failed.expect("an endless line is refused");
        assert!(e.to_string().contains("longer than 8 MiB"), "{e}");
    }
}
