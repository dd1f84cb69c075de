//! Agent lifecycle and key requests, and their answers.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    ConnectorApprove, ConnectorDeny, ConnectorList, ConnectorReport, ConnectorRevoke, Secret,
    SyncJoin, calls,
};

/// How to unlock.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnlockWith {
    /// The vault passphrase.
    Passphrase(Secret),
    /// The contents of an age identity file.
    IdentityFile(Secret),
}

/// A lifecycle or key request.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum AgentRequest {
    /// [`Hello`].
    Hello(Hello),
    /// [`StatusQuery`].
    StatusQuery(StatusQuery),
    /// [`Init`].
    Init(Init),
    /// [`SyncJoin`].
    SyncJoin(super::SyncJoin),
    /// [`Unlock`].
    Unlock(Unlock),
    /// [`Lock`].
    Lock(Lock),
    /// [`Stop`].
    Stop(Stop),
    /// [`Passwd`].
    Passwd(Passwd),
    /// [`IdentityAdd`].
    IdentityAdd(IdentityAdd),
    /// [`IdentityRm`].
    IdentityRm(IdentityRm),
    /// [`IdentityList`].
    IdentityList(IdentityList),
    /// [`Rekey`].
    Rekey(Rekey),
    /// [`WhoIs`].
    WhoIs(WhoIs),
    /// [`Http`].
    Http(Http),
    /// [`Verify`].
    Verify(Verify),
    /// [`ModelReload`].
    ModelReload(ModelReload),
    /// [`Console`].
    Console(Console),
    /// [`ConnectorList`].
    ConnectorList(ConnectorList),
    /// [`ConnectorApprove`].
    ConnectorApprove(ConnectorApprove),
    /// [`ConnectorDeny`].
    ConnectorDeny(ConnectorDeny),
    /// [`ConnectorRevoke`].
    ConnectorRevoke(ConnectorRevoke),
}

/// Serve the web console (or reuse the one served) and make a one-time
/// login link for it.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Console {
    /// Where to serve it (a loopback address; port 0 picks a free one);
    /// `None` for where it is served, or a free port.
    #[serde(default)]
    pub addr: Option<std::net::SocketAddr>,
}

/// Where the console is and how to log in to it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConsoleLink {
    /// The console's base URL.
    pub url: String,
    /// The one-time login link.
    pub login: String,
    /// Seconds the link works for.
    pub expires_secs: u64,
}

/// Who are you? Answered even when no vault exists.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Hello {}

/// The agent's identity. Its shape never changes: it is also the answer of
/// the unversioned `GET /hello`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HelloInfo {
    /// Crate version of the agent.
    pub version: String,
    /// Its protocol version.
    pub protocol: u32,
    /// Its process id.
    pub pid: u32,
}

/// Running, locked, counts.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct StatusQuery {}

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
    /// The provider proxy's base URL, when served.
    #[serde(default)]
    pub proxy: Option<String>,
    /// The web console's base URL, when served.
    #[serde(default)]
    pub console: Option<String>,
    /// Proposals waiting for review (0 while locked: they are sealed).
    #[serde(default)]
    pub pending: u64,
    /// What unlock found wrong with the vault's state (a rollback), one
    /// line each.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Recall by meaning: the vault's model and how far embedding is.
    #[serde(default)]
    pub model: Option<ModelStatus>,
    /// The aspect in force (none while locked).
    #[serde(default)]
    pub aspect: Option<super::AspectInForce>,
    /// Sync with other devices, once set up (none while locked).
    #[serde(default)]
    pub sync: Option<super::SyncStatusReport>,
}

/// The vault's embedding model, as `status` shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelStatus {
    /// The model's name.
    pub name: String,
    /// Its id, once loaded.
    pub id: Option<String>,
    /// Dimensions of its vectors, once loaded.
    pub dim: Option<usize>,
    /// Items with a vector of it (while unlocked).
    pub embedded: Option<u64>,
    /// Items (while unlocked).
    pub items: Option<u64>,
    /// Items it could not embed.
    #[serde(default)]
    pub failed: u64,
    /// Why it is not in use, when it failed to load.
    pub error: Option<String>,
}

/// Use the vault's model as its `model` file names it now (after `ctxvault
/// model install` or `model use`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ModelReload {}

