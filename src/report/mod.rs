//! Report: one [`Summary`] type and pure serializers of it.
//!
//! [`Summary::build`] turns a merged [`Recorder`], the run's [`RunMeta`] and
//! the threshold results into the summary; everything else only formats it:
//!
//! - JSON (`--summary-export`): `serde_json` of [`Summary`], k6's
//!   `--summary-export` layout for the shared metrics plus what k6 lacks.
//!   A contract for CI scripts: documented in `docs/summary-format.md` and
//!   pinned by a shape snapshot test.
//! - the text end-of-run report: [`text::render`];
//! - the per-interval time series (`--out json=FILE.ndjson`):
//!   [`ndjson::IntervalWriter`].
//!
//! Summaries carry every histogram (base64 HdrHistogram V2 + DEFLATE), so
//! [`merge_summaries`] combines shard summaries exactly. Files are written
//! atomically ([`file`](mod@file)).

pub mod blocks;
pub mod comparison;
pub mod file;
pub mod hlog;
pub mod html;
pub mod junit;
pub mod ndjson;
pub mod shards;
mod svg;
pub mod text;

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::metrics::hist::{self, HistogramCodecError};
use crate::metrics::{
    CodeKey, DriftPoint, DropReason, EndpointCounters, EndpointDesc, ErrorKind, HistKey, Recorder,
    StatusClass, TrendMetric, WarmupCounts,
};
use crate::threshold::{self, Selection, ThresholdResult};

/// The `format` value of a summary file.
pub const FORMAT: &str = "replay-summary";
/// The summary format version this build writes and reads.
pub const VERSION: u32 = 1;

/// What the engine knows about the run besides the measurements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    #[serde(with = "seed_string")]
    pub seed: u64,
    /// Measured duration (warmup excluded), seconds: from the first
    /// intended send to the end of the last request.
    pub duration_s: f64,
    /// The planned duration (`--duration`, warmup excluded), seconds.
    #[serde(default)]
    pub planned_duration_s: f64,
    /// Whether the run went to its end or was cut short.
    #[serde(default)]
    pub ended: Ended,
    /// Mean intended request rate over the measured duration, per second.
    pub intended_rate: f64,
    /// Rate multiplier over the recorded rate (`--scale`); `None` with
    /// `--rate`.
    pub scale: Option<f64>,
    pub target: String,
    /// The command line that reproduces the run.
    pub command: String,
    /// The built-in mock's latency mode (`recorded`, `none`, `20ms`) when
    /// the run had no `--target`; `None` against a real target.
    #[serde(default)]
    pub mock: Option<String>,
    /// The shards this summary covers: `["2/3"]` for one shard of a
    /// `--shard` run, every merged shard for `replay merge`; empty for an
    /// unsharded run.
    #[serde(default)]
    pub shards: Vec<String>,
    /// The model's endpoints; `Sample::endpoint` indexes this list.
    pub endpoints: Vec<EndpointDesc>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ended {
    /// The schedule ran to its end (for a stress profile: to the step
    /// that broke, or the last).
    #[default]
    Completed,
    /// Ctrl-C or SIGTERM: the results cover the part that ran.
    Interrupted,
    /// `--abort-on-fail` stopped it when a threshold was lost.
    Aborted,
    /// Every request of its first seconds failed the same way (a wrong
    /// port, an untrusted certificate…): stopped, exit code 1.
    FailedFast,
}

/// Request accounting for the measured part of the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requests {
    /// Scheduled: `sent + dropped`.
    pub intended: u64,
    /// Sent (`http_reqs`), failed or not.
    pub sent: u64,
    /// Sent and answered with a status (no transport error).
    pub completed: u64,
    /// Sent and counted as failed (`http_req_failed`).
    pub failed: u64,
    /// Scheduled but not sent (`dropped_requests`).
    pub dropped: u64,
    /// Sent during `--warmup` (not measured).
    pub warmup: u64,
    /// Not sent during `--warmup`.
    pub warmup_dropped: u64,
}

