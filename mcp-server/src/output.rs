//! What the tools answer, as the model sees it: display types built from
//! the client view's answers, with the JSON schemas of the structured ones.

use client_view::{AccessReport, ContextItem};
use rmcp::schemars;
use serde::Serialize;
use uuid::Uuid;

/// One `search_context` result, as the model sees it.
#[derive(Serialize, schemars::JsonSchema)]
pub struct HitOut {
    /// The item's id, for get_context.
    #[schemars(with = "String")]
    pub id: Uuid,
    /// Its namespace.
    pub namespace: String,
    /// What it is.
    pub kind: String,
    /// Its title, if any.
    pub title: Option<String>,
    /// A passage around the first match.
    pub snippet: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// Who wrote it: `user`, `import:<format>`, `client:<name>` (another AI
    /// client, not the user) or `approved:<name>` (a client's proposal the
    /// user approved).
    pub source: String,
    /// Set when the user did not write it: who did, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<String>,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
}

/// `search_context`'s structured answer.
#[derive(Serialize, schemars::JsonSchema)]
pub struct SearchOut {
    /// Best match first.
    pub results: Vec<HitOut>,
}

/// `get_context`'s answer: one item in full.
#[derive(Serialize, schemars::JsonSchema)]
pub struct ItemOut {
    /// Its id.
    #[schemars(with = "String")]
    pub id: Uuid,
    /// Its namespace.
    pub namespace: String,
    /// What it is.
    pub kind: String,
    /// Its title, if any.
    pub title: Option<String>,
    /// The full text.
    pub body: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// `public`, `normal`, `private` or `secret`.
    pub sensitivity: String,
    /// Who wrote it: `user`, `import:<format>`, `client:<name>` (another AI
    /// client, not the user) or `approved:<name>` (approved by the user).
    pub source: String,
    /// Set when the user did not write it: who did, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<String>,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// Its version.
    pub version: u64,
}

/// A namespace the client can read, with its item count.
#[derive(Serialize)]
pub(crate) struct NamespaceOut {
    namespace: String,
    items: u64,
}

/// One of the client's active grants, as the model sees it.
#[derive(Serialize)]
pub(crate) struct ScopeOut {
    scope: String,
    actions: Vec<&'static str>,
    tags: Vec<String>,
    max_sensitivity: String,
    expires: Option<String>,
    redact: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    providers: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    confirm: bool,
}

/// `describe_access`'s answer.
#[derive(Serialize)]
pub(crate) struct AccessOut {
    client: String,
    /// The access in sentences to relay to the user.
    summary: String,
    /// Where this client's answers go.
    provider: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    aspect: Option<String>,
    actions: Vec<&'static str>,
    grants: Vec<ScopeOut>,
    pub(crate) namespaces: Vec<NamespaceOut>,
}

impl From<&AccessReport> for AccessOut {
    fn from(a: &AccessReport) -> Self {
        AccessOut {
            client: a.client.clone(),
            summary: a.summary.clone(),
            provider: a.destination.clone(),
            aspect: a.aspect.clone(),
            actions: a.actions.iter().map(|x| x.as_str()).collect(),
            grants: a
                .scopes
                .iter()
                .map(|g| ScopeOut {
                    scope: g.scope.clone(),
                    actions: g.actions.iter().map(|x| x.as_str()).collect(),
                    tags: g.tags.clone(),
                    max_sensitivity: g.max_sensitivity.to_string(),
                    expires: g.expires.map(|e| e.to_rfc3339()),
                    redact: g.redact.iter().map(|r| r.to_string()).collect(),
                    providers: g.providers.clone(),
                    confirm: g.confirm,
                })
                .collect(),
            namespaces: a
                .namespaces
                .iter()
                .map(|n| NamespaceOut {
                    namespace: n.namespace.clone(),
                    items: n.total,
                })
                .collect(),
        }
    }
}

/// A time as the item JSON has always shown it (`...Z`, sub-seconds kept).
fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

impl From<&ContextItem> for ItemOut {
    fn from(i: &ContextItem) -> Self {
        ItemOut {
            id: i.id,
            namespace: i.namespace.clone(),
            kind: i.kind.clone(),
            title: i.title.clone(),
            body: i.body.clone(),
            tags: i.tags.clone(),
            sensitivity: i.sensitivity.to_string(),
            source: i.source.clone(),
            provenance: i.provenance_note(),
            created_at: rfc3339(i.created_at),
            updated_at: rfc3339(i.updated_at),
            version: i.version,
        }
    }
}
