//! The arrival process and client sessions, learned from request times.
//!
//! The builder keeps one 16-byte record per request (time, endpoint,
//! client); here they are sorted and summarised into:
//!
//! - [`Arrival`]: capture start/end, the rate over time in bins, the
//!   inter-arrival distribution ([`LogHist`], microseconds to hours) and its
//!   coefficient of variation (burstiness), all over a timeline whose idle
//!   gaps longer than `--max-gap` are compressed to it ([`CompressedGaps`]),
//!   so captures years apart and month-long HARs make one continuous
//!   recording;
//! - [`Sessions`]: per-client request sequences split at long idle gaps,
//!   with endpoint-to-endpoint transition counts, start/end counts, think
//!   times and session lengths.

use std::collections::BTreeMap;

use super::hist::LogHist;

/// A gap longer than this between two requests of one client starts a new
/// session.
pub const SESSION_IDLE_SPLIT_S: f64 = 30.0 * 60.0;
/// At most this many rate bins.
const MAX_BINS: f64 = 240.0;
/// `record --max-gap` when not given: longer idle gaps between consecutive
/// requests are compressed to this.
pub const DEFAULT_MAX_GAP_S: f64 = 300.0;

/// What gap compression did to the timeline.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompressedGaps {
    /// The longest gap kept (`--max-gap`), seconds.
    pub max_gap_s: f64,
    /// Gaps between consecutive requests that were longer.
    pub gaps: u64,
    /// Time taken out of the timeline, seconds: Σ (gap − max_gap_s).
    pub removed_s: f64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Arrival {
    /// First request, Unix ns.
    pub start_ns: i64,
    /// Last request start, Unix ns.
    pub end_ns: i64,
    pub requests: u64,
    /// Width of a rate bin, seconds.
    pub bin_s: f64,
    /// Requests starting in each bin, from `start_ns`.
    pub bins: Vec<u64>,
    /// Gaps between consecutive request starts, seconds.
    pub inter_arrival_s: LogHist,
    /// Gaps between consecutive requests in operational time: recorded
    /// requests the rate curve (`bins`) expects between them, so about 1
    /// on average whatever the rate was. The schedule draws these: the
    /// curve already carries the busy and quiet stretches, which the raw
    /// gaps above would count a second time. Empty in models written
    /// before the field (the schedule then uses the raw gaps).
    pub operational_gaps: LogHist,
    /// Idle gaps compressed out of the timeline (none: all zero). The bins
    /// and gaps above are over the compressed timeline; `start_ns` and
    /// `end_ns` are the real first and last request.
    pub compressed: CompressedGaps,
}

impl Arrival {
    /// Recorded duration in seconds (first to last request start, less
    /// the compressed idle time; at least one bin so a single request
    /// still has a rate).
    pub fn duration_s(&self) -> f64 {
        let d = span_s(self.start_ns, self.end_ns) - self.compressed.removed_s;
        if d > 0.0 {
            d
        } else {
            self.bin_s.max(1.0)
        }
    }

