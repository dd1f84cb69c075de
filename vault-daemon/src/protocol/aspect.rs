//! Requests about aspects (named views that narrow what clients see),
//! retention (how long items are kept) and confirmations, and their
//! answers.

use chrono::{DateTime, Utc};
use policies::{Scope, Sensitivity};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{VaultRequest, calls};

/// Define (or, with `replace`, redefine) an aspect.
#[derive(Debug, Serialize, Deserialize)]
pub struct AspectAdd {
    /// Its name, a lowercase word such as `interview`.
    pub name: String,
    /// The namespaces it admits (at least one).
    pub scopes: Vec<Scope>,
    /// The most sensitive items it admits.
    pub max_sensitivity: Sensitivity,
    /// Replace an aspect of the same name.
    #[serde(default)]
    pub replace: bool,
}

/// Remove an aspect (switching it off if it is in force).
#[derive(Debug, Serialize, Deserialize)]
pub struct AspectRemove {
    /// Its name.
    pub name: String,
}

/// Switch an aspect on.
#[derive(Debug, Serialize, Deserialize)]
pub struct AspectUse {
    /// Its name.
    pub name: String,
    /// When it switches off by itself (none: when switched off).
    pub until: Option<DateTime<Utc>>,
    /// Only these clients (every client when empty).
    #[serde(default)]
    pub clients: Vec<String>,
}

/// Switch the aspect in force off.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct AspectOff {}

/// Every aspect, and the one in force.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct AspectList {}

/// The answer to [`AspectList`].
#[derive(Debug, Serialize, Deserialize)]
pub struct AspectReport {
    /// Every aspect, by name.
    pub aspects: Vec<AspectInfo>,
    /// The one in force, if any.
    pub in_force: Option<AspectInForce>,
}

/// An aspect as `aspect ls` shows it.
#[derive(Debug, Serialize, Deserialize)]
pub struct AspectInfo {
    /// Its name.
    pub name: String,
    /// The namespaces it admits.
    pub scopes: Vec<String>,
    /// The most sensitive items it admits.
    pub max_sensitivity: Sensitivity,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// The aspect in force.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AspectInForce {
    /// Its name.
    pub name: String,
    /// The clients it narrows (every client when empty).
    pub clients: Vec<String>,
    /// When it switches off by itself.
    pub until: Option<DateTime<Utc>>,
    /// When it was switched on.
    pub since: DateTime<Utc>,
}

/// Keep the items of a scope for a while after they were made (replaces
/// the scope's retention if it has one).
#[derive(Debug, Serialize, Deserialize)]
pub struct RetentionSet {
    /// Which namespaces.
    pub scope: Scope,
    /// How long, in seconds (at least a minute).
    pub keep_secs: i64,
}

/// Remove a scope's retention.
#[derive(Debug, Serialize, Deserialize)]
pub struct RetentionRemove {
    /// The scope, as it was set.
    pub scope: Scope,
}

/// Every retention.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RetentionList {}

/// A retention as `retention ls` shows it.
#[derive(Debug, Serialize, Deserialize)]
pub struct RetentionInfo {
    /// The scope (for a scope's retention).
    pub scope: Option<String>,
    /// The item (for an item's own expiry).
    pub item: Option<Uuid>,
    /// How long a scope's items are kept, in seconds.
    pub keep_secs: Option<i64>,
    /// When the item goes (for an item's own expiry).
    pub expires: Option<DateTime<Utc>>,
}

/// Remove every item whose retention ran out now (the agent also does
/// this on a schedule and at unlock); answers how many went.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RetentionSweep {}

/// The reads waiting for the user's yes.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ConfirmList {}

/// Answer a waiting read; answers the question it answered.
#[derive(Debug, Serialize, Deserialize)]
pub struct ConfirmAnswer {
    /// The question's id, or a start of it.
    pub id: String,
    /// Yes: the read goes on with those items.
    pub yes: bool,
}

calls!(Vault / VaultRequest {
    ConfirmList => Vec<crate::confirm::Question>,
    ConfirmAnswer => crate::confirm::Question,
    AspectAdd => (),
    AspectRemove => (),
    AspectUse => (),
    AspectOff => (),
    AspectList => AspectReport,
    RetentionSet => (),
    RetentionRemove => (),
    RetentionList => Vec<RetentionInfo>,
    RetentionSweep => u64,
});
