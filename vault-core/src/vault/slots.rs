//! Key slots of a locked vault: opening the master key, changing the
//! passphrase, identity slots, and rekeying.

use age::secrecy::SecretString;
use age::x25519;

use super::{UnlockedVault, Vault};
use crate::audit::AuditKeys;
use crate::error::{Error, Result};
use crate::guard::Guard;
use crate::keys::{self, MasterKey, Purpose, Unlock, WorkFactor};
use crate::records;
use crate::seal::{self, Sealer};
use crate::store::{self, ItemRow};

/// The three keys an unlocked vault works with: items, policy records, audit.
pub(super) struct Keys {
    pub items: Sealer,
    pub records: Sealer,
    pub audit: AuditKeys,
    pub vectors: Sealer,
    pub sync: Sealer,
}

impl Vault {
    /// The subkeys of `master` for this vault.
    pub(super) fn keys_of(&self, master: &MasterKey) -> Result<Keys> {
        Ok(Keys {
            items: Sealer::new(master.subkey(&self.vault_id, Purpose::Items)?),
            records: Sealer::new(master.subkey(&self.vault_id, Purpose::Records)?),
            audit: AuditKeys::new(
                Sealer::new(master.subkey(&self.vault_id, Purpose::Audit)?),
                master.subkey(&self.vault_id, Purpose::AuditMac)?,
                self.vault_id,
            ),
            vectors: Sealer::new(master.subkey(&self.vault_id, Purpose::Vectors)?),
            sync: Sealer::new(master.subkey(&self.vault_id, Purpose::Sync)?),
        })
    }

    /// The master key, opened from the first slot of the right kind that
    /// `how` opens.
    pub(super) async fn open_master(&self, how: &Unlock) -> Result<MasterKey> {
        let want = match how {
            Unlock::Passphrase(_) => "passphrase",
            Unlock::Identities(_) => "identity",
        };
        let mut last = match how {
            Unlock::Passphrase(_) => Error::WrongPassphrase,
            Unlock::Identities(_) => Error::IdentityNoMatch,
        };
        for slot in self.store.slots().await?.iter().filter(|s| s.kind == want) {
            match keys::unwrap_master(&slot.wrapped, how) {
                Ok(k) => return Ok(k),
                Err(e @ (Error::WrongPassphrase | Error::IdentityNoMatch)) => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// Change the passphrase: only the passphrase slot is rewritten.
    pub async fn change_passphrase(
        &self,
        old: &SecretString,
        new: &SecretString,
        wf: WorkFactor,
    ) -> Result<()> {
        keys::check_new_passphrase(new)?;
        let master = self.open_master(&Unlock::Passphrase(old.clone())).await?;
        let wrapped = master.wrap_passphrase(new, wf)?;
        let mut tx = self.store.begin().await?;
        if !store::set_passphrase_slot(&mut tx, &wrapped).await? {
            return Err(Error::Format("the vault has no passphrase slot".into()));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Add a key slot for each identity (the passphrase proves the right to).
    /// Returns the recipients added; identities that already have a slot are skipped.
    pub async fn add_identities(
        &self,
        passphrase: &SecretString,
        ids: &[x25519::Identity],
    ) -> Result<Vec<String>> {
        let master = self
            .open_master(&Unlock::Passphrase(passphrase.clone()))
            .await?;
        let have: Vec<String> = self
            .store
            .slots()
            .await?
            .into_iter()
            .map(|s| s.label)
            .collect();
        let mut tx = self.store.begin().await?;
        let mut added = Vec::new();
        for id in ids {
            let r = keys::recipient_of(id);
            let label = r.to_string();
            if have.contains(&label) || added.contains(&label) {
                continue;
            }
            store::insert_slot(&mut tx, "identity", &label, &master.wrap_identity(&r)?).await?;
            added.push(label);
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Remove the identity slot of `recipient` (`age1...`). Returns false
    /// when there is none.
    pub async fn remove_identity(&self, recipient: &str) -> Result<bool> {
        let mut tx = self.store.begin().await?;
        let removed = store::delete_identity_slot(&mut tx, recipient).await?;
        tx.commit().await?;
        Ok(removed)
    }

    /// The recipients of the identity slots.
    pub async fn identities(&self) -> Result<Vec<String>> {
        Ok(self
            .store
            .slots()
            .await?
            .into_iter()
            .filter(|s| s.kind == "identity")
            .map(|s| s.label)
            .collect())
    }

    /// Make a new master key and re-seal every item, policy record and audit
    /// entry under it, rewrapping every key slot, in one transaction: a kill
    /// at any moment leaves the vault under exactly one key, old or new.
    /// Returns the vault unlocked under the new key.
    pub async fn rekey(&self, passphrase: &SecretString, wf: WorkFactor) -> Result<UnlockedVault> {
        use futures_util::TryStreamExt;
        let old = self
            .open_master(&Unlock::Passphrase(passphrase.clone()))
            .await?;
        if self.store.sync_device().await?.is_some() {
            return Err(Error::Sync(
                "this vault syncs with other devices, which would not open anything sealed under a new key: rekey is refused; change the passphrase with `ctxvault passwd` instead".into(),
            ));
        }
        let new = MasterKey::generate()?;
        let old_keys = self.keys_of(&old)?;
        let new_keys = self.keys_of(&new)?;
        drop(old);
        let slots = self.store.slots().await?;
        let mut tx = self.store.begin().await?;
        // Items, in rowid order.
        let rows: Vec<ItemRow> = self.store.stream().try_collect().await?;
        for r in &rows {
            let aad = seal::item_aad(&self.vault_id, &r.id, r.version);
            let plain = old_keys
                .items
                .open(&aad, &r.sealed)
                .map_err(|_| Error::Integrity(r.id))?;
            store::reseal_item(&mut tx, r.rowid, &new_keys.items.seal(&aad, &plain)?).await?;
        }
        drop(rows);
        // Vectors, of every model and version (blobs that no longer open
        // are dropped: they would be made again).
        for v in self.store.all_vectors().await? {
            let aad = seal::vector_aad(&self.vault_id, &v.id, v.version, &v.model);
            match old_keys.vectors.open(&aad, &v.sealed) {
                Ok(plain) => {
                    let sealed = new_keys.vectors.seal(&aad, &plain)?;
                    store::reseal_vector(&mut tx, v.item, &v.model, &sealed).await?;
                }
                Err(_) => store::delete_vector(&mut tx, v.item, &v.model).await?,
            }
        }
        for (id, sealed) in self.store.records().await? {
            let resealed = records::reseal_record(
                &old_keys.records,
                &new_keys.records,
                &self.vault_id,
                id,
                &sealed,
            )?;
            store::put_record(&mut tx, &id, &resealed).await?;
        }
        old_keys.audit.reseal_into(&mut tx, &new_keys.audit).await?;
        store::delete_all_slots(&mut tx).await?;
        for s in &slots {
            let wrapped = if s.kind == "passphrase" {
                new.wrap_passphrase(passphrase, wf)?
            } else {
                let r: x25519::Recipient = s.label.parse().map_err(|_| {
                    Error::Format(format!("identity slot {} has no valid recipient", s.id))
                })?;
                new.wrap_identity(&r)?
            };
            store::insert_slot(&mut tx, &s.kind, &s.label, &wrapped).await?;
        }
        let generation = tx.commit().await?;
        // The guard's MAC is under the audit key: write it under the new one.
        let (guard, _) = Guard::open(&self.dir, &new_keys.audit, generation)?;
        guard.record(&new_keys.audit, generation);
        drop((old_keys, new_keys));
        self.unlock_with(new).await
    }
}
