//! A seeded random source and a byte mutator in the manner of libFuzzer's:
//! small edits stacked on a corpus input, some aware of lines and numbers
//! because every format here is text made of lines.

/// A small, seeded, non-cryptographic random source (SplitMix64): the same
/// seed gives the same inputs.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A source starting at `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// A random byte.
    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }
}

/// Values that tend to find edge cases where numbers and strings are read.
const INTERESTING: &[&[u8]] = &[
    b"0",
    b"1",
    b"-1",
    b"255",
    b"256",
    b"65536",
    b"2147483647",
    b"-2147483648",
    b"4294967296",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"18446744073709551615",
    b"18446744073709551616",
    b"1e999",
    b"-0",
    b"0.5",
    b"null",
    b"true",
    b"\"\"",
    b"[]",
    b"{}",
    b"\\u0000",
    b"\\ud800",
    b"\r\n",
    b"\n",
    b"\0",
    b"\xff",
    b"\xc3",
    b"\xe2\x80\xa8",
    b"9999-12-31T23:59:59Z",
    b"0000-01-01T00:00:00Z",
    b"+262143-01-01T00:00:00Z",
];

/// Mutates inputs for one target.
pub struct Mutator<'a> {
    /// The target's keywords.
    pub dict: &'a [&'a [u8]],
    /// Longest output.
    pub max_len: usize,
}

impl Mutator<'_> {
    /// A mutant of `base`: one to five stacked edits, `other` (another
    /// corpus input) available for splicing.
    pub fn mutate(&self, rng: &mut Rng, base: &[u8], other: &[u8]) -> Vec<u8> {
        let mut out = base.to_vec();
        let edits = 1 + rng.below(5);
        for _ in 0..edits {
            self.edit(rng, &mut out, other);
        }
        out.truncate(self.max_len);
        out
    }

    fn edit(&self, rng: &mut Rng, buf: &mut Vec<u8>, other: &[u8]) {
        let len = buf.len();
        match rng.below(13) {
            // Flip one bit.
            0 if len > 0 => {
                let i = rng.below(len);
                buf[i] ^= 1 << rng.below(8);
            }
            // Replace a byte.
            1 if len > 0 => {
                let i = rng.below(len);
                buf[i] = rng.byte();
            }
            // Insert random bytes.
            2 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
                buf.splice(at..at, bytes);
            }
            // Delete a range.
            3 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(32));
                buf.drain(at..at + n);
            }
            // Copy a chunk of the input elsewhere in it.
            4 if len > 0 => {
                let from = rng.below(len);
                let n = 1 + rng.below((len - from).min(64));
                let chunk = buf[from..from + n].to_vec();
                let at = rng.below(len + 1);
                buf.splice(at..at, chunk);
            }
            // Splice: our head, the other input's tail.
            5 if !other.is_empty() => {
                let cut = rng.below(len + 1);
                let from = rng.below(other.len());
                buf.truncate(cut);
                buf.extend_from_slice(&other[from..]);
            }
            // Overwrite or insert an interesting value.
            6 => {
                let v = INTERESTING[rng.below(INTERESTING.len())];
                self.put(rng, buf, v);
            }
            // Insert a dictionary word.
            7 if !self.dict.is_empty() => {
                let v = self.dict[rng.below(self.dict.len())];
                self.put(rng, buf, v);
            }
            // Replace a run of digits with an interesting number.
            8 => replace_number(rng, buf),
            // Line edits: duplicate, delete, swap, or take one from `other`.
            9..=11 => line_edit(rng, buf, other),
            // Truncate.
            _ if len > 0 => buf.truncate(rng.below(len)),
            _ => buf.push(rng.byte()),
        }
    }

    fn put(&self, rng: &mut Rng, buf: &mut Vec<u8>, v: &[u8]) {
        let at = rng.below(buf.len() + 1);
        if rng.one_in(2) {
            let end = (at + v.len()).min(buf.len());
            buf.splice(at..end, v.iter().copied());
        } else {
            buf.splice(at..at, v.iter().copied());
        }
    }
}

fn replace_number(rng: &mut Rng, buf: &mut Vec<u8>) {
    let starts: Vec<usize> = (0..buf.len())
        .filter(|&i| buf[i].is_ascii_digit() && (i == 0 || !buf[i - 1].is_ascii_digit()))
        .collect();
    if starts.is_empty() {
        return;
    }
    let start = starts[rng.below(starts.len())];
    let end = (start..buf.len())
        .find(|&i| !buf[i].is_ascii_digit())
        .unwrap_or(buf.len());
    let numbers: Vec<&[u8]> = INTERESTING
        .iter()
        .copied()
        .filter(|v| v.first().is_some_and(|c| c.is_ascii_digit() || *c == b'-'))
        .collect();
    let v = numbers[rng.below(numbers.len())];
    buf.splice(start..end, v.iter().copied());
}

fn split_lines(buf: &[u8]) -> Vec<Vec<u8>> {
    buf.split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn line_edit(rng: &mut Rng, buf: &mut Vec<u8>, other: &[u8]) {
    let mut lines = split_lines(buf);
    if lines.is_empty() {
        return;
    }
    let i = rng.below(lines.len());
    match rng.below(4) {
        0 => {
            let l = lines[i].clone();
            lines.insert(rng.below(lines.len() + 1), l);
        }
        1 => {
            lines.remove(i);
        }
        2 => {
            let j = rng.below(lines.len());
            lines.swap(i, j);
        }
        _ => {
            let theirs = split_lines(other);
            if !theirs.is_empty() {
                let l = theirs[rng.below(theirs.len())].clone();
                lines.insert(rng.below(lines.len() + 1), l);
            }
        }
    }
    // Keep every line but the last ended, so edits do not glue lines.
    let n = lines.len();
    for (k, l) in lines.iter_mut().enumerate() {
        if k + 1 < n && l.last() != Some(&b'\n') {
            l.push(b'\n');
        }
    }
    *buf = lines.concat();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_mutants() {
        let m = Mutator {
            dict: &[b"word"],
            max_len: 64,
        };
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..50)
                .map(|_| m.mutate(&mut rng, b"{\"a\": 12}\nline two\n", b"other\n"))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        assert!(run(9).iter().all(|v| v.len() <= 64));
    }
}
