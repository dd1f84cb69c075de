//! Tests of the BM25 index: matching, ranking, views, removal and compaction.
use super::*;
use crate::index::query_terms;

fn q(s: &str) -> Vec<(String, bool)> {
    query_terms(s)
}

const ALL: &[bool] = &[true; 8];

fn all() -> View<'static> {
    View {
        universe: None,
        results: ALL,
    }
}

fn doc<'a>(rowid: i64, title: &'a str, body: &'a str, tags: &'a str) -> Doc<'a> {
    Doc {
        rowid,
        title,
        body,
        tags,
        group: 0,
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
        },
        Doc {
            rowid: 2,
            title: "",
            body: "Coffee: oat flat white, no sugar",
            tags: "food",
            group: 1,
        },
        Doc {
            rowid: 3,
            title: "Acme project",
            body: "Quarterly planning for acme; café meetings",
            tags: "work",
            group: 2,
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
        universe: None,
        results: &[true, false, true],
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
        });
        without.insert(&Doc {
            rowid: r,
            title: "",
            body: b,
            tags: "",
            group: 0,
        });
    }
    for (r, b) in hidden {
        with.insert(&Doc {
            rowid: r,
            title: "",
            body: b,
            tags: "",
            group: 1,
        });
    }
    let only0 = [true, false];
    let view = View {
        universe: Some(&only0),
        results: &only0,
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
        universe: None,
        results: &[],
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
        })
        .collect();
    ix.insert_many(&docs);
    let only1 = [false, true];
    let hits = ix.search(
        &q("common"),
        Mode::All,
        3,
        View {
            universe: None,
            results: &only1,
        },
    );
    assert_eq!(ids(&hits), vec![7, 107, 207], "ties keep insertion order");
}
