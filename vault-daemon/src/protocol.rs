//! The control protocol between the CLI and the agent.
//!
//! # Format
//! One endpoint, `POST /v1/call`, with the header `x-ctxvault-protocol:
//! <PROTOCOL_VERSION>` and a JSON [`Request`] body. The answer is a JSON
//! `{"Ok": Response}` or `{"Err": ApiError}`. A request whose protocol
//! version differs is refused with [`ErrorKind::ProtocolMismatch`] before
//! anything else happens. Bump [`PROTOCOL_VERSION`] by hand on any change
//! to these types.

use std::fmt;

use chrono::{DateTime, Utc};
use policies::{Action, Actions, Redaction, Scope, Sensitivity};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vault_core::audit::{AuditRecord, AuditReport};
use vault_core::bundle::BundleClient;
use vault_core::{Item, ItemFilter, ItemPatch, Kind, Namespace, NewItem, SearchHit, Tag};
use zeroize::Zeroizing;

/// Version of this protocol; checked on every request.
pub const PROTOCOL_VERSION: u32 = 5;
/// Header carrying the protocol version.
pub const PROTOCOL_HEADER: &str = "x-ctxvault-protocol";
/// Path of the one endpoint.
pub const CALL_PATH: &str = "/v1/call";

/// A secret string (passphrase, identity file) in transit. Wiped on drop,
/// never printed.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

impl Secret {
    /// Wrap a secret.
    pub fn new(s: String) -> Self {
        Secret(Zeroizing::new(s))
    }

    /// The secret text.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// How to unlock.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnlockWith {
    /// The vault passphrase.
    Passphrase(Secret),
    /// The contents of an age identity file.
    IdentityFile(Secret),
}

/// A request to the agent.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Who are you? Answered even when no vault exists.
    Hello,
    /// Running, locked, counts.
    Status,
    /// Create the vault and keep it unlocked.
    Init {
        /// The passphrase for the passphrase slot.
        passphrase: Secret,
        /// An age identity file whose identities each get a slot.
        identity_file: Option<Secret>,
        /// scrypt work factor; `None` for the default.
        work_factor: Option<u8>,
    },
    /// Unlock the vault.
    Unlock {
        /// Passphrase or identity.
        with: UnlockWith,
    },
    /// Wipe the keys and the index.
    Lock,
    /// Shut the agent down.
    Stop,
    /// Store a new item.
    Add {
        /// The item.
        item: NewItem,
    },
    /// Read an item.
    Get {
        /// Its id.
        id: Uuid,
    },
    /// Change an item.
    Edit {
        /// Its id.
        id: Uuid,
        /// The change.
        patch: ItemPatch,
    },
    /// Delete an item.
    Remove {
        /// Its id.
        id: Uuid,
    },
    /// List items.
    List {
        /// Which ones.
        filter: ItemFilter,
        /// Show exactly what this client would get (a dry run, not audited).
        #[serde(default)]
        as_client: Option<String>,
    },
    /// Full-text search.
    Search {
        /// The words.
        query: String,
        /// Which items to consider.
        filter: ItemFilter,
        /// Most results.
        limit: usize,
        /// Show exactly what this client would get (a dry run, not audited).
        #[serde(default)]
        as_client: Option<String>,
    },
    /// Register a client; answers its token (shown once).
    ClientAdd {
        /// The client's name.
        name: String,
    },
    /// Every client.
    ClientList,
    /// Remove a client with its token, grants and deny rules.
    ClientRemove {
        /// The client's name.
        name: String,
    },
    /// Replace a client's token; the old one stops working at once.
    ClientRotate {
        /// The client's name.
        name: String,
    },
    /// Give a client actions on a scope.
    GrantAdd {
        /// The client's name.
        client: String,
        /// Namespace glob.
        scope: Scope,
        /// What it may do.
        actions: Actions,
        /// If not empty: only items with one of these tags.
        tags: Vec<Tag>,
        /// The most sensitive items reached.
        max_sensitivity: Sensitivity,
        /// When the grant stops working.
        expires: Option<DateTime<Utc>>,
        /// What to mask in returned text.
        redact: Vec<Redaction>,
    },
    /// Remove a scope from a client whatever grants say.
    DenyAdd {
        /// The client's name.
        client: String,
        /// Namespace glob.
        scope: Scope,
    },
    /// Remove one grant or deny rule.
    Revoke {
        /// Its id.
        id: Uuid,
    },
    /// Remove every grant and deny rule of a client.
    RevokeAll {
        /// The client's name.
        client: String,
    },
    /// Grants and deny rules, of one client or all.
    Rules {
        /// Only this client's.
        client: Option<String>,
    },
    /// What a client can see and do.
    Access {
        /// The client's name.
        client: String,
    },
    /// A read made for a client, authenticated by its token; audited.
    AsClient {
        /// The client's token.
        token: Secret,
        /// What it asks.
        call: ClientCall,
        /// The MCP tool or method asking, recorded in the audit entry.
        #[serde(default)]
        tool: Option<String>,
    },
    /// Audit entries.
    Audit {
        /// Only this client's.
        client: Option<String>,
        /// Only entries from this time on.
        since: Option<DateTime<Utc>>,
        /// Only the last N.
        limit: Option<usize>,
    },
    /// Check the audit chain.
    AuditVerify,
    /// Proposals waiting for the user's review, oldest first.
    PendingList,
    /// Store a proposal as an item (source `client:NAME`).
    Approve {
        /// The proposal's id.
        id: Uuid,
        /// Store it here instead of the namespace it was proposed for.
        #[serde(default)]
        namespace: Option<Namespace>,
    },
    /// Drop a proposal.
    Reject {
        /// The proposal's id.
        id: Uuid,
    },
    /// Bring in complete items (and policy), in one transaction.
    Import {
        /// Items with every field.
        items: Vec<Item>,
        /// Clients to create (they get no usable token until rotated).
        #[serde(default)]
        clients: Vec<BundleClient>,
        /// Grants.
        #[serde(default)]
        grants: Vec<policies::Grant>,
        /// Deny rules.
        #[serde(default)]
        denies: Vec<policies::DenyRule>,
        /// Report only; write nothing.
        dry_run: bool,
    },
    /// Change the passphrase (only its key slot changes).
    Passwd {
        /// The current passphrase.
        old: Secret,
        /// The new one.
        new: Secret,
        /// scrypt work factor; `None` for the default.
        work_factor: Option<u8>,
    },
    /// Add X25519 identity slots.
    IdentityAdd {
        /// The passphrase, proving the right to add a way in.
        passphrase: Secret,
        /// The identity file's contents.
        identity_file: Secret,
    },
    /// Remove an identity slot.
    IdentityRm {
        /// Its recipient (`age1...`).
        recipient: String,
    },
    /// The identity slots' recipients.
    IdentityList,
    /// New master key; every record re-sealed.
    Rekey {
        /// The passphrase.
        passphrase: Secret,
        /// scrypt work factor for the new passphrase slot.
        work_factor: Option<u8>,
    },
}

