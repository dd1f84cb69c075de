//! Scopes: namespace globs.
//!
//! # Syntax
//! `/`-separated segments, each either a literal of `[a-z0-9._-]`, `*` (any
//! one segment) or `**` (any number of segments, including none). A literal
//! may also hold `*` as a wildcard inside the segment (`proj-*`). `work/**`
//! matches `work` itself and everything below it.
//!
//! # Matching
//! [`Scope::matches`] is exact: `health` matches the namespace `health` and
//! nothing else (this is what a grant uses). [`Scope::matches_at_or_above`]
//! also takes every namespace below one the scope matches: `health` then
//! takes `health/labs/2024` too, never `healthy` (this is what a deny rule
//! uses).

use std::fmt;
use std::str::FromStr;

use globset::{GlobBuilder, GlobMatcher};
use serde::{Deserialize, Serialize};

use crate::ParseError;

/// A namespace glob, parsed and compiled.
#[derive(Clone)]
pub struct Scope {
    pattern: String,
    matcher: GlobMatcher,
    /// For `base/**`: the scope `base`, which the pattern also matches
    /// (a trailing `**` may stand for no segment at all).
    base: Option<Box<Scope>>,
}

impl Scope {
    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// True when `namespace` itself lies in this scope (exact: `health`
    /// does not match `health/labs`).
    pub fn matches(&self, namespace: &str) -> bool {
        self.matcher.is_match(namespace) || self.base.as_ref().is_some_and(|b| b.matches(namespace))
    }

    /// True when this scope matches `namespace` or one of its ancestors
    /// (`a`, `a/b`, ... of `a/b/c`): `namespace` is in the subtree of a
    /// namespace the scope matches. `health` covers `health/labs/2024`;
    /// `proj-*` covers `proj-x/notes`; neither covers `healthy`.
    pub fn matches_at_or_above(&self, namespace: &str) -> bool {
        self.matches(namespace)
            || namespace
                .match_indices('/')
                .map(|(i, _)| &namespace[..i])
                .filter(|a| !a.is_empty() && !a.ends_with('/'))
                .any(|a| self.matches(a))
    }
}

impl FromStr for Scope {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let fix = "a scope is a namespace glob such as work/**, profile or notes/*";
        if s.is_empty() {
            return Err(ParseError(format!("empty scope; {fix}")));
        }
        for seg in s.split('/') {
            if seg.is_empty() {
                return Err(ParseError(format!(
                    "malformed scope {s:?}: empty segment; {fix}"
                )));
            }
            if seg == "**" {
                continue;
            }
            if seg.contains("**") {
                return Err(ParseError(format!(
                    "malformed scope {s:?}: ** must be a whole segment; {fix}"
                )));
            }
            if let Some(c) = seg
                .chars()
                .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-' | '*'))
            {
                return Err(ParseError(format!(
                    "malformed scope {s:?}: {c:?} is not allowed; {fix}"
                )));
            }
        }
        let matcher = GlobBuilder::new(s)
            .literal_separator(true)
            .backslash_escape(false)
            .build()
            .map_err(|e| ParseError(format!("malformed scope {s:?}: {e}; {fix}")))?
            .compile_matcher();
        let base = s
            .strip_suffix("/**")
            .map(|b| b.parse().map(Box::new))
            .transpose()?;
        Ok(Scope {
            pattern: s.to_owned(),
            matcher,
            base,
        })
    }
}

impl PartialEq for Scope {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl Eq for Scope {}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scope({:?})", self.pattern)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pattern)
    }
}

impl Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.pattern)
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, ns: &str) -> bool {
        p.parse::<Scope>().unwrap().matches(ns)
    }

    #[test]
    fn globs() {
        assert!(m("work/**", "work"));
        assert!(m("work/**", "work/acme"));
        assert!(m("work/**", "work/acme/q3"));
        assert!(!m("work/**", "workshop"));
        assert!(m("work/*", "work/acme"));
        assert!(!m("work/*", "work/acme/q3"));
        assert!(!m("work/*", "work"));
        assert!(m("profile", "profile"));
        assert!(!m("profile", "profile/x"));
        assert!(m("**", "anything/at/all"));
        assert!(m("*/notes", "home/notes"));
        assert!(m("**/notes", "notes"));
        assert!(m("**/notes", "a/b/notes"));
        assert!(m("*/**", "a"));
        assert!(m("a/*/**", "a/b"));
        assert!(!m("a/*/**", "a"));
        assert!(m("proj-*", "proj-x"));
        assert!(!m("proj-*", "proj-x/y"));
    }

    fn at_or_above(p: &str, ns: &str) -> bool {
        p.parse::<Scope>().unwrap().matches_at_or_above(ns)
    }

    #[test]
    fn subtree_of_a_match() {
        assert!(at_or_above("health", "health"));
        assert!(at_or_above("health", "health/labs"));
        assert!(at_or_above("health", "health/labs/2024"));
        assert!(!at_or_above("health", "healthy"));
        assert!(!at_or_above("health", "health-x"));
        assert!(!at_or_above("health", "healthy/labs"));
        assert!(!at_or_above("health", "work/health"));
        assert!(at_or_above("proj-*", "proj-x/notes"));
        assert!(!at_or_above("proj-*", "proj"));
        assert!(at_or_above("work/**", "work"));
        assert!(at_or_above("work/**", "work/a/b"));
        assert!(!at_or_above("work/**", "workshop"));
        assert!(at_or_above("*/notes", "home/notes/2024"));
        assert!(!at_or_above("*/notes", "home"));
        assert!(at_or_above("work/*", "work/acme/q3"));
        assert!(!at_or_above("work/*", "work"));
        // Exact matching is unchanged.
        assert!(!m("health", "health/labs"));
    }

    #[test]
    fn malformed() {
        for bad in [
            "",
            "Work/**",
            "work//x",
            "/work",
            "work/",
            "wo**rk",
            "a b",
            "work/[ab]",
            "{a,b}",
            "a\\b",
        ] {
            assert!(bad.parse::<Scope>().is_err(), "{bad}");
        }
        let e = "Work/**".parse::<Scope>().unwrap_err().to_string();
        assert!(
            e.contains("malformed scope") && e.contains("work/**"),
            "{e}"
        );
    }
}
