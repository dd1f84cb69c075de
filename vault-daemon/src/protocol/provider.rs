//! The user's model providers and each client's route through the proxy.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vault_core::Namespace;
use vault_core::records::{ContextMode, ProviderKind};

use super::{Secret, VaultRequest, calls};

/// Add a model provider (or replace one of the same name).
#[derive(Debug, Serialize, Deserialize)]
pub struct ProviderAdd {
    /// Its name, a lowercase word such as `openai` or `work-openrouter`.
    pub name: String,
    /// The API it speaks.
    pub kind: ProviderKind,
    /// Its base URL.
    pub url: String,
    /// Its API key, if it takes one.
    pub key: Option<Secret>,
    /// Replace a provider of the same name.
    #[serde(default)]
    pub replace: bool,
    /// Whether it runs on this machine (none: local for a loopback URL,
    /// cloud otherwise).
    #[serde(default)]
    pub class: Option<policies::ProviderClass>,
}

/// Every provider.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProviderList {}

/// A provider as `provider ls` shows it: never its key, only the key's
/// last four characters.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProviderInfo {
    /// Its name.
    pub name: String,
    /// The API it speaks.
    pub kind: ProviderKind,
    /// Its base URL.
    pub url: String,
    /// `…` and the key's last four characters, if it has a key.
    pub key_hint: Option<String>,
    /// Clients without a route of their own use it.
    pub default: bool,
    /// Whether it runs on this machine.
    #[serde(default = "cloud")]
    pub class: policies::ProviderClass,
    /// The clients routed to it by name.
    pub clients: Vec<String>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

/// Remove a provider; clients routed to it fall back to the default.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProviderRemove {
    /// Its name.
    pub name: String,
}

/// Make a provider the default.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProviderDefault {
    /// Its name.
    pub name: String,
}

/// Set a client's route: its provider, its context, and whether it fails
/// closed while the vault is locked. A field left `None` keeps its value.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProviderRoute {
    /// The client.
    pub client: String,
    /// Its provider (`Some(None)`: back to the default).
    pub provider: Option<Option<String>>,
    /// What its requests carry.
    pub context: Option<ContextMode>,
    /// Refuse its requests while the vault is locked.
    pub fail_closed: Option<bool>,
}

/// A client's route as it now stands.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RouteInfo {
    /// The client.
    pub client: String,
    /// The provider it reaches (its own, else the default; `None` when there
    /// is neither).
    pub provider: Option<String>,
    /// True when that is the default provider, not one set for the client.
    pub by_default: bool,
    /// What its requests carry.
    pub context: ContextMode,
    /// Refused while the vault is locked.
    pub fail_closed: bool,
}

/// Ask a provider's model to propose durable facts and preferences from
/// history; the proposals wait in the pending queue.
#[derive(Debug, Serialize, Deserialize)]
pub struct Distill {
    /// The provider; by default the only Ollama one (history goes to a
    /// hosted provider only when named).
    pub provider: Option<String>,
    /// The model to ask.
    pub model: String,
    /// The items read: this namespace and below.
    pub namespace: Namespace,
    /// At most this many items, the newest.
    pub limit: usize,
}

/// What a distill did.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DistillSummary {
    /// The provider asked.
    pub provider: String,
    /// The model asked.
    pub model: String,
    /// Items sent (each on the audit record).
    pub sent: u64,
    /// Requests made.
    pub requests: u64,
    /// The proposals now pending.
    pub proposals: Vec<Uuid>,
}

calls!(Vault / VaultRequest {
    Distill => DistillSummary,
    ProviderAdd => (),
    ProviderList => Vec<ProviderInfo>,
    ProviderRemove => (),
    ProviderDefault => (),
    ProviderRoute => RouteInfo,
});

fn cloud() -> policies::ProviderClass {
    policies::ProviderClass::Cloud
}