/// Create the vault and keep it unlocked.
#[derive(Debug, Serialize, Deserialize)]
pub struct Init {
    /// The passphrase for the passphrase slot.
    pub passphrase: Secret,
    /// An age identity file whose identities each get a slot.
    pub identity_file: Option<Secret>,
    /// scrypt work factor; `None` for the default.
    pub work_factor: Option<u8>,
}

/// Unlock the vault (a no-op when it is unlocked).
#[derive(Debug, Serialize, Deserialize)]
pub struct Unlock {
    /// Passphrase or identity.
    pub with: UnlockWith,
}

/// Wipe the keys and the index.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Lock {}

/// Shut the agent down.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Stop {}

/// Change the passphrase (only its key slot changes).
#[derive(Debug, Serialize, Deserialize)]
pub struct Passwd {
    /// The current passphrase.
    pub old: Secret,
    /// The new one.
    pub new: Secret,
    /// scrypt work factor; `None` for the default.
    pub work_factor: Option<u8>,
}

/// Add X25519 identity slots; answers the recipients added.
#[derive(Debug, Serialize, Deserialize)]
pub struct IdentityAdd {
    /// The passphrase, proving the right to add a way in.
    pub passphrase: Secret,
    /// The identity file's contents.
    pub identity_file: Secret,
}

/// Remove an identity slot.
#[derive(Debug, Serialize, Deserialize)]
pub struct IdentityRm {
    /// Its recipient (`age1...`).
    pub recipient: String,
}

/// The identity slots' recipients.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct IdentityList {}

/// New master key; every record re-sealed.
#[derive(Debug, Serialize, Deserialize)]
pub struct Rekey {
    /// The passphrase.
    pub passphrase: Secret,
    /// scrypt work factor for the new passphrase slot.
    pub work_factor: Option<u8>,
}

/// Whose token is this? Answered from the agent's table of token hashes,
/// which it keeps while locked once it has been unlocked: the name of the
/// client, `None` when the agent cannot tell yet (locked and never
/// unlocked), or an `unauthorized` error for a token it does not know.
#[derive(Debug, Serialize, Deserialize)]
pub struct WhoIs {
    /// The token.
    pub token: Secret,
}

/// Check a passphrase or identity against the vault's key slots (throttled
/// like an unlock), without unlocking.
#[derive(Debug, Serialize, Deserialize)]
pub struct Verify {
    /// What to check.
    pub with: UnlockWith,
}

/// Open (`open` given) or close MCP over HTTP in the running agent;
/// answered with the endpoint's URL while open.
#[derive(Debug, Serialize, Deserialize)]
pub struct Http {
    /// Where to serve it; `None` closes it.
    pub open: Option<HttpOpen>,
}

/// Where to serve MCP over HTTP.
#[derive(Debug, Serialize, Deserialize)]
pub struct HttpOpen {
    /// Address (port 0 picks a free one).
    pub addr: std::net::SocketAddr,
    /// Accept a non-loopback address.
    pub allow_remote: bool,
    /// The public URL a tunnel forwards to it (turns OAuth on).
    #[serde(default)]
    pub public_url: Option<String>,
}

calls!(Agent / AgentRequest {
    Hello => HelloInfo,
    StatusQuery => Status,
    Init => (),
    SyncJoin => super::SyncReport,
    Unlock => (),
    Lock => (),
    Stop => (),
    Passwd => (),
    IdentityAdd => Vec<String>,
    IdentityRm => (),
    IdentityList => Vec<String>,
    Rekey => (),
    WhoIs => Option<String>,
    Http => Option<String>,
    Verify => (),
    ModelReload => Option<ModelStatus>,
    Console => ConsoleLink,
    ConnectorList => ConnectorReport,
    ConnectorApprove => String,
    ConnectorDeny => (),
    ConnectorRevoke => (),
});

impl AgentRequest {
    /// True for requests that use the vault (and so count as activity for
    /// the idle timer).
    pub fn is_activity(&self) -> bool {
        !matches!(
            self,
            AgentRequest::Hello(_)
                | AgentRequest::WhoIs(_)
                | AgentRequest::Http(_)
                | AgentRequest::Console(_)
                | AgentRequest::StatusQuery(_)
                | AgentRequest::Stop(_)
                | AgentRequest::Lock(_)
        )
    }
}
