//! The sync log's storage formats, version 1: operations, segments and a
//! device's keys file. These are what the remote holds; nothing in them is
//! readable without the vault key.
//!
//! # Format
//! - An operation: `id (16) || clock (u64 BE) || entity (16) || parents
//!   (u16 BE count, 16 bytes each) || body`. A body is a tag byte: `1` an
//!   item state (`version u64 || created_at i64 || updated_at i64 || u32
//!   length || the item's sealed blob as the vault stores it`), `2` an item
//!   removed, `3` a record state (`u32 length || sealed record`), `4` a
//!   record removed, `5` an entry of the device's audit chain (`seq u64 ||
//!   u32 length || the entry sealed as in the chain`; its entity is nil).
//! - A segment's plaintext: `"CVSEG1" || seq (u64) || previous segment's
//!   SHA-256 (32, zeros for the first) || u32 count || operations`, sealed
//!   under the sync subkey with associated data `"ctxvault/sync-segment/v1"
//!   || vault_id || device || seq`: a segment moved to another device or
//!   position, cut short or altered fails to open.
//! - A keys file: `"CVKEYS1" || u16 count || (u32 length || age file)* ||
//!   seal of the slots' kinds and labels (JSON)`, the seal's associated data
//!   binding vault, device and the SHA-256 of everything before it. The age
//!   files are the vault's key slots, sealed as they are in the vault.

use uuid::Uuid;

use crate::error::{Error, Result};
use crate::seal::Sealer;

const SEGMENT_MAGIC: &[u8] = b"CVSEG1";
const KEYS_MAGIC: &[u8] = b"CVKEYS1";
/// Most operations one segment holds.
pub const MAX_SEGMENT_OPS: usize = 4096;
/// Most bytes a remote file may have before it is refused unread.
pub const MAX_FILE: u64 = 256 << 20;

/// What an operation leaves its item or record as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// An item's state, sealed as the vault stores it.
    Item {
        /// Version, from 1.
        version: u64,
        /// Creation time, unix microseconds.
        created_at: i64,
        /// Last change, unix microseconds.
        updated_at: i64,
        /// The sealed item.
        sealed: Vec<u8>,
    },
    /// The item was removed.
    ItemGone,
    /// A policy record's state, sealed as the vault stores it.
    Record(Vec<u8>),
    /// The record was removed.
    RecordGone,
    /// An entry of the device's own audit chain (`seq` in it), sealed as
    /// there; not merged, only kept for `audit --devices`.
    Audit {
        /// Its place in the device's chain.
        seq: u64,
        /// The sealed entry.
        sealed: Vec<u8>,
    },
}

impl Body {
    /// True for the states of items (present or removed).
    pub fn is_item(&self) -> bool {
        matches!(self, Body::Item { .. } | Body::ItemGone)
    }

    /// True for a removal.
    pub fn is_gone(&self) -> bool {
        matches!(self, Body::ItemGone | Body::RecordGone)
    }

    /// The body's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Body::Item {
                version,
                created_at,
                updated_at,
                sealed,
            } => {
                out.push(1);
                out.extend_from_slice(&version.to_be_bytes());
                out.extend_from_slice(&created_at.to_be_bytes());
                out.extend_from_slice(&updated_at.to_be_bytes());
                put_bytes(out, sealed);
            }
            Body::ItemGone => out.push(2),
            Body::Record(sealed) => {
                out.push(3);
                put_bytes(out, sealed);
            }
            Body::RecordGone => out.push(4),
            Body::Audit { seq, sealed } => {
                out.push(5);
                out.extend_from_slice(&seq.to_be_bytes());
                put_bytes(out, sealed);
            }
        }
    }

    /// Read a body's bytes.
    pub fn decode(bytes: &[u8]) -> Result<Body> {
        let mut r = Reader(bytes);
        let b = Body::read(&mut r)?;
        r.end()?;
        Ok(b)
    }

    fn read(r: &mut Reader<'_>) -> Result<Body> {
        Ok(match r.u8()? {
            1 => Body::Item {
                version: r.u64()?,
                created_at: r.u64()? as i64,
                updated_at: r.u64()? as i64,
                sealed: r.bytes()?,
            },
            2 => Body::ItemGone,
            3 => Body::Record(r.bytes()?),
            4 => Body::RecordGone,
            5 => Body::Audit {
                seq: r.u64()?,
                sealed: r.bytes()?,
            },
            t => return Err(bad(format!("unknown operation body {t}"))),
        })
    }
}

