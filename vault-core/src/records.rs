//! Persistent record types: exactly what is sealed on disk, each with its
//! format version. Protocol, view and display types are separate and
//! converted at the edge, so changing them never changes the disk format.
//! The seal and open functions are public so that tests and the fuzz
//! targets (`fuzz/`) reach the decoders the vault uses, under a known key.
//!
//! # Format
//! ## Item payload, version 1
//! Sealed with the `items` subkey (see [`crate::seal`]); associated data
//! `"ctxvault/item/v1" || vault_id || item_id || version (u64 BE)`, so a
//! blob moved to another row, version or vault fails to open. Plaintext: a
//! JSON object `{namespace, kind, title?, body, tags[], sensitivity, source,
//! created_at, updated_at}`; the two times are unix microseconds, repeated
//! from the plaintext columns and compared with them on open.
//!
//! ## Policy record, version 1
//! Sealed with the `records` subkey; associated data
//! `"ctxvault/record/v1" || vault_id || record_id`. Plaintext: a JSON
//! object `{"v": 1, "kind": K, "data": D}` (`v` absent in records written
//! before versions were named: read as 1). By kind, `D` is:
//! - `client`: `{id, name, token_sha256, created_at, rotated_at?}` (only the
//!   SHA-256 of the token, never the token);
//! - `grant`: `{id, client, actions, scope, tags[], max_sensitivity,
//!   expires?, redact[], created_at}`;
//! - `deny`: `{id, client, scope, created_at}`;
//! - `pending`: `{id, client, created_at, namespace, kind, title?, body,
//!   tags[]}` (a client's proposal waiting for review);
//! - `provider`: `{id, name, kind, url, key?, default, created_at}` (a model
//!   provider for the proxy, `kind` one of `openai`, `anthropic`, `ollama`;
//!   its API key exists only here, sealed);
//! - `route`: `{id, client, provider?, context, fail_closed, created_at}`
//!   (a client's provider and context for the proxy; `context` one of
//!   `full`, `profile`, `off`);
//! - `connector`: `{id, client, client_id, name, redirect_uris[], family?,
//!   created_at}`, `family` being `{id, refresh_sha256, spent[], resource,
//!   expires, refreshed_at}` (an approved OAuth connector; only SHA-256s
//!   of its refresh tokens);
//! - `aspect`: `{id, name, scopes[], max_sensitivity, created_at}` (a
//!   named view that narrows what clients see);
//! - `aspect-use`: `{id, aspect, clients[], until?, created_at}` (the
//!   aspect in force: for every client when `clients` is empty);
//! - `retention`: `{id, on: "item", item, expires, created_at}` or `{id,
//!   on: "scope", scope, keep_secs, created_at}` (when items stop being
//!   kept).
//!
//! Grants may also hold `providers: {providers[], class?}` (where what
//! they allow may go, `class` one of `local`, `cloud`) and `confirm:
//! {remember_secs?}`; clients `provider?` and providers `class?`.
//!
//! A kind this ctxvault does not know is a format error asking for an
//! upgrade, not an integrity failure.
//!
//! Times are RFC 3339 in policy records.
//!
//! ## Item vector, version 1
//! Sealed with the `vectors` subkey; associated data
//! `"ctxvault/vector/v1" || vault_id || item_id || version (u64 BE) ||
//! model id`, so a vector moved to another item, version, model or vault
//! fails to open. Plaintext: the format byte `1`, the dimension (u16 LE),
//! then each value as an IEEE half float (LE). Stored in the `vectors`
//! table with the item's rowid, the model id and the version embedded.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use policies::{
    Actions, Confirm, DenyRule, Grant, ProviderCondition, Redaction, Scope, Sensitivity,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};
use crate::item::{Item, Kind, Namespace, Tag};
use crate::seal::{self, Sealer};
use crate::store::ItemRow;

mod aspect;
mod connector;
mod provider;
mod vector;
pub use aspect::{AspectRecord, AspectUseRecord, RetentionOn, RetentionRecord};
pub use connector::{ConnectorRecord, Family, SPENT_KEPT};
pub use provider::{ContextMode, ProviderKind, ProviderRecord, RouteRecord};
pub use vector::{MAX_DIM, VECTOR_VERSION, open_vector, seal_vector};

