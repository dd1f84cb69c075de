//! MCP over stdio with rmcp's client: `ctxvault mcp --client NAME` as a
//! child process, every tool, results exactly as the grants allow, a revoke
//! and a lock applied to the open session, and every call audited.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{call, json, text};
use ctxvault_tests::{Env, PASS, bin};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tool_over_stdio_within_the_grants() {
    let env = Env::new();
    env.init();
    let work = env.add(&[
        "--ns",
        "work/acme",
        "--title",
        "Roadmap",
        "Acme roadmap: mail ann@acme.com about the launch",
    ]);
    let health = env.add(&[
        "--ns",
        "health",
        "--sensitivity",
        "private",
        "Allergic to penicillin; launch party food",
    ]);
    let token = env.json(&["client", "add", "claude", "--json"])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let grant = env
        .ok(&["grant", "claude", "work/**", "--redact", "email"])
        .trim()
        .to_owned();

    let s = common::stdio(&env, "claude", &token).await;
    let info = s.peer_info().unwrap();
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("ctxvault")
    );
    assert!(
        info.instructions
            .as_deref()
            .unwrap_or("")
            .contains("context vault")
    );
    let tools = common::tool_names(&s).await;
    for t in [
        "search_context",
        "get_context",
        "list_namespaces",
        "describe_access",
    ] {
        assert!(tools.contains(&t.to_owned()), "{tools:?}");
    }

    let hits = json(&call(&s, "search_context", serde_json::json!({"query": "launch"})).await);
    assert_eq!(hits.as_array().unwrap().len(), 1, "{hits}");
    assert_eq!(hits[0]["id"], work.as_str());
    assert!(
        hits[0]["snippet"].as_str().unwrap().contains("[email]"),
        "redacted: {hits}"
    );

    let item = json(&call(&s, "get_context", serde_json::json!({"id": work})).await);
    assert_eq!(item["body"], "Acme roadmap: mail [email] about the launch");
    let hidden = call(&s, "get_context", serde_json::json!({"id": health})).await;
    assert_eq!(hidden.is_error, Some(true));
    assert_eq!(
        text(&hidden),
        format!("no item {health}"),
        "hidden reads as absent"
    );

    let ns = json(&call(&s, "list_namespaces", serde_json::json!({})).await);
    assert_eq!(
        ns,
        serde_json::json!([{"namespace": "work/acme", "items": 1}])
    );
    let access = json(&call(&s, "describe_access", serde_json::json!({})).await);
    assert_eq!(access["client"], "claude");
    assert_eq!(access["actions"], serde_json::json!(["read"]));

    // A bad argument is a tool error the model can read.
    let bad = call(
        &s,
        "search_context",
        serde_json::json!({"query": "x", "namespace": "Work//X"}),
    )
    .await;
    assert_eq!(bad.is_error, Some(true));
    assert!(text(&bad).contains("invalid namespace"));

    // A revoke applies to this open session's next call.
    env.ok(&["revoke", &grant]);
    let after = json(&call(&s, "search_context", serde_json::json!({"query": "launch"})).await);
    assert_eq!(after, serde_json::json!([]));

    // Locked: a clear tool error; after unlock the same session works again.
    env.ok(&["grant", "claude", "work/**"]);
    env.ok(&["lock"]);
    for (tool, args) in [
        ("search_context", serde_json::json!({"query": "launch"})),
        ("get_context", serde_json::json!({"id": work})),
        ("list_namespaces", serde_json::json!({})),
        ("describe_access", serde_json::json!({})),
    ] {
        let locked = call(&s, tool, args).await;
        assert_eq!(locked.is_error, Some(true), "{tool}");
        assert_eq!(text(&locked), "vault is locked: run `ctxvault unlock`");
    }
    let o = env.run_with(
        &["unlock", "--passphrase-stdin"],
        Some(format!("{PASS}\n").as_bytes()),
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let again = json(&call(&s, "search_context", serde_json::json!({"query": "launch"})).await);
    assert_eq!(again[0]["id"], work.as_str());

    s.cancel().await.unwrap();
    // Every read made for the client is on the record. Not recorded: the
    // malformed argument (refused before any read) and the call made while
    // locked (no key to seal an entry with; nothing was read).
    let audit = env.json(&["audit", "--client", "claude", "--json"]);
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "search",
            "get",
            "get",
            "describe-access",
            "describe-access",
            "search",
            "search"
        ],
        "{audit}"
    );
    env.ok(&["audit", "verify"]);
}

#[test]
fn mcp_without_a_token_names_the_fix() {
    let env = Env::new();
    env.init();
    let o = env.run_with(&["mcp", "--client", "claude"], None, None);
    assert_ne!(o.code, 0);
    ctxvault_tests::assert_one_line_error(&o.stderr, "CTXVAULT_TOKEN is not set");
}

/// Run a script of `tests/support` with the Python that has the official MCP
/// SDK, as the client holding `token`; its JSON output.
fn sdk_script(env: &Env, token: &str, args: &[&str]) -> serde_json::Value {
    ctxvault_tests::python_client(env, token, args)
}

