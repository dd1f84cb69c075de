//! The client's profile (its visible `profile` namespace and `preference`
//! items) with matches for a topic: the MCP profile resource and prompt
//! (`profile`), and the context a door hands a model with a request
//! (`inject`). One body for both; only the audit entry differs.

use client_view::*;
use policies::ClientPolicy;
use vault_core::{ItemFilter, Namespace};

use super::{PREFERENCE_KIND, PROFILE_NS, Who, reads, view_error, vouched};
use crate::protocol::ApiError;
use crate::session::Session;

impl Session {
    /// The client's visible profile and preferences, and matches for a topic.
    pub async fn profile_for(&self, who: &Who, q: ProfileQuery) -> Result<Profile, ApiError> {
        if let Some(t) = &q.topic {
            check_query(t).map_err(view_error)?;
        }
        let topic = q.topic.clone();
        let (asked, limit) = (q.topic.as_deref(), q.limit);
        self.read(who, "profile", topic, |p| async move {
            self.profile_seen(&p, asked, limit, None).await
        })
        .await
    }

    /// The context for a model: the profile and preferences, and (unless
    /// `profile_only`) the matches for the user's message; one `inject`
    /// entry naming where it goes.
    pub async fn context_for(&self, who: &Who, q: ContextQuery) -> Result<Profile, ApiError> {
        if let Some(m) = &q.message {
            check_query(m).map_err(view_error)?;
        }
        let message = q.message.clone().filter(|_| !q.profile_only);
        let destination: String = q.destination.chars().take(200).collect();
        let detail = Some(format!("to {destination}"));
        let (asked, limit, profile_limit) = (message.as_deref(), q.limit, q.profile_limit);
        self.read_to(who, "inject", message.clone(), detail, |p| async move {
            self.profile_seen(&p, asked, limit, profile_limit).await
        })
        .await
    }

    async fn profile_seen(
        &self,
        p: &ClientPolicy,
        topic: Option<&str>,
        limit: usize,
        profile_limit: Option<usize>,
    ) -> Result<reads::Seen<Profile>, ApiError> {
        let profile_ns: Namespace = PROFILE_NS.parse()?;
        let wanted = |g: &vault_core::vault::GroupKey| {
            g.namespace.is_under(&profile_ns) || g.kind.as_str() == PREFERENCE_KIND
        };
        let found = match profile_limit {
            Some(n) => reads::newest_groups_as(&self.vault, &self.views, p, &wanted, n).await?,
            None => reads::list_groups_as(&self.vault, p, wanted).await?,
        };
        // What the user vouched for only: text a client wrote on its own
        // must not reach other clients as the user's profile.
        let found = found.retain(vouched);
        let mut grants = found.grants;
        let mut ids = found.ids;
        let items = found.value;
        let hits = match topic.map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) => {
                let seen = reads::search_as(
                    &self.vault,
                    &self.views,
                    p,
                    (t, None),
                    &ItemFilter::default(),
                    limit,
                )
                .await?;
                for g in seen.grants {
                    if !grants.contains(&g) {
                        grants.push(g);
                    }
                }
                // Matches already in the profile stay (the prompt names
                // them), so a topic never reads "nothing matches" for
                // what search_context finds.
                let hits: Vec<Hit> = seen
                    .value
                    .into_iter()
                    .filter(|h| vouched(&h.item))
                    .collect();
                for h in &hits {
                    if !ids.contains(&h.item.id) {
                        ids.push(h.item.id);
                    }
                }
                hits
            }
            None => Vec::new(),
        };
        Ok(reads::Seen {
            value: Profile { items, hits },
            ids,
            grants,
        })
    }
}
