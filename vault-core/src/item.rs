//! The item model and its validation (the names it uses, namespaces, kinds,
//! tags and sources, are in [`crate::names`]).
//!
//! # Invariants
//! - An item's tags are sorted and distinct.
//! - A body is 1 byte to 1 MiB of UTF-8 and not only whitespace.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::Zeroize;

use crate::error::Result;
use crate::names::invalid;
pub use crate::names::{Kind, Namespace, Source, Tag};
pub use policies::Sensitivity;

/// Largest body accepted, in bytes (1 MiB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Largest title accepted, in bytes.
pub const MAX_TITLE_BYTES: usize = 1024;
/// Most tags on one item.
pub const MAX_TAGS: usize = 32;
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
    /// Tags to take off (after `tags`).
    #[serde(default)]
    pub remove_tags: Vec<Tag>,
    /// Tags to put on (after `remove_tags`).
    #[serde(default)]
    pub add_tags: Vec<Tag>,
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
        if !self.remove_tags.is_empty() || !self.add_tags.is_empty() {
            let mut tags: Vec<Tag> = item
                .tags
                .iter()
                .filter(|t| !self.remove_tags.contains(t))
                .cloned()
                .collect();
            tags.extend(self.add_tags.iter().cloned());
            item.tags = normalize_tags(tags)?;
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
            && self.remove_tags.is_empty()
            && self.add_tags.is_empty()
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

    proptest! {
        #[test]
        fn tags_normalised(tags in proptest::collection::vec("[a-c]{1,2}", 0..10)) {
            let parsed: Vec<Tag> = tags.iter().map(|t| t.parse().unwrap()).collect();
            let out = normalize_tags(parsed).unwrap();
            prop_assert!(out.windows(2).all(|w| w[0] < w[1]));
            for t in &tags {
                prop_assert!(out.iter().any(|o| o.as_str() == t));
            }
        }
    }
}
