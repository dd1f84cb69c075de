//! The user's own vault operations (items, clients, rules, audit, review,
//! import and export), and their answers.

use chrono::{DateTime, Utc};
use client_view::{AccessReport, Hit, ListQuery, SearchQuery};
use policies::{Action, Actions, Confirm, ProviderCondition, Redaction, Scope, Sensitivity};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vault_core::audit::{AuditRecord, AuditReport, AuditScan, SignedHead};
use vault_core::{Item, ItemFilter, ItemPatch, Namespace, NewItem, SearchHit, SearchMode, Tag};

use super::calls;
use super::{ClientAdd, ClientInfo, ClientList, ClientRemove, ClientRotate, ClientToken};

/// An operation on the user's own vault.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum VaultRequest {
    /// [`Add`].
    Add(Add),
    /// [`Get`].
    Get(Get),
    /// [`Edit`].
    Edit(Edit),
    /// [`Remove`].
    Remove(Remove),
    /// [`Resolve`].
    Resolve(Resolve),
    /// [`ShortIds`].
    ShortIds(ShortIds),
    /// [`List`].
    List(List),
    /// [`ListAs`].
    ListAs(ListAs),
    /// [`Search`].
    Search(Search),
    /// [`SearchAs`].
    SearchAs(SearchAs),
    /// [`ClientAdd`].
    ClientAdd(ClientAdd),
    /// [`ClientList`].
    ClientList(ClientList),
    /// [`ClientRemove`].
    ClientRemove(ClientRemove),
    /// [`ClientRotate`].
    ClientRotate(ClientRotate),
    /// [`GrantAdd`].
    GrantAdd(GrantAdd),
    /// [`DenyAdd`].
    DenyAdd(DenyAdd),
    /// [`Revoke`].
    Revoke(Revoke),
    /// [`RevokeAll`].
    RevokeAll(RevokeAll),
    /// [`Rules`].
    Rules(Rules),
    /// [`Access`].
    Access(Access),
    /// [`Audit`].
    Audit(Audit),
    /// [`AuditChecked`].
    AuditChecked(AuditChecked),
    /// [`AuditVerify`].
    AuditVerify(AuditVerify),
    /// [`AuditHead`].
    AuditHead(AuditHead),
    /// [`PendingList`].
    PendingList(PendingList),
    /// [`Approve`].
    Approve(Approve),
    /// [`Reject`].
    Reject(Reject),
    /// [`ProviderAdd`].
    ProviderAdd(super::ProviderAdd),
    /// [`ProviderList`].
    ProviderList(super::ProviderList),
    /// [`ProviderRemove`].
    ProviderRemove(super::ProviderRemove),
    /// [`ProviderDefault`].
    ProviderDefault(super::ProviderDefault),
    /// [`ProviderRoute`].
    ProviderRoute(super::ProviderRoute),
    /// [`Distill`].
    Distill(super::Distill),
    /// [`Counts`].
    Counts(Counts),
    /// [`AspectAdd`].
    AspectAdd(super::AspectAdd),
    /// [`AspectRemove`].
    AspectRemove(super::AspectRemove),
    /// [`AspectUse`].
    AspectUse(super::AspectUse),
    /// [`AspectOff`].
    AspectOff(super::AspectOff),
    /// [`AspectList`].
    AspectList(super::AspectList),
    /// [`RetentionSet`].
    RetentionSet(super::RetentionSet),
    /// [`RetentionRemove`].
    RetentionRemove(super::RetentionRemove),
    /// [`RetentionList`].
    RetentionList(super::RetentionList),
    /// [`RetentionSweep`].
    RetentionSweep(super::RetentionSweep),
    /// [`ConfirmList`].
    ConfirmList(super::ConfirmList),
    /// [`ConfirmAnswer`].
    ConfirmAnswer(super::ConfirmAnswer),
    /// [`SyncAdd`].
    SyncAdd(super::SyncAdd),
    /// [`SyncNow`].
    SyncNow(super::SyncNow),
    /// [`SyncStatus`].
    SyncStatus(super::SyncStatus),
    /// [`SyncConflicts`].
    SyncConflicts(super::SyncConflicts),
    /// [`SyncResolve`].
    SyncResolve(super::SyncResolve),
    /// [`SyncUnblock`].
    SyncUnblock(super::SyncUnblock),
}

