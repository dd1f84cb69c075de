//! Growing buffers of plaintext without leaving copies in freed memory: a
//! `Vec` that reallocates frees its old block unwiped, so these grow by
//! hand, wiping the block they leave.

use zeroize::Zeroizing;

/// Append `bytes` to `buf`. When `buf` must grow, its contents move to a
/// new block (at least twice the size) and the old block is wiped as it is
/// dropped.
pub fn extend(buf: &mut Zeroizing<Vec<u8>>, bytes: &[u8]) {
    let need = buf.len() + bytes.len();
    if need > buf.capacity() {
        let mut bigger = Zeroizing::new(Vec::with_capacity(need.max(buf.capacity() * 2)));
        bigger.extend_from_slice(buf);
        *buf = bigger;
    }
    buf.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    #[test]
    fn grows_and_keeps_the_bytes() {
        let mut b = zeroize::Zeroizing::new(Vec::with_capacity(2));
        for k in 0..100u8 {
            super::extend(&mut b, &[k, k]);
        }
        assert_eq!(b.len(), 200);
        assert!(
            b.chunks(2)
                .enumerate()
                .all(|(k, p)| p == [k as u8, k as u8])
        );
    }
}
