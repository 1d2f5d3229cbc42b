//! Parameter pools: the values a slot took, bounded.
//!
//! While a capture streams in, a [`PoolAcc`] counts values in a capped map
//! (when it fills up the rarest half is folded into the tail), and a
//! [`TailType`] summarises the shape of every value seen (all integers in a
//! range, UUIDs, hex of length n, free text). The finished [`Pool`] keeps the
//! top-K values with counts — so popularity, e.g. Zipf-like ids, survives —
//! and describes the rest by its type, from which fresh values are drawn.

use compact_str::CompactString;
use rand::Rng;
use rustc_hash::FxHashMap;

/// Values tracked while streaming, per pool.
const TRACK_CAP: usize = 512;
/// Values longer than this are not kept verbatim (only their shape).
pub const MAX_VALUE_LEN: usize = 256;

/// The shape of the values that are not in the top-K list.
#[derive(Debug, Clone, PartialEq)]
pub enum TailType {
    /// Nothing outside the top values.
    None,
    /// Decimal integers in `[min, max]`.
    IntRange { min: i64, max: i64 },
    /// RFC 4122 UUIDs.
    Uuid,
    /// Hex strings of a fixed length.
    Hex { len: usize, upper: bool },
    /// Anything else: text of a length range built from an alphabet.
    Text {
        min_len: usize,
        max_len: usize,
        alphabet: Alphabet,
    },
}

/// Characters free text is drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Alphabet {
    Digits,
    Lower,
    Alnum,
    /// Letters, digits, `-_.~`: URL-safe.
    UrlSafe,
}

impl Alphabet {
    pub fn name(self) -> &'static str {
        match self {
            Alphabet::Digits => "digits",
            Alphabet::Lower => "lower",
            Alphabet::Alnum => "alnum",
            Alphabet::UrlSafe => "urlsafe",
        }
    }

    pub fn from_name(s: &str) -> Option<Alphabet> {
        Some(match s {
            "digits" => Alphabet::Digits,
            "lower" => Alphabet::Lower,
            "alnum" => Alphabet::Alnum,
            "urlsafe" => Alphabet::UrlSafe,
            _ => return None,
        })
    }

    fn chars(self) -> &'static [u8] {
        match self {
            Alphabet::Digits => b"0123456789",
            Alphabet::Lower => b"abcdefghijklmnopqrstuvwxyz",
            Alphabet::Alnum => b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
            Alphabet::UrlSafe => {
                b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~"
            }
        }
    }

    fn of(s: &str) -> Alphabet {
        if s.bytes().all(|b| b.is_ascii_digit()) {
            Alphabet::Digits
        } else if s.bytes().all(|b| b.is_ascii_lowercase()) {
            Alphabet::Lower
        } else if s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Alphabet::Alnum
        } else {
            Alphabet::UrlSafe
        }
    }
}

/// What kind of value one string is; also used to classify path segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ValueKind {
    Int,
    Uuid,
    Hex,
    Date,
    Text,
}

/// Classifies one value.
pub fn kind_of(s: &str) -> ValueKind {
    let b = s.as_bytes();
    if !b.is_empty() && b.len() <= 18 && b.iter().all(u8::is_ascii_digit) {
        return ValueKind::Int;
    }
    if is_uuid(b) {
        return ValueKind::Uuid;
    }
    if is_date(b) {
        return ValueKind::Date;
    }
    if b.len() >= 8
        && b.iter().all(u8::is_ascii_hexdigit)
        && b.iter().any(u8::is_ascii_digit)
        && (b.len() >= 16 || b.iter().any(|c| c.is_ascii_alphabetic()))
        && (b.iter().all(|c| !c.is_ascii_uppercase()) || b.iter().all(|c| !c.is_ascii_lowercase()))
    {
        return ValueKind::Hex;
    }
    ValueKind::Text
}

fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `2024-01-31` or `2024-01-31T10:00:00...`.
fn is_date(b: &[u8]) -> bool {
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
        && (b.len() == 10 || b[10] == b'T' || b[10] == b' ')
}

/// Streaming summary of the shapes seen.
#[derive(Debug, Clone, PartialEq)]
struct Shape {
    kind: Option<ValueKind>,
    mixed: bool,
    int_min: i64,
    int_max: i64,
    len_min: usize,
    len_max: usize,
    alphabet: Alphabet,
    upper_hex: bool,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            kind: None,
            mixed: false,
            int_min: i64::MAX,
            int_max: i64::MIN,
            len_min: usize::MAX,
            len_max: 0,
            alphabet: Alphabet::Digits,
            upper_hex: false,
        }
    }
}