/// What an import did (or would do).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ImportSummary {
    /// Items added.
    pub added: u64,
    /// Items skipped as duplicates.
    pub duplicates: u64,
    /// Clients created.
    pub clients: u64,
    /// Grants added.
    pub grants: u64,
    /// Deny rules added.
    pub denies: u64,
    /// Policy records skipped (already present, or for an unknown client).
    pub rules_skipped: u64,
    /// Nothing was written.
    pub dry_run: bool,
}

/// A read made for a client (the calls the MCP tools make).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case")]
pub enum ClientCall {
    /// Full-text search.
    Search {
        /// The words.
        query: String,
        /// Only this namespace and below.
        #[serde(default)]
        namespace: Option<Namespace>,
        /// Only items with one of these tags.
        #[serde(default)]
        tags: Vec<Tag>,
        /// Most results.
        limit: usize,
    },
    /// One item.
    Get {
        /// Its id.
        id: Uuid,
    },
    /// Items, oldest first.
    List {
        /// Only this namespace and below.
        #[serde(default)]
        namespace: Option<Namespace>,
        /// Only items with one of these tags.
        #[serde(default)]
        tags: Vec<Tag>,
    },
    /// What the client may read and do (its own access report).
    Access,
    /// The actions the client holds now (for tools/list; reads no context
    /// and is not audited).
    Actions,
    /// A page of the items the client can read, oldest first.
    Page {
        /// Items to skip.
        offset: usize,
        /// Most items.
        limit: usize,
    },
    /// The client's visible `profile` namespace and `preference` items and,
    /// with a topic, the best matches for it.
    Profile {
        /// Words to search for.
        #[serde(default)]
        topic: Option<String>,
        /// Most matches for the topic.
        limit: usize,
    },
    /// Store (with `write`) or propose (with `propose`) a new item.
    Remember {
        /// The text.
        content: String,
        /// Where; `inbox` when absent.
        #[serde(default)]
        namespace: Option<Namespace>,
        /// Labels.
        #[serde(default)]
        tags: Vec<Tag>,
        /// What it is; `note` when absent.
        #[serde(default)]
        kind: Option<Kind>,
        /// A short title.
        #[serde(default)]
        title: Option<String>,
    },
}

