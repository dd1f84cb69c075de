//! Items: browse by namespace, search, view, add, edit, remove.

use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::response::Response;
use maud::{Markup, html};
use policies::Sensitivity;
use serde::Deserialize;
use uuid::Uuid;
use vault_core::item::Source;
use vault_core::{Item, ItemFilter, ItemPatch, Kind, Namespace, NewItem, SearchMode, Tag};

use super::html::{self, csrf, excerpt, when};
use super::{Console, Signed};
use crate::protocol::{self as p, ApiError, ErrorKind};

/// Items listed at most on one page.
const SHOWN: usize = 200;
/// Search results at most.
const HITS: usize = 50;

/// The browse and search query.
#[derive(Deserialize, Default)]
pub(crate) struct Browse {
    #[serde(default)]
    ns: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    mode: String,
}

fn invalid(m: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::Invalid, m.into())
}

/// A namespace from a form field (`None` when empty).
fn namespace(s: &str) -> Result<Option<Namespace>, ApiError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|e: vault_core::Error| invalid(e.to_string()))
}

/// Tags from a form field: separated by commas or spaces.
fn tags(s: &str) -> Result<Vec<Tag>, ApiError> {
    s.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse()
                .map_err(|e: vault_core::Error| invalid(e.to_string()))
        })
        .collect()
}

/// A sensitivity from a form field (`None` when empty).
fn sensitivity(s: &str) -> Result<Option<Sensitivity>, ApiError> {
    match s.trim() {
        "" => Ok(None),
        s => s
            .parse()
            .map(Some)
            .map_err(|e: policies::ParseError| invalid(e.to_string())),
    }
}

/// The text of a textarea, with the browser's CRLF line ends made LF.
fn text(s: &str) -> String {
    s.replace("\r\n", "\n")
}

/// `GET /items`.
pub(crate) async fn list(
    State(c): State<Console>,
    Extension(s): Extension<Signed>,
    Query(b): Query<Browse>,
) -> Response {
    let body = match browse(&c, &b).await {
        Ok(m) => m,
        Err(e) => html! { (html::failed(&e)) (add_form(&s, &b.ns)) },
    };
    let body = html! { (body) };
    html::page("Items", "/items", &s, body_with_form(&s, &b, body))
}

fn body_with_form(s: &Signed, b: &Browse, listing: Markup) -> Markup {
    html! {
        form.search method="get" action="/items" {
            label { "Search " input type="search" name="q" value=(b.q); }
            " in "
            input type="text" name="ns" value=(b.ns) placeholder="namespace (all)";
            " "
            select name="mode" {
                option value="" { "default engines" }
                @for m in SearchMode::ALL {
                    option value=(m.as_str()) selected[b.mode == m.as_str()] { (m.as_str()) }
                }
            }
            " "
            button type="submit" { "Search" }
        }
        (listing)
        (add_form(s, &b.ns))
    }
}

async fn browse(c: &Console, b: &Browse) -> Result<Markup, ApiError> {
    let ns = namespace(&b.ns)?;
    let counts = c.call(p::Counts {}).await?;
    let namespaces = html! {
        nav.namespaces aria-label="Namespaces" {
            @for n in &counts {
                a href={ "/items?ns=" (html::q(&n.namespace)) } { (n.namespace) " (" (n.total) ")" }
            }
        }
    };
    let filter = ItemFilter {
        namespace: ns.clone(),
        tags: Vec::new(),
    };
    let listing = if !b.q.trim().is_empty() {
        let mode = match b.mode.as_str() {
            "" => None,
            m => Some(
                m.parse::<SearchMode>()
                    .map_err(|e| invalid(e.to_string()))?,
            ),
        };
        let hits = c
            .call(p::Search {
                query: b.q.clone(),
                mode,
                filter,
                limit: HITS,
            })
            .await?;
        html! {
            h2 { (hits.len()) " result(s) for “" (b.q) "”" }
            ol.hits { @for h in &hits {
                li { (item_line(&h.item)) br; span.snippet { (h.snippet) } }
            } }
        }
    } else if ns.is_some() {
        let items = c.call(p::List { filter }).await?;
        let total = items.len();
        html! {
            h2 { (b.ns) ": " (total) " item(s)" @if total > SHOWN { ", the newest " (SHOWN) " shown" } }
            ul.items { @for i in items.iter().rev().take(SHOWN) { li { (item_line(i)) } } }
        }
    } else {
        html! { p { "Choose a namespace, or search." } }
    };
    Ok(html! { (namespaces) (listing) })
}