/// One change in the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    /// The operation's id (a UUIDv7).
    pub id: Uuid,
    /// Its hybrid logical clock: unix microseconds, raised past every clock
    /// its device had seen.
    pub clock: u64,
    /// The item or record it changes.
    pub entity: Uuid,
    /// The operations whose state it was made on (none for a new entity;
    /// several when it resolves a conflict).
    pub parents: Vec<Uuid>,
    /// The state it leaves.
    pub body: Body,
}

impl Op {
    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.id.as_bytes());
        out.extend_from_slice(&self.clock.to_be_bytes());
        out.extend_from_slice(self.entity.as_bytes());
        out.extend_from_slice(&(self.parents.len() as u16).to_be_bytes());
        for p in &self.parents {
            out.extend_from_slice(p.as_bytes());
        }
        self.body.encode_into(out);
    }

    fn read(r: &mut Reader<'_>) -> Result<Op> {
        let id = r.uuid()?;
        let clock = r.u64()?;
        let entity = r.uuid()?;
        let n = r.u16()? as usize;
        let mut parents = Vec::with_capacity(n.min(64));
        for _ in 0..n {
            parents.push(r.uuid()?);
        }
        Ok(Op {
            id,
            clock,
            entity,
            parents,
            body: Body::read(r)?,
        })
    }
}

/// A segment's contents once opened.
#[derive(Debug)]
pub struct Segment {
    /// Its place in its device's log, from 1.
    pub seq: u64,
    /// The SHA-256 of the device's segment before it (zeros for the first).
    pub prev: [u8; 32],
    /// Its operations, in clock order.
    pub ops: Vec<Op>,
}

fn segment_aad(vault_id: &[u8; 16], device: &Uuid, seq: u64) -> Vec<u8> {
    let mut a = b"ctxvault/sync-segment/v1".to_vec();
    a.extend_from_slice(vault_id);
    a.extend_from_slice(device.as_bytes());
    a.extend_from_slice(&seq.to_be_bytes());
    a
}

/// The SHA-256 of a file's bytes (what the next segment chains to).
pub fn hash(bytes: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut h = [0u8; 32];
    h.copy_from_slice(d.as_ref());
    h
}

impl Segment {
    /// Seal the segment as `device`'s.
    pub fn seal(&self, sealer: &Sealer, vault_id: &[u8; 16], device: &Uuid) -> Result<Vec<u8>> {
        let mut plain = zeroize::Zeroizing::new(Vec::new());
        plain.extend_from_slice(SEGMENT_MAGIC);
        plain.extend_from_slice(&self.seq.to_be_bytes());
        plain.extend_from_slice(&self.prev);
        plain.extend_from_slice(&(self.ops.len() as u32).to_be_bytes());
        for op in &self.ops {
            op.encode_into(&mut plain);
        }
        sealer.seal(&segment_aad(vault_id, device, self.seq), &plain)
    }

