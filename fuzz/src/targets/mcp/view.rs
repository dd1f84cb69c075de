//! An in-memory client view, so the MCP target needs no agent. It starts
//! with fixed items and keeps what `remember` stores; like the agent's view
//! it reads the query with `index::query_terms`, cuts snippets with
//! `vault::snippet` and masks every read through the policy's redactions
//! (all kinds), so text a client wrote reaches the redaction code when it
//! is read back. It fails on demand: a query, topic,
//! namespace or content holding `!locked`, `!invalid`, `!forbidden`,
//! `!notfound`, `!ratelimited`, `!unauthorized`, `!unavailable` or
//! `!internal` gets that error, as do the nil id (internal) and the max id
//! (locked).

use std::future::ready;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use client_view::{
    AccessReport, Action, ClientView, ContextItem, ContextQuery, GrantView, Hit, ListQuery,
    NamespaceCount, Page, PageQuery, Profile, ProfileQuery, Redaction, RememberRequest,
    RememberStatus, Remembered, SearchQuery, Sensitivity, ViewError, ViewErrorKind, ViewFuture,
};
use policies::Redactions;
use uuid::Uuid;

/// The view of one input's session.
pub struct FuzzView {
    items: Mutex<Vec<ContextItem>>,
}

fn item(n: u128, namespace: &str, kind: &str, title: Option<&str>, body: &str) -> ContextItem {
    let t = DateTime::<Utc>::from_timestamp(1_790_000_000 + n as i64, 0).unwrap_or_default();
    ContextItem {
        id: Uuid::from_u128(0x0192_f0c1_7c5e_7d3a_9a4e_0000_0000_0000 + n),
        namespace: namespace.into(),
        kind: kind.into(),
        title: title.map(Into::into),
        body: body.into(),
        tags: vec!["planning".into()],
        sensitivity: Sensitivity::Normal,
        source: "user".into(),
        created_at: t,
        updated_at: t,
        version: 1,
    }
}

impl Default for FuzzView {
    fn default() -> Self {
        FuzzView {
            items: Mutex::new(vec![
                item(
                    1,
                    "profile",
                    "fact",
                    Some("Name"),
                    "The user is Ann, in Lyon.",
                ),
                item(
                    2,
                    "preferences",
                    "preference",
                    None,
                    "Likes tea, not coffee.",
                ),
                item(
                    3,
                    "work/acme",
                    "note",
                    Some("Q3 roadmap"),
                    "Ship the sync engine.\nMail ann@acme.example about it.",
                ),
                item(
                    4,
                    "work/acme/people",
                    "person",
                    Some("Bob"),
                    "Bob leads design.",
                ),
            ]),
        }
    }
}

fn failure(text: &str) -> Option<ViewError> {
    const KINDS: [(&str, ViewErrorKind); 8] = [
        ("!locked", ViewErrorKind::Locked),
        ("!invalid", ViewErrorKind::Invalid),
        ("!forbidden", ViewErrorKind::Forbidden),
        ("!notfound", ViewErrorKind::NotFound),
        ("!ratelimited", ViewErrorKind::RateLimited),
        ("!unauthorized", ViewErrorKind::Unauthorized),
        ("!unavailable", ViewErrorKind::Unavailable),
        ("!internal", ViewErrorKind::Internal),
    ];
    KINDS
        .iter()
        .find(|(word, _)| text.contains(word))
        .map(|(word, kind)| ViewError::new(*kind, format!("asked to fail: {word}")))
}

fn check(texts: &[Option<&str>]) -> Result<(), ViewError> {
    match texts.iter().flatten().find_map(|t| failure(t)) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn done<'a, T: Send + 'a>(r: Result<T, ViewError>) -> ViewFuture<'a, T> {
    Box::pin(ready(r))
}

impl FuzzView {
    fn items(&self) -> MutexGuard<'_, Vec<ContextItem>> {
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every item as a client reads it: redacted.
    fn read(&self) -> Vec<ContextItem> {
        let all = Redactions::of(&Redaction::ALL);
        self.items()
            .iter()
            .map(|i| {
                let mut i = i.clone();
                i.body = all.apply(&i.body);
                i.title = i.title.as_deref().map(|t| all.apply(t));
                i
            })
            .collect()
    }

    fn matches(&self, query: &str, namespace: Option<&str>, limit: usize) -> Vec<Hit> {
        let terms = vault_core::index::query_terms(query);
        self.read()
            .into_iter()
            .filter(|i| namespace.is_none_or(|ns| i.namespace.starts_with(ns)))
            .filter(|i| {
                let body = i.body.to_lowercase();
                terms.iter().all(|(t, _)| body.contains(t.as_str()))
            })
            .take(limit)
            .map(|i| Hit {
                snippet: vault_core::vault::snippet(&i.body, &terms),
                item: i,
                score: 1.0,
            })
            .collect()
    }
}

