//! Daily use through the real binary: what a new user tripped over.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;

use ctxvault_tests::{Env, PASS};

/// Output piped into a reader that stopped reading (`| head -1`) ends the
/// command quietly and successfully: no panic, nothing on stderr. The read
/// end is closed before the command writes anything, so every write fails.
#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    let env = Env::new();
    env.init();
    let id = env.add(&["--ns", "work", "--tag", "t", "the first item"]);
    for k in 0..20 {
        env.add(&["--ns", "work", &format!("item {k}")]);
    }
    let commands: Vec<Vec<&str>> = vec![
        vec!["ls"],
        vec!["ls", "--json"],
        vec!["get", &id],
        vec!["search", "item"],
        vec!["audit"],
        vec!["status"],
        vec!["--help"],
    ];
    for args in commands {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut c = env.cmd(&args);
        c.env("CTXVAULT_PASSPHRASE", PASS)
            .stdout(writer)
            .stderr(Stdio::piped());
        let out = c.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "ctxvault {args:?} into a closed pipe: {stderr}"
        );
        assert_eq!(stderr, "", "ctxvault {args:?} into a closed pipe");
    }
}

/// `ctxvault mcp` with a wrong token stops at once with one clear line
/// (as HTTP answers 401), before the MCP client's first call; a token of
/// another client than `--client` names is warned about.
#[test]
fn the_stdio_bridge_checks_its_token_at_start() {
    let env = Env::new();
    env.init();
    let token = env.json(&["client", "add", "claude", "--json"])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    env.ok(&["client", "add", "cursor"]);
    let bridge = |client: &str, token: &str| {
        let mut c = env.cmd(&["mcp", "--client", client]);
        // stdin stays open and silent: only the token check can end it.
        c.env("CTXVAULT_TOKEN", token)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c.spawn().unwrap()
    };
    let out = bridge("claude", "cv_not_a_token")
        .wait_with_output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    ctxvault_tests::assert_one_line_error(
        &stderr,
        "token given for client claude is unknown or revoked",
    );
    assert!(out.stdout.is_empty());

    // The right token of another client: served, with a warning.
    let mut child = bridge("cursor", &token);
    let mut err = child.stderr.take().unwrap();
    drop(child.stdin.take());
    child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut err, &mut stderr).unwrap();
    assert!(!stderr.contains("unknown or revoked"), "{stderr}");
    assert!(
        stderr.contains("this token belongs to client claude, not cursor"),
        "{stderr}"
    );
}

