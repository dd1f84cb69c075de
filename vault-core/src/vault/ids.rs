//! Item ids by their starts: the ids a hex prefix names, and the shortest
//! start of an id that no other live id shares. Both are range queries on
//! the catalog's id order.

use std::collections::BTreeMap;
use std::ops::Bound::{Excluded, Unbounded};
use std::ops::RangeInclusive;

use uuid::Uuid;

/// The ids that start with `digits` (hex digit values, at most 32): one
/// range of the id order.
pub(super) fn prefix_range(digits: &[u8]) -> RangeInclusive<Uuid> {
    let digits = &digits[..digits.len().min(32)];
    let shift = 128 - 4 * digits.len() as u32;
    let low = digits
        .iter()
        .fold(0u128, |n, d| (n << 4) | u128::from(*d & 0xf))
        .checked_shl(shift)
        .unwrap_or(0);
    let high = low | u128::MAX.checked_shr(128 - shift).unwrap_or(0);
    Uuid::from_u128(low)..=Uuid::from_u128(high)
}

/// How many hex digits `id` shares with its nearest other live id, plus
/// one: the length of its shortest start no other live id has (0 when it
/// is the only one).
pub(super) fn distinct_digits<V>(live: &BTreeMap<Uuid, V>, id: &Uuid) -> usize {
    let shared = |other: &Uuid| ((id.as_u128() ^ other.as_u128()).leading_zeros() / 4) as usize;
    let below = live.range(..*id).next_back();
    let above = live.range((Excluded(*id), Unbounded)).next();
    [below, above]
        .into_iter()
        .flatten()
        .map(|(other, _)| shared(other) + 1)
        .max()
        .unwrap_or(0)
}

/// The first `digits` hex digits of `id` in its dashed form, without a
/// trailing dash.
pub(super) fn start(id: &Uuid, digits: usize) -> String {
    let mut seen = 0;
    let mut out: String = id
        .to_string()
        .chars()
        .take_while(|c| {
            if *c != '-' {
                seen += 1;
            }
            seen <= digits
        })
        .collect();
    while out.ends_with('-') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(id: &Uuid) -> String {
        id.simple().to_string()
    }

    /// Ids crowded into a few starts, so that long shared prefixes occur.
    fn ids() -> impl Strategy<Value = Vec<u128>> {
        prop::collection::vec((0u128..4, any::<u128>(), 0u32..128), 1..60).prop_map(|v| {
            v.into_iter()
                .map(|(top, low, keep)| (top << 126) | (low >> keep.max(2)))
                .collect()
        })
    }

    proptest! {
        #[test]
        fn prefix_range_holds_exactly_the_ids_with_that_start(all in ids(), n in 1usize..=32, pick in any::<usize>()) {
            let live: BTreeMap<Uuid, ()> = all.iter().map(|u| (Uuid::from_u128(*u), ())).collect();
            let probe = hex(&Uuid::from_u128(all[pick % all.len()]));
            let digits: Vec<u8> = probe[..n].chars().map(|c| c.to_digit(16).unwrap() as u8).collect();
            let got: Vec<&Uuid> = live.range(prefix_range(&digits)).map(|(id, _)| id).collect();
            let want: Vec<&Uuid> = live.keys().filter(|id| hex(id).starts_with(&probe[..n])).collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn distinct_digits_is_the_shortest_unshared_start(all in ids(), pick in any::<usize>()) {
            let live: BTreeMap<Uuid, ()> = all.iter().map(|u| (Uuid::from_u128(*u), ())).collect();
            let id = Uuid::from_u128(all[pick % all.len()]);
            let want = (0..=32)
                .find(|n| live.keys().filter(|o| hex(o)[..*n] == hex(&id)[..*n]).count() == 1)
                .unwrap_or(32);
            prop_assert_eq!(distinct_digits(&live, &id).min(32), want);
        }
    }

    #[test]
    fn start_keeps_the_dashed_form() {
        let id = Uuid::parse_str("0123abcd-4567-89ab-cdef-0123456789ab").unwrap();
        assert_eq!(start(&id, 8), "0123abcd");
        assert_eq!(start(&id, 9), "0123abcd-4");
        assert_eq!(start(&id, 32), id.to_string());
        assert_eq!(prefix_range(&[]), Uuid::nil()..=Uuid::max());
    }
}
