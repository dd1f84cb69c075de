//! ctxvault policy: which slices of the vault each AI client may see.
//!
//! Pure by design: no I/O, no async and no clock of its own (`now` is an
//! argument), so every rule can be tested exhaustively.
//!
//! # Semantics
//! - Default deny: a client with no grant sees nothing.
//! - A [`Grant`] gives one client some [`Action`]s on a [`Scope`] (namespace
//!   glob), optionally only for items carrying one of its tags, up to a
//!   maximum [`Sensitivity`] (default `normal`), until an optional expiry.
//!   An expired grant is inert.
//! - A [`DenyRule`] removes a scope from a client whatever grants say, and
//!   with it everything below each namespace the scope matches: `deny
//!   health` also hides `health/labs/2024` (never `healthy`). Grant scopes
//!   stay exact: a grant on `health` gives `health` only.
//! - `secret` items are reachable only through a grant whose maximum is
//!   `secret` (this follows from the ordering).
//! - When several grants allow an item, a field is redacted only if every
//!   allowing grant redacts it: grants add access, they never take it away.
//! - A grant may be limited to providers ([`ProviderCondition`]); a policy
//!   is made for the [`Destination`] of its answers.
//! - An [`Aspect`] in force narrows a policy and never widens it.
//! - Retention ([`retention`]) says when an item stops being kept.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod actions;
pub mod aspect;
pub mod decision;
pub mod destination;
pub mod redact;
pub mod retention;
pub mod scope;
pub mod sensitivity;

pub use actions::{Action, Actions};
pub use aspect::Aspect;
pub use decision::{
    ClientPolicy, Confirm, Decision, DenyRule, Grant, ItemFacts, Reason, RuleId, decide,
};
pub use destination::{Destination, ProviderClass, ProviderCondition};
pub use redact::{Redaction, Redactions};
pub use retention::RetentionRule;
pub use scope::Scope;
pub use sensitivity::Sensitivity;

/// A policy input that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);