impl Shape {
    fn observe(&mut self, v: &str) {
        let k = kind_of(v);
        match self.kind {
            None => self.kind = Some(k),
            Some(prev) if prev != k => self.mixed = true,
            _ => {}
        }
        if k == ValueKind::Int {
            if let Ok(n) = v.parse::<i64>() {
                self.int_min = self.int_min.min(n);
                self.int_max = self.int_max.max(n);
            }
        }
        if k == ValueKind::Hex && v.bytes().any(|c| c.is_ascii_uppercase()) {
            self.upper_hex = true;
        }
        self.len_min = self.len_min.min(v.len());
        self.len_max = self.len_max.max(v.len());
        self.alphabet = self.alphabet.max(Alphabet::of(v));
    }

    fn merge(&mut self, o: &Shape) {
        match (self.kind, o.kind) {
            (None, _) => {
                *self = o.clone();
                return;
            }
            (_, None) => return,
            (Some(a), Some(b)) if a != b => self.mixed = true,
            _ => {}
        }
        self.mixed |= o.mixed;
        self.int_min = self.int_min.min(o.int_min);
        self.int_max = self.int_max.max(o.int_max);
        self.len_min = self.len_min.min(o.len_min);
        self.len_max = self.len_max.max(o.len_max);
        self.alphabet = self.alphabet.max(o.alphabet);
        self.upper_hex |= o.upper_hex;
    }

    fn tail(&self) -> TailType {
        // Both ends are capped: when every value is longer than the cap,
        // `min_len > max_len` would make a model that cannot be loaded.
        let max_len = self.len_max.min(MAX_VALUE_LEN);
        let text = || TailType::Text {
            min_len: self.len_min.min(max_len),
            max_len,
            alphabet: self.alphabet,
        };
        match (self.kind, self.mixed) {
            (None, _) => TailType::None,
            (Some(_), true) => text(),
            (Some(ValueKind::Int), false) if self.int_min <= self.int_max => TailType::IntRange {
                min: self.int_min,
                max: self.int_max,
            },
            (Some(ValueKind::Uuid), false) => TailType::Uuid,
            (Some(ValueKind::Hex), false) if self.len_min == self.len_max => TailType::Hex {
                len: self.len_max,
                upper: self.upper_hex,
            },
            _ => text(),
        }
    }
}

/// A pool being built.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PoolAcc {
    /// Fast deterministic hashing: this map is hit for every value of
    /// every slot, and its (capped) keys come from one capture.
    /// Values of up to 24 bytes (ids, numbers, short words: most of
    /// them) are kept inline, without an allocation of their own.
    counts: FxHashMap<CompactString, u64>,
    /// Observations folded out of `counts` (rare values, over-long values).
    folded: u64,
    total: u64,
    shape: Shape,
}

impl PoolAcc {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// How open the range of values looks: `(distinct, seen_once)`.
    /// Values folded out of the capped map (rare ones) count as distinct
    /// values seen once each, so both are upper bounds once the map has
    /// filled up.
    pub fn novelty(&self) -> (u64, u64) {
        let once = self.counts.values().filter(|c| **c == 1).count() as u64;
        (self.counts.len() as u64 + self.folded, once + self.folded)
    }

    pub fn observe(&mut self, v: &str) {
        self.observe_n(v, 1)
    }

    pub fn observe_n(&mut self, v: &str, n: u64) {
        if n == 0 {
            return;
        }
        self.total += n;
        if v.len() > MAX_VALUE_LEN {
            self.shape.observe(v);
            self.folded += n;
            return;
        }
        if let Some(c) = self.counts.get_mut(v) {
            // Counted before, so its shape was observed before: the shape
            // keeps no counts (first kind, ranges, flags), and seeing a
            // value again changes none of them.
            *c += n;
            return;
        }
        self.shape.observe(v);
        if self.counts.len() >= TRACK_CAP {
            self.prune();
        }
        self.counts.insert(CompactString::from(v), n);
    }

