//! The fuzz targets: one module each, each a `run(&[u8])` that must return
//! for every input without a panic, and a dictionary of its format's words.

pub mod audit;
pub mod bundle;
pub mod formats;
pub mod mcp;
pub mod records;

/// Reads fixed-size fields off the front of an input; past its end every
/// field reads as zeros, so any input decodes.
pub(crate) struct Fields<'a>(pub(crate) &'a [u8]);

impl<'a> Fields<'a> {
    /// The next `n` bytes (fewer at the end).
    pub(crate) fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.0.split_at(n.min(self.0.len()));
        self.0 = tail;
        head
    }

    /// The next byte.
    pub(crate) fn u8(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }

    /// The next 8 bytes, big-endian.
    pub(crate) fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        let got = self.take(8);
        b[..got.len()].copy_from_slice(got);
        u64::from_be_bytes(b)
    }

    /// The next 16 bytes as a UUID.
    pub(crate) fn uuid(&mut self) -> uuid::Uuid {
        let mut b = [0u8; 16];
        let got = self.take(16);
        b[..got.len()].copy_from_slice(got);
        uuid::Uuid::from_bytes(b)
    }

    /// A length-prefixed (one byte) field.
    pub(crate) fn short(&mut self) -> &'a [u8] {
        let n = usize::from(self.u8());
        self.take(n)
    }

    /// Whatever is left.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        self.take(self.0.len())
    }
}
