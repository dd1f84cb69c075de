//! The ctxvault agent: holds one unlocked vault, like ssh-agent holds keys.
//!
//! The agent serves a JSON-over-HTTP control API on a Unix socket in the
//! user's runtime directory (directory 0700, socket 0600, peer uid checked on
//! every connection). Requests are the typed requests of [`protocol`], by
//! kind; the CLI is the client ([`client`]). The client view is implemented
//! once ([`view`]); the MCP doors ([`bridge`], [`http`]) adapt it, and the
//! user's own web console serves the owner's operations in a browser.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod agent;
mod aspects;
pub mod bridge;
pub mod client;
pub mod clock;
pub mod confirm;
mod console;
pub mod destination;
mod distill;
mod doors;
mod embedding;
pub mod harden;
pub mod http;
pub mod mcp_sessions;
pub mod models;
mod notify;
mod oauth;
mod owner;
pub mod paths;
pub mod policy;
pub mod protocol;
mod providers;
pub mod proxy;
mod rules;
pub mod server;
pub mod session;
pub mod setup;
mod sync;
mod sync_s3;
pub mod throttle;
mod transfer;
pub mod view;
pub mod when;

#[cfg(test)]
mod state_machine_tests;

pub use agent::AgentHandle;
pub use client::{Client, TransportError};
pub use protocol::{ApiError, Call, ErrorKind, Request, Status};
pub use server::{DaemonConfig, run};
