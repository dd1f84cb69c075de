//! Policy through the real binary and agent: clients with different grants,
//! revocation and expiry on the next call, client removal, non-disclosure,
//! redaction, and bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ctxvault_tests::{Env, assert_one_line_error};

fn ids(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_owned())
        .collect()
}

/// A vault with work, profile and health items and two clients.
fn setup() -> (Env, [String; 4]) {
    let env = Env::new();
    env.init();
    let work = env.add(&[
        "--ns",
        "work/acme",
        "--tag",
        "planning",
        "Acme launch plan for the garden product",
    ]);
    let side = env.add(&["--ns", "work/side", "Side project: garden sensors"]);
    let prof = env.add(&["--ns", "profile", "I keep a vegetable garden"]);
    let health = env.add(&[
        "--ns",
        "health",
        "--sensitivity",
        "private",
        "Garden pollen allergy",
    ]);
    env.ok(&["client", "add", "claude"]);
    env.ok(&["client", "add", "ollama"]);
    (env, [work, side, prof, health])
}

#[test]
fn clients_see_what_their_grants_allow() {
    let (env, [work, side, prof, health]) = setup();
    let g_claude = env.ok(&["grant", "claude", "work/**"]).trim().to_owned();
    env.ok(&["grant", "ollama", "**", "--max-sensitivity", "private"]);
    env.ok(&["deny", "ollama", "work/side"]);

    let claude = ids(&env.json(&["search", "garden", "--as", "claude", "--json"]));
    let ollama = ids(&env.json(&["search", "garden", "--as", "ollama", "--json"]));
    let mut c = claude.clone();
    c.sort();
    let mut want = vec![work.clone(), side.clone()];
    want.sort();
    assert_eq!(c, want, "claude: work/** only");
    assert!(ollama.contains(&health) && ollama.contains(&prof) && ollama.contains(&work));
    assert!(!ollama.contains(&side), "deny wins over **");
    assert_ne!(claude, ollama);
    // ls --as agrees with search --as.
    assert_eq!(ids(&env.json(&["ls", "--as", "claude", "--json"])).len(), 2);
    // The user's own view is unchanged.
    assert_eq!(ids(&env.json(&["search", "garden", "--json"])).len(), 4);

    // Revoke: the very next call sees nothing.
    env.ok(&["revoke", &g_claude]);
    assert!(ids(&env.json(&["search", "garden", "--as", "claude", "--json"])).is_empty());
    assert!(ids(&env.json(&["ls", "--as", "claude", "--json"])).is_empty());
    let access = env.json(&["access", "claude", "--json"]);
    assert_eq!(access["items"], 0);
    assert_eq!(access["actions"], serde_json::json!([]));

    // revoke CLIENT --all.
    let out = env.ok(&["revoke", "ollama", "--all"]);
    assert!(out.contains("revoked 2 rules of ollama"), "{out}");
    assert!(ids(&env.json(&["search", "garden", "--as", "ollama", "--json"])).is_empty());

    // client rm: the client is gone, by name.
    env.ok(&["client", "rm", "claude"]);
    let err = env.fails(&["search", "garden", "--as", "claude"]);
    assert_one_line_error(&err, "unknown client \"claude\"");
    assert_one_line_error(
        &env.fails(&["ls", "--as", "claude"]),
        "unknown client \"claude\"",
    );
    let clients = env.json(&["client", "ls", "--json"]);
    assert_eq!(clients.as_array().unwrap().len(), 1);
}

#[test]
fn expiry_takes_effect_on_the_next_call() {
    let (env, [work, ..]) = setup();
    let gid = env
        .ok(&["grant", "claude", "work/acme", "--expires", "2s"])
        .trim()
        .to_owned();
    assert_eq!(
        ids(&env.json(&["search", "launch", "--as", "claude", "--json"])),
        vec![work]
    );
    // Wait for the clock to pass the expiry (time itself is what is tested).
    let start = Instant::now();
    while !ids(&env.json(&["search", "launch", "--as", "claude", "--json"])).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "grant never expired"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let rules = env.json(&["grants", "claude", "--json"]);
    assert_eq!(rules[0]["id"], gid.as_str());
    assert_eq!(rules[0]["expired"], true);
    assert_eq!(env.json(&["access", "claude", "--json"])["items"], 0);
}

#[test]
fn secret_needs_a_secret_grant() {
    let env = Env::new();
    env.init();
    let s = env.add(&[
        "--ns",
        "finance",
        "--sensitivity",
        "secret",
        "bank pin hint",
    ]);
    env.ok(&["client", "add", "c"]);
    env.ok(&["grant", "c", "**", "--max-sensitivity", "private"]);
    assert!(ids(&env.json(&["search", "bank", "--as", "c", "--json"])).is_empty());
    env.ok(&["grant", "c", "finance", "--max-sensitivity", "secret"]);
    assert_eq!(
        ids(&env.json(&["search", "bank", "--as", "c", "--json"])),
        vec![s]
    );
}

