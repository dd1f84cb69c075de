//! Items and profiles as Markdown, for resources and the prompt.

use std::fmt::Write;

use client_view::{ContextItem as Item, Profile};

/// A short name for an item: its title, or the start of its first line.
pub fn item_name(i: &Item) -> String {
    i.label(60)
}

fn tags(i: &Item) -> String {
    i.tags.join(", ")
}

/// One item: a heading, its facts, then the body.
pub fn item(i: &Item) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# {}\n", item_name(i));
    let _ = writeln!(s, "- id: {}", i.id);
    let _ = writeln!(s, "- namespace: {}", i.namespace);
    let _ = writeln!(s, "- kind: {}", i.kind);
    if !i.tags.is_empty() {
        let _ = writeln!(s, "- tags: {}", tags(i));
    }
    let _ = writeln!(s, "- source: {}", i.source);
    if let Some(note) = i.provenance_note() {
        let _ = writeln!(s, "- provenance: {note}");
    }
    let _ = writeln!(s, "- updated: {}", i.updated_at.to_rfc3339());
    let _ = writeln!(s, "\n{}", i.body.trim_end());
    s
}

fn entry(s: &mut String, i: &Item) {
    let note = i
        .provenance_note()
        .map(|n| format!(", {n}"))
        .unwrap_or_default();
    let _ = writeln!(
        s,
        "### {} ({}, {}{note})\n\n{}\n",
        item_name(i),
        i.namespace,
        i.kind,
        i.body.trim_end()
    );
}

/// The profile and preferences, and the topic matches if a topic was given.
pub fn profile(p: &Profile, topic: Option<&str>) -> String {
    let mut s = String::from("# About the user (from their ctxvault)\n\n");
    let (prefs, facts): (Vec<&Item>, Vec<&Item>) =
        p.items.iter().partition(|i| i.kind == "preference");
    s.push_str("## Profile\n\n");
    if facts.is_empty() {
        s.push_str("Nothing shared.\n\n");
    }
    for i in facts {
        entry(&mut s, i);
    }
    s.push_str("## Preferences\n\n");
    if prefs.is_empty() {
        s.push_str("Nothing shared.\n\n");
    }
    for i in prefs {
        entry(&mut s, i);
    }
    if let Some(t) = topic {
        let _ = writeln!(s, "## Related to \"{t}\"\n");
        if p.hits.is_empty() {
            s.push_str("Nothing shared matches.\n\n");
        }
        for h in &p.hits {
            if p.items.iter().any(|i| i.id == h.item.id) {
                let _ = writeln!(s, "- {} (above)\n", item_name(&h.item));
            } else {
                entry(&mut s, &h.item);
            }
        }
    }
    s.push_str("Use this context where it helps; the user shared it with you through ctxvault.\n");
    s
}