/// One entry of `metrics`: trend, counter or rate fields, as k6 names them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricSummary {
    /// Trends: number of values (not in k6's export; 0 means no data).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub avg: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub med: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub max: Option<f64>,
    #[serde(rename = "p(90)", skip_serializing_if = "Option::is_none", default)]
    pub p90: Option<f64>,
    #[serde(rename = "p(95)", skip_serializing_if = "Option::is_none", default)]
    pub p95: Option<f64>,
    #[serde(rename = "p(99)", skip_serializing_if = "Option::is_none", default)]
    pub p99: Option<f64>,
    #[serde(rename = "p(99.9)", skip_serializing_if = "Option::is_none", default)]
    pub p999: Option<f64>,
    /// Counters: per second of `duration_s`; `http_req_failed`: the
    /// fraction of failed requests.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rate: Option<f64>,
    /// `http_req_failed` only: same as `rate` (k6's name for a Rate's value).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub value: Option<f64>,
    /// `http_req_failed` only: requests that FAILED (k6: true values).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub passes: Option<u64>,
    /// `http_req_failed` only: requests that did not fail (k6: false values).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fails: Option<u64>,
    /// Threshold condition (`p(95)<500ms`) → outcome.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub thresholds: BTreeMap<String, ThresholdOk>,
}

/// A threshold's outcome under `metrics.<name>.thresholds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThresholdOk {
    pub ok: bool,
}

/// `http_req_duration` statistics of one endpoint, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrendFields {
    pub avg: f64,
    pub min: f64,
    pub med: f64,
    pub max: f64,
    #[serde(rename = "p(50)")]
    pub p50: f64,
    #[serde(rename = "p(90)")]
    pub p90: f64,
    #[serde(rename = "p(95)")]
    pub p95: f64,
    #[serde(rename = "p(99)")]
    pub p99: f64,
    #[serde(rename = "p(99.9)")]
    pub p999: f64,
}

/// One endpoint of the model and what it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointSummary {
    pub method: String,
    pub host: String,
    pub template: String,
    /// Requests sent (failed or not).
    pub count: u64,
    pub recorded_share: f64,
    /// `count / requests.sent`.
    pub replayed_share: f64,
    pub http_req_duration: TrendFields,
    /// `failed / count`.
    pub error_rate: f64,
    pub failed: u64,
    /// Responses by status code (as strings, JSON keys).
    pub status: BTreeMap<String, u64>,
    /// The recording's responses by status code, to set beside `status`
    /// (absent in summaries written before the field: empty).
    #[serde(default)]
    pub recorded_status: BTreeMap<String, u64>,
    /// Share of `recorded_status` that failed by the rule of
    /// `http_req_failed`; `None` without recorded responses.
    #[serde(default)]
    pub recorded_error_rate: Option<f64>,
    /// Transport failures by kind.
    pub errors: BTreeMap<String, u64>,
    /// Not sent, by reason.
    pub dropped: BTreeMap<String, u64>,
    pub data_sent: u64,
    pub data_received: u64,
}

impl EndpointSummary {
    /// How far the replayed error share may exceed the recorded one before
    /// the report flags the endpoint: 1 percentage point.
    pub const DRIFT_FLAG: f64 = 0.01;

    /// Whether the replay failed more often than the recording did, by
    /// more than [`DRIFT_FLAG`](Self::DRIFT_FLAG). False without requests
    /// or without recorded responses.
    pub fn error_share_grew(&self) -> bool {
        self.count > 0
            && self
                .recorded_error_rate
                .is_some_and(|r| self.error_rate > r + Self::DRIFT_FLAG)
    }
}

/// One serialized histogram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistogramEntry {
    /// Trend metric name, e.g. `http_req_duration`.
    pub metric: String,
    /// Index into `endpoints`.
    pub endpoint: usize,
    /// Status class: `1xx`..`5xx` or `error`.
    pub status: String,
    /// Base64 of the HdrHistogram V2 + DEFLATE encoding; values in µs.
    pub data: String,
}

