//! Where the delimiters of a read buffer are, found in one pass.
//!
//! The line loop used to look for each line's end with `memchr`, check the
//! line for control bytes in a second pass, and a layout then searched for
//! each value's end (nine searches on a Combined line, each with its own
//! setup). Instead the buffer is read once, 32 or 16 bytes at a time, into
//! one bit per byte for newlines, for each delimiter byte the layouts
//! search for (` `, `"`, `]` for the built-in ones) and for bytes that are
//! not printable ASCII; a line's end, its check and each search are then
//! bit scans.

use memchr::memchr;

/// Byte classes indexed: the newline and up to four delimiters (a
/// layout's others are searched for directly).
const SLOTS: usize = 5;

/// The delimiter positions of one buffer.
pub struct BufIndex {
    /// The byte of each slot; slot 0 is `\n`. Unused slots repeat it.
    bytes: [u8; SLOTS],
    n: usize,
    /// `masks[SLOTS * w + k]` bit `b`: byte `64 * w + b` is `bytes[k]`.
    masks: Vec<u64>,
    /// Bit `b` of word `w`: byte `64 * w + b` is below 0x20 (but a tab) or
    /// above 0x7f.
    bad: Vec<u64>,
    /// The CPU has AVX2 (checked once).
    avx2: bool,
}

impl BufIndex {
    /// An index of newlines and of the first four distinct other bytes of
    /// `delimiters`.
    pub fn new(delimiters: impl IntoIterator<Item = u8>) -> BufIndex {
        let mut index = BufIndex {
            bytes: [b'\n'; SLOTS],
            n: 1,
            masks: Vec::new(),
            bad: Vec::new(),
            avx2: avx2(),
        };
        for b in delimiters {
            if index.n < SLOTS && !index.bytes[..index.n].contains(&b) {
                index.bytes[index.n] = b;
                index.n += 1;
            }
        }
        index
    }

    /// Indexes `buf`; positions are then offsets into it.
    pub fn build(&mut self, buf: &[u8]) {
        let words = buf.len().div_ceil(64);
        self.masks.clear();
        self.masks.resize(SLOTS * words, 0);
        self.bad.clear();
        self.bad.resize(words, 0);
        let done = self.build_groups(buf);
        for (i, &b) in buf.iter().enumerate().skip(done) {
            let (w, bit) = (i / 64, 1u64 << (i % 64));
            if !((b.wrapping_sub(0x20) < 0x60) | (b == b'\t')) {
                self.bad[w] |= bit;
            }
            for k in 0..self.n {
                if b == self.bytes[k] {
                    self.masks[SLOTS * w + k] |= bit;
                }
            }
        }
    }

    /// Indexes `buf`'s whole 64-byte groups; returns how many bytes that is.
    fn build_groups(&mut self, buf: &[u8]) -> usize {
        #[cfg(target_arch = "x86_64")]
        {
            let (masks, bad) = (&mut self.masks[..], &mut self.bad[..]);
            if self.avx2 {
                // SAFETY: the CPU has AVX2 (checked in `new`).
                unsafe { x86::groups_avx2(buf, &self.bytes, masks, bad) };
            } else {
                // SAFETY: SSE2 is part of x86_64.
                unsafe { x86::groups_sse2(buf, &self.bytes, masks, bad) };
            }
            buf.len() / 64 * 64
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = buf;
            0
        }
    }

    #[inline]
    fn slot(&self, c: u8) -> Option<usize> {
        self.bytes[..self.n].iter().position(|&b| b == c)
    }

    /// The first position in `from..end` holding the byte of slot `k`.
    #[inline]
    fn find_slot(&self, k: usize, from: usize, end: usize) -> Option<usize> {
        let mut w = from / 64;
        let mut word = *self.masks.get(SLOTS * w + k)? & (!0u64 << (from % 64));
        while word == 0 {
            w += 1;
            if 64 * w >= end {
                return None;
            }
            word = *self.masks.get(SLOTS * w + k)?;
        }
        Some(64 * w + word.trailing_zeros() as usize).filter(|&p| p < end)
    }

    /// The first newline at or after `from`.
    pub fn newline(&self, from: usize) -> Option<usize> {
        self.find_slot(0, from, usize::MAX)
    }

