//! The item model and its validation.
//!
//! # Invariants
//! - A [`Namespace`] is one or more `/`-separated segments of `[a-z0-9._-]`,
//!   none empty and none made only of dots, at most 200 bytes in all.
//! - A [`Kind`] is a lowercase word (`fact`, `note`... the set is open).
//! - A [`Tag`] is a lowercase word; an item's tags are sorted and distinct.
//! - A body is 1 byte to 1 MiB of UTF-8 and not only whitespace.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::Zeroize;

use crate::error::{Error, Result};

/// Largest body accepted, in bytes (1 MiB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Largest title accepted, in bytes.
pub const MAX_TITLE_BYTES: usize = 1024;
/// Most tags on one item.
pub const MAX_TAGS: usize = 32;
const MAX_NAMESPACE_BYTES: usize = 200;
const MAX_WORD_BYTES: usize = 64;

fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
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

impl Default for Kind {
    fn default() -> Self {
        Kind("note".to_owned())
    }
}

pub use policies::Sensitivity;

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
            || ["import:", "client:"].iter().any(|p| {
                s.strip_prefix(p)
                    .is_some_and(|rest| check_word("source", rest, "claude").is_ok())
            });
        if ok {
            Ok(Source(s.to_owned()))
        } else {
            Err(invalid(
                "source",
                format!("{s:?} is not a source; use user, import:<format> or client:<name>"),
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

/// Check a body: 1 byte to 1 MiB, not only whitespace.
pub fn check_body(body: &str) -> Result<()> {
    if body.trim().is_empty() {
        return Err(invalid(
            "body",
            "body is empty; give the text as an argument or pipe it with -",
        ));
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(invalid(
            "body",
            format!(
                "body is {} bytes, over the 1 MiB limit; split it into several items",
                body.len()
            ),
        ));
    }
    Ok(())
}

/// Check a title: at most 1024 bytes, one line.
pub fn check_title(title: &str) -> Result<()> {
    if title.len() > MAX_TITLE_BYTES {
        return Err(invalid(
            "title",
            format!(
                "title is over {MAX_TITLE_BYTES} bytes; shorten it or move the text into the body"
            ),
        ));
    }
    if title.contains(['\n', '\r']) {
        return Err(invalid(
            "title",
            "title spans several lines; keep it to one line and move the rest into the body",
        ));
    }
    Ok(())
}

/// Normalise a tag list: sorted, distinct, at most [`MAX_TAGS`].
pub fn normalize_tags(mut tags: Vec<Tag>) -> Result<Vec<Tag>> {
    tags.sort();
    tags.dedup();
    if tags.len() > MAX_TAGS {
        return Err(invalid(
            "tags",
            format!(
                "{} tags given, at most {MAX_TAGS} are allowed; drop some",
                tags.len()
            ),
        ));
    }
    Ok(tags)
}

/// The fields of an item a writer supplies.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NewItem {
    /// Where the item lives.
    pub namespace: Namespace,
    /// What it is.
    pub kind: Kind,
    /// Optional short title.
    pub title: Option<String>,
    /// The text.
    pub body: String,
    /// Labels.
    pub tags: Vec<Tag>,
    /// How sensitive it is.
    pub sensitivity: Sensitivity,
    /// Who wrote it.
    pub source: Source,
}

impl NewItem {
    /// A note in `namespace` with the given body and defaults elsewhere.
    pub fn note(namespace: Namespace, body: impl Into<String>) -> Self {
        NewItem {
            namespace,
            kind: Kind::default(),
            title: None,
            body: body.into(),
            tags: Vec::new(),
            sensitivity: Sensitivity::default(),
            source: Source::user(),
        }
    }

    /// Validate the fields that are not checked by their types, normalising tags.
    pub fn validate(mut self) -> Result<Self> {
        check_body(&self.body)?;
        if let Some(t) = &self.title {
            check_title(t)?;
        }
        if self.title.as_deref() == Some("") {
            self.title = None;
        }
        self.tags = normalize_tags(std::mem::take(&mut self.tags))?;
        Ok(self)
    }
}

impl Item {
    /// Check a complete item (as an import brings it): body, title and
    /// version, normalising its tags.
    pub fn validate(&mut self) -> Result<()> {
        check_body(&self.body)?;
        if let Some(t) = &self.title {
            check_title(t)?;
        }
        if self.version == 0 {
            return Err(invalid("version", "version must be at least 1"));
        }
        self.tags = normalize_tags(std::mem::take(&mut self.tags))?;
        Ok(())
    }
}

impl Drop for NewItem {
    fn drop(&mut self) {
        self.body.zeroize();
        if let Some(t) = self.title.as_mut() {
            t.zeroize();
        }
    }
}

/// A change to an existing item; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ItemPatch {
    /// New namespace.
    pub namespace: Option<Namespace>,
    /// New kind.
    pub kind: Option<Kind>,
    /// New title; `Some("")` clears it.
    pub title: Option<String>,
    /// New body.
    pub body: Option<String>,
    /// New tag set (replaces the old one).
    pub tags: Option<Vec<Tag>>,
    /// New sensitivity.
    pub sensitivity: Option<Sensitivity>,
}

impl ItemPatch {
    /// Apply the patch to `item`, checking each new field (times and
    /// version are the caller's).
    pub fn apply_to(&self, item: &mut Item) -> Result<()> {
        if let Some(ns) = &self.namespace {
            item.namespace = ns.clone();
        }
        if let Some(k) = &self.kind {
            item.kind = k.clone();
        }
        if let Some(t) = &self.title {
            check_title(t)?;
            item.title = (!t.is_empty()).then(|| t.clone());
        }
        if let Some(b) = &self.body {
            check_body(b)?;
            item.body = b.clone();
        }
        if let Some(tags) = &self.tags {
            item.tags = normalize_tags(tags.clone())?;
        }
        if let Some(s) = self.sensitivity {
            item.sensitivity = s;
        }
        Ok(())
    }

    /// True when the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.namespace.is_none()
            && self.kind.is_none()
            && self.title.is_none()
            && self.body.is_none()
            && self.tags.is_none()
            && self.sensitivity.is_none()
    }
}

