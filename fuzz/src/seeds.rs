//! The seed corpus: real shapes made by the real writers (the bundle
//! writer, the Markdown exporter, the sealer) and hand-written requests.
//! `ctxvault-fuzz seed` rewrites the `seed-*` files of `fuzz/corpus/`;
//! other files there (found inputs, fixed failures) are left alone.

use std::error::Error;
use std::io::Write;
use std::path::Path;

use age::armor::{ArmoredWriter, Format};
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;
use vault_core::bundle::{self, Contents, Seal};
use vault_core::item::Item;
use vault_core::records::{self, ClientRecord, PolicyRecord};
use vault_core::{WorkFactor, formats, seal};

use crate::fixture::{self, VAULT_ID};

type Res<T> = Result<T, Box<dyn Error>>;
/// Named files of one target.
type Files = Vec<(String, Vec<u8>)>;

/// The decrypted bundle of docs/bundle-format.md, with a deny rule and a
/// second item.
const BUNDLE: &str = r#"{"format":"ctxvault-bundle","version":1,"created_at":"2026-11-22T10:00:00Z","items":2,"clients":1,"grants":1,"denies":1}
{"type":"item","id":"0192f0c1-7c5e-7d3a-9a4e-3b1f2c4d5e6f","namespace":"work/acme","kind":"note","title":"Q3","body":"Ship the sync engine","tags":["planning"],"sensitivity":"normal","source":"user","created_at":"2026-11-20T09:00:00.000000Z","updated_at":"2026-11-21T09:00:00.000000Z","version":2}
{"type":"item","id":"0192f0c1-7c5e-7d3a-9a4e-3b1f2c4d5e70","namespace":"profile","kind":"preference","title":null,"body":"Likes tea","tags":[],"sensitivity":"private","source":"import:lines","created_at":"2026-11-20T09:00:00.000000Z","updated_at":"2026-11-20T09:00:00.000000Z","version":1}
{"type":"client","name":"claude-desktop","created_at":"2026-11-20T09:00:00Z"}
{"type":"grant","id":"0192f0c2-0000-7000-8000-000000000000","client":"claude-desktop","actions":["read"],"scope":"work/**","tags":[],"max_sensitivity":"normal","expires":null,"redact":["email"],"created_at":"2026-11-20T09:00:00Z"}
{"type":"deny","id":"0192f0c2-0000-7000-8000-000000000001","client":"claude-desktop","scope":"work/acme/hr","created_at":"2026-11-20T09:00:00Z"}
"#;

fn time() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_000_000, 123_456_000).unwrap_or_default()
}

fn item() -> Res<Item> {
    Ok(Item {
        id: Uuid::from_u128(0x0192_f0c1_7c5e_7d3a_9a4e_3b1f_2c4d_5e6f),
        namespace: "work/acme".parse()?,
        kind: "note".parse()?,
        title: Some("Q3: \"roadmap\"".into()),
        body: "Ship the sync engine.\n---\nMail ann@example.com".into(),
        tags: vec!["planning".parse()?, "q3".parse()?],
        sensitivity: vault_core::Sensitivity::Private,
        source: "client:claude-desktop".parse()?,
        created_at: time(),
        updated_at: time(),
        version: 3,
    })
}

fn armored(plain: &[u8]) -> Res<Vec<u8>> {
    let r = fixture::identity().to_public();
    let enc = age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient))?;
    let mut out = Vec::new();
    let armor = ArmoredWriter::wrap_output(&mut out, Format::AsciiArmor)?;
    let mut w = enc.wrap_output(armor)?;
    w.write_all(plain)?;
    w.finish()?.finish()?;
    Ok(out)
}

fn bundle_seeds() -> Res<Vec<(&'static str, Vec<u8>)>> {
    let full = Contents::from_ndjson(BUNDLE.as_bytes())?;
    let text = full.to_ndjson(time()).to_vec();
    let plain = Contents {
        items: full.items.clone(),
        ..Default::default()
    }
    .to_ndjson(time())
    .to_vec();
    let pass = Seal::Passphrase(fixture::secret_passphrase(), WorkFactor::MIN);
    let to = Seal::Recipients(vec![fixture::identity().to_public()]);
    Ok(vec![
        ("seed-full.ndjson", text.clone()),
        ("seed-plain-export.ndjson", plain),
        (
            "seed-empty.ndjson",
            Contents::default().to_ndjson(time()).to_vec(),
        ),
        ("seed-passphrase.age", bundle::encrypt(&text, &pass)?),
        ("seed-recipient.age", bundle::encrypt(&text, &to)?),
        ("seed-armored.age", armored(&text)?),
    ])
}