    /// Mean request rate over the recording, per second.
    pub fn mean_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.requests as f64 / self.duration_s()
        }
    }

    /// Coefficient of variation of inter-arrival gaps: 1 for Poisson
    /// arrivals, above 1 for bursty traffic.
    pub fn burstiness(&self) -> f64 {
        self.inter_arrival_s.cv()
    }

    /// Highest bin rate over the mean rate.
    pub fn peak_to_mean(&self) -> f64 {
        let peak = self.bins.iter().copied().max().unwrap_or(0) as f64;
        let mean = self.bins.iter().sum::<u64>() as f64 / self.bins.len().max(1) as f64;
        if mean > 0.0 {
            peak / mean
        } else {
            0.0
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sessions {
    /// Distinct clients (connection, IP or cookie, whatever the capture
    /// knew).
    pub clients: u64,
    pub sessions: u64,
    pub idle_split_s: f64,
    /// Sessions that started with each endpoint.
    pub starts: BTreeMap<usize, u64>,
    /// (from, to) → count of consecutive requests within a session.
    pub transitions: BTreeMap<(usize, usize), u64>,
    /// Sessions that ended with each endpoint.
    pub ends: BTreeMap<usize, u64>,
    /// Gaps between consecutive requests of a session, seconds.
    pub think_time_s: LogHist,
    /// Requests per session.
    pub length: LogHist,
}

/// One request as kept for the arrival process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Record {
    pub ts_ns: i64,
    pub client: u32,
    pub endpoint: u32,
}

/// Seconds from `from_ns` to `to_ns`, without overflow: timestamps come
/// from captures and model files, and two of them can be further apart
/// than `i64` nanoseconds can express.
pub fn span_s(from_ns: i64, to_ns: i64) -> f64 {
    // i64 when the difference fits (always, for plausible timestamps): the
    // same value as through i128, without the slow i128 to f64 conversion.
    match to_ns.checked_sub(from_ns) {
        Some(d) => d as f64 / 1e9,
        None => (i128::from(to_ns) - i128::from(from_ns)) as f64 / 1e9,
    }
}

/// A "nice" bin width (1, 2, 5 × 10^k seconds) of at least `min_s`.
fn nice_width(min_s: f64) -> f64 {
    if min_s <= 0.001 {
        return 0.001;
    }
    let exp = min_s.log10().floor();
    let base = 10f64.powf(exp);
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * base >= min_s * (1.0 - 1e-9) {
            return m * base;
        }
    }
    10.0 * base
}

/// Shortens every gap between consecutive records (sorted) longer than
/// `max_gap_s` to it, moving the later records earlier; returns what was
/// removed.
fn compress_gaps(records: &mut [Record], max_gap_s: f64) -> CompressedGaps {
    let max_ns = (max_gap_s * 1e9) as i128;
    let mut out = CompressedGaps {
        max_gap_s,
        ..Default::default()
    };
    let Some(first) = records.first() else {
        return out;
    };
    let (mut prev, mut shift) = (i128::from(first.ts_ns), 0i128);
    for r in records.iter_mut() {
        let t = i128::from(r.ts_ns);
        if t - prev > max_ns {
            shift += t - prev - max_ns;
            out.gaps += 1;
        }
        prev = t;
        // At least the first record's time, so within i64.
        r.ts_ns = (t - shift) as i64;
    }
    out.removed_s = shift as f64 / 1e9;
    if out.gaps == 0 {
        // Nothing compressed reads (and round-trips) as no compression.
        return CompressedGaps::default();
    }
    out
}

/// `cumulative[i]` = recorded requests in bins before `i`; last = total.
pub fn cumulative(arrival: &Arrival) -> Vec<f64> {
    let mut cumulative = Vec::with_capacity(arrival.bins.len() + 1);
    let mut acc = 0.0;
    cumulative.push(0.0);
    for b in &arrival.bins {
        acc += *b as f64;
        cumulative.push(acc);
    }
    cumulative
}

/// Recorded requests before curve time `c` (seconds), the curve repeating
/// after the recorded duration: the inverse of the schedule's `curve_time`,
/// with the same bins (the last one partial).
pub fn curve_requests(arrival: &Arrival, cumulative: &[f64], c: f64) -> f64 {
    let total = *cumulative.last().unwrap_or(&0.0);
    let period = arrival.duration_s();
    if total <= 0.0 || period <= 0.0 || arrival.bins.is_empty() || c <= 0.0 {
        return c.max(0.0) * arrival.mean_rate();
    }
    let k = (c / period).floor();
    let r = c - k * period;
    let w = arrival.bin_s;
    let i = ((r / w) as usize).min(arrival.bins.len() - 1);
    let lo = i as f64 * w;
    let hi = ((i + 1) as f64 * w).min(period).max(lo);
    let frac = if hi > lo {
        ((r - lo) / (hi - lo)).clamp(0.0, 1.0)
    } else {
        1.0
    };
    k * total + cumulative[i] + frac * arrival.bins[i] as f64
}

