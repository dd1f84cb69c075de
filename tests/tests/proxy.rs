//! The provider proxy driven by the official `openai` and `anthropic`
//! Python SDKs against local providers that record what they receive: the
//! provider gets the client's context (its grants only, redactions
//! applied) and the provider's key, never the ctxvault token; the SDK gets
//! the provider's answer, streams and usage included; routes switch
//! providers with no change in the app; every refusal is its own clear
//! answer and records no read.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod proxy_upstream;

use ctxvault_tests::{Env, PASS, raw_http};
use proxy_upstream::Upstream;

const KEY_A: &str = "sk-test-upstream-a-9f3e1111";
const KEY_B: &str = "sk-ant-upstream-b-77c42222";
const QUESTION: &str = "When is the Falcon deadline, and what should I drink?";

fn python() -> String {
    std::env::var("CTXVAULT_TEST_PYTHON").expect("CTXVAULT_TEST_PYTHON (run scripts/test.sh)")
}

/// Run the SDK script: what the SDK returned.
async fn sdk(which: &str, base: &str, token: &str) -> serde_json::Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/proxy_sdk_client.py"
    );
    let out = tokio::process::Command::new(python())
        .args([script, which, base, token, QUESTION])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{which} SDK failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The vault the tests share: work, profile and health items; two clients.
fn vault(env: &Env) -> (String, String) {
    env.init();
    env.add(&[
        "--ns",
        "work/falcon",
        "--title",
        "Falcon deadline",
        "The Falcon launch is due on March 3; mail pm@falcon.example with slips",
    ]);
    env.add(&[
        "--ns",
        "profile",
        "--kind",
        "preference",
        "I prefer green tea over coffee in the morning",
    ]);
    env.add(&[
        "--ns",
        "health",
        "--title",
        "zqxhealthtitle",
        "--tag",
        "zqxhealthtag",
        "zqxhealthbody blood pressure",
    ]);
    let a = env.json(&["client", "add", "app-a", "--json"])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = env.json(&["client", "add", "app-b", "--json"])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    env.ok(&["grant", "app-a", "work/**", "--redact", "email"]);
    env.ok(&["grant", "app-a", "profile/**"]);
    env.ok(&["grant", "app-b", "profile/**"]);
    (a, b)
}

fn add_provider(env: &Env, name: &str, kind: &str, url: &str, key: Option<&str>) {
    let mut args = vec!["provider", "add", name, "--kind", kind, "--url", url];
    if key.is_some() {
        args.push("--key-stdin");
    }
    let out = env.run_with(&args, key.map(str::as_bytes), Some(PASS));
    assert_eq!(out.code, 0, "provider add: {}", out.stderr);
}

