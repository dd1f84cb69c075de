//! Records of kinds `aspect`, `aspect-use` and `retention` (see the parent
//! module's Format): named views, the one in force, and how long items
//! are kept.

use chrono::{DateTime, Utc};
use policies::{Aspect, RetentionRule, Scope, Sensitivity};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A named view over the vault.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AspectRecord {
    /// Record id.
    pub id: Uuid,
    /// Its name (a lowercase word).
    pub name: String,
    /// The namespaces it admits.
    pub scopes: Vec<Scope>,
    /// The most sensitive items it admits.
    pub max_sensitivity: Sensitivity,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl AspectRecord {
    /// The aspect as the policy uses it.
    pub fn aspect(&self) -> Aspect {
        Aspect {
            name: self.name.clone(),
            scopes: self.scopes.clone(),
            max_sensitivity: self.max_sensitivity,
        }
    }
}

/// The aspect in force (at most one record of this kind).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AspectUseRecord {
    /// Record id.
    pub id: Uuid,
    /// The aspect's name.
    pub aspect: String,
    /// The clients it narrows (every client when empty).
    #[serde(default)]
    pub clients: Vec<String>,
    /// When it stops (none: until switched off).
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
    /// When it was switched on.
    pub created_at: DateTime<Utc>,
}

impl AspectUseRecord {
    /// Whether it narrows `client` at `now`.
    pub fn applies(&self, client: &str, now: DateTime<Utc>) -> bool {
        self.until.is_none_or(|u| now < u)
            && (self.clients.is_empty() || self.clients.iter().any(|c| c == client))
    }
}

/// What a retention is on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "on", rename_all = "lowercase")]
pub enum RetentionOn {
    /// One item, removed at `expires`.
    Item {
        /// The item's id.
        item: Uuid,
        /// When it is removed.
        expires: DateTime<Utc>,
    },
    /// Every item of a scope, removed `keep_secs` after it was made.
    Scope {
        /// Which namespaces.
        scope: Scope,
        /// How long an item is kept.
        keep_secs: i64,
    },
}

/// How long items are kept.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RetentionRecord {
    /// Record id.
    pub id: Uuid,
    /// What it is on.
    #[serde(flatten)]
    pub on: RetentionOn,
    /// When it was set.
    pub created_at: DateTime<Utc>,
}

impl RetentionRecord {
    /// The rule, for a scope's retention.
    pub fn rule(&self) -> Option<RetentionRule> {
        match &self.on {
            RetentionOn::Scope { scope, keep_secs } => Some(RetentionRule {
                scope: scope.clone(),
                keep: chrono::Duration::try_seconds(*keep_secs)?,
            }),
            RetentionOn::Item { .. } => None,
        }
    }
}
