//! Grants, deny rules and the decision function.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actions::{Action, Actions};
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
    /// When it was made.
    pub created_at: DateTime<Utc>,
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

/// A deny rule: `client` sees nothing in `scope`, whatever grants say.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DenyRule {
    /// The rule's id.
    pub id: RuleId,
    /// The client it is for.
    pub client: String,
    /// Which namespaces.
    pub scope: Scope,
    /// When it was made.
    pub created_at: DateTime<Utc>,
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
    /// A deny rule covers the item.
    DeniedBy(RuleId),
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

/// Decide whether `client` may do `action` on `item` at `now`.
pub fn decide<T: AsRef<str>>(
    client: &str,
    grants: &[Grant],
    denies: &[DenyRule],
    action: Action,
    item: &ItemFacts<'_, T>,
    now: DateTime<Utc>,
) -> Decision {
    ClientPolicy::new(client, grants, denies, now).decide(action, item)
}

/// One client's active rules at one instant, ready for many decisions.
#[derive(Clone, Debug)]
pub struct ClientPolicy {
    client: String,
    grants: Vec<Grant>,
    denies: Vec<DenyRule>,
}

impl ClientPolicy {
    /// Select `client`'s deny rules and its grants not expired at `now`.
    pub fn new(client: &str, grants: &[Grant], denies: &[DenyRule], now: DateTime<Utc>) -> Self {
        ClientPolicy {
            client: client.to_owned(),
            grants: grants
                .iter()
                .filter(|g| g.client == client && !g.is_expired(now))
                .cloned()
                .collect(),
            denies: denies
                .iter()
                .filter(|d| d.client == client)
                .cloned()
                .collect(),
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

    /// Decide one action on one item.
    pub fn decide<T: AsRef<str>>(&self, action: Action, item: &ItemFacts<'_, T>) -> Decision {
        if let Some(d) = self.denies.iter().find(|d| d.scope.matches(item.namespace)) {
            return Decision::Deny(Reason::DeniedBy(d.id));
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
        let mut by_ns: std::collections::HashMap<&str, (Option<RuleId>, Vec<usize>)> =
            std::collections::HashMap::new();
        items
            .into_iter()
            .map(|item| {
                let (denied, in_scope) = by_ns.entry(item.namespace).or_insert_with(|| {
                    let denied = self
                        .denies
                        .iter()
                        .find(|d| d.scope.matches(item.namespace))
                        .map(|d| d.id);
                    let in_scope = (0..self.grants.len())
                        .filter(|&i| self.grants[i].scope.matches(item.namespace))
                        .collect();
                    (denied, in_scope)
                });
                match denied {
                    Some(id) => Decision::Deny(Reason::DeniedBy(*id)),
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
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    // ---- The reference model: small and obviously correct. ----

    /// Segment-wise glob matching, written independently of globset.
    fn ref_match(pat: &[&str], ns: &[&str]) -> bool {
        match pat.split_first() {
            None => ns.is_empty(),
            Some((&"**", rest)) => (0..=ns.len()).any(|k| ref_match(rest, &ns[k..])),
            Some((p, rest)) => {
                !ns.is_empty() && (*p == "*" || *p == ns[0]) && ref_match(rest, &ns[1..])
            }
        }
    }

    fn ref_allowed(
        client: &str,
        grants: &[Grant],
        denies: &[DenyRule],
        action: Action,
        item: &Item,
        now: DateTime<Utc>,
    ) -> bool {
        let ns: Vec<&str> = item.namespace.split('/').collect();
        for d in denies {
            let pat: Vec<&str> = d.scope.as_str().split('/').collect();
            if d.client == client && ref_match(&pat, &ns) {
                return false;
            }
        }
        for g in grants {
            let pat: Vec<&str> = g.scope.as_str().split('/').collect();
            let live = match g.expires {
                Some(e) => now < e,
                None => true,
            };
            let tag_ok = g.tags.is_empty() || g.tags.iter().any(|t| item.tags.contains(t));
            if g.client == client
                && g.actions.contains(action)
                && live
                && ref_match(&pat, &ns)
                && tag_ok
                && item.sensitivity <= g.max_sensitivity
            {
                return true;
            }
        }
        false
    }

    // ---- Generators. ----

    #[derive(Clone, Debug)]
    struct Item {
        namespace: String,
        tags: Vec<String>,
        sensitivity: Sensitivity,
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    }

    fn client() -> impl Strategy<Value = String> {
        prop::sample::select(vec!["claude", "cursor", "ollama"]).prop_map(str::to_owned)
    }

    fn namespace() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 1..4)
            .prop_map(|v| v.join("/"))
    }

    fn scope() -> impl Strategy<Value = Scope> {
        prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "*", "**"]), 1..4)
            .prop_map(|v| v.join("/").parse().unwrap())
    }

    fn sensitivity() -> impl Strategy<Value = Sensitivity> {
        prop::sample::select(Sensitivity::ALL.to_vec())
    }

    fn tags() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec(
            prop::sample::select(vec!["x", "y", "z"]).prop_map(str::to_owned),
            0..3,
        )
    }

    fn action() -> impl Strategy<Value = Action> {
        prop::sample::select(Action::ALL.to_vec())
    }

    fn grant() -> impl Strategy<Value = Grant> {
        (
            client(),
            prop::collection::vec(action(), 1..3),
            scope(),
            tags(),
            sensitivity(),
            prop::option::of(-100i64..100),
            prop::collection::vec(prop::sample::select(Redaction::ALL.to_vec()), 0..3),
        )
            .prop_map(|(client, actions, scope, tags, max, exp, redact)| Grant {
                id: Uuid::now_v7(),
                client,
                actions: Actions::of(&actions),
                scope,
                tags,
                max_sensitivity: max,
                expires: exp.map(|m| t0() + chrono::Duration::minutes(m)),
                redact,
                created_at: t0(),
            })
    }

    fn deny() -> impl Strategy<Value = DenyRule> {
        (client(), scope()).prop_map(|(client, scope)| DenyRule {
            id: Uuid::now_v7(),
            client,
            scope,
            created_at: t0(),
        })
    }

    fn item() -> impl Strategy<Value = Item> {
        (namespace(), tags(), sensitivity()).prop_map(|(namespace, tags, sensitivity)| Item {
            namespace,
            tags,
            sensitivity,
        })
    }

    fn facts(i: &Item) -> ItemFacts<'_, String> {
        ItemFacts {
            namespace: &i.namespace,
            tags: &i.tags,
            sensitivity: i.sensitivity,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn decision_equals_reference(
            who in client(),
            grants in prop::collection::vec(grant(), 0..6),
            denies in prop::collection::vec(deny(), 0..3),
            items in prop::collection::vec(item(), 1..8),
            act in action(),
            at in -150i64..150,
        ) {
            let now = t0() + chrono::Duration::minutes(at);
            let policy = ClientPolicy::new(&who, &grants, &denies, now);
            let batch = policy.decide_all(act, items.iter().map(facts));
            for (it, b) in items.iter().zip(&batch) {
                prop_assert_eq!(b, &policy.decide(act, &facts(it)), "decide_all differs on {:?}", it);
            }
            for it in &items {
                let got = policy.decide(act, &facts(it));
                prop_assert_eq!(got.is_allowed(), ref_allowed(&who, &grants, &denies, act, it, now), "item {:?}", it);
                match &got {
                    Decision::Allow { grants: used, .. } => {
                        // Every grant named really covers the item.
                        for id in used {
                            let g = grants.iter().find(|g| g.id == *id).unwrap();
                            prop_assert!(g.client == who && !g.is_expired(now) && g.actions.contains(act));
                            prop_assert!(it.sensitivity <= g.max_sensitivity);
                        }
                    }
                    Decision::Deny(Reason::DeniedBy(id)) => {
                        let d = denies.iter().find(|d| d.id == *id).unwrap();
                        prop_assert!(d.client == who && d.scope.matches(&it.namespace));
                    }
                    Decision::Deny(Reason::NoGrant) => {}
                }
            }
        }

        #[test]
        fn no_grant_nothing_visible(who in client(), denies in prop::collection::vec(deny(), 0..3), it in item(), act in action()) {
            prop_assert!(!decide(&who, &[], &denies, act, &facts(&it), t0()).is_allowed());
        }

        #[test]
        fn deny_always_wins(mut g in grant(), it in item(), act in action()) {
            g.actions = Actions::of(&Action::ALL);
            g.expires = None;
            g.max_sensitivity = Sensitivity::Secret;
            g.tags.clear();
            g.scope = "**".parse().unwrap();
            let d = DenyRule { id: Uuid::now_v7(), client: g.client.clone(), scope: it.namespace.parse().unwrap(), created_at: t0() };
            prop_assert!(decide(&g.client, &[g.clone()], &[], act, &facts(&it), t0()).is_allowed());
            prop_assert_eq!(
                decide(&g.client, &[g.clone()], std::slice::from_ref(&d), act, &facts(&it), t0()),
                Decision::Deny(Reason::DeniedBy(d.id))
            );
        }

        #[test]
        fn nothing_past_expiry(grants in prop::collection::vec(grant(), 1..6), it in item(), act in action(), who in client()) {
            let latest = grants.iter().filter_map(|g| g.expires).max();
            let all_expire = grants.iter().all(|g| g.expires.is_some());
            if let (true, Some(last)) = (all_expire, latest) {
                prop_assert!(!decide(&who, &grants, &[], act, &facts(&it), last).is_allowed());
                prop_assert!(!decide(&who, &grants, &[], act, &facts(&it), last + chrono::Duration::days(1)).is_allowed());
            }
        }

        #[test]
        fn secret_only_with_secret_grant(grants in prop::collection::vec(grant(), 0..6), mut it in item(), act in action(), who in client()) {
            it.sensitivity = Sensitivity::Secret;
            let allowed = decide(&who, &grants, &[], act, &facts(&it), t0()).is_allowed();
            if allowed {
                prop_assert!(grants.iter().any(|g| g.client == who && g.max_sensitivity == Sensitivity::Secret));
            }
        }
    }

    #[test]
    fn redactions_intersect_over_allowing_grants() {
        let mk = |redact: Vec<Redaction>| Grant {
            id: Uuid::now_v7(),
            client: "c".into(),
            actions: Actions::of(&[Action::Read]),
            scope: "**".parse().unwrap(),
            tags: vec![],
            max_sensitivity: Sensitivity::Normal,
            expires: None,
            redact,
            created_at: t0(),
        };
        let it = Item {
            namespace: "a".into(),
            tags: vec![],
            sensitivity: Sensitivity::Normal,
        };
        let one = [mk(vec![Redaction::Email, Redaction::Phone])];
        match decide("c", &one, &[], Action::Read, &facts(&it), t0()) {
            Decision::Allow { redactions, .. } => {
                assert_eq!(redactions.kinds(), vec![Redaction::Email, Redaction::Phone])
            }
            d => panic!("{d:?}"),
        }
        let two = [
            mk(vec![Redaction::Email, Redaction::Phone]),
            mk(vec![Redaction::Email]),
        ];
        match decide("c", &two, &[], Action::Read, &facts(&it), t0()) {
            Decision::Allow { redactions, grants } => {
                assert_eq!(redactions.kinds(), vec![Redaction::Email]);
                assert_eq!(grants.len(), 2);
            }
            d => panic!("{d:?}"),
        }
    }

    #[test]
    fn actions_parse() {
        assert_eq!(
            "read,write".parse::<Actions>().unwrap().list(),
            vec![Action::Read, Action::Write]
        );
        assert!(
            "read,delete"
                .parse::<Actions>()
                .unwrap_err()
                .to_string()
                .contains("unknown action \"delete\"")
        );
    }
}