/// What became of a `remember` call.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Remembered {
    /// The new item's id, or the proposal's.
    pub id: Uuid,
    /// `stored`, or `pending` (waiting for the user's approval).
    pub status: String,
    /// Where it is (or will be) stored.
    pub namespace: String,
}

/// A proposal waiting for the user's review.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Proposal {
    /// Its id.
    pub id: Uuid,
    /// The client that proposed it.
    pub client: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Where it would be stored.
    pub namespace: Namespace,
    /// What it is.
    pub kind: Kind,
    /// Optional title.
    pub title: Option<String>,
    /// The text.
    pub body: String,
    /// Labels.
    pub tags: Vec<Tag>,
}

impl Drop for Proposal {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.body.zeroize();
        if let Some(t) = self.title.as_mut() {
            t.zeroize();
        }
    }
}

/// One of a client's own active grants, as shown to the client.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct GrantView {
    /// Namespace glob.
    pub scope: String,
    /// What it allows.
    pub actions: Vec<Action>,
    /// Tags it is limited to (empty: any).
    pub tags: Vec<String>,
    /// The most sensitive items reached.
    pub max_sensitivity: Sensitivity,
    /// When it stops working.
    pub expires: Option<DateTime<Utc>>,
    /// What it masks.
    pub redact: Vec<Redaction>,
}

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
}

/// A grant or deny rule as `grants` shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RuleInfo {
    /// Its id.
    pub id: Uuid,
    /// `grant` or `deny`.
    pub kind: String,
    /// The client.
    pub client: String,
    /// Namespace glob.
    pub scope: String,
    /// What it allows (empty for a deny rule).
    pub actions: Vec<Action>,
    /// Tags it is limited to.
    pub tags: Vec<String>,
    /// The most sensitive items reached (grants).
    pub max_sensitivity: Option<Sensitivity>,
    /// When it stops working.
    pub expires: Option<DateTime<Utc>>,
    /// Whether it has stopped working.
    pub expired: bool,
    /// What it masks.
    pub redact: Vec<Redaction>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// Items a client can read in one namespace, by sensitivity.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct NamespaceCount {
    /// The namespace.
    pub namespace: String,
    /// `public` items.
    pub public: u64,
    /// `normal` items.
    pub normal: u64,
    /// `private` items.
    pub private: u64,
    /// `secret` items.
    pub secret: u64,
    /// All of them.
    pub total: u64,
}

/// What a client can see and do.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessReport {
    /// The client.
    pub client: String,
    /// Actions some active grant gives it.
    pub actions: Vec<Action>,
    /// Active grants.
    pub grants: usize,
    /// Deny rules.
    pub denies: usize,
    /// Readable items per namespace.
    pub namespaces: Vec<NamespaceCount>,
    /// Readable items in all.
    pub items: u64,
    /// The active grants themselves (never the deny rules, whose scopes
    /// could name what is hidden).
    #[serde(default)]
    pub scopes: Vec<GrantView>,
}

impl Request {
    /// True for requests that use the vault (and so count as activity for
    /// the idle timer).
    pub fn is_activity(&self) -> bool {
        !matches!(
            self,
            Request::Hello | Request::Status | Request::Stop | Request::Lock
        )
    }
}

/// The agent's state as `status` shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Status {
    /// Always true when answered.
    pub running: bool,
    /// Whether a vault exists in the directory.
    pub initialized: bool,
    /// Whether the keys are wiped.
    pub locked: bool,
    /// Number of items.
    pub items: u64,
    /// Items that failed authentication at unlock.
    pub damaged: Vec<Uuid>,
    /// The vault directory.
    pub vault: String,
    /// The agent's socket.
    pub socket: String,
    /// The agent's process id.
    pub pid: u32,
    /// Idle auto-lock, in seconds; `None` when disabled.
    pub lock_after_secs: Option<u64>,
    /// The agent's version.
    pub version: String,
    /// The MCP HTTP endpoint, when served.
    #[serde(default)]
    pub http: Option<String>,
    /// Proposals waiting for review (0 while locked: they are sealed).
    #[serde(default)]
    pub pending: u64,
}

