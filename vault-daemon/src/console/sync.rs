//! The overview's sync conflicts: each item changed on two devices at once,
//! both versions, and one click to keep either (on every device at their
//! next sync).

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, html};

use super::html::{self, csrf};
use super::{Console, Signed};
use crate::protocol as p;

fn version(i: &Option<vault_core::Item>) -> Markup {
    html! {
        @match i {
            Some(i) => q { (i.body.chars().take(200).collect::<String>()) },
            None => em { "removed" },
        }
    }
}

/// The conflicts section of the overview (nothing when there are none).
pub(crate) async fn section(c: &Console, s: &Signed) -> Markup {
    html! {
        @match c.call(p::SyncConflicts {}).await {
            Err(e) => (html::failed(&e)),
            Ok(list) if list.is_empty() => {},
            Ok(list) => section {
                h2 { "Sync conflicts" }
                p { "These items were changed on two devices at once; both versions are kept until you choose." }
                ul { @for k in &list {
                    li {
                        "Item " code { (k.item) } ": this vault holds " (version(&k.current))
                        "; device " code { (k.device) } " made " (version(&k.other)) " "
                        form.inline method="post" action={ "/sync/" (k.item) "/current/" (k.op) } {
                            (csrf(s)) button type="submit" { "Keep the one held" }
                        }
                        " "
                        form.inline method="post" action={ "/sync/" (k.item) "/other/" (k.op) } {
                            (csrf(s)) button type="submit" { "Keep the other" }
                        }
                    }
                } }
            },
        }
    }
}

/// `POST /sync/{item}/{current|other}/{op}`.
pub(crate) async fn resolve(
    State(c): State<Console>,
    Extension(s): Extension<Signed>,
    Path((item, keep, op)): Path<(String, String, String)>,
) -> Response {
    let keep_other = keep == "other";
    let r = c
        .call(p::SyncResolve {
            item: item.clone(),
            keep_other,
            other: keep_other.then_some(op),
        })
        .await
        .map(|()| format!("conflict of item {item} resolved"));
    c.after(&s, r, "/")
}