/// The end-of-run summary; its JSON form is the `--summary-export` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub format: String,
    pub version: u32,
    /// A string in JSON: a 64-bit number does not survive readers that
    /// parse numbers as doubles (JavaScript, jq 1.6). Summaries written
    /// with a numeric seed are still read.
    #[serde(with = "seed_string")]
    pub seed: u64,
    /// Measured: first intended send to the end of the last request.
    pub duration_s: f64,
    /// Planned (`--duration`); 0 in summaries written before the field.
    #[serde(default)]
    pub planned_duration_s: f64,
    /// `completed`, or `interrupted` / `aborted` when the run was cut
    /// short (absent in summaries written before the field: completed).
    #[serde(default)]
    pub ended: Ended,
    pub intended_rate: f64,
    /// `requests.sent / duration_s`.
    pub achieved_rate: f64,
    pub scale: Option<f64>,
    pub target: String,
    /// The built-in mock's latency mode when the run had no `--target`
    /// (its latencies are the mock's, drawn from the recording); null
    /// against a real target, and in summaries written before the field.
    #[serde(default)]
    pub mock: Option<String>,
    /// The shards this summary covers (`--shard`, `replay merge`): absent
    /// for an unsharded run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<String>,
    pub command: String,
    pub requests: Requests,
    /// Transport failures by kind (all endpoints).
    pub errors: BTreeMap<String, u64>,
    /// The first message of each kind in `errors`: what failed, and the
    /// flag that fixes it when there is one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors_detail: BTreeMap<String, String>,
    /// How connections reached the target, when not directly with the
    /// default trust: the proxy, `--resolve`, `--host`, `--insecure`,
    /// `--cacert`, `--cert`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network: Vec<String>,
    /// Not-sent requests by reason (all endpoints).
    pub dropped: BTreeMap<String, u64>,
    pub metrics: BTreeMap<String, MetricSummary>,
    /// Every threshold, in the order given.
    pub thresholds: Vec<ThresholdResult>,
    pub endpoints: Vec<EndpointSummary>,
    /// p95 and error rate over time (bounded; empty for merged summaries).
    pub drift: Vec<DriftPoint>,
    pub histograms: Vec<HistogramEntry>,
    /// Trends of single status codes that thresholds named
    /// (`http_req_duration{status:200}`), kept apart from `histograms` (which
    /// hold every response once, by class); `status` is the code. Absent
    /// when no threshold named a code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status_histograms: Vec<HistogramEntry>,
    /// Per-endpoint `http_req_duration` in blocks of time, for `replay
    /// compare` (absent in summaries written before the field, and in a
    /// merge of such summaries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocks: Option<blocks::BlocksEntry>,
    /// `--profile stress`: every step and the breaking point (absent for
    /// other profiles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stress: Option<StressSummary>,
    /// `run --baseline`: this run compared with the baseline's summary,
    /// as `replay compare --format json` writes it (absent without
    /// `--baseline`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<comparison::Comparison>,
    /// The default guards that applied and whether they held (a broken one
    /// made the run exit 99 although every threshold passed). Empty with
    /// `--no-default-thresholds` and in summaries written before the field.
    #[serde(default)]
    pub guards: Vec<GuardResult>,
}

/// One default guard's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardResult {
    pub name: String,
    pub ok: bool,
    /// Why it broke (absent when it held).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The steps of a stress run and where it broke.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StressSummary {
    /// The label of the largest step that passed (`null` when the first
    /// already failed).
    pub largest_passing_step: Option<String>,
    /// The label of the first step that failed (`null` when all passed).
    pub first_failing_step: Option<String>,
    pub steps: Vec<StressStep>,
}

/// One step of a stress run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StressStep {
    pub step: String,
    pub scale: Option<f64>,
    pub thresholds_ok: bool,
    pub error_rate: f64,
    pub p95_ms: f64,
    pub achieved_rate: f64,
}

/// The seed as a JSON string (`"5658179054502545877"`), read back from a
/// string or, as older summaries wrote it, a number.
mod seed_string {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(seed: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(seed)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Seed {
            Number(u64),
            Text(String),
        }
        match Seed::deserialize(d)? {
            Seed::Number(n) => Ok(n),
            Seed::Text(t) => t
                .trim()
                .parse()
                .map_err(|_| D::Error::custom(format!("seed '{t}' is not a 64-bit number"))),
        }
    }
}

