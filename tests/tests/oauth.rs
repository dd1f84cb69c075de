//! OAuth for hosted assistants (`daemon --http ADDR --public-url URL`): the
//! full flow driven by the official MCP Python SDK's OAuth client, the
//! attacks the specs name, each refused with the spec's error, and a
//! connector held to the same policy as any client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use ctxvault_tests::console::Raw;
use ctxvault_tests::oauth::{
    REDIRECT, VERIFIER, approved_code, authorize, code_of, exchange, get, get_with, good_params,
    header, mcp_status, post, public_vault, register, sent_back, token, waiting,
};
use ctxvault_tests::{Env, raw_http};
use serde_json::Value;

#[test]
fn the_official_python_sdk_connects_with_oauth() {
    let mut env = Env::new();
    // Access tokens live 6 s, so that the SDK refreshes within the test.
    env.vars
        .push(("CTXVAULT_TEST_OAUTH_ACCESS_MS".into(), "6000".into()));
    let agent = public_vault(&mut env);
    let url = agent.url.clone();
    let mut py = Command::new(ctxvault_tests::python());
    let base = env.cmd(&[]);
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => py.env(k, v),
            None => py.env_remove(k),
        };
    }
    let out = py
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/oauth_sdk_client.py"
        ))
        .args([&url, REDIRECT])
        .arg(ctxvault_tests::bin())
        .args(["work/**", "Acme"])
        .output()
        .expect("python with the `mcp` package (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let seen = r["seen"].to_string();
    for step in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-authorization-server",
        "/register",
        "/token",
    ] {
        assert!(seen.contains(step), "the SDK went through {step}: {seen}");
    }
    assert!(r["tools"].to_string().contains("search_context"), "{r}");
    // Exactly the chosen grant: work only, the phone redacted.
    for round in ["first", "second"] {
        let text = r[round].to_string();
        assert!(text.contains("Acme launch plan"), "{round}: {text}");
        assert!(!text.contains("555 123 4567"), "redacted: {text}");
        assert!(
            !text.contains("penicillin") && !text.contains("birthday"),
            "{text}"
        );
    }
    // The second round came after a refresh: new tokens, rotated.
    assert!(r["tokens_given"].as_u64().unwrap() >= 2, "{r}");
    let refresh = r["refresh_tokens"].as_array().unwrap();
    assert_ne!(refresh[0], refresh[1]);
    assert!(
        r["after_revoke"].as_str().unwrap().starts_with("refused"),
        "{r}"
    );
    // The revoked access token is refused at the door.
    let last = r["access_tokens"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap();
    assert_eq!(mcp_status(&agent.addr, last), 401);
    // The connector's calls are on the record as that client, over HTTP.
    let client = r["client"].as_str().unwrap();
    assert_eq!(client, "hosted-assistant");
    let audit = env.json(&["audit", "--client", client, "--json"]);
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"search"), "{actions:?}");
    assert!(actions.contains(&"connector-token"), "{actions:?}");
    let all = env.ok(&["audit"]);
    assert!(
        all.contains("connector-approve") && all.contains("connector-revoke"),
        "{all}"
    );
    // A replayed refresh token (the first, rotated away) is refused.
    let (s, v) = token(
        &agent.addr,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh[0].as_str().unwrap()),
            ("client_id", "any"),
        ],
    );
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")));
}

