//! Failures as the agent answers them: a kind the caller decides on, and a
//! one-line message for people.

use serde::{Deserialize, Serialize};

/// What kind of failure a request met. The CLI decides what to print from
/// this, never from the message text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The vault is locked.
    Locked,
    /// No vault exists in the directory.
    NoVault,
    /// A vault already exists.
    AlreadyExists,
    /// No item with that id.
    NoItem,
    /// An item failed authentication.
    Integrity,
    /// Bad input.
    Invalid,
    /// Wrong passphrase.
    WrongPassphrase,
    /// The identity opens no slot.
    IdentityNoMatch,
    /// Not an age identity file.
    BadIdentity,
    /// A key slot is malformed or too costly to open.
    BadSlot,
    /// No client by that name.
    NoClient,
    /// No grant or deny rule with that id.
    NoRule,
    /// No identity slot for that recipient.
    NoSlot,
    /// No proposal with that id.
    NoProposal,
    /// The client may not do this (outside its grants).
    Forbidden,
    /// Too many calls of this kind; retry later.
    RateLimited,
    /// The client token is unknown or revoked.
    Unauthorized,
    /// Client and agent speak different protocol versions.
    ProtocolMismatch,
    /// The disk is full or refused a write: nothing was saved.
    Storage,
    /// Anything else (database, I/O).
    Internal,
    /// A model provider failed, or answered in a shape not asked for.
    Upstream,
    /// The read waits for the user's yes, which the door asks for.
    NeedsConfirmation,
    /// The sync remote cannot be reached or refused the request.
    Remote,
}

/// A failed request: its kind and a one-line message naming the problem.
#[derive(Clone, Debug, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// One line for people.
    pub message: String,
    /// For [`ErrorKind::NeedsConfirmation`]: the question's ticket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<uuid::Uuid>,
}

impl ApiError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
            ticket: None,
        }
    }
}

impl From<vault_core::Error> for ApiError {
    fn from(e: vault_core::Error) -> Self {
        use vault_core::Error as E;
        let kind = match &e {
            E::Invalid { .. } | E::Changed(_) => ErrorKind::Invalid,
            E::NoItem(_) => ErrorKind::NoItem,
            E::Integrity(_) | E::RecordIntegrity(_) => ErrorKind::Integrity,
            E::WrongPassphrase => ErrorKind::WrongPassphrase,
            E::IdentityNoMatch => ErrorKind::IdentityNoMatch,
            E::BadIdentity(_) => ErrorKind::BadIdentity,
            E::ExcessiveWork { .. } | E::MalformedSlot(_) => ErrorKind::BadSlot,
            E::AlreadyExists(_) => ErrorKind::AlreadyExists,
            E::NoVault(_) => ErrorKind::NoVault,
            E::Locked => ErrorKind::Locked,
            E::AuditBroken(_) | E::SyncIntegrity { .. } => ErrorKind::Integrity,
            E::Sync(_) => ErrorKind::Invalid,
            E::Remote(_) => ErrorKind::Remote,
            E::DiskFull | E::Storage(_) => ErrorKind::Storage,
            E::Format(_)
            | E::Db(_)
            | E::Migrate(_)
            | E::Io { .. }
            | E::Crypto(_)
            | E::Embed(_)
            | E::Repeated(_) => ErrorKind::Internal,
        };
        ApiError::new(kind, e.to_string())
    }
}

impl From<ApiError> for client_view::ViewError {
    fn from(e: ApiError) -> Self {
        use client_view::ViewErrorKind as V;
        let kind = match e.kind {
            ErrorKind::NoItem => V::NotFound,
            ErrorKind::Invalid => V::Invalid,
            ErrorKind::Forbidden => V::Forbidden,
            ErrorKind::RateLimited => V::RateLimited,
            ErrorKind::Locked => V::Locked,
            ErrorKind::Unauthorized => V::Unauthorized,
            ErrorKind::NeedsConfirmation => V::NeedsConfirmation,
            ErrorKind::NoVault
            | ErrorKind::AlreadyExists
            | ErrorKind::Integrity
            | ErrorKind::WrongPassphrase
            | ErrorKind::IdentityNoMatch
            | ErrorKind::BadIdentity
            | ErrorKind::BadSlot
            | ErrorKind::NoClient
            | ErrorKind::NoRule
            | ErrorKind::NoSlot
            | ErrorKind::NoProposal
            | ErrorKind::ProtocolMismatch
            | ErrorKind::Storage
            | ErrorKind::Internal
            | ErrorKind::Upstream
            | ErrorKind::Remote => V::Internal,
        };
        client_view::ViewError {
            ticket: e.ticket,
            ..client_view::ViewError::new(kind, e.message)
        }
    }
}
