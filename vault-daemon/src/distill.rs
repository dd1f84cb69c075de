//! `distill`: a model proposes durable facts and preferences from the
//! user's history; the proposals wait in the pending queue, each with the
//! items it came from, and nothing is stored until the user approves.
//!
//! The model sees only the items under the namespace the user names, the
//! newest up to a limit, never secret ones; before each request, the items
//! it carries are on the audit record as read by that provider. With no
//! provider named, the only Ollama provider on this machine is used:
//! history goes elsewhere only when the user names the provider. A lock
//! stops a run before its next request.

use chrono::Utc;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use serde_json::{Value, json};
use uuid::Uuid;
use vault_core::audit::AuditEntry;
use vault_core::records::{PendingRecord, PolicyRecord, ProviderKind, ProviderRecord};
use vault_core::{Item, Namespace, Sensitivity};
use zeroize::Zeroizing;

use crate::protocol::{ApiError, Distill, DistillSummary, ErrorKind};
use crate::proxy::Pool;
use crate::session::Session;

/// Text per request, about (items are sent whole).
const REQUEST_CHARS: usize = 8000;
/// Proposals kept per request, at most.
const PER_REQUEST: usize = 20;
/// Longest proposal kept, in characters.
const MAX_PROPOSAL: usize = 500;
/// Largest answer read from the provider.
const MAX_ANSWER: usize = 4 << 20;
/// How long one request may take (a local model on a small machine is slow).
const ANSWER_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

const INSTRUCTIONS: &str = "You help a person keep a private memory of durable facts about themselves. \
From the conversation excerpts below (between the person, \"User\", and an assistant), list facts about \
the person and their preferences that would help in future conversations: lasting things such as where \
they live, their work, family, tastes, habits and plans, not passing questions. Only what the person said \
or plainly confirmed; nothing about the assistant; no guesses. Answer with JSON only, no prose: \
{\"memories\": [{\"text\": \"one short sentence about the user\", \"kind\": \"fact\" or \"preference\", \
\"excerpt\": the excerpt's number}]}. An empty list is a fine answer.";

fn invalid(msg: String) -> ApiError {
    ApiError::new(ErrorKind::Invalid, msg)
}

fn upstream(msg: String) -> ApiError {
    ApiError::new(ErrorKind::Upstream, msg)
}

impl Session {
    /// Run a distill against `r`'s provider through `pool`.
    /// `still` says whether this session is still the agent's unlocked
    /// one: a lock stops the run before its next request.
    pub(crate) async fn distill(
        &self,
        pool: &Pool,
        r: Distill,
        still: impl Fn() -> bool,
    ) -> Result<DistillSummary, ApiError> {
        if r.model.trim().is_empty() || r.model.len() > 200 {
            return Err(invalid(
                "the model name is empty or too long; pass --model NAME (e.g. llama3.2)".into(),
            ));
        }
        let provider = self.distill_provider(r.provider.as_deref()).await?;
        // The newest `limit` under the namespace, oldest of them first; only
        // those are opened. Secret items are never sent.
        let wanted: Vec<bool> = self
            .vault
            .group_keys()
            .await
            .iter()
            .map(|g| g.namespace.is_under(&r.namespace) && g.sensitivity != Sensitivity::Secret)
            .collect();
        let items = self.vault.newest_in_groups(&wanted, r.limit.max(1)).await?;
        if items.is_empty() {
            return Err(invalid(format!(
                "nothing under {} to distill; import history first (`ctxvault import EXPORT`) or pass --ns",
                r.namespace
            )));
        }
        let mut summary = DistillSummary {
            provider: provider.name.clone(),
            model: r.model.clone(),
            sent: 0,
            requests: 0,
            proposals: Vec::new(),
        };
        for batch in batches(&items) {
            if !still() {
                return Err(ApiError::new(
                    ErrorKind::Locked,
                    format!(
                        "the vault was locked during distill: stopped before sending more{}",
                        kept(&summary)
                    ),
                ));
            }
            let ids: Vec<Uuid> = batch.iter().map(|i| i.id).collect();
            // On the record before anything leaves the machine.
            self.vault
                .record_audit(&AuditEntry {
                    time: Utc::now(),
                    client: Some(format!("provider:{}", provider.name)),
                    action: "distill".into(),
                    query: None,
                    ids: ids.clone(),
                    grants: Vec::new(),
                    detail: Some(format!(
                        "sent to provider {} (model {}) to propose memories",
                        provider.name, r.model
                    )),
                    tool: None,
                    door: None,
                    provider: None,
                    aspect: None,
                })
                .await?;
            summary.requests += 1;
            summary.sent += ids.len() as u64;
            let answer =
                tokio::time::timeout(ANSWER_WAIT, ask(pool, &provider, &r.model, &prompt(batch)))
                    .await
                    .map_err(|_| {
                        upstream(format!(
                            "provider {} did not answer within {} s{}",
                            provider.name,
                            ANSWER_WAIT.as_secs(),
                            kept(&summary)
                        ))
                    })??;
            let found = proposals(&answer).map_err(|e| {
                upstream(format!(
                    "provider {} answered, but not with the JSON asked for ({e}); try another model{}",
                    provider.name,
                    kept(&summary)
                ))
            })?;
            let made = self.propose(&provider.name, found, &ids).await?;
            summary.proposals.extend(made);
        }
        Ok(summary)
    }