fn ms(us: f64) -> f64 {
    us / 1000.0
}

fn trend_fields(h: &Histogram<u64>) -> TrendFields {
    if h.is_empty() {
        return TrendFields::default();
    }
    let q = |q: f64| ms(h.value_at_quantile(q) as f64);
    TrendFields {
        avg: ms(h.mean()),
        min: ms(h.min() as f64),
        med: q(0.5),
        max: ms(h.max() as f64),
        p50: q(0.5),
        p90: q(0.9),
        p95: q(0.95),
        p99: q(0.99),
        p999: q(0.999),
    }
}

fn trend_summary(h: &Histogram<u64>) -> MetricSummary {
    let t = trend_fields(h);
    MetricSummary {
        count: Some(h.len()),
        avg: Some(t.avg),
        min: Some(t.min),
        med: Some(t.med),
        max: Some(t.max),
        p90: Some(t.p90),
        p95: Some(t.p95),
        p99: Some(t.p99),
        p999: Some(t.p999),
        ..MetricSummary::default()
    }
}

fn counter_summary(n: u64, duration_s: f64) -> MetricSummary {
    MetricSummary {
        count: Some(n),
        rate: Some(if duration_s > 0.0 {
            n as f64 / duration_s
        } else {
            0.0
        }),
        ..MetricSummary::default()
    }
}

fn rate_summary(n: u64, failed: u64) -> MetricSummary {
    let rate = if n > 0 { failed as f64 / n as f64 } else { 0.0 };
    MetricSummary {
        rate: Some(rate),
        value: Some(rate),
        passes: Some(failed),
        fails: Some(n - failed),
        ..MetricSummary::default()
    }
}

/// `status_drift`: `rate` and `value` are the drift, `count` the requests
/// it was judged on.
fn drift_summary(n: u64, failed: u64, expected: f64) -> MetricSummary {
    let drift = if n > 0 {
        (failed as f64 - expected) / n as f64
    } else {
        0.0
    };
    MetricSummary {
        count: Some(n),
        rate: Some(drift),
        value: Some(drift),
        ..MetricSummary::default()
    }
}

