//! Target `formats`: the formats `ctxvault import` reads from other tools
//! (`vault_core::formats`): one Markdown file with front matter, the MCP
//! memory server's JSONL, plain lines; every item read then goes through
//! `Item::validate`, as the import does.
//!
//! Invariant checked: an item read from Markdown whose times have whole
//! microseconds (what the export writes) reads back equal from the
//! Markdown it exports to.

use chrono::{DateTime, Timelike, Utc};
use vault_core::formats;
use vault_core::item::Namespace;

/// Words of the Markdown front matter and the memory-server JSONL.
pub const DICT: &[&[u8]] = &[
    b"---\n",
    b"---\r\n",
    b"id: \"0192f0c1-7c5e-7d3a-9a4e-3b1f2c4d5e6f\"\n",
    b"namespace: \"work/acme\"\n",
    b"kind: \"note\"\n",
    b"title: \"Q3\"\n",
    b"tags: [\"planning\", \"b\"]\n",
    b"sensitivity: \"secret\"\n",
    b"source: \"import:markdown\"\n",
    b"created_at: \"2026-11-22T00:00:00.000000Z\"\n",
    b"updated_at: \"2026-11-22T00:00:00.000001Z\"\n",
    b"version: 3\n",
    b": ",
    b"{\"type\":\"entity\",\"name\":\"Ann\",\"entityType\":\"person\",\"observations\":[\"likes tea\"]}\n",
    b"{\"type\":\"relation\",\"from\":\"Ann\",\"to\":\"Acme\",\"relationType\":\"works_at\"}\n",
    b"\"entityType\"",
    b"\"observations\"",
    b"\"relationType\"",
    b"- ",
    b"* ",
    b"\xe2\x80\xa2 ",
    b"12. ",
];

fn whole_micros(t: &DateTime<Utc>) -> bool {
    t.nanosecond().is_multiple_of(1000)
}

fn markdown(text: &str) {
    let Ok(formats::Markdown { mut item, .. }) = formats::from_markdown("fuzz.md", text) else {
        return;
    };
    if whole_micros(&item.created_at) && whole_micros(&item.updated_at) {
        let (_, exported) = formats::to_markdown(&item);
        match formats::from_markdown("fuzz.md", &exported) {
            Ok(again) => assert!(
                again.item == item,
                "an item exported to Markdown reads back different"
            ),
            Err(e) => panic!("an item exported to Markdown does not read back: {e}"),
        }
    }
    let _ = item.validate();
}

/// Run the target on one input.
pub fn run(data: &[u8]) {
    // Every one of these formats is text: the import refuses other bytes.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    markdown(text);
    let ns = Namespace::default();
    let _ = formats::looks_like_mcp_memory(text);
    if let Ok(items) = formats::from_mcp_memory("fuzz.jsonl", text, &ns) {
        for mut i in items {
            let _ = i.validate();
        }
    }
    for mut i in formats::from_lines(text, &ns) {
        let _ = i.validate();
    }
}
