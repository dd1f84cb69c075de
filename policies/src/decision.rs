//! Grants, deny rules and the decision function.
//!
//! # Invariants
//! - A grant's scope is matched exactly ([`Scope::matches`]): a grant on
//!   `health` gives `health`, not `health/labs`.
//! - A deny rule covers every namespace its scope matches and every
//!   namespace below one of those ([`DenyRule::covers`]): `deny health`
//!   hides `health` and `health/labs/2024`, not `healthy`. It wins over
//!   every grant, for every action.
//! - A grant with a provider condition works only for requests whose
//!   answer goes to a provider it names or of its class: a policy is made
//!   for one [`Destination`].
//! - An [`Aspect`] in force only narrows: an item outside it is refused
//!   whatever grants say, and it gives nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actions::{Action, Actions};
use crate::aspect::Aspect;
use crate::destination::{Destination, ProviderCondition};
use crate::redact::{Redaction, Redactions};
use crate::scope::Scope;
use crate::sensitivity::Sensitivity;

/// Id of a grant or deny rule.
pub type RuleId = Uuid;

/// A grant: `client` may do `actions` on items in `scope`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    /// The grant's id.
    pub id: RuleId,
    /// The client it is for.
    pub client: String,
    /// What it allows.
    pub actions: Actions,
    /// Which namespaces.
    pub scope: Scope,
    /// If not empty, only items carrying one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The most sensitive items it reaches.
    pub max_sensitivity: Sensitivity,
    /// When it stops working.
    #[serde(default)]
    pub expires: Option<DateTime<Utc>>,
    /// What is masked in the text it returns.
    #[serde(default)]
    pub redact: Vec<Redaction>,
    /// Which providers the items it allows may go to.
    #[serde(default, skip_serializing_if = "ProviderCondition::is_open")]
    pub providers: ProviderCondition,
    /// Reads of what only it allows wait for the user's yes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<Confirm>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// A grant's demand that the user confirm each read it allows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirm {
    /// A yes is remembered for this many seconds (none: asked every time).
    #[serde(default)]
    pub remember_secs: Option<u64>,
}

impl Grant {
    /// True once the expiry has passed (an expired grant is inert).
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires.is_some_and(|e| e <= now)
    }

    /// Whether the grant covers the item, its scope aside.
    fn covers_item<T: AsRef<str>>(&self, action: Action, item: &ItemFacts<'_, T>) -> bool {
        self.actions.contains(action)
            && item.sensitivity <= self.max_sensitivity
            && (self.tags.is_empty()
                || item
                    .tags
                    .iter()
                    .any(|t| self.tags.iter().any(|g| g == t.as_ref())))
    }
}

/// A deny rule: `client` sees nothing in `scope`, nor anywhere below a
/// namespace `scope` matches, whatever grants say.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DenyRule {
    /// The rule's id.
    pub id: RuleId,
    /// The client it is for.
    pub client: String,
    /// Which namespaces, each with its whole subtree.
    pub scope: Scope,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl DenyRule {
    /// Whether the rule covers `namespace`: its scope matches the namespace
    /// or one of its ancestors (`deny health` covers `health/labs`, not
    /// `healthy`). The one place deny rules are evaluated.
    pub fn covers(&self, namespace: &str) -> bool {
        self.scope.matches_at_or_above(namespace)
    }
}

/// What the policy needs to know about an item.
#[derive(Clone, Copy, Debug)]
pub struct ItemFacts<'a, T: AsRef<str>> {
    /// The item's namespace.
    pub namespace: &'a str,
    /// Its tags.
    pub tags: &'a [T],
    /// Its sensitivity.
    pub sensitivity: Sensitivity,
}

/// Why an action is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// A deny rule covers the item's namespace or one of its ancestors.
    DeniedBy(RuleId),
    /// The aspect in force does not admit the item.
    OutsideAspect,
    /// No active grant covers the item.
    NoGrant,
}

/// The verdict, with its reasons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed by these grants, with these redactions.
    Allow {
        /// Every active grant that covers the item.
        grants: Vec<RuleId>,
        /// Fields are masked for the kinds every one of those grants redacts.
        redactions: Redactions,
    },
    /// Refused.
    Deny(Reason),
}

impl Decision {
    /// True for `Allow`.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }
}

/// The verdict from the grants whose scope holds the item: allowed by every
/// one that covers it, with the redactions all of those share.
fn combine<'g, T: AsRef<str>>(
    in_scope: impl Iterator<Item = &'g Grant>,
    action: Action,
    item: &ItemFacts<'_, T>,
) -> Decision {
    let mut grants = Vec::new();
    let mut redactions: Option<Redactions> = None;
    for g in in_scope.filter(|g| g.covers_item(action, item)) {
        grants.push(g.id);
        let r = Redactions::of(&g.redact);
        redactions = Some(redactions.map_or(r, |acc| acc.intersect(r)));
    }
    match redactions {
        Some(redactions) => Decision::Allow { grants, redactions },
        None => Decision::Deny(Reason::NoGrant),
    }
}

/// Decide whether `client` may do `action` on `item` at `now`, for an
/// answer going to `to`, with no aspect in force.
pub fn decide<T: AsRef<str>>(
    client: &str,
    grants: &[Grant],
    denies: &[DenyRule],
    action: Action,
    item: &ItemFacts<'_, T>,
    now: DateTime<Utc>,
    to: &Destination,
) -> Decision {
    ClientPolicy::new(client, grants, denies, now, to).decide(action, item)
}

