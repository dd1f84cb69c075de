//! The web console (`ctxvault console`): driven in headless Chromium
//! through WebDriver as a user would, refused as it must be with raw HTTP
//! requests, and audited exactly like the CLI.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::process::CommandExt;

use common::{add_client, call, json};
use ctxvault_tests::console::{Raw, get, header, login_link};
use ctxvault_tests::webdriver::{self, Browser};
use ctxvault_tests::{Env, raw_http};
use serde_json::json;

/// Proposals made over MCP by a client granted propose on `notes/**`.
async fn propose_over_mcp(env: &Env, contents: &[&str]) -> Vec<String> {
    let token = add_client(env, "scribe");
    env.ok(&["grant", "scribe", "notes/**", "--allow", "read,propose"]);
    let s = common::stdio(env, "scribe", &token).await;
    let mut ids = Vec::new();
    for content in contents {
        let p = json(
            &call(
                &s,
                "remember",
                json!({"content": content, "namespace": "notes"}),
            )
            .await,
        );
        assert_eq!(p["status"], "pending");
        ids.push(p["id"].as_str().unwrap().to_owned());
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_works_the_console_in_a_real_browser() {
    assert!(
        webdriver::available(),
        "Debian's chromium and chromium-driver are needed (scripts/test.sh installs them)"
    );
    let env = Env::new();
    env.init();
    let proposal = propose_over_mcp(&env, &["She takes green tea in the morning"]).await;
    let proposal = &proposal[0];
    let shots = webdriver::artifacts("console");
    let (addr, path) = login_link(&env);
    let base = format!("http://{addr}");
    let b = Browser::start();

    // Log in with the one-time link: the overview.
    b.goto(&format!("{base}{path}"));
    assert_eq!(b.url(), format!("{base}/"));
    let text = b.page_text();
    assert!(
        text.contains("unlocked") && text.contains("1 proposal(s) waiting"),
        "{text}"
    );
    b.screenshot(&shots.join("overview.png"));

    // Add an item whose text is markup: it shows as text.
    b.goto(&format!("{base}/items"));
    b.fill("form.item input[name=namespace]", "notes/drinks");
    b.fill("form.item input[name=title]", "Coffee order");
    b.fill(
        "form.item textarea[name=body]",
        "Flat white, oat milk <script>document.title='owned'</script>",
    );
    b.click_css("form.item button[type=submit]");
    let text = b.wait_text("added ");
    assert!(
        text.contains("<script>document.title='owned'</script>"),
        "{text}"
    );
    assert!(
        !b.source().contains("<script>"),
        "no markup of the item's made it in"
    );
    b.screenshot(&shots.join("item.png"));
    let ls = env.json(&["ls", "--ns", "notes/drinks", "--json"]);
    assert_eq!(ls.as_array().unwrap().len(), 1, "{ls}");
    b.goto(&format!("{base}/items?ns=notes"));
    assert!(b.wait_text("notes: 1 item(s)").contains("Coffee order"));
    b.screenshot(&shots.join("items.png"));

    // Add a client: its token is shown once, with the setup snippets.
    b.goto(&format!("{base}/clients"));
    b.fill("input[name=name]", "cursor");
    b.click_css("form[action='/clients'] button");
    let token = b.text(&b.find("pre.token"));
    assert!(token.starts_with("cvt_"), "{token}");
    assert!(b.page_text().contains("mcpServers"));
    b.screenshot(&shots.join("token.png"));

    // Grant it notes/**.
    b.goto(&format!("{base}/clients"));
    b.fill("form[action='/grants'] input[name=scope]", "notes/**");
    b.click_css("form[action='/grants'] button[type=submit]");
    b.wait_text("granted cursor");
    b.screenshot(&shots.join("clients.png"));
    let grants = env.json(&["grants", "cursor", "--json"]);
    assert_eq!(grants[0]["scope"], "notes/**", "{grants}");

    // What would it see?
    b.goto(&format!("{base}/see?client=cursor"));
    b.fill("input[name=q]", "flat white");
    b.click_css("form.search button");
    let text = b.wait_text("It would get 1 result(s)");
    assert!(text.contains("Coffee order"), "{text}");
    b.screenshot(&shots.join("see.png"));

    // Approve the proposal made over MCP.
    b.goto(&format!("{base}/pending"));
    assert!(b.page_text().contains("She takes green tea"));
    b.screenshot(&shots.join("pending.png"));
    b.click_css(&format!(
        "form[action='/pending/{proposal}/approve'] button"
    ));
    b.wait_text("approved: stored as");
    let stored = env.json(&["search", "green tea", "--json"]);
    assert_eq!(stored[0]["source"], "approved:scribe", "{stored}");

    // The audit timeline: a picture of the client's calls, then entries.
    let cursor = common::stdio(&env, "cursor", &token).await;
    let hits = json(&call(&cursor, "search_context", json!({"query": "oat milk"})).await);
    assert_eq!(hits.as_array().unwrap().len(), 1);
    b.goto(&format!("{base}/audit"));
    assert_eq!(
        b.find_all("figure.timeline svg polyline").len(),
        2,
        "scribe and cursor"
    );
    let text = b.page_text();
    assert!(
        text.contains("Chain intact") && text.contains("client-add"),
        "{text}"
    );
    b.screenshot(&shots.join("audit.png"));
    // Each entry links to the items it returned.
    let item = ls[0]["id"].as_str().unwrap();
    assert!(b.source().contains(&format!("href=\"/items/{item}\"")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_refuses_what_it_must() {
    let env = Env::new();
    env.init();
    let id = env.add(&["--ns", "notes", "<script>alert('x')</script><b>bold</b>"]);
    let c = Raw::login(&env);
    let o = env.run(&["console", "--addr", "0.0.0.0:7000", "--no-browser"]);
    assert_ne!(o.code, 0);
    ctxvault_tests::assert_one_line_error(&o.stderr, "is not a loopback address");

    // Without a session: 401, pages and changes alike, saying how in.
    let (status, headers, body) = raw_http(&c.addr, &get(&c.addr, "/", None));
    assert_eq!(status, 401);
    assert!(body.contains("ctxvault console"), "{body}");
    let csp = header(&headers, "content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    let nobody = Raw {
        addr: c.addr.clone(),
        cookie: "ctxvault-console=0000".into(),
    };
    let (status, _, _) = nobody.post_raw("/lock", &[("csrf", "x")], &[]);
    assert_eq!(status, 401);

    // A login link works once.
    let (addr, path) = login_link(&env);
    assert_eq!(raw_http(&addr, &get(&addr, &path, None)).0, 303);
    assert_eq!(
        raw_http(&addr, &get(&addr, &path, None)).0,
        401,
        "reused link"
    );

    // Item text with markup is escaped, and every answer carries the CSP
    // and no-store.
    let (status, headers, body) = c.get(&format!("/items/{id}"));
    assert_eq!(status, 200);
    assert!(
        body.contains("&lt;script&gt;alert('x')&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;"),
        "{body}"
    );
    assert!(!body.contains("<script>") && !body.contains("<b>bold"));
    assert!(header(&headers, "content-security-policy").is_some());
    assert_eq!(header(&headers, "cache-control"), Some("no-store"));

    // A foreign Host or Origin.
    let req = format!(
        "GET / HTTP/1.1\r\nHost: evil.example\r\nCookie: {}\r\nConnection: close\r\n\r\n",
        c.cookie
    );
    assert_eq!(raw_http(&c.addr, &req).0, 403, "DNS rebinding");
    let csrf = c.csrf();
    let (status, _, _) = c.post_raw(
        "/lock",
        &[("csrf", &csrf)],
        &[("Origin", "http://evil.example")],
    );
    assert_eq!(status, 403, "a foreign page's form");
    let (status, _, _) = c.post_raw(
        "/lock",
        &[("csrf", &csrf)],
        &[("Sec-Fetch-Site", "cross-site")],
    );
    assert_eq!(status, 403);
    // A POST without the CSRF token, or with another.
    assert_eq!(c.post_raw("/lock", &[], &[]).0, 403);
    assert_eq!(
        c.post_raw("/lock", &[("csrf", "0".repeat(64).as_str())], &[])
            .0,
        403
    );
    // A GET changes nothing.
    assert_eq!(c.get("/lock").0, 405);
    assert_eq!(
        env.status()["locked"],
        false,
        "nothing refused locked the vault"
    );

    // A token shows once, on the page answering its creation, never again.
    let (status, _, page) = c.post("/clients", &[("name", "cursor")]);
    assert_eq!(status, 200);
    let at = page.find("cvt_").expect("the new token");
    let token = &page[at..at + 68];
    let (_, _, body) = c.get("/clients");
    assert!(body.contains("cursor") && !body.contains(token));
    let (_, _, body) = c.get("/see?client=cursor");
    assert!(!body.contains(token));

    // Another page of this machine (another port: the same site to a
    // browser, which sends the cookie) is not answered, even a GET.
    let req = format!(
        "GET /items?q=alert HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\nSec-Fetch-Site: same-site\r\nConnection: close\r\n\r\n",
        c.addr, c.cookie
    );
    assert_eq!(raw_http(&c.addr, &req).0, 403);

    // An edit from a page loaded before the item changed is refused.
    let (_, _, page) = c.get(&format!("/items/{id}"));
    assert!(page.contains("name=\"version\" value=\"1\""), "{page}");
    env.ok(&["edit", &id, "changed elsewhere"]);
    let (status, _, _) = c.post(
        &format!("/items/{id}/edit"),
        &[
            ("version", "1"),
            ("namespace", "notes"),
            ("body", "stale text"),
        ],
    );
    assert_eq!(status, 303);
    let (_, _, page) = c.get(&format!("/items/{id}"));
    assert!(
        page.contains("changed since this page was loaded"),
        "{page}"
    );
    assert_eq!(
        env.json(&["get", &id, "--json"])["body"],
        "changed elsewhere"
    );

    // Another local user, even holding the owner's cookie, is not served:
    // the connection is dropped before a byte is read.
    if nix::unistd::getuid().is_root() {
        let script = format!(
            "import socket\ns=socket.create_connection(('{}', {}))\ns.sendall(b'GET / HTTP/1.1\\r\\nHost: {}\\r\\nCookie: {}\\r\\nConnection: close\\r\\n\\r\\n')\nprint(repr(s.recv(100)))",
            c.addr.split(':').next().unwrap(),
            c.addr.split(':').nth(1).unwrap(),
            c.addr,
            c.cookie
        );
        let out = std::process::Command::new("python3")
            .args(["-c", &script])
            .uid(65534)
            .gid(65534)
            .current_dir("/")
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.trim() == "b''"
                || String::from_utf8_lossy(&out.stderr).contains("ConnectionResetError"),
            "another user got an answer: {said} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The same request from the owner is answered.
        assert_eq!(c.get("/").0, 200);
    } else {
        panic!("this test acts as another local user and so runs as root (as CI does)");
    }

    // Locking ends every session.
    env.ok(&["lock"]);
    assert_eq!(c.get("/").0, 401, "the session ended with the lock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_expires_and_a_locked_vault_unlocks_from_the_console() {
    let mut env = Env::new();
    env.vars
        .push(("CTXVAULT_TEST_CONSOLE_IDLE_MS".into(), "300".into()));
    env.init();
    let c = Raw::login(&env);
    assert_eq!(c.get("/").0, 200);
    // Time passing is what is tested: the session's idle limit.
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert_eq!(c.get("/").0, 401, "expired after 300 ms idle");

    // Logged in while locked: the overview offers to unlock.
    let env = Env::new();
    env.init();
    env.ok(&["lock"]);
    let c = Raw::login(&env);
    let (_, _, body) = c.get("/");
    assert!(
        body.contains("locked") && body.contains("name=\"passphrase\""),
        "{body}"
    );
    let (status, _, _) = c.post("/unlock", &[("passphrase", "wrong")]);
    assert_eq!(status, 303);
    let (_, _, body) = c.get("/");
    assert!(
        body.contains("note error"),
        "a wrong passphrase is said: {body}"
    );
    assert_eq!(env.status()["locked"], true);
    c.post("/unlock", &[("passphrase", ctxvault_tests::PASS)]);
    assert_eq!(env.status()["locked"], false);
    assert!(
        !c.get("/").2.contains(ctxvault_tests::PASS),
        "no passphrase echoed"
    );
}

/// `audit --json` with what differs between two vaults (times, ids)
/// taken out.
fn audit_shape(env: &Env) -> Vec<serde_json::Value> {
    let uuid = |s: &str| {
        s.split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
            .filter(|w| w.len() == 36 && w.matches('-').count() == 4)
            .fold(s.to_owned(), |acc, w| acc.replace(w, "<id>"))
    };
    env.json(&["audit", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            json!({
                "client": e["client"],
                "action": e["action"],
                "query": e["query"],
                "detail": e["detail"].as_str().map(uuid),
                "tool": e["tool"],
                "door": e["door"],
                "ids": e["ids"].as_array().map_or(0, |a| a.len()),
                "grants": e["grants"].as_array().map_or(0, |a| a.len()),
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_changes_are_audited_exactly_like_the_cli() {
    // The same changes, one vault through the console, one with the CLI.
    let (web, cli) = (Env::new(), Env::new());
    let mut proposals = Vec::new();
    for env in [&web, &cli] {
        env.init();
        let ids = propose_over_mcp(env, &["Keeps a sourdough starter", "Dislikes cilantro"]).await;
        proposals.push((ids[0].clone(), ids[1].clone()));
    }
    let c = Raw::login(&web);
    let ok = |r: (u16, Vec<(String, String)>, String)| {
        assert!(r.0 == 200 || r.0 == 303, "{} {}", r.0, r.2);
    };
    ok(c.post("/clients", &[("name", "cursor")]));
    ok(c.post(
        "/grants",
        &[
            ("client", "cursor"),
            ("scope", "notes/**"),
            ("allow", "read"),
            ("allow", "propose"),
            ("tags", "food"),
            ("max_sensitivity", "private"),
            ("expires", ""),
            ("redact", "email"),
        ],
    ));
    ok(c.post(
        "/denies",
        &[("client", "cursor"), ("scope", "notes/private/**")],
    ));
    let deny = web.json(&["grants", "cursor", "--json"]);
    let deny = deny
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "deny")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(c.post(&format!("/rules/{deny}/revoke"), &[]));
    ok(c.post("/clients/cursor/rotate", &[]));
    ok(c.post(
        &format!("/pending/{}/approve", proposals[0].0),
        &[("namespace", "notes")],
    ));
    ok(c.post(
        &format!("/pending/{}/approve", proposals[0].1),
        &[("namespace", "kitchen")],
    ));
    ok(c.post("/clients/cursor/remove", &[]));
    // A refused change is refused the same way, and changes nothing.
    let before = web.json(&["grants", "--json"]);
    let (_, _, _) = c.post(
        "/grants",
        &[("client", "ghost"), ("scope", "x/**"), ("allow", "read")],
    );
    assert_eq!(web.json(&["grants", "--json"]), before);
    let (_, _, body) = c.get("/clients");
    assert!(
        body.contains("unknown client &quot;ghost&quot;"),
        "the CLI's own message: {body}"
    );

    cli.ok(&["client", "add", "cursor"]);
    cli.ok(&[
        "grant",
        "cursor",
        "notes/**",
        "--allow",
        "read,propose",
        "--tag",
        "food",
        "--max-sensitivity",
        "private",
        "--redact",
        "email",
    ]);
    let deny = cli.ok(&["deny", "cursor", "notes/private/**"]);
    cli.ok(&["revoke", deny.trim()]);
    cli.ok(&["client", "rotate", "cursor"]);
    cli.ok(&["approve", &proposals[1].0]);
    cli.ok(&["approve", &proposals[1].1, "--ns", "kitchen"]);
    cli.ok(&["client", "rm", "cursor"]);
    assert!(cli.run(&["grant", "ghost", "x/**"]).code != 0);

    let (a, b) = (audit_shape(&web), audit_shape(&cli));
    assert!(a.len() >= 10, "{a:#?}");
    assert_eq!(a, b, "the console's entries are the CLI's");
}
