//! The control protocol between the CLI (or the stdio bridge) and the agent.
//!
//! # Format
//! - `POST /v1/call` with the header `x-ctxvault-protocol:
//!   <PROTOCOL_VERSION>` and a JSON [`Request`] body; the answer is
//!   `{"Ok": answer}` or `{"Err": ApiError}`, where the answer's type is the
//!   request's [`Call::Answer`] (for a client call, its
//!   [`client_view::ViewCall::Answer`]). A request of another protocol
//!   version is refused with [`ErrorKind::ProtocolMismatch`].
//! - `GET /hello` and `POST /stop` answer whatever version the caller
//!   speaks, so a CLI can always learn who runs and stop it. Their shapes
//!   ([`HelloInfo`], an empty JSON object) never change.
//!
//! - `POST /v1/import` and `POST /v1/export` stream a bundle's text in
//!   frames ([`frames`]), so neither side holds the whole file as one request.
//!
//! Requests come in three kinds, each handled by its own handler: agent
//! lifecycle and keys ([`AgentRequest`]), the user's own vault operations
//! ([`VaultRequest`]) and client calls ([`ClientRequest`]). Bump
//! [`PROTOCOL_VERSION`] by hand on any change to these types.

mod agent;
mod aspect;
mod clients;
mod connector;
mod error;
pub mod frames;
mod owner;
mod provider;
mod sync;

use std::fmt;

use client_view::ClientCall;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub use agent::*;
pub use aspect::*;
pub use clients::*;
pub use connector::*;
pub use error::{ApiError, ErrorKind};
pub use owner::*;
pub use provider::*;
pub use sync::*;

/// Version of this protocol; checked on every `/v1/call` request.
pub const PROTOCOL_VERSION: u32 = 16;
/// Header carrying the protocol version.
pub const PROTOCOL_HEADER: &str = "x-ctxvault-protocol";
/// Path of the versioned endpoint.
pub const CALL_PATH: &str = "/v1/call";
/// Path answering [`HelloInfo`] whatever the caller's version.
pub const HELLO_PATH: &str = "/hello";
/// Path that stops the agent whatever the caller's version.
pub const STOP_PATH: &str = "/stop";

/// The protocol version this agent speaks: [`PROTOCOL_VERSION`], unless a
/// test sets `CTXVAULT_TEST_PROTOCOL` to stand in for an agent of another
/// release.
pub fn spoken_version() -> u32 {
    std::env::var("CTXVAULT_TEST_PROTOCOL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(PROTOCOL_VERSION)
}

/// A secret string (passphrase, identity file, token) in transit. Wiped on
/// drop, never printed.
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

/// A request to the agent, by kind.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", content = "request", rename_all = "snake_case")]
pub enum Request {
    /// Lifecycle and keys.
    Agent(AgentRequest),
    /// The user's own vault operations.
    Vault(VaultRequest),
    /// A call made for a client, authenticated by its token; audited.
    Client(ClientRequest),
}

/// A client call: the client's token, the door's tool, and the view call.
#[derive(Debug, Serialize, Deserialize)]
pub struct ClientRequest {
    /// The client's token.
    pub token: Secret,
    /// The MCP tool or method asking, recorded in the audit entry.
    #[serde(default)]
    pub tool: Option<String>,
    /// The door it came through: `stdio` for the stdio bridge (the only
    /// door that reaches the agent over its socket).
    #[serde(default)]
    pub door: Option<String>,
    /// What it asks.
    pub call: ClientCall,
    /// Set when the door asks the user itself for confirmations.
    #[serde(default)]
    pub asking: Option<client_view::Asking>,
}

/// An answer already encoded for the wire, as `{"Ok": answer}` (encoded
/// once, straight from the typed answer).
#[derive(Debug)]
pub struct Encoded(pub Vec<u8>);

/// A request with its answer type.
pub trait Call: Into<Request> {
    /// What the request answers.
    type Answer: Serialize + serde::de::DeserializeOwned;
}

/// Implements [`Call`] and the conversion into [`Request`] for request
/// structs of one kind.
macro_rules! calls {
    ($kind:ident / $enum:ident { $($req:ident => $answer:ty),* $(,)? }) => {
        $(
            impl $crate::protocol::Call for $req {
                type Answer = $answer;
            }
            impl From<$req> for $crate::protocol::Request {
                fn from(r: $req) -> $crate::protocol::Request {
                    $crate::protocol::Request::$kind($enum::$req(r))
                }
            }
        )*
    };
}
pub(crate) use calls;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_debug_printed() {
        let r: Request = Unlock {
            with: UnlockWith::Passphrase(Secret::new("hunter2".into())),
        }
        .into();
        assert!(!format!("{r:?}").contains("hunter2"));
    }

    #[test]
    fn requests_roundtrip() {
        let r: Request = Search {
            query: "q".into(),
            mode: Some(vault_core::SearchMode::Hybrid),
            filter: vault_core::ItemFilter::default(),
            limit: 3,
        }
        .into();
        let j = serde_json::to_string(&r).unwrap();
        assert!(j.contains("\"op\":\"search\""), "{j}");
        let back: Request = serde_json::from_str(&j).unwrap();
        assert!(matches!(
            back,
            Request::Vault(VaultRequest::Search(Search { limit: 3, .. }))
        ));
    }
}
