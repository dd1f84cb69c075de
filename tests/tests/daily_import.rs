//! Daily use, continued: hand-written Markdown folders import.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ctxvault_tests::{Env, assert_one_line_error};

/// A folder as people keep one: ordinary YAML front matter (flow and block
/// lists, `#tags`, bare dates, keys ctxvault has no field for), a file with
/// no front matter at all, and two files that cannot be items. By default
/// the good files import and the others are named with their reasons;
/// `--strict` imports nothing.
#[test]
fn hand_written_markdown_imports_and_bad_files_are_named() {
    let env = Env::new();
    env.init();
    let dir = env.tmp.path().join("notes");
    std::fs::create_dir_all(dir.join("kitchen")).unwrap();
    let w = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    w(
        "tea.md",
        "---\ntags: [food]\n---\nI prefer green tea over coffee.\n",
    );
    w(
        "kitchen/bread.md",
        "---\ntitle: Sourdough\ntags:\n  - Food\n  - '#baking'\naliases: [bread]\ndate: 2024-05-01\n---\nFeed the starter at night.\n",
    );
    w("lisbon.md", "# Lisbon trip\n\nWe stayed in Alfama.\n");
    w("broken.md", "---\ntitle: a\ntags: [a, b\n---\nbody\n");
    w("empty.md", "---\ntitle: nothing here\n---\n");

    let before = env.json(&["ls", "--json"]);
    let e = env.fails(&["import", dir.to_str().unwrap(), "--strict"]);
    assert_one_line_error(&e, "nothing was imported (--strict)");
    assert!(e.contains("broken.md"), "{e}");
    assert_eq!(
        env.json(&["ls", "--json"]),
        before,
        "--strict wrote something"
    );

    let o = env.run(&["import", dir.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains(&format!(
            "imported 3 of 3 items from {} (a folder of Markdown files); 0 duplicates skipped; 2 files left out (named above)",
            dir.display()
        )),
        "{}",
        o.stdout
    );
    let skipped: Vec<&str> = o
        .stderr
        .lines()
        .filter(|l| l.starts_with("skipped "))
        .collect();
    assert_eq!(skipped.len(), 2, "{}", o.stderr);
    assert!(
        skipped[0].contains("broken.md:4: the front matter is not valid YAML"),
        "{}",
        o.stderr
    );
    assert!(
        skipped[1].contains("empty.md: no text after the front matter"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains(
            "front matter keys ctxvault has no field for were left out: aliases (1 file)"
        ),
        "{}",
        o.stderr
    );

    let items = env.json(&["ls", "--json"]);
    let by_title = |t: &str| {
        items
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["title"] == t)
            .unwrap_or_else(|| panic!("no item titled {t}: {items}"))
            .clone()
    };
    let bread = by_title("Sourdough");
    assert_eq!(bread["tags"], serde_json::json!(["baking", "food"]));
    assert!(
        bread["created_at"]
            .as_str()
            .unwrap()
            .starts_with("2024-05-01T00:00:00")
    );
    let lisbon = by_title("Lisbon trip");
    assert_eq!(
        (lisbon["namespace"].as_str(), lisbon["kind"].as_str()),
        (Some("notes"), Some("note"))
    );
    let tea = items
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["tags"] == serde_json::json!(["food"]))
        .unwrap();
    assert_eq!(tea["source"], "import:markdown");
    // Found by search, body intact.
    let hits = env.json(&["search", "alfama", "--json"]);
    assert_eq!(hits[0]["title"], "Lisbon trip", "{hits}");

    // Again: all duplicates, reported as JSON.
    let again = env.json(&["import", dir.to_str().unwrap(), "--json"]);
    assert_eq!(
        (
            &again["added"],
            &again["duplicates"],
            &again["files_left_out"],
            &again["format"]
        ),
        (
            &serde_json::json!(0),
            &serde_json::json!(3),
            &serde_json::json!(2),
            &serde_json::json!("markdown")
        )
    );
}

/// One Markdown file imports as one item (not one per line); Obsidian's
/// nested tags fold into one word, and a tag that cannot be one is named
/// and left out while the note comes in.
#[test]
fn a_single_markdown_file_and_obsidian_tags() {
    let env = Env::new();
    env.init();
    let file = env.tmp.path().join("trip.md");
    std::fs::write(
        &file,
        "---\ntags: [travel/lisbon, \"café\"]\ncreated: 2024-05-01T10:30:00.250\n---\n# Lisbon\nTrams and tiles.\n",
    )
    .unwrap();
    let o = env.run(&["import", file.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("imported 1 of 1 items"), "{}", o.stdout);
    assert!(
        o.stderr.contains("\"café\"") || o.stderr.contains("café (1 file)"),
        "{}",
        o.stderr
    );
    let items = env.json(&["ls", "--json"]);
    assert_eq!(items.as_array().unwrap().len(), 1);
    assert_eq!(items[0]["title"], "Lisbon");
    assert_eq!(items[0]["tags"], serde_json::json!(["travel-lisbon"]));
    assert_eq!(items[0]["body"], "# Lisbon\nTrams and tiles.");
}
