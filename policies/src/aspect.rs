//! Aspects: named views that narrow what clients see for a while (while
//! preparing an interview, only work and profile). An aspect never gives
//! anything: an item is seen only if the grants allow it *and* the aspect
//! admits it.

use serde::{Deserialize, Serialize};

use crate::scope::Scope;
use crate::sensitivity::Sensitivity;

/// What an aspect admits: items in one of its scopes (matched exactly, as
/// a grant's scope), up to a sensitivity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Aspect {
    /// Its name.
    pub name: String,
    /// The namespaces it admits (at least one).
    pub scopes: Vec<Scope>,
    /// The most sensitive items it admits.
    pub max_sensitivity: Sensitivity,
}

impl Aspect {
    /// Whether a namespace lies in one of its scopes.
    pub fn admits_namespace(&self, namespace: &str) -> bool {
        self.scopes.iter().any(|s| s.matches(namespace))
    }

    /// Whether it admits an item of `namespace` and `sensitivity`.
    pub fn admits(&self, namespace: &str, sensitivity: Sensitivity) -> bool {
        sensitivity <= self.max_sensitivity && self.admits_namespace(namespace)
    }

    /// The aspect in words: `interview (work/**, profile; up to normal)`.
    pub fn words(&self) -> String {
        let scopes: Vec<&str> = self.scopes.iter().map(Scope::as_str).collect();
        format!(
            "{} ({}; up to {})",
            self.name,
            scopes.join(", "),
            self.max_sensitivity
        )
    }
}