/// Summarises the records (sorted here) into the arrival process, over a
/// timeline whose gaps longer than `max_gap_s` (when given) are
/// compressed to it. The records are left sorted, with compressed times.
pub fn arrival(records: &mut [Record], max_gap_s: Option<f64>) -> Arrival {
    records.sort_unstable();
    let Some(first) = records.first() else {
        return Arrival {
            bin_s: 1.0,
            ..Default::default()
        };
    };
    let start_ns = first.ts_ns;
    let end_ns = records.last().map(|r| r.ts_ns).unwrap_or(start_ns);
    let compressed = max_gap_s.map_or_else(CompressedGaps::default, |m| compress_gaps(records, m));
    let n = records.len() as f64;
    let duration = span_s(start_ns, end_ns) - compressed.removed_s;
    // About 240 bins over the capture, but at least ~4 requests per bin on
    // average so the curve is a rate, not a copy of the timestamps.
    let bin_s = if duration > 0.0 {
        nice_width((duration / MAX_BINS).max(4.0 * duration / n))
    } else {
        1.0
    };
    let nbins = ((duration / bin_s).floor() as usize + 1).max(1);
    let mut bins = vec![0u64; nbins];
    for r in records.iter() {
        let off = span_s(start_ns, r.ts_ns);
        let i = ((off / bin_s) as usize).min(nbins - 1);
        bins[i] += 1;
    }
    let mut gaps = LogHist::new();
    for w in records.windows(2) {
        gaps.record(span_s(w[0].ts_ns, w[1].ts_ns));
    }
    let mut a = Arrival {
        start_ns,
        end_ns,
        requests: records.len() as u64,
        bin_s,
        bins,
        inter_arrival_s: gaps,
        operational_gaps: LogHist::new(),
        compressed,
    };
    let cum = cumulative(&a);
    // Within one period: the last request sits at its end.
    let at = |ts: i64| curve_requests(&a, &cum, span_s(start_ns, ts).min(duration));
    let mut op = LogHist::new();
    for w in records.windows(2) {
        op.record((at(w[1].ts_ns) - at(w[0].ts_ns)).max(0.0));
    }
    a.operational_gaps = op;
    a
}

