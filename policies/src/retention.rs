//! Retention: when an item stops being kept. An item may carry its own
//! expiry; a retention rule keeps the items of a scope for a while after
//! they were made. The earliest of all that apply wins.

use crate::scope::Scope;
use chrono::{DateTime, Duration, Utc};

/// The shortest retention a user may set.
pub const MIN_RETENTION: Duration = Duration::minutes(1);

/// Keep the items of `scope` for `keep` after they were made.
#[derive(Clone, Debug, PartialEq)]
pub struct RetentionRule {
    /// Which namespaces (matched exactly, as a grant's scope).
    pub scope: Scope,
    /// How long an item is kept, from when it was made.
    pub keep: Duration,
}

/// When an item of `namespace` made at `created` stops being kept: the
/// earliest of its own expiry and of every rule whose scope holds it.
pub fn expiry(
    namespace: &str,
    created: DateTime<Utc>,
    own: Option<DateTime<Utc>>,
    rules: &[RetentionRule],
) -> Option<DateTime<Utc>> {
    rules
        .iter()
        .filter(|r| r.scope.matches(namespace))
        .filter_map(|r| created.checked_add_signed(r.keep))
        .chain(own)
        .min()
}

/// True once an item's retention has run out at `now`.
pub fn is_expired(expires: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    expires.is_some_and(|e| e <= now)
}