/// Items per namespace, by sensitivity (read from the index: no item is
/// opened).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Counts {}

/// Store a new item.
#[derive(Debug, Serialize, Deserialize)]
pub struct Add {
    /// The item.
    pub item: NewItem,
    /// Its kind may be one no item has yet and that is not common (see
    /// `Kind::COMMON`); without it such a kind is refused as a likely typo.
    #[serde(default)]
    pub new_kind: bool,
    /// An idempotency key: a retry with the same key is answered with the
    /// item the first request stored, not stored twice.
    #[serde(default)]
    pub request: Option<Uuid>,
    /// When the item is removed by itself (its retention).
    #[serde(default)]
    pub expires: Option<DateTime<Utc>>,
}

/// Read an item.
#[derive(Debug, Serialize, Deserialize)]
pub struct Get {
    /// Its id.
    pub id: Uuid,
}

/// Change an item.
#[derive(Debug, Serialize, Deserialize)]
pub struct Edit {
    /// Its id.
    pub id: Uuid,
    /// The change.
    pub patch: ItemPatch,
    /// As [`Add::new_kind`].
    #[serde(default)]
    pub new_kind: bool,
}

/// Delete items.
#[derive(Debug, Serialize, Deserialize)]
pub struct Remove {
    /// Their ids: all are removed in one transaction, or none when one is
    /// missing.
    pub ids: Vec<Uuid>,
}

/// The one item whose id starts with `prefix` (dashes ignored).
#[derive(Debug, Serialize, Deserialize)]
pub struct Resolve {
    /// The start of an id.
    pub prefix: String,
}

/// For each id, its shortest start no other item's id shares.
#[derive(Debug, Serialize, Deserialize)]
pub struct ShortIds {
    /// The ids.
    pub ids: Vec<Uuid>,
}

/// List items, oldest first.
#[derive(Debug, Serialize, Deserialize)]
pub struct List {
    /// Which ones.
    pub filter: ItemFilter,
}

/// List exactly as a client would get it (a dry run of the client view:
/// not audited).
#[derive(Debug, Serialize, Deserialize)]
pub struct ListAs {
    /// The client's name.
    pub client: String,
    /// The client's query.
    pub query: ListQuery,
    /// The provider its answer would go to (none: the one it declared).
    #[serde(default)]
    pub provider: Option<String>,
}

/// Search by words, meaning or both.
#[derive(Debug, Serialize, Deserialize)]
pub struct Search {
    /// The words.
    pub query: String,
    /// The engines to use; `None` for the default (hybrid with a model).
    #[serde(default)]
    pub mode: Option<SearchMode>,
    /// Which items to consider.
    pub filter: ItemFilter,
    /// Most results.
    pub limit: usize,
}

/// Search exactly as a client would (a dry run of the client view: not
/// audited).
#[derive(Debug, Serialize, Deserialize)]
pub struct SearchAs {
    /// The client's name.
    pub client: String,
    /// The client's query.
    pub query: SearchQuery,
    /// The engines to use; `None` for what the client gets.
    #[serde(default)]
    pub mode: Option<SearchMode>,
    /// The provider its answer would go to (none: the one it declared).
    #[serde(default)]
    pub provider: Option<String>,
}

/// Give a client actions on a scope; answers the grant's id.
#[derive(Debug, Serialize, Deserialize)]
pub struct GrantAdd {
    /// The client's name.
    pub client: String,
    /// Namespace glob.
    pub scope: Scope,
    /// What it may do.
    pub actions: Actions,
    /// If not empty: only items with one of these tags.
    pub tags: Vec<Tag>,
    /// The most sensitive items reached.
    pub max_sensitivity: Sensitivity,
    /// When the grant stops working.
    pub expires: Option<DateTime<Utc>>,
    /// What to mask in returned text.
    pub redact: Vec<Redaction>,
    /// Which providers what it allows may go to.
    #[serde(default)]
    pub providers: ProviderCondition,
    /// Reads of what only it allows wait for the user's yes.
    #[serde(default)]
    pub confirm: Option<Confirm>,
}

