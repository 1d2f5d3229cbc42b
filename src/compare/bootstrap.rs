//! The moving-block bootstrap behind `replay compare`: a confidence
//! interval for the difference (new − base) of p50, p95, p99 and the error
//! rate, from each run's blocks of time ([`crate::metrics::blocks`]).
//!
//! Why blocks: the requests of one run are not independent samples — a
//! slow second (a GC pause, a noisy neighbour) slows every request in it.
//! Resampling single requests (or a rank test over all of them) treats a
//! million requests as a million independent observations and calls a
//! trivial shift of the whole run "significant". Resampling stretches of
//! [`block_len`] consecutive blocks keeps the dependence inside a stretch,
//! so the interval is as wide as the run-to-run noise actually is.
//!
//! Each replicate draws, for each run independently, stretches starting at
//! uniformly drawn blocks (circularly wrapped) until it has as many blocks
//! as the run, adds their values and reads the percentiles (as
//! HdrHistogram's `value_at_quantile` would) and the error rate. The
//! interval is the percentile interval of the replicates' differences.
//! Seeded: the same summaries and seed give the same interval.

use rand::{Rng, SeedableRng};

use crate::metrics::blocks::{highest_equivalent, Cell};

/// The percentiles compared, in order.
pub const QUANTILES: [f64; 3] = [0.50, 0.95, 0.99];

/// One run's non-empty blocks of one endpoint (or of all), in time order,
/// and their width in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    pub cells: &'a [Cell],
    pub width_s: f64,
}

/// Confidence intervals of new − base: the percentiles in ms (order of
/// [`QUANTILES`]), the error rate as a fraction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Intervals {
    pub latency_ms: [(f64, f64); 3],
    pub error_rate: (f64, f64),
}

/// Blocks per resampled stretch: at least one second of run, and at least
/// the cube root of the number of blocks (the usual rate for the block
/// length), never more than the run.
pub fn block_len(n: usize, width_s: f64) -> usize {
    let second = (1.0 / width_s.max(1e-9)).ceil() as usize;
    let cube = (n as f64).cbrt().ceil() as usize;
    second.max(cube).clamp(1, n.max(1))
}

/// The runs' blocks as indices into one sorted grid of the values both
/// hold, so a replicate adds counts into a dense array.
struct Compact {
    grid: Vec<u64>,
    runs: [Vec<CompactCell>; 2],
}

struct CompactCell {
    values: Vec<(usize, u64)>,
    count: u64,
    failed: u64,
}

impl Compact {
    fn of(base: &[Cell], new: &[Cell]) -> Compact {
        let mut grid: Vec<u64> = base
            .iter()
            .chain(new)
            .flat_map(|c| c.values.keys().copied())
            .collect();
        grid.sort_unstable();
        grid.dedup();
        let compact = |cells: &[Cell]| -> Vec<CompactCell> {
            cells
                .iter()
                .map(|c| CompactCell {
                    values: c
                        .values
                        .iter()
                        .map(|(v, n)| (grid.binary_search(v).unwrap_or(0), *n))
                        .collect(),
                    count: c.count,
                    failed: c.failed,
                })
                .collect()
        };
        let runs = [compact(base), compact(new)];
        Compact { grid, runs }
    }
}

/// One replicate's statistics of one run: the percentiles (ms) and the
/// error rate.
fn replicate(
    c: &Compact,
    run: usize,
    len: usize,
    rng: &mut impl Rng,
    counts: &mut [u64],
) -> ([f64; 3], f64) {
    let cells = &c.runs[run];
    let n = cells.len();
    counts.iter_mut().for_each(|x| *x = 0);
    let (mut total, mut failed, mut requests) = (0u64, 0u64, 0u64);
    let mut taken = 0;
    while taken < n {
        let start = rng.random_range(0..n);
        for j in 0..len.min(n - taken) {
            let cell = &cells[(start + j) % n];
            for &(i, k) in &cell.values {
                counts[i] += k;
                total += k;
            }
            failed += cell.failed;
            requests += cell.count;
        }
        taken += len;
    }
    (
        quantiles(&c.grid, counts, total),
        if requests > 0 {
            failed as f64 / requests as f64
        } else {
            0.0
        },
    )
}