/// What a client can observe: search results (with scores and snippets),
/// listing, access counts, and the error for getting the hidden id.
fn observe(env: &Env, client: &str) -> serde_json::Value {
    serde_json::json!({
        "search": env.json(&["search", "garden plan", "--as", client, "--json"]),
        "search_any": env.json(&["search", "garden secret", "--as", client, "--json"]),
        "prefix": env.json(&["search", "gard*", "--as", client, "--json"]),
        "ls": env.json(&["ls", "--as", client, "--json"]),
        "access": env.json(&["access", client, "--json"]),
    })
}

#[test]
fn hidden_items_are_indistinguishable_from_absent_ones() {
    let (env, [_, _, _, health]) = setup();
    // More hidden text sharing the query's words, to move scores if it leaked.
    let hidden2 = env.add(&["--ns", "health", "garden garden garden plan plan secret"]);
    env.ok(&["grant", "claude", "work/**"]);
    env.ok(&["grant", "claude", "profile"]);

    let hidden_state = observe(&env, "claude");
    // Now the hidden items do not exist at all.
    env.ok(&["rm", &health]);
    env.ok(&["rm", &hidden2]);
    let absent_state = observe(&env, "claude");
    assert_eq!(
        hidden_state, absent_state,
        "a hidden item changed what the client sees"
    );
    assert!(!hidden_state["search"].as_array().unwrap().is_empty());
}

#[test]
fn redaction_masks_each_kind_only_when_asked() {
    let env = Env::new();
    env.init();
    let text = "Contact ann.lee@example.com or +44 20 7946 0958, see https://example.com/docs, \
                server 192.168.10.20, card 4111 1111 1111 1111";
    env.add(&[
        "--ns",
        "contacts",
        "--title",
        "Ann ann.lee@example.com",
        text,
    ]);
    env.ok(&["client", "add", "masked"]);
    env.ok(&["client", "add", "plain"]);
    env.ok(&[
        "grant",
        "masked",
        "contacts",
        "--redact",
        "email,phone,url,ip,card",
    ]);
    env.ok(&["grant", "plain", "contacts"]);
    let m = &env.json(&["search", "contact", "--as", "masked", "--json"])[0];
    let p = &env.json(&["search", "contact", "--as", "plain", "--json"])[0];
    let mb = m["body"].as_str().unwrap();
    for (secret, placeholder) in [
        ("ann.lee@example.com", "[email]"),
        ("+44 20 7946 0958", "[phone]"),
        ("https://example.com/docs", "[url]"),
        ("192.168.10.20", "[ip]"),
        ("4111 1111 1111 1111", "[card]"),
    ] {
        assert!(!mb.contains(secret), "{secret} not masked: {mb}");
        assert!(mb.contains(placeholder), "{placeholder} missing: {mb}");
        assert!(
            p["body"].as_str().unwrap().contains(secret),
            "{secret} masked without --redact"
        );
        assert!(
            !m["snippet"].as_str().unwrap().contains(secret),
            "snippet leaks {secret}"
        );
    }
    assert_eq!(m["title"], "Ann [email]");
    assert_eq!(p["title"], "Ann ann.lee@example.com");
    let l = &env.json(&["ls", "--as", "masked", "--json"])[0];
    assert!(l["body"].as_str().unwrap().contains("[card]"));
    // The user's own view is never redacted.
    assert!(env.ok(&["ls", "--json"]).contains("4111 1111 1111 1111"));
}

/// Everything a bad policy command must leave alone.
fn policy_snapshot(env: &Env) -> (serde_json::Value, serde_json::Value, usize) {
    (
        env.json(&["grants", "--json"]),
        env.json(&["client", "ls", "--json"]),
        env.json(&["audit", "--json"]).as_array().unwrap().len(),
    )
}

