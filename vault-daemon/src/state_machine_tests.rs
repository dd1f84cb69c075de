//! A state-machine property test of the policy as the agent applies it:
//! random sequences of grant, revoke, deny, read, remember, approve and an
//! expired grant, run against a real vault and compared at every read with
//! a small reference model written independently of `policies`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use client_view::{ListQuery, RememberRequest, RememberStatus};
use policies::{Action, Actions, Grant, Sensitivity};
use proptest::prelude::*;
use uuid::Uuid;
use vault_core::records::PolicyRecord;
use vault_core::{NewItem, Vault};

use crate::policy;
use crate::protocol::{Approve, DenyAdd, GrantAdd, Revoke};
use crate::session::Session;
use crate::throttle::ReadLimit;
use crate::view::Who;

const NAMESPACES: [&str; 5] = ["work", "work/acme", "health", "health/labs", "notes"];
const SCOPES: [&str; 6] = ["work/**", "health", "notes", "**", "health/**", "work/acme"];
const CLIENTS: [&str; 2] = ["a", "b"];

#[derive(Clone, Debug)]
enum Op {
    Grant {
        client: usize,
        scope: usize,
        actions: u8,
        secret: bool,
        expired: bool,
    },
    Revoke(usize),
    Deny {
        client: usize,
        scope: usize,
    },
    Read(usize),
    Remember {
        client: usize,
        ns: usize,
    },
    Approve(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (
            0..2usize,
            0..SCOPES.len(),
            0..3u8,
            any::<bool>(),
            prop::bool::weighted(0.2)
        )
            .prop_map(|(client, scope, actions, secret, expired)| Op::Grant {
                client,
                scope,
                actions,
                secret,
                expired
            }),
        (0..8usize).prop_map(Op::Revoke),
        (0..2usize, 0..SCOPES.len()).prop_map(|(client, scope)| Op::Deny { client, scope }),
        (0..2usize).prop_map(Op::Read),
        (0..2usize, 0..NAMESPACES.len()).prop_map(|(client, ns)| Op::Remember { client, ns }),
        (0..4usize).prop_map(Op::Approve),
    ]
}

/// The model's scope matching: `**` all, `p/**` p and below, else exact.
fn scope_matches(scope: &str, ns: &str) -> bool {
    match scope.strip_suffix("/**") {
        _ if scope == "**" => true,
        Some(p) => ns == p || ns.starts_with(&format!("{p}/")),
        None => ns == scope,
    }
}

/// A deny rule covers the namespaces its scope matches and everything below.
fn deny_covers(scope: &str, ns: &str) -> bool {
    let parts: Vec<&str> = ns.split('/').collect();
    (1..=parts.len()).any(|n| scope_matches(scope, &parts[..n].join("/")))
}

struct ModelGrant {
    id: Uuid,
    client: usize,
    scope: &'static str,
    actions: Vec<Action>,
    secret: bool,
    expired: bool,
}

#[derive(Default)]
struct Model {
    /// (id, namespace, secret)
    items: Vec<(Uuid, String, bool)>,
    grants: Vec<ModelGrant>,
    denies: Vec<(usize, &'static str)>,
    pending: Vec<(Uuid, String)>,
}

impl Model {
    fn allows(&self, client: usize, action: Action, ns: &str, secret: bool) -> bool {
        !self
            .denies
            .iter()
            .any(|(c, s)| *c == client && deny_covers(s, ns))
            && self.grants.iter().any(|g| {
                g.client == client
                    && !g.expired
                    && g.actions.contains(&action)
                    && scope_matches(g.scope, ns)
                    && (g.secret || !secret)
            })
    }

