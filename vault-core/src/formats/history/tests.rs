//! The history readers on the fixtures in `tests/fixtures/history`.

use super::*;

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/history");

fn file(name: &str) -> std::fs::File {
    std::fs::File::open(format!("{FIX}/{name}")).expect("fixture")
}

type Reader = fn(
    &str,
    std::fs::File,
    &mut dyn FnMut(Conversation) -> Result<(), String>,
) -> Result<u64, ReadError>;

fn all(origin: Origin, name: &str) -> (Vec<Conversation>, Vec<Item>, Tally) {
    let mut convs = Vec::new();
    let mut items = Vec::new();
    let mut tally = Tally::default();
    let mut take = |c: Conversation| {
        items.extend(chunks(origin, &c, &mut tally));
        convs.push(c);
        Ok(())
    };
    let read: Reader = match origin {
        Origin::ChatGpt => |f, r, t| chatgpt::read(f, r, t),
        Origin::Claude => |f, r, t| claude::read(f, r, t),
        Origin::Transcript => |f, r, t| transcript::read(f, std::io::BufReader::new(r), t),
    };
    read(name, file(name), &mut take).expect("reads");
    (convs, items, tally)
}

fn texts(c: &Conversation) -> Vec<String> {
    c.messages.iter().map(|m| m.text.clone()).collect()
}

#[test]
fn chatgpt_follows_the_current_branch_and_keeps_only_what_was_said() {
    let (convs, items, tally) = all(Origin::ChatGpt, "chatgpt/conversations.json");
    assert_eq!(
        (tally.conversations, tally.messages, tally.chunks),
        (3, 8, 5)
    );
    let lisbon = &convs[0];
    assert_eq!(lisbon.id, "c-lisbon");
    let ids: Vec<&str> = lisbon.messages.iter().map(|m| m.id.as_str()).collect();
    // The abandoned edit (u2-old), the hidden system message, the tool call,
    // its output and the reasoning are not there.
    assert_eq!(ids, ["u1", "a1", "u2", "a2"]);
    assert_eq!(lisbon.messages[2].attachments, ["budget.png"]);
    assert!(texts(lisbon)[0].contains("Olá"));
    // Chunks: a question with its answer; the long answer in two parts.
    assert_eq!(items[0].title.as_deref(), Some("Lisbon trip"));
    assert!(
        items[0]
            .body
            .starts_with("User: I'm planning a trip to Lisbon")
    );
    assert!(items[0].body.contains("\n\nAssistant: Alfama or Baixa"));
    assert!(items[1].body.contains("[attached: budget.png]"));
    assert!(!items[1].body.contains("print(120*7)") && !items[1].body.contains("check eggs"));
    assert_eq!(
        items[0].created_at.to_rfc3339(),
        "2024-05-01T10:00:00+00:00"
    );
    assert_eq!(
        items[0].updated_at.to_rfc3339(),
        "2024-05-01T10:00:20+00:00"
    );
    assert_eq!(items[0].namespace.as_str(), "history/chatgpt/2024");
    assert_eq!(items[0].source.as_str(), "import:chatgpt");
    assert_eq!(items[0].sensitivity, Sensitivity::Private);
    assert_eq!(items[0].kind.as_str(), "conversation");
    // Neighbours by id.
    assert!(items[0].body.ends_with(&format!(
        "(ChatGPT conversation c-lisbon; next: {})",
        items[1].id.simple()
    )));
    assert!(items[1].body.ends_with(&format!(
        "(ChatGPT conversation c-lisbon; previous: {})",
        items[0].id.simple()
    )));
    assert_eq!(items[2].title.as_deref(), Some("Untitled conversation"));
    assert!(items[2].body.chars().count() <= WINDOW + 200);
    assert!(
        items[3]
            .body
            .contains(&format!("previous: {}", items[2].id.simple()))
    );
    assert_eq!(items[4].title.as_deref(), Some("ラーメン"));
    assert_eq!(items[4].namespace.as_str(), "history/chatgpt/2025");
    for i in &items {
        let mut i = i.clone();
        i.validate().expect("a valid item");
        assert_eq!(i.id.get_version_num(), 7);
    }
    assert_eq!(
        tally.first.map(|t| t.to_rfc3339()).as_deref(),
        Some("2024-05-01T10:00:00+00:00")
    );
}