    /// The provider named, or the only Ollama one.
    async fn distill_provider(&self, name: Option<&str>) -> Result<ProviderRecord, ApiError> {
        let st = self.policy.read().await;
        if let Some(n) = name {
            return st.provider(n).cloned();
        }
        let local: Vec<&ProviderRecord> = st
            .providers
            .iter()
            .filter(|p| p.kind == ProviderKind::Ollama)
            .collect();
        match local.as_slice() {
            [one] if one.url.parse().is_ok_and(|u| crate::providers::is_loopback(&u)) => {
                Ok((*one).clone())
            }
            [one] => Err(invalid(format!(
                "the Ollama provider {} is not on this machine ({}): name it with --provider to send history there",
                one.name, one.url
            ))),
            [] => Err(invalid(
                "no local provider to distill with: add one (`ctxvault provider add local --kind ollama --url http://127.0.0.1:11434`) or name one with --provider".into(),
            )),
            _ => Err(invalid(format!(
                "several Ollama providers ({}); name one with --provider",
                local.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    /// Put the proposals in the pending queue, in one commit.
    async fn propose(
        &self,
        provider: &str,
        found: Vec<Found>,
        ids: &[Uuid],
    ) -> Result<Vec<Uuid>, ApiError> {
        let mut st = self.policy.write().await;
        let namespace: Namespace = crate::view::PROFILE_NS.parse()?;
        let mut put = Vec::new();
        for f in found {
            let text = f.text.trim();
            let duplicate = st
                .pending
                .iter()
                .any(|p| p.body.trim().eq_ignore_ascii_case(text));
            if duplicate {
                continue;
            }
            let sources = match f.excerpt {
                Some(k) if (1..=ids.len()).contains(&k) => vec![ids[k - 1]],
                _ => ids.to_vec(),
            };
            put.push(PolicyRecord::Pending(PendingRecord {
                id: Uuid::now_v7(),
                client: format!("distill-{provider}"),
                created_at: Utc::now(),
                namespace: namespace.clone(),
                kind: f.kind.parse()?,
                title: None,
                body: text.to_owned(),
                tags: vec!["distilled".parse()?],
                sources,
            }));
        }
        if put.is_empty() {
            return Ok(Vec::new());
        }
        let made: Vec<Uuid> = put.iter().map(PolicyRecord::id).collect();
        let entry = crate::policy::user_entry(
            "distill",
            made.clone(),
            format!(
                "{} proposed by provider {provider}, pending review",
                made.len()
            ),
        );
        let change = crate::policy::change(put.clone(), vec![], entry);
        self.vault.commit(change).await?;
        st.apply(&put, &[]);
        Ok(made)
    }
}

fn kept(s: &DistillSummary) -> String {
    if s.proposals.is_empty() {
        String::new()
    } else {
        format!(
            "; {} proposals from earlier requests wait in `ctxvault pending`",
            s.proposals.len()
        )
    }
}

/// Items in groups of about [`REQUEST_CHARS`].
fn batches(items: &[Item]) -> Vec<&[Item]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut size = 0;
    for (k, i) in items.iter().enumerate() {
        let n = i.body.chars().count();
        if k > start && size + n > REQUEST_CHARS {
            out.push(&items[start..k]);
            start = k;
            size = 0;
        }
        size += n;
    }
    if start < items.len() {
        out.push(&items[start..]);
    }
    out
}

fn prompt(items: &[Item]) -> Zeroizing<String> {
    let mut s = Zeroizing::new(String::new());
    for (k, i) in items.iter().enumerate() {
        s.push_str(&format!(
            "Excerpt {} ({}, {:?}):\n{}\n\n",
            k + 1,
            i.created_at.format("%Y-%m-%d"),
            i.title.as_deref().unwrap_or(""),
            i.body
        ));
    }
    s
}

/// Ask the provider; its answer's text.
async fn ask(
    pool: &Pool,
    p: &ProviderRecord,
    model: &str,
    excerpts: &str,
) -> Result<Zeroizing<String>, ApiError> {
    let url: url::Url = p
        .url
        .parse()
        .map_err(|e| invalid(format!("provider {} has a bad URL: {e}", p.name)))?;
    let (path, body) = match p.kind {
        ProviderKind::Ollama => (
            "/api/chat",
            json!({"model": model, "stream": false, "format": "json", "messages": [
                {"role": "system", "content": INSTRUCTIONS},
                {"role": "user", "content": excerpts},
            ]}),
        ),
        ProviderKind::Openai => (
            "/chat/completions",
            json!({"model": model, "messages": [
                {"role": "system", "content": INSTRUCTIONS},
                {"role": "user", "content": excerpts},
            ]}),
        ),
        ProviderKind::Anthropic => (
            "/v1/messages",
            json!({"model": model, "max_tokens": 2048, "system": INSTRUCTIONS, "messages": [
                {"role": "user", "content": excerpts},
            ]}),
        ),
    };
    let bytes = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
    drop(body);
    let target = format!("{}{path}", url.path().trim_end_matches('/'));
    let authority = crate::proxy::authority(&url);
    let build = || {
        let b = hyper::Request::post(&target)
            .header(hyper::header::HOST, &authority)
            .header(hyper::header::CONTENT_TYPE, "application/json");
        crate::proxy::provider_headers(b, p.kind, p.key.as_deref(), false)
            .body(Full::new(bytes.clone()))
            .map_err(|e| e.to_string())
    };
    let unreachable = |e: String| upstream(format!("provider {} at {} failed: {e}", p.name, p.url));
    let conn = pool.connect(&url).await.map_err(unreachable)?;
    let res = pool.send(conn, build).await.map_err(unreachable)?;
    let status = res.status();
    let body = Limited::new(res.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|e| unreachable(e.to_string()))?
        .to_bytes();
    if !status.is_success() {
        let said: String = String::from_utf8_lossy(&body).chars().take(300).collect();
        return Err(upstream(format!(
            "provider {} answered {status}: {}",
            p.name,
            said.replace(['\n', '\r'], " ")
        )));
    }
    let v: Value = serde_json::from_slice(&body).map_err(|e| {
        upstream(format!(
            "provider {} answered with something not JSON ({e})",
            p.name
        ))
    })?;
    let text = match p.kind {
        ProviderKind::Ollama => v["message"]["content"].as_str().map(str::to_owned),
        ProviderKind::Openai => v["choices"][0]["message"]["content"]
            .as_str()
            .map(str::to_owned),
        ProviderKind::Anthropic => v["content"].as_array().map(|blocks| {
            blocks
                .iter()
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("")
        }),
    };
    text.map(Zeroizing::new).ok_or_else(|| {
        upstream(format!(
            "provider {} answered without a message in the {} shape",
            p.name,
            p.kind.as_str()
        ))
    })
}

/// One proposal as the model gave it.
#[derive(Debug, PartialEq)]
struct Found {
    text: String,
    kind: &'static str,
    excerpt: Option<usize>,
}

/// The proposals in a model's answer: `{"memories": [...]}` or a bare
/// array, possibly wrapped in prose or a code fence.
fn proposals(answer: &str) -> Result<Vec<Found>, String> {
    let v: Value = match serde_json::from_str(answer.trim()) {
        Ok(v) => v,
        Err(_) => {
            let start = answer.find(['{', '[']).ok_or("no JSON in it")?;
            let end = answer.rfind(['}', ']']).ok_or("no JSON in it")?;
            serde_json::from_str(answer.get(start..=end).ok_or("no JSON in it")?)
                .map_err(|e| e.to_string())?
        }
    };
    let list = match &v {
        Value::Array(a) => a,
        Value::Object(o) => match o.get("memories").or_else(|| o.get("facts")) {
            Some(Value::Array(a)) => a,
            _ => return Err("no \"memories\" list".into()),
        },
        _ => return Err("not a list of memories".into()),
    };
    Ok(list
        .iter()
        .filter_map(|m| {
            let (text, kind, excerpt) = match m {
                Value::String(s) => (s.as_str(), None, None),
                Value::Object(o) => (
                    o.get("text")?.as_str()?,
                    o.get("kind").and_then(Value::as_str),
                    o.get("excerpt").and_then(Value::as_u64),
                ),
                _ => return None,
            };
            let text = text.trim();
            (!text.is_empty()).then(|| Found {
                text: text.chars().take(MAX_PROPOSAL).collect(),
                kind: if kind == Some("preference") {
                    "preference"
                } else {
                    "fact"
                },
                excerpt: excerpt.map(|k| k as usize),
            })
        })
        .take(PER_REQUEST)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposals_are_read_from_the_shapes_models_answer_in() {
        let want = |text: &str, kind, excerpt| Found {
            text: text.into(),
            kind,
            excerpt,
        };
        assert_eq!(
            proposals(r#"{"memories": [{"text": " Drinks green tea ", "kind": "preference", "excerpt": 2}, {"text": ""}]}"#).unwrap(),
            [want("Drinks green tea", "preference", Some(2))]
        );
        assert_eq!(
            proposals("Sure! ```json\n[\"Lives in Porto\"]\n```").unwrap(),
            [want("Lives in Porto", "fact", None)]
        );
        assert_eq!(proposals(r#"{"memories": []}"#).unwrap(), []);
        assert!(proposals("I cannot help with that.").is_err());
        assert!(proposals(r#"{"answer": 1}"#).is_err());
        let many: Vec<String> = (0..50).map(|k| format!("\"fact {k}\"")).collect();
        assert_eq!(
            proposals(&format!("[{}]", many.join(","))).unwrap().len(),
            PER_REQUEST
        );
    }
}
