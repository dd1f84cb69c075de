//! Confirm before read: the questions waiting for the user's yes, the
//! yeses remembered for a while, and the step in every client read that
//! asks. A read that reaches items only a `--confirm` grant allows is
//! answered in full after a yes, and otherwise exactly as if those items
//! were absent (the read is made again without those grants).
//!
//! A door that asks the user itself (MCP elicitation) gets a ticket and
//! brings the answer back with its retry; any other read waits for
//! `ctxvault confirm` (or the console) up to a timeout, which is a no.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use client_view::Asking;
use policies::{Action, ClientPolicy, RuleId};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::policy;
use crate::protocol::{ApiError, ErrorKind};
use crate::session::Session;
use crate::view::{Who, reads};

/// How long a read waits for an answer (the test variable
/// `CTXVAULT_TEST_CONFIRM_MS` can only shorten it).
pub fn timeout() -> Duration {
    let default = Duration::from_secs(60);
    std::env::var("CTXVAULT_TEST_CONFIRM_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .filter(|d| *d < default && !d.is_zero())
        .unwrap_or(default)
}

/// Most questions waiting at once (each client's reads beyond it are
/// answered as a no at once).
const MAX_WAITING: usize = 32;

/// A question waiting for the user, as `ctxvault confirm` lists it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Question {
    /// Its id (what `ctxvault confirm ID --yes` names).
    pub id: Uuid,
    /// The client asking.
    pub client: String,
    /// The scopes of the grants that ask for a yes.
    pub scopes: Vec<String>,
    /// How many items the read would add.
    pub items: usize,
    /// When it was asked.
    pub asked_at: DateTime<Utc>,
    /// Whether the app asks the user itself.
    pub in_app: bool,
}

struct Waiting {
    question: Question,
    grants: Vec<RuleId>,
    deadline: Instant,
    /// Where the answer goes, for a read that waits.
    tx: Option<oneshot::Sender<bool>>,
}

