//! Provider conditions and aspects, end to end: a grant limited to local
//! providers gives its items to a client routed through the proxy to a
//! local provider and not, for the same request, once it is routed to a
//! cloud one; an aspect narrows every client's next call over MCP and the
//! proxy, never widens one, expires on time (a test clock), and switching
//! it off restores exactly the earlier answers; every answer's provider
//! and aspect are on the record; bad input is one line and changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod proxy_upstream;

use common::{add_client, call, json};
use ctxvault_tests::{Env, assert_one_line_error, raw_http};
use proxy_upstream::Upstream;
use serde_json::json;

/// One chat request through the proxy: its status.
fn chat(proxy: &str, token: &str, message: &str) -> u16 {
    let addr = proxy.trim_start_matches("http://");
    let body =
        json!({"model": "m", "messages": [{"role": "user", "content": message}]}).to_string();
    let req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    raw_http(addr, &req).0
}

/// The system text the provider got with its last request ("" if none).
fn last_system(up: &Upstream) -> String {
    let seen = up.received();
    let last = seen.last().expect("the provider got a request").json();
    let first = &last["messages"][0];
    if first["role"] == "system" {
        first["content"].as_str().unwrap().to_owned()
    } else {
        String::new()
    }
}

fn add_provider(env: &Env, name: &str, url: &str, class: Option<&str>) {
    let mut args = vec!["provider", "add", name, "--kind", "openai", "--url", url];
    if let Some(c) = class {
        args.extend(["--class", c]);
    }
    env.ok(&args);
}

