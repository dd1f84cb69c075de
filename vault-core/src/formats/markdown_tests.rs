//! Tests of reading and writing Markdown files.

use super::*;

fn read(text: &str) -> Markdown {
    from_markdown("x.md", text).unwrap()
}

fn err(text: &str) -> String {
    from_markdown("x.md", text).unwrap_err().to_string()
}

#[test]
fn exported_files_read_back() {
    let now = DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap();
    let i = Item {
        id: Uuid::now_v7(),
        namespace: "work/acme".parse().unwrap(),
        kind: "note".parse().unwrap(),
        title: Some("Q3: \"roadmap\" \u{2028} # not a comment".into()),
        body: "---\nbody with --- and\nlines\n".into(),
        tags: vec!["a".parse().unwrap(), "b-c".parse().unwrap()],
        sensitivity: Sensitivity::Private,
        source: Source::user(),
        created_at: now,
        updated_at: now,
        version: 3,
    };
    let (path, text) = to_markdown(&i);
    assert_eq!(path, format!("work/acme/{}.md", i.id));
    let m = read(&text);
    assert_eq!(m.item, i);
    assert!(m.front_matter && m.ignored.is_empty());
    // Without a title, a heading in the body stays in the body.
    let mut untitled = i.clone();
    untitled.title = None;
    untitled.body = "# Heading\ntext".into();
    assert_eq!(read(&to_markdown(&untitled).1).item, untitled);
}

#[test]
fn hand_written_front_matter() {
    let m = read(
        "---\ntitle: My note\ntags:\n  - Food\n  - '#drink'\naliases: [x]\ndate: 2024-05-01\n---\nHello",
    );
    let tags: Vec<&str> = m.item.tags.iter().map(Tag::as_str).collect();
    assert_eq!(tags, ["food", "drink"]);
    assert_eq!(
        (
            m.item.title.as_deref(),
            m.item.body.as_str(),
            m.item.version
        ),
        (Some("My note"), "Hello", 1)
    );
    assert_eq!(ts(&m.item.created_at), "2024-05-01T00:00:00.000000Z");
    assert_eq!(m.item.updated_at, m.item.created_at);
    assert_eq!(m.ignored, ["aliases"]);
    assert_eq!(m.item.source.as_str(), "import:markdown");
    let m = read("---\ntags: [food]\n---\n");
    assert_eq!(m.item.tags[0].as_str(), "food");
    // Obsidian's nested tags fold to one word; a tag that cannot be one is
    // reported, and the note kept.
    let m = read("---\ntags: [project/alpha, \"café\"]\ncreated: 2024-05-01T10:30:00.123\n---\nb");
    assert_eq!(m.item.tags[0].as_str(), "project-alpha");
    assert_eq!(m.bad_tags, ["café"]);
    assert_eq!(ts(&m.item.created_at), "2024-05-01T10:30:00.123000Z");
    let m = read(
        "---\ntags: food, travel\nkind: Preference\nmodified: 2024-05-02 10:30\n---\n# Tea\nGreen",
    );
    assert_eq!(m.item.tags.len(), 2);
    assert_eq!(m.item.kind.as_str(), "preference");
    assert_eq!(m.item.title.as_deref(), Some("Tea"));
    assert_eq!(ts(&m.item.updated_at), "2024-05-02T10:30:00.000000Z");
    // An empty front matter is no fields at all.
    assert_eq!(read("---\n---\nbody").item.body, "body");
}

#[test]
fn no_front_matter_is_a_note_titled_by_its_heading() {
    let m = read("\u{feff}Intro line\n```\n# not this\n```\n## Lisbon trip ##\nWe went.\n");
    assert!(!m.front_matter);
    assert_eq!(m.item.title.as_deref(), Some("Lisbon trip"));
    assert!(m.item.body.starts_with("Intro line"));
    assert_eq!(m.item.namespace.as_str(), "notes");
    assert_eq!(read("#hashtag only\n").item.title, None);
}

#[test]
fn errors_name_the_line_and_the_fix() {
    // A first `---` never closed is a rule, and the file a note.
    let rule = read("---\nid: 1\n");
    assert!(!rule.front_matter && rule.item.body == "---\nid: 1");
    let e = err("---\nnamespace: \"Bad NS\"\n---\nbody");
    assert!(e.starts_with("x.md:2: front matter namespace"), "{e}");
    let e = err("---\ntitle: a\ntags: [a, b\n---\nbody");
    assert!(e.contains("not valid YAML"), "{e}");
    // Words between two rules are text too; a list there is an error.
    let words = read("---\njust words\n---\nbody");
    assert!(!words.front_matter && words.item.body.starts_with("---\njust words"));
    let e = err("---\n- a\n- b\n---\nbody");
    assert!(e.contains("not a set of `key: value` lines"), "{e}");
    let e = err("---\ntitle: t\ncreated: last tuesday\n---\nbody");
    assert!(e.starts_with("x.md:3: front matter created"), "{e}");
    assert!(err("---\nversion: 0\n---\nb").contains("whole number"));
    assert!(err("---\ntitle: [a, b]\n---\nb").contains("not a list"));
    let deep = format!("---\nt: {}\n---\n", "[".repeat(300));
    assert!(from_markdown("x.md", &deep).is_err());
    let deep = format!("---\nt: {}x{}\n---\nb", "[".repeat(20), "]".repeat(20));
    assert!(err(&deep).contains("deeper than 16"));
    // A "billion laughs": refused before anything is expanded.
    let mut laughs = String::from("---\na: &a [x,x,x,x,x,x,x,x,x,x]\n");
    for (k, prev) in ["b", "c", "d", "e", "f", "g", "h", "i"]
        .iter()
        .zip(["a", "b", "c", "d", "e", "f", "g", "h"])
    {
        laughs.push_str(&format!(
            "{k}: &{k} [{}]\n",
            vec![format!("*{prev}"); 10].join(",")
        ));
    }
    laughs.push_str("---\nbody");
    let e = err(&laughs);
    assert!(
        e.starts_with("x.md:2:") && e.contains("anchors or aliases"),
        "{e}"
    );
    let big = format!("---\n{}", "k: v\n".repeat(MAX_FRONT_MATTER / 4));
    assert!(err(&big).contains("over 64 KiB"));
}
