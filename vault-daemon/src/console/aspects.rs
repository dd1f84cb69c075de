//! The overview's aspects and questions: switch an aspect on or off in one
//! click, and answer the reads waiting for the user's yes.

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, html};

use super::html::{self, csrf, when};
use super::{Console, Signed};
use crate::protocol as p;

/// The aspects section of the overview, and the questions waiting.
pub(crate) async fn section(c: &Console, s: &Signed) -> Markup {
    let (aspects, questions) = tokio::join!(c.call(p::AspectList {}), c.call(p::ConfirmList {}));
    html! {
        @match &questions {
            Err(e) => (html::failed(e)),
            Ok(list) if list.is_empty() => {},
            Ok(list) => section {
                h2 { "Reads waiting for your yes" }
                ul { @for q in list {
                    li {
                        (q.client) " asks to read " (q.items) " item(s) under " code { (q.scopes.join(", ")) }
                        " (" (when(&q.asked_at)) ") "
                        form.inline method="post" action={ "/confirm/" (q.id) "/yes" } { (csrf(s)) button type="submit" { "Yes" } }
                        " "
                        form.inline method="post" action={ "/confirm/" (q.id) "/no" } { (csrf(s)) button type="submit" { "No" } }
                    }
                } }
            },
        }
        section {
            h2 { "Aspect" }
            @match &aspects {
                Err(e) => (html::failed(e)),
                Ok(r) => {
                    @match &r.in_force {
                        None => p { "None in force: every client sees what its grants give." },
                        Some(f) => p {
                            "In force: " strong { (f.name) } " for "
                            @if f.clients.is_empty() { "every client" } @else { (f.clients.join(", ")) }
                            @if let Some(u) = &f.until { " until " (when(u)) }
                            " "
                            form.inline method="post" action="/aspects/off" { (csrf(s)) button type="submit" { "Switch off" } }
                        },
                    }
                    @if r.aspects.is_empty() {
                        p { "No aspects yet: define one with " code { "ctxvault aspect add NAME --scope SCOPE" } "." }
                    } @else {
                        ul { @for a in &r.aspects {
                            li {
                                strong { (a.name) } ": " code { (a.scopes.join(", ")) } " up to " (a.max_sensitivity.as_str()) " "
                                @if r.in_force.as_ref().is_none_or(|f| f.name != a.name) {
                                    form.inline method="post" action={ "/aspects/" (html::q(&a.name)) "/use" } {
                                        (csrf(s)) button type="submit" { "Use" }
                                    }
                                }
                            }
                        } }
                    }
                }
            }
        }
    }
}

/// `POST /aspects/{name}/use`: in force for every client until switched off.
pub(crate) async fn use_one(
    State(c): State<Console>,
    Extension(s): Extension<Signed>,
    Path(name): Path<String>,
) -> Response {
    let r = c
        .call(p::AspectUse {
            name: name.clone(),
            until: None,
            clients: Vec::new(),
        })
        .await
        .map(|()| format!("aspect {name} in force for every client"));
    c.after(&s, r, "/")
}

/// `POST /aspects/off`.
pub(crate) async fn off(State(c): State<Console>, Extension(s): Extension<Signed>) -> Response {
    let r = c
        .call(p::AspectOff {})
        .await
        .map(|()| "aspect off: every client sees what its grants give".into());
    c.after(&s, r, "/")
}

/// `POST /confirm/{id}/{yes|no}`.
pub(crate) async fn answer(
    State(c): State<Console>,
    Extension(s): Extension<Signed>,
    Path((id, said)): Path<(String, String)>,
) -> Response {
    let yes = said == "yes";
    let r = c.call(p::ConfirmAnswer { id, yes }).await.map(|q| {
        format!(
            "{} {} reading {}",
            if yes { "allowed" } else { "refused" },
            q.client,
            q.scopes.join(", ")
        )
    });
    c.after(&s, r, "/")
}