/// [`QUANTILES`] of the values `counts` holds over `grid`, in ms, as
/// HdrHistogram's `value_at_quantile` reads them (0 without values).
fn quantiles(grid: &[u64], counts: &[u64], total: u64) -> [f64; 3] {
    let mut out = [0.0; 3];
    if total == 0 {
        return out;
    }
    let mut q = 0;
    let mut cum = 0u64;
    for (i, k) in counts.iter().enumerate() {
        cum += k;
        while q < QUANTILES.len() && cum >= rank(QUANTILES[q], total) {
            out[q] = highest_equivalent(grid[i]) as f64 / 1000.0;
            q += 1;
        }
        if q == QUANTILES.len() {
            break;
        }
    }
    out
}

/// The count at or below the value at quantile `q` of `total` values.
fn rank(q: f64, total: u64) -> u64 {
    ((q * total as f64).ceil() as u64).max(1)
}

/// The `confidence` interval of new − base from `resamples` replicates
/// drawn with `seed`. Neither run may be empty.
pub fn intervals(base: Run, new: Run, resamples: usize, confidence: f64, seed: u64) -> Intervals {
    let lens = [
        block_len(base.cells.len(), base.width_s),
        block_len(new.cells.len(), new.width_s),
    ];
    intervals_with(base, new, lens, resamples, confidence, seed)
}

