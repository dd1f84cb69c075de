//! The names an item carries: its namespace, kind, tags and source, each
//! checked when it is made.
//!
//! # Invariants
//! - A [`Namespace`] is one or more `/`-separated segments of `[a-z0-9._-]`,
//!   none empty and none made only of dots, at most 200 bytes in all.
//! - A [`Kind`] is a lowercase word (`fact`, `note`... the set is open).
//! - A [`Tag`] is a lowercase word.
//! - A [`Source`] is `user`, `import:<format>`, `client:<name>` (written by
//!   a client with `write`) or `approved:<name>` (proposed by a client and
//!   approved by the user).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const MAX_NAMESPACE_BYTES: usize = 200;
const MAX_WORD_BYTES: usize = 64;

/// A validation error for `field`.
pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
    Error::Invalid {
        field,
        reason: reason.into(),
    }
}

/// A slash path naming where an item lives: `profile`, `work/acme`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Namespace(String);

impl Namespace {
    /// The namespace as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when `self` is `prefix` or lies below it (`work/acme` is under `work`).
    pub fn is_under(&self, prefix: &Namespace) -> bool {
        self.0 == prefix.0
            || (self.0.len() > prefix.0.len()
                && self.0.starts_with(&prefix.0)
                && self.0.as_bytes()[prefix.0.len()] == b'/')
    }
}

impl Default for Namespace {
    fn default() -> Self {
        Namespace("notes".to_owned())
    }
}

impl FromStr for Namespace {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let fix =
            "use lowercase segments of a-z 0-9 . _ - joined by single slashes, like work/acme";
        if s.is_empty() {
            return Err(invalid("namespace", format!("namespace is empty; {fix}")));
        }
        if s.len() > MAX_NAMESPACE_BYTES {
            return Err(invalid(
                "namespace",
                format!("namespace is longer than {MAX_NAMESPACE_BYTES} bytes; {fix}"),
            ));
        }
        for seg in s.split('/') {
            if seg.is_empty() {
                return Err(invalid(
                    "namespace",
                    format!("{s:?} has an empty segment; {fix}"),
                ));
            }
            if let Some(c) = seg
                .chars()
                .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-'))
            {
                return Err(invalid("namespace", format!("{s:?} contains {c:?}; {fix}")));
            }
            if seg.chars().all(|c| c == '.') {
                return Err(invalid(
                    "namespace",
                    format!("{s:?} has a segment made only of dots; {fix}"),
                ));
            }
        }
        Ok(Namespace(s.to_owned()))
    }
}

impl TryFrom<String> for Namespace {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<Namespace> for String {
    fn from(n: Namespace) -> String {
        n.0
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Namespace({:?})", self.0)
    }
}

fn check_word(field: &'static str, s: &str, example: &str) -> Result<()> {
    let fix = format!(
        "use a lowercase word of a-z 0-9 _ - starting with a letter or digit, like {example}"
    );
    if s.is_empty() {
        return Err(invalid(field, format!("{field} is empty; {fix}")));
    }
    if s.len() > MAX_WORD_BYTES {
        return Err(invalid(
            field,
            format!("{field} is longer than {MAX_WORD_BYTES} bytes; {fix}"),
        ));
    }
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let all_ok = s
        .chars()
        .all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '-'));
    if !first_ok || !all_ok {
        return Err(invalid(
            field,
            format!("{s:?} is not a valid {field}; {fix}"),
        ));
    }
    Ok(())
}

macro_rules! word_type {
    ($(#[$doc:meta])* $name:ident, $field:literal, $example:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The word as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                check_word($field, s, $example)?;
                Ok(Self(s.to_owned()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(s: String) -> Result<Self> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(w: $name) -> String {
                w.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:?})"), self.0)
            }
        }
    };
}

word_type!(
    /// What an item is: `fact`, `preference`, `note`, `person`, `project`,
    /// `event`, `document`, or any other lowercase word.
    Kind,
    "kind",
    "note"
);
word_type!(
    /// A lowercase label on an item.
    Tag,
    "tag",
    "travel"
);

impl AsRef<str> for Tag {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Kind {
    /// The kinds every vault knows, whether or not an item has them yet.
    pub const COMMON: &'static [&'static str] = &[
        "fact",
        "preference",
        "note",
        "person",
        "project",
        "event",
        "document",
    ];
}

impl Default for Kind {
    fn default() -> Self {
        Kind("note".to_owned())
    }
}

/// Who wrote an item: `user`, `import:<format>` or `client:<name>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Source(String);

impl Source {
    /// Written by the user through the CLI.
    pub fn user() -> Self {
        Source("user".to_owned())
    }

    /// The source as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Source {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let ok = s == "user"
            || ["import:", "client:", "approved:"].iter().any(|p| {
                s.strip_prefix(p)
                    .is_some_and(|rest| check_word("source", rest, "claude").is_ok())
            });
        if ok {
            Ok(Source(s.to_owned()))
        } else {
            Err(invalid(
                "source",
                format!(
                    "{s:?} is not a source; use user, import:<format>, client:<name> or approved:<name>"
                ),
            ))
        }
    }
}

impl TryFrom<String> for Source {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<Source> for String {
    fn from(s: Source) -> String {
        s.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn namespaces() {
        for ok in ["profile", "work/acme", "a.b/c_d-e/0", "x"] {
            assert!(ok.parse::<Namespace>().is_ok(), "{ok}");
        }
        for bad in [
            "", "Work//X", "work//x", "/work", "work/", "Work", "a b", "..", "a/../b", "é",
        ] {
            assert!(bad.parse::<Namespace>().is_err(), "{bad}");
        }
        let e = "Work//X".parse::<Namespace>().unwrap_err().to_string();
        assert!(e.contains("like work/acme"), "{e}");
    }

    #[test]
    fn under() {
        let ns = |s: &str| s.parse::<Namespace>().unwrap();
        assert!(ns("work/acme").is_under(&ns("work")));
        assert!(ns("work").is_under(&ns("work")));
        assert!(!ns("workshop").is_under(&ns("work")));
        assert!(!ns("work").is_under(&ns("work/acme")));
    }

    #[test]
    fn sources() {
        for ok in ["user", "import:jsonl", "client:claude-desktop"] {
            assert!(ok.parse::<Source>().is_ok(), "{ok}");
        }
        for bad in ["", "root", "client:", "import:Foo"] {
            assert!(bad.parse::<Source>().is_err(), "{bad}");
        }
    }

    fn reference_namespace_ok(s: &str) -> bool {
        !s.is_empty()
            && s.len() <= MAX_NAMESPACE_BYTES
            && s.split('/').all(|seg| {
                !seg.is_empty()
                    && seg.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
                    && !seg.bytes().all(|b| b == b'.')
            })
    }

    proptest! {
        #[test]
        fn namespace_validation_matches_reference(s in "[a-zA-Z0-9/._ -]{0,12}") {
            prop_assert_eq!(s.parse::<Namespace>().is_ok(), reference_namespace_ok(&s));
        }

        #[test]
        fn tag_validation(s in "[a-zA-Z0-9_ -]{0,10}") {
            let expect = !s.is_empty()
                && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
            prop_assert_eq!(s.parse::<Tag>().is_ok(), expect);
        }

        #[test]
        fn namespace_roundtrips_through_json(s in "[a-z0-9]{1,5}(/[a-z0-9_-]{1,5}){0,3}") {
            let ns: Namespace = s.parse().unwrap();
            let json = serde_json::to_string(&ns).unwrap();
            let back: Namespace = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(ns, back);
        }
    }
}
