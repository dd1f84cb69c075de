//! Tests of the BM25 index: matching, ranking, views, removal and compaction.
use super::*;
use crate::index::{Universe, query_terms};

fn q(s: &str) -> Vec<(String, bool)> {
    query_terms(s)
}

fn all() -> View<'static> {
    View::ALL
}

fn doc<'a>(rowid: i64, title: &'a str, body: &'a str, tags: &'a str) -> Doc<'a> {
    Doc {
        rowid,
        title,
        body,
        tags,
        group: 0,
        views: &[],
    }
}

fn sample() -> Index {
    let mut ix = Index::new();
    ix.insert_many(&[
        Doc {
            rowid: 1,
            title: "Running shoes",
            body: "I run marathons on weekends",
            tags: "sport",
            group: 0,
            views: &[],
        },
        Doc {
            rowid: 2,
            title: "",
            body: "Coffee: oat flat white, no sugar",
            tags: "food",
            group: 1,
            views: &[],
        },
        Doc {
            rowid: 3,
            title: "Acme project",
            body: "Quarterly planning for acme; café meetings",
            tags: "work",
            group: 2,
            views: &[],
        },
    ]);
    ix
}

fn ids(hits: &[(i64, f64)]) -> Vec<i64> {
    hits.iter().map(|h| h.0).collect()
}

#[test]
fn terms() {
    assert_eq!(
        q("Rust's async* \"x\""),
        vec![
            ("rust".into(), false),
            ("s".into(), false),
            ("async".into(), true),
            ("x".into(), false)
        ]
    );
    assert!(q("  ** -- ").is_empty());
}

#[test]
fn stemming_prefix_and_groups() {
    let ix = sample();
    assert_eq!(
        ids(&ix.search(&q("running"), Mode::All, 10, all())),
        vec![1],
        "run/running share a stem"
    );
    assert_eq!(ix.search(&q("ac*"), Mode::All, 10, all()).len(), 1);
    assert_eq!(ix.search(&q("CAFÉ"), Mode::All, 10, all()).len(), 1);
    let not_food = View {
        universe: Universe::All,
        results: Some(&|g| g != 1),
    };
    assert!(ix.search(&q("coffee"), Mode::All, 10, not_food).is_empty());
    assert!(
        ix.search(&q("coffee marathon"), Mode::All, 10, all())
            .is_empty()
    );
    assert_eq!(
        ix.search(&q("coffee marathon"), Mode::Any, 10, all()).len(),
        2
    );
    assert_eq!(ix.group_counts(), vec![1, 1, 1]);
}

#[test]
fn title_outranks_body() {
    let mut ix = Index::new();
    ix.insert(&doc(
        1,
        "",
        "notes about the garden and more words here",
        "",
    ));
    ix.insert(&doc(2, "garden", "notes and more words here too", ""));
    assert_eq!(
        ids(&ix.search(&q("garden"), Mode::All, 10, all())),
        vec![2, 1]
    );
}

#[test]
fn hidden_groups_change_no_score() {
    // Group 1 is hidden. Its documents must not move any score seen
    // through a universe without it: compare with an index where they
    // never existed.
    let visible = [
        (1, "apple pie recipe with cinnamon"),
        (2, "apple orchard visit in autumn"),
        (3, "pie crust tips"),
    ];
    let hidden = [
        (10, "apple apple apple secret"),
        (11, "pie pie pie secret plans"),
        (12, "apple pie"),
    ];
    let mut with = Index::new();
    let mut without = Index::new();
    for (r, b) in visible {
        with.insert(&Doc {
            rowid: r,
            title: "",
            body: b,
            tags: "",
            group: 0,
            views: &[],
        });
        without.insert(&Doc {
            rowid: r,
            title: "",
            body: b,
            tags: "",
            group: 0,
            views: &[],
        });
    }
    for (r, b) in hidden {
        with.insert(&Doc {
            rowid: r,
            title: "",
            body: b,
            tags: "",
            group: 1,
            views: &[],
        });
    }
    let only0 = [true, false];
    let view = View {
        universe: Universe::Groups(&only0),
        results: None,
    };
    for query in [
        "apple",
        "pie",
        "apple pie",
        "secret",
        "app*",
        "apple autumn",
    ] {
        for mode in [Mode::All, Mode::Any] {
            let a = with.search(&q(query), mode, 10, view);
            let b = without.search(&q(query), mode, 10, view);
            assert_eq!(a, b, "{query} {mode:?}");
        }
    }
    // And after the hidden ones are removed again.
    for (r, _) in hidden {
        with.remove(r);
    }
    assert_eq!(
        with.search(&q("apple pie"), Mode::Any, 10, view),
        without.search(&q("apple pie"), Mode::Any, 10, view)
    );
}