/// The same flow, driven by the official MCP Python SDK (installed by
/// `scripts/test.sh`), over stdio and over the agent's HTTP endpoint.
#[test]
fn official_python_sdk_over_stdio_and_http() {
    let env = Env::new();
    env.init();
    let work = env.add(&[
        "--ns",
        "work/acme",
        "Acme launch plan, call +1 555 123 4567",
    ]);
    let health = env.add(&["--ns", "health", "launch day allergy note"]);
    let agent = env.http_agent();
    let token = env.json(&["client", "add", "cursor", "--json"])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    env.ok(&["grant", "cursor", "work/**", "--redact", "phone"]);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/mcp_sdk_client.py"
    );
    let binary = bin();
    for url in [None, Some(agent.url.as_str())] {
        let before = env
            .json(&["audit", "--client", "cursor", "--json"])
            .as_array()
            .unwrap()
            .len();
        let mut args = vec![script, binary.to_str().unwrap(), "cursor", &work, &health];
        args.extend(url);
        let seen = sdk_script(&env, &token, &args);
        assert_eq!(seen["server"], "ctxvault");
        assert_eq!(
            seen["tools"],
            serde_json::json!([
                "describe_access",
                "get_context",
                "list_namespaces",
                "search_context"
            ])
        );
        assert_eq!(
            seen["schemas"]["search_context"]["required"],
            serde_json::json!(["query"])
        );
        assert_eq!(seen["search"].as_array().unwrap().len(), 1);
        assert_eq!(seen["search"][0]["id"], work.as_str());
        assert_eq!(seen["get"]["body"], "Acme launch plan, call [phone]");
        assert_eq!(seen["hidden"]["is_error"], true);
        assert_eq!(seen["hidden"]["text"], format!("no item {health}"));
        assert_eq!(
            seen["namespaces"],
            serde_json::json!([{"namespace": "work/acme", "items": 1}])
        );
        assert_eq!(seen["access"]["client"], "cursor");
        assert_eq!(
            seen["resources"],
            serde_json::json!(["ctxvault://item/".to_owned() + &work, "ctxvault://profile"])
        );
        assert!(seen["resource_text"].as_str().unwrap().contains("[phone]"));
        let prompt = seen["prompt"].as_str().unwrap();
        assert!(prompt.contains("Acme launch plan") && !prompt.contains("allergy"));
        let after = env
            .json(&["audit", "--client", "cursor", "--json"])
            .as_array()
            .unwrap()
            .len();
        assert_eq!(
            after - before,
            8,
            "{url:?}: one entry per tool call, resource list or read, and prompt"
        );
    }
}

/// The official Python SDK negotiates its newest protocol version and an
/// older one, over stdio and HTTP, and on each sees tool titles,
/// annotations and structured results that match the text.
#[test]
fn python_sdk_negotiates_versions_and_sees_annotations_and_structure() {
    let env = Env::new();
    env.init();
    let work = env.add(&["--ns", "work/acme", "Acme launch plan"]);
    let agent = env.http_agent();
    let token = env.json(&["client", "add", "cursor", "--json"])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    env.ok(&["grant", "cursor", "work/**", "--allow", "read,propose"]);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/mcp_sdk_versions.py"
    );
    let binary = bin();
    for (version, expect) in [("newest", "2026-07-28"), ("2025-03-26", "2025-03-26")] {
        for url in [None, Some(agent.url.as_str())] {
            let mut args = vec![script, binary.to_str().unwrap(), "cursor", &work, version];
            args.extend(url);
            let at = format!("{version} over {}", url.unwrap_or("stdio"));
            let seen = sdk_script(&env, &token, &args);
            assert_eq!(seen["negotiated"], expect, "{at}");
            let tools = &seen["tools"];
            for read in [
                "search_context",
                "get_context",
                "list_namespaces",
                "describe_access",
            ] {
                assert_eq!(tools[read]["read_only"], true, "{at}: {read}");
                assert!(tools[read]["title"].is_string(), "{at}: {read}");
            }
            assert_eq!(tools["remember"]["read_only"], false, "{at}");
            assert_eq!(tools["remember"]["destructive"], false, "{at}");
            assert_eq!(tools["remember"]["idempotent"], false, "{at}");
            assert_eq!(tools["search_context"]["output_schema"], true, "{at}");
            assert_eq!(tools["get_context"]["output_schema"], true, "{at}");
            let results = seen["search"]["results"].as_array().unwrap();
            assert_eq!(results.len(), 1, "{at}");
            assert_eq!(results[0]["id"], work.as_str(), "{at}");
            let text: serde_json::Value =
                serde_json::from_str(seen["search_text"].as_str().unwrap()).unwrap();
            assert_eq!(&text, &seen["search"]["results"], "{at}: text matches");
            assert_eq!(seen["get"]["body"], "Acme launch plan", "{at}");
            assert_eq!(seen["get"]["source"], "user", "{at}");
        }
    }
}

