//! The ctxvault agent: holds one unlocked vault, like ssh-agent holds keys.
//!
//! The agent serves a JSON-over-HTTP control API on a Unix socket in the
//! user's runtime directory (directory 0700, socket 0600, peer uid checked on
//! every connection). Requests and responses are the typed enums of
//! [`protocol`]; the CLI is the client ([`client`]).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod client;
pub mod harden;
pub mod http;
pub mod mcp;
pub mod paths;
pub mod policy;
pub mod protocol;
pub mod server;
pub mod session;
pub mod throttle;

pub use client::{Client, TransportError};
pub use protocol::{ApiError, ErrorKind, Request, Response, Status};
pub use server::{DaemonConfig, run};