fn string_keys<K: ToString>(m: &BTreeMap<K, u64>) -> BTreeMap<String, u64> {
    m.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

impl Summary {
    /// Build the summary of a (merged) recorder. `thresholds` are the
    /// results of [`threshold::evaluate`] on the same recorder; filtered
    /// thresholds add a k6-style sub-metric entry
    /// (`metrics["http_req_duration{status:5xx}"]`), computed with
    /// `parsed` (the same thresholds, parsed), when given.
    pub fn build(
        rec: &Recorder,
        meta: &RunMeta,
        parsed: &[threshold::Threshold],
        thresholds: &[ThresholdResult],
    ) -> Summary {
        let totals = rec.totals();
        let warmup = rec.warmup();
        let dropped = totals.dropped_total();
        let completed: u64 = totals.status.values().sum();
        let requests = Requests {
            intended: totals.requests + dropped,
            sent: totals.requests,
            completed,
            failed: totals.failed,
            dropped,
            warmup: warmup.requests,
            warmup_dropped: warmup.dropped,
        };
        let d = meta.duration_s;

        let mut metrics = BTreeMap::new();
        for &m in TrendMetric::ALL {
            metrics.insert(m.as_str().to_string(), trend_summary(&rec.trend(m)));
        }
        metrics.insert("http_reqs".into(), counter_summary(totals.requests, d));
        metrics.insert("dropped_requests".into(), counter_summary(dropped, d));
        metrics.insert("data_sent".into(), counter_summary(totals.data_sent, d));
        metrics.insert(
            "data_received".into(),
            counter_summary(totals.data_received, d),
        );
        metrics.insert(
            "http_req_failed".into(),
            rate_summary(totals.requests, totals.failed),
        );

        // Sub-metrics for filtered thresholds, as k6 does; `status_drift`
        // is not one of k6's metrics and has an entry only when gated on.
        for t in parsed
            .iter()
            .filter(|t| !t.filters.is_empty() || t.metric == threshold::Metric::StatusDrift)
        {
            let entry = match t.select(rec, &meta.endpoints) {
                Selection::Trend(h) => trend_summary(&h),
                Selection::Rate { n, failed } => rate_summary(n, failed),
                Selection::Count(n) => counter_summary(n, d),
                Selection::Drift {
                    n,
                    failed,
                    expected,
                } => drift_summary(n, failed, expected),
            };
            metrics.entry(t.series.clone()).or_insert(entry);
        }
        for r in thresholds {
            metrics
                .entry(r.series.clone())
                .or_default()
                .thresholds
                .insert(r.condition.clone(), ThresholdOk { ok: r.ok });
        }

        let endpoints = meta
            .endpoints
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let c = rec.endpoint(i);
                let h = rec.trend_where(TrendMetric::Duration, |ep, _| ep == i);
                EndpointSummary {
                    method: e.method.clone(),
                    host: e.host.clone(),
                    template: e.template.clone(),
                    count: c.requests,
                    recorded_share: e.recorded_share,
                    replayed_share: share(c.requests, totals.requests),
                    http_req_duration: trend_fields(&h),
                    error_rate: share(c.failed, c.requests),
                    failed: c.failed,
                    status: string_keys(&c.status),
                    recorded_status: string_keys(&e.recorded_status),
                    recorded_error_rate: e.recorded_error_rate(),
                    errors: string_keys(&c.errors),
                    dropped: string_keys(&c.dropped),
                    data_sent: c.data_sent,
                    data_received: c.data_received,
                }
            })
            .collect();

        // Encoding into memory cannot fail for a valid histogram.
        let entry = |metric: TrendMetric, endpoint, status: String, h| HistogramEntry {
            metric: metric.as_str().to_string(),
            endpoint,
            status,
            data: hist::encode(h).unwrap_or_default(),
        };
        let histograms = rec
            .histograms()
            .map(|(k, h)| entry(k.metric, k.endpoint, k.class.as_str().to_string(), h))
            .collect();
        let status_histograms = rec
            .code_histograms()
            .map(|(k, h)| entry(k.metric, k.endpoint, k.code.to_string(), h))
            .collect();

        Summary {
            format: FORMAT.to_string(),
            version: VERSION,
            seed: meta.seed,
            duration_s: d,
            planned_duration_s: meta.planned_duration_s,
            ended: meta.ended,
            intended_rate: meta.intended_rate,
            achieved_rate: if d > 0.0 {
                totals.requests as f64 / d
            } else {
                0.0
            },
            scale: meta.scale,
            target: meta.target.clone(),
            mock: meta.mock.clone(),
            shards: meta.shards.clone(),
            command: meta.command.clone(),
            requests,
            errors: string_keys(&totals.errors),
            // Filled by the run, which saw the failures.
            errors_detail: BTreeMap::new(),
            network: Vec::new(),
            dropped: string_keys(&totals.dropped),
            metrics,
            thresholds: thresholds.to_vec(),
            endpoints,
            drift: rec.drift().points().to_vec(),
            histograms,
            status_histograms,
            blocks: Some(blocks::BlocksEntry::of(rec.blocks())),
            stress: None,
            baseline: None,
            guards: Vec::new(),
        }
    }

    /// Pretty JSON, as written by `--summary-export`.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a summary always serializes");
        s.push('\n');
        s
    }

    /// Read a summary file's contents, checking format and version.
    pub fn from_json(text: &str) -> Result<Summary, MergeError> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(MergeError::Json)?;
        match (
            v.get("format").and_then(|f| f.as_str()),
            v.get("version").and_then(|f| f.as_u64()),
        ) {
            (Some(FORMAT), Some(ver)) if ver == u64::from(VERSION) => {}
            (Some(FORMAT), ver) => return Err(MergeError::Version(ver)),
            _ => return Err(MergeError::NotASummary),
        }
        serde_json::from_value(v).map_err(MergeError::Json)
    }

    /// Whether every threshold passed (exit code 0 vs 99).
    /// Failed requests over sent ones (0 when none was sent).
    pub fn error_rate(&self) -> f64 {
        share(self.requests.failed, self.requests.sent)
    }

    /// `http_req_duration`'s p95 in milliseconds (0 without data).
    pub fn p95_ms(&self) -> f64 {
        self.metrics
            .get("http_req_duration")
            .and_then(|m| m.p95)
            .unwrap_or(0.0)
    }

    pub fn thresholds_ok(&self) -> bool {
        self.thresholds.iter().all(|t| t.ok)
    }

    /// The measured duration as a `Duration`.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration_s.max(0.0))
    }
}

