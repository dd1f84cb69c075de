//! Decision tests: a reference model checked against the real function over
//! random policies, and the examples behind each rule.

use super::*;
use crate::destination::ProviderClass;
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

/// Whether the reference allows `item`, for an answer going to `to`, with
/// `aspect` in force.
pub(super) fn ref_allowed(
    client: &str,
    grants: &[Grant],
    denies: &[DenyRule],
    action: Action,
    item: &Item,
    now: DateTime<Utc>,
    (to, aspect): (&Destination, Option<&Aspect>),
) -> bool {
    let ns: Vec<&str> = item.namespace.split('/').collect();
    if let Some(a) = aspect {
        let in_aspect = a.scopes.iter().any(|s| {
            let pat: Vec<&str> = s.as_str().split('/').collect();
            ref_match(&pat, &ns)
        });
        if !in_aspect || item.sensitivity > a.max_sensitivity {
            return false;
        }
    }
    for d in denies {
        let pat: Vec<&str> = d.scope.as_str().split('/').collect();
        // A deny rule covers a namespace it matches and everything below.
        if d.client == client && (1..=ns.len()).any(|k| ref_match(&pat, &ns[..k])) {
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
        let name_ok = g.providers.providers.is_empty()
            || to
                .provider
                .as_ref()
                .is_some_and(|p| g.providers.providers.contains(p));
        let class_ok = match g.providers.class {
            None => true,
            Some(c) => c == to.class,
        };
        if g.client == client
            && name_ok
            && class_ok
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
pub(super) struct Item {
    pub(super) namespace: String,
    pub(super) tags: Vec<String>,
    pub(super) sensitivity: Sensitivity,
}

pub(super) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

pub(super) fn client() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["claude", "cursor", "ollama"]).prop_map(str::to_owned)
}

pub(super) fn namespace() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 1..4).prop_map(|v| v.join("/"))
}

pub(super) fn scope() -> impl Strategy<Value = Scope> {
    prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "*", "**"]), 1..4)
        .prop_map(|v| v.join("/").parse().unwrap())
}

pub(super) fn sensitivity() -> impl Strategy<Value = Sensitivity> {
    prop::sample::select(Sensitivity::ALL.to_vec())
}

pub(super) fn tags() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop::sample::select(vec!["x", "y", "z"]).prop_map(str::to_owned),
        0..3,
    )
}

pub(super) fn action() -> impl Strategy<Value = Action> {
    prop::sample::select(Action::ALL.to_vec())
}

pub(super) fn grant() -> impl Strategy<Value = Grant> {
    (
        client(),
        prop::collection::vec(action(), 1..3),
        scope(),
        tags(),
        sensitivity(),
        prop::option::of(-100i64..100),
        prop::collection::vec(prop::sample::select(Redaction::ALL.to_vec()), 0..3),
        (condition(), prop::option::of(prop::option::of(1u64..100))),
    )
        .prop_map(
            |(client, actions, scope, tags, max, exp, redact, (providers, confirm))| Grant {
                id: Uuid::now_v7(),
                client,
                actions: Actions::of(&actions),
                scope,
                tags,
                max_sensitivity: max,
                expires: exp.map(|m| t0() + chrono::Duration::minutes(m)),
                redact,
                providers,
                confirm: confirm.map(|remember_secs| Confirm { remember_secs }),
                created_at: t0(),
            },
        )
}

/// A provider condition: mostly none, else some names and maybe a class.
pub(super) fn condition() -> impl Strategy<Value = ProviderCondition> {
    prop_oneof![
        2 => Just(ProviderCondition::default()),
        1 => (
            prop::collection::vec(provider().prop_map(str::to_owned), 0..2),
            prop::option::of(class()),
        )
            .prop_map(|(providers, class)| ProviderCondition { providers, class }),
    ]
}

pub(super) fn provider() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["ollama", "anthropic", "openai"])
}

pub(super) fn class() -> impl Strategy<Value = ProviderClass> {
    prop::sample::select(vec![ProviderClass::Local, ProviderClass::Cloud])
}

/// Where an answer goes: a named provider of either class, or unknown.
pub(super) fn destination() -> impl Strategy<Value = Destination> {
    prop::option::of((provider(), class())).prop_map(|d| match d {
        Some((p, c)) => Destination::to(p, c),
        None => Destination::unknown(),
    })
}