/// One item as a line of a list: a link, its place and an excerpt.
fn item_line(i: &Item) -> Markup {
    let label = match &i.title {
        Some(t) if !t.is_empty() => excerpt(t, 80),
        _ => excerpt(&i.body, 80),
    };
    html! {
        a href={ "/items/" (i.id) } { (label) }
        " "
        span.meta { (i.namespace.as_str()) " · " (i.kind.as_str()) " · " (i.sensitivity.as_str()) " · " (when(&i.updated_at)) }
    }
}

fn add_form(s: &Signed, ns: &str) -> Markup {
    html! {
        details open[ns.is_empty()] {
            summary { "Add an item" }
            form.item method="post" action="/items" {
                (csrf(s))
                (fields(ns, "", "", "", "", Sensitivity::default(), true))
                button type="submit" { "Add" }
            }
        }
    }
}

/// The fields of an item's form, filled with what it has.
fn fields(
    ns: &str,
    kind: &str,
    title: &str,
    body: &str,
    tags: &str,
    sens: Sensitivity,
    body_required: bool,
) -> Markup {
    html! {
        label { "Namespace " input type="text" name="namespace" value=(ns) placeholder="default"; }
        label { "Kind " input type="text" name="kind" value=(kind) placeholder="note"; }
        label { "Title " input type="text" name="title" value=(title); }
        // A newline right after the tag is dropped by the HTML parser: this
        // one, so a text that starts with a newline keeps it.
        label { "Text " textarea name="body" rows="6" required[body_required] { "\n" (body) } }
        label { "Tags " input type="text" name="tags" value=(tags) placeholder="comma-separated"; }
        label { "Sensitivity "
            select name="sensitivity" {
                @for sv in Sensitivity::ALL {
                    option value=(sv.as_str()) selected[sv == sens] { (sv.as_str()) }
                }
            }
        }
        label.check { input type="checkbox" name="new_kind" value="on"; " a new kind (not a typo)" }
    }
}

/// An item's form.
#[derive(Deserialize)]
pub(crate) struct ItemForm {
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    sensitivity: String,
    #[serde(default)]
    new_kind: Option<String>,
    /// The version the edit form showed.
    #[serde(default)]
    version: Option<u64>,
}

fn kind(s: &str) -> Result<Option<Kind>, ApiError> {
    match s.trim() {
        "" => Ok(None),
        k => k
            .parse()
            .map(Some)
            .map_err(|e: vault_core::Error| invalid(e.to_string())),
    }
}

/// `POST /items`.
pub(crate) async fn add(
    State(c): State<Console>,
    Extension(s): Extension<Signed>,
    Form(f): Form<ItemForm>,
) -> Response {
    let added = async {
        let title = f.title.trim();
        let item = NewItem {
            namespace: namespace(&f.namespace)?.unwrap_or_default(),
            kind: kind(&f.kind)?.unwrap_or_default(),
            title: (!title.is_empty()).then(|| title.to_owned()),
            body: text(&f.body),
            tags: tags(&f.tags)?,
            sensitivity: sensitivity(&f.sensitivity)?.unwrap_or_default(),
            source: Source::user(),
        };
        c.call(p::Add {
            item,
            new_kind: f.new_kind.is_some(),
            request: Some(Uuid::now_v7()),
            expires: None,
        })
        .await
    }
    .await;
    match added {
        Ok(i) => c.after(
            &s,
            Ok(format!("added {}", i.id)),
            &format!("/items/{}", i.id),
        ),
        Err(e) => c.after(&s, Err(e), &format!("/items?ns={}", html::q(&f.namespace))),
    }
}

