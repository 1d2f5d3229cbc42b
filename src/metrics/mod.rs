//! Metrics: what the executor measured, recorded into bounded memory.
//!
//! The executor hands over one [`Sample`] per finished (or failed) request
//! and one [`Dropped`] per scheduled request it could not send. A
//! [`Recorder`] keeps, per trend metric × endpoint × status class, an
//! HdrHistogram (microseconds, 3 significant digits, see [`hist`]) and plain
//! counters. Memory depends on the number of endpoints and on the value range,
//! never on run length: a sample is folded into histograms and counters and
//! then forgotten.
//!
//! Recorders are built per worker and combined with [`Recorder::merge`],
//! which is exact (histogram addition, counter sums). Histograms serialize
//! with [`hist::encode`] so shard summaries merge exactly later.
//!
//! Warmup samples are counted (see [`Recorder::warmup`]) and otherwise
//! ignored: they never reach a histogram, a counter or a threshold.
//!
//! Every `every` seconds the engine calls [`Recorder::take_interval`] for a
//! time-series point ([`IntervalStats`]); the recorder also keeps a bounded
//! [`Drift`] series (p95 and error rate over time) for soak runs.

pub mod blocks;
pub mod hist;
mod interval;
mod sample;

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

pub use interval::{
    drift_summary, Drift, DriftPoint, DriftSummary, IntervalEndpoint, IntervalStats, IntervalWindow,
};
pub use sample::{failed_status, DropReason, ErrorKind, Sample, StatusClass, TrendMetric};

/// Names for endpoints given as `(method, host, template)`: `METHOD
/// /template` (`GET /posts/{id}`), and `METHOD host/template` (`GET
/// www.cnn.com/`) for every endpoint whose method and template another
/// endpoint, on another host, shares — so no two names read the same.
/// The report, the `endpoint` threshold tag, the time series and
/// `generate` all use these names.
pub fn distinct_names<'a>(
    endpoints: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
) -> Vec<String> {
    let eps: Vec<(&str, &str, &str)> = endpoints.into_iter().collect();
    let mut seen: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (method, _, template) in &eps {
        *seen.entry((method, template)).or_default() += 1;
    }
    eps.iter()
        .map(|(method, host, template)| {
            if seen[&(*method, *template)] > 1 {
                format!("{method} {host}{template}")
            } else {
                format!("{method} {template}")
            }
        })
        .collect()
}

/// What reports and tag filters know about an endpoint of the model. The
/// engine builds these from the model's endpoint list, same order as
/// [`Sample::endpoint`] indexes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointDesc {
    pub method: String,
    pub host: String,
    /// Path template, e.g. `/posts/{id}`.
    pub template: String,
    /// Share of the recorded requests (0..=1).
    pub recorded_share: f64,
    /// The recording's responses by status code (the model's
    /// `response.status`): what the replay's status mix is compared with.
    /// Empty when the recording held no responses for the endpoint.
    #[serde(default)]
    pub recorded_status: BTreeMap<u16, u64>,
}

impl EndpointDesc {
    /// `METHOD template`, e.g. `GET /posts/{id}`: the `endpoint` tag value
    /// when no other endpoint reads the same (see [`EndpointDesc::names`]).
    pub fn name(&self) -> String {
        format!("{} {}", self.method, self.template)
    }

    /// The names that tell `endpoints` apart, in order: see
    /// [`distinct_names`].
    pub fn names(endpoints: &[EndpointDesc]) -> Vec<String> {
        distinct_names(
            endpoints
                .iter()
                .map(|e| (e.method.as_str(), e.host.as_str(), e.template.as_str())),
        )
    }

    /// Share of the recorded responses that failed by the rule of
    /// `http_req_failed` ([`failed_status`]); `None` without recorded
    /// responses, when there is nothing to compare the replay with.
    pub fn recorded_error_rate(&self) -> Option<f64> {
        let total: u64 = self.recorded_status.values().sum();
        let failed: u64 = self
            .recorded_status
            .iter()
            .filter(|(code, _)| failed_status(**code))
            .map(|(_, n)| n)
            .sum();
        (total > 0).then(|| failed as f64 / total as f64)
    }
}

/// A scheduled request that was not sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Dropped {
    pub endpoint: usize,
    pub reason: DropReason,
    /// Its intended send time, as an offset since the run started.
    pub at: Duration,
    /// Scheduled during `--warmup`.
    pub warmup: bool,
}

/// Which histogram: metric × endpoint × status class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HistKey {
    pub metric: TrendMetric,
    pub endpoint: usize,
    pub class: StatusClass,
}

/// Which per-code histogram: metric × endpoint × status code, for the
/// codes trend thresholds name (`http_req_duration{status:200}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CodeKey {
    pub metric: TrendMetric,
    pub endpoint: usize,
    pub code: u16,
}

