//! The audit log of an unlocked vault: the group commit of read entries,
//! and the log's reads and check. Entries of writes are appended by the
//! change-set path in the write's own transaction.

use super::UnlockedVault;
use crate::audit::{AuditEntry, AuditRecord, AuditReport, SignedHead};
use crate::error::{Error, Result};
use crate::store::Durability;

/// An audit entry waiting for a group commit, and who waits for its `seq`.
pub(super) type PendingAudit = (AuditEntry, tokio::sync::oneshot::Sender<Result<u64>>);

impl UnlockedVault {
    /// Append one audit entry (for reads); returns its position once it is
    /// committed.
    ///
    /// Group commit: entries from concurrent callers queue up; whichever
    /// caller next holds the writer lock writes every queued entry in one
    /// transaction and answers the others. A caller whose entry
    /// a leader already wrote returns without taking the lock. If the batch
    /// fails, every caller in it gets an error, so no read is answered
    /// without its entry on record.
    pub async fn record_audit(&self, entry: &AuditEntry) -> Result<u64> {
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        self.audit_queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((entry.clone(), tx));
        let lost = || Error::Crypto("the audit writer stopped before recording the entry");
        let w = tokio::select! {
            biased;
            done = &mut rx => return done.map_err(|_| lost())?,
            w = self.writer.lock() => w,
        };
        if let Ok(done) = rx.try_recv() {
            return done;
        }
        let batch =
            std::mem::take(&mut *self.audit_queue.lock().unwrap_or_else(|p| p.into_inner()));
        let written = async {
            // Synced at least once a second (see below).
            let durability = if self.synced_lately() {
                Durability::Process
            } else {
                Durability::Disk
            };
            let mut t = self.store.begin_to(durability).await?;
            let mut seqs = Vec::with_capacity(batch.len());
            for (e, _) in &batch {
                seqs.push(self.audit.append(&mut t, e).await?);
            }
            // Unsynced, the entries are in the write-ahead log: an answered
            // read is on record even if the agent is killed, and only a
            // power loss can take those since the last synced commit (at
            // most a second's). The rollback guard moves only when synced:
            // it may record only what is on disk.
            let generation = t.commit().await?;
            if durability == Durability::Disk {
                self.synced(generation);
            }
            Ok::<_, Error>(seqs)
        }
        .await;
        drop(w);
        match written {
            Ok(seqs) => {
                for ((_, waiter), seq) in batch.into_iter().zip(seqs) {
                    let _ = waiter.send(Ok(seq));
                }
            }
            Err(e) => {
                tracing::error!("audit batch failed: {e}");
                let msg = e.to_string();
                for (_, waiter) in batch {
                    let _ = waiter.send(Err(match &e {
                        Error::AuditBroken(m) => Error::AuditBroken(m.clone()),
                        _ => Error::Format(format!("the audit entry was not recorded: {msg}")),
                    }));
                }
            }
        }
        rx.await.map_err(|_| lost())?
    }

    /// Every audit entry, in order.
    pub async fn audit_entries(&self) -> Result<Vec<AuditRecord>> {
        let mut conn = self.store.pool().acquire().await?;
        self.audit.entries(&mut conn).await
    }

    /// Every entry that opens and the chain's check, in one pass.
    pub async fn audit_scan(&self) -> Result<crate::audit::AuditScan> {
        let mut conn = self.store.pool().acquire().await?;
        self.audit.scan(&mut conn, true).await
    }

    /// Check the audit chain and its head.
    pub async fn audit_verify(&self) -> Result<AuditReport> {
        let mut conn = self.store.pool().acquire().await?;
        self.audit.verify(&mut conn).await
    }

    /// The signed head of the log, to keep outside the vault. Every entry
    /// it covers is synced to disk first, so a power loss cannot leave the
    /// log behind a head already handed out.
    pub async fn audit_head(&self) -> Result<SignedHead> {
        {
            let _w = self.writer.lock().await;
            let t = self.store.begin().await?;
            self.finish(t).await?;
        }
        let mut conn = self.store.pool().acquire().await?;
        self.audit.export_head(&mut conn).await
    }

    /// Check the chain and that it still holds what `head` recorded.
    pub async fn audit_verify_against(&self, head: &SignedHead) -> Result<AuditReport> {
        let mut conn = self.store.pool().acquire().await?;
        self.audit.verify_against(&mut conn, head).await
    }
}