#[test]
fn a_later_chatgpt_export_gives_the_same_ids_for_the_same_turns() {
    let (_, old, _) = all(Origin::ChatGpt, "chatgpt/conversations.json");
    let (_, new, tally) = all(Origin::ChatGpt, "chatgpt-v2/conversations.json");
    assert_eq!((tally.conversations, tally.chunks), (4, 7));
    let old_ids: Vec<_> = old.iter().map(|i| i.id).collect();
    let fresh: Vec<_> = new.iter().filter(|i| !old_ids.contains(&i.id)).collect();
    assert_eq!(fresh.len(), 2);
    assert!(fresh.iter().any(|i| i.body.contains("tomatoes")));
    assert!(fresh.iter().any(|i| i.body.contains("which neighbourhood")));
    // The chunk that was last now links to the new one, and nothing else
    // changed.
    let extended: Vec<_> = old
        .iter()
        .filter(|o| new.iter().any(|n| n.id == o.id && extends(o, n)))
        .collect();
    assert_eq!(extended.len(), 1);
    assert!(extended[0].body.contains("pastries"));
    assert!(new.iter().all(|n| !extends(n, n)));
    assert!(
        old.iter().all(|o| new.iter().all(|n| !extends(n, o))),
        "never back"
    );
}

#[test]
fn claude_keeps_text_blocks_attachments_and_the_newest_branch() {
    let (convs, items, tally) = all(Origin::Claude, "claude/conversations.json");
    assert_eq!(
        (tally.conversations, tally.messages, tally.chunks),
        (3, 6, 3)
    );
    let ids: Vec<&str> = convs[0].messages.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["m1", "m2", "m3", "m4"]);
    assert_eq!(texts(&convs[0])[1], "Green tea it is. Sencha or genmaicha?");
    assert_eq!(texts(&convs[0])[2], "Which is better, sencha or genmaicha?");
    assert!(!items[1].body.contains("search results") && !items[1].body.contains("Sencha, mostly"));
    assert!(items[0].body.contains("[attached: routine.txt]"));
    assert_eq!(
        items[0].created_at.to_rfc3339(),
        "2024-09-02T07:00:00+00:00"
    );
    assert_eq!(items[2].title.as_deref(), Some("Zürich job application"));
    assert!(items[2].body.contains("[attached: cv.pdf]"));
    assert_eq!(items[0].source.as_str(), "import:claude");
}

#[test]
fn claude_projects_and_memories_become_notes() {
    let mut tally = Tally::default();
    let mut items = Vec::new();
    claude::read_projects("projects.json", file("claude/projects.json"), |notes| {
        for n in notes {
            items.extend(note(Origin::Claude, n, &mut tally));
        }
        Ok(())
    })
    .expect("projects");
    claude::read_memories("memories.json", file("claude/memories.json"), |notes| {
        for n in notes {
            items.extend(note(Origin::Claude, n, &mut tally));
        }
        Ok(())
    })
    .expect("memories");
    assert_eq!(items.len(), 4);
    assert_eq!((tally.chunks, tally.notes), (0, 4));
    assert_eq!(items[0].namespace.as_str(), "history/claude/projects");
    assert!(items[0].body.contains("Answer briefly"));
    assert_eq!(items[1].title.as_deref(), Some("House move: checklist.md"));
    assert_eq!(items[2].namespace.as_str(), "history/claude/memory");
    assert!(items[3].body.contains("March"));
}