/// An aspect in force, or none.
pub(super) fn aspect() -> impl Strategy<Value = Option<Aspect>> {
    prop::option::of(
        (prop::collection::vec(scope(), 1..3), sensitivity()).prop_map(|(scopes, max)| Aspect {
            name: "a".into(),
            scopes,
            max_sensitivity: max,
        }),
    )
}

pub(super) fn deny() -> impl Strategy<Value = DenyRule> {
    (client(), scope()).prop_map(|(client, scope)| DenyRule {
        id: Uuid::now_v7(),
        client,
        scope,
        created_at: t0(),
    })
}

/// A namespace, a scope built to match it (each segment kept, made `*`,
/// or the rest folded into `**`), and a tail to put below it.
fn matched_namespace() -> impl Strategy<Value = (String, Scope, String)> {
    (
        namespace(),
        prop::collection::vec(0u8..4, 4),
        prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "d"]), 0..3),
    )
        .prop_map(|(ns, how, tail)| {
            let mut pat = Vec::new();
            for (seg, h) in ns.split('/').zip(how) {
                match h {
                    0 | 1 => pat.push(seg),
                    2 => pat.push("*"),
                    _ => {
                        pat.push("**");
                        break;
                    }
                }
            }
            let scope = pat.join("/").parse().unwrap();
            (ns, scope, tail.join("/"))
        })
}

pub(super) fn item() -> impl Strategy<Value = Item> {
    (namespace(), tags(), sensitivity()).prop_map(|(namespace, tags, sensitivity)| Item {
        namespace,
        tags,
        sensitivity,
    })
}

