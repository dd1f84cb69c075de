//! The item vector record, version 1 (see the parent module's "Format").

use uuid::Uuid;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::seal::{self, Sealer};

/// Format version of item vectors.
pub const VECTOR_VERSION: u8 = 1;

/// Longest vector a record holds.
pub const MAX_DIM: usize = 4096;

/// Seal `vector` for item `item_id` at `version`, made by `model`. Values
/// are kept as IEEE half floats (the cosine order they give matches single
/// precision to within rounding).
pub fn seal_vector(
    sealer: &Sealer,
    vault_id: &[u8; 16],
    item_id: &Uuid,
    version: u64,
    model: &str,
    vector: &[f32],
) -> Result<Vec<u8>> {
    if vector.is_empty() || vector.len() > MAX_DIM {
        return Err(Error::Format(format!(
            "a vector has {} dimensions; 1 to {MAX_DIM} are allowed",
            vector.len()
        )));
    }
    let mut plain = Zeroizing::new(Vec::with_capacity(3 + 2 * vector.len()));
    plain.push(VECTOR_VERSION);
    plain.extend_from_slice(&(vector.len() as u16).to_le_bytes());
    for x in vector {
        plain.extend_from_slice(&half::f16::from_f32(*x).to_le_bytes());
    }
    sealer.seal(&seal::vector_aad(vault_id, item_id, version, model), &plain)
}

/// Open a vector sealed by [`seal_vector`] for exactly this item, version
/// and model, with `dim` dimensions. Any other blob (moved from another
/// item, version or model, changed in one byte, of another size) fails
/// with [`Error::Integrity`] naming the item.
pub fn open_vector(
    sealer: &Sealer,
    vault_id: &[u8; 16],
    item_id: &Uuid,
    version: u64,
    model: &str,
    dim: usize,
    blob: &[u8],
) -> Result<Zeroizing<Vec<f32>>> {
    let bad = || Error::Integrity(*item_id);
    let plain = sealer
        .open(&seal::vector_aad(vault_id, item_id, version, model), blob)
        .map_err(|_| bad())?;
    let (head, values) = plain.split_at_checked(3).ok_or_else(bad)?;
    let n = u16::from_le_bytes([head[1], head[2]]) as usize;
    if head[0] != VECTOR_VERSION || n != dim || values.len() != 2 * n {
        return Err(bad());
    }
    let mut out = Zeroizing::new(Vec::with_capacity(n));
    for c in values.chunks_exact(2) {
        let x = half::f16::from_le_bytes([c[0], c[1]]).to_f32();
        if !x.is_finite() {
            return Err(bad());
        }
        out.push(x);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{MasterKey, Purpose};

    #[test]
    fn roundtrip_and_binding() {
        let mk = MasterKey::generate().unwrap();
        let s = Sealer::new(mk.subkey(&[1; 16], Purpose::Vectors).unwrap());
        let (vault, id, other) = ([1u8; 16], Uuid::now_v7(), Uuid::now_v7());
        let v: Vec<f32> = (0..384).map(|i| (i as f32 / 384.0) - 0.5).collect();
        let blob = seal_vector(&s, &vault, &id, 3, "m1", &v).unwrap();
        let back = open_vector(&s, &vault, &id, 3, "m1", 384, &blob).unwrap();
        for (a, b) in v.iter().zip(back.iter()) {
            assert!((a - b).abs() < 1e-3, "{a} {b}");
        }
        // Bound to item, version, model, vault and dimension.
        for (vid, item, ver, model, dim) in [
            ([1u8; 16], other, 3, "m1", 384),
            ([1u8; 16], id, 4, "m1", 384),
            ([1u8; 16], id, 3, "m2", 384),
            ([2u8; 16], id, 3, "m1", 384),
            ([1u8; 16], id, 3, "m1", 383),
        ] {
            assert!(open_vector(&s, &vid, &item, ver, model, dim, &blob).is_err());
        }
        for i in 0..blob.len() {
            let mut b = blob.clone();
            b[i] ^= 0x10;
            assert!(
                open_vector(&s, &vault, &id, 3, "m1", 384, &b).is_err(),
                "byte {i}"
            );
        }
        assert!(seal_vector(&s, &vault, &id, 3, "m1", &[]).is_err());
    }
}
