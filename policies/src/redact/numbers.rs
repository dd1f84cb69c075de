//! Digit runs: payment card numbers and phone numbers.
//!
//! # Format
//! Both kinds start from a *run*: digit groups joined by 1-3 separators
//! (horizontal spaces, `.`, `-`, `_`, Unicode dashes and their full-width
//! forms), a group possibly led by `+` or held in parentheses. Digits are
//! ASCII, Arabic-Indic, Extended Arabic-Indic, Devanagari or full-width
//! ([`digit_value`]), so `４１１１…` is read as `4111…`.
//!
//! A run glued to an ASCII letter, a digit or `_` on either side is part of
//! an identifier (`v10.4.1`, `id4111…`) and left alone; letters of other
//! scripts do not glue (`電話０３０…です` is a phone number).
//!
//! - Card: a window of whole groups, each of at least 3 digits, 13-19
//!   digits in all, that passes the Luhn check.
//! - Phone: a window of at most 7 whole groups, 7-15 digits in all; a `+`
//!   group comes first (`+44 20…`, `+14155552671`), a bracketed group has
//!   1-4 digits, any other group has at least 2 (or 1 right after a `+`
//!   group: `+33 1 23…`).
//!   Never part of a date (`2024-05-01`, `01.05.2024`). A run that is an
//!   amount (a currency sign before or after it, or a decimal part `,89`
//!   after it) is left alone, as is a run shaped like `1234567.89`, an IPv4
//!   address or a range of years (`1990-2000`).

use std::ops::Range;
use std::sync::OnceLock;

use regex::Regex;

/// The zero of each digit set that is read: ASCII, Arabic-Indic, Extended
/// Arabic-Indic, Devanagari, full-width. Each set is ten code points.
const ZEROS: [u32; 5] = [0x30, 0x660, 0x6F0, 0x966, 0xFF10];

/// The same digits as a regex class.
const DIGIT: &str = r"[0-9\x{660}-\x{669}\x{6F0}-\x{6F9}\x{966}-\x{96F}\x{FF10}-\x{FF19}]";

/// Separators between the groups of a run.
const SEP: &str = r"[\p{Zs}\t._\-\x{2010}-\x{2015}\x{2212}\x{FF0D}\x{FF0E}\x{FF3F}]";

/// The value of a decimal digit from one of the sets in [`ZEROS`].
pub(super) fn digit_value(c: char) -> Option<u32> {
    let c = u32::from(c);
    ZEROS
        .iter()
        .find(|&&z| (z..z + 10).contains(&c))
        .map(|z| c - z)
}

/// How many digits `text` holds (see [`digit_value`]).
pub(super) fn count_digits(text: &str) -> usize {
    if text.is_ascii() {
        text.bytes().filter(u8::is_ascii_digit).count()
    } else {
        text.chars().filter(|&c| digit_value(c).is_some()).count()
    }
}

/// Luhn checksum over a string of decimal digits (ASCII or another set
/// [`digit_value`] reads, such as full-width). False when `digits` is empty
/// or holds anything else.
pub fn luhn(digits: &str) -> bool {
    let mut sum = 0u32;
    let mut n = 0usize;
    for (i, c) in digits.chars().rev().enumerate() {
        let Some(mut d) = digit_value(c) else {
            return false;
        };
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
        n += 1;
    }
    n > 0 && sum.is_multiple_of(10)
}

fn run_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        let p = r"[+＋(（]{0,2}\p{Zs}?D(?:[()（）]|D|S{1,3}[(（]?D)*"
            .replace('D', DIGIT)
            .replace('S', SEP);
        super::compile(&p)
    })
}

fn is_currency(c: char) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| super::compile(r"^\p{Sc}$"))
        .is_match(c.encode_utf8(&mut [0; 4]))
}

/// A character that makes a run part of a longer token.
fn glues(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c.is_numeric()
}

/// One group of digits in a run.
struct Group {
    /// Where it starts (at its `+` or `(` when it has one).
    start: usize,
    /// Where its first digit is.
    digits_at: usize,
    /// Where it ends (after its `)` when it has one).
    end: usize,
    /// The digit values.
    digits: Vec<u32>,
    /// Led by `+`.
    plus: bool,
    /// Led by `(`.
    opened: bool,
    /// Held in parentheses (led by `(` and closed by `)`).
    paren: bool,
}

impl Group {
    fn len(&self) -> usize {
        self.digits.len()
    }

