//! An unlocked session: the vault with its policy state. The user's own
//! operations are handled in `owner` and `rules`, client calls in `view`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use policies::ClientPolicy;
use tokio::sync::RwLock;
use uuid::Uuid;
use vault_core::UnlockedVault;
use vault_core::audit::AuditEntry;
use vault_core::records::PolicyRecord;

use crate::policy::{self, PolicyState};
use crate::protocol::ApiError;
use crate::throttle::ReadLimit;
use crate::view::Who;
use crate::view::visible::ClientViews;

/// The unlocked vault and its clients, grants and deny rules.
pub struct Session {
    /// The vault.
    pub vault: UnlockedVault,
    pub(crate) policy: RwLock<PolicyState>,
    /// Recent `remember` calls per client, for the rate limit.
    pub(crate) remembers: Mutex<HashMap<String, VecDeque<Instant>>>,
    /// Each client's audited reads (shared by every session of the agent).
    pub(crate) reads: Arc<ReadLimit>,
    /// Each client's registered view in the vault.
    pub(crate) views: ClientViews,
    /// Reads waiting for the user's yes, and yeses remembered.
    pub(crate) confirms: crate::confirm::Confirmations,
    /// Tell the desktop when a read waits for a yes.
    pub(crate) notify: std::sync::atomic::AtomicBool,
    /// Sync with other devices: the last round.
    pub(crate) sync: crate::sync::SyncRuntime,
}

impl Session {
    /// Open a session: load the policy records. A record that fails
    /// authentication is an integrity error naming it.
    pub async fn new(vault: UnlockedVault, reads: Arc<ReadLimit>) -> Result<Session, ApiError> {
        let policy = PolicyState::load(vault.records().await?);
        Ok(Session {
            vault,
            policy: RwLock::new(policy),
            remembers: Mutex::new(HashMap::new()),
            reads,
            views: ClientViews::default(),
            confirms: Default::default(),
            notify: Default::default(),
            sync: Default::default(),
        })
    }

    /// How many proposals wait for review.
    pub async fn pending_count(&self) -> u64 {
        self.policy.read().await.pending.len() as u64
    }

    /// The SHA-256 of every client token, with the client's name.
    pub async fn token_table(&self) -> HashMap<String, String> {
        self.policy.read().await.token_table()
    }

    /// The name of the client holding `token`.
    pub async fn client_of_token(&self, token: &str) -> Result<String, ApiError> {
        Ok(self
            .policy
            .read()
            .await
            .client_by_token(token)?
            .name
            .clone())
    }

    /// `client`'s active rules now.
    pub(crate) async fn compile(&self, who: &Who) -> Result<ClientPolicy, ApiError> {
        self.policy
            .read()
            .await
            .compile(&who.client, crate::clock::now(), who.to.as_deref())
    }

    /// The user's dry run as `client`, its answer going to `provider`
    /// (checked: a name added or well known).
    pub(crate) async fn dry_run(
        &self,
        client: &str,
        provider: Option<String>,
    ) -> Result<Who, ApiError> {
        if let Some(p) = &provider {
            self.policy.read().await.check_provider(p)?;
        }
        Ok(Who::dry_run(client).towards(provider))
    }

    /// Where `who`'s answer goes.
    pub(crate) async fn destination(&self, who: &Who) -> policies::Destination {
        let st = self.policy.read().await;
        match who.to.as_deref() {
            Some(p) => st.destination_of(p),
            None => st.client_destination(&who.client),
        }
    }

    /// Write a policy change with its audit entry in one transaction, then
    /// apply it to the in-memory copy the caller holds locked.
    pub(crate) async fn commit_policy(
        &self,
        st: &mut PolicyState,
        put: Vec<PolicyRecord>,
        delete: Vec<Uuid>,
        entry: AuditEntry,
    ) -> Result<(), ApiError> {
        self.vault
            .commit(policy::change(put.clone(), delete.clone(), entry))
            .await?;
        st.apply(&put, &delete);
        Ok(())
    }
}
