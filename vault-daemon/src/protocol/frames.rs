//! The streamed calls: import (CLI to agent) and export (agent to CLI).
//!
//! # Format
//! Both carry frames: a kind byte, a 4-byte big-endian length, then that
//! many bytes. An import's request body is `S` (the [`Import`] options as
//! JSON), any number of `D` (bundle text, cut anywhere) and `E` (empty):
//! a body that ends before `E` was cut off and writes nothing; its answer
//! is a `/v1/call` answer. An export's request body is the [`Export`] JSON
//! (answered like `/v1/call` when it fails before the first frame), its
//! answer `D` frames of bundle text and one `E` holding
//! `{"Ok": Counts}` or `{"Err": ApiError}`: text not followed by an `Ok`
//! end is not a complete bundle. Both paths check the protocol header.
//!
//! [`Import`]: super::Import
//! [`Export`]: super::Export

use zeroize::Zeroizing;

/// Path of the streamed import.
pub const IMPORT_PATH: &str = "/v1/import";
/// Path of the streamed export.
pub const EXPORT_PATH: &str = "/v1/export";
/// Largest frame accepted.
pub const MAX_FRAME: usize = 4 * 1024 * 1024;
/// Size data is cut into when written.
pub const DATA_FRAME: usize = 1024 * 1024;

/// What a frame holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// The options of an import (JSON).
    Start,
    /// Bundle text.
    Data,
    /// The end: empty (import) or the outcome as JSON (export).
    End,
}

impl FrameKind {
    fn byte(self) -> u8 {
        match self {
            FrameKind::Start => b'S',
            FrameKind::Data => b'D',
            FrameKind::End => b'E',
        }
    }
}

/// Frames that do not parse.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// An unknown kind byte.
    #[error("a stream frame of unknown kind {0:#04x}")]
    Kind(u8),
    /// A frame longer than [`MAX_FRAME`].
    #[error("a stream frame of {0} bytes, more than the {MAX_FRAME} allowed")]
    TooLong(usize),
}

/// The five bytes before a payload of `len` bytes, which callers keep at
/// most [`MAX_FRAME`] (the reader refuses longer frames).
pub fn header(kind: FrameKind, len: usize) -> [u8; 5] {
    debug_assert!(len <= MAX_FRAME, "a frame of {len} bytes");
    let n = (len as u32).to_be_bytes();
    [kind.byte(), n[0], n[1], n[2], n[3]]
}

/// One frame, encoded. Wiped when dropped (it may hold item text).
pub fn encode(kind: FrameKind, payload: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(payload.len() + 5));
    out.extend_from_slice(&header(kind, payload.len()));
    out.extend_from_slice(payload);
    out
}

/// Reads frames from bytes arriving in pieces cut anywhere.
#[derive(Default)]
pub struct Decoder {
    buf: Zeroizing<Vec<u8>>,
    at: usize,
    /// Where the payload of the last frame given out lies in `buf`.
    last: (usize, usize),
}

impl Decoder {
    /// An empty decoder.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Take the next piece of the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.at == self.buf.len() {
            self.buf.clear();
            self.at = 0;
        } else if self.at > self.buf.len() / 2 {
            self.buf.drain(..self.at);
            self.at = 0;
        }
        self.last = (0, 0);
        vault_core::wiped::extend(&mut self.buf, bytes);
    }

    /// The next whole frame, if one has arrived.
    pub fn next_frame(&mut self) -> Result<Option<(FrameKind, &[u8])>, FrameError> {
        let rest = &self.buf[self.at..];
        let Some(head) = rest.get(..5) else {
            return Ok(None);
        };
        let kind = match head[0] {
            b'S' => FrameKind::Start,
            b'D' => FrameKind::Data,
            b'E' => FrameKind::End,
            k => return Err(FrameError::Kind(k)),
        };
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if len > MAX_FRAME {
            return Err(FrameError::TooLong(len));
        }
        if rest.len() < 5 + len {
            return Ok(None);
        }
        let start = self.at + 5;
        self.at = start + len;
        self.last = (start, start + len);
        Ok(Some((kind, &self.buf[start..start + len])))
    }

    /// The payload of the frame [`Decoder::next_frame`] gave last (until
    /// the next `push`).
    pub fn last_payload(&self) -> &[u8] {
        self.buf.get(self.last.0..self.last.1).unwrap_or_default()
    }

    /// True when no partial frame is waiting.
    pub fn is_empty(&self) -> bool {
        self.at == self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Frames cut anywhere decode to the frames sent.
        #[test]
        fn frames_survive_any_cut(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..8),
            cuts in proptest::collection::vec(any::<usize>(), 0..10),
        ) {
            let kinds = [FrameKind::Start, FrameKind::Data, FrameKind::End];
            let mut wire = Vec::new();
            for (k, p) in payloads.iter().enumerate() {
                wire.extend_from_slice(&encode(kinds[k % 3], p));
            }
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (wire.len() + 1)).collect();
            cuts.sort();
            let mut d = Decoder::new();
            let mut got = Vec::new();
            let mut at = 0;
            for c in cuts.into_iter().chain([wire.len()]) {
                d.push(&wire[at..c]);
                at = c;
                while let Some((kind, p)) = d.next_frame().unwrap() {
                    got.push((kind, p.to_vec()));
                }
            }
            prop_assert!(d.is_empty());
            let want: Vec<_> = payloads.iter().enumerate().map(|(k, p)| (kinds[k % 3], p.clone())).collect();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn bad_frames_are_named() {
        let mut d = Decoder::new();
        d.push(b"X\0\0\0\0");
        assert!(matches!(d.next_frame(), Err(FrameError::Kind(b'X'))));
        let mut d = Decoder::new();
        d.push(&[b'D', 0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(d.next_frame(), Err(FrameError::TooLong(_))));
    }
}
