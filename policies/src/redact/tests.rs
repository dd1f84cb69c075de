//! Redaction unit tests: each kind, the pre-check, digits and Luhn. The
//! corpus of variants and look-alikes is in `tests/redaction_corpus.rs`.

use super::*;
use proptest::prelude::*;

fn r(k: Redaction, s: &str) -> String {
    k.apply(s)
}

/// Pieces that, joined at random, make near-matches of every kind.
const PIECES: &[&str] = &[
    "a",
    "x",
    "é",
    "中",
    "at",
    "AT",
    "dot",
    "[",
    "]",
    "(",
    ")",
    "{",
    "}",
    "@",
    "＠",
    ".",
    "．",
    "/",
    ":",
    "::",
    "://",
    "ftp",
    "http",
    "www.",
    "com",
    "de",
    "localhost",
    "ffff",
    "fe80",
    " ",
    "  ",
    "\u{3000}",
    "-",
    "_",
    "+",
    "＋",
    "%",
    "$",
    "€",
    ",",
    "0",
    "1",
    "7",
    "30",
    "4111",
    "1111",
    "123",
    "2024",
    "05",
    "４",
    "１",
    "０",
    "–",
];

fn direct(k: Redaction, s: &str) -> String {
    k.apply_unchecked(s)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The pre-check never hides a match: with or without it, the same text.
    #[test]
    fn precheck_changes_nothing(s in "[a-zA-Z0-9 .:@/+()\\[\\]_%$,\u{FF10}-\u{FF19}\u{FF0B}-]{0,60}") {
        for k in Redaction::ALL {
            prop_assert_eq!(k.apply(&s), direct(k, &s), "{:?}", k);
        }
    }

    /// The same, on text built from pieces of near-matches.
    #[test]
    fn precheck_changes_nothing_on_near_matches(v in prop::collection::vec(prop::sample::select(PIECES), 0..30)) {
        let s = v.concat();
        for k in Redaction::ALL {
            prop_assert_eq!(k.apply(&s), direct(k, &s), "{:?} on {:?}", k, s);
        }
    }

    /// Any text at all: no panic, and text without a match comes back whole.
    #[test]
    fn never_panics(s in "\\PC{0,80}") {
        let out = Redactions::of(&Redaction::ALL).apply(&s);
        if !out.contains('[') {
            prop_assert_eq!(out, s);
        }
    }
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
        "see [url] and [url].",
        "a sentence's full stop is not part of the URL"
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
fn numbers_next_to_each_other() {
    assert_eq!(
        r(Redaction::Phone, "+49 30 1234567 0171 2345678"),
        "[phone] [phone]",
        "two numbers in one run are both masked"
    );
    assert_eq!(
        r(Redaction::Card, "in 2023. 4111 1111 1111 1111 and 12"),
        "in 2023. [card] and 12"
    );
    assert_eq!(
        r(Redaction::Card, "4111 1111 1111 1111 24"),
        "[card] 24",
        "a trailing group is not taken into the card"
    );
    assert_eq!(
        r(Redaction::Phone, "1-800-555-1234"),
        "1-[phone]",
        "a lone leading digit is left"
    );
    assert_eq!(
        r(Redaction::Phone, "from 2024-05-01 10:30 on"),
        "from 2024-05-01 10:30 on"
    );
}

#[test]
fn identifiers_are_not_numbers() {
    for s in [
        "id4111111111111111",
        "x_0301234567",
        "0301234567abc",
        "v10.4.1.2",
        "hash a3f4111111111111111111b2",
    ] {
        assert_eq!(Redactions::of(&Redaction::ALL).apply(s), s);
    }
}

#[test]
fn ip_edges() {
    assert_eq!(r(Redaction::Ip, "addr fe80::1: up"), "addr [ip]: up");
    assert_eq!(r(Redaction::Ip, "net 2001:db8::/32"), "net [ip]/32");
    assert_eq!(
        r(Redaction::Ip, "mac 00:1a:2b:3c:4d:5e"),
        "mac 00:1a:2b:3c:4d:5e"
    );
    assert_eq!(r(Redaction::Ip, "at 12:30:45."), "at 12:30:45.");
    assert_eq!(r(Redaction::Ip, "just :: here"), "just :: here");
}

#[test]
fn digits_of_other_scripts() {
    assert_eq!(numbers::digit_value('７'), Some(7));
    assert_eq!(numbers::digit_value('٣'), Some(3));
    assert_eq!(numbers::digit_value('۹'), Some(9));
    assert_eq!(numbers::digit_value('५'), Some(5));
    assert_eq!(numbers::digit_value('a'), None);
    assert_eq!(numbers::count_digits("a1２٣"), 3);
    assert_eq!(
        r(Redaction::Phone, "رقم ٠٣٠١٢٣٤٥٦٧٨ هنا"),
        "رقم [phone] هنا"
    );
}

#[test]
fn luhn_vectors() {
    assert!(luhn("4111111111111111"));
    assert!(luhn("5500005555555559"));
    assert!(luhn("378282246310005"));
    assert!(luhn("４１１１１１１１１１１１１１１１"));
    assert!(!luhn("4111111111111112"));
    assert!(!luhn(""));
    assert!(!luhn(" 4111111111111111"), "not a digit: false, no panic");
    assert!(!luhn("4111-1111-1111-1111"));
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
