//! Per-endpoint latency over time in blocks of a fixed width: what
//! `replay compare` resamples to judge a difference between two runs
//! without assuming that the requests of one run are independent (they
//! are not: a slow second slows every request in it).
//!
//! A sample lands in the block of its intended send time (`Sample::at`,
//! an offset since the run started). Blocks start [`BASE_WIDTH`] wide;
//! when a run outlasts [`CAPACITY`] blocks, neighbours merge pairwise and
//! the width doubles, so a run of any length keeps at most `CAPACITY`
//! blocks. Each block keeps, per endpoint, the request and failure counts
//! and the `http_req_duration` values at the resolution of a
//! 2-significant-digit HdrHistogram (8 significant bits, under 0.8% apart:
//! [`quantize`]) in a sparse map. Memory follows the distinct latencies
//! seen — at most ~3,300 per endpoint and block over the whole clamped
//! range, far fewer in practice — never the run's length; a 1% resolution
//! is ample for judging a 10% change. Merging (workers, shards) is exact,
//! and the values encode exactly as 3-digit HdrHistograms.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::hist;

/// The width of a block before any coarsening: 250 ms.
pub const BASE_WIDTH: Duration = Duration::from_millis(250);

/// At most this many blocks are kept (a 32 s run at the base width; an
/// hour-long run has blocks of 32 s).
pub const CAPACITY: usize = 128;

/// Significant bits kept of a value.
const BITS: u32 = 8;
/// Values below this are kept exactly; above, the top [`BITS`] bits (as an
/// HdrHistogram with 2 significant digits does).
const EXACT_BELOW: u64 = 1 << BITS;

/// `v` (µs) at the resolution of a 2-significant-digit HdrHistogram: its
/// lowest equivalent value.
pub fn quantize(v: u64) -> u64 {
    if v < EXACT_BELOW {
        return v;
    }
    let shift = 64 - v.leading_zeros() - BITS;
    (v >> shift) << shift
}

/// The highest value equivalent to a [`quantize`]d one: what
/// HdrHistogram's `value_at_quantile` reports.
pub fn highest_equivalent(q: u64) -> u64 {
    if q < EXACT_BELOW {
        return q;
    }
    let shift = 64 - q.leading_zeros() - BITS;
    q + ((1u64 << shift) - 1)
}

/// One endpoint's requests in one block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cell {
    /// Requests recorded (failed or not).
    pub count: u64,
    /// Failed requests (the rule of `http_req_failed`).
    pub failed: u64,
    /// `http_req_duration` in µs, [`quantize`]d → count.
    pub values: BTreeMap<u64, u64>,
}

impl Cell {
    /// Add `o` into this cell.
    pub fn add(&mut self, o: &Cell) {
        self.count += o.count;
        self.failed += o.failed;
        for (v, n) in &o.values {
            *self.values.entry(*v).or_default() += n;
        }
    }

    /// The values as an HdrHistogram (exact: the values are already at its
    /// resolution).
    pub fn histogram(&self) -> Histogram<u64> {
        let mut h = hist::new_histogram();
        for (v, n) in &self.values {
            if h.record_n(*v, *n).is_err() {
                h.saturating_record_n(*v, *n);
            }
        }
        h
    }

    /// A cell of `count` requests, `failed` of them failed, with the
    /// values of `h`.
    pub fn from_histogram(count: u64, failed: u64, h: &Histogram<u64>) -> Cell {
        let mut values = BTreeMap::new();
        for v in h.iter_recorded() {
            *values.entry(quantize(v.value_iterated_to())).or_default() += v.count_at_value();
        }
        Cell {
            count,
            failed,
            values,
        }
    }
}

/// The blocks of a run: `cells[block][endpoint]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocks {
    width: Duration,
    cells: Vec<Vec<Cell>>,
}

impl Default for Blocks {
    fn default() -> Self {
        Blocks {
            width: BASE_WIDTH,
            cells: Vec::new(),
        }
    }
}

impl Blocks {
    /// The width of every block.
    pub fn width(&self) -> Duration {
        self.width
    }

    /// Record one request intended at `at` (since the run started).
    pub fn record(&mut self, endpoint: usize, at: Duration, duration: Duration, failed: bool) {
        let cell = self.cell_mut(at, endpoint);
        cell.count += 1;
        cell.failed += u64::from(failed);
        *cell
            .values
            .entry(quantize(hist::micros(duration)))
            .or_default() += 1;
    }

