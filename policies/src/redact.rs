//! Redaction of what a grant returns: e-mail addresses, phone numbers, URLs,
//! IP addresses and payment card numbers, each replaced by a placeholder
//! (`[email]`, `[phone]`, `[url]`, `[ip]`, `[card]`).
//!
//! Patterns apply in the order url, email, card, ip, phone, so a URL's
//! digits are not taken for a phone number. Card numbers are 13-19 digits
//! (spaces or dashes allowed between them) that pass the Luhn check. Phone
//! numbers are 7-15 digits in the usual groupings; ISO dates are left alone.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use regex::{Captures, Regex};
use serde::{Deserialize, Serialize};

use crate::ParseError;

/// One kind of redaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Redaction {
    /// URLs (`https://...`, `www....`).
    Url,
    /// E-mail addresses.
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

    fn regex(self) -> &'static Regex {
        static RES: OnceLock<[Regex; 5]> = OnceLock::new();
        let all = RES.get_or_init(|| {
            #[allow(clippy::expect_used)]
            let re = |p: &str| Regex::new(p).expect("built-in redaction patterns compile");
            [
                re(r#"(?i)\b(?:https?://|www\.)[^\s<>"'()\[\]]+"#),
                re(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b"),
                re(r"\b\d(?:[ -]?\d){12,18}\b"),
                re(r"(?i)(?:\b(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\b)|(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}"),
                re(r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]?\d{2,4}){1,4}"),
            ]
        });
        &all[self as usize]
    }

    /// Whether a regex candidate really is one of these.
    fn accept(self, m: &str) -> bool {
        let digits: String = m.chars().filter(char::is_ascii_digit).collect();
        match self {
            Redaction::Url | Redaction::Email => true,
            Redaction::Card => (13..=19).contains(&digits.len()) && luhn(&digits),
            Redaction::Ip => {
                m.parse::<std::net::Ipv4Addr>().is_ok() || m.parse::<std::net::Ipv6Addr>().is_ok()
            }
            Redaction::Phone => {
                let iso_date = m.len() == 10
                    && m.as_bytes()[4] == b'-'
                    && m.as_bytes()[7] == b'-'
                    && m.chars().filter(char::is_ascii_digit).count() == 8;
                (7..=15).contains(&digits.len()) && !iso_date
            }
        }
    }

    /// Whether `text` could hold a match at all: a byte scan that spares
    /// the regex on text that cannot match (most text, for most kinds).
    fn may_occur(self, text: &str, digits: usize) -> bool {
        let b = text.as_bytes();
        match self {
            Redaction::Url => b
                .windows(4)
                .any(|w| w.eq_ignore_ascii_case(b"http") || w.eq_ignore_ascii_case(b"www.")),
            Redaction::Email => b.contains(&b'@'),
            Redaction::Card => digits >= 13,
            Redaction::Ip => {
                (digits >= 4 && b.contains(&b'.')) || b.iter().filter(|&&c| c == b':').count() >= 2
            }
            Redaction::Phone => digits >= 7,
        }
    }

    /// Replace every match in `text`.
    pub fn apply(self, text: &str) -> String {
        let digits = text.bytes().filter(u8::is_ascii_digit).count();
        if !self.may_occur(text, digits) {
            return text.to_owned();
        }
        self.regex()
            .replace_all(text, |c: &Captures| {
                let m = &c[0];
                if self.accept(m) {
                    self.placeholder().to_owned()
                } else {
                    m.to_owned()
                }
            })
            .into_owned()
    }
}

/// Luhn checksum over a string of ASCII digits.
pub fn luhn(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, b) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
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
mod precheck_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The pre-check never hides a match: with or without it, the same text.
        #[test]
        fn precheck_changes_nothing(s in "[a-zA-Z0-9 .:@/+()-]{0,60}") {
            for k in Redaction::ALL {
                let direct = k.regex().replace_all(&s, |c: &Captures| {
                    if k.accept(&c[0]) { k.placeholder().to_owned() } else { c[0].to_owned() }
                }).into_owned();
                prop_assert_eq!(k.apply(&s), direct, "{:?}", k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(k: Redaction, s: &str) -> String {
        k.apply(s)
    }

    #[test]
    fn each_kind() {
        assert_eq!(
            r(Redaction::Email, "mail ann.lee+x@example.co.uk now"),
            "mail [email] now"
        );
        assert_eq!(
            r(
                Redaction::Url,
                "see https://example.com/a?b=1 and www.x.org."
            ),
            "see [url] and [url]"
        );
        assert_eq!(
            r(Redaction::Ip, "host 192.168.1.20 or 2001:db8::1"),
            "host [ip] or [ip]"
        );
        assert_eq!(
            r(Redaction::Ip, "version 1.2.3 and 999.1.1.1"),
            "version 1.2.3 and 999.1.1.1"
        );
        assert_eq!(
            r(Redaction::Card, "visa 4111 1111 1111 1111 ok"),
            "visa [card] ok"
        );
        assert_eq!(
            r(Redaction::Card, "not 4111 1111 1111 1112"),
            "not 4111 1111 1111 1112",
            "Luhn fails"
        );
        assert_eq!(
            r(Redaction::Phone, "call +44 20 7946 0958 or (555) 123-4567"),
            "call [phone] or [phone]"
        );
        assert_eq!(
            r(Redaction::Phone, "on 2026-11-22 at 10"),
            "on 2026-11-22 at 10"
        );
        assert_eq!(r(Redaction::Phone, "room 42"), "room 42");
    }

    #[test]
    fn sets_apply_in_order() {
        let all = Redactions::of(&Redaction::ALL);
        let s = all.apply("https://x.com/4111111111111111 mail a@b.io card 4111-1111-1111-1111 tel 555-123-4567 ip 10.0.0.1");
        assert_eq!(s, "[url] mail [email] card [card] tel [phone] ip [ip]");
        assert_eq!(Redactions::NONE.apply("a@b.io"), "a@b.io");
        let a = Redactions::of(&[Redaction::Email, Redaction::Phone]);
        let b = Redactions::of(&[Redaction::Email]);
        assert_eq!(a.intersect(b).kinds(), vec![Redaction::Email]);
    }

    #[test]
    fn luhn_vectors() {
        assert!(luhn("4111111111111111"));
        assert!(luhn("5500005555555559"));
        assert!(luhn("378282246310005"));
        assert!(!luhn("4111111111111112"));
    }

    #[test]
    fn parse() {
        assert_eq!("card".parse::<Redaction>().unwrap(), Redaction::Card);
        assert!(
            "ssn"
                .parse::<Redaction>()
                .unwrap_err()
                .to_string()
                .contains("use email, phone, url, ip or card")
        );
    }
}
