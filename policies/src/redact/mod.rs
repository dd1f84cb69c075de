//! Redaction of what a grant returns: e-mail addresses, phone numbers, URLs,
//! IP addresses and payment card numbers, each replaced by a placeholder
//! (`[email]`, `[phone]`, `[url]`, `[ip]`, `[card]`).
//!
//! Redaction applies to free text fields only (title, body, snippets).
//! An item's namespace, kind and tags are never redacted here; whether to
//! show them is the caller's business.
//!
//! # Format
//! Kinds apply in the order url, email, card, ip, phone, so a URL's digits
//! are not taken for a phone number and a card number is not split into
//! phone numbers. Patterns read Unicode: letters of any script in e-mail
//! addresses and hosts, full-width and other decimal digits in card and
//! phone numbers. What each kind takes, exactly, and what it leaves alone
//! (dates, times, version numbers, amounts, prose with "at"), is stated in
//! the `text` module (url, email, ip) and the `numbers` module (card,
//! phone).
//!
//! # Invariants
//! - A cheap pre-check ([`Redaction::apply`] skips text that cannot hold a
//!   match) never changes the result: the tests compare the two paths.
//! - Redaction never fails and never panics, whatever the text.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::ParseError;

mod numbers;
mod text;

pub use numbers::luhn;

/// Compile a built-in pattern (they are constants, checked by the tests).
fn compile(pattern: &str) -> Regex {
    #[allow(clippy::expect_used)]
    Regex::new(pattern).expect("built-in redaction patterns compile")
}

/// One kind of redaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Redaction {
    /// URLs (`https://...`, `ftp://...`, `www....`, `example.com/path`).
    Url,
    /// E-mail addresses, also spelled out (`bob [at] example [dot] com`).
    Email,
    /// Payment card numbers (Luhn-checked).
    Card,
    /// IPv4 and IPv6 addresses.
    Ip,
    /// Phone numbers.
    Phone,
}

impl Redaction {
    /// Every kind, in the order they apply.
    pub const ALL: [Redaction; 5] = [
        Redaction::Url,
        Redaction::Email,
        Redaction::Card,
        Redaction::Ip,
        Redaction::Phone,
    ];

    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Redaction::Url => "url",
            Redaction::Email => "email",
            Redaction::Card => "card",
            Redaction::Ip => "ip",
            Redaction::Phone => "phone",
        }
    }

    /// The placeholder that replaces a match.
    pub fn placeholder(self) -> &'static str {
        match self {
            Redaction::Url => "[url]",
            Redaction::Email => "[email]",
            Redaction::Card => "[card]",
            Redaction::Ip => "[ip]",
            Redaction::Phone => "[phone]",
        }
    }

    /// Whether `text` could hold a match at all: a scan that spares the
    /// patterns on text that cannot match (most text, for most kinds). It
    /// may say yes wrongly, never no wrongly.
    fn may_occur(self, text: &str) -> bool {
        let b = text.as_bytes();
        match self {
            Redaction::Url => text::url_may_occur(text),
            Redaction::Email => {
                b.contains(&b'@') || text.contains('＠') || text::spelled_email_may_occur(text)
            }
            Redaction::Card => numbers::count_digits(text) >= 13,
            Redaction::Ip => {
                let colons = b.iter().filter(|&&c| c == b':').count();
                let dots = b.iter().filter(|&&c| c == b'.').count();
                colons >= 2 || (dots >= 3 && b.iter().filter(|c| c.is_ascii_digit()).count() >= 4)
            }
            Redaction::Phone => numbers::count_digits(text) >= 7,
        }
    }

    /// Where the matches are in `text`: sorted, not overlapping.
    fn spans(self, text: &str) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        match self {
            Redaction::Url => text::urls(text, &mut out),
            Redaction::Email => text::emails(text, &mut out),
            Redaction::Card => numbers::cards(text, &mut out),
            Redaction::Ip => text::ips(text, &mut out),
            Redaction::Phone => numbers::phones(text, &mut out),
        }
        out.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
        let mut done = 0;
        out.retain(|r| {
            let keep = r.start >= done && r.end > r.start;
            if keep {
                done = r.end;
            }
            keep
        });
        out
    }

    /// Replace every match, without the pre-check.
    fn apply_unchecked(self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for r in self.spans(text) {
            out.push_str(&text[last..r.start]);
            out.push_str(self.placeholder());
            last = r.end;
        }
        out.push_str(&text[last..]);
        out
    }

    /// Replace every match in `text`.
    pub fn apply(self, text: &str) -> String {
        if !self.may_occur(text) {
            return text.to_owned();
        }
        self.apply_unchecked(text)
    }
}

impl FromStr for Redaction {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Redaction::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                ParseError(format!(
                    "unknown redaction {s:?}; use email, phone, url, ip or card"
                ))
            })
    }
}

impl fmt::Display for Redaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of redactions, applied in the fixed order of [`Redaction::ALL`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Redactions(u8);

impl Redactions {
    /// No redaction.
    pub const NONE: Redactions = Redactions(0);

    /// The set holding these kinds.
    pub fn of(kinds: &[Redaction]) -> Self {
        Redactions(kinds.iter().fold(0, |acc, k| acc | 1 << (*k as u8)))
    }

    /// True when `k` is in the set.
    pub fn contains(self, k: Redaction) -> bool {
        self.0 & (1 << (k as u8)) != 0
    }

    /// True when the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Kinds in both sets.
    pub fn intersect(self, other: Redactions) -> Redactions {
        Redactions(self.0 & other.0)
    }

    /// The kinds, in application order.
    pub fn kinds(self) -> Vec<Redaction> {
        Redaction::ALL
            .into_iter()
            .filter(|k| self.contains(*k))
            .collect()
    }

    /// Apply every kind in the set to `text`.
    pub fn apply(self, text: &str) -> String {
        let mut out = text.to_owned();
        for k in self.kinds() {
            out = k.apply(&out);
        }
        out
    }
}

#[cfg(test)]
mod tests;
