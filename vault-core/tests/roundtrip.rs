//! Round trips, as property tests over random vaults: every field, unicode,
//! no tags and many, sizes up to the maximum. Items go through the bundle
//! text (and age), the plain JSONL and Markdown, and into a fresh vault by
//! the import path; what comes back is identical: ids, fields, timestamps,
//! versions.

#![allow(missing_docs, clippy::unwrap_used)]

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use vault_core::bundle::{Contents, Seal};
use vault_core::item::{MAX_BODY_BYTES, MAX_TAGS};
use vault_core::vault::RecordChange;
use vault_core::{Item, ItemFilter, Sensitivity, Unlock, Vault, WorkFactor, formats, keys};

fn text(max: usize) -> impl Strategy<Value = String> {
    // Letters, digits, punctuation, newlines, YAML/JSON-significant characters and non-ASCII.
    prop::string::string_regex(&format!(
        "[a-zA-Z0-9 \\n\\t:#'\"{{}}\\[\\]\\-,.!?é漢字🙂\\\\]{{1,{max}}}"
    ))
    .unwrap()
}

fn item() -> impl Strategy<Value = Item> {
    let body = prop_oneof![
        8 => text(300),
        1 => Just("x".repeat(MAX_BODY_BYTES)),
        1 => Just("---\n---\nbody that looks like front matter\n".to_owned()),
    ];
    (
        prop::collection::vec("[a-z0-9][a-z0-9._-]{0,8}", 1..4),
        "[a-z][a-z0-9_-]{0,10}",
        prop::option::of(text(60).prop_map(|t| t.replace(['\n', '\r'], " "))),
        body,
        prop::collection::vec("[a-z0-9][a-z0-9_-]{0,6}", 0..=MAX_TAGS),
        prop::sample::select(Sensitivity::ALL.to_vec()),
        prop::sample::select(vec!["user", "import:jsonl", "client:claude-desktop"]),
        (
            0i64..2_000_000_000_000_000,
            0i64..1_000_000_000_000,
            1u64..50,
        ),
    )
        .prop_filter_map(
            "valid item",
            |(ns, kind, title, body, tags, sensitivity, source, (c, d, version))| {
                let ns = ns.join("/");
                if ns.split('/').any(|s| s.chars().all(|c| c == '.')) || body.trim().is_empty() {
                    return None;
                }
                let mut tags: Vec<vault_core::Tag> =
                    tags.iter().map(|t| t.parse().unwrap()).collect();
                tags.sort();
                tags.dedup();
                let created_at = DateTime::<Utc>::from_timestamp_micros(c)?;
                Some(Item {
                    id: uuid::Uuid::now_v7(),
                    namespace: ns.parse().ok()?,
                    kind: kind.parse().ok()?,
                    title: title.filter(|t| !t.is_empty()),
                    body,
                    tags,
                    sensitivity,
                    source: source.parse().unwrap(),
                    created_at,
                    updated_at: DateTime::from_timestamp_micros(c + d)?,
                    version,
                })
            },
        )
}

fn by_id(mut v: Vec<Item>) -> Vec<Item> {
    v.sort_by_key(|i| i.id);
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn bundle_jsonl_markdown_and_import(items in prop::collection::vec(item(), 0..12)) {
        let now = Utc::now();
        let contents = Contents { items: items.clone(), ..Default::default() };

        // Bundle: NDJSON inside age.
        let plain = contents.to_ndjson(now);
        let sealed = vault_core::bundle::encrypt(&plain, &Seal::Passphrase(keys::passphrase("pw"), WorkFactor::MIN)).unwrap();
        let opened = keys::age_unwrap(&sealed, &Unlock::Passphrase(keys::passphrase("pw"))).unwrap();
        prop_assert_eq!(&Contents::from_ndjson(&opened).unwrap(), &contents);
        // Plain JSONL is the same text.
        prop_assert_eq!(&Contents::from_ndjson(&plain).unwrap().items, &items);
        // Markdown, one file per item.
        for i in &items {
            let (_, md) = formats::to_markdown(i);
            prop_assert_eq!(&formats::from_markdown("x.md", &md).unwrap().item, i);
        }

        // Into a fresh vault by the import path, and back out.
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let got = rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let v = Vault::create(&dir.path().join("v"), &keys::passphrase("pw"), WorkFactor::MIN, &[]).await.unwrap();
            let report = v.import(items.clone(), RecordChange::default(), false, vault_core::vault::Dedupe::IdOrText).await.unwrap();
            assert_eq!(report.added + report.duplicates, items.len() as u64);
            let again = v.import(items.clone(), RecordChange::default(), false, vault_core::vault::Dedupe::IdOrText).await.unwrap();
            assert_eq!(again.added, 0, "importing twice changes nothing");
            v.list(&ItemFilter::default()).await.unwrap()
        });
        // Items sharing namespace and body are duplicates: the first is kept.
        let mut expect: Vec<Item> = Vec::new();
        for i in &items {
            if !expect.iter().any(|e| e.namespace == i.namespace && e.body == i.body) {
                expect.push(i.clone());
            }
        }
        prop_assert_eq!(by_id(got), by_id(expect));
    }
}
