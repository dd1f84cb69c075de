//! Import and export: a bundle's text streamed in frames between the CLI
//! and the agent (`protocol::frames`), so that neither side holds the
//! whole file as one request, and the agent reads and writes it as it goes.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use futures_util::StreamExt;
use std::sync::Arc;
use tokio::sync::mpsc;
use vault_core::bundle::{self, Contents, Counts, Parsed, Reader};

use crate::agent::Agent;
use crate::policy;
use crate::protocol::frames::{DATA_FRAME, Decoder, FrameKind, encode};
use crate::protocol::*;
use crate::session::Session;
use vault_core::records::PolicyRecord;
use vault_core::vault::RecordChange;

/// Largest import accepted, in bytes of bundle text.
const MAX_IMPORT: usize = 1024 * 1024 * 1024;
/// Items read and sealed into text at a time by an export.
const EXPORT_CHUNK: usize = 1024;
/// How long an export waits for its reader to take a frame.
const SEND_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

impl Session {
    /// Write the whole vault as bundle text into `out`, in frames, ending
    /// with an `E` frame holding the outcome. Stops when `out` is closed or
    /// stops taking frames (the CLI went away), or when `current` says
    /// this session was locked meanwhile.
    pub(crate) async fn export(
        &self,
        r: Export,
        out: mpsc::Sender<Bytes>,
        current: impl Fn() -> bool + Send,
    ) {
        let outcome = self.export_frames(&r, &out, &current).await;
        let end = serde_json::to_vec(&outcome).unwrap_or_else(|_| {
            br#"{"Err":{"kind":"internal","message":"cannot encode the outcome"}}"#.to_vec()
        });
        let _ = out
            .send_timeout(frame(FrameKind::End, &end), SEND_WAIT)
            .await;
    }

    async fn export_frames(
        &self,
        r: &Export,
        out: &mpsc::Sender<Bytes>,
        current: &(impl Fn() -> bool + Send),
    ) -> Result<Counts, ApiError> {
        let send = |payload: &[u8]| {
            let f = frame(FrameKind::Data, payload);
            async move {
                out.send_timeout(f, SEND_WAIT).await.map_err(|_| {
                    ApiError::new(ErrorKind::Internal, "the export's reader stopped reading")
                })
            }
        };
        let records = if r.with_policy {
            self.vault.records().await?
        } else {
            Vec::new()
        };
        let policy = Contents::assemble(Vec::new(), &records, r.with_policy);
        let max = if r.without_secret {
            vault_core::Sensitivity::Private
        } else {
            vault_core::Sensitivity::Secret
        };
        let mut scan = self.vault.scan(EXPORT_CHUNK, max).await;
        let counts = Counts {
            items: scan.len() as u64,
            ..policy.counts()
        };
        // Room for a frame and the longest line: the text never moves to a
        // bigger block, which would leave a copy unwiped.
        let mut text = zeroize::Zeroizing::new(Vec::with_capacity(DATA_FRAME + bundle::MAX_LINE));
        bundle::header_line(chrono::Utc::now(), &counts, &mut text);
        while let Some(items) = self.vault.scan_next(&mut scan).await? {
            if !current() {
                return Err(crate::view::locked_error());
            }
            for i in &items {
                bundle::item_line(i, &mut text);
                while text.len() >= DATA_FRAME {
                    send(&text[..DATA_FRAME]).await?;
                    text.drain(..DATA_FRAME);
                }
            }
        }
        policy.policy_lines(&mut text);
        for piece in text.chunks(DATA_FRAME) {
            send(piece).await?;
        }
        Ok(counts)
    }

