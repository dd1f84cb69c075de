//! The overview page, logging in and out, lock and unlock.

use std::time::Instant;

use axum::Extension;
use axum::extract::{Form, Query, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use chrono::Utc;
use maud::html;
use serde::Deserialize;

use super::html::{self, csrf, when};
use super::{COOKIE, Console, Signed, see_other};
use crate::agent::lock;
use crate::protocol::{self as p, Secret};

/// The login link's query.
#[derive(Deserialize)]
pub(crate) struct LoginQuery {
    t: String,
}

/// `GET /login?t=TOKEN`: trade a fresh login link for a session cookie.
pub(crate) async fn login(State(c): State<Console>, Query(q): Query<LoginQuery>) -> Response {
    let opened = lock(&c.auth).redeem(&q.t, Instant::now());
    match opened {
        Ok(Some(o)) => {
            let cookie = format!(
                "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
                o.cookie.as_str()
            );
            let mut r = see_other("/");
            if let Ok(v) = cookie.parse() {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Ok(None) => html::refusal(
            StatusCode::UNAUTHORIZED,
            "This login link was already used or has expired (links work once, for two minutes). Run `ctxvault console` for a new one.",
        ),
        Err(e) => html::refusal(StatusCode::INTERNAL_SERVER_ERROR, &e.message),
    }
}

/// `POST /logout`.
pub(crate) async fn logout(State(c): State<Console>, Extension(s): Extension<Signed>) -> Response {
    lock(&c.auth).end(&s.cookie);
    let mut r = html::refusal(
        StatusCode::OK,
        "Logged out. Run `ctxvault console` to log in again.",
    );
    if let Ok(v) = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0").parse() {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// The unlock form.
#[derive(Deserialize)]
pub(crate) struct UnlockForm {
    passphrase: String,
}

/// `POST /unlock`.
pub(crate) async fn unlock(
    State(c): State<Console>,
    Extension(s): Extension<Signed>,
    Form(f): Form<UnlockForm>,
) -> Response {
    let with = p::UnlockWith::Passphrase(Secret::new(f.passphrase));
    let r = c.call(p::Unlock { with }).await.map(|()| "unlocked".into());
    c.after(&s, r, "/")
}

/// `POST /lock`: lock the vault, which ends every console session.
pub(crate) async fn lock_now(State(c): State<Console>) -> Response {
    match c.call(p::Lock {}).await {
        Ok(()) => html::refusal(
            StatusCode::OK,
            "The vault is locked, and every console session ended with it. Run `ctxvault console` to log in again.",
        ),
        Err(e) => html::refusal(StatusCode::BAD_REQUEST, &e.message),
    }
}

/// Grants that stop working within this many days are listed.
const SOON_DAYS: i64 = 7;

/// `GET /`.
pub(crate) async fn page(State(c): State<Console>, Extension(s): Extension<Signed>) -> Response {
    let status = match c.call(p::StatusQuery {}).await {
        Ok(st) => st,
        Err(e) => return html::page("Overview", "/", &s, html::failed(&e)),
    };
    if status.locked {
        let body = html! {
            p { "The vault is " strong { "locked" } ": its keys are wiped, and clients get a \"vault is locked\" error." }
            form method="post" action="/unlock" {
                (csrf(&s))
                label { "Passphrase " input type="password" name="passphrase" autocomplete="current-password" required; }
                " "
                button type="submit" { "Unlock" }
            }
        };
        return html::page("Overview", "/", &s, body);
    }
    // Independent reads, side by side.
    let (counts, clients, rules, verify) = tokio::join!(
        c.call(p::Counts {}),
        c.call(p::ClientList {}),
        c.call(p::Rules { client: None }),
        c.call(p::AuditVerify::default()),
    );
    let now = Utc::now();
    let soon = now + chrono::Duration::days(SOON_DAYS);
    let aspects = super::aspects::section(&c, &s).await;
    let conflicts = super::sync::section(&c, &s).await;
    let body = html! {
        section {
            p {
                "The vault is " strong { "unlocked" } " · " (status.items) " items · "
                a href="/pending" { (status.pending) " proposal(s) waiting" }
            }
            form method="post" action="/lock" {
                (csrf(&s))
                button type="submit" { "Lock now" }
            }
            @for w in &status.warnings { p.note.error { (w) } }
            @if !status.damaged.is_empty() {
                p.note.error { (status.damaged.len()) " item(s) failed authentication at unlock: run `ctxvault status`." }
            }
        }
        (conflicts)
        (aspects)
        section {
            h2 { "Items by namespace and sensitivity" }
            @match &counts {
                Err(e) => (html::failed(e)),
                Ok(rows) => (count_table(rows)),
            }
        }
        section {
            h2 { "Clients" }
            @match &clients {
                Err(e) => (html::failed(e)),
                Ok(list) if list.is_empty() => p { "No clients yet: " a href="/clients" { "add one" } "." },
                Ok(list) => ul.inline {
                    @for cl in list {
                        li { a href={ "/see?client=" (html::q(&cl.name)) } { (cl.name) } " (" (cl.grants) " grants)" }
                    }
                },
            }
        }
        section {
            h2 { "Grants that expire within " (SOON_DAYS) " days" }
            @match &rules {
                Err(e) => (html::failed(e)),
                Ok(list) => {
                    @let expiring: Vec<_> = list.iter().filter(|r| r.expires.is_some_and(|t| t > now && t <= soon)).collect();
                    @if expiring.is_empty() { p { "None." } }
                    @else {
                        ul { @for r in expiring {
                            li { (r.client) ": " code { (r.scope) } " until " (r.expires.as_ref().map(when).unwrap_or_default()) }
                        } }
                    }
                }
            }
        }
        section {
            h2 { "Audit chain" }
            @match &verify {
                Err(e) => (html::failed(e)),
                Ok(rep) => @match &rep.problem {
                    None => p.ok { "Intact: " (rep.entries) " entries checked. " a href="/audit" { "See the audit trail." } },
                    Some(pb) => p.note.error { "Broken at entry " (pb.entry) ": " (pb.what) },
                },
            }
        }
    };
    html::page("Overview", "/", &s, body)
}

/// Counts as a table: a row per namespace, a column per sensitivity.
fn count_table(rows: &[client_view::NamespaceCount]) -> maud::Markup {
    use policies::Sensitivity;
    html! {
        @if rows.is_empty() { p { "No items yet: " a href="/items" { "add one" } "." } }
        @else {
            table {
                thead { tr { th { "Namespace" } @for sv in Sensitivity::ALL { th.num { (sv.as_str()) } } th.num { "all" } } }
                tbody {
                    @for r in rows {
                        tr {
                            td { a href={ "/items?ns=" (html::q(&r.namespace)) } { (r.namespace) } }
                            td.num { (r.public) } td.num { (r.normal) } td.num { (r.private) } td.num { (r.secret) } td.num { (r.total) }
                        }
                    }
                }
            }
        }
    }
}