    fn visible(&self, client: usize) -> BTreeSet<Uuid> {
        self.items
            .iter()
            .filter(|(_, ns, secret)| self.allows(client, Action::Read, ns, *secret))
            .map(|(id, _, _)| *id)
            .collect()
    }
}

fn actions_of(n: u8) -> Vec<Action> {
    match n {
        0 => vec![Action::Read],
        1 => vec![Action::Read, Action::Propose],
        _ => vec![Action::Read, Action::Write],
    }
}

async fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let pass = vault_core::keys::passphrase("pw");
    let v = Vault::create(
        &dir.path().join("v"),
        &pass,
        vault_core::WorkFactor::MIN,
        &[],
    )
    .await
    .unwrap();
    let mut model = Model::default();
    for (k, ns) in NAMESPACES.iter().enumerate() {
        let secret = k == 3;
        let mut new = NewItem {
            namespace: ns.parse().unwrap(),
            kind: Default::default(),
            title: None,
            body: format!("item in {ns}"),
            tags: vec![],
            sensitivity: Sensitivity::Normal,
            source: vault_core::item::Source::user(),
        };
        if secret {
            new.sensitivity = Sensitivity::Secret;
        }
        let item = v.add(new).await.unwrap();
        model.items.push((item.id, (*ns).to_owned(), secret));
    }
    let s = Session::new(v, std::sync::Arc::new(ReadLimit::default()))
        .await
        .unwrap();
    for c in CLIENTS {
        s.client_token(c.to_owned(), false, None).await.unwrap();
    }
    for op in ops {
        match op {
            Op::Grant {
                client,
                scope,
                actions,
                secret,
                expired,
            } => {
                let acts = actions_of(actions);
                let max = if secret {
                    Sensitivity::Secret
                } else {
                    Sensitivity::Normal
                };
                let id = if expired {
                    // A grant whose expiry has passed since it was made.
                    let g = Grant {
                        id: Uuid::now_v7(),
                        client: CLIENTS[client].into(),
                        actions: Actions::of(&acts),
                        scope: SCOPES[scope].parse().unwrap(),
                        tags: vec![],
                        max_sensitivity: max,
                        expires: Some(Utc::now() - Duration::hours(1)),
                        redact: vec![],
                        providers: Default::default(),
                        confirm: None,
                        created_at: Utc::now() - Duration::hours(2),
                    };
                    let mut st = s.policy.write().await;
                    let entry = policy::user_entry("grant", vec![g.id], "expired".into());
                    s.commit_policy(
                        &mut st,
                        vec![PolicyRecord::Grant((&g).into())],
                        vec![],
                        entry,
                    )
                    .await
                    .unwrap();
                    g.id
                } else {
                    s.grant_add(GrantAdd {
                        client: CLIENTS[client].into(),
                        scope: SCOPES[scope].parse().unwrap(),
                        actions: Actions::of(&acts),
                        tags: vec![],
                        max_sensitivity: max,
                        expires: None,
                        redact: vec![],
                        providers: Default::default(),
                        confirm: None,
                    })
                    .await
                    .unwrap()
                };
                model.grants.push(ModelGrant {
                    id,
                    client,
                    scope: SCOPES[scope],
                    actions: acts,
                    secret,
                    expired,
                });
            }
            Op::Revoke(k) => {
                if model.grants.is_empty() {
                    continue;
                }
                let g = model.grants.remove(k % model.grants.len());
                s.revoke(Revoke { id: g.id }).await.unwrap();
            }
            Op::Deny { client, scope } => {
                s.deny_add(DenyAdd {
                    client: CLIENTS[client].into(),
                    scope: SCOPES[scope].parse().unwrap(),
                })
                .await
                .unwrap();
                model.denies.push((client, SCOPES[scope]));
            }
            Op::Read(client) => {
                let who = Who::client(CLIENTS[client].into(), None, None);
                let seen: BTreeSet<Uuid> = s
                    .list_for(&who, ListQuery::default())
                    .await
                    .unwrap()
                    .iter()
                    .map(|i| i.id)
                    .collect();
                assert_eq!(seen, model.visible(client), "client {}", CLIENTS[client]);
            }
            Op::Remember { client, ns } => {
                let who = Who::client(CLIENTS[client].into(), None, None);
                let ns = NAMESPACES[ns];
                let r = s
                    .remember_for(
                        &who,
                        RememberRequest {
                            content: format!("remembered {}", Uuid::now_v7()),
                            namespace: Some(ns.into()),
                            tags: vec![],
                            kind: None,
                            title: None,
                            request: None,
                        },
                    )
                    .await;
                let write = model.allows(client, Action::Write, ns, false);
                let propose = model.allows(client, Action::Propose, ns, false);
                match r {
                    Ok(done) if done.status == RememberStatus::Stored => {
                        assert!(write, "stored without write in {ns}");
                        model.items.push((done.id, ns.into(), false));
                    }
                    Ok(done) => {
                        assert!(
                            !write && propose,
                            "queued in {ns}: write {write} propose {propose}"
                        );
                        model.pending.push((done.id, ns.into()));
                    }
                    Err(e) => assert!(!write && !propose, "refused in {ns}: {}", e.message),
                }
            }
            Op::Approve(k) => {
                if model.pending.is_empty() {
                    continue;
                }
                let (id, ns) = model.pending.remove(k % model.pending.len());
                let item = s
                    .approve(Approve {
                        id,
                        namespace: None,
                    })
                    .await
                    .unwrap();
                model.items.push((item.id, ns, false));
            }
        }
    }
    for (c, name) in CLIENTS.iter().enumerate() {
        let who = Who::dry_run(name);
        let seen: BTreeSet<Uuid> = s
            .list_for(&who, ListQuery::default())
            .await
            .unwrap()
            .iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(seen, model.visible(c));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_agent_follows_the_reference_model(ops in prop::collection::vec(op(), 1..30)) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(run(ops));
    }
}