    /// Add `cell`, recorded in a block of `width` starting at `start`
    /// (e.g. decoded from a summary). `width` must be [`BASE_WIDTH`] times
    /// a power of two; a finer cell is added to the block containing it.
    pub fn add_cell(&mut self, start: Duration, width: Duration, endpoint: usize, cell: &Cell) {
        while self.width < width {
            self.coarsen();
        }
        self.cell_mut(start, endpoint).add(cell);
    }

    /// Add everything `o` recorded, exactly (at the coarser of the two
    /// widths).
    pub fn merge(&mut self, o: &Blocks) {
        for (b, endpoint, cell) in o.cells() {
            self.add_cell(o.width * b as u32, o.width, endpoint, cell);
        }
    }

    /// Every non-empty cell: (block index, endpoint, cell), by block then
    /// endpoint.
    pub fn cells(&self) -> impl Iterator<Item = (usize, usize, &Cell)> + '_ {
        self.cells.iter().enumerate().flat_map(|(b, row)| {
            row.iter()
                .enumerate()
                .filter(|(_, c)| c.count > 0)
                .map(move |(e, c)| (b, e, c))
        })
    }

    /// Blocks held (empty ones included).
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    fn cell_mut(&mut self, at: Duration, endpoint: usize) -> &mut Cell {
        let mut b = self.index(at);
        while b >= CAPACITY {
            self.coarsen();
            b = self.index(at);
        }
        if self.cells.len() <= b {
            self.cells.resize_with(b + 1, Vec::new);
        }
        let row = &mut self.cells[b];
        if row.len() <= endpoint {
            row.resize_with(endpoint + 1, Cell::default);
        }
        &mut row[endpoint]
    }

    fn index(&self, at: Duration) -> usize {
        (at.as_nanos() / self.width.as_nanos().max(1)) as usize
    }

    /// Merge neighbouring blocks pairwise; the width doubles.
    fn coarsen(&mut self) {
        let old = std::mem::take(&mut self.cells);
        for (i, row) in old.into_iter().enumerate() {
            let b = i / 2;
            if self.cells.len() <= b {
                self.cells.resize_with(b + 1, Vec::new);
            }
            let dst = &mut self.cells[b];
            if dst.len() < row.len() {
                dst.resize_with(row.len(), Cell::default);
            }
            for (d, c) in dst.iter_mut().zip(&row) {
                d.add(c);
            }
        }
        self.width *= 2;
    }

    /// Approximate heap bytes (for memory-bound checks).
    pub fn heap_bytes(&self) -> usize {
        self.cells
            .iter()
            .flatten()
            .map(|c| std::mem::size_of::<Cell>() + c.values.len() * 48)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantize_matches_hdrhistogram() {
        let mut h = Histogram::<u64>::new_with_max(hist::MAX_TRACKABLE_US, 2).unwrap();
        for v in [
            0u64,
            1,
            255,
            256,
            257,
            511,
            513,
            2049,
            123_456,
            3_599_999_999,
        ] {
            h.record(v).unwrap();
            assert_eq!(quantize(v), h.lowest_equivalent(v), "{v}");
            assert_eq!(
                highest_equivalent(quantize(v)),
                h.highest_equivalent(v),
                "{v}"
            );
        }
    }

    #[test]
    fn blocks_stay_bounded_and_merge_exactly() {
        let mut one = Blocks::default();
        let (mut a, mut b) = (Blocks::default(), Blocks::default());
        for i in 0..20_000u64 {
            let at = Duration::from_millis(i * 7);
            let d = Duration::from_micros(500 + i % 3000);
            one.record((i % 3) as usize, at, d, i % 11 == 0);
            // Two workers: b sees only the first half of the run, so it
            // stays finer than a until merged.
            if i % 2 == 0 || i >= 10_000 {
                a.record((i % 3) as usize, at, d, i % 11 == 0);
            } else {
                b.record((i % 3) as usize, at, d, i % 11 == 0);
            }
        }
        assert!(one.len() <= CAPACITY, "{}", one.len());
        // 140 s of run: 128 blocks of 250 ms doubled three times.
        assert_eq!(one.width(), Duration::from_secs(2));
        assert!(b.width() < a.width());
        b.merge(&a);
        assert_eq!(b, one);
        let total: u64 = one.cells().map(|(_, _, c)| c.count).sum();
        assert_eq!(total, 20_000);
    }

    #[test]
    fn cells_round_trip_through_histograms() {
        let mut c = Cell::default();
        for v in [3u64, 900, 2500, 70_001, 70_001, 1_000_000] {
            *c.values.entry(quantize(v)).or_default() += 1;
        }
        c.count = 6;
        c.failed = 1;
        let back = Cell::from_histogram(6, 1, &c.histogram());
        assert_eq!(back, c);
    }
}
