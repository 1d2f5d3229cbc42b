//! The summary's `blocks` section: per-endpoint latency over time (see
//! [`crate::metrics::blocks`]), what `replay compare` and `run --baseline`
//! resample. Each non-empty (block, endpoint) cell is one entry with its
//! counts and an encoded HdrHistogram.

use serde::{Deserialize, Serialize};

use crate::metrics::blocks::{Blocks, Cell, BASE_WIDTH};
use crate::metrics::hist::{self, HistogramCodecError};

/// `blocks` of a summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlocksEntry {
    /// Width of every block, seconds (0.25 doubled as often as the run's
    /// length needed).
    pub width_s: f64,
    /// Every non-empty cell, by block then endpoint.
    pub cells: Vec<BlockCell>,
}

/// One endpoint's requests in one block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockCell {
    /// Block index: the block covers `[block × width_s, (block + 1) ×
    /// width_s)` seconds after the run started (intended send times).
    pub block: usize,
    /// Index into `endpoints`.
    pub endpoint: usize,
    /// Requests (failed or not).
    pub count: u64,
    /// Failed requests.
    pub failed: u64,
    /// `http_req_duration`, as `histograms[].data` encodes it (µs).
    pub data: String,
}

/// Why a summary's blocks could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BlocksError {
    #[error("blocks: width_s {0} is not 0.25 s times a power of two")]
    Width(f64),
    #[error("blocks: cell {index}: {source}")]
    Histogram {
        index: usize,
        source: HistogramCodecError,
    },
    #[error("blocks: cell {index}: endpoint {endpoint} is not in the summary's endpoints")]
    Endpoint { index: usize, endpoint: usize },
    #[error("blocks: cell {0}: block index too large")]
    Block(usize),
}

impl BlocksEntry {
    pub fn of(b: &Blocks) -> BlocksEntry {
        BlocksEntry {
            width_s: b.width().as_secs_f64(),
            cells: b
                .cells()
                .map(|(block, endpoint, c)| BlockCell {
                    block,
                    endpoint,
                    count: c.count,
                    failed: c.failed,
                    // Encoding into memory cannot fail for a valid histogram.
                    data: hist::encode(&c.histogram()).unwrap_or_default(),
                })
                .collect(),
        }
    }

    /// The blocks back, checked against a summary of `endpoints` endpoints.
    pub fn decode(&self, endpoints: usize) -> Result<Blocks, BlocksError> {
        let ratio = self.width_s / BASE_WIDTH.as_secs_f64();
        let doublings = ratio.log2().round();
        if !(0.0..=40.0).contains(&doublings) || (ratio - doublings.exp2()).abs() > 1e-6 {
            return Err(BlocksError::Width(self.width_s));
        }
        let width = BASE_WIDTH * (1u32 << doublings as u32);
        let mut out = Blocks::default();
        for (index, c) in self.cells.iter().enumerate() {
            if c.endpoint >= endpoints {
                return Err(BlocksError::Endpoint {
                    index,
                    endpoint: c.endpoint,
                });
            }
            let start = u32::try_from(c.block)
                .ok()
                .and_then(|b| width.checked_mul(b))
                .ok_or(BlocksError::Block(index))?;
            let h =
                hist::decode(&c.data).map_err(|source| BlocksError::Histogram { index, source })?;
            out.add_cell(
                start,
                width,
                c.endpoint,
                &Cell::from_histogram(c.count, c.failed, &h),
            );
        }
        Ok(out)
    }
}

impl BlocksEntry {
    /// The drift series (p95 and failures over time) from the blocks:
    /// adjacent blocks grouped into at most `points` points, each point's
    /// p95 exact (its blocks' histograms added). `replay merge` uses it:
    /// the shards' own drift series hold percentiles, which do not add.
    pub fn drift(&self, points: usize) -> Vec<crate::metrics::DriftPoint> {
        let Some(last) = self.cells.iter().map(|c| c.block).max() else {
            return Vec::new();
        };
        let blocks = last + 1;
        let group = blocks.div_ceil(points.max(1));
        let n = blocks.div_ceil(group);
        let mut hists: Vec<Option<hdrhistogram::Histogram<u64>>> = vec![None; n];
        let mut counts = vec![(0u64, 0u64); n];
        for c in &self.cells {
            let i = c.block / group;
            counts[i].0 += c.count;
            counts[i].1 += c.failed;
            if let Ok(h) = hist::decode(&c.data) {
                match &mut hists[i] {
                    Some(m) => {
                        let _ = m.add(&h);
                    }
                    slot => *slot = Some(h),
                }
            }
        }
        let width = self.width_s * group as f64;
        (0..n)
            .map(|i| crate::metrics::DriftPoint {
                start_s: i as f64 * width,
                end_s: (i + 1) as f64 * width,
                intervals: group as u32,
                requests: counts[i].0,
                failed: counts[i].1,
                p95_ms: hists[i]
                    .as_ref()
                    .filter(|h| !h.is_empty())
                    .map(|h| h.value_at_quantile(0.95) as f64 / 1000.0),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn blocks_round_trip_through_the_summary() {
        let mut b = Blocks::default();
        for i in 0..5000u64 {
            b.record(
                (i % 2) as usize,
                Duration::from_millis(i * 13),
                Duration::from_micros(300 + i * 17 % 40_000),
                i % 9 == 0,
            );
        }
        let entry = BlocksEntry::of(&b);
        let text = serde_json::to_string(&entry).unwrap();
        let back: BlocksEntry = serde_json::from_str(&text).unwrap();
        assert_eq!(back.decode(2).unwrap(), b);
        assert!(matches!(
            back.decode(1),
            Err(BlocksError::Endpoint { endpoint: 1, .. })
        ));
        let odd = BlocksEntry {
            width_s: 0.3,
            ..back
        };
        assert!(matches!(odd.decode(2), Err(BlocksError::Width(_))));
    }
}