/// Version of the item payload format.
pub const ITEM_PAYLOAD_VERSION: u32 = 1;
/// Version of the policy record format.
pub const POLICY_RECORD_VERSION: u32 = 1;

/// The sealed payload of an item: every field but id and version.
#[derive(Serialize, Deserialize)]
pub(crate) struct ItemPayload<'a> {
    #[serde(borrow)]
    pub namespace: Cow<'a, str>,
    #[serde(borrow)]
    pub kind: Cow<'a, str>,
    #[serde(borrow, default)]
    pub title: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub body: Cow<'a, str>,
    #[serde(borrow, default)]
    pub tags: Vec<Cow<'a, str>>,
    pub sensitivity: Sensitivity,
    #[serde(borrow)]
    pub source: Cow<'a, str>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// JSON text padded with trailing spaces (which JSON readers skip) to a
/// size bucket, so a sealed record's length tells the size of its text only
/// roughly: at least 256 bytes, and above that the Padmé bucket of its
/// length (Nikitin et al., PETS 2019): the length rounded up so that only
/// its top `floor(log2(floor(log2 n))) + 1` bits vary, which leaks
/// O(log log n) bits of the length for at most 12% of padding (powers of
/// two leak a little less and cost up to 100%: a 1.2 KB item took 2 KB).
/// Old records, unpadded or padded otherwise, read the same.
pub fn padded(json: &[u8]) -> Zeroizing<Vec<u8>> {
    let target = padme(json.len()).max(256);
    let mut out = Zeroizing::new(Vec::with_capacity(target));
    out.extend_from_slice(json);
    out.resize(target, b' ');
    out
}

/// The Padmé bucket of a length `n` (see [`padded`]).
fn padme(n: usize) -> usize {
    if n < 2 {
        return n;
    }
    let log2 = |x: usize| (usize::BITS - 1 - x.leading_zeros()) as usize;
    let e = log2(n);
    let s = log2(e) + 1;
    let mask = (1usize << (e - s)) - 1;
    (n + mask) & !mask
}

/// Unix microseconds of a time (what the store keeps).
pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn from_micros(us: i64, id: Uuid) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us).ok_or(Error::Integrity(id))
}

/// Seal an item whole into a row (rowid left 0 for the store to assign).
pub fn seal_item(sealer: &Sealer, vault_id: &[u8; 16], item: &Item) -> Result<ItemRow> {
    let payload = ItemPayload {
        namespace: Cow::Borrowed(item.namespace.as_str()),
        kind: Cow::Borrowed(item.kind.as_str()),
        title: item.title.as_deref().map(Cow::Borrowed),
        body: Cow::Borrowed(&item.body),
        tags: item
            .tags
            .iter()
            .map(|t| Cow::Borrowed(t.as_str()))
            .collect(),
        sensitivity: item.sensitivity,
        source: Cow::Borrowed(item.source.as_str()),
        created_at: micros(item.created_at),
        updated_at: micros(item.updated_at),
    };
    let plain = padded(&Zeroizing::new(
        serde_json::to_vec(&payload).map_err(|_| Error::Crypto("item serialisation failed"))?,
    ));
    let sealed = sealer.seal(&seal::item_aad(vault_id, &item.id, item.version), &plain)?;
    Ok(ItemRow {
        rowid: 0,
        id: item.id,
        version: item.version,
        created_at: micros(item.created_at),
        updated_at: micros(item.updated_at),
        sealed,
    })
}

/// Open a row's blob into an item; any failure is an integrity error
/// naming the item.
pub fn open_item(sealer: &Sealer, vault_id: &[u8; 16], row: &ItemRow) -> Result<Item> {
    let bad = || Error::Integrity(row.id);
    let plain = sealer
        .open(&seal::item_aad(vault_id, &row.id, row.version), &row.sealed)
        .map_err(|_| bad())?;
    let p: ItemPayload = serde_json::from_slice(&plain).map_err(|_| bad())?;
    if p.created_at != row.created_at || p.updated_at != row.updated_at {
        return Err(bad());
    }
    Ok(Item {
        id: row.id,
        namespace: p.namespace.parse().map_err(|_| bad())?,
        kind: p.kind.parse().map_err(|_| bad())?,
        title: p.title.map(Cow::into_owned),
        body: p.body.into_owned(),
        tags: p
            .tags
            .iter()
            .map(|t| t.parse())
            .collect::<Result<_>>()
            .map_err(|_| bad())?,
        sensitivity: p.sensitivity,
        source: p.source.parse().map_err(|_| bad())?,
        created_at: from_micros(row.created_at, row.id)?,
        updated_at: from_micros(row.updated_at, row.id)?,
        version: row.version,
    })
}