    fn value(&self) -> u32 {
        self.digits.iter().take(9).fold(0, |acc, d| acc * 10 + d)
    }

    fn plain(&self) -> bool {
        !self.plus && !self.paren
    }
}

/// A run's groups, with the separator text between each pair.
struct Run<'t> {
    text: &'t str,
    groups: Vec<Group>,
}

impl<'t> Run<'t> {
    /// Split the run `text[range]` into groups.
    fn parse(text: &'t str, range: Range<usize>) -> Self {
        let mut groups = Vec::new();
        let mut cur: Option<Group> = None;
        // Where a pending `+` or `(` is, waiting for the next group's digits.
        let (mut plus, mut open) = (None::<usize>, None::<usize>);
        let close = |cur: &mut Option<Group>, groups: &mut Vec<Group>| {
            if let Some(mut g) = cur.take() {
                if g.opened && !g.paren {
                    // An unclosed `(` is not part of the number.
                    g.start = if g.plus { g.start } else { g.digits_at };
                }
                groups.push(g);
            }
        };
        for (i, c) in text[range.clone()].char_indices() {
            let at = range.start + i;
            if let Some(d) = digit_value(c) {
                let g = cur.get_or_insert_with(|| {
                    let g = Group {
                        start: [plus, open].into_iter().flatten().min().unwrap_or(at),
                        digits_at: at,
                        end: at,
                        digits: Vec::new(),
                        plus: plus.is_some(),
                        opened: open.is_some(),
                        paren: false,
                    };
                    (plus, open) = (None, None);
                    g
                });
                g.digits.push(d);
                g.end = at + c.len_utf8();
                continue;
            }
            match c {
                ')' | '）' => {
                    if let Some(g) = cur.as_mut().filter(|g| g.opened) {
                        g.paren = true;
                        g.end = at + c.len_utf8();
                    }
                    close(&mut cur, &mut groups);
                }
                '+' | '＋' => {
                    close(&mut cur, &mut groups);
                    plus = Some(at);
                }
                '(' | '（' => {
                    close(&mut cur, &mut groups);
                    open = Some(at);
                }
                c => {
                    close(&mut cur, &mut groups);
                    if !c.is_whitespace() {
                        (plus, open) = (None, None);
                    }
                }
            }
        }
        close(&mut cur, &mut groups);
        Run { text, groups }
    }

    /// The separator between group `i` and group `i + 1`.
    fn sep(&self, i: usize) -> &'t str {
        let (a, b) = (self.groups[i].end, self.groups[i + 1].start);
        self.text.get(a..b).unwrap_or("")
    }

    /// The span of groups `a..b` in the text.
    fn span(&self, a: usize, b: usize) -> Range<usize> {
        self.groups[a].start..self.groups[b - 1].end
    }

    /// Whether the run continues a longer token on either side.
    fn glued(&self) -> bool {
        let (Some(first), Some(last)) = (self.groups.first(), self.groups.last()) else {
            return true;
        };
        self.text[..first.start]
            .chars()
            .next_back()
            .is_some_and(glues)
            || self.text[last.end..].chars().next().is_some_and(glues)
    }

    /// Whether the run reads as an amount of money.
    fn amount(&self) -> bool {
        let (Some(first), Some(last)) = (self.groups.first(), self.groups.last()) else {
            return false;
        };
        let before = past_one_space(self.text[..first.start].chars().rev());
        let after = past_one_space(self.text[last.end..].chars());
        let mut tail = self.text[last.end..].chars();
        let decimals = matches!(tail.next(), Some(',' | '.' | '，'))
            && tail.next().and_then(digit_value).is_some();
        before.is_some_and(is_currency) || after.is_some_and(is_currency) || decimals
    }

    /// Which groups belong to a date (`2024-05-01`, `01.05.2024`, `5/1/2024`).
    fn dates(&self) -> Vec<bool> {
        let g = &self.groups;
        let mut date = vec![false; g.len()];
        for i in 0..g.len().saturating_sub(2) {
            let (x, y, z) = (&g[i], &g[i + 1], &g[i + 2]);
            let (s1, s2) = (self.sep(i), self.sep(i + 1));
            if s1 != s2 || !matches!(s1, "-" | "." | "/" | "－" | "．") {
                continue;
            }
            if !(x.plain() && y.plain() && z.plain()) {
                continue;
            }
            let short = |g: &Group| (1..=2).contains(&g.len());
            let ymd = x.len() == 4
                && short(y)
                && short(z)
                && (1..=12).contains(&y.value())
                && (1..=31).contains(&z.value());
            let dmy = short(x)
                && short(y)
                && z.len() == 4
                && (1..=31).contains(&x.value())
                && (1..=31).contains(&y.value())
                && (x.value() <= 12 || y.value() <= 12);
            if ymd || dmy {
                date[i..i + 3].fill(true);
            }
        }
        date
    }

    /// Segments: stretches of groups not split by a date or a sentence end.
    fn segments(&self) -> Vec<Range<usize>> {
        let date = self.dates();
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.groups.len() {
            if date[i] {
                i += 1;
                continue;
            }
            let mut e = i + 1;
            while e < self.groups.len() && !date[e] && !sentence_break(self.sep(e - 1)) {
                e += 1;
            }
            out.push(i..e);
            i = e;
        }
        out
    }

    /// The longest window from each start that `ok` takes, left to right.
    fn windows(
        &self,
        seg: Range<usize>,
        max: usize,
        ok: impl Fn(&[Group]) -> bool,
        out: &mut Vec<Range<usize>>,
    ) {
        let mut i = seg.start;
        while i < seg.end {
            let last = seg.end.min(i + max);
            match (i + 1..=last).rev().find(|&j| ok(&self.groups[i..j])) {
                Some(j) => {
                    out.push(self.span(i, j));
                    i = j;
                }
                None => i += 1,
            }
        }
    }
}