#[test]
fn bad_policy_input_changes_nothing() {
    let env = Env::new();
    env.init();
    env.ok(&["client", "add", "claude"]);
    env.ok(&["grant", "claude", "work/**"]);
    let before = policy_snapshot(&env);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["grant", "nobody", "work/**"],
            "unknown client \"nobody\"",
        ),
        (vec!["deny", "nobody", "work"], "unknown client \"nobody\""),
        (vec!["access", "nobody"], "unknown client \"nobody\""),
        (
            vec!["search", "x", "--as", "nobody"],
            "unknown client \"nobody\"",
        ),
        (vec!["client", "rm", "nobody"], "unknown client \"nobody\""),
        (
            vec!["client", "rotate", "nobody"],
            "unknown client \"nobody\"",
        ),
        (
            vec!["revoke", "nobody", "--all"],
            "unknown client \"nobody\"",
        ),
        (vec!["grant", "claude", "Work/**"], "malformed scope"),
        (vec!["grant", "claude", "work//x"], "malformed scope"),
        (vec!["deny", "claude", "wo**rk"], "malformed scope"),
        (
            vec!["grant", "claude", "work", "--allow", "read,delete"],
            "unknown action \"delete\"",
        ),
        (
            vec![
                "grant",
                "claude",
                "work",
                "--expires",
                "2020-01-01T00:00:00Z",
            ],
            "is in the past",
        ),
        (
            vec!["grant", "claude", "work", "--expires", "soonish"],
            "use a duration such as 2h",
        ),
        (
            vec!["grant", "claude", "work", "--redact", "email,ssn"],
            "unknown redaction \"ssn\"",
        ),
        (
            vec!["revoke", "0192f0c1-7c5e-7d3a-9a4e-3b1f2c4d5e6f"],
            "no grant or deny rule 0192f0c1",
        ),
        (vec!["revoke", "not-an-id"], "malformed rule id"),
        (
            vec!["client", "add", "claude"],
            "client \"claude\" already exists",
        ),
        (vec!["client", "add", "Bad Name"], "invalid client name"),
        (
            vec!["grant", "claude", "work", "--max-sensitivity", "top"],
            "unknown sensitivity",
        ),
    ];
    for (args, needle) in cases {
        let err = env.fails(&args);
        assert_one_line_error(&err, needle);
        assert_eq!(
            policy_snapshot(&env),
            before,
            "{args:?} changed the policy or the audit log"
        );
    }
}

#[test]
fn rotate_replaces_the_token() {
    let env = Env::new();
    env.init();
    let first = env.json(&["client", "add", "c", "--json"]);
    assert_eq!(first["name"], "c");
    let t1 = first["token"].as_str().unwrap().to_owned();
    assert!(t1.starts_with("cvt_") && t1.len() == 68);
    let second = env.json(&["client", "rotate", "c", "--json"]);
    let t2 = second["token"].as_str().unwrap();
    assert_ne!(t1, t2);
    // Tokens never reach the disk in the clear, nor into the audit log.
    env.ok(&["stop"]);
    for f in std::fs::read_dir(&env.vault).unwrap() {
        let bytes = std::fs::read(f.unwrap().path()).unwrap();
        for t in [t1.as_bytes(), t2.as_bytes()] {
            assert!(!bytes.windows(t.len()).any(|w| w == t));
        }
    }
    assert!(!env.ok(&["audit", "--json"]).contains("cvt_"));
}

#[test]
fn a_deny_rule_covers_the_namespace_subtree() {
    let env = Env::new();
    env.init();
    env.add(&["--ns", "health", "resting pulse 52"]);
    env.add(&["--ns", "health/labs", "cholesterol panel normal"]);
    env.add(&["--ns", "healthy-recipes", "lentil soup"]);
    env.ok(&["client", "add", "bob"]);
    env.ok(&["grant", "bob", "**"]);
    env.ok(&["deny", "bob", "health"]);
    let seen: Vec<String> = env
        .json(&["ls", "--as", "bob", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["namespace"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        seen,
        vec!["healthy-recipes"],
        "deny health covers health/labs"
    );
    let hits = env.json(&["search", "cholesterol", "--as", "bob", "--json"]);
    assert_eq!(hits.as_array().unwrap().len(), 0, "{hits}");
}

#[test]
fn redaction_catches_the_variants_that_leaked_and_covers_tags() {
    let env = Env::new();
    env.init();
    let leaks = [
        "jörg@exämple.de",
        "root@localhost",
        "bob [at] example [dot] com",
        "see:https://x.io/a",
        "ftp://files.example.org/pub",
        "example.com/private/path",
        "4111.1111.1111.1111",
        "4111  1111  1111  1111",
        "\u{ff14}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}",
        "030_1234_5678",
        "::ffff:10.1.2.3",
    ];
    let body = leaks.join(" ; ");
    env.add(&["--ns", "contacts", "--tag", "555-123-4567", &body]);
    env.ok(&["client", "add", "masked"]);
    env.ok(&[
        "grant",
        "masked",
        "contacts",
        "--redact",
        "email,phone,url,ip,card",
    ]);
    let item = &env.json(&["ls", "--as", "masked", "--json"])[0];
    let got = item["body"].as_str().unwrap();
    for leak in leaks {
        assert!(!got.contains(leak), "{leak:?} leaked: {got}");
    }
    for part in [
        "10.1.2.3",
        "1111",
        "5678",
        "x.io",
        "localhost",
        "private/path",
    ] {
        assert!(!got.contains(part), "{part:?} leaked: {got}");
    }
    assert_eq!(item["tags"][0], "[phone]", "{item}");
}
