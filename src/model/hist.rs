//! A log-spaced histogram for positive quantities that span many orders of
//! magnitude: inter-arrival gaps (microseconds to minutes), think times,
//! latencies, body sizes.
//!
//! Bins are `BINS_PER_DECADE` per power of ten (about 12% wide), counted
//! in an array from the lowest bin used to the highest (at most 801, since
//! bins are clamped to ±400), so the histogram is small whatever the range
//! and the number of values, and recording a value is an index, not a
//! search. Zero gets a bin of its own (many HAR entries share a millisecond).
//! It can be sampled (uniform in log space within a bin, clamped to the
//! observed min/max) and merged exactly.

use rand::Rng;

/// Bins per power of ten.
pub const BINS_PER_DECADE: f64 = 20.0;
/// Larger values are recorded as this. No latency, gap or size we model
/// comes near it (10^15 ms is 30 000 years, 10^15 bytes a petabyte), and it
/// keeps `sum_sq` finite: an absurd value in a capture (a HAR `time` of
/// 1e300) would otherwise make it infinite, which JSON cannot carry, and
/// the model file could not be loaded back.
pub const MAX_VALUE: f64 = 1e15;

/// `Lookup::edges[i + BOUND_OFFSET]` is the low edge of bin `i`.
const BOUND_OFFSET: i32 = 400;
/// Mantissa bits that split each power of two into sub-ranges for
/// [`Lookup::start`]: 32 sub-ranges, each narrower (log10(1 + 1/32) * 20
/// = 0.27) than a bin.
const SUB_BITS: u32 = 5;
/// The powers of two [`Lookup::start`] covers: 2^-64 up to 2^64.
const EXP_MIN: i32 = -64;
const EXP_MAX: i32 = 64;

/// Tables for [`LogHist::bin_of`], computed once.
struct Lookup {
    /// Low edges `10^(i/20)` of bins -400..=401.
    edges: [f64; 802],
    /// Per bin: its low edge raised and its high edge lowered by a hair
    /// (relative 1e-9); between them the fast answer is certain.
    inner_lo: [f64; 802],
    inner_hi: [f64; 802],
    /// Per sub-range of a power of two (binary exponent and the top
    /// [`SUB_BITS`] of the mantissa): the bin of its lowest value. A value
    /// in it is in that bin or the next.
    start: Vec<i16>,
}

fn lookup() -> &'static Lookup {
    static L: std::sync::OnceLock<Lookup> = std::sync::OnceLock::new();
    L.get_or_init(|| {
        const HAIR: f64 = 1e-9;
        let mut edges = [0.0; 802];
        for (k, x) in edges.iter_mut().enumerate() {
            *x = LogHist::bin_low(k as i32 - BOUND_OFFSET);
        }
        let (mut inner_lo, mut inner_hi) = ([0.0; 802], [f64::INFINITY; 802]);
        for k in 0..801 {
            inner_lo[k] = edges[k] * (1.0 + HAIR);
            inner_hi[k] = edges[k + 1] * (1.0 - HAIR);
        }
        let subs = 1u64 << SUB_BITS;
        let start = (EXP_MIN..EXP_MAX)
            .flat_map(|e| (0..subs).map(move |sub| (e, sub)))
            .map(|(e, sub)| {
                let biased = (e + 1023) as u64;
                let low = f64::from_bits((biased << 52) | (sub << (52 - SUB_BITS)));
                LogHist::bin_of_exact(low) as i16
            })
            .collect();
        Lookup {
            edges,
            inner_lo,
            inner_hi,
            start,
        }
    })
}

/// Bin index → count. Bin `i` covers `[10^(i/20), 10^((i+1)/20))`.
/// Dense between the lowest and highest bin used; bins that were never
/// counted (or counted zero) are not listed by [`Bins::iter`].
#[derive(Debug, Clone, Default)]
pub struct Bins {
    first: i32,
    counts: Vec<u64>,
}

impl Bins {
    /// Adds `n` to bin `i` (saturating).
    pub fn add(&mut self, i: i32, n: u64) {
        if self.counts.is_empty() {
            self.first = i;
        } else if i < self.first {
            let grow = (self.first - i) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.first = i;
        }
        let k = (i - self.first) as usize;
        if k >= self.counts.len() {
            self.counts.resize(k + 1, 0);
        }
        self.counts[k] = self.counts[k].saturating_add(n);
    }

