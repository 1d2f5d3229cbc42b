//! Per-interval time series and the bounded drift series for soak runs.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::hist;
use super::sample::Sample;

/// What was recorded since the last interval was taken. Mergeable, so
/// per-worker windows can be combined before closing the interval.
#[derive(Debug, Clone, Default)]
pub struct IntervalWindow {
    requests: u64,
    failed: u64,
    dropped: u64,
    duration: Option<Histogram<u64>>,
    endpoints: Vec<WindowEndpoint>,
}

#[derive(Debug, Clone, Default)]
struct WindowEndpoint {
    count: u64,
    failed: u64,
    duration: Option<Histogram<u64>>,
}

fn add_opt(dst: &mut Option<Histogram<u64>>, src: &Option<Histogram<u64>>) {
    if let Some(src) = src {
        hist::add(dst.get_or_insert_with(hist::new_histogram), src);
    }
}

impl IntervalWindow {
    pub(super) fn record(&mut self, s: &Sample) {
        self.requests += 1;
        self.failed += u64::from(s.failed());
        hist::record(
            self.duration.get_or_insert_with(hist::new_histogram),
            s.duration,
        );
        if self.endpoints.len() <= s.endpoint {
            self.endpoints
                .resize_with(s.endpoint + 1, WindowEndpoint::default);
        }
        let e = &mut self.endpoints[s.endpoint];
        e.count += 1;
        e.failed += u64::from(s.failed());
        hist::record(
            e.duration.get_or_insert_with(hist::new_histogram),
            s.duration,
        );
    }

    /// Empty the window, keeping histogram allocations.
    pub(super) fn reset(&mut self) {
        self.requests = 0;
        self.failed = 0;
        self.dropped = 0;
        let reset = |h: &mut Option<Histogram<u64>>| {
            if let Some(h) = h {
                h.reset();
            }
        };
        reset(&mut self.duration);
        for e in &mut self.endpoints {
            e.count = 0;
            e.failed = 0;
            reset(&mut e.duration);
        }
    }

    pub(super) fn record_dropped(&mut self) {
        self.dropped += 1;
    }

    /// Add another window's contents exactly.
    pub fn merge(&mut self, o: &IntervalWindow) {
        self.requests += o.requests;
        self.failed += o.failed;
        self.dropped += o.dropped;
        add_opt(&mut self.duration, &o.duration);
        if self.endpoints.len() < o.endpoints.len() {
            self.endpoints
                .resize_with(o.endpoints.len(), WindowEndpoint::default);
        }
        for (mine, theirs) in self.endpoints.iter_mut().zip(&o.endpoints) {
            mine.count += theirs.count;
            mine.failed += theirs.failed;
            add_opt(&mut mine.duration, &theirs.duration);
        }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.duration.as_ref().map_or(0, hist::heap_bytes)
            + self
                .endpoints
                .iter()
                .filter_map(|e| e.duration.as_ref())
                .map(hist::heap_bytes)
                .sum::<usize>()
    }

    /// Statistics for this window, which ended at `now` and lasted `span`.
    pub fn stats(&self, now: Duration, span: Duration) -> IntervalStats {
        let q = |h: &Option<Histogram<u64>>, q: f64| {
            h.as_ref()
                .filter(|h| !h.is_empty())
                .map(|h| h.value_at_quantile(q) as f64 / 1000.0)
        };
        let secs = span.as_secs_f64();
        IntervalStats {
            at_s: now.as_secs_f64(),
            interval_s: secs,
            requests: self.requests,
            rate: if secs > 0.0 {
                self.requests as f64 / secs
            } else {
                0.0
            },
            failed: self.failed,
            error_rate: ratio(self.failed, self.requests),
            dropped: self.dropped,
            p50_ms: q(&self.duration, 0.50),
            p90_ms: q(&self.duration, 0.90),
            p95_ms: q(&self.duration, 0.95),
            p99_ms: q(&self.duration, 0.99),
            endpoints: self
                .endpoints
                .iter()
                .enumerate()
                .filter(|(_, e)| e.count > 0)
                .map(|(i, e)| IntervalEndpoint {
                    endpoint: i,
                    count: e.count,
                    errors: e.failed,
                    p95_ms: q(&e.duration, 0.95),
                })
                .collect(),
        }
    }
}

fn ratio(n: u64, d: u64) -> f64 {
    if d == 0 {
        0.0
    } else {
        n as f64 / d as f64
    }
}

/// One point of the time series (`--out json=FILE.ndjson` writes one per
/// line). Latencies are `http_req_duration` in milliseconds; `null` when the
/// interval saw no completed request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalStats {
    /// End of the interval, seconds since the run started.
    pub at_s: f64,
    /// Length of the interval in seconds.
    pub interval_s: f64,
    /// Requests recorded in the interval (`http_reqs`).
    pub requests: u64,
    /// `requests / interval_s`.
    pub rate: f64,
    /// Failed requests (`http_req_failed` true values).
    pub failed: u64,
    /// `failed / requests` (0 when no requests).
    pub error_rate: f64,
    /// Scheduled requests not sent.
    pub dropped: u64,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Endpoints that saw requests in the interval.
    pub endpoints: Vec<IntervalEndpoint>,
}