    /// Open segment `seq` of `device`. `None` when it does not authenticate
    /// (altered, cut short, moved from another place or device, or another
    /// vault's).
    pub fn open(
        sealer: &Sealer,
        vault_id: &[u8; 16],
        device: &Uuid,
        seq: u64,
        bytes: &[u8],
    ) -> Result<Option<Segment>> {
        let Ok(plain) = sealer.open(&segment_aad(vault_id, device, seq), bytes) else {
            return Ok(None);
        };
        let mut r = Reader(&plain);
        if r.take(SEGMENT_MAGIC.len())? != SEGMENT_MAGIC {
            return Err(bad("not a segment".into()));
        }
        let at = r.u64()?;
        if at != seq {
            return Err(bad(format!("segment {seq} says it is {at}")));
        }
        let mut prev = [0u8; 32];
        prev.copy_from_slice(r.take(32)?);
        let n = r.u32()? as usize;
        let mut ops = Vec::with_capacity(n.min(MAX_SEGMENT_OPS));
        for _ in 0..n {
            ops.push(Op::read(&mut r)?);
        }
        r.end()?;
        Ok(Some(Segment { seq, prev, ops }))
    }
}

fn keys_aad(vault_id: &[u8; 16], device: &Uuid, digest: &[u8; 32]) -> Vec<u8> {
    let mut a = b"ctxvault/sync-keys/v1".to_vec();
    a.extend_from_slice(vault_id);
    a.extend_from_slice(device.as_bytes());
    a.extend_from_slice(digest);
    a
}

/// A key slot as a keys file carries it: kind, label and the age file.
pub type SlotEntry = (String, String, Vec<u8>);

/// A device's keys file: the vault's key slots, the kinds and labels of
/// which are sealed with the file's authentication.
pub fn seal_keys(
    sealer: &Sealer,
    vault_id: &[u8; 16],
    device: &Uuid,
    slots: &[SlotEntry],
) -> Result<Vec<u8>> {
    let mut out = KEYS_MAGIC.to_vec();
    out.extend_from_slice(&(slots.len() as u16).to_be_bytes());
    for (_, _, wrapped) in slots {
        put_bytes(&mut out, wrapped);
    }
    let names: Vec<(&str, &str)> = slots
        .iter()
        .map(|(k, l, _)| (k.as_str(), l.as_str()))
        .collect();
    let names = serde_json::to_vec(&names).map_err(|e| bad(e.to_string()))?;
    let seal = sealer.seal(&keys_aad(vault_id, device, &hash(&out)), &names)?;
    out.extend_from_slice(&seal);
    Ok(out)
}

/// The age files of a keys file, unchecked (the master key one of them
/// unwraps is needed to check the file: see [`open_keys`]).
pub fn keys_slots(bytes: &[u8]) -> Result<Vec<Vec<u8>>> {
    Ok(split_keys(bytes)?.0)
}

/// A keys file's age files, the bytes they are in, and the seal after them.
type KeysParts<'a> = (Vec<Vec<u8>>, &'a [u8], &'a [u8]);

fn split_keys(bytes: &[u8]) -> Result<KeysParts<'_>> {
    let mut r = Reader(bytes);
    if r.take(KEYS_MAGIC.len()).ok() != Some(KEYS_MAGIC) {
        return Err(bad("not a ctxvault keys file".into()));
    }
    let n = r.u16()? as usize;
    let mut slots = Vec::with_capacity(n.min(16));
    for _ in 0..n {
        slots.push(r.bytes()?);
    }
    let (body, seal) = bytes.split_at(bytes.len() - r.0.len());
    Ok((slots, body, seal))
}