/// [`intervals`] with the stretch lengths given (tests compare lengths).
pub(crate) fn intervals_with(
    base: Run,
    new: Run,
    lens: [usize; 2],
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> Intervals {
    let c = Compact::of(base.cells, new.cells);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut counts = vec![0u64; c.grid.len()];
    let resamples = resamples.max(1);
    let mut diffs: [Vec<f64>; 4] = Default::default();
    for _ in 0..resamples {
        let (bq, be) = replicate(&c, 0, lens[0], &mut rng, &mut counts);
        let (nq, ne) = replicate(&c, 1, lens[1], &mut rng, &mut counts);
        for k in 0..3 {
            diffs[k].push(nq[k] - bq[k]);
        }
        diffs[3].push(ne - be);
    }
    let alpha = (1.0 - confidence).clamp(0.0, 1.0);
    let bounds = |d: &mut Vec<f64>| {
        d.sort_by(f64::total_cmp);
        let n = d.len();
        let lo = ((alpha / 2.0) * n as f64).floor() as usize;
        let hi = (((1.0 - alpha / 2.0) * n as f64).ceil() as usize).clamp(1, n) - 1;
        (d[lo.min(n - 1)], d[hi])
    };
    let [p50, p95, p99, err] = &mut diffs;
    Intervals {
        latency_ms: [bounds(p50), bounds(p95), bounds(p99)],
        error_rate: bounds(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::blocks::quantize;
    use rand_distr::{Distribution, LogNormal, Normal};

    /// `n` blocks of `per` requests each: log-normal latencies around
    /// `median_ms`, times a per-block level that follows an AR(1) process
    /// (`phi` the correlation of neighbouring blocks, `sd` the spread of
    /// the level in log terms), plus `shift_ms`.
    fn run(
        seed: u64,
        n: usize,
        per: u64,
        median_ms: f64,
        shift_ms: f64,
        phi: f64,
        sd: f64,
    ) -> Vec<Cell> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let noise = Normal::new(0.0, sd * (1.0 - phi * phi).sqrt()).unwrap();
        let each = LogNormal::new(0.0, 0.3).unwrap();
        let mut level = Normal::new(0.0, sd).unwrap().sample(&mut rng);
        (0..n)
            .map(|_| {
                level = phi * level + noise.sample(&mut rng);
                let mut c = Cell::default();
                for _ in 0..per {
                    let ms = median_ms * level.exp() * each.sample(&mut rng) + shift_ms;
                    *c.values.entry(quantize((ms * 1000.0) as u64)).or_default() += 1;
                    c.count += 1;
                }
                c
            })
            .collect()
    }

    fn at(cells: &[Cell]) -> Run<'_> {
        Run {
            cells,
            width_s: 0.25,
        }
    }

    /// The percentiles match HdrHistogram's reading of the same values.
    #[test]
    fn percentiles_read_as_hdrhistogram_does() {
        let cells = run(1, 8, 50, 20.0, 0.0, 0.0, 0.1);
        let mut all = Cell::default();
        for c in &cells {
            for (v, n) in &c.values {
                *all.values.entry(*v).or_default() += n;
            }
        }
        let h = all.histogram();
        let compact = Compact::of(std::slice::from_ref(&all), &[]);
        let counts: Vec<u64> = all.values.values().copied().collect();
        let q = quantiles(&compact.grid, &counts, h.len());
        for (i, want) in QUANTILES.iter().enumerate() {
            let hdr = h.value_at_quantile(*want) as f64 / 1000.0;
            // The cell's resolution is coarser than the histogram's: equal
            // up to 1%.
            assert!(
                (q[i] - hdr).abs() <= hdr * 0.01,
                "{want}: {} vs {hdr}",
                q[i]
            );
        }
    }

    #[test]
    fn the_interval_covers_a_known_difference() {
        // +5 ms on every request of the new run: every percentile moves by
        // 5 ms (within the values' 1% resolution).
        for seed in 0..5 {
            let base = run(seed, 40, 100, 20.0, 0.0, 0.5, 0.1);
            let new = run(seed + 100, 40, 100, 20.0, 5.0, 0.5, 0.1);
            let i = intervals(at(&base), at(&new), 1000, 0.95, 7);
            for (k, (lo, hi)) in i.latency_ms.iter().enumerate() {
                assert!(*lo > 0.0, "seed {seed} p{}: {lo}..{hi}", QUANTILES[k]);
                assert!(
                    *lo <= 5.3 && *hi >= 4.7,
                    "seed {seed} p{}: {lo}..{hi}",
                    QUANTILES[k]
                );
            }
            assert_eq!(i.error_rate, (0.0, 0.0));
        }
    }

    /// Two runs of one service whose speed wanders from second to second
    /// (neighbouring blocks correlated): the block bootstrap's interval of
    /// the median's difference holds 0 about as often as it promises,
    /// where resampling single blocks, as if they were independent, cries
    /// wolf far more often.
    #[test]
    fn autocorrelated_noise_does_not_trip_it() {
        let (mut blocks_flag, mut single_flag) = (0, 0);
        let trials = 40;
        // Neighbouring 250 ms blocks correlate by 0.6, a second apart by
        // 0.13: a service whose speed wanders over seconds.
        let phi = 0.6;
        for seed in 0..trials {
            let base = run(seed * 2, 40, 100, 20.0, 0.0, phi, 0.15);
            let new = run(seed * 2 + 1, 40, 100, 20.0, 0.0, phi, 0.15);
            let i = intervals(at(&base), at(&new), 600, 0.95, seed);
            let (lo, hi) = i.latency_ms[0];
            blocks_flag += usize::from(lo > 0.0 || hi < 0.0);
            let one = intervals_with(at(&base), at(&new), [1, 1], 600, 0.95, seed);
            let (lo, hi) = one.latency_ms[0];
            single_flag += usize::from(lo > 0.0 || hi < 0.0);
        }
        eprintln!("flagged: blocks {blocks_flag}/{trials}, single blocks {single_flag}/{trials}");
        // 95%: about 2 in 40 by chance.
        assert!(blocks_flag <= 5, "{blocks_flag} of {trials}");
        assert!(
            single_flag > blocks_flag + 3,
            "{single_flag} vs {blocks_flag}"
        );
    }

    #[test]
    fn error_rates_get_an_interval_too() {
        let mut base = run(3, 20, 50, 10.0, 0.0, 0.0, 0.05);
        let mut new = run(4, 20, 50, 10.0, 0.0, 0.0, 0.05);
        for c in &mut base {
            c.failed = 1;
        }
        for c in &mut new {
            c.failed = 10;
        }
        let i = intervals(at(&base), at(&new), 500, 0.95, 1);
        // 2% → 20%: exactly, since every block fails alike.
        assert!((i.error_rate.0 - 0.18).abs() < 1e-9, "{:?}", i.error_rate);
        assert!((i.error_rate.1 - 0.18).abs() < 1e-9, "{:?}", i.error_rate);
    }

    #[test]
    fn stretches_span_a_second_and_grow_with_the_run() {
        assert_eq!(block_len(12, 0.25), 4);
        assert_eq!(block_len(3, 0.25), 3);
        assert_eq!(block_len(128, 32.0), 6);
        assert_eq!(block_len(125, 1.0), 5);
    }

    #[test]
    fn seeded_and_deterministic() {
        let base = run(1, 20, 30, 5.0, 0.0, 0.5, 0.1);
        let new = run(2, 20, 30, 5.0, 0.0, 0.5, 0.1);
        assert_eq!(
            intervals(at(&base), at(&new), 300, 0.95, 9),
            intervals(at(&base), at(&new), 300, 0.95, 9)
        );
    }
}