    /// (bin, count) of every counted bin, lowest first.
    pub fn iter(&self) -> impl Iterator<Item = (i32, u64)> + '_ {
        let first = self.first;
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(move |(k, c)| (first + k as i32, *c))
    }

    /// Number of counted bins.
    pub fn len(&self) -> usize {
        self.counts.iter().filter(|c| **c > 0).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl PartialEq for Bins {
    fn eq(&self, other: &Bins) -> bool {
        self.iter().eq(other.iter())
    }
}

impl FromIterator<(i32, u64)> for Bins {
    fn from_iter<T: IntoIterator<Item = (i32, u64)>>(iter: T) -> Bins {
        let mut b = Bins::default();
        for (i, n) in iter {
            b.add(i, n);
        }
        b
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogHist {
    pub bins: Bins,
    /// Values equal to zero.
    pub zeros: u64,
    pub count: u64,
    pub sum: f64,
    pub sum_sq: f64,
    pub min: f64,
    pub max: f64,
}

impl LogHist {
    pub fn new() -> Self {
        Self::default()
    }

    /// The bin of a positive value: `floor(log10(v) * 20)`, clamped to
    /// ±400. This is the definition; [`LogHist::bin_of`] is a faster path
    /// that returns the same index.
    fn bin_of_exact(v: f64) -> i32 {
        (v.log10() * BINS_PER_DECADE).floor().clamp(-400.0, 400.0) as i32
    }

    /// [`LogHist::bin_of_exact`] without a logarithm: the binary exponent
    /// and the top mantissa bits index a table that gives the bin or the
    /// one below, and one comparison with the next bin's edge decides.
    /// Values within a hair (relative 1e-9) of an edge, where the rounding
    /// of `log10` could decide, and values outside 2^-64..2^64 take the
    /// exact path, so the result is always the same.
    fn bin_of(v: f64) -> i32 {
        const LOW: f64 = 1.0 / (1u128 << 64) as f64;
        const HIGH: f64 = (1u128 << 64) as f64;
        if !(LOW..HIGH).contains(&v) {
            return Self::bin_of_exact(v);
        }
        let t = lookup();
        let first = ((EXP_MIN + 1023) as u64) << SUB_BITS;
        let k = ((v.to_bits() >> (52 - SUB_BITS)) - first) as usize;
        let c = i32::from(t.start[k]);
        let at = |i: i32| (i + BOUND_OFFSET) as usize;
        let i = c + i32::from(v >= t.edges[at(c + 1)]);
        if v > t.inner_lo[at(i)] && v < t.inner_hi[at(i)] {
            i
        } else {
            Self::bin_of_exact(v)
        }
    }

    /// The bin [`LogHist::record`] puts `v` in; `None` for zero (its own
    /// bin) and for values it ignores.
    pub fn bin_index(v: f64) -> Option<i32> {
        (v.is_finite() && v > 0.0).then(|| Self::bin_of(v.min(MAX_VALUE)))
    }

    pub(crate) fn bin_low(i: i32) -> f64 {
        10f64.powf(i as f64 / BINS_PER_DECADE)
    }

    /// Records a value. Negative and non-finite values are ignored; values
    /// above [`MAX_VALUE`] are recorded as `MAX_VALUE`.
    pub fn record(&mut self, v: f64) {
        self.record_n(v, 1)
    }

    pub fn record_n(&mut self, v: f64, n: u64) {
        if !v.is_finite() || v < 0.0 || n == 0 {
            return;
        }
        let v = v.min(MAX_VALUE);
        let bin = (v != 0.0).then(|| Self::bin_of(v));
        self.record_at(v, n, bin);
    }

    /// [`LogHist::record`] of a value whose bin the caller has already
    /// looked up with [`LogHist::bin_index`] (a gap that is also
    /// classified): the same result without a second lookup.
    pub fn record_in(&mut self, v: f64, bin: Option<i32>) {
        self.record_in_n(v, 1, bin);
    }

    /// [`LogHist::record_in`], `n` times.
    pub fn record_in_n(&mut self, v: f64, n: u64, bin: Option<i32>) {
        debug_assert_eq!(bin, Self::bin_index(v), "the bin of {v}");
        if !v.is_finite() || v < 0.0 || n == 0 {
            return;
        }
        self.record_at(v.min(MAX_VALUE), n, bin);
    }

    /// `v` (finite, 0 to [`MAX_VALUE`]) `n` times into `bin` (its bin;
    /// `None` for zero).
    fn record_at(&mut self, v: f64, n: u64, bin: Option<i32>) {
        if self.count == 0 {
            self.min = v;
            self.max = v;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.count = self.count.saturating_add(n);
        self.sum += v * n as f64;
        self.sum_sq += v * v * n as f64;
        match bin {
            None => self.zeros = self.zeros.saturating_add(n),
            Some(i) => self.bins.add(i, n),
        }
    }

    pub fn merge(&mut self, other: &LogHist) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            self.min = other.min;
            self.max = other.max;
        } else {
            self.min = self.min.min(other.min);
            self.max = self.max.max(other.max);
        }
        self.count = self.count.saturating_add(other.count);
        self.sum += other.sum;
        self.sum_sq += other.sum_sq;
        self.zeros = self.zeros.saturating_add(other.zeros);
        for (k, v) in other.bins.iter() {
            self.bins.add(k, v);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        }
    }

    pub fn stddev(&self) -> f64 {
        if self.count < 2 {
            return 0.0;
        }
        let n = self.count as f64;
        let var = (self.sum_sq - self.sum * self.sum / n) / (n - 1.0);
        var.max(0.0).sqrt()
    }

    /// Coefficient of variation (stddev / mean): 1 for a Poisson process,
    /// above 1 for bursty traffic, 0 for a metronome.
    pub fn cv(&self) -> f64 {
        let m = self.mean();
        if m <= 0.0 {
            0.0
        } else {
            self.stddev() / m
        }
    }

    /// The value at quantile `q` in `[0, 1]`, interpolated within its bin.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let q = q.clamp(0.0, 1.0);
        let rank = q * self.count as f64;
        if rank <= self.zeros as f64 && self.zeros > 0 {
            return 0.0;
        }
        let mut seen = self.zeros as f64;
        for (i, c) in self.bins.iter() {
            let next = seen + c as f64;
            if rank <= next {
                let frac = if c == 0 {
                    0.0
                } else {
                    (rank - seen) / c as f64
                };
                let lo = Self::bin_low(i).max(self.min);
                let hi = Self::bin_low(i + 1).min(self.max);
                if hi <= lo {
                    return lo;
                }
                // Interpolate in log space.
                return (lo.ln() + frac * (hi.ln() - lo.ln())).exp();
            }
            seen = next;
        }
        self.max
    }

    /// Where bin `i`'s draws lie: its edges clipped to the recorded min
    /// and max (a bin holding one value is that value).
    fn edges(&self, i: i32) -> (f64, f64) {
        let lo = Self::bin_low(i).max(self.min);
        (lo, Self::bin_low(i + 1).min(self.max).max(lo))
    }

    /// The mean of [`LogHist::sample`]'s draws: each bin log-uniform
    /// between its edges (clipped to the recorded min and max), which is
    /// close to the recorded mean but not equal to it. Schedules that must
    /// hit a rate from sampled gaps use this one.
    pub fn sample_mean(&self) -> f64 {
        let nonzero = self.count.saturating_sub(self.zeros);
        if self.count == 0 || nonzero == 0 {
            return 0.0;
        }
        let mut total = 0.0;
        for (i, c) in self.bins.iter() {
            let (lo, hi) = self.edges(i);
            total += log_uniform_mean(lo, hi) * c as f64;
        }
        total / self.count as f64
    }

    /// Draws of the time left, at a moment chosen independently of them,
    /// until the next of a train of events whose gaps are
    /// [`LogHist::sample`]'s draws (the train's residual life).
    pub fn residuals(&self) -> Residuals {
        // A gap is drawn in proportion to its length (a moment falls in a
        // long gap more often than in a short one): a log-uniform draw on
        // [lo, hi] weighted by its value is uniform there, and each bin
        // weighs its count times its mean.
        let mut total = 0.0;
        let bins = self
            .bins
            .iter()
            .map(|(i, c)| {
                let (lo, hi) = self.edges(i);
                total += log_uniform_mean(lo, hi) * c as f64;
                (total, lo, hi)
            })
            .filter(|b| b.0 > 0.0)
            .collect();
        Residuals { bins }
    }

    /// Draws a value distributed like the recorded ones.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let mut pick = rng.random_range(0..self.count);
        if pick < self.zeros {
            return 0.0;
        }
        pick -= self.zeros;
        for (i, c) in self.bins.iter() {
            if pick < c {
                let (lo, hi) = self.edges(i);
                if hi <= lo {
                    return lo;
                }
                let u: f64 = rng.random();
                return (lo.ln() + u * (hi.ln() - lo.ln())).exp();
            }
            pick -= c;
        }
        self.max
    }
}

