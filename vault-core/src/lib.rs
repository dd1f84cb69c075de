//! The ctxvault vault: key hierarchy, sealed SQLite store, in-memory search index.
//!
//! A [`Vault`] is a directory holding one SQLite database. Opening it needs no
//! key; reading or writing items needs an [`UnlockedVault`], obtained with a
//! passphrase or an age identity. Every item is sealed whole with an AEAD under
//! a subkey of the master key; only ids, versions and timestamps are plaintext
//! on disk. Search runs on an index that lives only in memory.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod audit;
pub mod bundle;
pub mod embed;
pub mod error;
pub mod formats;
pub mod guard;
pub mod index;
pub mod item;
pub mod keys;
pub mod names;
pub mod records;
pub mod seal;
pub mod store;
pub mod sync;
pub mod vault;
pub mod wiped;

pub use embed::{Embed, Engines, SearchMode};
pub use error::{Error, Result};
pub use item::{Item, ItemFilter, ItemPatch, Kind, Namespace, NewItem, Sensitivity, Tag};
pub use keys::{Unlock, WorkFactor};
pub use vault::{ImportReport, SearchHit, UnlockedVault, Vault, VaultStats};
