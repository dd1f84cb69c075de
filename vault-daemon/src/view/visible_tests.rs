//! A client's search through its registered view gives exactly what the
//! per-search decision on every group gives (same items, order, scores,
//! snippets and counts), on random vaults with tags of their own, random
//! grants, and writes and policy changes between searches.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use policies::{Action, Actions, Decision, Sensitivity};
use proptest::prelude::*;
use uuid::Uuid;
use vault_core::item::{ItemPatch, Source};
use vault_core::{ItemFilter, NewItem, Tag, Vault};

use super::*;
use crate::protocol::{GrantAdd, Revoke};
use crate::session::Session;
use crate::throttle::ReadLimit;

const NAMESPACES: [&str; 5] = ["work", "work/acme", "health", "notes", "home/kids"];
const SCOPES: [&str; 5] = ["work/**", "health", "notes", "**", "home/**"];
const SHARED_TAGS: [&str; 4] = ["family", "travel", "money", "doctor"];
const WORDS: [&str; 10] = [
    "tea", "coffee", "garden", "paris", "mother", "bike", "piano", "salary", "river", "book",
];
const CLIENTS: [&str; 2] = ["a", "b"];

#[derive(Clone, Debug)]
enum Op {
    /// Add an item: namespace, shared tag (or none), a tag of its own,
    /// sensitivity, words.
    Add {
        ns: usize,
        tag: Option<usize>,
        own: bool,
        sens: usize,
        words: Vec<usize>,
    },
    /// Add 260 items in one bulk insert (the pipelined path, which takes
    /// the catalog whole and indexes on another thread).
    Bulk(u64),
    /// Move an item to another namespace and tags.
    Edit {
        pick: prop::sample::Index,
        ns: usize,
        tag: Option<usize>,
    },
    Remove(prop::sample::Index),
    Grant {
        client: usize,
        scope: usize,
        tag: Option<usize>,
        sens: usize,
    },
    Revoke(prop::sample::Index),
    Search {
        client: usize,
        words: Vec<usize>,
        filter_ns: Option<usize>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let words = || prop::collection::vec(0..WORDS.len(), 1..4);
    prop_oneof![
        4 => (0..5usize, prop::option::of(0..4usize), any::<bool>(), 0..4usize, words())
            .prop_map(|(ns, tag, own, sens, words)| Op::Add { ns, tag, own, sens, words }),
        1 => any::<u64>().prop_map(Op::Bulk),
        1 => (any::<prop::sample::Index>(), 0..5usize, prop::option::of(0..4usize))
            .prop_map(|(pick, ns, tag)| Op::Edit { pick, ns, tag }),
        1 => any::<prop::sample::Index>().prop_map(Op::Remove),
        2 => (0..2usize, 0..5usize, prop::option::of(0..4usize), 0..4usize)
            .prop_map(|(client, scope, tag, sens)| Op::Grant { client, scope, tag, sens }),
        1 => any::<prop::sample::Index>().prop_map(Op::Revoke),
        4 => (0..2usize, prop::collection::vec(0..WORDS.len(), 1..3), prop::option::of(0..5usize))
            .prop_map(|(client, words, filter_ns)| Op::Search { client, words, filter_ns }),
    ]
}

fn item(ns: usize, tag: Option<usize>, own: Option<u32>, sens: usize, words: &[usize]) -> NewItem {
    let mut tags: Vec<Tag> = tag
        .map(|t| SHARED_TAGS[t].parse().unwrap())
        .into_iter()
        .collect();
    if let Some(n) = own {
        tags.push(format!("own-{n}").parse().unwrap());
    }
    NewItem {
        namespace: NAMESPACES[ns].parse().unwrap(),
        kind: Default::default(),
        title: None,
        body: words
            .iter()
            .map(|&w| WORDS[w])
            .collect::<Vec<_>>()
            .join(" "),
        tags,
        sensitivity: Sensitivity::ALL[sens],
        source: Source::user(),
    }
}

/// The reference: decide every group for this search alone.
async fn by_groups(
    s: &Session,
    p: &policies::ClientPolicy,
    query: &str,
    filter: &ItemFilter,
) -> Vec<vault_core::SearchHit> {
    let keys = s.vault.group_keys().await;
    let readable: Vec<bool> = p
        .decide_all(Action::Read, keys.iter().map(crate::policy::facts))
        .iter()
        .map(Decision::is_allowed)
        .collect();
    let results: Vec<bool> = keys
        .iter()
        .zip(&readable)
        .map(|(g, r)| *r && filter.matches(&g.namespace, &g.tags))
        .collect();
    s.vault
        .search_groups(query, None, 20, Some(&readable), &results)
        .await
        .unwrap()
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
    let s = Session::new(v, Arc::new(ReadLimit::default()))
        .await
        .unwrap();
    for c in CLIENTS {
        s.client_token(c.to_owned(), false, None).await.unwrap();
    }
    let mut items: Vec<Uuid> = Vec::new();
    let mut grants: Vec<Uuid> = Vec::new();
    let mut own = 0u32;
    for op in ops {
        match op {
            Op::Add {
                ns,
                tag,
                own: o,
                sens,
                words,
            } => {
                own += 1;
                let new = item(ns, tag, o.then_some(own), sens, &words);
                items.push(s.vault.add(new).await.unwrap().id);
            }
            Op::Bulk(mut seed) => {
                let mut pick = |n: usize| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((seed >> 33) % n as u64) as usize
                };
                let news: Vec<NewItem> = (0..260)
                    .map(|_| {
                        own += 1;
                        let words: Vec<usize> =
                            (0..1 + pick(3)).map(|_| pick(WORDS.len())).collect();
                        let tag = (pick(5) < 4).then(|| pick(4));
                        item(pick(5), tag, (pick(3) == 0).then_some(own), pick(4), &words)
                    })
                    .collect();
                items.extend(s.vault.add_bulk(news).await.unwrap());
            }
            Op::Edit { pick, ns, tag } if !items.is_empty() => {
                let id = items[pick.index(items.len())];
                let mut patch = ItemPatch::default();
                patch.namespace = Some(NAMESPACES[ns].parse().unwrap());
                patch.tags = Some(
                    tag.map(|t| SHARED_TAGS[t].parse().unwrap())
                        .into_iter()
                        .collect(),
                );
                s.vault.edit(&id, patch).await.unwrap();
            }
            Op::Remove(pick) if !items.is_empty() => {
                let id = items.swap_remove(pick.index(items.len()));
                s.vault.remove(&id).await.unwrap();
            }
            Op::Grant {
                client,
                scope,
                tag,
                sens,
            } => {
                let id = s
                    .grant_add(GrantAdd {
                        client: CLIENTS[client].into(),
                        scope: SCOPES[scope].parse().unwrap(),
                        actions: Actions::of(&[Action::Read]),
                        tags: tag
                            .map(|t| SHARED_TAGS[t].parse().unwrap())
                            .into_iter()
                            .collect(),
                        max_sensitivity: Sensitivity::ALL[sens],
                        expires: None,
                        redact: vec![],
                        providers: Default::default(),
                        confirm: None,
                    })
                    .await
                    .unwrap();
                grants.push(id);
            }
            Op::Revoke(pick) if !grants.is_empty() => {
                let id = grants.swap_remove(pick.index(grants.len()));
                s.revoke(Revoke { id }).await.unwrap();
            }
            Op::Search {
                client,
                words,
                filter_ns,
            } => {
                let query = words
                    .iter()
                    .map(|&w| WORDS[w])
                    .collect::<Vec<_>>()
                    .join(" ");
                let filter = ItemFilter {
                    namespace: filter_ns.map(|n| NAMESPACES[n].parse().unwrap()),
                    tags: vec![],
                };
                let p = s.compile(&Who::dry_run(CLIENTS[client])).await.unwrap();
                let expected = by_groups(&s, &p, &query, &filter).await;
                let seen = reads::search_as(&s.vault, &s.views, &p, (&query, None), &filter, 20)
                    .await
                    .unwrap();
                let got: Vec<_> = seen
                    .value
                    .iter()
                    .map(|h| (h.item.id, h.score, &h.snippet))
                    .collect();
                let want: Vec<_> = expected
                    .iter()
                    .map(|h| (h.item.id, h.score, &h.snippet))
                    .collect();
                assert_eq!(got, want, "client {} searching {query:?}", CLIENTS[client]);
                // The view holds exactly the items the client may read.
                let readable = s
                    .vault
                    .list(&ItemFilter::default())
                    .await
                    .unwrap()
                    .iter()
                    .filter(|i| {
                        p.allows(
                            Action::Read,
                            &policies::ItemFacts {
                                namespace: i.namespace.as_str(),
                                tags: &i.tags,
                                sensitivity: i.sensitivity,
                            },
                        )
                    })
                    .count();
                let key = visible::view_key(&p).unwrap();
                assert_eq!(s.vault.view_len(&key).await, Some(readable));
            }
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn a_view_answers_as_deciding_every_group(ops in prop::collection::vec(op(), 1..40)) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(run(ops));
    }
}