/// The mean of a log-uniform value on [lo, hi]: (hi − lo) / ln(hi/lo),
/// or `lo` for a bin that is (all but) one value.
fn log_uniform_mean(lo: f64, hi: f64) -> f64 {
    if hi <= lo * (1.0 + 1e-12) {
        lo
    } else {
        (hi - lo) / (hi / lo).ln()
    }
}

/// [`LogHist::residuals`]: bins by cumulative weight.
#[derive(Debug, Clone)]
pub struct Residuals {
    /// (cumulative weight, low edge, high edge)
    bins: Vec<(f64, f64, f64)>,
}

impl Residuals {
    /// One draw: a gap drawn in proportion to its length, times a uniform
    /// fraction. Its mean is `E[g²] / (2 E[g])`, not `E[g] / 2`: starting a
    /// train a fraction of an ordinary gap away sends too soon, the more
    /// so the wider the gaps' spread. Zero without gaps.
    pub fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let gap = self.gap(rng);
        rng.random::<f64>() * gap
    }

    /// The gap a random moment falls in: drawn in proportion to its
    /// length. Zero without gaps.
    pub fn gap<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let Some(last) = self.bins.last() else {
            return 0.0;
        };
        let x = rng.random::<f64>() * last.0;
        let i = self.bins.partition_point(|b| b.0 <= x);
        let (_, lo, hi) = self.bins[i.min(self.bins.len() - 1)];
        lo + rng.random::<f64>() * (hi - lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// The rest of a gap at a random moment: its mean is E[g²] / (2 E[g])
    /// of [`LogHist::sample`]'s draws (49.5 for gaps of 1 and 100 as
    /// often), not half an ordinary gap (25); no gaps, no wait.
    #[test]
    fn residuals_are_drawn_as_a_random_moment_sees_the_gaps() {
        let mut h = LogHist::new();
        h.record_n(1.0, 500);
        h.record_n(100.0, 500);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let n = 200_000;
        let (mut g, mut g2) = (0.0, 0.0);
        for _ in 0..n {
            let v = h.sample(&mut rng);
            (g, g2) = (g + v, g2 + v * v);
        }
        let want = g2 / (2.0 * g);
        let r = h.residuals();
        let got = (0..n).map(|_| r.draw(&mut rng)).sum::<f64>() / n as f64;
        assert!((got / want - 1.0).abs() < 0.02, "{got} vs {want}");
        assert!((45.0..55.0).contains(&got), "{got}");
        assert_eq!(LogHist::new().residuals().draw(&mut rng), 0.0);
    }

    /// Regression: a HAR entry with `"time": 1e300` gave a histogram whose
    /// sum_sq was infinite; it was written to the model file as `null` and
    /// the model could not be loaded ("invalid type: null, expected f64").
    #[test]
    fn absurd_values_keep_the_sums_finite() {
        let mut h = LogHist::new();
        h.record(1e300);
        h.record_n(f64::MAX, u64::MAX);
        assert!(h.sum.is_finite() && h.sum_sq.is_finite(), "{h:?}");
        assert_eq!(h.max, MAX_VALUE);
        assert_eq!(h.count, u64::MAX, "counts saturate");
        let mut m = h.clone();
        m.merge(&h);
        assert!(m.sum_sq.is_finite());
    }

    /// The fast bin lookup must agree with the definition everywhere,
    /// including right at the boundaries and across the whole range.
    #[test]
    fn fast_bin_equals_log10_definition() {
        let mut vals = vec![
            1e-300, 1e-19, 1e-18, 0.5, 1.0, 10.0, 209.0, 1e15, 1e18, 1e300,
        ];
        for k in -400..=401 {
            let b = LogHist::bin_low(k);
            let (up, down) = (
                f64::from_bits(b.to_bits() + 1),
                f64::from_bits(b.to_bits() - 1),
            );
            vals.extend([b, up, down, b * (1.0 + 1e-9), b * (1.0 - 1e-9)]);
            vals.extend([b * (1.0 + 2e-9), b * (1.0 - 2e-9), b * 1.05]);
        }
        // Integers (sizes) and microsecond-resolution milliseconds (latencies).
        vals.extend((1..100_000).map(f64::from));
        vals.extend((1..200_000).map(|us| f64::from(us) / 1000.0));
        let mut x = 1e-20f64;
        while x < 1e20 {
            vals.push(x);
            x *= 1.000_37;
        }
        for v in vals {
            assert_eq!(LogHist::bin_of(v), LogHist::bin_of_exact(v), "{v:e}");
        }
    }

    #[test]
    fn quantiles_are_within_a_bin() {
        let mut h = LogHist::new();
        for i in 1..=10_000 {
            h.record(i as f64 * 1e-6); // 1 µs .. 10 ms
        }
        let p50 = h.quantile(0.5);
        assert!((p50 / 5e-3 - 1.0).abs() < 0.13, "p50 {p50}");
        let p99 = h.quantile(0.99);
        assert!((p99 / 9.9e-3 - 1.0).abs() < 0.13, "p99 {p99}");
        assert_eq!(h.quantile(1.0), h.max);
        assert!(
            h.bins.len() <= 81,
            "4 decades × 20 bins, got {}",
            h.bins.len()
        );
    }

    #[test]
    fn merge_equals_recording_together() {
        let (mut a, mut b, mut all) = (LogHist::new(), LogHist::new(), LogHist::new());
        for i in 0..1000 {
            let v = (i % 37) as f64 * 0.25;
            if i % 3 == 0 {
                a.record(v)
            } else {
                b.record(v)
            }
            all.record(v);
        }
        a.merge(&b);
        assert_eq!(a.bins, all.bins);
        assert_eq!(a.zeros, all.zeros);
        assert_eq!(a.count, all.count);
        assert_eq!((a.min, a.max), (all.min, all.max));
    }

    #[test]
    fn samples_follow_the_distribution() {
        let mut h = LogHist::new();
        for _ in 0..900 {
            h.record(0.001);
        }
        for _ in 0..100 {
            h.record(10.0);
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let n = 20_000;
        let big = (0..n).filter(|_| h.sample(&mut rng) > 1.0).count();
        let share = big as f64 / n as f64;
        assert!((share - 0.1).abs() < 0.01, "share {share}");
        // Samples never leave the observed range.
        for _ in 0..1000 {
            let v = h.sample(&mut rng);
            assert!((0.001..=10.0).contains(&v), "{v}");
        }
    }

    #[test]
    fn cv_of_constant_is_zero_and_ignores_garbage() {
        let mut h = LogHist::new();
        for _ in 0..10 {
            h.record(2.0);
        }
        h.record(f64::NAN);
        h.record(-1.0);
        assert_eq!(h.count, 10);
        assert!(h.cv() < 1e-6);
    }

    /// `sample_mean` is what the draws average to, zeros included.
    #[test]
    fn sample_mean_is_the_mean_of_the_draws() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut h = LogHist::new();
        for i in 0..2000u32 {
            // Spread over four decades, with some zeros.
            h.record(if i % 10 == 0 {
                0.0
            } else {
                10f64.powf(f64::from(i % 97) / 24.0) * 0.01
            });
        }
        let n = 400_000;
        let drawn: f64 = (0..n).map(|_| h.sample(&mut rng)).sum::<f64>() / n as f64;
        let m = h.sample_mean();
        assert!((drawn / m - 1.0).abs() < 0.01, "{drawn} vs {m}");
        assert!((m / h.mean() - 1.0).abs() < 0.05, "{m} vs {}", h.mean());
        assert_eq!(LogHist::new().sample_mean(), 0.0);
    }
}
