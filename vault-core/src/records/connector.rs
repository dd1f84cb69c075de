//! A hosted assistant's OAuth registration with the vault, once the user
//! approved it: a policy record of kind `connector` (see the parent
//! module's Format). Only SHA-256 hashes of its refresh tokens are kept.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Refresh tokens of a family kept after they were used, to tell a replay.
pub const SPENT_KEPT: usize = 32;

/// An approved OAuth connector (a ctxvault client reached through OAuth).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorRecord {
    /// Record id.
    pub id: Uuid,
    /// The ctxvault client it acts as.
    pub client: String,
    /// The OAuth `client_id` the connector registered with.
    pub client_id: String,
    /// The name it registered with (shown to the user, never trusted).
    pub name: String,
    /// Its registered redirect URIs (matched exactly).
    pub redirect_uris: Vec<String>,
    /// The current refresh token family, if one is live.
    #[serde(default)]
    pub family: Option<Family>,
    /// When the user approved it.
    pub created_at: DateTime<Utc>,
}

/// One chain of rotating refresh tokens, from one approval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Family {
    /// Its id (access tokens carry it, to be revoked with it).
    pub id: Uuid,
    /// Hex SHA-256 of the refresh token now valid.
    pub refresh_sha256: String,
    /// Hex SHA-256 of the refresh tokens already used (newest last, at
    /// most [`SPENT_KEPT`]): one presented again revokes the family.
    #[serde(default)]
    pub spent: Vec<String>,
    /// The resource (RFC 8707) its tokens are for.
    pub resource: String,
    /// When the family stops (a refresh does not extend it).
    pub expires: DateTime<Utc>,
    /// When a token was last issued from it.
    pub refreshed_at: DateTime<Utc>,
}