/// Per-endpoint part of an [`IntervalStats`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalEndpoint {
    /// Index into the model's endpoint list (and the summary's `endpoints`).
    pub endpoint: usize,
    pub count: u64,
    /// Failed requests.
    pub errors: u64,
    pub p95_ms: Option<f64>,
}

/// At most this many drift points are kept; when full, neighbours are merged
/// pairwise (each point then covers twice the time).
pub const DRIFT_CAPACITY: usize = 512;

/// A bounded series of (p95, error rate) over the run. Whatever the run
/// length, it holds at most `DRIFT_CAPACITY` points covering the whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    points: Vec<DriftPoint>,
    /// Intervals per point (doubles at each compaction).
    stride: u32,
}

impl Default for Drift {
    fn default() -> Self {
        Drift {
            points: Vec::new(),
            stride: 1,
        }
    }
}

/// One drift point: possibly several consecutive intervals merged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftPoint {
    /// Start of the covered time, seconds since run start.
    pub start_s: f64,
    /// End of the covered time, seconds since run start.
    pub end_s: f64,
    /// Intervals merged into this point.
    pub intervals: u32,
    pub requests: u64,
    pub failed: u64,
    /// `http_req_duration` p95 in ms. For merged intervals: the request-
    /// weighted mean of the intervals' p95 (percentiles do not add).
    pub p95_ms: Option<f64>,
}

impl DriftPoint {
    pub fn error_rate(&self) -> f64 {
        ratio(self.failed, self.requests)
    }

    fn absorb(&mut self, o: &DriftPoint) {
        self.p95_ms = match (self.p95_ms, o.p95_ms) {
            (Some(a), Some(b)) => {
                let (wa, wb) = (self.requests as f64, o.requests as f64);
                Some(if wa + wb > 0.0 {
                    (a * wa + b * wb) / (wa + wb)
                } else {
                    a.max(b)
                })
            }
            (a, b) => a.or(b),
        };
        self.end_s = o.end_s;
        self.intervals += o.intervals;
        self.requests += o.requests;
        self.failed += o.failed;
    }
}

/// First vs last part of a run, for the soak report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftSummary {
    pub first_p95_ms: Option<f64>,
    pub last_p95_ms: Option<f64>,
    pub first_error_rate: f64,
    pub last_error_rate: f64,
}

impl Drift {
    pub fn push(&mut self, s: &IntervalStats) {
        let point = DriftPoint {
            start_s: s.at_s - s.interval_s,
            end_s: s.at_s,
            intervals: 1,
            requests: s.requests,
            failed: s.failed,
            p95_ms: s.p95_ms,
        };
        // After compaction a point covers `stride` intervals; keep filling
        // the last point until it does.
        if let Some(last) = self.points.last_mut() {
            if last.intervals < self.stride {
                last.absorb(&point);
                return;
            }
        }
        if self.points.len() == DRIFT_CAPACITY {
            self.compact();
            if let Some(last) = self.points.last_mut() {
                if last.intervals < self.stride {
                    last.absorb(&point);
                    return;
                }
            }
        }
        self.points.push(point);
    }

    fn compact(&mut self) {
        let mut merged = Vec::with_capacity(DRIFT_CAPACITY / 2 + 1);
        for pair in self.points.chunks(2) {
            let mut p = pair[0].clone();
            if let Some(q) = pair.get(1) {
                p.absorb(q);
            }
            merged.push(p);
        }
        self.points = merged;
        self.stride *= 2;
    }

    pub fn points(&self) -> &[DriftPoint] {
        &self.points
    }

    /// Compare the first and last tenth of the run; see [`drift_summary`].
    pub fn summary(&self) -> Option<DriftSummary> {
        drift_summary(&self.points)
    }
}

/// Compare the first and last tenth of a drift series (at least one point
/// each). `None` with fewer than two points.
pub fn drift_summary(points: &[DriftPoint]) -> Option<DriftSummary> {
    if points.len() < 2 {
        return None;
    }
    let n = (points.len() / 10).max(1);
    let part = |ps: &[DriftPoint]| {
        let mut acc = ps[0].clone();
        for p in &ps[1..] {
            acc.absorb(p);
        }
        acc
    };
    let first = part(&points[..n]);
    let last = part(&points[points.len() - n..]);
    Some(DriftSummary {
        first_p95_ms: first.p95_ms,
        last_p95_ms: last.p95_ms,
        first_error_rate: first.error_rate(),
        last_error_rate: last.error_rate(),
    })
}