/// Remove a scope from a client whatever grants say; answers the rule's id.
#[derive(Debug, Serialize, Deserialize)]
pub struct DenyAdd {
    /// The client's name.
    pub client: String,
    /// Namespace glob.
    pub scope: Scope,
}

/// Remove one grant or deny rule.
#[derive(Debug, Serialize, Deserialize)]
pub struct Revoke {
    /// Its id.
    pub id: Uuid,
}

/// Remove every grant and deny rule of a client; answers how many.
#[derive(Debug, Serialize, Deserialize)]
pub struct RevokeAll {
    /// The client's name.
    pub client: String,
}

/// Grants and deny rules, of one client or all.
#[derive(Debug, Serialize, Deserialize)]
pub struct Rules {
    /// Only this client's.
    pub client: Option<String>,
}

/// Whether a rule gives or takes away.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// A grant.
    Grant,
    /// A deny rule.
    Deny,
}

/// A grant or deny rule as `grants` shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RuleInfo {
    /// Its id.
    pub id: Uuid,
    /// Grant or deny rule.
    pub kind: RuleKind,
    /// The client.
    pub client: String,
    /// Namespace glob.
    pub scope: String,
    /// What it allows (empty for a deny rule).
    pub actions: Vec<Action>,
    /// Tags it is limited to.
    pub tags: Vec<String>,
    /// The most sensitive items reached (grants).
    pub max_sensitivity: Option<Sensitivity>,
    /// When it stops working.
    pub expires: Option<DateTime<Utc>>,
    /// Whether it has stopped working.
    pub expired: bool,
    /// What it masks.
    pub redact: Vec<Redaction>,
    /// Which providers what it allows may go to (grants).
    #[serde(default)]
    pub providers: ProviderCondition,
    /// Whether its reads wait for the user's yes (grants).
    #[serde(default)]
    pub confirm: Option<Confirm>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// What a client can see and do.
#[derive(Debug, Serialize, Deserialize)]
pub struct Access {
    /// The client's name.
    pub client: String,
    /// The provider its answers would go to (none: the one it declared).
    #[serde(default)]
    pub provider: Option<String>,
}

/// Audit entries.
#[derive(Debug, Serialize, Deserialize)]
pub struct Audit {
    /// Only this client's.
    pub client: Option<String>,
    /// Only entries from this time on.
    pub since: Option<DateTime<Utc>>,
    /// Only the last N.
    pub limit: Option<usize>,
    /// Also the entries of the vault's other devices (their chains came
    /// with sync), each naming its device.
    #[serde(default)]
    pub devices: bool,
}

/// Audit entries as [`Audit`] selects them, with the chain's check, read
/// in one pass over the log.
#[derive(Debug, Serialize, Deserialize)]
pub struct AuditChecked {
    /// Which entries.
    #[serde(flatten)]
    pub select: Audit,
}

/// Check the audit chain (and, given a head exported earlier, that the log
/// still holds what it recorded).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct AuditVerify {
    /// A head from `audit head` to check the log against.
    #[serde(default)]
    pub against: Option<SignedHead>,
}

/// The signed head of the audit log, to keep outside the vault.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct AuditHead {}

/// Proposals waiting for the user's review, oldest first.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PendingList {}

/// A proposal waiting for the user's review.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Proposal {
    /// Its id.
    pub id: Uuid,
    /// The client that proposed it.
    pub client: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Where it would be stored.
    pub namespace: Namespace,
    /// What it is.
    pub kind: vault_core::Kind,
    /// Optional title.
    pub title: Option<String>,
    /// The text.
    pub body: String,
    /// Labels.
    pub tags: Vec<Tag>,
    /// The items it was drawn from.
    #[serde(default)]
    pub sources: Vec<Uuid>,
}

impl From<&vault_core::records::PendingRecord> for Proposal {
    fn from(p: &vault_core::records::PendingRecord) -> Self {
        Proposal {
            id: p.id,
            client: p.client.clone(),
            created_at: p.created_at,
            namespace: p.namespace.clone(),
            kind: p.kind.clone(),
            title: p.title.clone(),
            body: p.body.clone(),
            tags: p.tags.clone(),
            sources: p.sources.clone(),
        }
    }
}