/// A kind no item has and that is not common is refused as a likely typo,
/// with the nearest kind; `--new-kind` makes it, and then it is known.
/// Unknown subcommands get clap's suggestion, and errors name the
/// subcommand's own help.
#[test]
fn typos_are_caught_and_named() {
    let env = Env::new();
    env.init();
    let o = env.run(&["add", "--kind", "preferance", "tea over coffee"]);
    assert_ne!(o.code, 0);
    ctxvault_tests::assert_one_line_error(&o.stderr, "did you mean \"preference\"?");
    assert!(o.stderr.contains("--new-kind"), "{}", o.stderr);
    assert_eq!(env.json(&["ls", "--json"]).as_array().unwrap().len(), 0);
    let id = env.add(&["--kind", "preference", "tea over coffee"]);
    let o = env.run(&["edit", &id, "--kind", "prefrence"]);
    assert_ne!(o.code, 0);
    ctxvault_tests::assert_one_line_error(&o.stderr, "did you mean \"preference\"?");
    env.add(&["--kind", "recipe", "--new-kind", "miso soup"]);
    env.add(&["--kind", "recipe", "dal"]);
    let kinds: Vec<String> = env
        .json(&["ls", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["preference", "recipe", "recipe"]);

    let o = env.run(&["serch", "tea"]);
    assert_eq!(o.code, 2);
    ctxvault_tests::assert_one_line_error(&o.stderr, "unrecognized subcommand 'serch'");
    assert!(
        o.stderr.contains("similar subcommand") && o.stderr.contains("'search'"),
        "{}",
        o.stderr
    );
    let o = env.run(&["grant", "claude"]);
    ctxvault_tests::assert_one_line_error(&o.stderr, "see `ctxvault grant --help`");
}

/// Ids: lists show each id's shortest unique start, any unique start names
/// the item, an ambiguous or unknown one is refused in one line; `rm`
/// takes several ids or a namespace (with --yes off a terminal), all or
/// nothing.
#[test]
fn ids_by_their_start_and_removing_many() {
    let env = Env::new();
    env.init();
    let a = env.add(&["--ns", "work/old", "old one"]);
    let b = env.add(&["--ns", "work/old", "old two"]);
    let c = env.add(&["--ns", "work/old/deep", "old three"]);
    let keep = env.add(&["--ns", "work", "keep me"]);
    let listed = env.ok(&["ls"]);
    for id in [&a, &b, &c, &keep] {
        let line = listed
            .lines()
            .find(|l| id.starts_with(l.split_whitespace().next().unwrap()))
            .unwrap_or_else(|| panic!("{id} not listed by its start: {listed}"));
        let short = line.split_whitespace().next().unwrap();
        assert!(short.len() < id.len(), "{short} is not shorter than {id}");
        let got = env.json(&["get", short, "--json"]);
        assert_eq!(got["id"].as_str().unwrap(), id.as_str());
    }
    // Items made together share their first characters.
    let shared = &a[..4];
    let o = env.run(&["get", shared]);
    assert_ne!(o.code, 0);
    ctxvault_tests::assert_one_line_error(&o.stderr, &format!("{shared} starts 4 item ids"));
    let o = env.run(&["get", "ffffffff"]);
    ctxvault_tests::assert_one_line_error(&o.stderr, "no item id starts with ffffffff");
    let o = env.run(&["get", "xyz"]);
    ctxvault_tests::assert_one_line_error(&o.stderr, "malformed id \"xyz\"");

    // All or nothing: one missing id removes none.
    let o = env.run(&["rm", &a, "0190ffff-0000-7000-8000-000000000000"]);
    assert_ne!(o.code, 0, "{}", o.stdout);
    assert_eq!(env.json(&["ls", "--json"]).as_array().unwrap().len(), 4);
    let out = env.ok(&["rm", &a, &b]);
    assert!(
        out.contains(&format!("removed {a}")) && out.contains(&format!("removed {b}")),
        "{out}"
    );
    // A namespace: refused off a terminal without --yes.
    let o = env.run(&["rm", "--ns", "work/old"]);
    ctxvault_tests::assert_one_line_error(&o.stderr, "needs --yes");
    assert_eq!(env.json(&["ls", "--json"]).as_array().unwrap().len(), 2);
    let out = env.ok(&["rm", "--ns", "work/old", "--yes"]);
    assert!(out.contains(&format!("removed {c}")), "{out}");
    let left = env.json(&["ls", "--json"]);
    assert_eq!(left.as_array().unwrap().len(), 1);
    assert_eq!(left[0]["id"].as_str().unwrap(), keep.as_str());
}

/// The demo reads cleanly: snippets start and end on whole words, the
/// audit trail counts items only for reads and names each rule in the
/// words it was made with (no rule the reader never saw, no bare id), and
/// its help does not promise two minutes.
#[test]
fn the_demo_reads_cleanly() {
    let env = Env::new();
    let tmp = env.tmp.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = env.cmd(&["demo"]).env("TMPDIR", &tmp).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    // The demo's own work items, whose snippets the search section shows.
    let words: Vec<&str> = "Atlas launch planned for March; beta with 3 customers; ask [email] before changing the date Decided to drop the legacy importer from the launch scope Priya Nair, engineering manager on Atlas; prefers written updates"
        .split(' ')
        .collect();
    for line in stdout.lines() {
        for cell in line.split(" | ") {
            let Some(text) = cell
                .trim()
                .strip_prefix("work/atlas: ")
                .or_else(|| cell.trim().strip_prefix("work/people: "))
            else {
                continue;
            };
            for w in text.trim_matches('…').split(' ') {
                let w = w.trim_end_matches('…');
                assert!(
                    words
                        .iter()
                        .any(|x| x.trim_end_matches([';', ',']) == w.trim_end_matches([';', ','])),
                    "{w:?} is cut in {cell:?}:\n{stdout}"
                );
            }
        }
    }
    let trail = stdout.split("The audit trail").nth(1).expect("a trail");
    assert!(!trail.contains("item(s)"), "{trail}");
    assert!(!trail.contains("rule 0"), "{trail}");
    for rule in [
        "grant claude read on work/**",
        "grant claude read,propose on profile/**",
        "grant local-llm read on **",
    ] {
        assert!(trail.contains(rule), "{rule} not in {trail}");
    }
    let revoke = trail
        .lines()
        .find(|l| l.contains(" revoke "))
        .expect("the revoke");
    assert!(revoke.ends_with("grant claude read on work/**"), "{revoke}");
    let help = env.ok(&["demo", "--help"]);
    assert!(!help.contains("two-minute"), "{help}");
}

/// `edit ID` alone opens the item in $EDITOR as front matter and text, in a
/// private draft on the runtime directory that is gone when the editor
/// closes; a failing editor changes nothing. --add-tag and --rm-tag keep
/// the other tags.
#[test]
fn editing_in_the_editor_and_tags_one_by_one() {
    let env = Env::new();
    env.init();
    let id = env.add(&[
        "--ns",
        "work",
        "--tag",
        "a",
        "--tag",
        "b",
        "the first draft",
    ]);
    let run = env.tmp.path().join("run");
    std::fs::create_dir(&run).unwrap();
    let log = env.tmp.path().join("editor.log");
    let script = env.tmp.path().join("editor.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1\" > {log}\nsed -i -e 's/first draft/second draft/' -e 's/^kind: \"note\"/kind: \"fact\"/' \"$1\"\n",
            log = log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let edit = |editor: &str| {
        let mut c = env.cmd(&["edit", &id[..13]]);
        c.env("CTXVAULT_PASSPHRASE", PASS)
            .env("EDITOR", editor)
            .env("XDG_RUNTIME_DIR", &run)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let o = c.output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, out, err) = edit(script.to_str().unwrap());
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("(version 2)"), "{out}");
    let item = env.json(&["get", &id, "--json"]);
    assert_eq!(item["body"], "the second draft");
    assert_eq!(item["kind"], "fact");
    let draft = std::fs::read_to_string(&log).unwrap();
    assert!(
        draft.trim().starts_with(run.to_str().unwrap()),
        "the draft was at {draft}"
    );
    assert_eq!(
        std::fs::read_dir(&run).unwrap().count(),
        0,
        "the draft is gone"
    );

    // An editor that fails: nothing changes.
    let (code, _, err) = edit("false");
    assert_ne!(code, Some(0));
    ctxvault_tests::assert_one_line_error(&err, "nothing was changed");
    // One that changes nothing: no new version.
    let (code, out, _) = edit("true");
    assert_eq!(code, Some(0));
    assert!(out.contains("no change"), "{out}");
    assert_eq!(env.json(&["get", &id, "--json"])["version"], 2);

    env.ok(&["edit", &id, "--add-tag", "c", "--rm-tag", "a"]);
    assert_eq!(
        env.json(&["get", &id, "--json"])["tags"],
        serde_json::json!(["b", "c"])
    );
}
