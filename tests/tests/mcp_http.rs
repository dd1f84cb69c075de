//! MCP over both transports with rmcp's client: stdio (`ctxvault mcp`) and
//! the agent's streamable HTTP endpoint (`daemon --http`). Every tool,
//! resources, the prompt, results exactly as the grants allow, revoke and
//! expiry applied to open sessions, the locked vault, and the audit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Transport, add_client, audit_of, call, connect, json, text, tool_names};
use ctxvault_tests::{Env, HttpAgent};
use rmcp::model::{GetPromptRequestParams, PaginatedRequestParams, ReadResourceRequestParams};
use serde_json::json;

/// A sample person: profile, a preference, work, health, finance.
struct Person {
    profile: String,
    pref: String,
    work: String,
    health: String,
    finance: String,
}

fn person(env: &Env) -> Person {
    Person {
        profile: env.add(&[
            "--ns",
            "profile",
            "--kind",
            "fact",
            "--title",
            "Name",
            "Ada Lovelace, lives in London, works on the Acme launch",
        ]),
        pref: env.add(&[
            "--ns",
            "personal",
            "--kind",
            "preference",
            "Prefers concise answers with code first",
        ]),
        work: env.add(&[
            "--ns",
            "work/acme",
            "--title",
            "Roadmap",
            "Acme roadmap: launch in March; mail ann@acme.com",
        ]),
        health: env.add(&[
            "--ns",
            "health",
            "--sensitivity",
            "private",
            "Allergic to penicillin; careful at the launch dinner",
        ]),
        finance: env.add(&["--ns", "finance", "Salary review before the launch"]),
    }
}