impl Drop for Proposal {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.body.zeroize();
        if let Some(t) = self.title.as_mut() {
            t.zeroize();
        }
    }
}

/// Store a proposal as an item (source `client:NAME`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Approve {
    /// The proposal's id.
    pub id: Uuid,
    /// Store it here instead of the namespace it was proposed for.
    #[serde(default)]
    pub namespace: Option<Namespace>,
}

/// Drop a proposal.
#[derive(Debug, Serialize, Deserialize)]
pub struct Reject {
    /// The proposal's id.
    pub id: Uuid,
}

/// Bring in complete items (and policy), in one transaction: the options
/// of a streamed import (`frames`), whose bundle text follows them.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Import {
    /// Report only; write nothing.
    pub dry_run: bool,
    /// Also bring in the file's clients and their grants and deny rules.
    /// Without it they are left out (and counted). Even with it, rules
    /// attach only to clients this import creates, never to existing ones.
    #[serde(default)]
    pub with_policy: bool,
    /// Put this before every item's namespace.
    #[serde(default)]
    pub prefix: Option<Namespace>,
    /// Add these tags to every item.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Items are duplicates by id only (history, whose ids come from the
    /// export): the vault's items are not opened to compare text.
    #[serde(default)]
    pub ids_only: bool,
}

/// What an import did (or would do).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ImportSummary {
    /// Items in the file.
    #[serde(default)]
    pub offered: u64,
    /// Items added.
    pub added: u64,
    /// Items skipped as duplicates.
    pub duplicates: u64,
    /// History chunks present that were linked to new turns.
    #[serde(default)]
    pub updated: u64,
    /// Clients created.
    pub clients: u64,
    /// Grants added.
    pub grants: u64,
    /// Deny rules added.
    pub denies: u64,
    /// Policy records skipped (already present, or for a client that
    /// existed before the import or is not in the file).
    pub rules_skipped: u64,
    /// Policy records in the file left out because policy was not asked for.
    #[serde(default)]
    pub policy_left_out: u64,
    /// The clients created (or that would be).
    #[serde(default)]
    pub new_clients: Vec<String>,
    /// The grants and deny rules added (or that would be).
    #[serde(default)]
    pub rules: Vec<RuleInfo>,
    /// Nothing was written.
    pub dry_run: bool,
}

/// Everything in the vault, as a bundle's text: the request of a streamed
/// export (`frames`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Export {
    /// Also clients (names only), grants and deny rules.
    pub with_policy: bool,
    /// Leave out `secret` items (a plain export, unless asked for them).
    #[serde(default)]
    pub without_secret: bool,
}

calls!(Vault / VaultRequest {
    Add => Item,
    Get => Item,
    Edit => Item,
    Remove => (),
    Resolve => Uuid,
    ShortIds => Vec<String>,
    List => Vec<Item>,
    ListAs => Vec<client_view::ContextItem>,
    Search => Vec<SearchHit>,
    SearchAs => Vec<Hit>,
    ClientAdd => ClientToken,
    ClientList => Vec<ClientInfo>,
    ClientRemove => (),
    ClientRotate => ClientToken,
    GrantAdd => Uuid,
    DenyAdd => Uuid,
    Revoke => (),
    RevokeAll => u64,
    Rules => Vec<RuleInfo>,
    Access => AccessReport,
    Audit => Vec<AuditRecord>,
    AuditChecked => AuditScan,
    AuditVerify => AuditReport,
    AuditHead => SignedHead,
    PendingList => Vec<Proposal>,
    Approve => Item,
    Reject => (),
    Counts => Vec<client_view::NamespaceCount>,
});

impl VaultRequest {
    /// True for requests that change the clients or where the proxy sends
    /// them (the agent refreshes its token and route tables after them).
    pub fn changes_clients(&self) -> bool {
        matches!(
            self,
            VaultRequest::ClientAdd(_)
                | VaultRequest::ClientRotate(_)
                | VaultRequest::ClientRemove(_)
                | VaultRequest::ProviderAdd(_)
                | VaultRequest::ProviderRemove(_)
                | VaultRequest::ProviderDefault(_)
                | VaultRequest::ProviderRoute(_)
                | VaultRequest::SyncAdd(_)
                | VaultRequest::SyncNow(_)
        )
    }
}