/// A successful answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Response {
    /// Answer to `Hello`.
    Hello {
        /// Crate version of the agent.
        version: String,
        /// Its protocol version.
        protocol: u32,
        /// Its process id.
        pid: u32,
    },
    /// Answer to `Status`.
    Status(Status),
    /// Done, nothing to return.
    Done,
    /// One item.
    Item(Item),
    /// Several items.
    Items(Vec<Item>),
    /// Search results.
    Hits(Vec<SearchHit>),
    /// A client's token, shown once.
    ClientToken {
        /// The client.
        name: String,
        /// Its token.
        token: String,
    },
    /// Clients.
    Clients(Vec<ClientInfo>),
    /// The id of a new grant or deny rule.
    RuleId(Uuid),
    /// How many things a request affected.
    Count(u64),
    /// Grants and deny rules.
    Rules(Vec<RuleInfo>),
    /// What a client can see and do.
    Access(AccessReport),
    /// Audit entries.
    Audit(Vec<AuditRecord>),
    /// The result of checking the audit chain.
    AuditReport(AuditReport),
    /// What an import did.
    Imported(ImportSummary),
    /// Identity slot recipients.
    Identities(Vec<String>),
    /// A client's actions.
    Actions(Vec<Action>),
    /// A page of items, and the offset of the next page if any.
    Page {
        /// The items.
        items: Vec<Item>,
        /// Where the next page starts.
        next: Option<usize>,
    },
    /// Profile, preferences and topic matches.
    Profile {
        /// `profile` namespace and `preference` items, oldest first.
        items: Vec<Item>,
        /// Matches for the topic.
        hits: Vec<SearchHit>,
    },
    /// What became of a `remember`.
    Remembered(Remembered),
    /// Proposals.
    Pending(Vec<Proposal>),
}

impl Response {
    /// The variant's name, for messages that must not print contents.
    pub fn variant(&self) -> &'static str {
        match self {
            Response::Hello { .. } => "hello",
            Response::Status(_) => "status",
            Response::Done => "done",
            Response::Item(_) => "item",
            Response::Items(_) => "items",
            Response::Hits(_) => "hits",
            Response::ClientToken { .. } => "client token",
            Response::Clients(_) => "clients",
            Response::RuleId(_) => "rule id",
            Response::Count(_) => "count",
            Response::Rules(_) => "rules",
            Response::Access(_) => "access",
            Response::Audit(_) => "audit",
            Response::AuditReport(_) => "audit report",
            Response::Imported(_) => "import summary",
            Response::Identities(_) => "identities",
            Response::Actions(_) => "actions",
            Response::Page { .. } => "page",
            Response::Profile { .. } => "profile",
            Response::Remembered(_) => "remembered",
            Response::Pending(_) => "pending",
        }
    }
}

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
    /// Anything else (database, I/O).
    Internal,
}

/// A failed request: its kind and a one-line message naming the problem.
#[derive(Clone, Debug, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// One line for people.
    pub message: String,
}

impl ApiError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
        }
    }
}

impl From<vault_core::Error> for ApiError {
    fn from(e: vault_core::Error) -> Self {
        use vault_core::Error as E;
        let kind = match &e {
            E::Invalid { .. } => ErrorKind::Invalid,
            E::NoItem(_) => ErrorKind::NoItem,
            E::Integrity(_) => ErrorKind::Integrity,
            E::WrongPassphrase => ErrorKind::WrongPassphrase,
            E::IdentityNoMatch => ErrorKind::IdentityNoMatch,
            E::BadIdentity(_) => ErrorKind::BadIdentity,
            E::ExcessiveWork { .. } | E::MalformedSlot(_) => ErrorKind::BadSlot,
            E::AlreadyExists(_) => ErrorKind::AlreadyExists,
            E::NoVault(_) => ErrorKind::NoVault,
            E::Locked => ErrorKind::Locked,
            E::AuditBroken(_) => ErrorKind::Integrity,
            E::Format(_) | E::Db(_) | E::Migrate(_) | E::Io { .. } | E::Crypto(_) => {
                ErrorKind::Internal
            }
        };
        ApiError::new(kind, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_debug_printed() {
        let r = Request::Unlock {
            with: UnlockWith::Passphrase(Secret::new("hunter2".into())),
        };
        assert!(!format!("{r:?}").contains("hunter2"));
    }

    #[test]
    fn requests_roundtrip() {
        let r = Request::Search {
            query: "q".into(),
            filter: ItemFilter::default(),
            limit: 3,
            as_client: None,
        };
        let j = serde_json::to_string(&r).unwrap();
        assert!(j.contains("\"op\":\"search\""));
        let back: Request = serde_json::from_str(&j).unwrap();
        assert!(matches!(back, Request::Search { limit: 3, .. }));
    }
}
