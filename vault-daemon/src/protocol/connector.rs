//! Requests about OAuth connectors (hosted assistants), and their answers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::GrantAdd;

/// What waits for approval and what was approved.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ConnectorList {}

/// The answer to [`ConnectorList`].
#[derive(Debug, Serialize, Deserialize)]
pub struct ConnectorReport {
    /// Authorization requests waiting for the user, oldest first.
    pub waiting: Vec<WaitingConnector>,
    /// Approved connectors, by client name.
    pub approved: Vec<ConnectorInfo>,
}

/// An authorization request waiting for the user.
#[derive(Debug, Serialize, Deserialize)]
pub struct WaitingConnector {
    /// The code its page shows, to approve it with.
    pub code: String,
    /// The name it registered with (unverified).
    pub name: String,
    /// Where it will be sent back.
    pub redirect_uri: String,
    /// Seconds since it asked.
    pub age_secs: u64,
    /// Its OAuth client_id (a metadata document's URL, or one handed out
    /// at registration).
    pub client_id: String,
}

/// An approved connector.
#[derive(Debug, Serialize, Deserialize)]
pub struct ConnectorInfo {
    /// The ctxvault client it acts as.
    pub client: String,
    /// The name it registered with (unverified).
    pub name: String,
    /// Its redirect URIs.
    pub redirect_uris: Vec<String>,
    /// When the user approved it.
    pub approved_at: DateTime<Utc>,
    /// When it last got tokens, if it holds any.
    pub refreshed_at: Option<DateTime<Utc>>,
    /// When its refresh tokens stop, if it holds any.
    pub expires: Option<DateTime<Utc>>,
    /// Access tokens alive now.
    pub live_tokens: usize,
}

/// Approve a waiting request; answers the client name it acts as.
#[derive(Debug, Serialize, Deserialize)]
pub struct ConnectorApprove {
    /// The code its page shows.
    pub code: String,
    /// The client name for a new connector (default: from its name).
    pub name: Option<String>,
    /// Grants to add (their `client` is the connector's).
    pub grants: Vec<GrantAdd>,
}

/// Deny a waiting request.
#[derive(Debug, Serialize, Deserialize)]
pub struct ConnectorDeny {
    /// The code its page shows.
    pub code: String,
}

/// Revoke a connector's tokens (its client and grants remain).
#[derive(Debug, Serialize, Deserialize)]
pub struct ConnectorRevoke {
    /// The client it acts as.
    pub client: String,
}
