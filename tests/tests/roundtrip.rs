//! Round trip through the real binary: init, add, search, get, edit, rm,
//! lock and unlock.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ctxvault_tests::{Env, PASS, assert_one_line_error};

#[test]
fn init_add_search_get_edit_rm_lock_unlock() {
    let env = Env::new();
    env.init();
    let acme = env.add(&[
        "--ns",
        "work/acme",
        "--tag",
        "planning",
        "--tag",
        "q3",
        "--title",
        "Roadmap",
        "--kind",
        "project",
        "--sensitivity",
        "private",
        "Acme roadmap: ship the sync engine before the October launch",
    ]);
    let coffee = env.add(&[
        "--ns",
        "profile",
        "--tag",
        "food",
        "I drink oat milk flat whites, no sugar",
    ]);
    let run = env.add(&[
        "--ns",
        "health/fitness",
        "--tag",
        "sport",
        "Running three times a week, mostly trails",
    ]);

    // Ranking: the item about the roadmap comes first for "roadmap launch".
    let hits = env.json(&["search", "roadmap launch", "--json"]);
    assert_eq!(hits[0]["id"], acme.as_str(), "{hits}");
    let hits = env.json(&["search", "runs", "--json"]);
    assert_eq!(hits[0]["id"], run.as_str(), "stemming: runs finds Running");
    assert!(hits[0]["snippet"].as_str().unwrap().contains("Running"));
    assert!(hits[0]["score"].as_f64().unwrap() > 0.0);
    let hits = env.json(&["search", "oat", "--ns", "work", "--json"]);
    assert_eq!(hits.as_array().unwrap().len(), 0, "namespace filter");
    let hits = env.json(&["search", "oat", "--tag", "food", "--json"]);
    assert_eq!(hits[0]["id"], coffee.as_str());

    // get --json returns every field.
    let item = env.json(&["get", &acme, "--json"]);
    for field in [
        "id",
        "namespace",
        "kind",
        "title",
        "body",
        "tags",
        "sensitivity",
        "source",
        "created_at",
        "updated_at",
        "version",
    ] {
        assert!(item.get(field).is_some(), "missing {field} in {item}");
    }
    assert_eq!(item["namespace"], "work/acme");
    assert_eq!(item["kind"], "project");
    assert_eq!(item["title"], "Roadmap");
    assert_eq!(item["tags"], serde_json::json!(["planning", "q3"]));
    assert_eq!(item["sensitivity"], "private");
    assert_eq!(item["source"], "user");
    assert_eq!(item["version"], 1);

    // ls with filters.
    let all = env.json(&["ls", "--json"]);
    assert_eq!(all.as_array().unwrap().len(), 3);
    let health = env.json(&["ls", "--ns", "health", "--json"]);
    assert_eq!(health.as_array().unwrap().len(), 1);
    assert_eq!(health[0]["id"], run.as_str());

    // edit bumps version and updated_at; untouched fields stay.
    let edited = env.json(&[
        "edit",
        &acme,
        "--tag",
        "launch",
        "--json",
        "Acme roadmap v2: launch moved to November",
    ]);
    assert_eq!(edited["version"], 2);
    assert!(edited["updated_at"].as_str().unwrap() > item["updated_at"].as_str().unwrap());
    assert_eq!(edited["created_at"], item["created_at"]);
    assert_eq!(edited["tags"], serde_json::json!(["launch"]));
    assert_eq!(edited["title"], "Roadmap");
    let hits = env.json(&["search", "november", "--json"]);
    assert_eq!(hits[0]["id"], acme.as_str(), "the index follows edits");
    assert_eq!(
        env.json(&["search", "october", "--json"])
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // rm removes; a later get names the id.
    env.ok(&["rm", &coffee]);
    let err = env.fails(&["get", &coffee]);
    assert_one_line_error(&err, &format!("no item {coffee}"));
    assert_eq!(
        env.json(&["search", "oat", "--json"])
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // lock, then unlock: everything kept.
    env.ok(&["lock"]);
    assert_eq!(env.status()["locked"], true);
    let o = env.run_with(
        &["unlock", "--passphrase-stdin"],
        Some(format!("{PASS}\n").as_bytes()),
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let s = env.status();
    assert_eq!(s["locked"], false);
    assert_eq!(s["items"], 2);
    let again = env.json(&["get", &acme, "--json"]);
    assert_eq!(again, edited);
    assert_eq!(
        env.json(&["search", "november", "--json"])[0]["id"],
        acme.as_str(),
        "index rebuilt at unlock"
    );

    // stop, and the next command starts a fresh agent and auto-unlocks.
    env.ok(&["stop"]);
    assert_eq!(env.status()["running"], false);
    assert_eq!(
        env.json(&["get", &run, "--json"])["body"],
        "Running three times a week, mostly trails"
    );
}

#[test]
fn body_from_stdin_and_status_fields() {
    let env = Env::new();
    env.init();
    let o = env.run_with(
        &["add", "--ns", "notes", "-"],
        Some("line one\nline two\n".as_bytes()),
        Some(PASS),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let id = o.stdout.trim().to_owned();
    assert_eq!(
        env.json(&["get", &id, "--json"])["body"],
        "line one\nline two",
        "the newline that ends the input is not part of the text"
    );
    let s = env.status();
    for f in ["running", "locked", "items", "vault"] {
        assert!(s.get(f).is_some(), "status lacks {f}: {s}");
    }
    assert_eq!(s["items"], 1);
}