#[test]
fn attacks_are_refused_with_the_specs_errors() {
    let mut env = Env::new();
    let agent = public_vault(&mut env);
    let addr = agent.addr.clone();
    let resource = agent.url.clone();
    // Discovery: the 401 points to the metadata, which names this URL.
    let (s, h, _) = raw_http(
        &addr,
        &format!(
            "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!(s, 401);
    let www = header(&h, "www-authenticate").unwrap();
    assert!(
        www.contains(&format!(
            "resource_metadata=\"http://{addr}/.well-known/oauth-protected-resource/mcp\""
        )),
        "{www}"
    );
    let (_, _, prm) = get(&addr, "/.well-known/oauth-protected-resource/mcp");
    let prm: Value = serde_json::from_str(&prm).unwrap();
    assert_eq!(prm["resource"], resource.as_str());
    let (_, _, asm) = get(&addr, "/.well-known/oauth-authorization-server");
    let asm: Value = serde_json::from_str(&asm).unwrap();
    assert_eq!(asm["issuer"], format!("http://{addr}"));
    assert_eq!(
        asm["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    // A foreign Host is refused.
    let (s, _, _) = raw_http(
        &addr,
        "GET /.well-known/oauth-authorization-server HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(s, 403);

    let a = register(&addr, "Client A");
    let b = register(&addr, "Client B");

    // A wrong redirect URI: an error page, never a redirect there.
    let mut p = good_params(&a, &resource);
    p[2] = ("redirect_uri", "https://evil.example/cb");
    let (s, loc) = authorize(&addr, &p);
    assert_eq!((s, loc.as_str()), (400, ""));
    // A client no one approved is never redirected to, even with an
    // error (its registration is anyone's: no open redirect).
    let mut p = good_params(&a, &resource);
    p[5] = ("code_challenge_method", "plain");
    let (s, loc) = authorize(&addr, &p);
    assert_eq!((s, loc.as_str()), (400, ""));

    // Approval from the public side: there is no way to give it.
    let w = waiting(&addr, &a, &resource);
    let (s, _) = post(
        &addr,
        &w.path,
        "application/x-www-form-urlencoded",
        "approve=1",
        "",
    );
    assert_eq!(s, 405, "the wait page takes no decision");
    for path in [
        "/approve",
        "/connector/approve",
        "/connectors/approve",
        "/consent",
        "/items",
    ] {
        let (s, _) = post(
            &addr,
            path,
            "application/x-www-form-urlencoded",
            "code=x",
            "",
        );
        assert_eq!(s, 404, "{path}");
    }
    // Another browser polling the wait page learns nothing, before or
    // after the approval.
    let (s, _, page) = get(&addr, &w.path);
    assert_eq!(s, 403);
    assert!(!page.contains(&w.code), "{page}");
    let (_, _, page) = get_with(&addr, &w.path, Some(&w.cookie));
    assert!(page.contains("Waiting for approval"));
    // A code the user never saw cannot be approved.
    let e = env.fails(&["connector", "approve", "BBBB-BBBB", "--grant", "work/**"]);
    assert!(e.contains("no connector waits for approval"), "{e}");
    env.ok(&["connector", "approve", &w.code, "--grant", "work/**"]);
    let (s, h, _) = get(&addr, &w.path);
    assert_eq!((s, header(&h, "location")), (403, None));
    let code = code_of(&sent_back(&addr, &w));
    assert_eq!(exchange(&addr, &a, &code).0, 200);

    // Once approved, errors go back to the client: plain PKCE is
    // invalid_request, another resource invalid_target.
    let mut p = good_params(&a, &resource);
    p[5] = ("code_challenge_method", "plain");
    let (s, loc) = authorize(&addr, &p);
    assert_eq!(s, 303);
    assert!(
        loc.starts_with(REDIRECT) && loc.contains("error=invalid_request"),
        "{loc}"
    );
    let mut p = good_params(&a, &resource);
    p[6] = ("resource", "https://other.example/mcp");
    let (_, loc) = authorize(&addr, &p);
    assert!(loc.contains("error=invalid_target"), "{loc}");

    let code = approved_code(&env, &addr, &a, &resource, &["--grant", "work/**"]);
    // A code for another client.
    let (s, v) = exchange(&addr, &b, &code);
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("invalid_grant")),
        "{v}"
    );
    let code = approved_code(&env, &addr, &a, &resource, &["--grant", "work/**"]);
    // A missing verifier, then a wrong one.
    let (_, v) = token(
        &addr,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &a),
            ("redirect_uri", REDIRECT),
        ],
    );
    assert_eq!(v["error"], "invalid_request", "{v}");
    let code = approved_code(&env, &addr, &a, &resource, &["--grant", "work/**"]);
    let (_, v) = token(
        &addr,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &a),
            ("code_verifier", &"x".repeat(43)),
        ],
    );
    assert_eq!(v["error"], "invalid_grant", "{v}");
    // A token for another resource.
    let code = approved_code(&env, &addr, &a, &resource, &["--grant", "work/**"]);
    let (_, v) = token(
        &addr,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &a),
            ("code_verifier", VERIFIER),
            ("resource", "https://other.example/mcp"),
        ],
    );
    assert_eq!(v["error"], "invalid_target", "{v}");

    // A good exchange, then the same code again: refused, and the tokens
    // the first use gave are revoked.
    let code = approved_code(&env, &addr, &a, &resource, &["--grant", "work/**"]);
    let (s, v) = exchange(&addr, &a, &code);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["token_type"], "Bearer");
    let access = v["access_token"].as_str().unwrap().to_owned();
    assert_eq!(mcp_status(&addr, &access), 200);
    // A replay without the verifier neither works nor revokes anything.
    let wrong = "y".repeat(43);
    let (_, v) = token(
        &addr,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &a),
            ("code_verifier", &wrong),
        ],
    );
    assert_eq!(v["error"], "invalid_grant", "{v}");
    assert_eq!(
        mcp_status(&addr, &access),
        200,
        "a wrong verifier revokes nothing"
    );
    let (_, v) = exchange(&addr, &a, &code);
    assert_eq!(v["error"], "invalid_grant", "{v}");
    assert_eq!(mcp_status(&addr, &access), 401, "revoked with its code");

    // A refresh token used twice revokes the family.
    let code = approved_code(&env, &addr, &a, &resource, &["--grant", "work/**"]);
    let (_, v) = exchange(&addr, &a, &code);
    let r1 = v["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |t: &str| {
        token(
            &addr,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", t),
                ("client_id", &a),
            ],
        )
    };
    let (s, v) = refresh(&r1);
    assert_eq!(s, 200, "{v}");
    let r2 = v["refresh_token"].as_str().unwrap().to_owned();
    let access = v["access_token"].as_str().unwrap().to_owned();
    assert_eq!(mcp_status(&addr, &access), 200);
    // The current refresh token, presented by another client.
    let (_, v) = token(
        &addr,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &r2),
            ("client_id", &b),
        ],
    );
    assert_eq!(v["error"], "invalid_grant", "{v}");
    let (_, v) = refresh(&r1);
    assert_eq!(v["error"], "invalid_grant", "{v}");
    let (_, v) = refresh(&r2);
    assert_eq!(v["error"], "invalid_grant", "the family is revoked: {v}");
    assert_eq!(mcp_status(&addr, &access), 401);

    // The connector gives up its tokens (RFC 7009): an access token, then
    // the refresh token, which ends the family. Another client's attempt,
    // and an unknown token, change nothing.
    let code = approved_code(&env, &addr, &a, &resource, &["--grant", "work/**"]);
    let (_, v) = exchange(&addr, &a, &code);
    let (access, refresh_token) = (
        v["access_token"].as_str().unwrap().to_owned(),
        v["refresh_token"].as_str().unwrap().to_owned(),
    );
    let give_up = |t: &str, client: &str| {
        post(
            &addr,
            "/revoke",
            "application/x-www-form-urlencoded",
            &format!("token={t}&client_id={client}"),
            "",
        )
        .0
    };
    assert_eq!(give_up(&access, &b), 200);
    assert_eq!(give_up("cva_unknown", &a), 200);
    assert_eq!(
        mcp_status(&addr, &access),
        200,
        "another client's revocation is ignored"
    );
    assert_eq!(give_up(&access, &a), 200);
    assert_eq!(mcp_status(&addr, &access), 401);
    let (s, v) = refresh(&refresh_token);
    assert_eq!(s, 200, "{v}");
    let access = v["access_token"].as_str().unwrap().to_owned();
    let refresh_token = v["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(give_up(&refresh_token, &a), 200);
    assert_eq!(mcp_status(&addr, &access), 401, "the family ended");
    assert_eq!(refresh(&refresh_token).1["error"], "invalid_grant");

    // An expired code (the test lifetime is 5 s).
    let code = approved_code(&env, &addr, &a, &resource, &["--grant", "work/**"]);
    std::thread::sleep(std::time::Duration::from_millis(5100));
    let (_, v) = exchange(&addr, &a, &code);
    assert_eq!(v["error"], "invalid_grant", "{v}");

    // A locked vault: the exchange waits (503), and the code still works
    // after the unlock.
    let code = approved_code(&env, &addr, &a, &resource, &["--grant", "work/**"]);
    env.ok(&["lock"]);
    let (s, v) = exchange(&addr, &a, &code);
    assert_eq!(
        (s, v["error"].as_str()),
        (503, Some("temporarily_unavailable")),
        "{v}"
    );
    env.ok(&["unlock"]);
    let (s, v) = exchange(&addr, &a, &code);
    assert_eq!(s, 200, "{v}");
    let access = v["access_token"].as_str().unwrap().to_owned();
    assert_eq!(mcp_status(&addr, &access), 200);

    // Tokens are for this resource: served at another public URL, the
    // same agent refuses them.
    let port = addr.rsplit(':').next().unwrap();
    env.ok(&["http", "off"]);
    env.ok(&[
        "http",
        "on",
        &addr,
        "--public-url",
        &format!("http://localhost:{port}"),
    ]);
    assert_eq!(
        mcp_status(&addr, &access),
        401,
        "a token for another resource"
    );
    env.ok(&["http", "off"]);
    env.ok(&[
        "http",
        "on",
        &addr,
        "--public-url",
        &format!("http://{addr}"),
    ]);
    assert_eq!(mcp_status(&addr, &access), 200);

    // A token request that is not a form gets the spec's JSON error.
    let (s, body) = post(
        &addr,
        "/token",
        "application/json",
        "{\"grant_type\":\"refresh_token\"}",
        "",
    );
    assert_eq!(s, 400);
    assert!(body.contains("\"error\":\"invalid_request\""), "{body}");

    // Unsupported grant types and registrations the spec refuses.
    let (_, v) = token(&addr, &[("grant_type", "password"), ("client_id", &a)]);
    assert_eq!(v["error"], "unsupported_grant_type");
    let (s, body) = post(
        &addr,
        "/register",
        "application/json",
        r#"{"redirect_uris":["http://evil.example/cb"]}"#,
        "",
    );
    assert_eq!(s, 400);
    assert!(body.contains("invalid_redirect_uri"), "{body}");
    // A registration flood beyond the bound (10 a minute; two made above).
    let mut refused = None;
    for i in 0..12 {
        let (s, body) = post(
            &addr,
            "/register",
            "application/json",
            &serde_json::json!({ "client_name": format!("flood {i}"), "redirect_uris": [REDIRECT] })
                .to_string(),
            "",
        );
        if s != 201 {
            refused = Some((i, s, body));
            break;
        }
    }
    let (i, s, body) = refused.expect("the flood is stopped");
    assert!(i <= 8 && s == 429, "{i} {s} {body}");
    assert!(body.contains("temporarily_unavailable"), "{body}");
    // Nothing was granted beyond the one client the approvals made; its
    // removal stops its tokens at once.
    let clients = env.json(&["client", "ls", "--json"]);
    assert_eq!(clients.as_array().unwrap().len(), 1, "{clients}");
    env.ok(&["client", "rm", "client-a"]);
    assert_eq!(mcp_status(&addr, &access), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connector_is_denied_approved_and_revoked_in_the_console() {
    let mut env = Env::new();
    let agent = public_vault(&mut env);
    let (addr, resource) = (agent.addr.clone(), agent.url.clone());
    let console = Raw::login(&env);
    let a = register(&addr, "Console Friend");

    // Denied: sent back with access_denied.
    let w = waiting(&addr, &a, &resource);
    let (_, _, page) = console.get("/connectors");
    assert!(
        page.contains(&w.code) && page.contains("Console Friend"),
        "{page}"
    );
    assert_eq!(
        console.post("/connectors/deny", &[("code", &w.code)]).0,
        303
    );
    assert!(sent_back(&addr, &w).contains("error=access_denied"));
    assert!(
        env.json(&["client", "ls", "--json"])
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Approved from the console's form, with a mask.
    let w = waiting(&addr, &a, &resource);
    let form = [
        ("code", w.code.as_str()),
        ("scopes", "work/**"),
        ("allow", "read"),
        ("max_sensitivity", "normal"),
        ("redact", "phone"),
    ];
    assert_eq!(console.post("/connectors/approve", &form).0, 303);
    let (s, v) = exchange(&addr, &a, &code_of(&sent_back(&addr, &w)));
    assert_eq!(s, 200, "{v}");
    let access = v["access_token"].as_str().unwrap().to_owned();
    // It reads its grant only, masked, like any client.
    let session = common::http(&agent.url, &access).await;
    let r = common::call(
        &session,
        "search_context",
        serde_json::json!({ "query": "Acme" }),
    )
    .await;
    let text = common::text(&r);
    assert!(text.contains("Acme launch plan"), "{text}");
    assert!(!text.contains("555 123 4567"), "{text}");
    assert!(
        !text.contains("penicillin") && !text.contains("birthday"),
        "{text}"
    );
    let (_, _, page) = console.get("/connectors");
    assert!(
        page.contains("console-friend") && page.contains("1 live"),
        "{page}"
    );
    let audit = env.ok(&["audit"]);
    for action in [
        "connector-deny",
        "connector-approve",
        "connector-token",
        "search",
    ] {
        assert!(audit.contains(action), "{action}: {audit}");
    }

    // Revoked in the console: the next call is refused.
    let (s, _, _) = console.post("/connectors/console-friend/revoke", &[]);
    assert_eq!(s, 303);
    let r = session
        .call_tool(rmcp::model::CallToolRequestParams::new("search_context"))
        .await;
    assert!(r.is_err(), "a revoked connector's session is refused");
    assert_eq!(mcp_status(&addr, &access), 401);
    // Approved again (a new registration of the same assistant), it finds
    // its client and grants: no new grant is needed.
    let again = register(&addr, "Console Friend");
    // A registration's own name never takes over an existing client...
    let w = waiting(&addr, &again, &resource);
    let e = env.fails(&["connector", "approve", &w.code]);
    assert!(e.contains("already exists"), "{e}");
    // ...the user's --name does, for a revoked connector.
    env.ok(&["connector", "approve", &w.code, "--name", "console-friend"]);
    let code = code_of(&sent_back(&addr, &w));
    let (s, v) = exchange(&addr, &again, &code);
    assert_eq!(s, 200, "{v}");
    let session = common::http(&agent.url, v["access_token"].as_str().unwrap()).await;
    let r = common::call(
        &session,
        "search_context",
        serde_json::json!({ "query": "Acme" }),
    )
    .await;
    assert!(common::text(&r).contains("Acme launch plan"));
    assert_eq!(
        env.json(&["client", "ls", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // The public listener has none of the console's routes.
    let (s, _) = post(
        &addr,
        "/connectors/approve",
        "application/x-www-form-urlencoded",
        "code=x",
        "",
    );
    assert_eq!(s, 404);
}
