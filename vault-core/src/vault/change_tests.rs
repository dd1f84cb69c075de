//! An action and its audit entry commit together: with the failpoint
//! between the writes and the commit, neither persists, in the database or
//! in the catalog; without it, both do.

use chrono::Utc;

use super::FAIL_BEFORE_COMMIT;
use crate::audit::AuditEntry;
use crate::keys::{WorkFactor, passphrase};
use crate::vault::{RecordChange, Vault};
use crate::{ItemFilter, NewItem, Unlock};

fn entry(action: &str) -> AuditEntry {
    AuditEntry {
        time: Utc::now(),
        client: Some("claude".into()),
        action: action.into(),
        query: None,
        ids: Vec::new(),
        grants: Vec::new(),
        detail: None,
        tool: None,
        door: None,
        provider: None,
        aspect: None,
    }
}

fn note(body: &str) -> NewItem {
    NewItem {
        namespace: "notes".parse().expect("namespace"),
        kind: Default::default(),
        title: None,
        body: body.into(),
        tags: Vec::new(),
        sensitivity: Default::default(),
        source: crate::item::Source::user(),
    }
}

#[tokio::test]
async fn a_write_and_its_audit_entry_commit_together_or_not_at_all() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vdir = dir.path().join("v");
    let pass = passphrase("pw");
    let v = Vault::create(&vdir, &pass, WorkFactor::MIN, &[])
        .await
        .expect("create");

    FAIL_BEFORE_COMMIT.with(|f| f.set(true));
    let failed = v
        .add_with(
            note("never stored"),
            RecordChange {
                audit: Some(entry("remember")),
                ..Default::default()
            },
        )
        .await;
    assert!(failed.is_err());
    let failed = v
        .commit(RecordChange {
            audit: Some(entry("grant")),
            ..Default::default()
        })
        .await;
    assert!(failed.is_err());
    // Nothing in the catalog, nothing in the log.
    assert!(
        v.list(&ItemFilter::default())
            .await
            .expect("list")
            .is_empty()
    );
    assert!(v.audit_entries().await.expect("audit").is_empty());

    FAIL_BEFORE_COMMIT.with(|f| f.set(false));
    v.add_with(
        note("stored"),
        RecordChange {
            audit: Some(entry("remember")),
            ..Default::default()
        },
    )
    .await
    .expect("add");
    drop(v);

    // After reopening: exactly the committed write and its one entry.
    let reopened = Vault::open(&vdir)
        .await
        .expect("open")
        .unlock(&Unlock::Passphrase(pass))
        .await
        .expect("unlock");
    let items = reopened.list(&ItemFilter::default()).await.expect("list");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].body, "stored");
    let log = reopened.audit_entries().await.expect("audit");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].entry.ids, vec![items[0].id]);
    assert!(
        reopened
            .audit_verify()
            .await
            .expect("verify")
            .problem
            .is_none()
    );
}