/// A registered client. Its token is never stored, only its SHA-256.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClientRecord {
    /// Record id.
    pub id: Uuid,
    /// The client's name.
    pub name: String,
    /// Hex SHA-256 of the current token.
    pub token_sha256: String,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// When its token was last replaced.
    #[serde(default)]
    pub rotated_at: Option<DateTime<Utc>>,
    /// The model provider behind it, as the user declared it (none: an
    /// undeclared provider, judged as cloud).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

/// A stored grant (converted to and from the policy's [`Grant`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GrantRecord {
    /// The grant's id.
    pub id: Uuid,
    /// The client it is for.
    pub client: String,
    /// What it allows.
    pub actions: Actions,
    /// Which namespaces.
    pub scope: Scope,
    /// If not empty, only items carrying one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The most sensitive items it reaches.
    pub max_sensitivity: Sensitivity,
    /// When it stops working.
    #[serde(default)]
    pub expires: Option<DateTime<Utc>>,
    /// What is masked in the text it returns.
    #[serde(default)]
    pub redact: Vec<Redaction>,
    /// Which providers what it allows may go to.
    #[serde(default, skip_serializing_if = "ProviderCondition::is_open")]
    pub providers: ProviderCondition,
    /// Its reads wait for the user's yes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<Confirm>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl From<&Grant> for GrantRecord {
    fn from(g: &Grant) -> Self {
        GrantRecord {
            id: g.id,
            client: g.client.clone(),
            actions: g.actions,
            scope: g.scope.clone(),
            tags: g.tags.clone(),
            max_sensitivity: g.max_sensitivity,
            expires: g.expires,
            redact: g.redact.clone(),
            providers: g.providers.clone(),
            confirm: g.confirm,
            created_at: g.created_at,
        }
    }
}

impl From<GrantRecord> for Grant {
    fn from(g: GrantRecord) -> Self {
        Grant {
            id: g.id,
            client: g.client,
            actions: g.actions,
            scope: g.scope,
            tags: g.tags,
            max_sensitivity: g.max_sensitivity,
            expires: g.expires,
            redact: g.redact,
            providers: g.providers,
            confirm: g.confirm,
            created_at: g.created_at,
        }
    }
}

/// A stored deny rule (converted to and from the policy's [`DenyRule`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DenyRecord {
    /// The rule's id.
    pub id: Uuid,
    /// The client it is for.
    pub client: String,
    /// Which namespaces.
    pub scope: Scope,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl From<&DenyRule> for DenyRecord {
    fn from(d: &DenyRule) -> Self {
        DenyRecord {
            id: d.id,
            client: d.client.clone(),
            scope: d.scope.clone(),
            created_at: d.created_at,
        }
    }
}

impl From<DenyRecord> for DenyRule {
    fn from(d: DenyRecord) -> Self {
        DenyRule {
            id: d.id,
            client: d.client,
            scope: d.scope,
            created_at: d.created_at,
        }
    }
}

/// A client's proposal waiting for the user's review. Never an item: no
/// search, count or statistic sees it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingRecord {
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
    /// The items it was drawn from (conversation chunks, for a proposal
    /// `distill` made).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Uuid>,
}

impl Drop for PendingRecord {
    fn drop(&mut self) {
        self.body.zeroize();
        if let Some(t) = self.title.as_mut() {
            t.zeroize();
        }
    }
}