fn ids(v: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn read(s: &common::Session, uri: &str) -> Result<String, String> {
    match s.read_resource(ReadResourceRequestParams::new(uri)).await {
        Ok(r) => Ok(r
            .contents
            .iter()
            .map(|c| match c {
                rmcp::model::ResourceContents::TextResourceContents { text, .. } => text.clone(),
                _ => String::new(),
            })
            .collect()),
        Err(e) => Err(e.to_string()),
    }
}

/// The whole surface for one client on one transport; returns how many
/// audited calls it made.
async fn flow(env: &Env, agent: &HttpAgent, t: Transport, client: &str, p: &Person) -> usize {
    let token = add_client(env, client);
    let work_grant = env
        .ok(&["grant", client, "work/**", "--redact", "email"])
        .trim()
        .to_owned();
    env.ok(&["grant", client, "profile/**"]);
    let s = connect(t, env, &agent.url, client, &token).await;
    let mut audited = 0;

    let info = s.peer_info().unwrap();
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("ctxvault")
    );
    assert!(info.capabilities.resources.is_some() && info.capabilities.prompts.is_some());
    assert_eq!(
        tool_names(&s).await,
        [
            "describe_access",
            "get_context",
            "list_namespaces",
            "search_context"
        ],
        "a read-only client has no remember tool"
    );

    // Tools.
    let hits = json(&call(&s, "search_context", json!({"query": "launch"})).await);
    audited += 1;
    assert_eq!(ids(&hits), sorted(vec![p.profile.clone(), p.work.clone()]));
    let work_hit = hits
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["id"] == p.work.as_str())
        .unwrap();
    assert!(work_hit["snippet"].as_str().unwrap().contains("[email]"));
    for key in ["namespace", "kind", "title", "tags", "updated_at"] {
        assert!(work_hit.get(key).is_some(), "{key} in {work_hit}");
    }
    let filtered = json(
        &call(
            &s,
            "search_context",
            json!({"query": "launch", "namespace": "work", "limit": 1}),
        )
        .await,
    );
    audited += 1;
    assert_eq!(ids(&filtered), std::slice::from_ref(&p.work));
    let item = json(&call(&s, "get_context", json!({"id": p.work})).await);
    audited += 1;
    assert_eq!(item["body"], "Acme roadmap: launch in March; mail [email]");
    for hidden in [&p.health, &p.finance, &p.pref] {
        let r = call(&s, "get_context", json!({"id": hidden})).await;
        audited += 1;
        assert_eq!(r.is_error, Some(true));
        assert_eq!(text(&r), format!("no item {hidden}"));
    }
    let ns = json(&call(&s, "list_namespaces", json!({})).await);
    audited += 1;
    assert_eq!(
        ns,
        json!([{"namespace": "profile", "items": 1}, {"namespace": "work/acme", "items": 1}])
    );
    let access = json(&call(&s, "describe_access", json!({})).await);
    audited += 1;
    assert_eq!(access["client"], client);
    assert_eq!(access["actions"], json!(["read"]));
    let scopes: Vec<&str> = access["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["scope"].as_str().unwrap())
        .collect();
    assert_eq!(scopes, ["work/**", "profile/**"]);
    assert_eq!(access["grants"][0]["redact"], json!(["email"]));
    assert!(access["grants"][0]["expires"].is_null());

    // Resources.
    let listed = s.list_resources(None).await.unwrap();
    audited += 1;
    let mut uris: Vec<String> = listed.resources.iter().map(|r| r.uri.clone()).collect();
    uris.sort();
    let mut want = vec![
        "ctxvault://profile".to_owned(),
        format!("ctxvault://item/{}", p.profile),
        format!("ctxvault://item/{}", p.work),
    ];
    want.sort();
    assert_eq!(uris, want);
    assert!(listed.next_cursor.is_none());
    let templates = s.list_resource_templates(None).await.unwrap();
    assert_eq!(
        templates.resource_templates[0].uri_template,
        "ctxvault://item/{id}"
    );
    let md = read(&s, &format!("ctxvault://item/{}", p.work))
        .await
        .unwrap();
    audited += 1;
    assert!(md.contains("# Roadmap") && md.contains("[email]") && !md.contains("ann@"));
    let err = read(&s, &format!("ctxvault://item/{}", p.health))
        .await
        .unwrap_err();
    audited += 1;
    assert!(err.contains(&format!("no item {}", p.health)), "{err}");
    let profile = read(&s, "ctxvault://profile").await.unwrap();
    audited += 1;
    assert!(profile.contains("Ada Lovelace"), "{profile}");
    assert!(!profile.contains("concise"), "preference not granted");
    assert!(!profile.contains("penicillin") && !profile.contains("Salary"));

    // The prompt.
    let prompts = s.list_prompts(None).await.unwrap();
    assert_eq!(prompts.prompts[0].name, "personal-context");
    let mut args = serde_json::Map::new();
    args.insert("topic".into(), json!("roadmap"));
    let got = s
        .get_prompt(GetPromptRequestParams::new("personal-context").with_arguments(args))
        .await
        .unwrap();
    audited += 1;
    let prompt_text = serde_json::to_string(&got.messages).unwrap();
    assert!(prompt_text.contains("Ada Lovelace") && prompt_text.contains("Acme roadmap"));
    assert!(!prompt_text.contains("penicillin") && !prompt_text.contains("Salary"));
    assert!(!prompt_text.contains("ann@acme.com"));

    // A revoke applies to this open session's next call.
    env.ok(&["revoke", &work_grant]);
    let after = json(&call(&s, "search_context", json!({"query": "roadmap"})).await);
    audited += 1;
    assert_eq!(after, json!([]));
    assert!(
        read(&s, &format!("ctxvault://item/{}", p.work))
            .await
            .is_err()
    );
    audited += 1;

    // So does an expiry.
    env.ok(&["grant", client, "work/**", "--expires", "2s"]);
    let before = json(&call(&s, "search_context", json!({"query": "roadmap"})).await);
    audited += 1;
    assert_eq!(ids(&before), std::slice::from_ref(&p.work));
    let expires = env
        .json(&["grants", client, "--json"])
        .as_array()
        .unwrap()
        .iter()
        .find_map(|g| g["expires"].as_str().map(str::to_owned))
        .unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(&expires).unwrap();
    // Wait for the wall clock to pass the expiry: the feature is time itself.
    while chrono::Utc::now() <= expires {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let expired = json(&call(&s, "search_context", json!({"query": "roadmap"})).await);
    audited += 1;
    assert_eq!(expired, json!([]));

    s.cancel().await.unwrap();
    audited
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_capability_over_stdio_and_http_within_the_grants() {
    let env = Env::new();
    env.init();
    let p = person(&env);
    let agent = env.http_agent();
    for (t, client) in [(Transport::Stdio, "claude"), (Transport::Http, "cursor")] {
        let calls = flow(&env, &agent, t, client, &p).await;
        let audit = audit_of(&env, client);
        assert_eq!(audit.len(), calls, "{t:?}: one entry per call: {audit:?}");
        for e in &audit {
            let seen: Vec<&str> = e["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_str().unwrap())
                .collect();
            for hidden in [&p.health, &p.finance, &p.pref] {
                assert!(!seen.contains(&hidden.as_str()), "{t:?} leaked: {e}");
            }
        }
        let actions: Vec<&str> = audit
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        for a in ["search", "get", "list", "profile", "describe-access"] {
            assert!(actions.contains(&a), "{t:?}: {a} in {actions:?}");
        }
        // Each entry names the MCP tool or method that made the call.
        let tools: std::collections::BTreeSet<&str> = audit
            .iter()
            .map(|e| e["tool"].as_str().expect("every MCP call names its tool"))
            .collect();
        assert_eq!(
            tools.into_iter().collect::<Vec<_>>(),
            [
                "describe_access",
                "get_context",
                "list_namespaces",
                "prompts/get",
                "resources/list",
                "resources/read",
                "search_context"
            ]
        );
        // And the door it came through.
        let door = match t {
            Transport::Stdio => "stdio",
            Transport::Http => "http",
        };
        for e in &audit {
            assert_eq!(e["door"].as_str(), Some(door), "{t:?}: {e}");
        }
        let lines = env.ok(&["audit", "--client", client]);
        assert!(
            lines.contains(&format!("[search_context over {door}]")),
            "{lines}"
        );
    }
    env.ok(&["audit", "verify"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_are_paginated() {
    let env = Env::new();
    env.init();
    let lines: String = (0..230)
        .map(|i| format!("bulk note number {i}\n"))
        .collect();
    let file = env.tmp.path().join("notes.txt");
    std::fs::write(&file, lines).unwrap();
    env.ok(&[
        "import",
        file.to_str().unwrap(),
        "--format",
        "lines",
        "--ns",
        "work/bulk",
    ]);
    env.add(&["--ns", "health", "hidden from the pages"]);
    let agent = env.http_agent();
    let token = add_client(&env, "cursor");
    env.ok(&["grant", "cursor", "work/**"]);
    let s = common::http(&agent.url, &token).await;
    let mut cursor = None;
    let mut pages = Vec::new();
    loop {
        let page = s
            .list_resources(Some(PaginatedRequestParams::default().with_cursor(cursor)))
            .await
            .unwrap();
        pages.push(page.resources.len());
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    // The profile resource, then 100 items a page.
    assert_eq!(pages, [101, 100, 30]);
    let bad = s
        .list_resources(Some(
            PaginatedRequestParams::default().with_cursor(Some("x".into())),
        ))
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("malformed cursor"), "{bad}");
    s.cancel().await.unwrap();
    assert_eq!(audit_of(&env, "cursor").len(), 3, "one entry per page");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_vault_answers_every_tool_over_http_then_recovers() {
    let env = Env::new();
    env.init();
    let work = env.add(&["--ns", "work", "quarterly plan"]);
    let agent = env.http_agent();
    let token = add_client(&env, "cursor");
    env.ok(&["grant", "cursor", "work/**", "--allow", "read,write"]);
    let s = common::http(&agent.url, &token).await;
    env.ok(&["lock"]);
    for (tool, args) in [
        ("search_context", json!({"query": "plan"})),
        ("get_context", json!({"id": work})),
        ("list_namespaces", json!({})),
        ("describe_access", json!({})),
        ("remember", json!({"content": "x", "namespace": "work"})),
    ] {
        let r = call(&s, tool, args).await;
        assert_eq!(r.is_error, Some(true), "{tool}");
        assert_eq!(text(&r), "vault is locked: run `ctxvault unlock`", "{tool}");
    }
    let r = read(&s, "ctxvault://profile").await.unwrap_err();
    assert!(r.contains("vault is locked"), "{r}");
    env.ok(&["unlock"]);
    let hits = json(&call(&s, "search_context", json!({"query": "plan"})).await);
    assert_eq!(ids(&hits), [work]);
    s.cancel().await.unwrap();
}

/// `client add` prints configuration that works as pasted: the stdio entry
/// (command, args, env) and the HTTP entry (url, Authorization header) both
/// open real sessions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_snippets_work_as_printed() {
    use rmcp::ServiceExt;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    let env = Env::new();
    env.init();
    let work = env.add(&["--ns", "work", "snippet check"]);
    let agent = env.http_agent();
    let added = env.json(&["client", "add", "vscode", "--json"]);
    env.ok(&["grant", "vscode", "work/**"]);
    let setup = &added["setup"];
    let token = added["token"].as_str().unwrap();

    // Claude Desktop / Cursor / VS Code stdio entries are the same server.
    let desktop = &setup["claude_desktop"]["stdio"]["mcpServers"]["ctxvault"];
    assert_eq!(desktop, &setup["cursor"]["stdio"]["mcpServers"]["ctxvault"]);
    assert_eq!(
        setup["vscode"]["stdio"]["servers"]["ctxvault"]["type"],
        "stdio"
    );
    let mut cmd = tokio::process::Command::new(desktop["command"].as_str().unwrap());
    for a in desktop["args"].as_array().unwrap() {
        cmd.arg(a.as_str().unwrap());
    }
    for (k, v) in desktop["env"].as_object().unwrap() {
        cmd.env(k, v.as_str().unwrap());
    }
    // Only what a desktop app would pass: no vault or runtime variables
    // beyond the runtime directory this test's agent uses.
    cmd.env_remove("CTXVAULT_HOME")
        .env("CTXVAULT_RUNTIME_DIR", &env.runtime);
    let (transport, _) = rmcp::transport::TokioChildProcess::builder(cmd)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let s = ().serve(transport).await.unwrap();
    let hits = json(&call(&s, "search_context", json!({"query": "snippet"})).await);
    assert_eq!(ids(&hits), std::slice::from_ref(&work));
    s.cancel().await.unwrap();

    // The HTTP entries point at the running endpoint with the bearer token.
    let vs = &setup["vscode"]["http"]["servers"]["ctxvault"];
    assert_eq!(vs["type"], "http");
    assert_eq!(vs["url"], agent.url.as_str());
    assert_eq!(
        setup["cursor"]["http"]["mcpServers"]["ctxvault"]["url"],
        agent.url.as_str()
    );
    let auth = vs["headers"]["Authorization"].as_str().unwrap();
    assert_eq!(auth, format!("Bearer {token}"));
    let transport = rmcp::transport::StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(vs["url"].as_str().unwrap().to_owned())
            .auth_header(auth.trim_start_matches("Bearer ").to_owned()),
    );
    let s = ().serve(transport).await.unwrap();
    let hits = json(&call(&s, "search_context", json!({"query": "snippet"})).await);
    assert_eq!(ids(&hits), [work]);
    s.cancel().await.unwrap();

    // Claude Code lines.
    let stdio_line = setup["claude_code"]["stdio"].as_str().unwrap();
    assert!(
        stdio_line
            .starts_with("claude mcp add --transport stdio ctxvault --env CTXVAULT_TOKEN=cvt_")
    );
    assert!(stdio_line.contains(" -- ") && stdio_line.ends_with("mcp --client vscode"));
    let http_line = setup["claude_code"]["http"].as_str().unwrap();
    assert_eq!(
        http_line,
        format!(
            "claude mcp add --transport http ctxvault {} --header 'Authorization: Bearer {token}'",
            agent.url
        )
    );
    // The human form of `client setup --print` gives every app's entries.
    let human = env.ok(&["client", "setup", "vscode", "--for", "vscode", "--print"]);
    for want in [
        "claude_desktop_config.json",
        "claude mcp add --transport stdio",
        "claude mcp add --transport http",
        "~/.cursor/mcp.json",
        ".vscode/mcp.json",
    ] {
        assert!(human.contains(want), "{want} in {human}");
    }
}

/// `ctxvault demo` runs without input, shows each client its slice, and
/// leaves nothing behind (no directory, no agent).
#[test]
fn demo_runs_and_leaves_nothing() {
    let env = Env::new();
    let tmp = env.tmp.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = env
        .cmd(&["demo"])
        .env("TMPDIR", &tmp)
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let after = |q: &str| {
        let i = lines
            .iter()
            .position(|l| l.contains(&format!("-- \"{q}\"")))
            .unwrap();
        lines[i + 1]
    };
    // claude (left) sees no health or finance; local-llm (right) does.
    let (l, r) = after("salary").split_once(" | ").unwrap();
    assert!(
        l.contains("(nothing)") && r.contains("finance:"),
        "{stdout}"
    );
    let (l, r) = after("allergic").split_once(" | ").unwrap();
    assert!(l.contains("(nothing)") && r.contains("health:"), "{stdout}");
    assert!(stdout.contains(
        "claude:    describe_access, get_context, list_namespaces, remember, search_context"
    ));
    assert!(
        stdout.contains("local-llm: describe_access, get_context, list_namespaces, search_context")
    );
    assert!(stdout.contains("remember -> pending in profile"));
    assert!(stdout.contains("claude searching \"launch\" again: (nothing)"));
    assert!(stdout.contains("chain verified"));
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "the demo left files behind"
    );
    assert!(
        !env.vault.exists(),
        "the demo never touches the user's vault"
    );
}

/// The profile resource gathers the `profile` namespace and `preference`
/// items from anywhere the client may read, and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_gathers_preferences_from_readable_namespaces() {
    let env = Env::new();
    env.init();
    let p = person(&env);
    env.add(&[
        "--ns",
        "health",
        "--kind",
        "preference",
        "--sensitivity",
        "private",
        "Prefers morning appointments",
    ]);
    let agent = env.http_agent();
    let token = add_client(&env, "cursor");
    env.ok(&["grant", "cursor", "**"]);
    let s = common::http(&agent.url, &token).await;
    let profile = read(&s, "ctxvault://profile").await.unwrap();
    assert!(profile.contains("Ada Lovelace"), "{profile}");
    assert!(
        profile.contains("concise answers"),
        "a preference in personal/"
    );
    assert!(
        !profile.contains("morning"),
        "a private preference, above the grant: {profile}"
    );
    assert!(!profile.contains("Acme roadmap") && !profile.contains("Salary"));
    s.cancel().await.unwrap();
    let entry = audit_of(&env, "cursor").pop().unwrap();
    let mut seen: Vec<String> = entry["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap().to_owned())
        .collect();
    seen.sort();
    assert_eq!(seen, sorted(vec![p.profile.clone(), p.pref.clone()]));
}
