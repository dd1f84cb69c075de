//! Daily use, continued: help, output and the small things people expect
//! of a command line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ctxvault_tests::{Env, PASS, assert_one_line_error};

/// The subcommands `--help` lists (`help` aside), with their own ones.
fn subcommands(env: &Env, path: &[&str]) -> Vec<Vec<String>> {
    let mut args: Vec<&str> = path.to_vec();
    args.push("--help");
    let help = env.ok(&args);
    let mut out = Vec::new();
    let mut listing = false;
    for line in help.lines() {
        if line == "Commands:" {
            listing = true;
            continue;
        }
        if listing && line.is_empty() {
            break;
        }
        // Names start two columns in; wrapped descriptions further.
        if listing && line.starts_with("  ") && !line.starts_with("   ") {
            let name = line.split_whitespace().next().unwrap().to_owned();
            if name != "help" {
                let mut p: Vec<String> = path.iter().map(|s| s.to_string()).collect();
                p.push(name);
                out.push(p);
            }
        }
    }
    out
}

/// Every subcommand's help, nested ones too, ends with examples of it; the
/// defaults of `add` are stated.
#[test]
fn every_help_has_examples_and_defaults_are_stated() {
    let env = Env::new();
    let mut todo = subcommands(&env, &[]);
    let mut seen = 0;
    while let Some(path) = todo.pop() {
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        let mut args = p.clone();
        args.push("--help");
        let help = env.ok(&args);
        let want = format!("Examples:\n  ctxvault {}", p[0]);
        assert!(
            help.contains(&want) || help.contains("Examples:\n  "),
            "no examples in `ctxvault {}` --help:\n{help}",
            p.join(" ")
        );
        todo.extend(subcommands(&env, &p));
        seen += 1;
    }
    assert!(seen > 35, "only {seen} subcommands found");
    let add = env
        .ok(&["add", "--help"])
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for d in ["default `notes`", "default `note`", "default `normal`"] {
        assert!(add.contains(d), "{d} not stated in add --help:\n{add}");
    }
}