/// The first character, or the second when the first is a space.
fn past_one_space(mut chars: impl Iterator<Item = char>) -> Option<char> {
    let c = chars.next();
    if c.is_some_and(char::is_whitespace) {
        chars.next()
    } else {
        c
    }
}

fn sentence_break(sep: &str) -> bool {
    sep.contains(char::is_whitespace) && sep.contains(['.', '．'])
}

fn digits(groups: &[Group]) -> usize {
    groups.iter().map(Group::len).sum()
}

/// Spans of card numbers in `text`.
pub(super) fn cards(text: &str, out: &mut Vec<Range<usize>>) {
    for m in run_regex().find_iter(text) {
        let run = Run::parse(text, m.range());
        if run.glued() {
            continue;
        }
        let card = |w: &[Group]| {
            (13..=19).contains(&digits(w))
                && w.iter().all(|g| g.plain() && g.len() >= 3)
                && luhn_groups(w)
        };
        run.windows(0..run.groups.len(), 7, card, out);
    }
}

fn luhn_groups(w: &[Group]) -> bool {
    let s: String = w
        .iter()
        .flat_map(|g| g.digits.iter())
        .filter_map(|&d| char::from_digit(d, 10))
        .collect();
    luhn(&s)
}

/// Spans of phone numbers in `text`.
pub(super) fn phones(text: &str, out: &mut Vec<Range<usize>>) {
    for m in run_regex().find_iter(text) {
        let run = Run::parse(text, m.range());
        if run.glued() || run.amount() {
            continue;
        }
        for seg in run.segments() {
            if not_a_phone(&run, seg.clone()) {
                continue;
            }
            run.windows(seg, 7, phone_window, out);
        }
    }
}

/// A segment shaped like a decimal number, an IPv4 address or a range of years.
fn not_a_phone(run: &Run<'_>, seg: Range<usize>) -> bool {
    let g = &run.groups[seg.clone()];
    if !g.iter().all(Group::plain) {
        return false;
    }
    let seps: Vec<&str> = (seg.start..seg.end - 1).map(|i| run.sep(i)).collect();
    let decimal = g.len() == 2 && matches!(seps[0], "." | "．");
    let ipv4 = g.len() == 4 && seps.iter().all(|s| *s == ".") && g.iter().all(|g| g.len() <= 3);
    let years = g.len() == 2
        && g.iter()
            .all(|g| g.len() == 4 && (1000..=2999).contains(&g.value()))
        && matches!(seps[0].trim(), "-" | "–" | "—" | "‐" | "－");
    decimal || ipv4 || years
}

fn phone_window(w: &[Group]) -> bool {
    if !(7..=15).contains(&digits(w)) {
        return false;
    }
    w.iter().enumerate().all(|(t, g)| {
        if g.plus {
            t == 0
        } else if g.paren {
            g.len() <= 4
        } else {
            g.len() >= 2 || (t == 1 && w[0].plus)
        }
    })
}