pub(super) fn facts(i: &Item) -> ItemFacts<'_, String> {
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
        to in destination(),
        aspect in aspect(),
    ) {
        let now = t0() + chrono::Duration::minutes(at);
        let policy = ClientPolicy::new(&who, &grants, &denies, now, &to).within(aspect.clone());
        let batch = policy.decide_all(act, items.iter().map(facts));
        for (it, b) in items.iter().zip(&batch) {
            prop_assert_eq!(b, &policy.decide(act, &facts(it)), "decide_all differs on {:?}", it);
        }
        for it in &items {
            let got = policy.decide(act, &facts(it));
            prop_assert_eq!(got.is_allowed(), ref_allowed(&who, &grants, &denies, act, it, now, (&to, aspect.as_ref())), "item {:?}", it);
            match &got {
                Decision::Allow { grants: used, .. } => {
                    // Every grant named really covers the item.
                    for id in used {
                        let g = grants.iter().find(|g| g.id == *id).unwrap();
                        prop_assert!(g.client == who && !g.is_expired(now) && g.actions.contains(act));
                        prop_assert!(g.providers.holds(&to));
                        prop_assert!(it.sensitivity <= g.max_sensitivity);
                    }
                }
                Decision::Deny(Reason::DeniedBy(id)) => {
                    let d = denies.iter().find(|d| d.id == *id).unwrap();
                    prop_assert!(d.client == who && d.covers(&it.namespace));
                }
                Decision::Deny(Reason::OutsideAspect) => {
                    let a = aspect.as_ref().unwrap();
                    prop_assert!(!a.admits(&it.namespace, it.sensitivity));
                }
                Decision::Deny(Reason::NoGrant) => {}
            }
        }
    }

    #[test]
    fn no_grant_nothing_visible(who in client(), denies in prop::collection::vec(deny(), 0..3), it in item(), act in action()) {
        prop_assert!(!decide(&who, &[], &denies, act, &facts(&it), t0(), &Destination::unknown()).is_allowed());
    }

    #[test]
    fn deny_always_wins(mut g in grant(), it in item(), act in action()) {
        g.actions = Actions::of(&Action::ALL);
        g.expires = None;
        g.max_sensitivity = Sensitivity::Secret;
        g.tags.clear();
        g.scope = "**".parse().unwrap();
        g.providers = ProviderCondition::default();
        let d = DenyRule { id: Uuid::now_v7(), client: g.client.clone(), scope: it.namespace.parse().unwrap(), created_at: t0() };
        prop_assert!(decide(&g.client, &[g.clone()], &[], act, &facts(&it), t0(), &Destination::unknown()).is_allowed());
        prop_assert_eq!(
            decide(&g.client, &[g.clone()], std::slice::from_ref(&d), act, &facts(&it), t0(), &Destination::unknown()),
            Decision::Deny(Reason::DeniedBy(d.id))
        );
    }

    /// For any deny scope S matching a namespace N, every item in N or
    /// below it is denied for every action, whatever the grants say.
    #[test]
    fn deny_covers_everything_below_a_match(
        (ns, scope, tail) in matched_namespace(),
        mut grants in prop::collection::vec(grant(), 0..4),
        tags in tags(),
        sens in sensitivity(),
    ) {
        prop_assume!(scope.matches(&ns));
        let who = "claude";
        grants.push(Grant {
            id: Uuid::now_v7(),
            client: who.into(),
            actions: Actions::of(&Action::ALL),
            scope: "**".parse().unwrap(),
            tags: vec![],
            max_sensitivity: Sensitivity::Secret,
            expires: None,
            redact: vec![],
            providers: ProviderCondition::default(),
            confirm: None,
            created_at: t0(),
        });
        let d = DenyRule { id: Uuid::now_v7(), client: who.into(), scope, created_at: t0() };
        let below = if tail.is_empty() { ns.clone() } else { format!("{ns}/{tail}") };
        let policy = ClientPolicy::new(who, &grants, std::slice::from_ref(&d), t0(), &Destination::unknown());
        for namespace in [&ns, &below] {
            let it = Item { namespace: namespace.clone(), tags: tags.clone(), sensitivity: sens };
            for act in Action::ALL {
                let denied = Decision::Deny(Reason::DeniedBy(d.id));
                prop_assert_eq!(&policy.decide(act, &facts(&it)), &denied, "{}", namespace);
                prop_assert!(!policy.allows(act, &facts(&it)));
                prop_assert_eq!(&policy.decide_all(act, [facts(&it)]), &vec![denied.clone()]);
                prop_assert_eq!(&decide(who, &grants, std::slice::from_ref(&d), act, &facts(&it), t0(), &Destination::unknown()), &denied);
            }
        }
    }

    #[test]
    fn nothing_past_expiry(grants in prop::collection::vec(grant(), 1..6), it in item(), act in action(), who in client()) {
        let latest = grants.iter().filter_map(|g| g.expires).max();
        let all_expire = grants.iter().all(|g| g.expires.is_some());
        if let (true, Some(last)) = (all_expire, latest) {
            prop_assert!(!decide(&who, &grants, &[], act, &facts(&it), last, &Destination::unknown()).is_allowed());
            prop_assert!(!decide(&who, &grants, &[], act, &facts(&it), last + chrono::Duration::days(1), &Destination::unknown()).is_allowed());
        }
    }

    #[test]
    fn secret_only_with_secret_grant(grants in prop::collection::vec(grant(), 0..6), mut it in item(), act in action(), who in client()) {
        it.sensitivity = Sensitivity::Secret;
        let allowed = decide(&who, &grants, &[], act, &facts(&it), t0(), &Destination::unknown()).is_allowed();
        if allowed {
            prop_assert!(grants.iter().any(|g| g.client == who && g.max_sensitivity == Sensitivity::Secret));
        }
    }
}

fn everything_for(client: &str, scope: &str) -> Grant {
    Grant {
        id: Uuid::now_v7(),
        client: client.into(),
        actions: Actions::of(&Action::ALL),
        scope: scope.parse().unwrap(),
        tags: vec![],
        max_sensitivity: Sensitivity::Secret,
        expires: None,
        redact: vec![],
        providers: ProviderCondition::default(),
        confirm: None,
        created_at: t0(),
    }
}

fn deny_rule(client: &str, scope: &str) -> DenyRule {
    DenyRule {
        id: Uuid::now_v7(),
        client: client.into(),
        scope: scope.parse().unwrap(),
        created_at: t0(),
    }
}

/// Every way the crate evaluates a deny rule agrees on `ns`.
fn denied_by(grants: &[Grant], d: &DenyRule, ns: &str) -> bool {
    let it = Item {
        namespace: ns.into(),
        tags: vec![],
        sensitivity: Sensitivity::Normal,
    };
    let policy = ClientPolicy::new(
        "c",
        grants,
        std::slice::from_ref(d),
        t0(),
        &Destination::unknown(),
    );
    let want = Decision::Deny(Reason::DeniedBy(d.id));
    let verdicts: Vec<bool> = Action::ALL
        .iter()
        .flat_map(|&act| {
            [
                policy.decide(act, &facts(&it)) == want,
                !policy.allows(act, &facts(&it)),
                policy.decide_all(act, [facts(&it)]) == vec![want.clone()],
                decide(
                    "c",
                    grants,
                    std::slice::from_ref(d),
                    act,
                    &facts(&it),
                    t0(),
                    &Destination::unknown(),
                ) == want,
            ]
        })
        .collect();
    assert!(
        verdicts.iter().all(|v| *v == verdicts[0]),
        "decide, allows and decide_all disagree on {ns}"
    );
    verdicts[0]
}