    /// The line at `offset..offset + len` of the buffer indexed.
    pub fn line(&self, offset: usize, len: usize) -> Line<'_> {
        Line {
            index: self,
            offset,
            len,
        }
    }
}

/// One line of an indexed buffer.
pub struct Line<'a> {
    index: &'a BufIndex,
    offset: usize,
    len: usize,
}

impl Line<'_> {
    /// Every byte is printable ASCII or a tab.
    pub fn printable(&self) -> bool {
        let (from, end) = (self.offset, self.offset + self.len);
        let mut w = from / 64;
        while 64 * w < end {
            let mut word = self.index.bad[w];
            if w == from / 64 {
                word &= !0u64 << (from % 64);
            }
            if 64 * (w + 1) > end {
                word &= (1u64 << (end % 64)) - 1;
            }
            if word != 0 {
                return false;
            }
            w += 1;
        }
        true
    }

    /// The first position at or after `from` where `line` (this line's
    /// bytes) holds `c`.
    #[inline]
    pub fn find(&self, line: &[u8], from: usize, c: u8) -> Option<usize> {
        match self.index.slot(c) {
            Some(k) => self
                .index
                .find_slot(k, self.offset + from, self.offset + self.len)
                .map(|p| p - self.offset),
            None => find_byte(line.get(from..)?, c).map(|i| from + i),
        }
    }
}

/// Bytes scanned a word at a time before handing a search to memchr.
const SHORT: usize = 32;