    /// Bring in items and policy records in one transaction. Clients come
    /// without a usable token (a bundle never holds one): `client rotate`
    /// gives them one. Records already present, or for a client neither
    /// present nor imported, are skipped and counted.
    ///
    /// `parsed` is the file's text as read; the options' prefix and tags
    /// are applied here, and an item they make invalid is named by its
    /// line.
    pub(crate) async fn import(
        &self,
        opts: Import,
        parsed: Parsed,
    ) -> Result<ImportSummary, ApiError> {
        let Import {
            dry_run,
            with_policy,
            prefix,
            tags,
            ids_only,
        } = opts;
        let Parsed {
            contents,
            item_lines,
        } = parsed;
        let Contents {
            mut items,
            clients,
            grants,
            denies,
        } = contents;
        for (item, line) in items.iter_mut().zip(&item_lines) {
            let at = |e: vault_core::Error| {
                ApiError::new(ErrorKind::Invalid, format!("line {line}: {e}"))
            };
            if let Some(p) = &prefix {
                item.namespace = format!("{p}/{}", item.namespace)
                    .parse()
                    .map_err(|e: vault_core::Error| at(e))?;
            }
            item.tags.extend(tags.iter().cloned());
            item.validate().map_err(at)?;
        }
        let mut st = self.policy.write().await;
        let mut summary = ImportSummary {
            dry_run,
            ..Default::default()
        };
        let (clients, grants, denies) = if with_policy {
            (clients, grants, denies)
        } else {
            summary.policy_left_out = (clients.len() + grants.len() + denies.len()) as u64;
            Default::default()
        };
        // Rules from a file attach only to the clients it creates: a grant
        // naming a client that already exists would widen a live token's
        // access behind the user's back.
        let existing: Vec<String> = st.clients.iter().map(|c| c.name.clone()).collect();
        let mut created: Vec<String> = Vec::new();
        let mut put = Vec::new();
        for c in clients {
            if existing.contains(&c.name) || created.contains(&c.name) {
                summary.rules_skipped += 1;
                continue;
            }
            let (mut rec, _unshown_token) = st.add_client(&c.name, c.created_at, None)?;
            rec.created_at = c.created_at;
            put.push(PolicyRecord::Client(rec));
            created.push(c.name);
            summary.clients += 1;
        }
        let now = chrono::Utc::now();
        for g in grants {
            if !created.contains(&g.client) || st.grants.iter().any(|x| x.id == g.id) {
                summary.rules_skipped += 1;
                continue;
            }
            summary.rules.push(crate::rules::rule_info_grant(&g, now));
            put.push(policy::grant_record(&g));
            summary.grants += 1;
        }
        for d in denies {
            if !created.contains(&d.client) || st.denies.iter().any(|x| x.id == d.id) {
                summary.rules_skipped += 1;
                continue;
            }
            summary.rules.push(crate::rules::rule_info_deny(&d));
            put.push(policy::deny_record(&d));
            summary.denies += 1;
        }
        summary.new_clients = created;
        let offered = items.len();
        summary.offered = offered as u64;
        let entry = policy::user_entry(
            "import",
            vec![],
            format!(
                "{offered} items offered; {} clients, {} grants, {} deny rules",
                summary.clients, summary.grants, summary.denies
            ),
        );
        let change = RecordChange {
            put: put.clone(),
            delete: vec![],
            audit: Some(entry),
            request: None,
        };
        let dedupe = if ids_only {
            vault_core::vault::Dedupe::Id
        } else {
            vault_core::vault::Dedupe::IdOrText
        };
        let report = self.vault.import(items, change, dry_run, dedupe).await?;
        if !dry_run {
            st.apply(&put, &[]);
        }
        summary.added = report.added;
        summary.duplicates = report.duplicates;
        summary.updated = report.updated;
        Ok(summary)
    }
}

/// A frame as a body chunk whose buffer is wiped once sent.
fn frame(kind: FrameKind, payload: &[u8]) -> Bytes {
    Bytes::from_owner(encode(kind, payload))
}

fn json_answer<T: serde::Serialize>(r: Result<T, ApiError>) -> axum::response::Response {
    let status = r
        .as_ref()
        .err()
        .map_or(StatusCode::OK, crate::server::status_of);
    crate::server::json_response(status, &r)
}