/// One sealed policy record.
#[derive(Clone, Debug)]
pub enum PolicyRecord {
    /// A registered client.
    Client(ClientRecord),
    /// A grant.
    Grant(GrantRecord),
    /// A deny rule.
    Deny(DenyRecord),
    /// A proposal waiting for review.
    Pending(PendingRecord),
    /// A model provider for the proxy.
    Provider(ProviderRecord),
    /// A client's route through the proxy.
    Route(RouteRecord),
    /// An approved OAuth connector.
    Connector(ConnectorRecord),
    /// A named view that narrows what clients see.
    Aspect(AspectRecord),
    /// The aspect in force.
    AspectUse(AspectUseRecord),
    /// How long items are kept.
    Retention(RetentionRecord),
}

/// The plaintext envelope of a policy record (see the module's Format).
#[derive(Serialize, Deserialize)]
struct Envelope {
    #[serde(default)]
    v: Option<u32>,
    kind: String,
    data: serde_json::Value,
}

impl PolicyRecord {
    /// The record's id.
    pub fn id(&self) -> Uuid {
        match self {
            PolicyRecord::Client(c) => c.id,
            PolicyRecord::Grant(g) => g.id,
            PolicyRecord::Deny(d) => d.id,
            PolicyRecord::Pending(p) => p.id,
            PolicyRecord::Provider(p) => p.id,
            PolicyRecord::Route(r) => r.id,
            PolicyRecord::Connector(c) => c.id,
            PolicyRecord::Aspect(a) => a.id,
            PolicyRecord::AspectUse(a) => a.id,
            PolicyRecord::Retention(r) => r.id,
        }
    }

    fn encode(&self) -> Result<Zeroizing<Vec<u8>>> {
        let enc = |e: serde_json::Error| {
            tracing::error!("policy record encoding failed: {e}");
            Error::Crypto("policy record serialisation failed")
        };
        let (kind, data) = match self {
            PolicyRecord::Client(c) => ("client", serde_json::to_value(c).map_err(enc)?),
            PolicyRecord::Grant(g) => ("grant", serde_json::to_value(g).map_err(enc)?),
            PolicyRecord::Deny(d) => ("deny", serde_json::to_value(d).map_err(enc)?),
            PolicyRecord::Pending(p) => ("pending", serde_json::to_value(p).map_err(enc)?),
            PolicyRecord::Provider(p) => ("provider", serde_json::to_value(p).map_err(enc)?),
            PolicyRecord::Route(r) => ("route", serde_json::to_value(r).map_err(enc)?),
            PolicyRecord::Connector(c) => ("connector", serde_json::to_value(c).map_err(enc)?),
            PolicyRecord::Aspect(a) => ("aspect", serde_json::to_value(a).map_err(enc)?),
            PolicyRecord::AspectUse(a) => ("aspect-use", serde_json::to_value(a).map_err(enc)?),
            PolicyRecord::Retention(r) => ("retention", serde_json::to_value(r).map_err(enc)?),
        };
        let env = Envelope {
            v: Some(POLICY_RECORD_VERSION),
            kind: kind.into(),
            data,
        };
        Ok(padded(&Zeroizing::new(
            serde_json::to_vec(&env).map_err(enc)?,
        )))
    }

    fn decode(id: Uuid, plain: &[u8]) -> Result<PolicyRecord> {
        let bad = || Error::RecordIntegrity(id);
        let env: Envelope = serde_json::from_slice(plain).map_err(|_| bad())?;
        let v = env.v.unwrap_or(1);
        if v != POLICY_RECORD_VERSION {
            return Err(Error::Format(format!(
                "policy record {id} has format version {v}, which this ctxvault does not know; upgrade ctxvault"
            )));
        }
        let rec = match env.kind.as_str() {
            "client" => PolicyRecord::Client(serde_json::from_value(env.data).map_err(|_| bad())?),
            "grant" => PolicyRecord::Grant(serde_json::from_value(env.data).map_err(|_| bad())?),
            "deny" => PolicyRecord::Deny(serde_json::from_value(env.data).map_err(|_| bad())?),
            "pending" => {
                PolicyRecord::Pending(serde_json::from_value(env.data).map_err(|_| bad())?)
            }
            "provider" => {
                PolicyRecord::Provider(serde_json::from_value(env.data).map_err(|_| bad())?)
            }
            "route" => PolicyRecord::Route(serde_json::from_value(env.data).map_err(|_| bad())?),
            "connector" => {
                PolicyRecord::Connector(serde_json::from_value(env.data).map_err(|_| bad())?)
            }
            "aspect" => PolicyRecord::Aspect(serde_json::from_value(env.data).map_err(|_| bad())?),
            "aspect-use" => {
                PolicyRecord::AspectUse(serde_json::from_value(env.data).map_err(|_| bad())?)
            }
            "retention" => {
                PolicyRecord::Retention(serde_json::from_value(env.data).map_err(|_| bad())?)
            }
            other => {
                return Err(Error::Format(format!(
                    "policy record {id} is of kind {other:?}, which this ctxvault does not know; upgrade ctxvault"
                )));
            }
        };
        if rec.id() != id {
            return Err(bad());
        }
        Ok(rec)
    }
}

