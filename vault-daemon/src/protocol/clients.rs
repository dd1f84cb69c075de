//! Requests about the user's AI clients (register, list, remove, rotate)
//! and their answers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Register a client; answers its token (shown once).
#[derive(Debug, Serialize, Deserialize)]
pub struct ClientAdd {
    /// The client's name.
    pub name: String,
    /// The model provider behind it (none: undeclared, judged as cloud).
    #[serde(default)]
    pub provider: Option<String>,
}

/// A client's new token, shown once.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClientToken {
    /// The client.
    pub name: String,
    /// Its token.
    pub token: String,
}

/// Every client.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ClientList {}

/// A client as `client ls` shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClientInfo {
    /// Its name.
    pub name: String,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// When its token was last replaced.
    pub rotated_at: Option<DateTime<Utc>>,
    /// Its grants.
    pub grants: usize,
    /// Its deny rules.
    pub denies: usize,
    /// Where its answers go when no request says otherwise
    /// (`anthropic (cloud)`).
    #[serde(default)]
    pub provider: String,
}

/// Remove a client with its token, grants and deny rules.
#[derive(Debug, Serialize, Deserialize)]
pub struct ClientRemove {
    /// The client's name.
    pub name: String,
}

/// Replace a client's token; the old one stops working at once.
#[derive(Debug, Serialize, Deserialize)]
pub struct ClientRotate {
    /// The client's name.
    pub name: String,
}