/// `POST /v1/export`: the vault's bundle text in frames.
pub(crate) async fn export_route(
    State(agent): State<Arc<Agent>>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let session = match crate::server::check_version(&headers).and_then(|_| agent.owner_session()) {
        Ok(s) => s,
        Err(e) => return json_answer::<()>(Err(e)),
    };
    let r: Export = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return json_answer::<()>(Err(ApiError::new(
                ErrorKind::Invalid,
                format!("malformed request: {e}"),
            )));
        }
    };
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    let me = Arc::downgrade(&session);
    let current = move || {
        agent
            .unlocked()
            .is_ok_and(|s| me.upgrade().is_some_and(|me| Arc::ptr_eq(&s, &me)))
    };
    tokio::spawn(async move { session.export(r, tx, current).await });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, std::io::Error>(b), rx))
    });
    (
        StatusCode::OK,
        [("content-type", "application/octet-stream")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// `POST /v1/import`: the options, then bundle text, in frames; answered
/// like `/v1/call`.
pub(crate) async fn import_route(
    State(agent): State<Arc<Agent>>,
    headers: HeaderMap,
    body: Body,
) -> axum::response::Response {
    if let Err(e) = crate::server::check_version(&headers) {
        return json_answer::<()>(Err(e));
    }
    let (opts, parsed) = match read_import(&agent, body).await {
        Ok(read) => read,
        Err(e) => return json_answer::<()>(Err(e)),
    };
    // Its own task: a CLI that hangs up must not cancel the write midway.
    let outcome = tokio::spawn(async move { agent.import(opts, parsed).await })
        .await
        .unwrap_or_else(|e| {
            Err(ApiError::new(
                ErrorKind::Internal,
                format!("import failed: {e}"),
            ))
        });
    json_answer(outcome)
}

/// Read an import's frames to the end. After a problem the rest is read
/// and dropped, so the CLI (still sending) gets the answer.
async fn read_import(agent: &Agent, body: Body) -> Result<(Import, Parsed), ApiError> {
    let invalid = |m: String| ApiError::new(ErrorKind::Invalid, m);
    let mut stream = body.into_data_stream();
    let mut frames = Decoder::new();
    let mut opts: Option<Import> = None;
    let mut reader = Reader::new();
    let mut ended = false;
    let mut failed: Option<ApiError> = None;
    let mut total = 0usize;
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|e| {
            invalid(format!(
                "the import was cut off before its end ({e}); nothing was written"
            ))
        })?;
        total += piece.len();
        if failed.is_some() {
            if total > 2 * MAX_IMPORT {
                break;
            }
            continue;
        }
        if total > MAX_IMPORT {
            failed = Some(invalid(format!(
                "the file holds more than {} MiB of text, more than one import takes; split it",
                MAX_IMPORT >> 20
            )));
            continue;
        }
        frames.push(&piece);
        // The piece may hold item text: wipe it where we own it.
        if let Ok(mut raw) = piece.try_into_mut() {
            zeroize::Zeroize::zeroize(&mut raw[..]);
        }
        while failed.is_none() {
            let (kind, payload) = match frames.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    failed = Some(invalid(format!("malformed import stream: {e}")));
                    break;
                }
            };
            let step = match kind {
                _ if ended => Err(invalid(
                    "malformed import stream: frames after its end".into(),
                )),
                FrameKind::Start if opts.is_none() => serde_json::from_slice::<Import>(payload)
                    .map_err(|e| invalid(format!("malformed request: {e}")))
                    .and_then(|o| {
                        // A locked vault is refused without reading the
                        // text (the CLI unlocks before sending it).
                        agent.owner_session()?;
                        opts = Some(o);
                        Ok(())
                    }),
                FrameKind::Data if opts.is_some() => {
                    reader.push(payload).map_err(|e| invalid(e.to_string()))
                }
                FrameKind::End if opts.is_some() => {
                    ended = true;
                    Ok(())
                }
                _ => Err(invalid(
                    "malformed import stream: frames out of order".into(),
                )),
            };
            if let Err(e) = step {
                failed = Some(e);
            }
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    let Some(opts) = opts.filter(|_| ended && frames.is_empty()) else {
        return Err(invalid(
            "the import was cut off before its end; nothing was written".into(),
        ));
    };
    let parsed = reader.finish().map_err(|e| invalid(e.to_string()))?;
    Ok((opts, parsed))
}