/// One client's active rules at one instant, for answers going to one
/// provider, ready for many decisions.
#[derive(Clone, Debug)]
pub struct ClientPolicy {
    client: String,
    grants: Vec<Grant>,
    denies: Vec<DenyRule>,
    aspect: Option<Aspect>,
}

impl ClientPolicy {
    /// Select `client`'s deny rules and its grants live at `now` whose
    /// provider condition lets an answer go to `to`.
    pub fn new(
        client: &str,
        grants: &[Grant],
        denies: &[DenyRule],
        now: DateTime<Utc>,
        to: &Destination,
    ) -> Self {
        ClientPolicy {
            client: client.to_owned(),
            grants: grants
                .iter()
                .filter(|g| g.client == client && !g.is_expired(now) && g.providers.holds(to))
                .cloned()
                .collect(),
            denies: denies
                .iter()
                .filter(|d| d.client == client)
                .cloned()
                .collect(),
            aspect: None,
        }
    }

    /// The same rules narrowed by `aspect` (if any).
    pub fn within(mut self, aspect: Option<Aspect>) -> Self {
        self.aspect = aspect;
        self
    }

    /// The aspect in force for this policy.
    pub fn aspect(&self) -> Option<&Aspect> {
        self.aspect.as_ref()
    }

    /// True when some active grant asks the user to confirm its reads.
    pub fn asks_confirmation(&self) -> bool {
        self.grants.iter().any(|g| g.confirm.is_some())
    }

    /// The same policy without the grants that ask for confirmation,
    /// except those `approved` says yes to: what the client sees when
    /// the user did not (or not yet) say yes.
    pub fn confirmed(&self, approved: impl Fn(RuleId) -> bool) -> ClientPolicy {
        ClientPolicy {
            client: self.client.clone(),
            grants: self
                .grants
                .iter()
                .filter(|g| g.confirm.is_none() || approved(g.id))
                .cloned()
                .collect(),
            denies: self.denies.clone(),
            aspect: self.aspect.clone(),
        }
    }

    /// The client's name.
    pub fn client(&self) -> &str {
        &self.client
    }

    /// The active grants.
    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }

    /// The deny rules.
    pub fn denies(&self) -> &[DenyRule] {
        &self.denies
    }

    /// Every action some active grant gives.
    pub fn actions(&self) -> Actions {
        self.grants
            .iter()
            .fold(Actions::default(), |a, g| a.union(g.actions))
    }

    /// Decide one action on one item: refused if a deny rule covers its
    /// namespace (see [`DenyRule::covers`]), else as the grants say.
    pub fn decide<T: AsRef<str>>(&self, action: Action, item: &ItemFacts<'_, T>) -> Decision {
        if let Some(d) = self.denies.iter().find(|d| d.covers(item.namespace)) {
            return Decision::Deny(Reason::DeniedBy(d.id));
        }
        if let Some(a) = &self.aspect
            && !a.admits(item.namespace, item.sensitivity)
        {
            return Decision::Deny(Reason::OutsideAspect);
        }
        combine(
            self.grants
                .iter()
                .filter(|g| g.scope.matches(item.namespace)),
            action,
            item,
        )
    }

    /// Decide `action` for many items at once. Scope matching is done once
    /// per distinct namespace, so this is much cheaper than deciding one
    /// item at a time when items share namespaces. Same results as
    /// [`ClientPolicy::decide`] on each item.
    pub fn decide_all<'a, T: AsRef<str> + 'a>(
        &self,
        action: Action,
        items: impl IntoIterator<Item = ItemFacts<'a, T>>,
    ) -> Vec<Decision> {
        type PerNamespace = (Option<RuleId>, bool, Vec<usize>);
        let mut by_ns: std::collections::HashMap<&str, PerNamespace> =
            std::collections::HashMap::new();
        items
            .into_iter()
            .map(|item| {
                let (denied, admitted, in_scope) =
                    by_ns.entry(item.namespace).or_insert_with(|| {
                        let denied = self
                            .denies
                            .iter()
                            .find(|d| d.covers(item.namespace))
                            .map(|d| d.id);
                        let admitted = self
                            .aspect
                            .as_ref()
                            .is_none_or(|a| a.admits_namespace(item.namespace));
                        let in_scope = (0..self.grants.len())
                            .filter(|&i| self.grants[i].scope.matches(item.namespace))
                            .collect();
                        (denied, admitted, in_scope)
                    });
                let outside = !*admitted
                    || self
                        .aspect
                        .as_ref()
                        .is_some_and(|a| item.sensitivity > a.max_sensitivity);
                match denied {
                    Some(id) => Decision::Deny(Reason::DeniedBy(*id)),
                    None if outside => Decision::Deny(Reason::OutsideAspect),
                    None => combine(in_scope.iter().map(|&i| &self.grants[i]), action, &item),
                }
            })
            .collect()
    }

    /// Shorthand: is `action` on `item` allowed?
    pub fn allows<T: AsRef<str>>(&self, action: Action, item: &ItemFacts<'_, T>) -> bool {
        self.decide(action, item).is_allowed()
    }
}

#[cfg(test)]
mod conditions_tests;
#[cfg(test)]
mod tests;