#[test]
fn remove_replace_and_compact() {
    let mut ix = sample();
    ix.remove(3);
    assert!(ix.search(&q("acme"), Mode::All, 10, all()).is_empty());
    ix.insert(&doc(2, "", "tea now", ""));
    assert!(ix.search(&q("coffee"), Mode::All, 10, all()).is_empty());
    assert_eq!(ix.search(&q("tea"), Mode::All, 10, all()).len(), 1);
    for i in 10..3000 {
        ix.insert(&doc(i, "", "filler words", ""));
    }
    for i in 10..3000 {
        ix.remove(i);
    }
    assert_eq!(ix.len(), 2);
    assert!(ix.docs.len() < 1100, "tombstones were compacted");
    assert_eq!(ix.search(&q("tea"), Mode::All, 10, all()).len(), 1);
    assert_eq!(ix.search(&q("marathon"), Mode::All, 10, all()).len(), 1);
    assert_eq!(ix.group_counts()[0], 2);
}

#[test]
fn huge_limits_do_not_panic() {
    let ix = sample();
    assert_eq!(ix.search(&q("acme"), Mode::All, usize::MAX, all()).len(), 1);
    let none = View {
        universe: Universe::Groups(&[]),
        results: None,
    };
    assert_eq!(
        ix.search(&q("coffee running"), Mode::Any, usize::MAX, none)
            .len(),
        0
    );
}

#[test]
fn limit_and_filter() {
    let mut ix = Index::new();
    let docs: Vec<Doc> = (0..500)
        .map(|i| Doc {
            rowid: i,
            title: "",
            body: "common word",
            tags: "",
            group: (i % 100 == 7) as u32,
            views: &[],
        })
        .collect();
    ix.insert_many(&docs);
    let hits = ix.search(
        &q("common"),
        Mode::All,
        3,
        View {
            universe: Universe::All,
            results: Some(&|g| g == 1),
        },
    );
    assert_eq!(ids(&hits), vec![7, 107, 207], "ties keep insertion order");
}

mod views {
    //! A registered view answers exactly as the same groups given as a set,
    //! through inserts, replacements, removals and compaction.
    use super::*;
    use proptest::prelude::*;

    const WORDS: [&str; 12] = [
        "tea", "coffee", "garden", "rust", "paris", "mother", "doctor", "bike", "piano", "salary",
        "river", "book",
    ];

