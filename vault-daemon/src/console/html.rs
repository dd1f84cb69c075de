//! The console's page frame and shared pieces. Every piece of text is
//! spliced in with maud, which HTML-escapes it: item text holding markup
//! or scripts shows as text.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};

use super::Signed;
use crate::protocol::ApiError;

/// The pages, as the navigation lists them: path and name.
const NAV: [(&str, &str); 7] = [
    ("/", "Overview"),
    ("/items", "Items"),
    ("/clients", "Clients and grants"),
    ("/see", "What a client sees"),
    ("/audit", "Audit"),
    ("/pending", "Pending"),
    ("/connectors", "Connectors"),
];

/// A whole page: `title`, the navigation (with `here` marked) and `body`.
pub fn page(title: &str, here: &str, signed: &Signed, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · ctxvault" }
                link rel="stylesheet" href="/console.css";
            }
            body {
                header {
                    span.brand { "ctxvault" }
                    nav {
                        @for (path, name) in NAV {
                            @if path == here {
                                a.here href=(path) aria-current="page" { (name) }
                            } @else {
                                a href=(path) { (name) }
                            }
                        }
                    }
                    form.logout method="post" action="/logout" {
                        (csrf(signed))
                        button type="submit" { "Log out" }
                    }
                }
                main {
                    h1 { (title) }
                    @if let Some((text, error)) = &signed.live.flash {
                        p class=(if *error { "note error" } else { "note" }) role="status" { (text) }
                    }
                    (body)
                }
            }
        }
    };
    Html(markup.into_string()).into_response()
}

/// The hidden field every form carries.
pub fn csrf(signed: &Signed) -> Markup {
    html! { input type="hidden" name="csrf" value=(signed.live.csrf); }
}

/// A small page for a refused request.
pub fn refusal(status: StatusCode, message: &str) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "ctxvault console" }
                link rel="stylesheet" href="/console.css";
            }
            body { main { h1 { "ctxvault console" } p.note.error { (message) } } }
        }
    };
    (status, Html(markup.into_string())).into_response()
}

/// The answer without a valid session: how to log in.
pub fn login_needed() -> Response {
    refusal(
        StatusCode::UNAUTHORIZED,
        "You are not logged in, or your session ended (it ends after 15 idle minutes and when the vault locks). Run `ctxvault console` for a new login link.",
    )
}

/// A time as the console shows it (UTC, to the minute).
pub fn when(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The first `n` characters of `s`, with an ellipsis when cut.
pub fn excerpt(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).collect();
    if s.chars().nth(n).is_some() {
        out.push('…');
    }
    out
}

/// An error the page shows in place of its content.
pub fn failed(e: &ApiError) -> Markup {
    html! { p.note.error { (e.message) } }
}

/// `s` encoded for a URL's query.
pub fn q(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `s` encoded for one segment of a URL's path.
pub fn seg(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
