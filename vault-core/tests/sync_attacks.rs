//! The storage is untrusted: each thing it can do to a device's log (drop,
//! cut, alter, replace, swap, replay, roll back) is detected and named, the
//! device's changes stop being applied, and nothing of the vault changes
//! until the user decides.

#![allow(missing_docs, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use vault_core::keys::{self, WorkFactor};
use vault_core::sync::driver;
use vault_core::sync::remote::{Folder, segment_path};
use vault_core::{ItemFilter, NewItem, Unlock, UnlockedVault, Vault};

/// A segment missing before later ones is named at once (no wait for a
/// file-sync engine).
const GRACE: std::time::Duration = std::time::Duration::ZERO;

fn note(body: &str) -> NewItem {
    NewItem {
        namespace: "notes".parse().unwrap(),
        kind: Default::default(),
        title: None,
        body: body.into(),
        tags: Vec::new(),
        sensitivity: Default::default(),
        source: vault_core::item::Source::user(),
    }
}

struct Setup {
    _t: tempfile::TempDir,
    root: PathBuf,
    remote: Folder,
    /// The writer, the reader, and a third device.
    a: UnlockedVault,
    b: UnlockedVault,
    c: UnlockedVault,
}

impl Setup {
    fn seg(&self, v: &UnlockedVault, seq: u64) -> PathBuf {
        self.root
            .join("remote")
            .join(segment_path(&v.sync_device().unwrap(), seq))
    }
}

/// Device a writes five segments (one item each); b reads the first two;
/// c writes three of its own.
async fn setup() -> Setup {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().to_owned();
    std::fs::create_dir(root.join("remote")).unwrap();
    let remote = Folder::new(&root.join("remote"));
    let a = Vault::create(
        &root.join("a"),
        &keys::passphrase("pw"),
        WorkFactor::MIN,
        &[],
    )
    .await
    .unwrap();
    driver::prepare(&remote, &a.vault_id()).await.unwrap();
    a.sync_enable("folder").await.unwrap();
    let mut join = Vec::new();
    for name in ["b", "c"] {
        driver::sync_now(&a, &remote, true, GRACE).await.unwrap();
        let (id, keys) = driver::keys_of(&remote).await.unwrap();
        let how = Unlock::Passphrase(keys::passphrase("pw"));
        join.push(
            Vault::join(&root.join(name), id, &keys, &how, "folder")
                .await
                .unwrap(),
        );
    }
    let (b, c) = {
        let mut it = join.into_iter();
        (it.next().unwrap(), it.next().unwrap())
    };
    for k in 0..3 {
        c.add(note(&format!("from c {k}"))).await.unwrap();
        driver::sync_now(&c, &remote, true, GRACE).await.unwrap();
    }
    driver::sync_now(&b, &remote, true, GRACE).await.unwrap();
    for k in 0..2 {
        a.add(note(&format!("from a {k}"))).await.unwrap();
        driver::sync_now(&a, &remote, true, GRACE).await.unwrap();
    }
    driver::sync_now(&b, &remote, true, GRACE).await.unwrap();
    for k in 2..5 {
        a.add(note(&format!("from a {k}"))).await.unwrap();
        driver::sync_now(&a, &remote, true, GRACE).await.unwrap();
    }
    Setup {
        _t: t,
        root,
        remote,
        a,
        b,
        c,
    }
}

