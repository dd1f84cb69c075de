//! Reads made for a client with its token, over the agent's real socket (the
//! path the MCP server uses): policy applied, hidden items indistinguishable
//! from absent ones, tokens checked on every call, and every call audited.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use client_view::{GetQuery, Hit, SearchQuery, ViewCall};
use ctxvault_tests::Env;
use vault_daemon::protocol::Secret;
use vault_daemon::{ApiError, Client, ErrorKind};

struct Agent<'a> {
    env: &'a Env,
    client: Client,
    rt: tokio::runtime::Runtime,
}

impl Agent<'_> {
    fn new(env: &Env) -> Agent<'_> {
        let socket = env.status()["socket"].as_str().unwrap().into();
        Agent {
            env,
            client: Client::new(socket),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        }
    }

    fn call<C: ViewCall>(&self, token: &str, call: C) -> Result<C::Answer, ApiError> {
        let _ = self.env;
        self.rt
            .block_on(
                self.client
                    .call_view(&Secret::new(token.to_owned()), None, call, None),
            )
            .expect("the agent answers")
    }
}

fn search(q: &str) -> SearchQuery {
    SearchQuery {
        query: q.into(),
        namespace: None,
        tags: vec![],
        limit: 10,
    }
}

fn hits_json(r: Result<Vec<Hit>, ApiError>) -> serde_json::Value {
    serde_json::to_value(r.unwrap()).unwrap()
}

#[test]
fn client_reads_are_scoped_audited_and_do_not_disclose() {
    let env = Env::new();
    env.init();
    let visible = env.add(&["--ns", "work", "quarterly plan for the garden"]);
    let hidden = env.add(&[
        "--ns",
        "health",
        "--sensitivity",
        "private",
        "garden plan garden",
    ]);
    let token = env.json(&["client", "add", "claude", "--json"])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let grant = env.ok(&["grant", "claude", "work/**"]).trim().to_owned();
    let agent = Agent::new(&env);

    // Search: only the granted item.
    let with_hidden = hits_json(agent.call(&token, search("garden plan")));
    assert_eq!(with_hidden.as_array().unwrap().len(), 1);
    assert_eq!(with_hidden[0]["id"], visible.as_str());

    // Get of the hidden item: exactly the error of an absent one.
    let hidden_id: uuid::Uuid = hidden.parse().unwrap();
    let err_hidden = agent.call(&token, GetQuery { id: hidden_id }).unwrap_err();
    assert_eq!(err_hidden.kind, ErrorKind::NoItem);
    assert_eq!(err_hidden.message, format!("no item {hidden}"));
    let i = agent
        .call(
            &token,
            GetQuery {
                id: visible.parse().unwrap(),
            },
        )
        .unwrap();
    assert_eq!(i.body, "quarterly plan for the garden");

    // Now the hidden item does not exist at all: nothing the client sees changes.
    env.ok(&["rm", &hidden]);
    let err_absent = agent.call(&token, GetQuery { id: hidden_id }).unwrap_err();
    assert_eq!(
        (err_absent.kind, &err_absent.message),
        (err_hidden.kind, &err_hidden.message)
    );
    assert_eq!(
        hits_json(agent.call(&token, search("garden plan"))),
        with_hidden
    );

    // Every call is on the record: who, what, the query, ids returned, grants used.
    let audit = env.json(&["audit", "--client", "claude", "--json"]);
    let calls: Vec<&serde_json::Value> = audit.as_array().unwrap().iter().collect();
    assert_eq!(calls.len(), 5, "{audit}");
    assert_eq!(calls[0]["action"], "search");
    assert_eq!(calls[0]["query"], "garden plan");
    assert_eq!(calls[0]["ids"], serde_json::json!([visible]));
    assert_eq!(calls[0]["grants"], serde_json::json!([grant]));
    assert_eq!(calls[1]["action"], "get");
    assert_eq!(
        calls[1]["ids"],
        serde_json::json!([]),
        "a refused get returns nothing"
    );
    assert_eq!(calls[2]["ids"], serde_json::json!([visible]));

    // Revocation applies to the very next call of this session.
    env.ok(&["revoke", &grant]);
    assert_eq!(
        hits_json(agent.call(&token, search("garden plan"))),
        serde_json::json!([])
    );

    // Tokens: a wrong one, and the old one after rotation, open nothing.
    let bad = agent.call("cvt_0000", search("garden")).unwrap_err();
    assert_eq!(bad.kind, ErrorKind::Unauthorized);
    env.ok(&["grant", "claude", "work/**"]);
    let new_token = env.json(&["client", "rotate", "claude", "--json"])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        agent.call(&token, search("garden")).unwrap_err().kind,
        ErrorKind::Unauthorized
    );
    assert_eq!(
        hits_json(agent.call(&new_token, search("garden")))
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A locked vault answers a clear error, for clients too.
    env.ok(&["lock"]);
    let locked = agent.call(&new_token, search("garden")).unwrap_err();
    assert_eq!(locked.kind, ErrorKind::Locked);
    assert_eq!(locked.message, "vault is locked: run `ctxvault unlock`");

    env.ok(&["audit", "verify"]);
}
