//! Clients and their grants and deny rules, and "what would this client
//! see".

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::Response;
use client_view::SearchQuery;
use maud::{Markup, html};
use policies::{Action, Actions, Redaction, Scope, Sensitivity};
use serde::Deserialize;
use uuid::Uuid;
use vault_core::SearchMode;

use super::html::{self, csrf, excerpt, when};
use super::{Console, Signed};
use crate::protocol::{self as p, ApiError, ErrorKind};

fn invalid(m: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::Invalid, m.into())
}

/// `GET /clients`.
pub(crate) async fn page(State(c): State<Console>, Extension(s): Extension<Signed>) -> Response {
    let (clients, rules) = match (
        c.call(p::ClientList {}).await,
        c.call(p::Rules { client: None }).await,
    ) {
        (Ok(cl), Ok(r)) => (cl, r),
        (Err(e), _) | (_, Err(e)) => {
            return html::page("Clients and grants", "/clients", &s, html::failed(&e));
        }
    };
    let body = html! {
        @if clients.is_empty() { p { "No clients yet." } }
        @for cl in &clients {
            section.client {
                h2 { (cl.name) }
                p.meta {
                    "added " (when(&cl.created_at))
                    @if let Some(t) = &cl.rotated_at { ", token replaced " (when(t)) }
                    " · " a href={ "/see?client=" (html::q(&cl.name)) } { "what it sees" }
                    " · " a href={ "/audit?client=" (html::q(&cl.name)) } { "its reads" }
                }
                (rule_table(&s, rules.iter().filter(|r| r.client == cl.name)))
                div.actions {
                    form method="post" action={ "/clients/" (html::seg(&cl.name)) "/rotate" } {
                        (csrf(&s)) button type="submit" { "New token" }
                    }
                    form method="post" action={ "/clients/" (html::seg(&cl.name)) "/remove" } {
                        (csrf(&s)) button.danger type="submit" { "Remove client" }
                    }
                }
            }
        }
        section {
            h2 { "Add a client" }
            form method="post" action="/clients" {
                (csrf(&s))
                label { "Name " input type="text" name="name" placeholder="claude-desktop" required; }
                " " button type="submit" { "Add client" }
            }
        }
        @if !clients.is_empty() {
            section {
                h2 { "Grant" }
                form.grid method="post" action="/grants" {
                    (csrf(&s))
                    (client_select(&clients, ""))
                    label { "Scope " input type="text" name="scope" placeholder="work/**" required; }
                    (grant_fields())
                    button type="submit" { "Add grant" }
                }
                h2 { "Deny" }
                form method="post" action="/denies" {
                    (csrf(&s))
                    (client_select(&clients, ""))
                    label { " Scope " input type="text" name="scope" placeholder="health/**" required; }
                    " " button type="submit" { "Add deny rule" }
                }
            }
        }
    };
    html::page("Clients and grants", "/clients", &s, body)
}

/// The fields of a grant after its scope: actions, tags, sensitivity,
/// expiry and masks (read back by [`grant_of`]).
pub(super) fn grant_fields() -> Markup {
    html! {
        fieldset { legend { "Actions" }
            @for a in Action::ALL {
                label.check { input type="checkbox" name="allow" value=(a.as_str()) checked[a == Action::Read]; " " (a.as_str()) }
            }
        }
        label { "Only tags " input type="text" name="tags" placeholder="any tag"; }
        label { "Up to "
            select name="max_sensitivity" { @for sv in Sensitivity::ALL {
                option value=(sv.as_str()) selected[sv == Sensitivity::Normal] { (sv.as_str()) }
            } }
        }
        label { "Expires " input type="text" name="expires" placeholder="never, 30d, 2027-01-01"; }
        fieldset { legend { "Mask" }
            @for r in Redaction::ALL {
                label.check { input type="checkbox" name="redact" value=(r.as_str()); " " (r.as_str()) }
            }
        }
    }
}