    fn body(words: &[usize]) -> String {
        words
            .iter()
            .map(|&w| WORDS[w])
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Insert one document, joining view 0 when its group is visible.
    fn put(ix: &mut Index, rowid: i64, group: u32, words: &[usize], visible: &[bool]) {
        let text = body(words);
        let views: &[ViewId] = if visible[group as usize] { &[0] } else { &[] };
        ix.insert(&Doc {
            rowid,
            title: "",
            body: &text,
            tags: WORDS[group as usize],
            group,
            views,
        });
    }

    fn compare(ix: &Index, visible: &[bool], queries: &[Vec<usize>]) {
        let live = (0..ix.docs.len())
            .filter(|&d| in_set(visible, ix.doc_group[d]))
            .count();
        assert_eq!(ix.view_len(0), live);
        let odd = |g: u32| g % 2 == 1;
        for words in queries {
            let terms = q(&body(words));
            for mode in [Mode::All, Mode::Any] {
                for results in [None, Some(&odd as &dyn Fn(u32) -> bool)] {
                    let by_view = View {
                        universe: Universe::View(0),
                        results,
                    };
                    let by_groups = View {
                        universe: Universe::Groups(visible),
                        results,
                    };
                    assert_eq!(
                        ix.search(&terms, mode, 20, by_view),
                        ix.search(&terms, mode, 20, by_groups),
                        "{words:?} {mode:?}"
                    );
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn views_match_group_sets(
            first in prop::collection::vec((0u32..6, prop::collection::vec(0usize..12, 1..6)), 1..60),
            visible in prop::collection::vec(any::<bool>(), 6),
            later in prop::collection::vec(
                (0u32..6, prop::collection::vec(0usize..12, 1..6), 0u8..3, any::<prop::sample::Index>()),
                0..60,
            ),
            queries in prop::collection::vec(prop::collection::vec(0usize..12, 1..3), 1..6),
        ) {
            let mut ix = Index::new();
            let mut rowids: Vec<i64> = Vec::new();
            for (i, (g, words)) in first.iter().enumerate() {
                // Documents from before the view was made: not yet in it.
                put(&mut ix, i as i64, *g, words, &[false; 6]);
                rowids.push(i as i64);
            }
            let members: Vec<i64> = rowids
                .iter()
                .copied()
                .filter(|r| visible[ix.doc_group[ix.by_rowid[r] as usize] as usize])
                .collect();
            ix.set_view(0, &mut members.into_iter());
            compare(&ix, &visible, &queries);
            let mut next = first.len() as i64;
            for (g, words, op, pick) in &later {
                match op {
                    0 => {
                        put(&mut ix, next, *g, words, &visible);
                        rowids.push(next);
                        next += 1;
                    }
                    1 if !rowids.is_empty() => {
                        // Replace: the document may move between groups.
                        let r = rowids[pick.index(rowids.len())];
                        put(&mut ix, r, *g, words, &visible);
                    }
                    _ if !rowids.is_empty() => {
                        let r = rowids.swap_remove(pick.index(rowids.len()));
                        ix.remove(r);
                    }
                    _ => {}
                }
            }
            compare(&ix, &visible, &queries);
            // Enough removals to compact the postings: the view follows.
            for r in 10_000..11_200 {
                put(&mut ix, r, (r % 6) as u32, &[0, 1], &visible);
            }
            for r in 10_000..11_200 {
                ix.remove(r);
            }
            assert!(ix.docs.len() < 1100, "compacted");
            compare(&ix, &visible, &queries);
        }
    }

    #[test]
    fn unknown_and_dropped_views_see_nothing() {
        let mut ix = sample();
        let view = View {
            universe: Universe::View(3),
            results: None,
        };
        assert!(ix.search(&q("coffee"), Mode::Any, 10, view).is_empty());
        ix.set_view(3, &mut [2i64].into_iter());
        assert_eq!(ids(&ix.search(&q("coffee"), Mode::Any, 10, view)), vec![2]);
        assert_eq!(ix.view_len(3), 1);
        ix.drop_view(3);
        assert!(ix.search(&q("coffee"), Mode::Any, 10, view).is_empty());
        assert_eq!(ix.view_len(3), 0);
    }
}

/// Hidden documents added first (so they bring the tokens into the
/// dictionary and change term ids) and leaning on a few words (so clause
/// sizes over every posting differ from sizes in the universe) change no
/// bit of a score seen without them: sums are made in an order that
/// depends on the universe only. Many random vaults, deterministic.
#[test]
fn hidden_items_change_no_bit_of_a_score() {
    let words = [
        "apple",
        "apricot",
        "application",
        "applied",
        "pie",
        "tart",
        "crust",
        "plum",
        "apron",
        "pear",
        "peach",
        "pecan",
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let queries = [
        "apple pie tart",
        "ap* pie",
        "crust tart pie apple plum",
        "app* apr* pie",
        "apron plum crust pear",
        "pe* tart crust",
    ];
    for _ in 0..200 {
        let mut with = Index::new();
        let mut without = Index::new();
        let heavy: Vec<&str> = (0..3).map(|_| words[next(words.len())]).collect();
        for i in 0..(20 + next(200)) {
            let mut b: Vec<&str> = (0..1 + next(4)).map(|_| heavy[next(3)]).collect();
            b.push(words[next(words.len())]);
            let b = b.join(" ");
            with.insert(&Doc {
                rowid: 10_000 + i as i64,
                title: "",
                body: &b,
                tags: "",
                group: 1,
                views: &[],
            });
        }
        for i in 0..(5 + next(60)) {
            let b: Vec<&str> = (0..2 + next(9)).map(|_| words[next(words.len())]).collect();
            let b = b.join(" ");
            for ix in [&mut with, &mut without] {
                ix.insert(&Doc {
                    rowid: i as i64,
                    title: "",
                    body: &b,
                    tags: "",
                    group: 0,
                    views: &[],
                });
            }
        }
        let only0 = [true, false];
        let view = View {
            universe: Universe::Groups(&only0),
            results: None,
        };
        let bits = |h: &[(i64, f64)]| h.iter().map(|(r, s)| (*r, s.to_bits())).collect::<Vec<_>>();
        for query in queries {
            for mode in [Mode::All, Mode::Any] {
                let a = with.search(&q(query), mode, 100, view);
                let b = without.search(&q(query), mode, 100, view);
                assert_eq!(bits(&a), bits(&b), "{query} {mode:?}");
            }
        }
    }
}
