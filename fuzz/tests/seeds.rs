//! The seeds reach the decoders they are for: a fixture key or a harness
//! change that silently stopped the targets at their first check would
//! make every fuzz run pass while testing nothing.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use ctxvault_fuzz::fixture::{self, VAULT_ID};
use ctxvault_fuzz::runner::load_corpus;
use ctxvault_fuzz::targets::mcp;
use vault_core::bundle::Contents;
use vault_core::keys::{Unlock, age_unwrap};
use vault_core::records;
use vault_core::store::ItemRow;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let files: Vec<_> = load_corpus(&dir)
        .unwrap()
        .into_iter()
        .filter(|(n, _)| n.starts_with("seed-"))
        .collect();
    assert!(!files.is_empty(), "no seeds for {target}");
    files
}

#[test]
fn bundle_seeds_open_and_read() {
    for (name, bytes) in corpus("bundle") {
        let plain = if name.ends_with(".age") {
            let by_id = Unlock::Identities(vec![fixture::identity()]);
            let by_pass = Unlock::Passphrase(fixture::secret_passphrase());
            age_unwrap(&bytes, &by_id)
                .or_else(|_| age_unwrap(&bytes, &by_pass))
                .unwrap_or_else(|e| panic!("{name} does not open: {e}"))
                .to_vec()
        } else {
            bytes
        };
        Contents::from_ndjson(&plain).unwrap_or_else(|e| panic!("{name} does not read: {e}"));
    }
}

#[test]
fn sealed_record_seeds_open() {
    for (name, bytes) in corpus("records") {
        match bytes[0] {
            0 => {
                let n = |at: usize| -> [u8; 8] { bytes[at..at + 8].try_into().unwrap() };
                let row = ItemRow {
                    rowid: 1,
                    id: uuid::Uuid::from_bytes(bytes[1..17].try_into().unwrap()),
                    version: u64::from_be_bytes(n(17)),
                    created_at: i64::from_be_bytes(n(25)),
                    updated_at: i64::from_be_bytes(n(33)),
                    sealed: bytes[41..].to_vec(),
                };
                records::open_item(&fixture::items(), &VAULT_ID, &row)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            2 => {
                let id = uuid::Uuid::from_bytes(bytes[1..17].try_into().unwrap());
                records::open_record(&fixture::records(), &VAULT_ID, id, &bytes[17..])
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            _ => {}
        }
    }
}

#[test]
fn every_mcp_seed_request_is_answered() {
    for (name, bytes) in corpus("mcp") {
        let out = String::from_utf8(mcp::transcript(&bytes)).unwrap();
        let answered: Vec<serde_json::Value> = out
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v.get("id").cloned())
            .collect();
        let text = String::from_utf8_lossy(&bytes);
        let sent: Vec<serde_json::Value> = text
            .trim_start_matches('!')
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        // A request the seed cancels may rightly go unanswered.
        let cancelled: Vec<&serde_json::Value> = sent
            .iter()
            .filter_map(|v| v.pointer("/params/requestId"))
            .collect();
        for v in &sent {
            if let (Some(id), Some(_)) = (v.get("id"), v.get("method")) {
                if cancelled.contains(&id) {
                    continue;
                }
                assert!(
                    answered.contains(id),
                    "{name}: request {id} has no answer:\n{out}"
                );
            }
        }
    }
}