/// `GET /items/{id}`.
pub(crate) async fn view(
    State(c): State<Console>,
    Extension(s): Extension<Signed>,
    Path(id): Path<Uuid>,
) -> Response {
    let i = match c.call(p::Get { id }).await {
        Ok(i) => i,
        Err(e) => return html::page("Item", "/items", &s, html::failed(&e)),
    };
    let tags = i
        .tags
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let body = html! {
        dl.item {
            dt { "Id" } dd { code { (i.id) } }
            dt { "Namespace" } dd { a href={ "/items?ns=" (html::q(i.namespace.as_str())) } { (i.namespace.as_str()) } }
            dt { "Kind" } dd { (i.kind.as_str()) }
            dt { "Title" } dd { (i.title.as_deref().unwrap_or("")) }
            dt { "Tags" } dd { (tags) }
            dt { "Sensitivity" } dd { (i.sensitivity.as_str()) }
            dt { "Source" } dd { (i.source.as_str()) }
            dt { "Created" } dd { (when(&i.created_at)) }
            dt { "Changed" } dd { (when(&i.updated_at)) " (version " (i.version) ")" }
        }
        pre.body { (i.body) }
        details {
            summary { "Edit" }
            form.item method="post" action={ "/items/" (i.id) "/edit" } {
                (csrf(&s))
                input type="hidden" name="version" value=(i.version);
                (fields(i.namespace.as_str(), i.kind.as_str(), i.title.as_deref().unwrap_or(""), &i.body, &tags, i.sensitivity, true))
                button type="submit" { "Save" }
            }
        }
        form method="post" action={ "/items/" (i.id) "/remove" } {
            (csrf(&s))
            button.danger type="submit" { "Remove this item" }
        }
    };
    html::page("Item", "/items", &s, body)
}

/// `POST /items/{id}/edit`: only the fields that differ change.
pub(crate) async fn edit(
    State(c): State<Console>,
    Extension(s): Extension<Signed>,
    Path(id): Path<Uuid>,
    Form(f): Form<ItemForm>,
) -> Response {
    let edited = async {
        let old = c.call(p::Get { id }).await?;
        if f.version.is_some_and(|v| v != old.version) {
            return Err(invalid(format!(
                "{id} changed since this page was loaded (it is at version {} now); open it again and redo the edit",
                old.version
            )));
        }
        let title = f.title.trim().to_owned();
        let body = text(&f.body);
        let new_tags = tags(&f.tags)?;
        let ns = namespace(&f.namespace)?;
        let k = kind(&f.kind)?;
        let sens = sensitivity(&f.sensitivity)?;
        let patch = ItemPatch {
            namespace: ns.filter(|n| *n != old.namespace),
            kind: k.filter(|k| *k != old.kind),
            title: (title != old.title.clone().unwrap_or_default()).then_some(title),
            body: (body != old.body.replace("\r\n", "\n")).then_some(body),
            tags: (new_tags != old.tags).then_some(new_tags),
            remove_tags: Vec::new(),
            add_tags: Vec::new(),
            sensitivity: sens.filter(|s| *s != old.sensitivity),
        };
        if patch.is_empty() {
            return Ok(format!("no change to {id}"));
        }
        c.call(p::Edit {
            id,
            patch,
            new_kind: f.new_kind.is_some(),
        })
        .await
        .map(|i| format!("updated {} (version {})", i.id, i.version))
    }
    .await;
    c.after(&s, edited, &format!("/items/{id}"))
}

/// `POST /items/{id}/remove`.
pub(crate) async fn remove(
    State(c): State<Console>,
    Extension(s): Extension<Signed>,
    Path(id): Path<Uuid>,
) -> Response {
    match c.call(p::Remove { ids: vec![id] }).await {
        Ok(()) => c.after(&s, Ok(format!("removed {id}")), "/items"),
        Err(e) => c.after(&s, Err(e), &format!("/items/{id}")),
    }
}