impl ClientView for FuzzView {
    fn search(&self, _tool: &'static str, q: SearchQuery) -> ViewFuture<'_, Vec<Hit>> {
        let r = check(&[Some(&q.query), q.namespace.as_deref()]).and_then(|()| {
            if q.query.trim().is_empty() {
                Err(ViewError::new(ViewErrorKind::Invalid, "the query is empty"))
            } else {
                Ok(self.matches(&q.query, q.namespace.as_deref(), q.limit))
            }
        });
        done(r)
    }

    fn get(&self, _tool: &'static str, id: Uuid) -> ViewFuture<'_, ContextItem> {
        let r = if id.is_nil() {
            Err(ViewError::new(
                ViewErrorKind::Internal,
                "asked to fail: nil",
            ))
        } else if id.is_max() {
            Err(ViewError::new(ViewErrorKind::Locked, "asked to fail: max"))
        } else {
            self.read()
                .into_iter()
                .find(|i| i.id == id)
                .ok_or_else(|| ViewError::new(ViewErrorKind::NotFound, format!("no item {id}")))
        };
        done(r)
    }

    fn list(&self, _tool: &'static str, q: ListQuery) -> ViewFuture<'_, Vec<ContextItem>> {
        let r = check(&[q.namespace.as_deref()]).map(|()| {
            self.read()
                .into_iter()
                .filter(|i| {
                    q.namespace
                        .as_deref()
                        .is_none_or(|ns| i.namespace.starts_with(ns))
                })
                .collect()
        });
        done(r)
    }

    fn page(&self, _tool: &'static str, q: PageQuery) -> ViewFuture<'_, Page> {
        let all = self.read();
        let end = q.offset.saturating_add(q.limit);
        let next = (end < all.len()).then_some(end);
        let items: Vec<ContextItem> = all.into_iter().skip(q.offset).take(q.limit).collect();
        done(Ok(Page { items, next }))
    }

    fn access(&self, _tool: &'static str) -> ViewFuture<'_, AccessReport> {
        let mut namespaces: Vec<NamespaceCount> = Vec::new();
        let all = self.read();
        for i in &all {
            match namespaces.iter_mut().find(|n| n.namespace == i.namespace) {
                Some(n) => {
                    n.normal += 1;
                    n.total += 1;
                }
                None => namespaces.push(NamespaceCount {
                    namespace: i.namespace.clone(),
                    normal: 1,
                    total: 1,
                    ..Default::default()
                }),
            }
        }
        done(Ok(AccessReport {
            client: "fuzz".into(),
            actions: vec![Action::Read, Action::Propose],
            grants: 1,
            denies: 0,
            namespaces,
            items: all.len() as u64,
            scopes: vec![GrantView {
                scope: "**".into(),
                actions: vec![Action::Read, Action::Propose],
                tags: Vec::new(),
                max_sensitivity: Sensitivity::Normal,
                expires: None,
                redact: vec![Redaction::Email],
                providers: None,
                confirm: false,
            }],
            destination: "an undeclared provider (cloud)".into(),
            aspect: None,
            summary: "fuzz can read everything.".into(),
        }))
    }

    fn actions(&self) -> ViewFuture<'_, Vec<Action>> {
        done(Ok(vec![Action::Read, Action::Propose]))
    }

    fn profile(&self, _tool: &'static str, q: ProfileQuery) -> ViewFuture<'_, Profile> {
        let r = check(&[q.topic.as_deref()]).map(|()| Profile {
            items: self
                .read()
                .into_iter()
                .filter(|i| i.namespace == "profile" || i.kind == "preference")
                .collect(),
            hits: q
                .topic
                .as_deref()
                .map(|t| self.matches(t, None, q.limit))
                .unwrap_or_default(),
        });
        done(r)
    }

    fn context(&self, tool: &'static str, q: ContextQuery) -> ViewFuture<'_, Profile> {
        // The MCP server never asks for it; answered as the profile is.
        let topic = q.message.filter(|_| !q.profile_only);
        self.profile(
            tool,
            ProfileQuery {
                topic,
                limit: q.limit,
            },
        )
    }

    fn remember(&self, _tool: &'static str, r: RememberRequest) -> ViewFuture<'_, Remembered> {
        let out = check(&[
            Some(&r.content),
            r.namespace.as_deref(),
            r.kind.as_deref(),
            r.title.as_deref(),
        ])
        .and_then(|()| {
            if r.content.trim().is_empty() {
                return Err(ViewError::new(
                    ViewErrorKind::Invalid,
                    "the content is empty",
                ));
            }
            let id = Uuid::from_u128(u128::from(crate::runner::fnv(r.content.as_bytes())));
            let namespace = r.namespace.clone().unwrap_or_else(|| "inbox".into());
            let mut stored = item(
                0,
                &namespace,
                r.kind.as_deref().unwrap_or("note"),
                r.title.as_deref(),
                &r.content,
            );
            stored.id = id;
            stored.tags = r.tags.clone();
            stored.source = "client:fuzz".into();
            self.items().push(stored);
            Ok(Remembered {
                id,
                status: RememberStatus::Stored,
                namespace,
            })
        });
        done(out)
    }
}
