//! A generated ChatGPT data export shaped like a real one (a tree of message
//! nodes per conversation, with the metadata each node carries), for the
//! streaming test and the import benchmark.

use std::io::Write;
use std::path::Path;

use serde_json::json;

const WORDS: &[&str] = &[
    "trip",
    "lisbon",
    "budget",
    "hotel",
    "train",
    "coffee",
    "tea",
    "garden",
    "tomato",
    "bread",
    "sourdough",
    "starter",
    "meeting",
    "project",
    "deadline",
    "rust",
    "compiler",
    "borrow",
    "invoice",
    "tax",
    "doctor",
    "appointment",
    "running",
    "shoes",
    "marathon",
    "recipe",
    "curry",
    "spinach",
    "guitar",
    "chord",
    "piano",
    "lesson",
    "daughter",
    "school",
    "birthday",
    "gift",
    "mortgage",
    "rate",
    "bank",
    "savings",
    "laptop",
    "battery",
    "linux",
    "kernel",
    "vacation",
    "beach",
    "mountain",
    "hike",
    "weather",
    "rain",
    "novel",
    "chapter",
    "poem",
    "translation",
];

/// Write a ChatGPT `conversations.json` of `conversations` conversations
/// of `turns` question-and-answer pairs each, messages of about `chars`
/// characters, to `path`. Returns the number of messages.
pub fn write(path: &Path, conversations: usize, turns: usize, chars: usize) -> u64 {
    let f = std::fs::File::create(path).unwrap();
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let mut text = |n: usize| {
        let mut s = String::with_capacity(n + 16);
        while s.len() < n {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            s.push_str(WORDS[(seed % WORDS.len() as u64) as usize]);
            s.push(' ');
        }
        s
    };
    let t0 = 1_600_000_000.0_f64;
    let mut messages = 0;
    w.write_all(b"[").unwrap();
    for c in 0..conversations {
        let mut mapping = serde_json::Map::new();
        let root = format!("c{c}-root");
        let mut parent = root.clone();
        let n = turns * 2;
        mapping.insert(
            root.clone(),
            json!({"id": root, "message": null, "parent": null, "children": [format!("c{c}-m0")]}),
        );
        for m in 0..n {
            let id = format!("c{c}-m{m}");
            let role = if m % 2 == 0 { "user" } else { "assistant" };
            let time = t0 + (c * 3600 + m * 30) as f64;
            let children: Vec<String> = if m + 1 < n {
                vec![format!("c{c}-m{}", m + 1)]
            } else {
                vec![]
            };
            mapping.insert(
                id.clone(),
                json!({
                    "id": id,
                    "message": {
                        "id": id,
                        "author": {"role": role, "name": null, "metadata": {}},
                        "create_time": time,
                        "update_time": null,
                        "content": {"content_type": "text", "parts": [text(chars)]},
                        "status": "finished_successfully",
                        "end_turn": role == "assistant",
                        "weight": 1.0,
                        "metadata": {
                            "citations": [],
                            "content_references": [],
                            "message_type": null,
                            "model_slug": "gpt-4o",
                            "default_model_slug": "gpt-4o",
                            "parent_id": parent,
                            "request_id": format!("{:032x}", (c as u128) << 64 | m as u128),
                            "timestamp_": "absolute",
                            "finish_details": {"type": "stop", "stop_tokens": [200002]},
                            "is_complete": true,
                            "serialization_metadata": {"custom_symbol_offsets": []}
                        },
                        "recipient": "all",
                        "channel": null
                    },
                    "parent": parent,
                    "children": children
                }),
            );
            parent = id;
            messages += 1;
        }
        if c > 0 {
            w.write_all(b",").unwrap();
        }
        serde_json::to_writer(
            &mut w,
            &json!({
                "title": format!("Conversation {c}"),
                "create_time": t0 + (c * 3600) as f64,
                "update_time": t0 + (c * 3600 + n * 30) as f64,
                "mapping": mapping,
                "moderation_results": [],
                "current_node": parent,
                "plugin_ids": null,
                "conversation_id": format!("conv-{c}"),
                "conversation_template_id": null,
                "gizmo_id": null,
                "is_archived": false,
                "safe_urls": [],
                "default_model_slug": "gpt-4o",
                "id": format!("conv-{c}"),
            }),
        )
        .unwrap();
    }
    w.write_all(b"]").unwrap();
    w.flush().unwrap();
    messages
}