/// The associated data binding a policy record to its vault and id.
pub fn record_aad(vault_id: &[u8; 16], id: &Uuid) -> Vec<u8> {
    let mut a = b"ctxvault/record/v1".to_vec();
    a.extend_from_slice(vault_id);
    a.extend_from_slice(id.as_bytes());
    a
}

/// Seal a policy record.
pub fn seal_record(sealer: &Sealer, vault_id: &[u8; 16], r: &PolicyRecord) -> Result<Vec<u8>> {
    sealer.seal(&record_aad(vault_id, &r.id()), &r.encode()?)
}

/// Re-seal a policy record under another key, its plaintext byte for byte
/// (rekey: fields a newer ctxvault wrote survive). A blob that fails to
/// authenticate is an integrity error naming the record.
pub(crate) fn reseal_record(
    old: &Sealer,
    new: &Sealer,
    vault_id: &[u8; 16],
    id: Uuid,
    sealed: &[u8],
) -> Result<Vec<u8>> {
    let aad = record_aad(vault_id, &id);
    let plain = old
        .open(&aad, sealed)
        .map_err(|_| Error::RecordIntegrity(id))?;
    new.seal(&aad, &plain)
}

/// Open a sealed policy record; a blob that fails authentication or does
/// not parse is an integrity error naming the record.
pub fn open_record(
    sealer: &Sealer,
    vault_id: &[u8; 16],
    id: Uuid,
    sealed: &[u8],
) -> Result<PolicyRecord> {
    let plain = sealer
        .open(&record_aad(vault_id, &id), sealed)
        .map_err(|_| Error::RecordIntegrity(id))?;
    PolicyRecord::decode(id, &plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_written_before_versions_still_read() {
        let id = Uuid::now_v7();
        let old = serde_json::json!({"kind": "deny", "data": {
            "id": id, "client": "bob", "scope": "health/**", "created_at": "2026-01-01T00:00:00Z"
        }});
        let r = PolicyRecord::decode(id, old.to_string().as_bytes()).expect("reads");
        assert!(matches!(r, PolicyRecord::Deny(d) if d.client == "bob"));
        let moved = PolicyRecord::decode(Uuid::now_v7(), old.to_string().as_bytes());
        assert!(matches!(moved, Err(Error::RecordIntegrity(_))));
    }

    #[test]
    fn padding_buckets_and_reads_back() {
        for (n, want) in [
            (1, 256),
            (256, 256),
            (257, 272),
            (1200, 1216),
            (4096, 4096),
            (4097, 4352),
            (9000, 9216),
        ] {
            assert_eq!(padded(&vec![b'1'; n]).len(), want, "{n}");
        }
        // Never shorter, never more than 12% longer past the minimum, and
        // one size for every length of a bucket.
        let mut last = 0;
        for n in 1..70_000usize {
            let p = padme(n);
            assert!(p >= n && p >= last, "{n}");
            assert!(n < 256 || (p - n) * 100 <= n * 12, "{n} -> {p}");
            last = p;
        }
        let distinct: std::collections::BTreeSet<usize> = (1025..=2048).map(padme).collect();
        assert_eq!(
            distinct.len(),
            16,
            "16 sizes for lengths over 1 KiB up to 2 KiB"
        );
        let text = serde_json::json!({"kind": "x"}).to_string();
        let p = padded(text.as_bytes());
        let back: serde_json::Value = serde_json::from_slice(&p).expect("trailing spaces read");
        assert_eq!(back["kind"], "x");
    }
}