#[test]
fn deny_covers_the_whole_subtree() {
    let all = [everything_for("c", "**")];
    let health = deny_rule("c", "health");
    for ns in ["health", "health/labs", "health/labs/2024"] {
        assert!(denied_by(&all, &health, ns), "deny health must cover {ns}");
    }
    for ns in [
        "healthy",
        "health-x",
        "healthy/labs",
        "work/health",
        "profile",
    ] {
        assert!(
            !denied_by(&all, &health, ns),
            "deny health must not cover {ns}"
        );
    }
    let proj = deny_rule("c", "proj-*");
    for ns in ["proj-x", "proj-x/notes", "proj-/a/b"] {
        assert!(denied_by(&all, &proj, ns), "deny proj-* must cover {ns}");
    }
    for ns in ["proj", "project", "home/proj-x"] {
        assert!(
            !denied_by(&all, &proj, ns),
            "deny proj-* must not cover {ns}"
        );
    }
    let work = deny_rule("c", "work/**");
    for ns in ["work", "work/acme", "work/acme/q3"] {
        assert!(denied_by(&all, &work, ns), "deny work/** must cover {ns}");
    }
    assert!(!denied_by(&all, &work, "workshop"));
    let notes = deny_rule("c", "*/notes");
    assert!(denied_by(&all, &notes, "home/notes/2024"));
    assert!(!denied_by(&all, &notes, "home"));
    assert!(!denied_by(&all, &notes, "notes"));
}

#[test]
fn deny_on_a_subtree_spares_other_clients() {
    let grants = [everything_for("c", "**"), everything_for("other", "**")];
    let d = deny_rule("c", "health");
    let it = Item {
        namespace: "health/labs".into(),
        tags: vec![],
        sensitivity: Sensitivity::Normal,
    };
    assert!(
        !decide(
            "c",
            &grants,
            std::slice::from_ref(&d),
            Action::Read,
            &facts(&it),
            t0(),
            &Destination::unknown()
        )
        .is_allowed()
    );
    assert!(
        decide(
            "other",
            &grants,
            std::slice::from_ref(&d),
            Action::Read,
            &facts(&it),
            t0(),
            &Destination::unknown()
        )
        .is_allowed()
    );
}

#[test]
fn grants_stay_exact() {
    let g = [everything_for("c", "health")];
    let at = |ns: &str| Item {
        namespace: ns.into(),
        tags: vec![],
        sensitivity: Sensitivity::Normal,
    };
    assert!(
        decide(
            "c",
            &g,
            &[],
            Action::Read,
            &facts(&at("health")),
            t0(),
            &Destination::unknown()
        )
        .is_allowed()
    );
    assert_eq!(
        decide(
            "c",
            &g,
            &[],
            Action::Read,
            &facts(&at("health/labs")),
            t0(),
            &Destination::unknown()
        ),
        Decision::Deny(Reason::NoGrant)
    );
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
        providers: ProviderCondition::default(),
        confirm: None,
        created_at: t0(),
    };
    let it = Item {
        namespace: "a".into(),
        tags: vec![],
        sensitivity: Sensitivity::Normal,
    };
    let one = [mk(vec![Redaction::Email, Redaction::Phone])];
    match decide(
        "c",
        &one,
        &[],
        Action::Read,
        &facts(&it),
        t0(),
        &Destination::unknown(),
    ) {
        Decision::Allow { redactions, .. } => {
            assert_eq!(redactions.kinds(), vec![Redaction::Email, Redaction::Phone])
        }
        d => panic!("{d:?}"),
    }
    let two = [
        mk(vec![Redaction::Email, Redaction::Phone]),
        mk(vec![Redaction::Email]),
    ];
    match decide(
        "c",
        &two,
        &[],
        Action::Read,
        &facts(&it),
        t0(),
        &Destination::unknown(),
    ) {
        Decision::Allow { redactions, grants } => {
            assert_eq!(redactions.kinds(), vec![Redaction::Email]);
            assert_eq!(grants.len(), 2);
        }
        d => panic!("{d:?}"),
    }
}
