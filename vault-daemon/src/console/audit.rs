//! The audit trail: a timeline of each client's calls (SVG, drawn here),
//! the entries below it with links to the items they returned, and the
//! chain's check.

use std::collections::{BTreeMap, HashMap};

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;
use vault_core::audit::AuditRecord;

use super::html::{self, when};
use super::{Console, Signed};
use crate::protocol::{self as p, ApiError, ErrorKind};

/// Entries shown at most.
const SHOWN: usize = 1000;
/// Item links shown per entry.
const LINKS: usize = 5;
/// Columns of the timeline.
const BUCKETS: usize = 48;
/// Clients drawn in their own colour (the rest as "others").
const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
];

/// The filters.
#[derive(Deserialize, Default)]
pub(crate) struct Filter {
    #[serde(default)]
    client: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
}

fn time(s: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    match s.trim() {
        "" => Ok(None),
        v => crate::when::parse_time(v, false)
            .map(Some)
            .map_err(|m| ApiError::new(ErrorKind::Invalid, m)),
    }
}

/// `GET /audit`.
pub(crate) async fn page(
    State(c): State<Console>,
    Extension(s): Extension<Signed>,
    Query(f): Query<Filter>,
) -> Response {
    let body = match render(&c, &f).await {
        Ok(m) => m,
        Err(e) => html! { (form(&f)) (html::failed(&e)) },
    };
    html::page("Audit", "/audit", &s, body)
}

fn form(f: &Filter) -> Markup {
    html! {
        form.search method="get" action="/audit" {
            label { "Client " input type="text" name="client" value=(f.client) placeholder="any"; }
            " " label { "Action " input type="text" name="action" value=(f.action) placeholder="search, get, grant…"; }
            " " label { "Since " input type="text" name="since" value=(f.since) placeholder="7d, 2026-12-01"; }
            " " label { "Until " input type="text" name="until" value=(f.until) placeholder="now"; }
            " " button type="submit" { "Filter" }
        }
    }
}

async fn render(c: &Console, f: &Filter) -> Result<Markup, ApiError> {
    let since = time(&f.since)?;
    let until = time(&f.until)?;
    let client = (!f.client.trim().is_empty()).then(|| f.client.trim().to_owned());
    let action = f.action.trim();
    let filtered = !action.is_empty() || until.is_some();
    // The entries and the chain's check, in one pass over the log.
    let scan = c
        .call(p::AuditChecked {
            select: p::Audit {
                client,
                since,
                limit: (!filtered).then_some(SHOWN),
                devices: false,
            },
        })
        .await?;
    let verify = scan.report;
    let mut entries = scan.entries;
    if filtered {
        entries.retain(|r| {
            (action.is_empty() || r.entry.action == action)
                && until.is_none_or(|u| r.entry.time <= u)
        });
        let extra = entries.len().saturating_sub(SHOWN);
        entries.drain(..extra);
    }
    // Item links by the ids' shortest distinct starts, as the CLI prints them.
    let mut linked: Vec<Uuid> = entries
        .iter()
        .flat_map(|r| r.entry.ids.iter().take(LINKS).copied())
        .collect();
    linked.sort_unstable();
    linked.dedup();
    let short: HashMap<Uuid, String> = match c
        .call(p::ShortIds {
            ids: linked.clone(),
        })
        .await
    {
        Ok(s) => linked.into_iter().zip(s).collect(),
        Err(_) => HashMap::new(),
    };
    Ok(html! {
        @match &verify.problem {
            None => p.ok { "Chain intact: " (verify.entries) " entries checked (" code { "ctxvault audit verify" } ")." },
            Some(pb) => p.note.error { "Chain broken at entry " (pb.entry) ": " (pb.what) },
        }
        (form(f))
        (timeline(&entries))
        p.meta { (entries.len()) " entr" (if entries.len() == 1 { "y" } else { "ies" }) ", newest first" }
        table.audit {
            thead { tr { th { "#" } th { "Time" } th { "Client" } th { "Action" } th { "Via" } th { "Query or detail" } th { "Items" } } }
            tbody { @for r in entries.iter().rev() { (row(r, &short)) } }
        }
    })
}