/// Splits each client's requests into sessions and counts transitions.
/// `records` must be sorted by time (as [`arrival`] leaves them).
pub fn sessions(records: &[Record]) -> Sessions {
    let mut last: rustc_hash::FxHashMap<u32, (i64, u32, u64)> = Default::default();
    let mut s = Sessions {
        idle_split_s: SESSION_IDLE_SPLIT_S,
        ..Default::default()
    };
    let split_ns = (SESSION_IDLE_SPLIT_S * 1e9) as i64;
    for r in records {
        let ep = r.endpoint;
        match last.get_mut(&r.client) {
            Some((ts, prev_ep, len))
                if i128::from(r.ts_ns) - i128::from(*ts) <= i128::from(split_ns) =>
            {
                *s.transitions
                    .entry((*prev_ep as usize, ep as usize))
                    .or_insert(0) += 1;
                s.think_time_s.record(span_s(*ts, r.ts_ns));
                *ts = r.ts_ns;
                *prev_ep = ep;
                *len += 1;
            }
            Some(entry) => {
                // Idle too long: close the session, start another.
                *s.ends.entry(entry.1 as usize).or_insert(0) += 1;
                s.length.record(entry.2 as f64);
                *s.starts.entry(ep as usize).or_insert(0) += 1;
                s.sessions += 1;
                *entry = (r.ts_ns, ep, 1);
            }
            None => {
                *s.starts.entry(ep as usize).or_insert(0) += 1;
                s.sessions += 1;
                last.insert(r.client, (r.ts_ns, ep, 1));
            }
        }
    }
    s.clients = last.len() as u64;
    for (_, (_, ep, len)) in last {
        *s.ends.entry(ep as usize).or_insert(0) += 1;
        s.length.record(len as f64);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(ts_ms: i64, client: u32, endpoint: u32) -> Record {
        Record {
            ts_ns: ts_ms * 1_000_000,
            client,
            endpoint,
        }
    }

    /// Regression: a HAR with entries in 1700 and 2250 made `record` panic
    /// with "attempt to subtract with overflow" (the span exceeds i64 ns).
    #[test]
    fn timestamps_further_apart_than_i64_ns_do_not_overflow() {
        let mut rs = vec![
            Record {
                ts_ns: i64::MIN,
                client: 0,
                endpoint: 0,
            },
            Record {
                ts_ns: i64::MAX,
                client: 0,
                endpoint: 0,
            },
        ];
        let a = arrival(&mut rs, None);
        assert!(a.duration_s() > 1.8e10, "{}", a.duration_s());
        assert_eq!(a.bins.iter().sum::<u64>(), 2);
        let s = sessions(&rs);
        assert_eq!(s.sessions, 2);
    }

    #[test]
    fn arrival_from_unsorted_records() {
        let mut rs: Vec<Record> = (0..100).rev().map(|i| rec(i * 100, 0, 0)).collect();
        let a = arrival(&mut rs, None);
        assert_eq!(a.requests, 100);
        assert!((a.duration_s() - 9.9).abs() < 1e-9);
        assert!((a.mean_rate() - 100.0 / 9.9).abs() < 1e-6);
        assert_eq!(a.bins.iter().sum::<u64>(), 100);
        assert_eq!(a.inter_arrival_s.count, 99);
        assert!(a.burstiness() < 0.01, "metronome");
        assert!(a.bins.len() <= 241);
    }

    #[test]
    fn bin_width_keeps_a_rate_not_timestamps() {
        let mut rs: Vec<Record> = (0..10).map(|i| rec(i * 1000, 0, 0)).collect();
        let a = arrival(&mut rs, None);
        // 10 requests over 9 s: ~4 per bin → 5 s bins.
        assert_eq!(a.bin_s, 5.0);
        assert_eq!(a.bins, vec![5, 5]);
    }

    #[test]
    fn sessions_split_and_transitions() {
        let mut rs = vec![
            rec(0, 1, 0),
            rec(1000, 1, 1),
            rec(2000, 1, 1),
            rec(500, 2, 0),
            // Client 1 comes back an hour later: a new session.
            rec(3_600_000, 1, 2),
        ];
        let _ = arrival(&mut rs, None);
        let s = sessions(&rs);
        assert_eq!(s.clients, 2);
        assert_eq!(s.sessions, 3);
        assert_eq!(s.transitions[&(0, 1)], 1);
        assert_eq!(s.transitions[&(1, 1)], 1);
        assert_eq!(s.starts[&0], 2);
        assert_eq!(s.starts[&2], 1);
        assert_eq!(s.ends.values().sum::<u64>(), 3);
        assert_eq!(s.think_time_s.count, 2);
        assert_eq!(s.length.count, 3);
    }

    #[test]
    fn gaps_over_the_maximum_are_compressed() {
        // 10 requests 1 s apart, a year idle, 10 more 1 s apart.
        let year_ms = 365 * 24 * 3_600_000i64;
        let mut rs: Vec<Record> = (0..10)
            .map(|i| rec(i * 1000, 0, 0))
            .chain((0..10).map(|i| rec(year_ms + i * 1000, 0, 0)))
            .collect();
        let a = arrival(&mut rs, Some(300.0));
        assert_eq!(a.compressed.gaps, 1);
        let removed = year_ms as f64 / 1e3 - 9.0 - 300.0;
        assert!((a.compressed.removed_s - removed).abs() < 1e-6);
        assert!((a.duration_s() - (9.0 + 300.0 + 9.0)).abs() < 1e-6);
        assert!((a.mean_rate() - 20.0 / 318.0).abs() < 1e-9);
        assert_eq!(a.end_ns, (year_ms + 9000) * 1_000_000, "the real end");
        assert!(a.inter_arrival_s.max <= 300.0 + 1e-9);
        assert_eq!(a.bins.iter().sum::<u64>(), 20);
    }
}