/// `memchr(c, hay)`, faster on the short values most fields hold (a
/// status, a size, `-`, a date): memchr's setup costs more than finding
/// their end eight bytes at a time.
#[inline]
pub fn find_byte(hay: &[u8], c: u8) -> Option<usize> {
    const LO: u64 = u64::from_ne_bytes([0x01; 8]);
    const HI: u64 = u64::from_ne_bytes([0x80; 8]);
    let pattern = LO * u64::from(c);
    let mut i = 0;
    while i + 8 <= hay.len().min(SHORT) {
        let mut word = [0u8; 8];
        word.copy_from_slice(&hay[i..i + 8]);
        let x = u64::from_le_bytes(word) ^ pattern;
        // The lowest zero byte of x sets its high bit here (bits above it
        // may be set falsely, never bits below).
        let zero = x.wrapping_sub(LO) & !x & HI;
        if zero != 0 {
            return Some(i + (zero.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    if hay.len() - i < 8 {
        return hay[i..].iter().position(|b| *b == c).map(|k| i + k);
    }
    memchr(c, &hay[i..]).map(|k| i + k)
}

#[cfg(target_arch = "x86_64")]
fn avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

#[cfg(not(target_arch = "x86_64"))]
fn avx2() -> bool {
    false
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! One 64-byte group's masks with SSE2 (every x86_64) or AVX2. The
    //! bodies are unsafe only for the unaligned loads, which stay within
    //! the group.

    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU must have AVX2. `masks` and `bad` hold a word per group.
    #[target_feature(enable = "avx2")]
    pub unsafe fn groups_avx2<const SLOTS: usize>(
        buf: &[u8],
        bytes: &[u8; SLOTS],
        masks: &mut [u64],
        bad: &mut [u64],
    ) {
        let needles = bytes.map(|c| _mm256_set1_epi8(c as i8));
        let (space, tab) = (_mm256_set1_epi8(0x20), _mm256_set1_epi8(b'\t' as i8));
        for (w, group) in buf.chunks_exact(64).enumerate() {
            let a = _mm256_loadu_si256(group.as_ptr().cast());
            let b = _mm256_loadu_si256(group.as_ptr().add(32).cast());
            let word = |x: __m256i, y: __m256i| {
                let lo = _mm256_movemask_epi8(x) as u32;
                let hi = _mm256_movemask_epi8(y) as u32;
                u64::from(lo) | (u64::from(hi) << 32)
            };
            for (k, n) in needles.iter().enumerate() {
                masks[SLOTS * w + k] = word(_mm256_cmpeq_epi8(a, *n), _mm256_cmpeq_epi8(b, *n));
            }
            // Signed: bytes above 0x7f are negative, so below 0x20 too.
            let bad_a = _mm256_andnot_si256(_mm256_cmpeq_epi8(a, tab), _mm256_cmpgt_epi8(space, a));
            let bad_b = _mm256_andnot_si256(_mm256_cmpeq_epi8(b, tab), _mm256_cmpgt_epi8(space, b));
            bad[w] = word(bad_a, bad_b);
        }
    }

    /// # Safety
    /// None beyond x86_64 (SSE2 is part of it). `masks` and `bad` hold a
    /// word per group.
    pub unsafe fn groups_sse2<const SLOTS: usize>(
        buf: &[u8],
        bytes: &[u8; SLOTS],
        masks: &mut [u64],
        bad: &mut [u64],
    ) {
        let needles = bytes.map(|c| _mm_set1_epi8(c as i8));
        let (space, tab) = (_mm_set1_epi8(0x20), _mm_set1_epi8(b'\t' as i8));
        for (w, group) in buf.chunks_exact(64).enumerate() {
            let v = [0, 1, 2, 3].map(|j| _mm_loadu_si128(group.as_ptr().add(16 * j).cast()));
            for (k, n) in needles.iter().enumerate() {
                let mut m = 0u64;
                for (j, x) in v.iter().enumerate() {
                    let bits = _mm_movemask_epi8(_mm_cmpeq_epi8(*x, *n)) as u16;
                    m |= u64::from(bits) << (16 * j);
                }
                masks[SLOTS * w + k] = m;
            }
            let mut m = 0u64;
            for (j, x) in v.iter().enumerate() {
                let control = _mm_andnot_si128(_mm_cmpeq_epi8(*x, tab), _mm_cmplt_epi8(*x, space));
                m |= u64::from(_mm_movemask_epi8(control) as u16) << (16 * j);
            }
            bad[w] = m;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use memchr::memchr;

    #[test]
    fn find_byte_is_memchr() {
        let chars = [b'a', b'b', b' ', b'"'];
        let hay: Vec<u8> = (0..100u8)
            .map(|i| chars[i as usize % 4] ^ (i / 7))
            .collect();
        for len in 0..hay.len() {
            for start in 0..len.min(12) {
                for c in [b'a', b'"', b' ', 0, 0x80, b'c'] {
                    let h = &hay[start..len];
                    assert_eq!(find_byte(h, c), memchr(c, h), "{c} in {h:?}");
                }
            }
        }
    }

    /// Every newline, search and printable check answers as a byte scan
    /// does, at every start, for indexed bytes and others, on buffers of
    /// every length around the group and word sizes, with AVX2 and
    /// without.
    #[test]
    fn finds_what_a_scan_finds() {
        let alphabet = b" \"]a\\\t\x01\xc3[x\n\x7f";
        for avx2 in [false, avx2()] {
            let mut index = BufIndex::new(*b" \"]");
            index.avx2 = avx2;
            for len in [0, 1, 15, 16, 17, 63, 64, 65, 100, 130, 200] {
                for seed in 0..4usize {
                    let buf: Vec<u8> = (0..len)
                        .map(|i| alphabet[(i * 7 + seed * 3 + i / 5) % alphabet.len()])
                        .collect();
                    index.build(&buf);
                    for from in 0..=len {
                        let want = buf[from..].iter().position(|&b| b == b'\n');
                        assert_eq!(index.newline(from), want.map(|i| from + i));
                        for end in from..=len.min(from + 70) {
                            let line = index.line(from, end - from);
                            let bytes = &buf[from..end];
                            let printable = bytes
                                .iter()
                                .all(|&b| (0x20..0x80).contains(&b) || b == b'\t');
                            assert_eq!(line.printable(), printable, "{bytes:?}");
                            for at in [0, 1, 7].into_iter().filter(|&a| a <= bytes.len()) {
                                for c in [b' ', b'"', b']', b'[', b'a', b'q'] {
                                    let want = bytes[at..].iter().position(|&b| b == c);
                                    assert_eq!(
                                        line.find(bytes, at, c),
                                        want.map(|i| at + i),
                                        "{c} from {at} in {bytes:?}"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