#[test]
fn transcripts_group_by_conversation_and_skip_system_and_tools() {
    let (convs, items, tally) = all(Origin::Transcript, "transcript.jsonl");
    assert_eq!(
        (tally.conversations, tally.messages, tally.chunks),
        (2, 4, 2)
    );
    assert_eq!(convs[0].title.as_deref(), Some("Birthdays"));
    assert_eq!(convs[1].messages[0].attachments, ["an image"]);
    assert_eq!(items[1].created_at.timestamp(), 1738500000);
}

#[test]
fn bad_input_names_the_file_and_position() {
    let bad = |text: &str| {
        chatgpt::read("c.json", text.as_bytes(), |_| Ok(()))
            .expect_err("refused")
            .to_string()
    };
    let e = bad(r#"[{"title": "x", "mapping": {}}, {"title": "y""#);
    assert!(e.starts_with("c.json: line 1 column"), "{e}");
    assert!(e.contains("truncated"), "{e}");
    let e = bad(r#"[{"title": "x", "chat_messages": []}]"#);
    assert!(
        e.contains("not ChatGPT conversations of a version ctxvault knows"),
        "{e}"
    );
    assert!(e.contains("mapping"), "{e}");
    let e = bad("{\"not\": \"an array\"}");
    assert!(
        e.contains("line 1 column 1") || e.contains("line 1 column"),
        "{e}"
    );
    let e = transcript::read(
        "t.jsonl",
        "{\"role\":\"user\",\"content\":\"hi\"}\n{\"role\":\"wizard\",\"content\":\"x\"}\n"
            .as_bytes(),
        |_| Ok(()),
    )
    .expect_err("refused")
    .to_string();
    assert!(e.starts_with("t.jsonl:2: "), "{e}");
}

#[test]
fn cut_keeps_every_character_and_breaks_at_paragraphs() {
    let text = format!("{}\n\n{}", "a ".repeat(1500), "b ".repeat(1500));
    let parts = cut(&text, 4000);
    assert_eq!(parts.len(), 2);
    assert!(parts[1].starts_with('b'));
    assert_eq!(
        parts.concat().replace(['\n', ' '], ""),
        text.replace(['\n', ' '], "")
    );
    let cjk = "語".repeat(9000);
    let parts = cut(&cjk, 4000);
    assert_eq!(parts.len(), 3);
    assert!(parts.iter().all(|p| p.chars().count() <= 4000));
}

#[test]
fn titles_become_one_line_and_errors_do_not_quote_the_text() {
    let c = Conversation {
        id: "c".into(),
        title: Some("Line one\nline\ttwo".into()),
        created: None,
        messages: vec![Message {
            id: "m".into(),
            role: Role::User,
            time: None,
            text: "hi".into(),
            attachments: vec![],
        }],
    };
    let items = chunks(Origin::Transcript, &c, &mut Tally::default());
    assert_eq!(items[0].title.as_deref(), Some("Line one line two"));
    let mut i = items[0].clone();
    i.validate().expect("valid");
    let e = chatgpt::read(
        "c.json",
        r#"[{"mapping": "my secret diary"}]"#.as_bytes(),
        |_| Ok(()),
    )
    .expect_err("refused")
    .to_string();
    assert!(!e.contains("secret diary"), "{e}");
    assert!(e.contains("invalid type: string, expected"), "{e}");
}

#[test]
fn transcripts_that_open_alike_in_two_files_keep_apart() {
    let text =
        "{\"role\":\"user\",\"content\":\"hi\"}\n{\"role\":\"assistant\",\"content\":\"hello\"}\n";
    let id = |file: &str| {
        let mut got = Vec::new();
        transcript::read(file, text.as_bytes(), |c| {
            got.push(chunks(Origin::Transcript, &c, &mut Tally::default())[0].id);
            Ok(())
        })
        .expect("reads");
        got[0]
    };
    assert_ne!(id("a/monday.jsonl"), id("b/tuesday.jsonl"));
    assert_eq!(id("a/monday.jsonl"), id("c/monday.jsonl"));
}