    /// Folds the rarer half into the tail.
    fn prune(&mut self) {
        let mut cs: Vec<u64> = self.counts.values().copied().collect();
        let mid = cs.len() / 2;
        let (_, median, _) = cs.select_nth_unstable(mid);
        let cut = *median;
        let before = self.counts.len();
        let mut folded = 0;
        self.counts.retain(|_, c| {
            if *c <= cut {
                folded += *c;
                false
            } else {
                true
            }
        });
        // All equal: drop half arbitrarily so the map keeps room.
        if self.counts.len() == before || self.counts.len() + 1 >= TRACK_CAP {
            let mut keys: Vec<CompactString> = self.counts.keys().cloned().collect();
            keys.sort();
            for k in keys.into_iter().take(before / 2) {
                if let Some(c) = self.counts.remove(&k) {
                    folded += c;
                }
            }
        }
        self.folded += folded;
    }

    pub fn merge(&mut self, other: &PoolAcc) {
        self.total += other.total;
        self.folded += other.folded;
        self.shape.merge(&other.shape);
        for (k, v) in &other.counts {
            if let Some(c) = self.counts.get_mut(k) {
                *c += v;
            } else {
                if self.counts.len() >= TRACK_CAP {
                    self.prune();
                }
                self.counts.insert(k.clone(), *v);
            }
        }
    }

    /// The same observations with `suffix` cut off every value that ends
    /// with it (a slot `{slug}.png` holds stems). Values folded before
    /// keep their count in the tail, and their shape is not recomputed.
    pub fn strip_suffix(&self, suffix: &str) -> PoolAcc {
        if suffix.is_empty() {
            return self.clone();
        }
        let mut out = PoolAcc::new();
        let mut keys: Vec<(&CompactString, &u64)> = self.counts.iter().collect();
        keys.sort();
        for (v, c) in keys {
            out.observe_n(v.strip_suffix(suffix).unwrap_or(v), *c);
        }
        out.folded += self.folded;
        out.total += self.folded;
        out
    }

    /// The finished pool with at most `k` values kept verbatim.
    pub fn finish(&self, k: usize) -> Pool {
        let mut values: Vec<(String, u64)> = self
            .counts
            .iter()
            .map(|(s, c)| (s.to_string(), *c))
            .collect();
        values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        values.truncate(k);
        let kept: u64 = values.iter().map(|(_, c)| c).sum();
        let tail_count = self.total.saturating_sub(kept);
        let tail = if tail_count == 0 {
            TailType::None
        } else {
            self.shape.tail()
        };
        Pool::new(values, tail_count, tail)
    }
}

/// A finished pool: top values with counts, and a typed tail.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    /// Most frequent values first.
    pub values: Vec<(String, u64)>,
    /// Observations not covered by `values`.
    pub tail_count: u64,
    pub tail: TailType,
    /// Running totals of `values` counts, for sampling.
    cumulative: Vec<u64>,
}

impl Pool {
    pub fn new(values: Vec<(String, u64)>, tail_count: u64, tail: TailType) -> Pool {
        let mut acc = 0;
        let cumulative = values
            .iter()
            .map(|(_, c)| {
                acc += c;
                acc
            })
            .collect();
        // A tail with no type cannot produce values: give its mass to the
        // listed ones.
        let tail_count = if tail == TailType::None {
            0
        } else {
            tail_count
        };
        Pool {
            values,
            tail_count,
            tail,
            cumulative,
        }
    }

    /// A pool that always yields `value` (used for secret placeholders).
    pub fn constant(value: &str, count: u64) -> Pool {
        Pool::new(vec![(value.to_string(), count.max(1))], 0, TailType::None)
    }

    pub fn total(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0) + self.tail_count
    }

    /// Draws a value: a listed one with its recorded frequency, or a fresh
    /// one of the tail's type.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> String {
        let total = self.total();
        if total == 0 {
            return String::new();
        }
        let pick = rng.random_range(0..total);
        let listed = self.cumulative.last().copied().unwrap_or(0);
        if pick < listed {
            let i = self.cumulative.partition_point(|c| *c <= pick);
            return self.values[i].0.clone();
        }
        sample_tail(&self.tail, rng)
    }
}

