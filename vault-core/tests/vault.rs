//! The vault API end to end, in process: bulk insert, search, edit, remove,
//! and the index rebuilt identically at the next unlock.

#![allow(missing_docs, clippy::unwrap_used)]

use vault_core::{Error, ItemFilter, ItemPatch, NewItem, Unlock, Vault, WorkFactor, keys};

fn note(ns: &str, body: &str) -> NewItem {
    NewItem::note(ns.parse().unwrap(), body)
}

#[tokio::test]
async fn bulk_insert_search_edit_remove_and_reunlock() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("v");
    let v = Vault::create(&dir, &keys::passphrase("pw"), WorkFactor::MIN, &[])
        .await
        .unwrap();
    let mut items: Vec<NewItem> = (0..1000)
        .map(|i| {
            note(
                if i % 2 == 0 { "work/acme" } else { "home" },
                &format!("item number {i} about gardening"),
            )
        })
        .collect();
    items[500] = note("work/acme", "the only one about quantum entanglement");
    let ids = v.add_bulk(items).await.unwrap();
    assert_eq!(ids.len(), 1000);
    assert_eq!(v.stats().await.items, 1000);

    let hits = v
        .search("quantum", None, &ItemFilter::default(), 10)
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].item.id, ids[500]);
    let f = ItemFilter {
        namespace: Some("home".parse().unwrap()),
        tags: vec![],
    };
    let home = v.search("gardening", None, &f, 1000).await.unwrap();
    assert_eq!(home.len(), 500);
    assert!(home.iter().all(|h| h.item.namespace.as_str() == "home"));
    assert_eq!(v.list(&f).await.unwrap().len(), 500);

    // A single add after a bulk add takes a fresh rowid and is searchable.
    let single = v
        .add(note("notes", "a lone note on beekeeping"))
        .await
        .unwrap();
    assert_eq!(
        v.search("beekeeping", None, &ItemFilter::default(), 5)
            .await
            .unwrap()[0]
            .item
            .id,
        single.id
    );

    let mut patch = ItemPatch::default();
    patch.body = Some("now about astronomy instead".into());
    let edited = v.edit(&ids[500], patch).await.unwrap();
    assert_eq!(edited.version, 2);
    assert!(
        v.search("quantum", None, &ItemFilter::default(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        v.search("astronomy", None, &ItemFilter::default(), 10)
            .await
            .unwrap()[0]
            .item
            .id,
        ids[500]
    );
    v.remove(&ids[0]).await.unwrap();
    assert!(matches!(v.get(&ids[0]).await, Err(Error::NoItem(_))));
    assert!(matches!(v.remove(&ids[0]).await, Err(Error::NoItem(_))));

    // Everything valid or nothing written.
    let before = v.stats().await.items;
    let bad = vec![note("notes", "fine"), note("notes", "   ")];
    assert!(matches!(v.add_bulk(bad).await, Err(Error::Invalid { .. })));
    assert_eq!(v.stats().await.items, before);
    assert!(
        v.search("fine", None, &ItemFilter::default(), 5)
            .await
            .unwrap()
            .is_empty()
    );

    let before_hits: Vec<_> = v
        .search("gardening", None, &ItemFilter::default(), 20)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.item.id)
        .collect();
    v.store().close().await;
    drop(v);

    let locked = Vault::open(&dir).await.unwrap();
    assert_eq!(locked.count().await.unwrap(), 1000);
    assert!(matches!(
        locked
            .unlock(&Unlock::Passphrase(keys::passphrase("nope")))
            .await,
        Err(Error::WrongPassphrase)
    ));
    let v = locked
        .unlock(&Unlock::Passphrase(keys::passphrase("pw")))
        .await
        .unwrap();
    assert_eq!(v.stats().await.items, 1000);
    assert!(v.stats().await.damaged.is_empty());
    assert_eq!(
        v.search("astronomy", None, &ItemFilter::default(), 10)
            .await
            .unwrap()[0]
            .item
            .id,
        ids[500]
    );
    let after_hits: Vec<_> = v
        .search("gardening", None, &ItemFilter::default(), 20)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.item.id)
        .collect();
    assert_eq!(after_hits.len(), before_hits.len());
}

/// A vector made from a deleted item is not stored at the rowid a new item
/// took: the row must still hold the same item at the same version.
#[tokio::test]
async fn a_vector_never_lands_on_a_reused_rowid() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("v");
    let v = Vault::create(&dir, &keys::passphrase("pw"), WorkFactor::MIN, &[])
        .await
        .unwrap();
    let old = v.add(note("notes", "the first text")).await.unwrap().id;
    let row = v.store().get(&old).await.unwrap().unwrap().rowid;
    v.remove(&old).await.unwrap();
    let new = v.add(note("notes", "the second text")).await.unwrap().id;
    let taken = v.store().get(&new).await.unwrap().unwrap();
    assert_eq!(taken.rowid, row, "SQLite reuses the largest rowid");
    let mut tx = v.store().begin().await.unwrap();
    let stale = vault_core::store::put_vector(&mut tx, (row, &old), "m", 1, b"blob")
        .await
        .unwrap();
    let fresh = vault_core::store::put_vector(&mut tx, (row, &new), "m", 1, b"blob")
        .await
        .unwrap();
    assert!(!stale && fresh);
    tx.commit().await.unwrap();
}
