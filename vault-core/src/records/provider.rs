//! The model providers the proxy forwards to, and each client's route to
//! one: policy records of kinds `provider` and `route` (see the parent
//! module's Format). A provider's API key is kept only inside the sealed
//! record and is wiped when the record is dropped.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use policies::ProviderClass;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::Zeroize;

/// Which API a provider speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// The OpenAI API and every service compatible with it (OpenRouter,
    /// llama.cpp, vLLM, Mistral...).
    Openai,
    /// The Anthropic Messages API.
    Anthropic,
    /// Ollama's own API.
    Ollama,
}

impl ProviderKind {
    /// Its name as the user writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Ollama => "ollama",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "openai" => Ok(ProviderKind::Openai),
            "anthropic" => Ok(ProviderKind::Anthropic),
            "ollama" => Ok(ProviderKind::Ollama),
            _ => Err(format!(
                "unknown provider kind {s:?}; use openai, anthropic or ollama"
            )),
        }
    }
}

/// How much of the vault a client's requests through the proxy carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContextMode {
    /// The profile and preferences, and what matches the user's message.
    #[default]
    Full,
    /// The profile and preferences only.
    Profile,
    /// Nothing: the request goes through unchanged.
    Off,
}

impl ContextMode {
    /// Its name as the user writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ContextMode::Full => "full",
            ContextMode::Profile => "profile",
            ContextMode::Off => "off",
        }
    }
}

impl fmt::Display for ContextMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ContextMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "full" => Ok(ContextMode::Full),
            "profile" => Ok(ContextMode::Profile),
            "off" => Ok(ContextMode::Off),
            _ => Err(format!(
                "unknown context mode {s:?}; use full, profile or off"
            )),
        }
    }
}

/// A model provider: where the proxy forwards, with the key it sends.
#[derive(Clone, Serialize, Deserialize)]
pub struct ProviderRecord {
    /// Record id.
    pub id: Uuid,
    /// The provider's name (a lowercase word).
    pub name: String,
    /// The API it speaks.
    pub kind: ProviderKind,
    /// Its base URL (for `openai`, up to and including `/v1`).
    pub url: String,
    /// Its API key, if it takes one. Never printed.
    #[serde(default)]
    pub key: Option<String>,
    /// Clients without a route of their own use it.
    #[serde(default)]
    pub default: bool,
    /// Whether it runs on the user's machine, as the user declared it
    /// (none: local for a loopback URL, cloud otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<ProviderClass>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

impl ProviderRecord {
    /// The key's last four characters, for the user to recognise it (only
    /// `…` for a key shorter than 12, of which four would be too much).
    pub fn key_hint(&self) -> Option<String> {
        self.key.as_ref().map(|k| {
            if k.chars().count() < 12 {
                return "…".to_owned();
            }
            let tail: Vec<char> = k.chars().rev().take(4).collect();
            let tail: String = tail.into_iter().rev().collect();
            format!("…{tail}")
        })
    }
}

impl fmt::Debug for ProviderRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &self.url)
            .field("key", &self.key.as_ref().map(|_| "[redacted]"))
            .field("default", &self.default)
            .field("class", &self.class)
            .finish()
    }
}

impl Drop for ProviderRecord {
    fn drop(&mut self) {
        if let Some(k) = self.key.as_mut() {
            k.zeroize();
        }
    }
}

/// A client's own settings for the proxy: its provider and its context.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RouteRecord {
    /// Record id.
    pub id: Uuid,
    /// The client it is for.
    pub client: String,
    /// Its provider; `None`: the default provider.
    #[serde(default)]
    pub provider: Option<String>,
    /// What its requests carry unless a request asks for less.
    #[serde(default)]
    pub context: ContextMode,
    /// While the vault is locked, refuse its requests instead of forwarding
    /// them without context.
    #[serde(default)]
    pub fail_closed: bool,
    /// When it was last set.
    pub created_at: DateTime<Utc>,
}