/// Searches and lists that find nothing say so on stderr (stdout stays
/// empty for pipes); `ls --limit` cuts the list; stdin text loses the
/// newline that ends it.
#[test]
fn empty_results_say_so_and_ls_takes_a_limit() {
    let env = Env::new();
    env.init();
    let o = env.run(&["ls"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, ""));
    assert!(o.stderr.contains("no items yet"), "{}", o.stderr);
    let o = env.run_with(
        &["add", "-", "--ns", "work"],
        Some(b"piped text\n"),
        Some(PASS),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let id = o.stdout.trim().to_owned();
    assert_eq!(env.json(&["get", &id, "--json"])["body"], "piped text");
    for k in 0..4 {
        env.add(&["--ns", "work", &format!("note number {k}")]);
    }
    let o = env.run(&["search", "zebra"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, ""));
    assert!(
        o.stderr.contains("no item matches \"zebra\""),
        "{}",
        o.stderr
    );
    env.ok(&["client", "add", "bot"]);
    let o = env.run(&["search", "note", "--as", "bot"]);
    assert!(
        o.stderr.contains("nothing that bot may read matches"),
        "{}",
        o.stderr
    );
    let o = env.run(&["ls", "--as", "bot"]);
    assert!(o.stderr.contains("bot may read no items"), "{}", o.stderr);

    assert_eq!(env.ok(&["ls", "--limit", "2"]).lines().count(), 2);
    let two = env.json(&["ls", "--limit", "2", "--json"]);
    assert_eq!(two.as_array().unwrap().len(), 2);
    assert_eq!(two[0]["body"], "piped text");
    assert_one_line_error(&env.fails(&["ls", "--limit", "0"]), "--limit");
}

/// `--json` is accepted by every command that prints a result, and what it
/// prints parses; on the commands that print none it is refused.
#[test]
fn json_everywhere() {
    let env = Env::new();
    let init = env.json(&["init", "--json"]);
    assert_eq!(init["locked"], false);
    env.ok(&["client", "add", "bot"]);
    let id = env.add(&["--ns", "work", "one"]);
    let grant = env.json(&["grant", "bot", "work/**", "--json"]);
    assert!(grant["id"].as_str().unwrap().len() == 36, "{grant}");
    let deny = env.json(&["deny", "bot", "work/secret", "--json"]);
    assert!(deny["id"].is_string());
    assert_eq!(
        env.json(&["identity", "ls", "--json"]),
        serde_json::json!([])
    );
    let dir = env.tmp.path().join("in");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.md"), "# A\ntext\n").unwrap();
    let dry = env.json(&["import", dir.to_str().unwrap(), "--dry-run", "--json"]);
    assert_eq!(
        (&dry["dry_run"], &dry["added"]),
        (&serde_json::json!(true), &serde_json::json!(1))
    );
    let rm = env.json(&["rm", &id, "--json"]);
    assert_eq!(rm, serde_json::json!([id]));
    let revoked = env.json(&["revoke", "bot", "--all", "--json"]);
    assert_eq!(revoked["revoked"], 2);
    assert_eq!(env.json(&["lock", "--json"])["locked"], true);
    assert_eq!(env.json(&["unlock", "--json"])["locked"], false);
    assert_eq!(
        env.json(&["client", "rm", "bot", "--json"])["removed"],
        "bot"
    );
    assert_eq!(env.json(&["stop", "--json"])["stopped"], true);
    // Before and after the command's name alike.
    assert_eq!(env.json(&["--json", "stop"])["stopped"], false);
    assert_one_line_error(&env.fails(&["demo", "--json"]), "--json");
}

/// `--expires` and `--since` take dates and words; a bad one is named.
#[test]
fn dates_and_words_for_times() {
    let env = Env::new();
    env.init();
    env.ok(&["client", "add", "bot"]);
    env.ok(&["grant", "bot", "work/**", "--expires", "2027-01-01"]);
    let g = env.json(&["grants", "--json"]);
    let expires = g.to_string();
    assert!(
        expires.contains("\"expires\":\"2026-12-31T")
            || expires.contains("\"expires\":\"2027-01-01T"),
        "{g}"
    );
    let since = |w: &str| {
        env.json(&["audit", "--since", w, "--json"])
            .as_array()
            .unwrap()
            .len()
    };
    assert!(since("yesterday") > 0);
    assert!(since("today") > 0);
    assert_eq!(since("tomorrow"), 0);
    assert_eq!(since("2020-01-01"), since("yesterday"));
    let e = env.fails(&["audit", "--since", "last tuesday"]);
    assert_one_line_error(&e, "\"last tuesday\" is not a time");
    assert!(e.contains("yesterday"), "{e}");
}

/// Markdown exports end in a newline and read back the same; `export
/// --plain` leaves secret items out unless --include-secret.
#[test]
fn plain_exports_leave_secrets_out_and_markdown_ends_in_a_newline() {
    let env = Env::new();
    env.init();
    env.add(&[
        "--ns",
        "health",
        "--sensitivity",
        "secret",
        "Allergic to penicillin",
    ]);
    env.add(&["--ns", "work", "Ship the beta"]);
    let md = env.tmp.path().join("md");
    let o = env.run(&[
        "export",
        "--plain",
        "--format",
        "markdown",
        "--out",
        md.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("exported 1 item to"), "{}", o.stdout);
    assert!(o.stdout.contains("1 secret item left out"), "{}", o.stdout);
    assert!(!md.join("health").exists());
    let file = std::fs::read_dir(md.join("work"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.ends_with("Ship the beta\n"), "{text:?}");

    let all = env.tmp.path().join("all.jsonl");
    let o = env.run(&[
        "export",
        "--plain",
        "--include-secret",
        "--out",
        all.to_str().unwrap(),
    ]);
    assert!(o.stdout.contains("exported 2 items"), "{}", o.stdout);
    assert!(
        std::fs::read_to_string(&all)
            .unwrap()
            .contains("penicillin")
    );
    let j = env.json(&[
        "export",
        "--plain",
        "--out",
        env.tmp.path().join("j.jsonl").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(
        (&j["items"], &j["secret_left_out"]),
        (&serde_json::json!(1), &serde_json::json!(1))
    );

    // The Markdown export reads back as the same items.
    let other = Env::new();
    other.init();
    other.ok(&["import", md.to_str().unwrap()]);
    let a = env.json(&["ls", "--ns", "work", "--json"]);
    let b = other.json(&["ls", "--json"]);
    assert_eq!(a[0]["body"], b[0]["body"]);
    assert_eq!(a[0]["id"], b[0]["id"]);
}

/// A guessable new passphrase is warned about; a strong one is not.
#[test]
fn weak_passphrases_are_warned_about() {
    let weak = Env::new();
    let o = weak.run_with(&["init"], None, Some("password1"));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("warning: this passphrase is weak"),
        "{}",
        o.stderr
    );
    assert!(
        !o.stderr.contains("password1"),
        "the passphrase was printed"
    );
    let strong = Env::new();
    let o = strong.run_with(&["init"], None, Some("plum orbit cactus lantern 97 quill"));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!o.stderr.contains("passphrase is weak"), "{}", o.stderr);
}