impl Drop for ItemPatch {
    fn drop(&mut self) {
        if let Some(b) = self.body.as_mut() {
            b.zeroize();
        }
        if let Some(t) = self.title.as_mut() {
            t.zeroize();
        }
    }
}

/// One piece of context, as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// UUID v7.
    pub id: Uuid,
    /// Where the item lives.
    pub namespace: Namespace,
    /// What it is.
    pub kind: Kind,
    /// Optional short title.
    pub title: Option<String>,
    /// The text.
    pub body: String,
    /// Labels, sorted and distinct.
    pub tags: Vec<Tag>,
    /// How sensitive it is.
    pub sensitivity: Sensitivity,
    /// Who wrote it.
    pub source: Source,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Starts at 1, bumped on every edit.
    pub version: u64,
}

impl Drop for Item {
    fn drop(&mut self) {
        self.body.zeroize();
        if let Some(t) = self.title.as_mut() {
            t.zeroize();
        }
    }
}

/// Which items `ls` and `search` consider.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ItemFilter {
    /// Only items in this namespace or below it.
    pub namespace: Option<Namespace>,
    /// Only items carrying at least one of these tags.
    pub tags: Vec<Tag>,
}

impl ItemFilter {
    /// True when an item with this namespace and these tags passes.
    pub fn matches(&self, namespace: &Namespace, tags: &[Tag]) -> bool {
        self.namespace
            .as_ref()
            .is_none_or(|p| namespace.is_under(p))
            && (self.tags.is_empty() || self.tags.iter().any(|t| tags.contains(t)))
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
    fn bodies() {
        assert!(check_body("x").is_ok());
        assert!(check_body("").is_err());
        assert!(check_body(" \n").is_err());
        assert!(check_body(&"a".repeat(MAX_BODY_BYTES)).is_ok());
        assert!(check_body(&"a".repeat(MAX_BODY_BYTES + 1)).is_err());
    }

    #[test]
    fn sensitivity_order_and_parse() {
        assert!(Sensitivity::Public < Sensitivity::Normal);
        assert!(Sensitivity::Private < Sensitivity::Secret);
        assert_eq!(
            "secret".parse::<Sensitivity>().unwrap(),
            Sensitivity::Secret
        );
        assert!("top-secret".parse::<Sensitivity>().is_err());
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
        fn tags_normalised(tags in proptest::collection::vec("[a-c]{1,2}", 0..10)) {
            let parsed: Vec<Tag> = tags.iter().map(|t| t.parse().unwrap()).collect();
            let out = normalize_tags(parsed).unwrap();
            prop_assert!(out.windows(2).all(|w| w[0] < w[1]));
            for t in &tags {
                prop_assert!(out.iter().any(|o| o.as_str() == t));
            }
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
