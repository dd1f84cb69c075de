//! Patterns over words: URLs, e-mail addresses and IP addresses.
//!
//! # Format
//! A *label* is letters, marks and digits of any script, with inner `-`.
//!
//! - URL: any scheme (`[a-z][a-z0-9+.-]*://`, so `ftp`, `sftp`, `file`,
//!   `ssh`, `git+ssh`, `s3`), even glued to what precedes it
//!   (`see:https://…`, `xhttps://…`); `www.…`; or a bare host with a path
//!   (`example.com/a`, `sub.example.co.uk/x?y=1`, `localhost:8080/x`), the
//!   host made of labels and a letter TLD, not glued to a word, `.`, `-`,
//!   `@` or `/` before it. The path runs to a space, quote, bracket or CJK
//!   punctuation, keeps balanced parentheses, and drops trailing `.,;:!?`.
//! - E-mail: `local@domain` (`@` or `＠`; the domain one or more labels
//!   joined by `.` or `．`, so `root@localhost` counts); `local [at]
//!   domain` (or `(at)`, `{at}`) with at least one `.` or `[dot]`; `local
//!   at domain` only with a bracketed `[dot]`/`(dot)`. The last label
//!   starts with a letter, so `lodash@4.17.21` is not an address.
//! - IP: IPv6 as [`std::net::Ipv6Addr`] parses it, including the IPv4-mapped
//!   form (`::ffff:10.1.2.3`, masked whole) and a zone (`%eth0`), holding at
//!   least one digit; IPv4 as [`std::net::Ipv4Addr`] parses it. Neither is
//!   glued to a word, `:` or `.` (so `12:30:45`, `std::io` and
//!   `1.2.3.4.5` are left alone).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::sync::OnceLock;

use regex::Regex;

/// Letters, marks and digits of any script, with inner hyphens.
const LABEL: &str = r"[\p{L}\p{M}\p{N}](?:[\p{L}\p{M}\p{N}\-]*[\p{L}\p{M}\p{N}])?";

struct Patterns {
    url: Regex,
    email: Regex,
    ipv6: Regex,
    ipv4: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let stop = r#"\s<>"'()\[\]{}“”‘’«»，。、；：！？（）「」『』【】"#;
        let path = format!(r"(?:[^{stop}]|\([^{stop}]*\))");
        let host = format!(r"(?:(?:{LABEL}\.)+(?:\p{{L}}[\p{{L}}\p{{M}}]+|xn--[a-z0-9\-]+)|localhost)");
        let url = format!(
            r"(?i)[a-z][a-z0-9+.\-]*://{path}+|www\.{path}+|{host}(?::[0-9]{{1,5}})?/{path}*"
        );
        let local = r"[\w%+\-](?:[\w.%+'\-]*[\w%+\-])?";
        let bat = r"\s*[\[({]\s*at\s*[\])}]\s*";
        let bdot = r"\s*[\[({]\s*dot\s*[\])}]\s*";
        let email = format!(
            r"(?i){local}(?:[@＠]{LABEL}(?:[.．]{LABEL})*|{bat}{LABEL}(?:(?:{bdot}|[.．]){LABEL})+|\s+at\s+{LABEL}(?:{bdot}{LABEL})+)"
        );
        Patterns {
            url: super::compile(&url),
            email: super::compile(&email),
            ipv6: super::compile(
                r"(?i)[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:\.[0-9]{1,3}){0,3}(?:%[0-9a-z._\-]+)?",
            ),
            ipv4: super::compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}"),
        }
    })
}

fn before(text: &str, i: usize) -> Option<char> {
    text[..i].chars().next_back()
}

fn wordish(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Spans of URLs in `text`.
pub(super) fn urls(text: &str, out: &mut Vec<Range<usize>>) {
    for m in patterns().url.find_iter(text) {
        let s = m.as_str();
        let bare =
            !s.contains("://") && !s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("www."));
        if bare
            && before(text, m.start())
                .is_some_and(|c| wordish(c) || matches!(c, '.' | '-' | '@' | '/'))
        {
            continue;
        }
        let kept = s.trim_end_matches(['.', ',', ';', ':', '!', '?', '*', '…']);
        if !kept.is_empty() && !kept.ends_with("://") {
            out.push(m.start()..m.start() + kept.len());
        }
    }
}

/// Spans of e-mail addresses in `text`.
pub(super) fn emails(text: &str, out: &mut Vec<Range<usize>>) {
    for m in patterns().email.find_iter(text) {
        let last = m
            .as_str()
            .rsplit(['@', '＠', '.', '．', ']', ')', '}'])
            .next()
            .unwrap_or("")
            .trim_start();
        if last.chars().next().is_some_and(char::is_alphabetic) {
            out.push(m.range());
        }
    }
}

/// Spans of IPv6 and IPv4 addresses in `text`.
pub(super) fn ips(text: &str, out: &mut Vec<Range<usize>>) {
    let p = patterns();
    for m in p.ipv6.find_iter(text) {
        if let Some(r) = ipv6(text, m.range()) {
            out.push(r);
        }
    }
    for m in p.ipv4.find_iter(text) {
        let ok = m.as_str().parse::<Ipv4Addr>().is_ok()
            && !before(text, m.start()).is_some_and(|c| wordish(c) || c == '.')
            && !glued_after(text, m.end(), false);
        if ok {
            out.push(m.range());
        }
    }
}

/// The IPv6 address in candidate `r`, trimmed of a trailing `:`.
fn ipv6(text: &str, r: Range<usize>) -> Option<Range<usize>> {
    if before(text, r.start).is_some_and(|c| wordish(c) || matches!(c, ':' | '.')) {
        return None;
    }
    let s = &text[r.clone()];
    let (addr, zone) = s.split_once('%').map_or((s, ""), |(a, z)| (a, z));
    let mut end = r.start + addr.len();
    let mut found = addr.parse::<Ipv6Addr>().is_ok();
    if found {
        if !zone.is_empty() {
            end = r.end;
        }
    } else if addr.ends_with(':') && !addr.ends_with("::") {
        let shorter = &addr[..addr.len() - 1];
        found = shorter.parse::<Ipv6Addr>().is_ok();
        end = r.start + shorter.len();
    }
    let digit = text[r.start..end].bytes().any(|b| b.is_ascii_digit());
    (found && digit && !glued_after(text, end, true)).then_some(r.start..end)
}

/// Whether the address ending at `end` runs on into more of one.
fn glued_after(text: &str, end: usize, v6: bool) -> bool {
    let mut rest = text[end..].chars();
    match rest.next() {
        Some(c) if wordish(c) => true,
        Some('.') => rest.next().is_some_and(|c| c.is_ascii_digit()),
        Some(':') if v6 => rest
            .next()
            .is_some_and(|c| c.is_ascii_hexdigit() || c == ':'),
        _ => false,
    }
}

/// Whether `text` holds a closing bracket and the letters `at` (the
/// spelled-out forms of an e-mail address all do).
pub(super) fn spelled_email_may_occur(text: &str) -> bool {
    let b = text.as_bytes();
    b.iter().any(|c| matches!(c, b']' | b')' | b'}'))
        && b.windows(2).any(|w| w.eq_ignore_ascii_case(b"at"))
}

/// Whether `text` could hold a URL: a `://`, a `www.`, or a `/` with a `.`
/// or `localhost` before it.
pub(super) fn url_may_occur(text: &str) -> bool {
    let b = text.as_bytes();
    let has = |n: &[u8]| b.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    has(b"://") || has(b"www.") || (b.contains(&b'/') && (b.contains(&b'.') || has(b"localhost")))
}