/// The key slots of `device`'s keys file, if it authenticates under
/// `sealer`.
pub fn open_keys(
    sealer: &Sealer,
    vault_id: &[u8; 16],
    device: &Uuid,
    bytes: &[u8],
) -> Option<Vec<SlotEntry>> {
    let (slots, body, seal) = split_keys(bytes).ok()?;
    let names = sealer
        .open(&keys_aad(vault_id, device, &hash(body)), seal)
        .ok()?;
    let names: Vec<(String, String)> = serde_json::from_slice(&names).ok()?;
    if names.len() != slots.len() {
        return None;
    }
    Some(
        names
            .into_iter()
            .zip(slots)
            .map(|((k, l), w)| (k, l, w))
            .collect(),
    )
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

fn bad(reason: String) -> Error {
    Error::Format(format!("sync log: {reason}"))
}

/// A cursor over a byte string that fails cleanly at its end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(bad("record cut short".into()));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_be_bytes(a))
    }
    fn u64(&mut self) -> Result<u64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(a))
    }
    fn uuid(&mut self) -> Result<Uuid> {
        let mut a = [0u8; 16];
        a.copy_from_slice(self.take(16)?);
        Ok(Uuid::from_bytes(a))
    }
    fn bytes(&mut self) -> Result<Vec<u8>> {
        let n = self.u32()? as usize;
        Ok(self.take(n)?.to_vec())
    }
    fn end(&self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(bad("trailing bytes".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{MasterKey, Purpose};

    fn sealer() -> Sealer {
        let m = MasterKey::from_bytes([7; 32]);
        Sealer::new(m.subkey(&[1; 16], Purpose::Sync).unwrap())
    }

    #[test]
    fn a_segment_opens_only_where_it_was_sealed() {
        let s = sealer();
        let dev = Uuid::now_v7();
        let seg = Segment {
            seq: 3,
            prev: [9; 32],
            ops: vec![Op {
                id: Uuid::now_v7(),
                clock: 42,
                entity: Uuid::now_v7(),
                parents: vec![Uuid::now_v7()],
                body: Body::Item {
                    version: 2,
                    created_at: 1,
                    updated_at: 5,
                    sealed: vec![1, 2, 3],
                },
            }],
        };
        let bytes = seg.seal(&s, &[1; 16], &dev).unwrap();
        let back = Segment::open(&s, &[1; 16], &dev, 3, &bytes)
            .unwrap()
            .unwrap();
        assert_eq!(back.ops, seg.ops);
        assert_eq!(back.prev, seg.prev);
        assert!(
            Segment::open(&s, &[1; 16], &dev, 4, &bytes)
                .unwrap()
                .is_none()
        );
        assert!(
            Segment::open(&s, &[1; 16], &Uuid::now_v7(), 3, &bytes)
                .unwrap()
                .is_none()
        );
        assert!(
            Segment::open(&s, &[2; 16], &dev, 3, &bytes)
                .unwrap()
                .is_none()
        );
        let mut flipped = bytes.clone();
        flipped[20] ^= 1;
        assert!(
            Segment::open(&s, &[1; 16], &dev, 3, &flipped)
                .unwrap()
                .is_none()
        );
        assert!(
            Segment::open(&s, &[1; 16], &dev, 3, &bytes[..bytes.len() - 1])
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_keys_file_is_checked_whole() {
        let s = sealer();
        let dev = Uuid::now_v7();
        let slots = vec![
            ("passphrase".to_owned(), String::new(), vec![5; 40]),
            ("identity".to_owned(), "age1x".to_owned(), vec![6; 10]),
        ];
        let f = seal_keys(&s, &[1; 16], &dev, &slots).unwrap();
        assert_eq!(keys_slots(&f).unwrap(), vec![vec![5; 40], vec![6; 10]]);
        assert_eq!(open_keys(&s, &[1; 16], &dev, &f).unwrap(), slots);
        assert!(open_keys(&s, &[1; 16], &Uuid::now_v7(), &f).is_none());
        assert!(!f.windows(5).any(|w| w == b"age1x"), "labels are sealed");
        let mut g = f.clone();
        g[12] ^= 1;
        assert!(open_keys(&s, &[1; 16], &dev, &g).is_none());
        assert!(keys_slots(b"hello").is_err());
    }

    #[test]
    fn bodies_round_trip_and_junk_is_refused() {
        for b in [
            Body::ItemGone,
            Body::RecordGone,
            Body::Record(vec![1; 9]),
            Body::Item {
                version: 1,
                created_at: -3,
                updated_at: 7,
                sealed: vec![],
            },
        ] {
            assert_eq!(Body::decode(&b.encode()).unwrap(), b);
        }
        assert!(Body::decode(&[9]).is_err());
        assert!(Body::decode(&[1, 0]).is_err());
        assert!(Body::decode(&[2, 0]).is_err());
    }
}