/// The questions and remembered yeses of one unlocked session.
#[derive(Default)]
pub struct Confirmations {
    waiting: Mutex<Vec<Waiting>>,
    /// (client, grant) → until when a yes holds.
    yes_until: Mutex<HashMap<(String, RuleId), Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Confirmations {
    fn remembered(&self, client: &str, grant: RuleId, now: Instant) -> bool {
        lock(&self.yes_until)
            .get(&(client.to_owned(), grant))
            .is_some_and(|t| now < *t)
    }

    fn remember(&self, client: &str, grants: &[(RuleId, Option<u64>)], now: Instant) {
        let mut m = lock(&self.yes_until);
        for (g, secs) in grants {
            if let Some(s) = secs
                && let Some(until) = now.checked_add(Duration::from_secs(*s))
            {
                m.insert((client.to_owned(), *g), until);
            }
        }
    }

    /// Open a question; `None` when too many wait.
    fn open(&self, q: Question, grants: Vec<RuleId>, tx: Option<oneshot::Sender<bool>>) -> bool {
        let mut w = lock(&self.waiting);
        let now = Instant::now();
        w.retain(|x| x.deadline > now);
        if w.len() >= MAX_WAITING {
            return false;
        }
        w.push(Waiting {
            question: q,
            grants,
            deadline: now + timeout(),
            tx,
        });
        true
    }

    /// Take the door's question `ticket` of `client`: its grants.
    fn take_ticket(&self, ticket: Uuid, client: &str) -> Option<(Question, Vec<RuleId>)> {
        let mut w = lock(&self.waiting);
        let now = Instant::now();
        let i = w.iter().position(|x| {
            x.question.id == ticket && x.question.client == client && x.deadline > now
        })?;
        let x = w.remove(i);
        Some((x.question, x.grants))
    }

    /// Every question waiting, oldest first.
    pub fn list(&self) -> Vec<Question> {
        let now = Instant::now();
        lock(&self.waiting)
            .iter()
            .filter(|x| x.deadline > now)
            .map(|x| x.question.clone())
            .collect()
    }

    /// The user's answer to a waiting read's question (`id` or a start of
    /// it); the question it answered.
    pub fn answer(&self, id: &str, yes: bool) -> Result<Question, ApiError> {
        let mut w = lock(&self.waiting);
        let now = Instant::now();
        w.retain(|x| x.deadline > now);
        let want = id.trim().replace('-', "").to_ascii_lowercase();
        let hits: Vec<usize> = (0..w.len())
            .filter(|&i| {
                w[i].tx.is_some()
                    && !want.is_empty()
                    && (w[i].question.id.simple().to_string().starts_with(&want)
                        || short(&w[i].question.id) == want)
            })
            .collect();
        let [i] = hits[..] else {
            return Err(ApiError::new(
                ErrorKind::Invalid,
                format!(
                    "no question {id:?} waits{}; list them with `ctxvault confirm`",
                    if hits.len() > 1 {
                        " alone (several start so)"
                    } else {
                        ""
                    }
                ),
            ));
        };
        let x = w.remove(i);
        if let Some(tx) = x.tx {
            // A read that gave up (its client hung up) hears nothing.
            let _ = tx.send(yes);
        }
        Ok(x.question)
    }
}

/// The user's answer to one question.
#[derive(Clone, Copy)]
enum Said {
    Yes,
    No,
    NoAnswer,
}

impl Session {
    /// Answer a read whose policy has grants asking for a yes: `f` made
    /// with `p`, and if that reaches items only those grants allow (and no
    /// remembered yes covers), ask; without a yes, `f` again without them.
    pub(crate) async fn confirming<T, F, Fut>(
        &self,
        who: &Who,
        p: ClientPolicy,
        f: &F,
    ) -> Result<reads::Seen<T>, ApiError>
    where
        F: Fn(ClientPolicy) -> Fut,
        Fut: Future<Output = Result<reads::Seen<T>, ApiError>>,
    {
        let full = f(p.clone()).await?;
        let now = Instant::now();
        let plain = p.confirmed(|g| self.confirms.remembered(&who.client, g, now));
        let mut needed: Vec<RuleId> = Vec::new();
        let mut items = 0;
        for id in &full.ids {
            let Some(g) = self.vault.group_of_item(id).await else {
                continue;
            };
            let facts = policy::facts(&g);
            // Only what a remembered yes or a grant without --confirm gives
            // as it is (the same redactions) needs no question: a --confirm
            // grant that masks less asks too.
            if plain.decide(Action::Read, &facts).is_allowed()
                && redactions(&plain.decide(Action::Read, &facts))
                    == redactions(&p.decide(Action::Read, &facts))
            {
                continue;
            }
            if let policies::Decision::Allow { grants, .. } = p.decide(Action::Read, &facts) {
                items += 1;
                for g in grants {
                    if !needed.contains(&g) {
                        needed.push(g);
                    }
                }
            }
        }
        if needed.is_empty() {
            return Ok(full);
        }
        let asking: Vec<&policies::Grant> = p
            .grants()
            .iter()
            .filter(|g| needed.contains(&g.id))
            .collect();
        let question = Question {
            id: Uuid::now_v7(),
            client: who.client.clone(),
            scopes: asking.iter().map(|g| g.scope.to_string()).collect(),
            items,
            asked_at: Utc::now(),
            in_app: who.asking.is_some(),
        };
        let said = match who.asking {
            // A no needs no ticket: the read goes on without those items.
            Some(Asking { answer: Some(a) }) if !a.yes => {
                if let Some((q, _)) = self.confirms.take_ticket(a.ticket, &who.client) {
                    self.audit_answer(who, &q, Said::No, "in the app").await?;
                }
                Said::No
            }
            Some(Asking { answer: Some(a) }) => {
                match self.confirms.take_ticket(a.ticket, &who.client) {
                    // A yes holds only for exactly what the user was asked.
                    Some((q, grants)) if same_set(&grants, &needed) => {
                        self.audit_answer(
                            who,
                            &q,
                            if a.yes { Said::Yes } else { Said::No },
                            "in the app",
                        )
                        .await?;
                        if a.yes { Said::Yes } else { Said::No }
                    }
                    // A stale or foreign ticket: ask afresh.
                    _ => return Err(self.ask_in_app(who, question, needed).await?),
                }
            }
            Some(Asking { answer: None }) => {
                return Err(self.ask_in_app(who, question, needed).await?);
            }
            None => {
                let (tx, rx) = oneshot::channel();
                let said = if self
                    .confirms
                    .open(question.clone(), needed.clone(), Some(tx))
                {
                    self.notify_question(&question);
                    match tokio::time::timeout(timeout(), rx).await {
                        Ok(Ok(true)) => Said::Yes,
                        Ok(Ok(false)) => Said::No,
                        Ok(Err(_)) | Err(_) => Said::NoAnswer,
                    }
                } else {
                    Said::NoAnswer
                };
                self.audit_answer(
                    who,
                    &question,
                    said,
                    "with `ctxvault confirm` or the console",
                )
                .await?;
                said
            }
        };
        match said {
            Said::Yes => {
                let keep: Vec<(RuleId, Option<u64>)> = asking
                    .iter()
                    .map(|g| (g.id, g.confirm.and_then(|c| c.remember_secs)))
                    .collect();
                self.confirms.remember(&who.client, &keep, Instant::now());
                Ok(full)
            }
            Said::No | Said::NoAnswer => {
                let now = Instant::now();
                f(p.confirmed(|g| {
                    !needed.contains(&g) && self.confirms.remembered(&who.client, g, now)
                }))
                .await
            }
        }
    }