fn share(n: u64, d: u64) -> f64 {
    if d == 0 {
        0.0
    } else {
        n as f64 / d as f64
    }
}

/// Why summaries could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("not a replay summary (no \"format\": \"{FORMAT}\")")]
    NotASummary,
    #[error("summary version {0:?} is not supported; this build reads version {VERSION}")]
    Version(Option<u64>),
    #[error("summary is not valid JSON: {0}")]
    Json(serde_json::Error),
    #[error("nothing to merge")]
    Empty,
    #[error("summary {part} has different endpoints than summary 0 (endpoint {index}); only summaries of the same model merge")]
    Endpoints { part: usize, index: usize },
    #[error("summary {part}: histogram {index}: {source}")]
    Histogram {
        part: usize,
        index: usize,
        source: HistogramCodecError,
    },
    #[error("summary {part}: {source}")]
    Blocks {
        part: usize,
        source: blocks::BlocksError,
    },
    #[error("summary {part}: {what} '{value}' is not known")]
    Unknown {
        part: usize,
        what: &'static str,
        value: String,
    },
}

/// The exact combination of several summaries (e.g. the shards of one run).
#[derive(Debug, Clone)]
pub struct Merged {
    /// All parts' histograms and counters added.
    pub recorder: Recorder,
    /// Metadata for concurrent shards: seed, target, scale and command of
    /// the first part; `duration_s` and `planned_duration_s` the longest; `intended_rate` the sum.
    pub meta: RunMeta,
    /// Every distinct threshold expression of the parts, first-seen order,
    /// to re-parse and re-evaluate on `recorder`.
    pub thresholds: Vec<String>,
    /// Every part carried `blocks` (else the merged summary has none:
    /// they would cover only some parts).
    pub blocks_complete: bool,
    /// Per transport failure kind, the first part's message for it (what
    /// failed and the flag that fixes it): the parts' `errors_detail`.
    pub errors_detail: BTreeMap<String, String>,
}

