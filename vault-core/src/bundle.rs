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
                PolicyRecord::Pending(_) => {}
            }
        }
        c.clients.sort_by(|a, b| a.name.cmp(&b.name));
        c.grants
            .sort_by(|a, b| (&a.client, a.created_at).cmp(&(&b.client, b.created_at)));
        c.denies
            .sort_by(|a, b| (&a.client, a.created_at).cmp(&(&b.client, b.created_at)));
        c
    }

    /// The NDJSON text: header, items, clients, grants, deny rules.
    pub fn to_ndjson(&self, created_at: DateTime<Utc>) -> Zeroizing<Vec<u8>> {
        let header = Header {
            format: FORMAT.into(),
            version: VERSION,
            created_at,
            items: self.items.len() as u64,
            clients: self.clients.len() as u64,
            grants: self.grants.len() as u64,
            denies: self.denies.len() as u64,
        };
        let mut out = Zeroizing::new(Vec::with_capacity(self.items.len() * 1200 + 256));
        let mut line = |v: &dyn erased::Json| {
            v.write_json(&mut out);
            out.push(b'\n');
        };
        line(&header);
        for i in &self.items {
            line(&LineRef::Item(i));
        }
        for c in &self.clients {
            line(&LineRef::Client(c));
        }
        for g in &self.grants {
            line(&LineRef::Grant(g));
        }
        for d in &self.denies {
            line(&LineRef::Deny(d));
        }
        out
    }

    /// Parse NDJSON text: check the header, read every line, check counts.
    pub fn from_ndjson(text: &[u8]) -> Result<Contents, ReadError> {
        let text =
            std::str::from_utf8(text).map_err(|e| whole_file(format!("not UTF-8 text: {e}")))?;
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let (h, first) = lines
            .next()
            .ok_or_else(|| whole_file("empty file: no header line"))?;
        let h = h + 1;
        let header: Header = serde_json::from_str(first)
            .map_err(|e| err(h, format!("not a ctxvault bundle header ({e})")))?;
        if header.format != FORMAT {
            return Err(err(
                h,
                format!("format is {:?}, not {FORMAT:?}", header.format),
            ));
        }
        if header.version > VERSION {
            return Err(err(
                h,
                format!(
                    "bundle format version {} is newer than this ctxvault reads ({VERSION}); upgrade ctxvault",
                    header.version
                ),
            ));
        }
        let mut c = Contents::default();
        for (n, l) in lines {
            let line: Line = serde_json::from_str(l)
                .map_err(|e| err(n + 1, format!("malformed record: {e}")))?;
            match line {
                Line::Item(i) => c.items.push(i),
                Line::Client(x) => c.clients.push(x),
                Line::Grant(g) => c.grants.push(g),
                Line::Deny(d) => c.denies.push(d),
            }
        }
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
        Ok(c)
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

/// Encrypt bundle text with age.
pub fn encrypt(plain: &[u8], to: &Seal) -> crate::Result<Vec<u8>> {
    let fail = |_| crate::Error::Crypto("age encryption failed");
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
    let mut out = Vec::with_capacity(plain.len() + 512);
    let mut w = enc.wrap_output(&mut out).map_err(fail)?;
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
}