    /// Open a question the door asks in the app: the error carrying its
    /// ticket (the ask is audited).
    async fn ask_in_app(
        &self,
        who: &Who,
        q: Question,
        grants: Vec<RuleId>,
    ) -> Result<ApiError, ApiError> {
        let text = format!(
            "ctxvault: allow {} to read what you keep in {} for this request?",
            q.client,
            q.scopes.join(", ")
        );
        let id = q.id;
        if !self.confirms.open(q.clone(), grants, None) {
            return Err(ApiError::new(
                ErrorKind::RateLimited,
                "too many questions wait for the user; try again later",
            ));
        }
        let mut entry = self.entry(who, "confirm-ask");
        entry.detail = Some(format!(
            "asked in the app: {} item(s) under {}",
            q.items,
            q.scopes.join(", ")
        ));
        self.vault.record_audit(&entry).await?;
        Ok(ApiError {
            ticket: Some(id),
            ..ApiError::new(ErrorKind::NeedsConfirmation, text)
        })
    }

    /// Record the answer to a question.
    async fn audit_answer(
        &self,
        who: &Who,
        q: &Question,
        said: Said,
        how: &str,
    ) -> Result<(), ApiError> {
        let mut entry = self.entry(who, "confirm");
        let word = match said {
            Said::Yes => "yes".to_owned(),
            Said::No => "no".to_owned(),
            Said::NoAnswer => format!("no answer within {} s: no", timeout().as_secs()),
        };
        entry.detail = Some(format!(
            "{} item(s) under {}: {word} ({how})",
            q.items,
            q.scopes.join(", ")
        ));
        self.vault.record_audit(&entry).await?;
        Ok(())
    }

    /// Tell the desktop a read waits (in the background; nothing when
    /// there is no notification service).
    fn notify_question(&self, q: &Question) {
        if !self.notify.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let body = format!(
            "{} asks to read {}. Answer with `ctxvault confirm {} --yes` (or --no).",
            q.client,
            q.scopes.join(", "),
            short(&q.id)
        );
        tokio::spawn(async move {
            let _ = tokio::time::timeout(
                Duration::from_secs(3),
                crate::notify::send("ctxvault: a read waits for your yes", &body),
            )
            .await;
        });
    }
}

/// The redactions of an allowing decision.
fn redactions(d: &policies::Decision) -> Option<policies::Redactions> {
    match d {
        policies::Decision::Allow { redactions, .. } => Some(*redactions),
        policies::Decision::Deny(_) => None,
    }
}

/// A question's short id: the last 8 hex digits of its id (the random
/// part; the first ones are the time and shared by questions asked
/// together).
pub fn short(id: &Uuid) -> String {
    let s = id.simple().to_string();
    s[s.len() - 8..].to_owned()
}

/// Whether two lists of grants hold the same grants.
fn same_set(a: &[RuleId], b: &[RuleId]) -> bool {
    a.len() == b.len() && a.iter().all(|g| b.contains(g))
}