/// The token can live in a 0600 file that the setup lines name, so it is
/// on no command line, in no shell history and in no client config.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_file_keeps_the_token_off_command_lines() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.init();
    env.add(&["--ns", "notes", "the token file works"]);
    let file = env.tmp.path().join("claude.token");
    let out = env.ok(&[
        "client",
        "add",
        "claude",
        "--token-file",
        file.to_str().unwrap(),
    ]);
    env.ok(&["grant", "claude", "**"]);
    let token = std::fs::read_to_string(&file).unwrap().trim().to_owned();
    assert!(token.len() > 20);
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(!out.contains(&token), "the token is not printed: {out}");
    let line = out
        .lines()
        .find(|l| l.contains("claude mcp add --transport stdio"))
        .unwrap();
    assert!(
        line.contains("--token-file") && !line.contains("CTXVAULT_TOKEN"),
        "{line}"
    );

    let serve = |f: &std::path::Path| {
        let mut cmd = tokio::process::Command::new(ctxvault_tests::bin());
        cmd.args([
            "mcp",
            "--client",
            "claude",
            "--token-file",
            f.to_str().unwrap(),
        ])
        .env("CTXVAULT_HOME", &env.vault)
        .env("CTXVAULT_RUNTIME_DIR", &env.runtime)
        .env_remove("CTXVAULT_TOKEN")
        .env_remove("CTXVAULT_PASSPHRASE");
        cmd
    };
    let (transport, _) = rmcp::transport::TokioChildProcess::builder(serve(&file))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let s = rmcp::ServiceExt::serve((), transport).await.unwrap();
    let hits = common::json(
        &common::call(
            &s,
            "search_context",
            serde_json::json!({"query": "token file"}),
        )
        .await,
    );
    assert_eq!(hits.as_array().map(Vec::len), Some(1), "{hits}");
    drop(s);

    // A token file others can read is refused.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = serve(&file).output().await.unwrap();
    assert!(!o.status.success());
    ctxvault_tests::assert_one_line_error(
        &String::from_utf8_lossy(&o.stderr),
        "can be read by others (mode 644): run `chmod 600",
    );
}

/// No tool's input schema has a nullable type array (`["string", "null"]`),
/// which strict (Gemini-style) schema readers warn about: optional
/// arguments are typed plainly and left out of `required`. A client that
/// leaves them out, or sends null, is served the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_schemas_have_no_nullable_types() {
    let env = Env::new();
    env.init();
    env.add(&["--ns", "work", "the quarterly plan"]);
    let token = common::add_client(&env, "strict");
    env.ok(&["grant", "strict", "work/**", "--allow", "read,propose"]);
    let s = common::stdio(&env, "strict", &token).await;
    let tools = s.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "search_context"));
    fn nullable(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Object(m) => {
                m.get("type").is_some_and(|t| t.is_array()) || m.values().any(nullable)
            }
            serde_json::Value::Array(a) => a.iter().any(nullable),
            _ => false,
        }
    }
    for t in &tools {
        let schema = serde_json::Value::Object((*t.input_schema).clone());
        assert!(!nullable(&schema), "{}: {schema}", t.name);
        let required = schema["required"].as_array().cloned().unwrap_or_default();
        if t.name == "search_context" {
            assert_eq!(required, [serde_json::json!("query")], "{schema}");
            assert_eq!(schema["properties"]["limit"]["type"], "integer", "{schema}");
        }
    }
    for args in [
        serde_json::json!({"query": "plan"}),
        serde_json::json!({"query": "plan", "namespace": null, "tags": null, "limit": null}),
    ] {
        let hits = common::json(&common::call(&s, "search_context", args).await);
        assert_eq!(hits.as_array().map(Vec::len), Some(1), "{hits}");
    }
    s.cancel().await.unwrap();
}

/// The prompt's topic finds what search_context finds: a match that is
/// also a profile item is named under the topic, not left out as if
/// nothing matched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prompt_topic_finds_what_search_finds() {
    let env = Env::new();
    env.init();
    env.add(&[
        "--ns",
        "profile",
        "--kind",
        "preference",
        "I prefer green tea in the morning",
    ]);
    env.add(&["--ns", "work", "Tea tasting with the Acme team on Friday"]);
    let token = common::add_client(&env, "asker");
    env.ok(&["grant", "asker", "profile/**"]);
    env.ok(&["grant", "asker", "work/**"]);
    let s = common::stdio(&env, "asker", &token).await;
    let found = common::json(
        &common::call(&s, "search_context", serde_json::json!({"query": "tea"})).await,
    );
    assert_eq!(found.as_array().map(Vec::len), Some(2), "{found}");
    let mut args = serde_json::Map::new();
    args.insert("topic".into(), serde_json::json!("tea"));
    let got = s
        .get_prompt(
            rmcp::model::GetPromptRequestParams::new("personal-context").with_arguments(args),
        )
        .await
        .unwrap();
    let text = serde_json::to_string(&got.messages).unwrap();
    let related = text.split("Related to").nth(1).expect("a topic section");
    assert!(!related.contains("Nothing shared matches"), "{text}");
    assert!(
        related.contains("I prefer green tea in the morning (above)"),
        "{text}"
    );
    assert!(related.contains("Tea tasting with the Acme team"), "{text}");
    s.cancel().await.unwrap();
}
