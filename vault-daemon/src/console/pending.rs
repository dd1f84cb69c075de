//! Proposals waiting for review: approve (optionally into another
//! namespace) or reject.

use axum::Extension;
use axum::extract::{Form, Path, State};
use axum::response::Response;
use maud::html;
use serde::Deserialize;
use uuid::Uuid;

use super::html::{self, csrf, when};
use super::{Console, Signed};
use crate::protocol::{self as p, ApiError, ErrorKind};

/// `GET /pending`.
pub(crate) async fn page(State(c): State<Console>, Extension(s): Extension<Signed>) -> Response {
    let list = match c.call(p::PendingList {}).await {
        Ok(l) => l,
        Err(e) => return html::page("Pending", "/pending", &s, html::failed(&e)),
    };
    let sources: Vec<Uuid> = list
        .iter()
        .flat_map(|pr| pr.sources.iter().copied())
        .collect();
    let short: std::collections::HashMap<Uuid, String> = match c
        .call(p::ShortIds {
            ids: sources.clone(),
        })
        .await
    {
        Ok(s) => sources.into_iter().zip(s).collect(),
        Err(_) => Default::default(),
    };
    let body = html! {
        @if list.is_empty() { p { "Nothing waits for review." } }
        @for pr in &list {
            section.proposal {
                p.meta {
                    "from " strong { (pr.client) } " · " (when(&pr.created_at)) " · for "
                    code { (pr.namespace.as_str()) } " · " (pr.kind.as_str())
                    @if !pr.tags.is_empty() { " · tags " (pr.tags.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")) }
                }
                @if let Some(t) = &pr.title { h2 { (t) } }
                pre.body { (pr.body) }
                @if !pr.sources.is_empty() {
                    p.meta { "drawn from " @for id in &pr.sources { a href={ "/items/" (id) } { (short.get(id).cloned().unwrap_or_else(|| id.to_string())) } " " } }
                }
                div.actions {
                    form method="post" action={ "/pending/" (pr.id) "/approve" } {
                        (csrf(&s))
                        label { "into " input type="text" name="namespace" value=(pr.namespace.as_str()); }
                        " " button type="submit" { "Approve" }
                    }
                    form method="post" action={ "/pending/" (pr.id) "/reject" } {
                        (csrf(&s)) button.danger type="submit" { "Reject" }
                    }
                }
            }
        }
    };
    html::page("Pending", "/pending", &s, body)
}

/// Where to store an approved proposal.
#[derive(Deserialize)]
pub(crate) struct ApproveForm {
    #[serde(default)]
    namespace: String,
}

/// `POST /pending/{id}/approve`.
pub(crate) async fn approve(
    State(c): State<Console>,
    Extension(s): Extension<Signed>,
    Path(id): Path<Uuid>,
    Form(f): Form<ApproveForm>,
) -> Response {
    let r = async {
        let asked = f.namespace.trim();
        let namespace =
            if asked.is_empty() {
                None
            } else {
                Some(asked.parse().map_err(|e: vault_core::Error| {
                    ApiError::new(ErrorKind::Invalid, e.to_string())
                })?)
            };
        // Only a namespace other than the proposed one is a change of place.
        let proposed = c
            .call(p::PendingList {})
            .await?
            .into_iter()
            .find(|pr| pr.id == id)
            .map(|pr| pr.namespace.clone());
        let namespace = namespace.filter(|n| Some(n) != proposed.as_ref());
        c.call(p::Approve { id, namespace })
            .await
            .map(|i| format!("approved: stored as {} in {}", i.id, i.namespace.as_str()))
    }
    .await;
    c.after(&s, r, "/pending")
}

/// `POST /pending/{id}/reject`.
pub(crate) async fn reject(
    State(c): State<Console>,
    Extension(s): Extension<Signed>,
    Path(id): Path<Uuid>,
) -> Response {
    let r = c
        .call(p::Reject { id })
        .await
        .map(|()| format!("rejected {id}"));
    c.after(&s, r, "/pending")
}
