//! Target `records`: the decoders behind the vault's AEAD, under the
//! fixture keys. An attacker who can write the database file but has no
//! key only reaches the length and version checks of a blob; the payload
//! decoders matter once a blob authenticates (an old blob of this vault, a
//! payload written by another version), so most inputs are plaintexts
//! that the real sealer seals before the real open path reads them.
//!
//! # Input
//! The first byte `m` picks the mode, `m % 4`:
//! - 0: a raw item row: id (16 bytes), version, `created_at`, `updated_at`
//!   (8 bytes each, big-endian), then the sealed blob;
//! - 1: an item payload plaintext, sealed for version `1 + m / 4`, with the
//!   row's times taken from the payload's `created_at`/`updated_at`; the
//!   same bytes, sealed as an item vector, go through the vector decoder
//!   (with the dimension its header claims);
//! - 2: a raw policy record: id (16 bytes), then the sealed blob;
//! - 3: a policy record plaintext, sealed for the id in its `data.id` (a
//!   fixed id when there is none).
//!
//! Invariant checked: what opens seals again and opens to the same value.

use chrono::Utc;
use uuid::Uuid;
use vault_core::bundle::Contents;
use vault_core::records;
use vault_core::seal::{self, Sealer};
use vault_core::store::ItemRow;

use super::Fields;
use crate::fixture::{self, VAULT_ID};

/// The id of items and records whose input names none.
pub const FIXED_ID: Uuid = Uuid::from_u128(0x0192_f0c1_7c5e_7d3a_9a4e_3b1f_2c4d_5e6f);

/// Field names and values of the sealed payloads.
pub const DICT: &[&[u8]] = &[
    b"\"namespace\":\"work/acme\"",
    b"\"kind\":\"note\"",
    b"\"title\":null",
    b"\"body\":\"x\"",
    b"\"tags\":[]",
    b"\"sensitivity\":\"normal\"",
    b"\"source\":\"user\"",
    b"\"created_at\":",
    b"\"updated_at\":",
    b"\"v\":1",
    b"\"kind\":\"client\"",
    b"\"kind\":\"grant\"",
    b"\"kind\":\"deny\"",
    b"\"kind\":\"pending\"",
    b"\"data\":{",
    b"\"token_sha256\":\"\"",
    b"\"rotated_at\":null",
    b"\"actions\":[\"read\"]",
    b"\"scope\":\"**\"",
    b"\"max_sensitivity\":\"secret\"",
    b"\"redact\":[\"email\"]",
    b"\"expires\":\"2026-01-01T00:00:00Z\"",
    b"\"client\":\"bob\"",
    b"\"id\":\"0192f0c1-7c5e-7d3a-9a4e-3b1f2c4d5e6f\"",
];

fn item_row(sealer: &Sealer, row: &ItemRow) {
    let Ok(item) = records::open_item(sealer, &VAULT_ID, row) else {
        return;
    };
    let again = records::seal_item(sealer, &VAULT_ID, &item)
        .and_then(|r| records::open_item(sealer, &VAULT_ID, &r));
    match again {
        Ok(again) => assert!(again == item, "an item resealed opens different"),
        Err(e) => panic!("an item that opened does not reseal and open: {e}"),
    }
}

/// The vector decoder on `plain` sealed as a vector of the fixed item.
fn vector(sealer: &Sealer, plain: &[u8], version: u64) {
    let dim = plain
        .get(1..3)
        .map_or(0, |d| usize::from(u16::from_le_bytes([d[0], d[1]])));
    let aad = seal::vector_aad(&VAULT_ID, &FIXED_ID, version, "fuzz-model");
    let Some(sealed) = seal_or_skip(sealer, &aad, plain) else {
        return;
    };
    let open = |blob: &[u8]| {
        records::open_vector(
            sealer,
            &VAULT_ID,
            &FIXED_ID,
            version,
            "fuzz-model",
            dim,
            blob,
        )
    };
    let Ok(v) = open(&sealed) else {
        return;
    };
    let again = records::seal_vector(sealer, &VAULT_ID, &FIXED_ID, version, "fuzz-model", &v)
        .and_then(|blob| open(&blob));
    match again {
        Ok(again) => assert!(
            again
                .iter()
                .map(|x| x.to_bits())
                .eq(v.iter().map(|x| x.to_bits())),
            "a vector resealed opens different"
        ),
        Err(e) => panic!("a vector that opened does not reseal and open: {e}"),
    }
}

fn record(sealer: &Sealer, id: Uuid, sealed: &[u8]) {
    let Ok(rec) = records::open_record(sealer, &VAULT_ID, id, sealed) else {
        return;
    };
    let again = records::seal_record(sealer, &VAULT_ID, &rec)
        .and_then(|blob| records::open_record(sealer, &VAULT_ID, rec.id(), &blob));
    match again {
        Ok(again) => assert!(
            format!("{again:?}") == format!("{rec:?}"),
            "a policy record resealed opens different"
        ),
        Err(e) => panic!("a policy record that opened does not reseal and open: {e}"),
    }
    // What an export does with it.
    let _ = Contents::assemble(Vec::new(), std::slice::from_ref(&rec), true).to_ndjson(Utc::now());
}

fn seal_or_skip(sealer: &Sealer, aad: &[u8], plain: &[u8]) -> Option<Vec<u8>> {
    // Sealing fails only if the OS random source does.
    sealer.seal(aad, plain).ok()
}

/// Run the target on one input.
pub fn run(data: &[u8]) {
    let mut f = Fields(data);
    let mode = f.u8();
    match mode % 4 {
        0 => {
            let row = ItemRow {
                rowid: 1,
                id: f.uuid(),
                version: f.u64(),
                created_at: f.u64() as i64,
                updated_at: f.u64() as i64,
                sealed: f.rest().to_vec(),
            };
            item_row(&fixture::items(), &row);
        }
        1 => {
            let plain = f.rest();
            let version = 1 + u64::from(mode / 4);
            let value: Option<serde_json::Value> = serde_json::from_slice(plain).ok();
            let time = |k: &str| {
                value
                    .as_ref()
                    .and_then(|v| v.get(k))
                    .and_then(serde_json::Value::as_i64)
                    .unwrap_or(0)
            };
            let sealer = fixture::items();
            let aad = seal::item_aad(&VAULT_ID, &FIXED_ID, version);
            let Some(sealed) = seal_or_skip(&sealer, &aad, plain) else {
                return;
            };
            let row = ItemRow {
                rowid: 1,
                id: FIXED_ID,
                version,
                created_at: time("created_at"),
                updated_at: time("updated_at"),
                sealed,
            };
            item_row(&sealer, &row);
            vector(&sealer, plain, version);
        }
        2 => {
            let id = f.uuid();
            record(&fixture::records(), id, f.rest());
        }
        _ => {
            let plain = f.rest();
            let id = serde_json::from_slice::<serde_json::Value>(plain)
                .ok()
                .and_then(|v| v.pointer("/data/id")?.as_str()?.parse::<Uuid>().ok())
                .unwrap_or(FIXED_ID);
            let sealer = fixture::records();
            let Some(sealed) = seal_or_skip(&sealer, &records::record_aad(&VAULT_ID, &id), plain)
            else {
                return;
            };
            record(&sealer, id, &sealed);
        }
    }
}
