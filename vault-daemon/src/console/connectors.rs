//! Hosted assistants connecting with OAuth: the requests waiting for the
//! user's decision (approve with grants, or deny), and the approved
//! connectors (revoke). The same requests as `ctxvault connector`.

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::Response;
use maud::html;

use super::clients::{Fields, grant_fields, grant_of, scope};
use super::html::{self, csrf, when};
use super::{Console, Signed};
use crate::protocol::{self as p, ApiError, ErrorKind};

/// `GET /connectors`.
pub(crate) async fn page(State(c): State<Console>, Extension(s): Extension<Signed>) -> Response {
    let r = match c.call(p::ConnectorList {}).await {
        Ok(r) => r,
        Err(e) => return html::page("Connectors", "/connectors", &s, html::failed(&e)),
    };
    let body = html! {
        p.meta { "Hosted assistants reach the vault through the agent's public URL (" code { "daemon --http ADDR --public-url URL" } ") and wait here for your decision. Check that the code matches the one the assistant's page shows." }
        h2 { "Waiting" }
        @if r.waiting.is_empty() { p { "No connector waits for approval." } }
        @for w in &r.waiting {
            section.proposal {
                p { "Code " strong { (w.code) } " · “" (w.name) "” · sent back to " code { (w.redirect_uri) } }
                div.actions {
                    form.grid method="post" action="/connectors/approve" {
                        (csrf(&s))
                        input type="hidden" name="code" value=(w.code);
                        label { "Scopes " input type="text" name="scopes" placeholder="work/** profile" required; }
                        label { "Client name " input type="text" name="name" placeholder="from its name"; }
                        (grant_fields())
                        button type="submit" { "Approve" }
                    }
                    form method="post" action="/connectors/deny" {
                        (csrf(&s))
                        input type="hidden" name="code" value=(w.code);
                        button.danger type="submit" { "Deny" }
                    }
                }
            }
        }
        h2 { "Approved" }
        @if r.approved.is_empty() { p { "None yet." } }
        @if !r.approved.is_empty() {
            table {
                thead { tr { th { "Client" } th { "Registered as" } th { "Approved" } th { "Tokens" } th {} } }
                tbody { @for a in &r.approved {
                    tr {
                        td { a href="/clients" { (a.client) } }
                        td { (a.name) }
                        td { (when(&a.approved_at)) }
                        td { @match &a.expires {
                            Some(e) => { (a.live_tokens) " live, refresh until " (when(e)) }
                            None => "none",
                        } }
                        td { form method="post" action={ "/connectors/" (a.client) "/revoke" } {
                            (csrf(&s)) button.danger type="submit" { "Revoke" }
                        } }
                    }
                } }
            }
        }
    };
    html::page("Connectors", "/connectors", &s, body)
}

/// `POST /connectors/approve`: the code, scopes and grant fields.
pub(crate) async fn approve(
    State(c): State<Console>,
    Extension(s): Extension<Signed>,
    body: axum::body::Bytes,
) -> Response {
    let r = async {
        let f = Fields::of(&body);
        let scopes: Vec<&str> = f
            .one("scopes")
            .split(|ch: char| ch == ',' || ch.is_whitespace())
            .filter(|t| !t.is_empty())
            .collect();
        if scopes.is_empty() {
            return Err(ApiError::new(
                ErrorKind::Invalid,
                "give at least one scope, such as work/**",
            ));
        }
        let grants = scopes
            .into_iter()
            .map(|sc| grant_of(&f, String::new(), scope(sc)?))
            .collect::<Result<Vec<_>, _>>()?;
        let name = Some(f.one("name").trim().to_owned()).filter(|n| !n.is_empty());
        let client = c
            .call(p::ConnectorApprove {
                code: f.one("code").to_owned(),
                name,
                grants,
            })
            .await?;
        Ok(format!("approved: the connector acts as client {client}"))
    }
    .await;
    c.after(&s, r, "/connectors")
}

/// `POST /connectors/deny`.
pub(crate) async fn deny(
    State(c): State<Console>,
    Extension(s): Extension<Signed>,
    body: axum::body::Bytes,
) -> Response {
    let f = Fields::of(&body);
    let code = f.one("code").to_owned();
    let r = c
        .call(p::ConnectorDeny { code: code.clone() })
        .await
        .map(|()| format!("denied {code}"));
    c.after(&s, r, "/connectors")
}

/// `POST /connectors/{client}/revoke`.
pub(crate) async fn revoke(
    State(c): State<Console>,
    Extension(s): Extension<Signed>,
    Path(client): Path<String>,
) -> Response {
    let r = c
        .call(p::ConnectorRevoke {
            client: client.clone(),
        })
        .await
        .map(|()| format!("revoked {client}'s connector: its tokens stop at the next request"));
    c.after(&s, r, "/connectors")
}