fn grants(env: &Env) -> serde_json::Value {
    env.json(&["grants", "--json"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_goes_to_local_providers_only() {
    let env = Env::new();
    env.init();
    env.add(&[
        "--ns",
        "health",
        "--sensitivity",
        "private",
        "zqxpressure blood pressure 120 over 80",
    ]);
    env.add(&["--ns", "work", "zqxwork blood pressure of the launch team"]);
    let token = add_client(&env, "app");
    env.ok(&[
        "grant",
        "app",
        "health",
        "--provider-class",
        "local",
        "--max-sensitivity",
        "private",
    ]);
    env.ok(&["grant", "app", "work/**"]);
    let (home, far) = (Upstream::start("home").await, Upstream::start("far").await);
    add_provider(&env, "home", &format!("http://{}/v1", home.addr), None);
    // A provider on loopback that the user declares cloud stands in for one.
    add_provider(
        &env,
        "far",
        &format!("http://{}/v1", far.addr),
        Some("cloud"),
    );
    let listed = env.json(&["provider", "ls", "--json"]);
    assert_eq!(listed[0]["class"], "cloud", "{listed}");
    assert_eq!(listed[1]["class"], "local", "{listed}");

    // Bad input: one line each, no rule added.
    let before = grants(&env);
    let e = env.fails(&["grant", "app", "notes", "--provider", "nosuch"]);
    assert_one_line_error(&e, "unknown provider \"nosuch\"");
    let e = env.fails(&["grant", "app", "notes", "--provider-class", "remote"]);
    assert_one_line_error(&e, "unknown provider class \"remote\"");
    let e = env.fails(&["client", "add", "other", "--provider", "nosuch"]);
    assert_one_line_error(&e, "unknown provider \"nosuch\"");
    let e = env.fails(&["search", "x", "--as", "app", "--provider", "nosuch"]);
    assert_one_line_error(&e, "unknown provider \"nosuch\"");
    assert_eq!(grants(&env), before);
    assert!(
        env.json(&["client", "ls", "--json"])
            .as_array()
            .unwrap()
            .len()
            == 1
    );

    // The user's dry runs show the difference.
    let at_home = env.json(&[
        "search",
        "pressure",
        "--as",
        "app",
        "--provider",
        "home",
        "--json",
    ]);
    let far_off = env.json(&[
        "search",
        "pressure",
        "--as",
        "app",
        "--provider",
        "far",
        "--json",
    ]);
    assert_eq!(at_home.as_array().unwrap().len(), 2, "{at_home}");
    assert_eq!(far_off.as_array().unwrap().len(), 1, "{far_off}");
    assert!(!far_off.to_string().contains("zqxpressure"));
    // Undeclared, the app is judged as going to a cloud provider.
    let undeclared = env.json(&["search", "pressure", "--as", "app", "--json"]);
    assert_eq!(undeclared, far_off);
    let access = env.json(&["access", "app", "--provider", "far", "--json"]);
    assert_eq!(access["items"], 1);
    let summary = access["summary"].as_str().unwrap();
    assert!(
        summary.contains("health is shared with local providers only, so not with this request"),
        "{summary}"
    );
    assert_eq!(
        env.json(&["access", "app", "--provider", "home", "--json"])["items"],
        2
    );

    // Through the proxy: the same request, routed to home, then to far.
    env.ok(&["provider", "route", "app", "home"]);
    let _agent = env.http_agent_with(&["--proxy", "127.0.0.1:0"]);
    let proxy = env.status()["proxy"].as_str().unwrap().to_owned();
    let ask = "what is my blood pressure?";
    assert_eq!(chat(&proxy, &token, ask), 200);
    let system = last_system(&home);
    assert!(
        system.contains("zqxpressure") && system.contains("zqxwork"),
        "{system}"
    );
    env.ok(&["provider", "route", "app", "far"]);
    assert_eq!(chat(&proxy, &token, ask), 200);
    let system = last_system(&far);
    assert!(system.contains("zqxwork"), "{system}");
    assert!(
        !system.contains("zqxpressure"),
        "health reached a cloud provider: {system}"
    );
    // And back: the route is decided again at each request.
    env.ok(&["provider", "route", "app", "home"]);
    assert_eq!(chat(&proxy, &token, ask), 200);
    assert!(last_system(&home).contains("zqxpressure"));

    // Each read is on the record with the provider it went to.
    let trail: Vec<String> = common::audit_of(&env, "app")
        .iter()
        .filter(|e| e["action"] == "inject")
        .map(|e| e["provider"].as_str().unwrap_or("-").to_owned())
        .collect();
    assert_eq!(
        trail,
        ["home (local)", "far (cloud)", "home (local)"],
        "{trail:?}"
    );

    // An MCP client that declared a local provider reads health; one that
    // declared a cloud provider does not.
    let local = env.json(&["client", "add", "desk", "--provider", "ollama", "--json"])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let cloud = env.json(&["client", "add", "web", "--provider", "anthropic", "--json"])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for c in ["desk", "web"] {
        env.ok(&[
            "grant",
            c,
            "health",
            "--provider-class",
            "local",
            "--max-sensitivity",
            "private",
        ]);
    }
    let url = env.status()["http"].as_str().unwrap().to_owned();
    let s = common::http(&url, &local).await;
    let hits = json(&call(&s, "search_context", json!({"query": "pressure"})).await);
    assert_eq!(hits.as_array().unwrap().len(), 1, "{hits}");
    let s = common::http(&url, &cloud).await;
    let hits = json(&call(&s, "search_context", json!({"query": "pressure"})).await);
    assert_eq!(hits, json!([]));
    let access = json(&call(&s, "describe_access", json!({})).await);
    assert_eq!(access["provider"], "anthropic (cloud)");
    assert!(
        access["summary"]
            .as_str()
            .unwrap()
            .contains("shared with local providers only"),
        "{access}"
    );
}

/// Ids of what an MCP session finds for `q`.
async fn found(s: &common::Session, q: &str) -> Vec<String> {
    let hits = json(&call(s, "search_context", json!({"query": q})).await);
    let mut ids: Vec<String> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aspect_narrows_every_client_then_expires_or_goes_off() {
    let mut env = Env::new();
    let clock = env.tmp.path().join("clock");
    std::fs::write(&clock, "0").unwrap();
    env.vars.push((
        "CTXVAULT_TEST_CLOCK_FILE".into(),
        clock.display().to_string(),
    ));
    env.init();
    let work = env.add(&["--ns", "work/acme", "zqxmark the acme roadmap"]);
    let profile = env.add(&["--ns", "profile", "zqxmark I live in Lisbon"]);
    env.add(&["--ns", "personal", "zqxmark the diary of a long summer"]);
    env.add(&[
        "--ns",
        "work/acme",
        "--sensitivity",
        "private",
        "zqxmark my salary talks",
    ]);
    let all = add_client(&env, "all");
    let narrow = add_client(&env, "narrow");
    let routed = add_client(&env, "routed");
    env.ok(&["grant", "all", "**", "--max-sensitivity", "secret"]);
    env.ok(&["grant", "narrow", "work/**"]);
    env.ok(&["grant", "routed", "**", "--max-sensitivity", "secret"]);
    let up = Upstream::start("home").await;
    add_provider(&env, "home", &format!("http://{}/v1", up.addr), None);
    env.ok(&["provider", "route", "routed", "home"]);

    // Bad input first: one line each, nothing defined or switched on.
    let e = env.fails(&["aspect", "add", "empty"]);
    assert_one_line_error(&e, "aspect empty names no scope");
    let e = env.fails(&["aspect", "use", "nosuch"]);
    assert_one_line_error(&e, "no aspect \"nosuch\"");
    assert_eq!(env.json(&["aspect", "ls", "--json"])["aspects"], json!([]));

    env.ok(&[
        "aspect",
        "add",
        "interview",
        "--scope",
        "work/**",
        "--scope",
        "profile",
        "--max-sensitivity",
        "normal",
    ]);
    let e = env.fails(&["aspect", "use", "interview", "--clients", "ghost"]);
    assert_one_line_error(&e, "unknown client \"ghost\"");
    assert_eq!(
        env.json(&["aspect", "ls", "--json"])["in_force"],
        json!(null)
    );

    let _agent = env.http_agent_with(&["--proxy", "127.0.0.1:0"]);
    let url = env.status()["http"].as_str().unwrap().to_owned();
    let proxy = env.status()["proxy"].as_str().unwrap().to_owned();
    let s_all = common::http(&url, &all).await;
    let s_narrow = common::http(&url, &narrow).await;
    let before_all = found(&s_all, "zqxmark").await;
    let before_narrow = found(&s_narrow, "zqxmark").await;
    assert_eq!(before_all.len(), 4);
    assert_eq!(
        before_narrow.len(),
        1,
        "narrow reads normal work items only"
    );
    assert_eq!(chat(&proxy, &routed, "zqxmark"), 200);
    let proxied_before = last_system(&up);
    assert!(proxied_before.contains("diary"), "{proxied_before}");

    // On for an hour: every client's next call is narrowed, never widened.
    env.ok(&["aspect", "use", "interview", "--for", "1h"]);
    assert!(env.status()["aspect"]["name"] == "interview");
    let mut want = vec![work.clone(), profile.clone()];
    want.sort();
    assert_eq!(found(&s_all, "zqxmark").await, want);
    assert_eq!(
        found(&s_narrow, "zqxmark").await,
        before_narrow,
        "an aspect gives nothing"
    );
    assert_eq!(chat(&proxy, &routed, "zqxmark"), 200);
    let proxied = last_system(&up);
    assert!(
        proxied.contains("roadmap") && proxied.contains("Lisbon"),
        "{proxied}"
    );
    assert!(
        !proxied.contains("diary") && !proxied.contains("salary"),
        "{proxied}"
    );
    let access = json(&call(&s_all, "describe_access", json!({})).await);
    assert!(
        access["summary"]
            .as_str()
            .unwrap()
            .contains("aspect \"interview\""),
        "{access}"
    );
    let last = common::audit_of(&env, "all").last().unwrap().clone();
    assert_eq!(last["aspect"], "interview", "{last}");

    // Two hours later it has run out: the earlier answers, exactly.
    std::fs::write(&clock, "7200").unwrap();
    assert_eq!(found(&s_all, "zqxmark").await, before_all);
    assert_eq!(env.status()["aspect"], json!(null));
    assert_eq!(chat(&proxy, &routed, "zqxmark"), 200);
    assert_eq!(last_system(&up), proxied_before);

    // On for one client only, then off.
    env.ok(&["aspect", "use", "interview", "--clients", "routed"]);
    assert_eq!(found(&s_all, "zqxmark").await, before_all);
    assert_eq!(chat(&proxy, &routed, "zqxmark"), 200);
    assert!(!last_system(&up).contains("diary"));
    env.ok(&["aspect", "off"]);
    assert_eq!(chat(&proxy, &routed, "zqxmark"), 200);
    assert_eq!(last_system(&up), proxied_before);
    let e = env.fails(&["aspect", "off"]);
    assert_one_line_error(&e, "no aspect is in force");

    // Each switch is on the record.
    let trail = env.json(&["audit", "--json"]);
    let actions: Vec<&str> = trail
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|a| a.starts_with("aspect"))
        .collect();
    assert_eq!(
        actions,
        ["aspect-add", "aspect-use", "aspect-use", "aspect-off"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_switches_aspects_and_answers_questions_in_one_click() {
    let mut env = Env::new();
    env.vars
        .push(("CTXVAULT_TEST_CONFIRM_MS".into(), "20000".into()));
    env.init();
    env.add(&["--ns", "work", "zqxmark the roadmap"]);
    env.add(&["--ns", "personal", "zqxmark the diary"]);
    env.add(&["--ns", "tax", "zqxmark the return"]);
    let token = add_client(&env, "app");
    env.ok(&["grant", "app", "work"]);
    env.ok(&["grant", "app", "personal"]);
    env.ok(&["grant", "app", "tax", "--confirm"]);
    env.ok(&[
        "aspect",
        "add",
        "interview",
        "--scope",
        "work/**",
        "--scope",
        "tax",
    ]);
    let agent = env.http_agent();
    let c = ctxvault_tests::console::Raw::login(&env);
    let (_, _, page) = c.get("/");
    assert!(
        page.contains("None in force") && page.contains("interview"),
        "{page}"
    );

    // One click: on for every client.
    let (status, _, _) = c.post("/aspects/interview/use", &[]);
    assert_eq!(status, 303);
    assert_eq!(env.status()["aspect"]["name"], "interview");
    let (_, _, page) = c.get("/");
    assert!(page.contains("Switch off"), "{page}");

    // A read of tax waits; the console lists it and answers it.
    let s = common::http(&agent.url, &token).await;
    let waiting = tokio::spawn(async move {
        let hits = json(&call(&s, "search_context", json!({"query": "zqxmark"})).await);
        hits.as_array().unwrap().len()
    });
    let start = std::time::Instant::now();
    let id = loop {
        let list = env.json(&["confirm", "--json"]);
        if let Some(q) = list.as_array().unwrap().first() {
            break q["id"].as_str().unwrap().to_owned();
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "no question came"
        );
    };
    let (_, _, page) = c.get("/");
    assert!(
        page.contains("Reads waiting for your yes") && page.contains("app asks to read"),
        "{page}"
    );
    let (status, _, _) = c.post(&format!("/confirm/{id}/yes"), &[]);
    assert_eq!(status, 303);
    assert_eq!(waiting.await.unwrap(), 2, "work and tax, inside the aspect");

    // One click: off.
    let (status, _, _) = c.post("/aspects/off", &[]);
    assert_eq!(status, 303);
    assert_eq!(env.status()["aspect"], json!(null));
    let trail = env.json(&["audit", "--json"]).to_string();
    assert!(
        trail.contains("\"aspect-off\"")
            && trail.contains("yes (with `ctxvault confirm` or the console)")
    );
}
