//! Redaction corpus: variants of each kind as found in real text, each in a
//! sentence, and look-alikes that must stay untouched.
//!
//! A positive is `(kind, sentence, secret)`: the sentence holds `{}` where the
//! secret goes, and the redacted text must be the sentence with the kind's
//! placeholder there instead, exactly (no half-masked leftovers). The same
//! must hold with every kind on. A negative must come out unchanged with
//! every kind on.

use policies::{Redaction, Redactions};
use proptest::prelude::*;

use Redaction::{Card, Email, Ip, Phone, Url};

const POSITIVES: &[(Redaction, &str, &str)] = &[
    // ---- e-mail ----
    (Email, "write to {} soon", "jörg@exämple.de"),
    (Email, "联系 {} 谢谢", "用户@例子.中国"),
    (Email, "login as {} first", "root@localhost"),
    (Email, "ping {} on the LAN", "bob@intranet"),
    (Email, "mail {} please", "bob [at] example [dot] com"),
    (Email, "mail {} please", "bob(at)example(dot)com"),
    (Email, "mail {} please", "BOB [AT] EXAMPLE [DOT] COM"),
    (Email, "mail {} please", "bob at example [dot] com"),
    (Email, "mail {} please", "bob [at] example.com"),
    (Email, "mail {} please", "bob{at}example{dot}org"),
    (
        Email,
        "mail {} please",
        "bob (at) example (dot) co (dot) uk",
    ),
    (Email, "mail {} now", "ann.lee+x@example.co.uk"),
    (Email, "from {} today", "Bob.Smith@Example.COM"),
    (Email, "escribe a {} hoy", "josé.garcía@correo.es"),
    (Email, "пиши {} завтра", "иван@пример.рф"),
    (Email, "cc {} too", "x_y-z%1@sub-domain.example.io"),
    (Email, "reply to <{}> now", "bob@example.com"),
    (Email, "link mailto:{} here", "bob@example.com"),
    (Email, "mail {} please", "bob＠example．com"),
    (Email, "ask {} about it", "o'brien@example.ie"),
    // ---- URLs ----
    (Url, "see:{} now", "https://x.io/a"),
    (Url, "link ({}) here", "https://x.io"),
    (Url, "glued {} here", "xhttps://x.io/a"),
    (Url, "get {} now", "ftp://files.example.com/pub/x.tar.gz"),
    (Url, "push to {} now", "sftp://user@host.example.com/home"),
    (Url, "open {} now", "file:///etc/passwd"),
    (Url, "clone {} now", "ssh://git@github.com:22/org/repo.git"),
    (Url, "clone {} now", "git+ssh://host.example.com/repo"),
    (Url, "bucket {} now", "s3://bucket/key/file"),
    (Url, "go to {} now", "example.com/path/to"),
    (Url, "go to {} now", "sub.example.co.uk/x?y=1"),
    (Url, "go to {} now", "HTTPS://EXAMPLE.COM/A"),
    (Url, "go to {} now", "www.example.org"),
    (Url, "go to {} now", "https://例子.中国/路径"),
    (
        Url,
        "read {} now",
        "https://en.wikipedia.org/wiki/Rust_(programming_language)",
    ),
    (Url, "see {}.", "https://x.io/a"),
    (Url, "see {}, then", "https://x.io/a?b=1&c=2"),
    (Url, "admin at {} now", "localhost:8080/admin"),
    (Url, "open {} now", "http://10.0.0.1:8080/x"),
    (Url, "open {} now", "exämple.de/pfad"),
    // ---- cards ----
    (Card, "card {} ok", "4111.1111.1111.1111"),
    (Card, "card {} ok", "4111  1111  1111  1111"),
    (Card, "card {} ok", "４１１１１１１１１１１１１１１１"),
    (
        Card,
        "card {} ok",
        "４１１１\u{3000}１１１１\u{3000}１１１１\u{3000}１１１１",
    ),
    (Card, "card {} ok", "4111 1111 1111 1111"),
    (Card, "card {} ok", "4111-1111-1111-1111"),
    (Card, "card {} ok", "4111111111111111"),
    (Card, "amex {} ok", "3782 822463 10005"),
    (Card, "card {} ok", "5500_0055_5555_5559"),
    (Card, "卡号{}。", "4111111111111111"),
    (Card, "card {} ok", "4111–1111–1111–1111"),
    (Card, "card {} ok", "4111\u{a0}1111\u{a0}1111\u{a0}1111"),
    // ---- phones ----
    (Phone, "call {} now", "＋４９ ３０ １２３４５６７"),
    (Phone, "call {} now", "030_1234_5678"),
    (Phone, "call {} now", "+44 20 7946 0958"),
    (Phone, "call {} now", "(555) 123-4567"),
    (Phone, "call {} now", "555-123-4567"),
    (Phone, "call {} now", "+1 (555) 123-4567"),
    (Phone, "call {} now", "030 1234 5678"),
    (Phone, "call {} now", "+49 (0)30 1234567"),
    (Phone, "appelle le {} ce soir", "01 23 45 67 89"),
    (Phone, "appelle le {} ce soir", "+33 1 23 45 67 89"),
    (Phone, "call {} now", "０３０－１２３４－５６７８"),
    (Phone, "電話{}です", "０３０１２３４５６７８"),
    (Phone, "call {} now", "555.123.4567"),
    (Phone, "on 2024-05-01 {} called", "030 1234 5678"),
    (Phone, "call {}.", "+49 30 1234567"),
    (Phone, "call ({}) now", "555-123-4567"),
    (Phone, "dial tel:{} now", "+14155552671"),
    // ---- IP addresses ----
    (Ip, "host {} up", "::ffff:10.1.2.3"),
    (Ip, "host {} up", "fe80::1"),
    (Ip, "host {} up", "2001:db8::8a2e:370:7334"),
    (Ip, "host {} up", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"),
    (Ip, "host {} up", "192.168.1.20"),
    (Ip, "at {}:8080 now", "10.0.0.1"),
    (Ip, "at [{}]:443 now", "2001:db8::1"),
    (Ip, "loopback {} up", "::1"),
    (Ip, "host {} up", "FE80::ABCD:1"),
    (Ip, "host {}.", "fe80::1"),
    (Ip, "host {}.", "10.0.0.1"),
    (Ip, "route {} up", "fe80::1%eth0"),
];

const NEGATIVES: &[&str] = &[
    "meet at noon",
    "see you at the station at 5",
    "at home (at last) we rested",
    "on 2024-05-01 at 12:30:45",
    "released 2024-05-01T12:30:45Z",
    "dates 2024-05-01, 01.05.2024 and 2024/05/01",
    "version 1.2.3 and v10.4.1",
    "upgrade to 10.15.7 or node 18.19.0 today",
    "chapter 3.2.1 and section 1.2.3.4.5",
    "the total is $1,234.56",
    "€1.234,56 paid",
    "12.345.678,90 € budget",
    "1 234 567 € turnover",
    "USD 12,500.00 and ¥120,000",
    "price 1234567.89 in total",
    "ratio 3:2 and 16:9, from 12:30 to 13:45",
    "plain words only here",
    "e.g. this, i.e. that, and/or either",
    "see README.md and notes.txt for details",
    "std::io::Result and Vec::new() in Rust",
    "call me at 5 pm",
    "the years 1990-2000 were fine",
    "room 42, floor 3",
    "1.5 kg at 3.99 each",
    "@mention in chat, user@ and @ alone",
    "lodash@4.17.21 installed",
    "a list: 1. 2. 3.",
    "C++ and C# at work",
    "an e-mail, a hyphen-ated word - and a dash",
    "Jan 5th at 14:00",
];

fn fill(sentence: &str, secret: &str) -> String {
    sentence.replacen("{}", secret, 1)
}

#[test]
fn every_variant_is_redacted() {
    let all = Redactions::of(&Redaction::ALL);
    let mut failures = Vec::new();
    for &(kind, sentence, secret) in POSITIVES {
        let input = fill(sentence, secret);
        let want = fill(sentence, kind.placeholder());
        let got = kind.apply(&input);
        let got_all = all.apply(&input);
        if got != want || got.contains(secret) || got_all.contains(secret) {
            failures.push(format!(
                "{kind}: {input:?} -> {got:?}, want {want:?} (all kinds: {got_all:?})"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} variants leak:\n{}",
        failures.len(),
        POSITIVES.len(),
        failures.join("\n")
    );
}

#[test]
fn look_alikes_stay_untouched() {
    let all = Redactions::of(&Redaction::ALL);
    let changed: Vec<String> = NEGATIVES
        .iter()
        .filter_map(|&s| {
            let got = all.apply(s);
            (got != s).then(|| format!("{s:?} -> {got:?}"))
        })
        .collect();
    assert!(
        changed.is_empty(),
        "{} of {} look-alikes changed:\n{}",
        changed.len(),
        NEGATIVES.len(),
        changed.join("\n")
    );
}

#[test]
fn corpus_is_large_enough() {
    assert!(POSITIVES.len() >= 60 && NEGATIVES.len() >= 25);
    for k in Redaction::ALL {
        assert!(POSITIVES.iter().filter(|p| p.0 == k).count() >= 10, "{k}");
    }
}

proptest! {
    /// Any address made of Unicode letters, `local@domain` or
    /// `local@domain.tld`, between spaces, is redacted whole.
    #[test]
    fn unicode_letter_addresses_are_redacted(
        local in "\\p{L}{1,12}",
        domain in "\\p{L}{1,12}",
        tld in proptest::option::of("\\p{L}{2,6}"),
    ) {
        let addr = match &tld {
            Some(t) => format!("{local}@{domain}.{t}"),
            None => format!("{local}@{domain}"),
        };
        let text = format!("mail {addr} now");
        prop_assert_eq!(Email.apply(&text), "mail [email] now");
        let all = Redactions::of(&Redaction::ALL).apply(&text);
        prop_assert!(!all.contains(&addr), "{}", all);
    }
}