/// Plain counters for one endpoint. Totals are sums over endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointCounters {
    /// Samples recorded (`http_reqs`): every sent request, failed or not.
    pub requests: u64,
    /// Samples with [`Sample::failed`] (`http_req_failed` true values).
    pub failed: u64,
    pub data_sent: u64,
    pub data_received: u64,
    /// Responses by status code (requests that ended without an error).
    pub status: BTreeMap<u16, u64>,
    /// Requests that ended with an error, by kind (a sample with neither a
    /// status nor an error counts as `other`).
    pub errors: BTreeMap<ErrorKind, u64>,
    /// Requests not sent, by reason.
    pub dropped: BTreeMap<DropReason, u64>,
}

impl EndpointCounters {
    fn merge(&mut self, o: &EndpointCounters) {
        self.requests += o.requests;
        self.failed += o.failed;
        self.data_sent += o.data_sent;
        self.data_received += o.data_received;
        for (k, v) in &o.status {
            *self.status.entry(*k).or_default() += v;
        }
        for (k, v) in &o.errors {
            *self.errors.entry(*k).or_default() += v;
        }
        for (k, v) in &o.dropped {
            *self.dropped.entry(*k).or_default() += v;
        }
    }

    /// Requests not sent, all reasons.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }

    /// Responses (not errors) with a status in `class`.
    pub fn status_in(&self, class: StatusClass) -> u64 {
        self.status
            .iter()
            .filter(|(s, _)| StatusClass::of_status(**s) == class)
            .map(|(_, n)| n)
            .sum()
    }
}

/// What happened during warmup: counted, excluded from results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarmupCounts {
    pub requests: u64,
    pub failed: u64,
    pub dropped: u64,
}

const METRICS: usize = 9;
const CLASSES: usize = 6;
type EndpointHists = [[Option<Histogram<u64>>; CLASSES]; METRICS];

fn metric_index(m: TrendMetric) -> usize {
    m as usize
}

fn class_index(c: StatusClass) -> usize {
    c as usize
}

