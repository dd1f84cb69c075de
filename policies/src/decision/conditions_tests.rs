//! Provider conditions, aspects, confirmation and retention against the
//! reference model of `tests`.

use super::tests::*;
use super::*;
use crate::destination::ProviderClass;
use crate::retention::{self, RetentionRule};
use proptest::prelude::*;

/// The reference's retention: every rule whose scope holds the namespace,
/// and the item's own expiry; the earliest.
fn ref_expiry(
    ns: &str,
    created: DateTime<Utc>,
    own: Option<DateTime<Utc>>,
    rules: &[(Scope, i64)],
) -> Option<DateTime<Utc>> {
    let mut best = own;
    for (scope, minutes) in rules {
        if scope.matches(ns) {
            let at = created + chrono::Duration::minutes(*minutes);
            best = Some(best.map_or(at, |b| b.min(at)));
        }
    }
    best
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// An aspect never widens: whatever it is, what a policy allows within
    /// it is allowed without it; and with none in force nothing changes.
    #[test]
    fn an_aspect_only_narrows(
        who in client(),
        grants in prop::collection::vec(grant(), 0..6),
        denies in prop::collection::vec(deny(), 0..3),
        items in prop::collection::vec(item(), 1..8),
        act in action(),
        to in destination(),
        aspect in aspect(),
    ) {
        let open = ClientPolicy::new(&who, &grants, &denies, t0(), &to);
        let narrowed = open.clone().within(aspect.clone());
        for it in &items {
            if narrowed.allows(act, &facts(it)) {
                prop_assert!(open.allows(act, &facts(it)));
            }
        }
        prop_assert_eq!(
            open.clone().within(None).decide_all(act, items.iter().map(facts)),
            open.decide_all(act, items.iter().map(facts))
        );
    }

    /// A grant limited to providers gives nothing to an answer going
    /// elsewhere; a local-only grant gives nothing to a cloud provider or
    /// an undeclared one.
    #[test]
    fn provider_conditions_follow_the_destination(
        mut g in grant(),
        it in item(),
        act in action(),
        to in destination(),
    ) {
        g.expires = None;
        g.providers.class = Some(ProviderClass::Local);
        let allowed = decide(&g.client, std::slice::from_ref(&g), &[], act, &facts(&it), t0(), &to).is_allowed();
        if to.class == ProviderClass::Cloud {
            prop_assert!(!allowed);
        }
        let anywhere = ProviderCondition::default();
        let mut open = g.clone();
        open.providers = anywhere;
        let open_allowed = decide(&g.client, std::slice::from_ref(&open), &[], act, &facts(&it), t0(), &to).is_allowed();
        prop_assert!(!allowed || open_allowed);
        let reference = ref_allowed(&g.client, std::slice::from_ref(&g), &[], act, &it, t0(), (&to, None));
        prop_assert_eq!(allowed, reference);
    }

    /// Without a yes, a policy is exactly the reference over the grants
    /// that ask no confirmation; with every yes, exactly the full one.
    #[test]
    fn unconfirmed_reads_see_only_grants_that_do_not_ask(
        who in client(),
        grants in prop::collection::vec(grant(), 0..6),
        denies in prop::collection::vec(deny(), 0..3),
        items in prop::collection::vec(item(), 1..8),
        act in action(),
        to in destination(),
        aspect in aspect(),
    ) {
        let policy = ClientPolicy::new(&who, &grants, &denies, t0(), &to).within(aspect.clone());
        let without = policy.confirmed(|_| false);
        let with_all = policy.confirmed(|_| true);
        let plain: Vec<Grant> = grants.iter().filter(|g| g.confirm.is_none()).cloned().collect();
        for it in &items {
            prop_assert_eq!(
                without.allows(act, &facts(it)),
                ref_allowed(&who, &plain, &denies, act, it, t0(), (&to, aspect.as_ref()))
            );
            prop_assert_eq!(with_all.decide(act, &facts(it)), policy.decide(act, &facts(it)));
        }
        prop_assert_eq!(without.asks_confirmation(), false);
    }

    /// Retention is the earliest of the item's own expiry and the rules
    /// whose scope holds it, and an item is expired from that moment on.
    #[test]
    fn retention_equals_reference(
        it in item(),
        own in prop::option::of(1i64..500),
        rules in prop::collection::vec((scope(), 1i64..500), 0..4),
        at in 0i64..600,
    ) {
        let own = own.map(|m| t0() + chrono::Duration::minutes(m));
        let real: Vec<RetentionRule> = rules
            .iter()
            .map(|(scope, m)| RetentionRule { scope: scope.clone(), keep: chrono::Duration::minutes(*m) })
            .collect();
        let got = retention::expiry(&it.namespace, t0(), own, &real);
        prop_assert_eq!(got, ref_expiry(&it.namespace, t0(), own, &rules));
        let now = t0() + chrono::Duration::minutes(at);
        prop_assert_eq!(retention::is_expired(got, now), got.is_some_and(|e| e <= now));
    }
}

#[test]
fn health_goes_to_local_models_only() {
    let g = Grant {
        id: Uuid::now_v7(),
        client: "app".into(),
        actions: Actions::of(&[Action::Read]),
        scope: "health/**".parse().unwrap(),
        tags: vec![],
        max_sensitivity: Sensitivity::Private,
        expires: None,
        redact: vec![],
        providers: ProviderCondition {
            providers: vec![],
            class: Some(ProviderClass::Local),
        },
        confirm: None,
        created_at: t0(),
    };
    let it = Item {
        namespace: "health/labs".into(),
        tags: vec![],
        sensitivity: Sensitivity::Private,
    };
    let local = Destination::to("ollama", ProviderClass::Local);
    let cloud = Destination::to("anthropic", ProviderClass::Cloud);
    let read = |to: &Destination| {
        decide(
            "app",
            std::slice::from_ref(&g),
            &[],
            Action::Read,
            &facts(&it),
            t0(),
            to,
        )
        .is_allowed()
    };
    assert!(read(&local));
    assert!(!read(&cloud));
    assert!(!read(&Destination::unknown()));
    let interview = Aspect {
        name: "interview".into(),
        scopes: vec!["work/**".parse().unwrap()],
        max_sensitivity: Sensitivity::Normal,
    };
    let p = ClientPolicy::new("app", std::slice::from_ref(&g), &[], t0(), &local)
        .within(Some(interview));
    assert_eq!(
        p.decide(Action::Read, &facts(&it)),
        Decision::Deny(Reason::OutsideAspect)
    );
}