fn count_audit(env: &Env) -> usize {
    env.json(&["audit", "--json"]).as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdks_reach_their_providers_with_their_own_context() {
    let mut env = Env::new();
    // The agent logs at debug: still no key or token in its log.
    env.vars.push(("CTXVAULT_LOG".into(), "debug".into()));
    let (token_a, token_b) = vault(&env);
    let (up_a, up_b, up_c) = (
        Upstream::start("alpha").await,
        Upstream::start("beta").await,
        Upstream::start("gamma").await,
    );
    add_provider(
        &env,
        "alpha",
        "openai",
        &format!("http://{}/v1", up_a.addr),
        Some(KEY_A),
    );
    add_provider(
        &env,
        "beta",
        "anthropic",
        &format!("http://{}", up_b.addr),
        Some(KEY_B),
    );
    add_provider(
        &env,
        "gamma",
        "openai",
        &format!("http://{}/v1", up_c.addr),
        None,
    );
    env.ok(&["provider", "route", "app-a", "alpha"]);
    env.ok(&["provider", "route", "app-b", "beta"]);
    let agent = env.http_agent_with(&["--proxy", "127.0.0.1:0"]);
    let base = env.status()["proxy"]
        .as_str()
        .expect("status names the proxy")
        .to_owned();

    // app-a through the OpenAI SDK reaches alpha with its grants' context.
    let got = sdk("openai", &base, &token_a).await;
    assert_eq!(got["text"], "Hello from alpha");
    assert_eq!(got["stream_text"], "Hello from alpha");
    assert!(got["stream_chunks"].as_u64().unwrap() >= 3, "{got}");
    let usage =
        serde_json::json!({"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18});
    assert_eq!(got["usage"], usage);
    assert_eq!(got["stream_usage"], usage);
    assert_eq!(got["models"], serde_json::json!(["model-alpha"]));
    assert_eq!(got["context_header"], "injected 2");
    assert_eq!(got["responses_text"], "Hello from alpha");
    assert_eq!(got["responses_usage"], 13);
    let seen = up_a.received();
    assert_eq!(seen.len(), 5, "plain, raw, stream, models and responses");
    let responses = seen[4].json();
    let instructions = responses["instructions"].as_str().unwrap();
    assert!(
        instructions.contains("March 3") && instructions.ends_with("\n\nBe brief."),
        "{instructions}"
    );
    assert_eq!(responses["input"], QUESTION);
    for r in &seen {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {KEY_A}").as_str())
        );
        assert!(
            !r.all_text().contains(&token_a),
            "the ctxvault token reached the provider"
        );
    }
    let chat = seen[0].json();
    assert_eq!(chat["messages"][0]["role"], "system");
    let system = chat["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.contains("March 3") && system.contains("green tea"),
        "{system}"
    );
    assert!(
        !system.contains("pm@falcon.example"),
        "the redaction was not applied: {system}"
    );
    assert_eq!(
        chat["messages"][1]["content"], QUESTION,
        "the app's own messages stay"
    );
    assert_eq!(chat["model"], "test-model");

    // app-b through the Anthropic SDK reaches beta with only its profile.
    let got = sdk("anthropic", &base, &token_b).await;
    assert_eq!(got["text"], "Hello from beta");
    assert_eq!(got["stream_text"], "Hello from beta");
    assert!(got["stream_deltas"].as_u64().unwrap() >= 2, "{got}");
    assert_eq!(
        got["usage"],
        serde_json::json!({"input_tokens": 13, "output_tokens": 5})
    );
    assert_eq!(
        got["stream_usage"],
        serde_json::json!({"input_tokens": 13, "output_tokens": 5})
    );
    let seen = up_b.received();
    assert_eq!(seen.len(), 2);
    for r in &seen {
        assert_eq!(r.header("x-api-key"), Some(KEY_B));
        assert!(r.header("authorization").is_none());
        assert!(
            !r.all_text().contains(&token_b),
            "the ctxvault token reached the provider"
        );
    }
    let plain = seen[0].json();
    let system = plain["system"].as_str().expect("system text");
    assert!(
        system.contains("green tea") && !system.contains("March 3"),
        "{system}"
    );
    assert!(
        system.ends_with("\n\nAnswer briefly."),
        "the app's own system text stays last: {system}"
    );
    let streamed = seen[1].json();
    assert!(streamed["system"].as_str().unwrap().contains("green tea"));

    // Nothing of the health item reached any provider, in any form.
    for r in up_a.received().iter().chain(up_b.received().iter()) {
        let t = r.all_text();
        for hidden in ["zqxhealthtitle", "zqxhealthtag", "zqxhealthbody", "health"] {
            assert!(!t.contains(hidden), "{hidden} reached a provider");
        }
    }

    // Every injection is one audit entry naming provider, model and ids.
    let injects: Vec<serde_json::Value> = env
        .json(&["audit", "--client", "app-a", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "inject")
        .cloned()
        .collect();
    assert_eq!(
        injects.len(),
        4,
        "plain, raw, stream and responses (models read nothing)"
    );
    assert!(
        injects[0]["detail"]
            .as_str()
            .unwrap()
            .contains("provider alpha, model test-model"),
        "{}",
        injects[0]
    );
    assert_eq!(injects[0]["ids"].as_array().unwrap().len(), 2);

    // A revoke applies at the next request.
    let work = env
        .json(&["grants", "app-a", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["scope"] == "work/**")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    env.ok(&["revoke", &work]);
    up_a.clear();
    sdk("openai", &base, &token_a).await;
    let system = up_a.received()[0].json()["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        system.contains("green tea") && !system.contains("March 3"),
        "{system}"
    );

    // One command switches app-a's provider; the app changes nothing.
    env.ok(&["provider", "route", "app-a", "gamma"]);
    up_a.clear();
    let got = sdk("openai", &base, &token_a).await;
    assert_eq!(got["text"], "Hello from gamma");
    assert!(up_a.received().is_empty());
    assert!(
        up_c.received()[0].header("authorization").is_none(),
        "gamma has no key"
    );

    // No key in any file under the vault, nor in any command's output.
    let ls = env.ok(&["provider", "ls"]);
    assert!(ls.contains("…1111") && ls.contains("…2222"), "{ls}");
    let ls_json = env.ok(&["provider", "ls", "--json"]);
    for key in [KEY_A, KEY_B] {
        assert!(!ls.contains(key) && !ls_json.contains(key));
        for f in walk(&env.vault) {
            let bytes = std::fs::read(&f).unwrap_or_default();
            assert!(
                memchr::memmem::find(&bytes, key.as_bytes()).is_none(),
                "{key} in {}",
                f.display()
            );
        }
    }
    drop(agent);
    let log = std::fs::read_to_string(env.agent_log_path()).unwrap();
    assert!(log.contains("provider proxy"), "the agent logged: {log}");
    for secret in [KEY_A, KEY_B, &token_a, &token_b] {
        assert!(!log.contains(secret), "a key or token in the agent's log");
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_is_clear_and_records_no_read() {
    let env = Env::new();
    let (token_a, token_b) = vault(&env);
    let up = Upstream::start("alpha").await;
    let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = gone.local_addr().unwrap().to_string();
    drop(gone);
    add_provider(
        &env,
        "alpha",
        "openai",
        &format!("http://{}/v1", up.addr),
        Some(KEY_A),
    );
    add_provider(
        &env,
        "down",
        "openai",
        &format!("http://{down}/v1"),
        Some(KEY_A),
    );
    add_provider(
        &env,
        "beta",
        "anthropic",
        &format!("http://{}", up.addr),
        Some(KEY_B),
    );
    env.ok(&["provider", "route", "app-b", "alpha", "--fail-closed", "on"]);
    let _agent = env.http_agent_with(&["--proxy", "127.0.0.1:0"]);
    let base = env.status()["proxy"].as_str().unwrap().to_owned();
    let addr = base.trim_start_matches("http://").to_owned();
    let chat = |token: &str, extra: &str, body: &str| {
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let ok_body = r#"{"model":"test-model","messages":[{"role":"user","content":"Falcon?"}]}"#;
    let before = count_audit(&env);
    let cases: Vec<(String, u16, &str)> = vec![
        (
            chat("cvt_wrong", "", ok_body),
            401,
            "unknown or revoked ctxvault client token",
        ),
        (
            chat(&token_a, "", "{not json"),
            400,
            "malformed request body",
        ),
        (chat(&token_a, "", "[1]"), 400, "not a JSON object"),
        (
            chat(&token_a, "x-ctxvault-provider: nobody\r\n", ok_body),
            400,
            "unknown provider \\\"nobody\\\"",
        ),
        (
            chat(&token_a, "x-ctxvault-provider: down\r\n", ok_body),
            502,
            "provider down at",
        ),
        (
            chat(&token_a, "x-ctxvault-provider: beta\r\n", ok_body),
            400,
            "speaks the anthropic API",
        ),
        (
            chat(&token_a, "x-ctxvault-context: everything\r\n", ok_body),
            400,
            "unknown context mode",
        ),
        (
            chat(&token_a, "Origin: https://evil.example\r\n", ok_body),
            403,
            "web pages",
        ),
        (
            chat(
                &token_a,
                "",
                &format!("{{\"pad\":\"{}\"}}", "x".repeat(33 << 20)),
            ),
            413,
            "over 32 MiB",
        ),
        (
            chat(
                &token_a,
                "",
                &ok_body.replace("test-model", "down/test-model"),
            ),
            502,
            "provider down at",
        ),
        (
            chat(&token_a, "", ok_body).replace(&format!("Host: {addr}"), "Host: evil.example"),
            403,
            "Host header",
        ),
        (
            chat(&token_a, "", ok_body).replace(
                "/v1/chat/completions HTTP/1.1",
                &format!("/v1/chat/completions?key={token_a} HTTP/1.1"),
            ),
            400,
            "the URL holds the client token",
        ),
    ];
    for (req, status, needle) in &cases {
        let (got, headers, body) = raw_http(&addr, req);
        assert_eq!(got, *status, "{needle}: {body}");
        assert!(body.contains(needle), "{needle:?} not in {body}");
        assert!(
            headers
                .iter()
                .any(|(k, v)| k == "content-type" && v == "application/json")
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(
            v["error"]["message"].is_string(),
            "OpenAI's error shape: {body}"
        );
    }
    assert!(
        up.received().is_empty(),
        "nothing refused reached the provider"
    );
    // app-a has no route and there is a default (alpha, the first added).
    // The provider's headers come back, less its cookies.
    let (got, headers, _) = raw_http(&addr, &chat(&token_a, "", ok_body));
    assert_eq!(got, 200);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "x-upstream" && v == "kept"),
        "{headers:?}"
    );
    assert!(
        !headers.iter().any(|(k, _)| k == "set-cookie"),
        "{headers:?}"
    );
    assert!(
        up.last().json()["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("March 3")
    );

    assert_eq!(
        count_audit(&env),
        before + 1,
        "only the served request was recorded"
    );
    // A request may ask for less context, never for more than the route.
    let (got, headers, _) = raw_http(
        &addr,
        &chat(&token_a, "x-ctxvault-context: off\r\n", ok_body),
    );
    assert_eq!(got, 200);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "x-ctxvault-context" && v == "off")
    );
    assert_eq!(
        up.last().json()["messages"][0]["role"],
        "user",
        "off adds nothing"
    );
    env.ok(&["provider", "route", "app-a", "--context", "profile"]);
    let (got, _, _) = raw_http(
        &addr,
        &chat(&token_a, "x-ctxvault-context: full\r\n", ok_body),
    );
    assert_eq!(got, 200);
    let system = up.last().json()["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        system.contains("green tea") && !system.contains("March 3"),
        "{system}"
    );
    let before = count_audit(&env);

    // Locked: forwarded without context, or refused for a fail-closed client.
    env.ok(&["lock"]);
    up.clear();
    let (got, headers, _) = raw_http(&addr, &chat(&token_a, "", ok_body));
    assert_eq!(got, 200);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "x-ctxvault-context" && v == "locked"),
        "{headers:?}"
    );
    let sent = up.last().json();
    assert_eq!(
        sent["messages"][0]["role"], "user",
        "no context while locked"
    );
    let (got, _, body) = raw_http(&addr, &chat(&token_b, "", ok_body));
    assert_eq!(got, 503, "{body}");
    assert!(body.contains("app-b is set to fail closed"), "{body}");
    assert_eq!(up.received().len(), 1);
    env.ok(&["unlock"]);
    assert_eq!(count_audit(&env), before, "nothing recorded while locked");
}

/// Ollama's chat and generate, streamed as NDJSON, relayed byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ollama_streams_come_back_byte_for_byte() {
    let env = Env::new();
    let (token_a, _) = vault(&env);
    let up = Upstream::start("llama").await;
    add_provider(
        &env,
        "local",
        "ollama",
        &format!("http://{}", up.addr),
        None,
    );
    env.ok(&["provider", "route", "app-a", "local"]);
    let _agent = env.http_agent_with(&["--proxy", "127.0.0.1:0"]);
    let base = env.status()["proxy"].as_str().unwrap().to_owned();
    let addr = base.trim_start_matches("http://").to_owned();
    // HTTP/1.0: the answer ends with the connection, not in chunks, so the
    // body read is the bytes relayed.
    let post = |path: &str, body: &str| {
        format!(
            "POST {path} HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Bearer {token_a}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let chat = r#"{"model":"llama3","messages":[{"role":"user","content":"Falcon?"}]}"#;
    let (status, headers, body) = raw_http(&addr, &post("/api/chat", chat));
    assert_eq!(status, 200, "{body}");
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "content-type" && v == "application/x-ndjson")
    );
    let want = [
        r#"{"done":false,"message":{"content":"Hello ","role":"assistant"},"model":"test-model"}"#,
        r#"{"done":false,"message":{"content":"from llama","role":"assistant"},"model":"test-model"}"#,
        r#"{"done":true,"eval_count":3,"message":{"content":"","role":"assistant"},"model":"test-model","prompt_eval_count":12}"#,
    ];
    assert_eq!(
        body,
        format!("{}\n", want.join("\n")),
        "the provider's bytes, unchanged"
    );
    let sent = up.last().json();
    assert_eq!(sent["messages"][0]["role"], "system");
    assert!(
        sent["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("March 3")
    );
    assert!(
        up.last().header("authorization").is_none(),
        "no key, no header"
    );

    let generate = r#"{"model":"llama3","prompt":"When is Falcon due?","system":"Be brief."}"#;
    let (status, _, body) = raw_http(&addr, &post("/api/generate", generate));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""response":"from llama""#), "{body}");
    let system = up.last().json()["system"].as_str().unwrap().to_owned();
    assert!(
        system.contains("March 3") && system.ends_with("\n\nBe brief."),
        "{system}"
    );

    let tags = format!(
        "GET /api/tags HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Bearer {token_a}\r\n\r\n"
    );
    let (status, _, body) = raw_http(&addr, &tags);
    assert_eq!(status, 200);
    assert_eq!(body, r#"{"models":[{"name":"model-llama"}]}"#);
}

/// A command, its standard input, and what its error must say.
type Case<'a> = (Vec<&'a str>, Option<&'a [u8]>, &'a str);

/// Bad provider commands: one clear line each, nothing changed.
#[test]
fn provider_commands_refuse_bad_input() {
    let env = Env::new();
    env.init();
    env.ok(&["client", "add", "app"]);
    add_provider(&env, "local", "ollama", "http://127.0.0.1:11434", None);
    let before = env.ok(&["provider", "ls", "--json"]);
    let cases: Vec<Case> = vec![
        (
            vec![
                "provider",
                "add",
                "x",
                "--kind",
                "gemini",
                "--url",
                "https://a.example",
            ],
            None,
            "unknown provider kind \"gemini\"",
        ),
        (
            vec![
                "provider",
                "add",
                "x",
                "--kind",
                "openai",
                "--url",
                "ftp://a.example/v1",
            ],
            None,
            "use an http or https URL",
        ),
        (
            vec![
                "provider",
                "add",
                "x",
                "--kind",
                "openai",
                "--url",
                "not a url",
            ],
            None,
            "invalid provider URL",
        ),
        (
            vec![
                "provider",
                "add",
                "x",
                "--kind",
                "openai",
                "--url",
                "https://u:p@a.example/v1",
            ],
            None,
            "holds a user name or password",
        ),
        (
            vec![
                "provider",
                "add",
                "x",
                "--kind",
                "openai",
                "--url",
                "https://a.example/v1?k=1",
            ],
            None,
            "has a query or fragment",
        ),
        (
            vec![
                "provider",
                "add",
                "x",
                "--kind",
                "openai",
                "--url",
                "http://a.example/v1",
                "--key-stdin",
            ],
            Some(b"sk-abcdefghijklmnop"),
            "in the clear; use https",
        ),
        (
            vec![
                "provider",
                "add",
                "x",
                "--kind",
                "openai",
                "--url",
                "https://a.example/v1",
                "--key-stdin",
            ],
            Some(b"sk with spaces"),
            "holds spaces",
        ),
        (
            vec![
                "provider",
                "add",
                "x",
                "--kind",
                "openai",
                "--url",
                "https://a.example/v1",
                "--key-stdin",
            ],
            Some(b""),
            "no API key on standard input",
        ),
        (
            vec![
                "provider",
                "add",
                "x",
                "--kind",
                "openai",
                "--url",
                "https://a.example/v1",
                "--key-env",
                "CTXVAULT_NO_SUCH_VAR",
            ],
            None,
            "CTXVAULT_NO_SUCH_VAR is not set",
        ),
        (
            vec![
                "provider",
                "add",
                "Bad Name",
                "--kind",
                "openai",
                "--url",
                "https://a.example/v1",
            ],
            None,
            "invalid provider name",
        ),
        (
            vec![
                "provider",
                "add",
                "local",
                "--kind",
                "ollama",
                "--url",
                "http://127.0.0.1:11434",
            ],
            None,
            "already exists; pass --replace",
        ),
        (
            vec!["provider", "rm", "nobody"],
            None,
            "unknown provider \"nobody\"",
        ),
        (
            vec!["provider", "set-default", "nobody"],
            None,
            "unknown provider \"nobody\"",
        ),
        (
            vec!["provider", "route", "app", "nobody"],
            None,
            "unknown provider \"nobody\"",
        ),
        (
            vec!["provider", "route", "ghost", "local"],
            None,
            "unknown client \"ghost\"",
        ),
        (
            vec!["provider", "route", "app", "--context", "all"],
            None,
            "unknown context mode \"all\"",
        ),
        (
            vec!["provider", "route", "app", "--fail-closed", "yes"],
            None,
            "use on or off",
        ),
    ];
    for (args, stdin, needle) in cases {
        let o = env.run_with(&args, stdin, Some(PASS));
        assert_ne!(o.code, 0, "{args:?} should fail");
        if needle.contains("unknown provider kind")
            || needle.contains("use on or off")
            || needle.contains("unknown context mode")
        {
            // clap's own usage error, naming the value and the choices.
            assert!(o.stderr.contains(needle), "{needle:?} not in {}", o.stderr);
        } else {
            ctxvault_tests::assert_one_line_error(&o.stderr, needle);
        }
    }
    assert_eq!(
        env.ok(&["provider", "ls", "--json"]),
        before,
        "nothing changed"
    );
    // `client add` says how an app reaches the proxy with its token.
    let out = env.ok(&["client", "add", "other"]);
    assert!(
        out.contains("http://127.0.0.1:7411/v1") && out.contains("ANTHROPIC_BASE_URL"),
        "{out}"
    );
    let json = env.json(&["client", "add", "third", "--json"]);
    assert_eq!(json["proxy"]["openai_base_url"], "http://127.0.0.1:7411/v1");
}