/// Histograms and counters for one worker or for a whole run.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    /// Histograms indexed `[endpoint][metric][class]`, created on first use
    /// (a plain index on the hot path, no map lookup).
    hists: Vec<EndpointHists>,
    endpoints: Vec<EndpointCounters>,
    warmup: WarmupCounts,
    window: IntervalWindow,
    last_interval_at: Duration,
    drift: Drift,
    /// Per-endpoint latency in blocks of time, for `replay compare`.
    blocks: blocks::Blocks,
    /// Status codes kept apart from their class ([`Recorder::track_codes`]).
    codes: Vec<u16>,
    coded: BTreeMap<CodeKey, Histogram<u64>>,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder::default()
    }

    /// Also keep the trends of responses with these exact status codes
    /// apart (besides their class's), for thresholds that name a code
    /// (`http_req_duration{status:200}`), as k6 keeps a sub-metric only
    /// for thresholds. Costs nothing per sample when `codes` is empty.
    pub fn track_codes(&mut self, codes: impl IntoIterator<Item = u16>) {
        for c in codes {
            if !self.codes.contains(&c) {
                self.codes.push(c);
            }
        }
    }

    /// The codes kept apart ([`Recorder::track_codes`]).
    pub fn tracked_codes(&self) -> &[u16] {
        &self.codes
    }

    /// Fold one finished or failed request into the recorder.
    pub fn record(&mut self, s: &Sample) {
        if s.warmup {
            self.warmup.requests += 1;
            self.warmup.failed += u64::from(s.failed());
            return;
        }
        let class = s.class();
        let c = self.endpoint_mut(s.endpoint);
        c.requests += 1;
        c.failed += u64::from(s.failed());
        c.data_sent += s.bytes_sent;
        c.data_received += s.bytes_received;
        // Exactly one of status / error is counted, so that
        // requests == Σ status + Σ errors and the class matches.
        match (s.error, s.status) {
            (None, Some(code)) => *c.status.entry(code).or_default() += 1,
            (Some(kind), _) => *c.errors.entry(kind).or_default() += 1,
            (None, None) => *c.errors.entry(ErrorKind::Other).or_default() += 1,
        }
        // A code a threshold names is also kept apart (none by default).
        let code = s
            .status
            .filter(|c| s.error.is_none() && self.codes.contains(c));
        for &metric in TrendMetric::ALL {
            if let Some(d) = s.trend(metric) {
                let key = HistKey {
                    metric,
                    endpoint: s.endpoint,
                    class,
                };
                hist::record(self.hist_mut(key), d);
                if let Some(code) = code {
                    let key = CodeKey {
                        metric,
                        endpoint: s.endpoint,
                        code,
                    };
                    hist::record(self.coded.entry(key).or_insert_with(hist::new_histogram), d);
                }
            }
        }
        self.window.record(s);
        self.blocks.record(s.endpoint, s.at, s.duration, s.failed());
    }

    /// Count one scheduled request that could not be sent.
    pub fn record_dropped(&mut self, d: &Dropped) {
        if d.warmup {
            self.warmup.dropped += 1;
            return;
        }
        *self
            .endpoint_mut(d.endpoint)
            .dropped
            .entry(d.reason)
            .or_default() += 1;
        self.window.record_dropped();
    }

    fn hist_mut(&mut self, key: HistKey) -> &mut Histogram<u64> {
        if self.hists.len() <= key.endpoint {
            self.hists.resize_with(key.endpoint + 1, Default::default);
        }
        self.hists[key.endpoint][metric_index(key.metric)][class_index(key.class)]
            .get_or_insert_with(hist::new_histogram)
    }

    fn endpoint_mut(&mut self, endpoint: usize) -> &mut EndpointCounters {
        if self.endpoints.len() <= endpoint {
            self.endpoints
                .resize_with(endpoint + 1, EndpointCounters::default);
        }
        &mut self.endpoints[endpoint]
    }

    /// Add everything `other` recorded into `self`, exactly: histograms are
    /// added bucket by bucket, counters summed. This includes the pending
    /// (not yet taken) interval window. The [`Drift`] series is not merged:
    /// it belongs to the recorder [`take_interval`](Self::take_interval) is
    /// called on — but a recorder with no drift of its own takes `other`'s,
    /// so that merging per-thread recorders (of which one keeps the series)
    /// into a fresh one keeps it for the summary.
    pub fn merge(&mut self, other: &Recorder) {
        if self.drift.points().is_empty() {
            self.drift = other.drift.clone();
        }
        for (key, h) in other.histograms() {
            hist::add(self.hist_mut(key), h);
        }
        for (&key, h) in &other.coded {
            self.add_code_histogram(key, h);
        }
        self.track_codes(other.codes.iter().copied());
        for (i, c) in other.endpoints.iter().enumerate() {
            self.endpoint_mut(i).merge(c);
        }
        self.warmup.requests += other.warmup.requests;
        self.warmup.failed += other.warmup.failed;
        self.warmup.dropped += other.warmup.dropped;
        self.window.merge(&other.window);
        self.blocks.merge(&other.blocks);
    }

    /// Add blocks (e.g. decoded from a summary).
    pub fn add_blocks(&mut self, b: &blocks::Blocks) {
        self.blocks.merge(b);
    }

    /// Per-endpoint latency over time in blocks (see [`blocks`]).
    pub fn blocks(&self) -> &blocks::Blocks {
        &self.blocks
    }

    /// Insert a histogram (e.g. decoded from a summary) by adding it to
    /// whatever is already recorded under `key`.
    pub fn add_histogram(&mut self, key: HistKey, h: &Histogram<u64>) {
        hist::add(self.hist_mut(key), h);
        // Make sure the endpoint exists so reports list it.
        self.endpoint_mut(key.endpoint);
    }

    /// Insert a per-code histogram (e.g. decoded from a summary), adding it
    /// to what is recorded under `key`; its code is tracked from now on.
    pub fn add_code_histogram(&mut self, key: CodeKey, h: &Histogram<u64>) {
        self.track_codes([key.code]);
        hist::add(self.coded.entry(key).or_insert_with(hist::new_histogram), h);
        self.endpoint_mut(key.endpoint);
    }

    /// Every non-empty per-code histogram, in key order (metric, endpoint,
    /// code).
    pub fn code_histograms(&self) -> impl Iterator<Item = (CodeKey, &Histogram<u64>)> + '_ {
        self.coded
            .iter()
            .filter(|(_, h)| !h.is_empty())
            .map(|(k, h)| (*k, h))
    }

    /// One merged histogram of `metric` for responses with status `code`
    /// on the endpoints `select` accepts. `None` when the code was not
    /// tracked ([`Recorder::track_codes`]): nothing can be said of it.
    pub fn trend_of_code(
        &self,
        metric: TrendMetric,
        code: u16,
        mut select: impl FnMut(usize) -> bool,
    ) -> Option<Histogram<u64>> {
        if !self.codes.contains(&code) {
            return None;
        }
        let mut out = hist::new_histogram();
        for (k, h) in self.code_histograms() {
            if k.metric == metric && k.code == code && select(k.endpoint) {
                hist::add(&mut out, h);
            }
        }
        Some(out)
    }

    /// Add counters (e.g. decoded from a summary) for one endpoint.
    pub fn add_counters(&mut self, endpoint: usize, c: &EndpointCounters) {
        self.endpoint_mut(endpoint).merge(c);
    }

    /// Add warmup counts (e.g. decoded from a summary).
    pub fn add_warmup(&mut self, w: WarmupCounts) {
        self.warmup.requests += w.requests;
        self.warmup.failed += w.failed;
        self.warmup.dropped += w.dropped;
    }

    /// Every non-empty histogram, in key order (metric, endpoint, class).
    pub fn histograms(&self) -> impl Iterator<Item = (HistKey, &Histogram<u64>)> + '_ {
        TrendMetric::ALL.iter().flat_map(move |&metric| {
            self.hists
                .iter()
                .enumerate()
                .flat_map(move |(endpoint, per_metric)| {
                    StatusClass::ALL.iter().filter_map(move |&class| {
                        per_metric[metric_index(metric)][class_index(class)]
                            .as_ref()
                            .filter(|h| !h.is_empty())
                            .map(|h| {
                                (
                                    HistKey {
                                        metric,
                                        endpoint,
                                        class,
                                    },
                                    h,
                                )
                            })
                    })
                })
        })
    }

    /// One merged histogram of `metric` over the endpoints and classes that
    /// `select` accepts. Empty when nothing matches.
    pub fn trend_where(
        &self,
        metric: TrendMetric,
        mut select: impl FnMut(usize, StatusClass) -> bool,
    ) -> Histogram<u64> {
        let mut out = hist::new_histogram();
        for (k, h) in self.histograms() {
            if k.metric == metric && select(k.endpoint, k.class) {
                hist::add(&mut out, h);
            }
        }
        out
    }

    /// One merged histogram of `metric` over everything.
    pub fn trend(&self, metric: TrendMetric) -> Histogram<u64> {
        self.trend_where(metric, |_, _| true)
    }

    /// Per-endpoint counters, indexed by endpoint. May be shorter than the
    /// model's endpoint list (endpoints never seen have no entry).
    pub fn endpoints(&self) -> &[EndpointCounters] {
        &self.endpoints
    }

    /// Counters for one endpoint (zero when never seen).
    pub fn endpoint(&self, endpoint: usize) -> EndpointCounters {
        self.endpoints.get(endpoint).cloned().unwrap_or_default()
    }

    /// Counters summed over all endpoints.
    pub fn totals(&self) -> EndpointCounters {
        let mut t = EndpointCounters::default();
        for c in &self.endpoints {
            t.merge(c);
        }
        t
    }

    /// Warmup counts (excluded from everything else).
    pub fn warmup(&self) -> WarmupCounts {
        self.warmup
    }

    /// Approximate heap bytes held by histograms (counts arrays), including
    /// the pending interval window. For memory-bound tests and diagnostics.
    pub fn heap_bytes(&self) -> usize {
        self.histograms()
            .map(|(_, h)| hist::heap_bytes(h))
            .sum::<usize>()
            + self.coded.values().map(hist::heap_bytes).sum::<usize>()
            + self.window.heap_bytes()
            + self.blocks.heap_bytes()
    }

    /// Close the current interval at `now` (offset since run start) and
    /// return its statistics; also appends a point to [`drift`](Self::drift).
    /// Call it on one recorder every interval (default 1 s).
    pub fn take_interval(&mut self, now: Duration) -> IntervalStats {
        let mut window = std::mem::take(&mut self.window);
        let stats = self.interval_stats(&window, now);
        // Reset in place: keeps the histograms' allocations for the next
        // interval.
        window.reset();
        self.window = window;
        stats
    }

    fn interval_stats(&mut self, window: &IntervalWindow, now: Duration) -> IntervalStats {
        let span = now.saturating_sub(self.last_interval_at);
        self.last_interval_at = now;
        let stats = window.stats(now, span);
        self.drift.push(&stats);
        stats
    }

    /// Take the pending interval window, leaving an empty one. With
    /// per-worker recorders, take every worker's window, [`merge`] them
    /// (`IntervalWindow::merge`) and pass the result to
    /// [`close_interval`](Self::close_interval) on one recorder.
    ///
    /// [`merge`]: IntervalWindow::merge
    pub fn take_window(&mut self) -> IntervalWindow {
        std::mem::take(&mut self.window)
    }

    /// Turn a window into an interval point ending at `now`, and append it
    /// to the drift series.
    pub fn close_interval(&mut self, window: IntervalWindow, now: Duration) -> IntervalStats {
        self.interval_stats(&window, now)
    }

    /// The bounded p95 / error-rate series over the run (for soak drift).
    pub fn drift(&self) -> &Drift {
        &self.drift
    }
}

#[cfg(test)]
mod tests;