fn format_seeds() -> Res<Vec<(&'static str, Vec<u8>)>> {
    let (_, md) = formats::to_markdown(&item()?);
    Ok(vec![
        ("seed-export.md", md.into_bytes()),
        ("seed-hand.md", b"---\ntitle: My note\ntags: [\"a\", \"b-c\"]\n---\nHello".to_vec()),
        (
            "seed-crlf.md",
            b"---\r\nnamespace: \"profile\"\r\nkind: preference\r\nversion: 2\r\n---\r\nTea\r\n"
                .to_vec(),
        ),
        (
            "seed-memory.jsonl",
            b"{\"type\":\"entity\",\"name\":\"Ann\",\"entityType\":\"person\",\"observations\":[\"likes tea\",\"lives in Lyon\"]}\n\
              {\"type\":\"entity\",\"name\":\"Acme\",\"entityType\":\"Organization Unit\",\"observations\":[]}\n\
              {\"type\":\"relation\",\"from\":\"Ann\",\"to\":\"Acme\",\"relationType\":\"works_at\"}\n"
                .to_vec(),
        ),
        (
            "seed-lines.txt",
            "- Likes tea\n\n* Lives in Lyon\n3. Has a cat\n• Speaks French\nPlain line\n"
                .as_bytes()
                .to_vec(),
        ),
    ])
}

fn policy_records() -> Res<Vec<(&'static str, PolicyRecord)>> {
    let id = |n: u128| Uuid::from_u128(0x0192_f0c2_0000_7000_8000_0000_0000_0000 + n);
    Ok(vec![
        (
            "client",
            PolicyRecord::Client(ClientRecord {
                id: id(1),
                name: "claude-desktop".into(),
                token_sha256: "ab".repeat(32),
                created_at: time(),
                rotated_at: Some(time()),
                provider: Some("anthropic".into()),
            }),
        ),
        (
            "grant",
            PolicyRecord::Grant(serde_json::from_value(json!({
                "id": id(2), "client": "claude-desktop", "actions": ["read", "propose"],
                "scope": "work/**", "tags": ["planning"], "max_sensitivity": "private",
                "expires": "2027-01-01T00:00:00Z", "redact": ["email", "card"],
                "created_at": time(),
            }))?),
        ),
        (
            "deny",
            PolicyRecord::Deny(serde_json::from_value(json!({
                "id": id(3), "client": "claude-desktop", "scope": "health", "created_at": time(),
            }))?),
        ),
        (
            "pending",
            PolicyRecord::Pending(serde_json::from_value(json!({
                "id": id(4), "client": "claude-desktop", "created_at": time(),
                "namespace": "inbox", "kind": "fact", "title": null,
                "body": "Ann moved to Lyon", "tags": ["people"],
            }))?),
        ),
    ])
}

fn record_seeds() -> Res<Files> {
    let items = fixture::items();
    let it = item()?;
    let row = records::seal_item(&items, &VAULT_ID, &it)?;
    let aad = seal::item_aad(&VAULT_ID, &row.id, row.version);
    let plain = items
        .open(&aad, &row.sealed)
        .map_err(|_| "a fresh item seal does not open")?;
    let mut raw = vec![0u8];
    raw.extend_from_slice(row.id.as_bytes());
    raw.extend_from_slice(&row.version.to_be_bytes());
    raw.extend_from_slice(&row.created_at.to_be_bytes());
    raw.extend_from_slice(&row.updated_at.to_be_bytes());
    raw.extend_from_slice(&row.sealed);
    // Mode 1 seals for the fixed id: the version is in the mode byte.
    let mut sealed_plain = vec![1 | (((it.version - 1) as u8) << 2)];
    sealed_plain.extend_from_slice(&plain);
    let mut out = vec![
        ("seed-item-sealed".to_owned(), raw),
        ("seed-item-plain".to_owned(), sealed_plain),
    ];
    let rs = fixture::records();
    for (kind, r) in policy_records()? {
        let blob = records::seal_record(&rs, &VAULT_ID, &r)?;
        let plain = rs
            .open(&records::record_aad(&VAULT_ID, &r.id()), &blob)
            .map_err(|_| "a fresh record seal does not open")?;
        let mut raw = vec![2u8];
        raw.extend_from_slice(r.id().as_bytes());
        raw.extend_from_slice(&blob);
        out.push((format!("seed-{kind}-sealed"), raw));
        let mut p = vec![3u8];
        p.extend_from_slice(&plain);
        out.push((format!("seed-{kind}-plain"), p));
    }
    Ok(out)
}

fn rpc(id: u32, method: &str, params: serde_json::Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string() + "\n"
}

fn call(id: u32, tool: &str, args: serde_json::Value) -> String {
    rpc(id, "tools/call", json!({"name": tool, "arguments": args}))
}