/// Merge summaries exactly through their serialized histograms and
/// per-endpoint counters. Build the merged summary with
/// `Summary::build(&m.recorder, &m.meta, …)` after re-evaluating
/// `m.thresholds`.
pub fn merge_summaries(parts: &[Summary]) -> Result<Merged, MergeError> {
    let first = parts.first().ok_or(MergeError::Empty)?;
    let endpoints: Vec<EndpointDesc> = first
        .endpoints
        .iter()
        .map(|e| {
            Ok(EndpointDesc {
                method: e.method.clone(),
                host: e.host.clone(),
                template: e.template.clone(),
                recorded_share: e.recorded_share,
                recorded_status: keyed(0, "recorded status code", &e.recorded_status)?,
            })
        })
        .collect::<Result<_, MergeError>>()?;
    let mut rec = Recorder::new();
    let mut thresholds: Vec<String> = Vec::new();
    let mut blocks_complete = true;
    let mut errors_detail = BTreeMap::new();
    let mut meta = RunMeta {
        seed: first.seed,
        duration_s: 0.0,
        planned_duration_s: 0.0,
        ended: Ended::Completed,
        intended_rate: 0.0,
        scale: first.scale,
        target: first.target.clone(),
        command: first.command.clone(),
        shards: Vec::new(),
        mock: first.mock.clone(),
        endpoints,
    };
    for (part, s) in parts.iter().enumerate() {
        if s.endpoints.len() != meta.endpoints.len() {
            return Err(MergeError::Endpoints {
                part,
                index: s.endpoints.len().min(meta.endpoints.len()),
            });
        }
        for (index, (e, m)) in s.endpoints.iter().zip(&meta.endpoints).enumerate() {
            if e.method != m.method || e.host != m.host || e.template != m.template {
                return Err(MergeError::Endpoints { part, index });
            }
            rec.add_counters(index, &counters_of(part, e)?);
        }
        // Class histograms, then the per-code ones (numbered after them).
        let all = s.histograms.iter().map(|h| (false, h));
        let coded = s.status_histograms.iter().map(|h| (true, h));
        for (index, (by_code, h)) in all.chain(coded).enumerate() {
            let unknown = |what, value: &str| MergeError::Unknown {
                part,
                what,
                value: value.to_string(),
            };
            let metric = h
                .metric
                .parse::<TrendMetric>()
                .map_err(|_| unknown("metric", &h.metric))?;
            if h.endpoint >= meta.endpoints.len() {
                return Err(unknown("endpoint index", &h.endpoint.to_string()));
            }
            let decoded = hist::decode(&h.data).map_err(|source| MergeError::Histogram {
                part,
                index,
                source,
            })?;
            if by_code {
                let code = h
                    .status
                    .parse::<u16>()
                    .ok()
                    .filter(|c| (100..=599).contains(c))
                    .ok_or_else(|| unknown("status code", &h.status))?;
                let key = CodeKey {
                    metric,
                    endpoint: h.endpoint,
                    code,
                };
                rec.add_code_histogram(key, &decoded);
            } else {
                let class = h
                    .status
                    .parse::<StatusClass>()
                    .map_err(|_| unknown("status class", &h.status))?;
                let key = HistKey {
                    metric,
                    endpoint: h.endpoint,
                    class,
                };
                rec.add_histogram(key, &decoded);
            }
        }
        match &s.blocks {
            Some(b) => rec.add_blocks(
                &b.decode(meta.endpoints.len())
                    .map_err(|source| MergeError::Blocks { part, source })?,
            ),
            None => blocks_complete = false,
        }
        rec.add_warmup(WarmupCounts {
            requests: s.requests.warmup,
            failed: 0,
            dropped: s.requests.warmup_dropped,
        });
        meta.duration_s = meta.duration_s.max(s.duration_s);
        meta.planned_duration_s = meta.planned_duration_s.max(s.planned_duration_s);
        // A merge is complete only if every part is.
        if meta.ended == Ended::Completed {
            meta.ended = s.ended;
        }
        meta.intended_rate += s.intended_rate;
        meta.shards.extend(s.shards.iter().cloned());
        for (kind, message) in &s.errors_detail {
            errors_detail
                .entry(kind.clone())
                .or_insert_with(|| message.clone());
        }
        for t in &s.thresholds {
            if !thresholds.contains(&t.expr) {
                thresholds.push(t.expr.clone());
            }
        }
    }
    Ok(Merged {
        recorder: rec,
        meta,
        thresholds,
        blocks_complete,
        errors_detail,
    })
}

/// A JSON object's string keys parsed back into what they name.
fn keyed<K: std::str::FromStr + Ord>(
    part: usize,
    what: &'static str,
    m: &BTreeMap<String, u64>,
) -> Result<BTreeMap<K, u64>, MergeError> {
    m.iter()
        .map(|(k, v)| {
            k.parse::<K>()
                .map(|k| (k, *v))
                .map_err(|_| MergeError::Unknown {
                    part,
                    what,
                    value: k.clone(),
                })
        })
        .collect()
}

fn counters_of(part: usize, e: &EndpointSummary) -> Result<EndpointCounters, MergeError> {
    Ok(EndpointCounters {
        requests: e.count,
        failed: e.failed,
        data_sent: e.data_sent,
        data_received: e.data_received,
        status: keyed::<u16>(part, "status code", &e.status)?,
        errors: keyed::<ErrorKind>(part, "error kind", &e.errors)?,
        dropped: keyed::<DropReason>(part, "drop reason", &e.dropped)?,
    })
}

#[cfg(test)]
mod tests;
