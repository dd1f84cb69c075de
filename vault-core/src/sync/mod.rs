//! Sync across devices: the log's formats, the merge rule and the checks
//! made of what a remote lists. The vault's side (recording operations on
//! the change-set path, applying other devices' segments, conflicts) is in
//! `vault::sync`; remotes and the driver are the agent's.
//!
//! # Model
//! Every change of an item or policy record is an operation naming the
//! operations it was made on (its parents). The operations of one entity
//! form a graph; its leaves are the versions no device has built on. The
//! vault holds the state of one leaf, the winner, chosen the same way on
//! every device from the leaves alone (so devices that know the same
//! operations hold the same state, whatever order they learnt them in):
//! for grants, clients, connectors and routes a removal beats a concurrent
//! change (a revoke wins); for deny rules, aspects and retention rules a
//! present record beats a concurrent removal; otherwise, and among equals,
//! the highest clock, then device id, then operation id. The other leaves
//! of an item are its conflicts, kept until the user resolves them.

pub mod driver;
pub mod format;
pub mod remote;

use uuid::Uuid;

use crate::records::PolicyRecord;
use crate::store::sync::SeenRow;

pub use format::{Body, Op, Segment};

/// Which of concurrent versions of a record is the safe one to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prefer {
    /// The latest by clock.
    Latest,
    /// A removal (a revoke), then the latest.
    Removal,
    /// A present record (a deny rule), then the latest.
    Presence,
}

/// The merge rule for a record of this kind.
pub fn prefer_of(r: &PolicyRecord) -> Prefer {
    match r {
        PolicyRecord::Grant(_)
        | PolicyRecord::Client(_)
        | PolicyRecord::Connector(_)
        | PolicyRecord::Route(_) => Prefer::Removal,
        PolicyRecord::Deny(_)
        | PolicyRecord::Aspect(_)
        | PolicyRecord::AspectUse(_)
        | PolicyRecord::Retention(_) => Prefer::Presence,
        PolicyRecord::Pending(_) | PolicyRecord::Provider(_) => Prefer::Latest,
    }
}

/// A leaf, as the merge rule sees it.
#[derive(Clone, Copy, Debug)]
pub struct Leaf {
    /// The operation.
    pub op: Uuid,
    /// Its clock.
    pub clock: u64,
    /// Its device.
    pub device: Uuid,
    /// It removes the entity.
    pub gone: bool,
}

/// The index of the winning leaf (`None` for no leaves).
pub fn winner(leaves: &[Leaf], prefer: Prefer) -> Option<usize> {
    let rank = |l: &Leaf| {
        let first = match prefer {
            Prefer::Latest => 0,
            Prefer::Removal => u8::from(l.gone),
            Prefer::Presence => u8::from(!l.gone),
        };
        (first, l.clock, l.device, l.op)
    };
    (0..leaves.len()).max_by_key(|&i| rank(&leaves[i]))
}

/// A file of a device's log, as the remote lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// Its segment number.
    pub seq: u64,
    /// Its size in bytes.
    pub size: u64,
    /// The remote's stamp of it (modification time or entity tag).
    pub stamp: String,
}

/// What to read of a device's log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Segments read before whose size or stamp changed: read again and
    /// compare.
    pub recheck: Vec<u64>,
    /// New segments, in order: the run that follows the last one read.
    pub new: Vec<u64>,
    /// A segment missing after that run though later ones are listed: not
    /// arrived yet (file-sync engines copy files in any order), or deleted.
    pub gap: Option<u64>,
}

/// Compare what the remote lists of a device's log with what was seen of
/// it. An error says what is wrong, naming the segment.
pub fn plan(seen: &[SeenRow], listed: &[Listed]) -> Result<Plan, String> {
    let mut listed: Vec<&Listed> = listed.iter().collect();
    listed.sort_by_key(|l| l.seq);
    let mut plan = Plan::default();
    let mut by_seq = listed.iter().map(|l| (l.seq, *l)).peekable();
    let last = seen.last().map_or(0, |s| s.seq);
    let end = listed.last().map_or(0, |l| l.seq);
    if end < last {
        return Err(format!(
            "is behind what this device read: it ends at segment {end} though segment {last} was read (the remote lost segments, or was rolled back to an earlier copy)"
        ));
    }
    for s in seen {
        let at = by_seq.by_ref().find(|(q, _)| *q >= s.seq);
        match at {
            Some((q, l)) if q == s.seq => {
                if l.size != s.size || l.stamp != s.stamp {
                    plan.recheck.push(s.seq);
                }
            }
            _ => {
                return Err(format!(
                    "has lost segment {} (read before; later ones are there)",
                    s.seq
                ));
            }
        }
    }
    for (next, l) in (last + 1..).zip(listed.iter().filter(|l| l.seq > last)) {
        if l.seq != next {
            plan.gap = Some(next);
            break;
        }
        plan.new.push(l.seq);
    }
    Ok(plan)
}

/// A device id as the user sees it: its first eight hex digits.
pub fn short(device: &Uuid) -> String {
    device.simple().to_string()[24..].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(seq: u64) -> SeenRow {
        SeenRow {
            seq,
            size: 10,
            stamp: format!("t{seq}"),
            hash: [0; 32],
        }
    }
    fn listed(seq: u64) -> Listed {
        Listed {
            seq,
            size: 10,
            stamp: format!("t{seq}"),
        }
    }

    #[test]
    fn a_listing_is_read_in_order_and_every_loss_is_named() {
        let s = [seen(1), seen(2)];
        assert_eq!(
            plan(&s, &[listed(3), listed(1), listed(2), listed(4)]).unwrap(),
            Plan {
                recheck: vec![],
                new: vec![3, 4],
                gap: None,
            }
        );
        assert!(
            plan(&s, &[listed(1)])
                .unwrap_err()
                .contains("ends at segment 1 though segment 2 was read")
        );
        assert!(
            plan(&s, &[listed(2), listed(3)])
                .unwrap_err()
                .contains("lost segment 1")
        );
        let p = plan(&s, &[listed(1), listed(2), listed(3), listed(5)]).unwrap();
        assert_eq!((p.new, p.gap), (vec![3], Some(4)));
        let mut changed = listed(2);
        changed.size = 11;
        assert_eq!(plan(&s, &[listed(1), changed]).unwrap().recheck, vec![2]);
        assert_eq!(plan(&[], &[]).unwrap(), Plan::default());
    }

    #[test]
    fn the_winner_does_not_depend_on_order_and_revokes_win() {
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        let put = Leaf {
            op: Uuid::from_u128(10),
            clock: 9,
            device: b,
            gone: false,
        };
        let gone = Leaf {
            op: Uuid::from_u128(11),
            clock: 5,
            device: a,
            gone: true,
        };
        assert_eq!(winner(&[put, gone], Prefer::Latest), Some(0));
        assert_eq!(winner(&[gone, put], Prefer::Latest), Some(1));
        assert_eq!(winner(&[put, gone], Prefer::Removal), Some(1));
        assert_eq!(winner(&[gone, put], Prefer::Presence), Some(1));
        let tie = Leaf { device: a, ..put };
        assert_eq!(winner(&[tie, put], Prefer::Latest), Some(1));
        assert_eq!(winner(&[], Prefer::Latest), None);
    }
}