fn client_select(clients: &[p::ClientInfo], chosen: &str) -> Markup {
    html! {
        label { "Client "
            select name="client" required {
                @for cl in clients { option value=(cl.name) selected[cl.name == chosen] { (cl.name) } }
            }
        }
    }
}

fn rule_table<'a>(s: &Signed, rules: impl Iterator<Item = &'a p::RuleInfo>) -> Markup {
    let rules: Vec<_> = rules.collect();
    html! {
        @if rules.is_empty() { p { "No grants: it sees nothing." } }
        @else {
            table.rules {
                thead { tr { th { "Rule" } th { "Scope" } th { "Actions" } th { "Tags" } th { "Up to" } th { "Expires" } th { "Masks" } th {} } }
                tbody { @for r in rules {
                    tr class=(if r.expired { "expired" } else { "" }) {
                        td { (match r.kind { p::RuleKind::Grant => "grant", p::RuleKind::Deny => "deny" }) }
                        td { code { (r.scope) } }
                        td { (r.actions.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")) }
                        td { (r.tags.join(", ")) }
                        td { (r.max_sensitivity.map(|s| s.as_str()).unwrap_or("")) }
                        td { @match &r.expires { Some(t) => { (when(t)) @if r.expired { " (expired)" } }, None => "never" } }
                        td { (r.redact.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(", ")) }
                        td { form method="post" action={ "/rules/" (r.id) "/revoke" } { (csrf(s)) button type="submit" { "Revoke" } } }
                    }
                } }
            }
        }
    }
}

/// A client's name.
#[derive(Deserialize)]
pub(crate) struct NameForm {
    name: String,
}

/// The page showing a new token, once, with what connects an app with it.
fn token_page(c: &Console, s: &Signed, t: &p::ClientToken, verb: &str) -> Response {
    let http = c.agent.http_url();
    let proxy = c
        .agent
        .proxy_url()
        .unwrap_or_else(|| "http://127.0.0.1:7411".to_owned());
    let setup = crate::setup::Setup::new(&t.name, &t.token, &c.agent.dir, http.clone());
    let snippets = setup.snippets();
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let body = html! {
        p { "Client " strong { (t.name) } " " (verb) ". Its token, shown only this once:" }
        pre.token { (t.token) }
        p { "Keep it secret; " em { "New token" } " on the clients page replaces it. "
            "In a terminal, " code { "ctxvault client setup " (t.name) " --for claude-desktop" } " writes an app's configuration with the token kept in a file." }
        h2 { "Claude Desktop (claude_desktop_config.json)" }
        pre { (pretty(&snippets["claude_desktop"]["stdio"])) }
        h2 { "Claude Code" }
        pre { (snippets["claude_code"]["stdio"].as_str().unwrap_or_default()) }
        pre { (snippets["claude_code"]["http"].as_str().unwrap_or_default()) }
        h2 { "Cursor (~/.cursor/mcp.json)" }
        pre { (pretty(&snippets["cursor"]["stdio"])) }
        pre { (pretty(&snippets["cursor"]["http"])) }
        h2 { "VS Code (.vscode/mcp.json)" }
        pre { (pretty(&snippets["vscode"]["stdio"])) }
        pre { (pretty(&snippets["vscode"]["http"])) }
        @if http.is_none() { p.meta { "The HTTP entries need the agent's endpoint: " code { "ctxvault http on" } "." } }
        h2 { "Through the provider proxy (the token is the API key)" }
        ul {
            li { "OpenAI SDKs: base URL " code { (proxy) "/v1" } }
            li { "Anthropic SDKs: base URL " code { (proxy) } }
            li { "Ollama clients: host " code { (proxy) } ", header " code { "Authorization: Bearer TOKEN" } }
        }
        p { a href="/clients" { "Back to clients" } }
    };
    html::page("New token", "/clients", s, body)
}

/// `POST /clients`.
pub(crate) async fn add(
    State(c): State<Console>,
    Extension(s): Extension<Signed>,
    axum::extract::Form(f): axum::extract::Form<NameForm>,
) -> Response {
    match c
        .call(p::ClientAdd {
            name: f.name,
            provider: None,
        })
        .await
    {
        Ok(t) => token_page(&c, &s, &t, "added"),
        Err(e) => c.after(&s, Err(e), "/clients"),
    }
}

/// `POST /clients/{name}/rotate`.
pub(crate) async fn rotate(
    State(c): State<Console>,
    Extension(s): Extension<Signed>,
    Path(name): Path<String>,
) -> Response {
    match c.call(p::ClientRotate { name }).await {
        Ok(t) => token_page(&c, &s, &t, "has a new token"),
        Err(e) => c.after(&s, Err(e), "/clients"),
    }
}

/// `POST /clients/{name}/remove`.
pub(crate) async fn remove(
    State(c): State<Console>,
    Extension(s): Extension<Signed>,
    Path(name): Path<String>,
) -> Response {
    let r = c
        .call(p::ClientRemove { name: name.clone() })
        .await
        .map(|()| format!("removed client {name} with its token, grants and deny rules"));
    c.after(&s, r, "/clients")
}

/// The grant form: repeated fields (`allow`, `redact`) come as pairs.
pub(crate) async fn grant(
    State(c): State<Console>,
    Extension(s): Extension<Signed>,
    body: axum::body::Bytes,
) -> Response {
    let r = async {
        let f = Fields::of(&body);
        let client = f.one("client").to_owned();
        let g = grant_of(&f, client.clone(), scope(f.one("scope"))?)?;
        let id = c.call(g).await?;
        Ok(format!("granted {client}: rule {id}"))
    }
    .await;
    c.after(&s, r, "/clients")
}

/// A grant for `client` on `scope` from a form's fields (actions, tags,
/// sensitivity, expiry, masks), checked as the CLI checks them.
pub(super) fn grant_of(f: &Fields, client: String, scope: Scope) -> Result<p::GrantAdd, ApiError> {
    let allow = f.all("allow");
    if allow.is_empty() {
        return Err(invalid(
            "choose at least one action: read, propose or write",
        ));
    }
    let actions: Actions = allow
        .join(",")
        .parse()
        .map_err(|e: policies::ParseError| invalid(e.to_string()))?;
    let tags = f
        .one("tags")
        .split(|ch: char| ch == ',' || ch.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse()
                .map_err(|e: vault_core::Error| invalid(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let max_sensitivity = match f.one("max_sensitivity").trim() {
        "" => Sensitivity::Normal,
        v => v
            .parse()
            .map_err(|e: policies::ParseError| invalid(e.to_string()))?,
    };
    let expires = match f.one("expires").trim() {
        "" | "never" => None,
        v => Some(crate::when::parse_time(v, true).map_err(invalid)?),
    };
    let redact = f
        .all("redact")
        .iter()
        .map(|r| {
            r.parse()
                .map_err(|e: policies::ParseError| invalid(e.to_string()))
        })
        .collect::<Result<Vec<Redaction>, _>>()?;
    Ok(p::GrantAdd {
        client,
        scope,
        actions,
        tags,
        max_sensitivity,
        expires,
        redact,
        providers: Default::default(),
        confirm: None,
    })
}

pub(super) fn scope(s: &str) -> Result<Scope, ApiError> {
    s.trim()
        .parse()
        .map_err(|e: policies::ParseError| invalid(e.to_string()))
}

/// A form's fields as decoded pairs.
pub(super) struct Fields(Vec<(String, String)>);

impl Fields {
    pub(super) fn of(body: &[u8]) -> Self {
        Fields(url::form_urlencoded::parse(body).into_owned().collect())
    }

    pub(super) fn one(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    pub(super) fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// `POST /denies`.
pub(crate) async fn deny(
    State(c): State<Console>,
    Extension(s): Extension<Signed>,
    body: axum::body::Bytes,
) -> Response {
    let f = Fields::of(&body);
    let r = async {
        let client = f.one("client").to_owned();
        let id = c
            .call(p::DenyAdd {
                client: client.clone(),
                scope: scope(f.one("scope"))?,
            })
            .await?;
        Ok(format!("denied {client}: rule {id}"))
    }
    .await;
    c.after(&s, r, "/clients")
}

/// `POST /rules/{id}/revoke`.
pub(crate) async fn revoke(
    State(c): State<Console>,
    Extension(s): Extension<Signed>,
    Path(id): Path<Uuid>,
) -> Response {
    let r = c
        .call(p::Revoke { id })
        .await
        .map(|()| format!("revoked {id}"));
    c.after(&s, r, "/clients")
}

/// The question asked as a client.
#[derive(Deserialize, Default)]
pub(crate) struct SeeQuery {
    #[serde(default)]
    client: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    mode: String,
}

/// `GET /see`: the dry run `search --as` gives (not audited).
pub(crate) async fn see(
    State(c): State<Console>,
    Extension(s): Extension<Signed>,
    axum::extract::Query(q): axum::extract::Query<SeeQuery>,
) -> Response {
    let clients = match c.call(p::ClientList {}).await {
        Ok(cl) => cl,
        Err(e) => return html::page("What a client sees", "/see", &s, html::failed(&e)),
    };
    let form = html! {
        form.search method="get" action="/see" {
            (client_select(&clients, &q.client))
            label { " asks " input type="search" name="q" value=(q.q) placeholder="a question in its words"; }
            " "
            select name="mode" {
                option value="" { "what it gets" }
                @for m in SearchMode::ALL { option value=(m.as_str()) selected[q.mode == m.as_str()] { (m.as_str()) } }
            }
            " " button type="submit" { "Show" }
        }
    };
    let result = if q.client.is_empty() {
        Ok(
            html! { p { "Pick a client and a question: the answer is exactly what it would get, without a record in the audit." } },
        )
    } else {
        see_as(&c, &q).await
    };
    let body = html! {
        (form)
        @match result { Ok(m) => (m), Err(e) => (html::failed(&e)) }
    };
    html::page("What a client sees", "/see", &s, body)
}

async fn see_as(c: &Console, q: &SeeQuery) -> Result<Markup, ApiError> {
    let access = c
        .call(p::Access {
            client: q.client.clone(),
            provider: None,
        })
        .await?;
    let summary = html! {
        p { (access.client) " can read " (access.items) " item(s) through " (access.grants) " active grant(s)"
            @if access.denies > 0 { ", less " (access.denies) " deny rule(s)" } "." }
    };
    if q.q.trim().is_empty() {
        return Ok(summary);
    }
    let mode = match q.mode.as_str() {
        "" => None,
        m => Some(
            m.parse::<SearchMode>()
                .map_err(|e| invalid(e.to_string()))?,
        ),
    };
    let hits = c
        .call(p::SearchAs {
            client: q.client.clone(),
            query: SearchQuery {
                query: q.q.clone(),
                namespace: None,
                tags: Vec::new(),
                limit: 10,
            },
            mode,
            provider: None,
        })
        .await?;
    Ok(html! {
        (summary)
        h2 { "It would get " (hits.len()) " result(s)" }
        @if hits.is_empty() { p { "Nothing: it would be told no item matched." } }
        ol.hits { @for h in &hits {
            li {
                a href={ "/items/" (h.item.id) } { (h.item.title.as_deref().map(|t| excerpt(t, 80)).unwrap_or_else(|| excerpt(&h.item.body, 80))) }
                " " span.meta { (h.item.namespace) " · " (h.item.sensitivity.as_str()) " · score " (format!("{:.3}", h.score)) }
                br; span.snippet { (h.snippet) }
            }
        } }
    })
}