fn mcp_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let item = "0192f0c1-7c5e-7d3a-9a4e-000000000003";
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "fuzz", "version": "1"},
    });
    let seeds = vec![
        ("seed-tools-list", rpc(1, "tools/list", json!({}))),
        (
            "seed-search",
            call(2, "search_context", json!({"query": "sync engine"}))
                + &call(3, "search_context", json!({"query": "tea*", "namespace": "preferences", "tags": ["planning"], "limit": 50}))
                + &call(4, "search_context", json!({"query": "x", "limit": 0})),
        ),
        (
            "seed-get",
            call(5, "get_context", json!({"id": item}))
                + &call(6, "get_context", json!({"id": "not-an-id"}))
                + &call(7, "get_context", json!({"id": "00000000-0000-0000-0000-000000000000"})),
        ),
        (
            "seed-access",
            call(8, "list_namespaces", json!({})) + &call(9, "describe_access", json!({})),
        ),
        (
            "seed-remember",
            call(10, "remember", json!({"content": "Ann likes tea", "namespace": "inbox", "tags": ["people"], "kind": "fact", "title": "Tea"}))
                + &call(11, "remember", json!({"content": " "}))
                + &call(28, "remember", json!({"content": "Mail ann@example.com or +33 6 12 34 56 78, see https://x.io/a?b=c from 10.0.0.1, card 4111 1111 1111 1111"}))
                + &call(29, "search_context", json!({"query": "mail card*"})),
        ),
        (
            "seed-resources",
            rpc(12, "resources/list", json!({}))
                + &rpc(13, "resources/list", json!({"cursor": "2"}))
                + &rpc(14, "resources/templates/list", json!({}))
                + &rpc(15, "resources/read", json!({"uri": "ctxvault://profile"}))
                + &rpc(16, "resources/read", json!({"uri": format!("ctxvault://item/{item}")}))
                + &rpc(17, "resources/read", json!({"uri": "file:///etc/passwd"})),
        ),
        (
            "seed-prompts",
            rpc(18, "prompts/list", json!({}))
                + &rpc(19, "prompts/get", json!({"name": "personal-context", "arguments": {"topic": "tea"}}))
                + &rpc(20, "prompts/get", json!({"name": "other"})),
        ),
        (
            "seed-errors",
            call(21, "search_context", json!({"query": "!locked"}))
                + &rpc(22, "prompts/get", json!({"name": "personal-context", "arguments": {"topic": "!internal"}}))
                + &call(23, "no_such_tool", json!({}))
                + &call(24, "search_context", json!({"query": 5})),
        ),
        (
            "seed-misc",
            rpc(25, "ping", json!({}))
                + "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":25}}\n"
                + "not json\n{\"jsonrpc\":\"2.0\",\"id\":26}\n[]\n"
                + &rpc(27, "no/such/method", json!({})),
        ),
        (
            "seed-stateless",
            "!".to_owned()
                + &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}}).to_string()
                + "\n"
                + &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "search_context", "arguments": {"query": "tea"}, "_meta": meta}}).to_string()
                + "\n",
        ),
    ];
    seeds
        .into_iter()
        .map(|(n, s)| (n, s.into_bytes()))
        .collect()
}

/// An audit input: flags, entries, then edits (see the audit target).
fn audit(loose: bool, n: u8, edits: &[u8]) -> Vec<u8> {
    let mut v = vec![u8::from(loose) | (n << 1)];
    for k in 0..n {
        let action = if k % 2 == 0 {
            "search".as_bytes()
        } else {
            b"grant"
        };
        v.push(action.len() as u8);
        v.extend_from_slice(action);
        v.push(3);
        v.extend_from_slice(b"tea");
    }
    v.extend_from_slice(edits);
    v
}

fn audit_seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("seed-clean", audit(false, 3, &[])),
        ("seed-clean-loose", audit(true, 3, &[])),
        ("seed-empty", audit(false, 0, &[])),
        ("seed-delete", audit(false, 4, &[0, 2])),
        ("seed-flip-mac", audit(false, 3, &[3, 2, 17])),
        (
            "seed-reseq",
            audit(false, 3, &[1, 0, 0, 0, 0, 0, 0, 0, 9, 3]),
        ),
        ("seed-rollback", audit(false, 5, &[9, 2, 10, 2])),
        ("seed-truncate", audit(false, 4, &[10, 2])),
        ("seed-swap", audit(true, 4, &[11, 1, 2])),
        (
            "seed-insert",
            audit(false, 2, &[4, 0, 0, 0, 0, 0, 0, 0, 3, 1, 0]),
        ),
        ("seed-odd-row", audit(true, 3, &[12, 1, 2, 12, 13, 1])),
        ("seed-odd-head", audit(true, 2, &[13, 3, 13, 11])),
        (
            "seed-head",
            audit(false, 3, &[5, 0, 0, 0, 0, 0, 0, 0, 1, 6, 1, 7, 8]),
        ),
    ]
}

/// Write every seed into `corpus/<target>/`; returns how many.
pub fn write_all(corpus: &Path) -> Res<usize> {
    let mut sets: Vec<(&str, Files)> = Vec::new();
    let own = |v: Vec<(&str, Vec<u8>)>| v.into_iter().map(|(n, b)| (n.to_owned(), b)).collect();
    sets.push(("bundle", own(bundle_seeds()?)));
    sets.push(("formats", own(format_seeds()?)));
    sets.push(("records", record_seeds()?));
    sets.push(("mcp", own(mcp_seeds())));
    sets.push(("audit", own(audit_seeds())));
    let mut n = 0;
    for (target, files) in sets {
        let dir = corpus.join(target);
        std::fs::create_dir_all(&dir)?;
        for (name, bytes) in files {
            std::fs::write(dir.join(name), bytes)?;
            n += 1;
        }
    }
    Ok(n)
}
