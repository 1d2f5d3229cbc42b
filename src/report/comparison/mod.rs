//! The comparison of two runs' summaries, as `replay compare` and `run
//! --baseline` produce it (the `compare` stage computes it) and as the
//! summary's `baseline` field and the HTML report carry it; [`render`]
//! writes it as text, Markdown or JSON.

pub mod render;

use serde::{Deserialize, Serialize};

/// What counts as a regression, and how the interval is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// A percentile must grow by more than this fraction of the base…
    pub min_change: f64,
    /// …and by more than this many ms.
    pub min_delta_ms: f64,
    /// The error rate must grow by more than this (a fraction: 0.01 is
    /// one percentage point).
    pub min_error_change: f64,
    /// Of the bootstrap interval (0.95).
    pub confidence: f64,
    /// Bootstrap replicates.
    pub resamples: usize,
    /// The bootstrap's seed: the same summaries give the same verdict.
    pub seed: u64,
}

impl Default for Rule {
    fn default() -> Rule {
        Rule {
            min_change: 0.10,
            min_delta_ms: 1.0,
            min_error_change: 0.01,
            confidence: 0.95,
            resamples: 1000,
            seed: 0x0c0f_fee5,
        }
    }
}

/// Verdict of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Regression,
}

/// One metric: base, new, new − base, the interval of the difference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub base: f64,
    pub new: f64,
    pub delta: f64,
    /// The bootstrap interval of `delta` (`null` when not judged, and for
    /// throughput).
    pub interval: Option<[f64; 2]>,
    pub regressed: bool,
}

/// The metrics of one row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub p50_ms: Metric,
    pub p95_ms: Metric,
    pub p99_ms: Metric,
    /// Failed / sent, 0–1.
    pub error_rate: Metric,
    /// Requests per second of measured duration (not judged).
    pub throughput: Metric,
}

impl Metrics {
    /// The metrics by name, in order.
    pub fn named(&self) -> [(&'static str, &Metric); 5] {
        [
            ("p50", &self.p50_ms),
            ("p95", &self.p95_ms),
            ("p99", &self.p99_ms),
            ("error rate", &self.error_rate),
            ("throughput", &self.throughput),
        ]
    }
}

/// Overall, or one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// `GET /posts/{id}` (with the host where two would read the same),
    /// or `overall`.
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub method: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub template: String,
    pub base_count: u64,
    pub new_count: u64,
    /// Enough data in both runs to judge.
    pub judged: bool,
    /// Why not judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub metrics: Metrics,
    pub regressed: bool,
}

/// The comparison of two summaries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub format: String,
    pub version: u32,
    pub verdict: Verdict,
    pub base: String,
    pub new: String,
    pub rule: Rule,
    pub overall: Row,
    pub endpoints: Vec<Row>,
    /// Differences between the runs worth knowing (target, rate…).
    pub notes: Vec<String>,
}

impl Comparison {
    pub fn regressed(&self) -> Vec<&Row> {
        self.endpoints.iter().filter(|r| r.regressed).collect()
    }
}
