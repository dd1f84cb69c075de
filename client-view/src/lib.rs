//! The client view: one typed API for what one AI client may see and do.
//!
//! The agent implements [`ClientView`] once, with policy, redaction and the
//! audit write inside it; every door (the MCP stdio bridge, MCP over HTTP,
//! and the doors to come) is a thin adapter over it. The queries and
//! answers here are defined once and travel unchanged: the agent's socket
//! protocol carries them as [`ClientCall`]s, and each call's answer type is
//! named by [`ViewCall::Answer`].
//!
//! Namespaces, tags and kinds are passed as the client wrote them; the
//! agent checks them (one place validates items: the vault).
//!
//! # Invariants
//! - A client never learns that hidden items exist: "hidden" and "absent"
//!   give the same answers and errors.
//! - Every call but [`ClientView::actions`] is on the user's audit record.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod types;

use std::future::Future;
use std::pin::Pin;

pub use policies::{Action, Redaction, Sensitivity};
pub use types::*;
use uuid::Uuid;

/// Longest search query or profile topic a client may send, in characters.
pub const MAX_QUERY_CHARS: usize = 1000;

/// Refuse a query or topic longer than [`MAX_QUERY_CHARS`] (every door
/// checks before asking, and the agent again).
pub fn check_query(q: &str) -> Result<(), ViewError> {
    let n = q.chars().count();
    if n > MAX_QUERY_CHARS {
        return Err(ViewError::new(
            ViewErrorKind::Invalid,
            format!(
                "the query is {n} characters long; at most {MAX_QUERY_CHARS}: ask in fewer words"
            ),
        ));
    }
    Ok(())
}

/// A boxed future of a view answer (the trait stays object-safe).
pub type ViewFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ViewError>> + Send + 'a>>;

/// What one client may see and do. `tool` names the door's tool or method
/// asking (`search_context`, `resources/read`...), for the audit log.
pub trait ClientView: Send + Sync + 'static {
    /// Search within the client's view, best first.
    fn search(&self, tool: &'static str, q: SearchQuery) -> ViewFuture<'_, Vec<Hit>>;
    /// One item (an item the client may not read is "no item <id>").
    fn get(&self, tool: &'static str, id: Uuid) -> ViewFuture<'_, ContextItem>;
    /// Items the client may read, oldest first.
    fn list(&self, tool: &'static str, q: ListQuery) -> ViewFuture<'_, Vec<ContextItem>>;
    /// A page of the items the client may read, and where the next starts.
    fn page(&self, tool: &'static str, q: PageQuery) -> ViewFuture<'_, Page>;
    /// What the client may read and do.
    fn access(&self, tool: &'static str) -> ViewFuture<'_, AccessReport>;
    /// The actions the client holds now (reads no context; not audited).
    fn actions(&self) -> ViewFuture<'_, Vec<Action>>;
    /// Profile, preferences and matches for a topic.
    fn profile(&self, tool: &'static str, q: ProfileQuery) -> ViewFuture<'_, Profile>;
    /// Store (with `write`) or propose (with `propose`) a new item.
    fn remember(&self, tool: &'static str, r: RememberRequest) -> ViewFuture<'_, Remembered>;
    /// The context to hand a model with a request (see [`ContextQuery`]).
    fn context(&self, tool: &'static str, q: ContextQuery) -> ViewFuture<'_, Profile>;
    /// This view for a door that asks the user itself (MCP elicitation):
    /// a read that needs the user's yes fails at once with
    /// [`ViewErrorKind::NeedsConfirmation`] (the question as its message,
    /// [`ViewError::ticket`] set) instead of waiting for `ctxvault
    /// confirm`, and is retried with the user's [`Answer`]. `None` when
    /// this view cannot.
    fn asking(&self, _answer: Option<Answer>) -> Option<std::sync::Arc<dyn ClientView>> {
        None
    }
}

/// The user's answer to a confirmation a door asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Answer {
    /// The ticket the question came with.
    pub ticket: Uuid,
    /// Yes: the read may go on.
    pub yes: bool,
}

/// How a door takes part in confirmations: it asks the user itself, and
/// may bring the answer to a question it asked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Asking {
    /// The answer, on the retry.
    pub answer: Option<Answer>,
}

/// A view call as it travels between processes: one variant per
/// [`ClientView`] method.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(tag = "call", rename_all = "snake_case")]
pub enum ClientCall {
    /// [`ClientView::search`].
    Search(SearchQuery),
    /// [`ClientView::get`].
    Get(GetQuery),
    /// [`ClientView::list`].
    List(ListQuery),
    /// [`ClientView::page`].
    Page(PageQuery),
    /// [`ClientView::access`].
    Access(AccessQuery),
    /// [`ClientView::actions`].
    Actions(ActionsQuery),
    /// [`ClientView::profile`].
    Profile(ProfileQuery),
    /// [`ClientView::remember`].
    Remember(RememberRequest),
    /// [`ClientView::context`].
    Context(ContextQuery),
}

/// A query with its answer type.
pub trait ViewCall: Into<ClientCall> {
    /// What the call answers.
    type Answer: serde::Serialize + serde::de::DeserializeOwned;
}

macro_rules! view_calls {
    ($($query:ident => $variant:ident: $answer:ty),* $(,)?) => {
        $(
            impl ViewCall for $query {
                type Answer = $answer;
            }
            impl From<$query> for ClientCall {
                fn from(q: $query) -> ClientCall {
                    ClientCall::$variant(q)
                }
            }
        )*
    };
}

view_calls! {
    SearchQuery => Search: Vec<Hit>,
    GetQuery => Get: ContextItem,
    ListQuery => List: Vec<ContextItem>,
    PageQuery => Page: Page,
    AccessQuery => Access: AccessReport,
    ActionsQuery => Actions: Vec<Action>,
    ProfileQuery => Profile: Profile,
    RememberRequest => Remember: Remembered,
    ContextQuery => Context: Profile,
}

/// What kind of failure a view call met.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViewErrorKind {
    /// No such item (or one the client may not read: the same answer).
    NotFound,
    /// Bad arguments.
    Invalid,
    /// Outside the client's grants.
    Forbidden,
    /// Too many calls; retry later.
    RateLimited,
    /// The vault is locked.
    Locked,
    /// The client's token is unknown or revoked.
    Unauthorized,
    /// The agent cannot be reached.
    Unavailable,
    /// The read waits for the user's yes, which the door asks for (see
    /// [`ClientView::asking`]).
    NeedsConfirmation,
    /// Anything else.
    Internal,
}

/// A failed view call; the message (one line naming the problem and the
/// fix) is shown to the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewError {
    /// What kind of failure.
    pub kind: ViewErrorKind,
    /// One line for the model and the user.
    pub message: String,
    /// For [`ViewErrorKind::NeedsConfirmation`]: the question's ticket.
    pub ticket: Option<Uuid>,
}

impl ViewError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ViewErrorKind, message: impl Into<String>) -> Self {
        ViewError {
            kind,
            message: message.into(),
            ticket: None,
        }
    }
}

impl std::fmt::Display for ViewError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ViewError {}