async fn bodies(v: &UnlockedVault) -> Vec<String> {
    let mut b: Vec<String> = v
        .list(&ItemFilter::default())
        .await
        .unwrap()
        .iter()
        .map(|i| i.body.clone())
        .collect();
    b.sort();
    b
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Run `attack` after setup; b's next sync must name `expect` for device a,
/// apply a's segments before the one attacked (`good`: their items) and
/// nothing after, and keep applying c.
async fn detected(attack: impl FnOnce(&Setup), expect: &str, good: &[&str]) {
    let s = setup().await;
    let before = bodies(&s.b).await;
    let a_first: u64 = s.a.sync_state().await.unwrap().pending;
    assert_eq!(a_first, 0);
    attack(&s);
    s.c.add(note("from c, after")).await.unwrap();
    driver::sync_now(&s.c, &s.remote, true, GRACE)
        .await
        .unwrap();
    let r = driver::sync_now(&s.b, &s.remote, true, GRACE)
        .await
        .unwrap();
    let short = vault_core::sync::short(&s.a.sync_device().unwrap());
    assert_eq!(r.problems.len(), 1, "{expect}: {:?}", r.problems);
    let p = &r.problems[0];
    assert!(
        p.contains(&short) && p.contains(expect),
        "{expect}: got {p}"
    );
    let after = bodies(&s.b).await;
    let mut want = before.clone();
    want.push("from c, after".into());
    want.extend(good.iter().map(|g| g.to_string()));
    want.sort();
    assert_eq!(after, want, "{expect}: only c's change is applied");
    let st = s.b.sync_state().await.unwrap();
    assert_eq!(st.blocked.len(), 1);
    assert_eq!(st.blocked[0].0, s.a.sync_device().unwrap());
    // Blocked: a second sync does not apply a's log either.
    driver::sync_now(&s.b, &s.remote, true, GRACE)
        .await
        .unwrap();
    assert_eq!(bodies(&s.b).await, want);
}

#[tokio::test]
async fn a_deleted_segment_is_named() {
    detected(
        |s| std::fs::remove_file(s.seg(&s.a, 4)).unwrap(),
        "no segment 4",
        &["from a 2"],
    )
    .await;
}

#[tokio::test]
async fn a_truncated_segment_is_named() {
    detected(
        |s| {
            let p = s.seg(&s.a, 3);
            let b = std::fs::read(&p).unwrap();
            std::fs::write(&p, &b[..b.len() - 7]).unwrap();
        },
        "segment 3 that fails authentication",
        &[],
    )
    .await;
}

#[tokio::test]
async fn a_bit_flipped_segment_is_named() {
    detected(
        |s| {
            let p = s.seg(&s.a, 3);
            let mut b = std::fs::read(&p).unwrap();
            b[40] ^= 0x10;
            std::fs::write(&p, &b).unwrap();
        },
        "segment 3 that fails authentication",
        &[],
    )
    .await;
}

#[tokio::test]
async fn a_segment_replaced_by_an_older_one_is_named() {
    detected(
        |s| {
            std::fs::copy(s.seg(&s.a, 2), s.seg(&s.a, 3)).unwrap();
        },
        "segment 3 that fails authentication",
        &[],
    )
    .await;
}

#[tokio::test]
async fn a_segment_read_before_and_then_replaced_is_named() {
    detected(
        |s| {
            std::fs::copy(s.seg(&s.a, 1), s.seg(&s.a, 2)).unwrap();
        },
        "segment 2 that was replaced after it was read",
        &[],
    )
    .await;
}

#[tokio::test]
async fn a_segment_swapped_with_another_devices_is_named() {
    detected(
        |s| {
            std::fs::copy(s.seg(&s.c, 3), s.seg(&s.a, 3)).unwrap();
        },
        "segment 3 that fails authentication",
        &[],
    )
    .await;
}

#[tokio::test]
async fn a_replayed_segment_is_named() {
    detected(
        |s| {
            std::fs::copy(s.seg(&s.a, 2), s.seg(&s.a, 6)).unwrap();
        },
        "segment 6 that fails authentication",
        &["from a 2", "from a 3", "from a 4"],
    )
    .await;
}

#[tokio::test]
async fn a_device_directory_rolled_back_is_named() {
    let s = setup().await;
    let dir = s.seg(&s.a, 1).parent().unwrap().to_owned();
    let copy = s.root.join("copy");
    // b reads all five of a's segments; then a's directory goes back to
    // an earlier copy holding three.
    copy_dir(&dir, &copy);
    for seq in 4..=5 {
        std::fs::remove_file(copy.join(s.seg(&s.a, seq).file_name().unwrap())).unwrap();
    }
    driver::sync_now(&s.b, &s.remote, true, GRACE)
        .await
        .unwrap();
    let before = bodies(&s.b).await;
    std::fs::remove_dir_all(&dir).unwrap();
    copy_dir(&copy, &dir);
    let r = driver::sync_now(&s.b, &s.remote, true, GRACE)
        .await
        .unwrap();
    assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
    assert!(
        r.problems[0].contains("ends at segment 3 though segment 5 was read")
            && r.problems[0].contains("rolled back"),
        "{}",
        r.problems[0]
    );
    assert_eq!(bodies(&s.b).await, before);
    // The user decides: the segments are put back, the device unblocked,
    // and sync goes on.
    for seq in 4..=5 {
        std::fs::remove_file(s.seg(&s.a, seq)).ok();
    }
    assert!(
        s.b.sync_unblock(&s.a.sync_device().unwrap(), true)
            .await
            .unwrap()
    );
    let r = driver::sync_now(&s.b, &s.remote, true, GRACE)
        .await
        .unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(bodies(&s.b).await, before);
}

#[tokio::test]
async fn a_segment_not_arrived_yet_is_waited_for_within_the_grace() {
    let s = setup().await;
    let before = bodies(&s.b).await;
    // Segment 4 has not arrived (engines copy files in any order); 5 has.
    let four = s.seg(&s.a, 4);
    let aside = s.root.join("aside");
    std::fs::rename(&four, &aside).unwrap();
    let hour = std::time::Duration::from_secs(3600);
    let r = driver::sync_now(&s.b, &s.remote, true, hour).await.unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let mut want = before.clone();
    want.push("from a 2".into());
    want.sort();
    assert_eq!(bodies(&s.b).await, want, "the run before the gap applies");
    assert!(s.b.sync_state().await.unwrap().blocked.is_empty());
    std::fs::rename(&aside, &four).unwrap();
    let r = driver::sync_now(&s.b, &s.remote, true, hour).await.unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(bodies(&s.b).await.len(), before.len() + 3);
}

#[tokio::test]
async fn a_folder_not_mounted_is_never_written_into() {
    let s = setup().await;
    // The folder's contents go away (an unmounted mount point, a replica
    // not filled yet): a round writes nothing there and keeps its change.
    let real = s.root.join("remote");
    let away = s.root.join("remote-away");
    std::fs::rename(&real, &away).unwrap();
    std::fs::create_dir(&real).unwrap();
    s.a.add(note("while away")).await.unwrap();
    let err = driver::sync_now(&s.a, &s.remote, true, GRACE)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("is the folder mounted"), "{err}");
    assert_eq!(
        std::fs::read_dir(&real).unwrap().count(),
        0,
        "nothing written"
    );
    std::fs::remove_dir(&real).unwrap();
    std::fs::rename(&away, &real).unwrap();
    driver::sync_now(&s.a, &s.remote, true, GRACE)
        .await
        .unwrap();
    let r = driver::sync_now(&s.b, &s.remote, true, GRACE)
        .await
        .unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert!(bodies(&s.b).await.contains(&"while away".to_owned()));
}