fn row(r: &AuditRecord, short: &HashMap<Uuid, String>) -> Markup {
    let e = &r.entry;
    let via = match (&e.tool, &e.door) {
        (Some(t), Some(d)) => format!("{t} ({d})"),
        (Some(t), None) => t.clone(),
        (None, Some(d)) => d.clone(),
        (None, None) => String::new(),
    };
    html! {
        tr {
            td.num { (r.seq) }
            td { (when(&e.time)) }
            td { (e.client.as_deref().unwrap_or("you")) }
            td { (e.action) }
            td { (via) }
            td {
                @if let Some(q) = &e.query { "“" (q) "” " }
                @if let Some(d) = &e.detail { span.meta { (d) } }
            }
            td {
                @for id in e.ids.iter().take(LINKS) {
                    a href={ "/items/" (id) } { (short.get(id).cloned().unwrap_or_else(|| id.to_string())) } " "
                }
                @if e.ids.len() > LINKS { "and " (e.ids.len() - LINKS) " more" }
            }
        }
    }
}

/// Each client's calls per stretch of time, as lines over the shown span.
fn timeline(entries: &[AuditRecord]) -> Markup {
    let calls: Vec<(&str, DateTime<Utc>)> = entries
        .iter()
        .filter_map(|r| r.entry.client.as_deref().map(|c| (c, r.entry.time)))
        .collect();
    let (Some(first), Some(last)) = (
        calls.iter().map(|(_, t)| *t).min(),
        calls.iter().map(|(_, t)| *t).max(),
    ) else {
        return html! { p.meta { "No client calls in these entries: nothing to draw." } };
    };
    let span = (last - first).num_milliseconds().max(1) as f64;
    let label = |t: &DateTime<Utc>| {
        if last - first < chrono::Duration::hours(1) {
            t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
        } else {
            when(t)
        }
    };
    let bucket = |t: DateTime<Utc>| {
        let x = (t - first).num_milliseconds() as f64 / span * (BUCKETS - 1) as f64;
        (x.round() as usize).min(BUCKETS - 1)
    };
    let mut totals: BTreeMap<&str, usize> = BTreeMap::new();
    for (c, _) in &calls {
        *totals.entry(c).or_default() += 1;
    }
    let mut ranked: Vec<(&str, usize)> = totals.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let drawn: Vec<&str> = ranked.iter().take(PALETTE.len()).map(|(c, _)| *c).collect();
    let mut series: Vec<[u32; BUCKETS]> = vec![[0; BUCKETS]; drawn.len() + 1];
    for (c, t) in &calls {
        let i = drawn.iter().position(|d| d == c).unwrap_or(drawn.len());
        series[i][bucket(*t)] += 1;
    }
    let others = ranked.len() > drawn.len();
    let peak = series.iter().flatten().copied().max().unwrap_or(1).max(1);
    let (w, h, left, top, bottom) = (760.0, 180.0, 40.0, 10.0, 24.0);
    let x = |i: usize| left + i as f64 * (w - left - 10.0) / (BUCKETS - 1) as f64;
    let y = |n: u32| top + (h - top - bottom) * (1.0 - f64::from(n) / f64::from(peak));
    let points = |s: &[u32; BUCKETS]| {
        s.iter()
            .enumerate()
            .map(|(i, n)| format!("{:.1},{:.1}", x(i), y(*n)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let colour = |i: usize| PALETTE.get(i).copied().unwrap_or("#777777");
    html! {
        figure.timeline {
            svg xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (w) " " (h) } width="100%" role="img" aria-label="Client calls over time" {
                title { "Client calls over time" }
                line x1=(left) y1=(y(0)) x2=(w - 10.0) y2=(y(0)) stroke="#999" {}
                line x1=(left) y1=(top) x2=(left) y2=(y(0)) stroke="#999" {}
                text x="4" y=(top + 8.0) font-size="11" { (peak) }
                text x="4" y=(y(0)) font-size="11" { "0" }
                text x=(left) y=(h - 6.0) font-size="11" { (label(&first)) }
                text x=(w - 10.0) y=(h - 6.0) font-size="11" text-anchor="end" { (label(&last)) }
                @for (i, s) in series.iter().enumerate() {
                    @if i < drawn.len() || others {
                        polyline points=(points(s)) fill="none" stroke=(colour(i)) stroke-width="2" {}
                    }
                }
            }
            figcaption {
                @for (i, name) in drawn.iter().enumerate() {
                    span.key { svg width="12" height="12" { rect width="12" height="12" fill=(colour(i)) {} } " " (name) " (" (ranked[i].1) ")" }
                    " "
                }
                @if others { span.key { svg width="12" height="12" { rect width="12" height="12" fill=(colour(PALETTE.len())) {} } " others" } }
            }
        }
    }
}