fn sample_tail<R: Rng + ?Sized>(tail: &TailType, rng: &mut R) -> String {
    match tail {
        TailType::None => String::new(),
        TailType::IntRange { min, max } => rng.random_range(*min..=*max).to_string(),
        TailType::Uuid => {
            let a: u128 = rng.random();
            // Version 4, variant 1.
            let a = (a & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
            let h = format!("{a:032x}");
            format!(
                "{}-{}-{}-{}-{}",
                &h[..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..]
            )
        }
        TailType::Hex { len, upper } => {
            let digits: &[u8] = if *upper {
                b"0123456789ABCDEF"
            } else {
                b"0123456789abcdef"
            };
            (0..*len)
                .map(|_| digits[rng.random_range(0..16)] as char)
                .collect()
        }
        TailType::Text {
            min_len,
            max_len,
            alphabet,
        } => {
            let len = rng.random_range(*min_len.min(max_len)..=*max_len);
            let cs = alphabet.chars();
            (0..len)
                .map(|_| cs[rng.random_range(0..cs.len())] as char)
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn classifies_values() {
        assert_eq!(kind_of("4242"), ValueKind::Int);
        assert_eq!(
            kind_of("550e8400-e29b-41d4-a716-446655440000"),
            ValueKind::Uuid
        );
        assert_eq!(kind_of("5f2b9c1e8a7d"), ValueKind::Hex);
        assert_eq!(
            kind_of("da39a3ee5e6b4b0d3255bfef95601890afd80709"),
            ValueKind::Hex
        );
        assert_eq!(kind_of("2024-01-31"), ValueKind::Date);
        assert_eq!(kind_of("facade"), ValueKind::Text);
        assert_eq!(
            kind_of("deadbeef"),
            ValueKind::Text,
            "all letters is a word"
        );
        assert_eq!(kind_of("v1"), ValueKind::Text);
        assert_eq!(kind_of(""), ValueKind::Text);
    }

    #[test]
    fn pool_is_bounded_and_keeps_popular_values() {
        let mut acc = PoolAcc::new();
        // Zipf-like: value i seen ~1000/i times, plus a long unique tail.
        for i in 1..=50u64 {
            for _ in 0..(1000 / i) {
                acc.observe(&i.to_string());
            }
        }
        for i in 0..100_000u64 {
            acc.observe(&(1_000_000 + i).to_string());
        }
        assert!(acc.counts.len() <= TRACK_CAP);
        let pool = acc.finish(20);
        assert_eq!(pool.values.len(), 20);
        assert_eq!(pool.values[0], ("1".to_string(), 1000));
        assert_eq!(pool.values[1], ("2".to_string(), 500));
        assert_eq!(pool.total(), acc.total());
        assert_eq!(
            pool.tail,
            TailType::IntRange {
                min: 1,
                max: 1_099_999
            }
        );
    }

    #[test]
    fn sampling_matches_counts_and_tail_type() {
        let pool = Pool::new(
            vec![("a".into(), 60), ("b".into(), 30)],
            10,
            TailType::Hex {
                len: 6,
                upper: false,
            },
        );
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let n = 30_000;
        let mut a = 0;
        let mut tail = 0;
        for _ in 0..n {
            let v = pool.sample(&mut rng);
            if v == "a" {
                a += 1;
            } else if v != "b" {
                assert_eq!(v.len(), 6);
                assert!(v.bytes().all(|c| c.is_ascii_hexdigit()));
                tail += 1;
            }
        }
        assert!((a as f64 / n as f64 - 0.6).abs() < 0.015);
        assert!((tail as f64 / n as f64 - 0.1).abs() < 0.01);
    }

    #[test]
    fn uuid_tail_is_a_v4_uuid() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for _ in 0..100 {
            let u = sample_tail(&TailType::Uuid, &mut rng);
            assert_eq!(kind_of(&u), ValueKind::Uuid, "{u}");
            assert_eq!(&u[14..15], "4");
        }
    }

    #[test]
    fn tail_of_long_values_is_a_valid_range() {
        // Regression: pagexray 304.har has a beacon query value of 400+
        // bytes; the tail said 400..256 and the saved model failed to load.
        let mut acc = PoolAcc::new();
        acc.observe(&"a".repeat(400));
        acc.observe(&"b".repeat(500));
        match acc.finish(0).tail {
            TailType::Text {
                min_len, max_len, ..
            } => {
                assert!(min_len <= max_len, "{min_len}..{max_len}");
                assert_eq!(max_len, MAX_VALUE_LEN);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn merge_adds_counts() {
        let mut a = PoolAcc::new();
        let mut b = PoolAcc::new();
        a.observe("x");
        b.observe("x");
        b.observe("y");
        a.merge(&b);
        let p = a.finish(10);
        assert_eq!(p.values, vec![("x".to_string(), 2), ("y".to_string(), 1)]);
    }
}
