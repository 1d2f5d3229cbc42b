//! Compare two runs' summaries (`replay compare BASE NEW`, `run
//! --baseline`): overall and per endpoint, p50, p95, p99, error rate and
//! throughput with base, new and delta, and a verdict.
//!
//! A metric **regressed** when both hold:
//! - the [`bootstrap`] confidence interval of new − base lies above 0 (a
//!   moving-block bootstrap over the summaries' blocks of time, so that
//!   the autocorrelation within a run widens the interval as it should);
//! - the change is large enough to matter ([`Rule`]): a percentile grew
//!   by more than `min_change` (10%) of the base **and** more than
//!   `min_delta_ms` (1 ms); the error rate by more than
//!   `min_error_change` (1 percentage point).
//!
//! Throughput is reported, not judged: a replay's rate is the schedule's.
//! An endpoint with too few requests or blocks in either run is reported
//! and not judged, and a percentile with fewer than [`MIN_TAIL`] requests
//! above it in either run has no interval and is not judged. Summaries without blocks (written before them) and
//! summaries of different endpoints are refused: [`Incompatible`].
//! [`render`] writes the comparison as text, Markdown or JSON.

pub mod bootstrap;

pub use crate::report::comparison::{render, Comparison, Metric, Metrics, Row, Rule, Verdict};

use std::collections::BTreeMap;

use crate::metrics::blocks::{Blocks, Cell};
use crate::metrics::distinct_names;
use crate::report::Summary;
use bootstrap::{Intervals, Run};

/// An endpoint is judged only with at least this many requests…
pub const MIN_REQUESTS: u64 = 20;
/// …in at least this many blocks, in each run.
pub const MIN_BLOCKS: usize = 4;
/// A percentile is judged only when each run has at least this many
/// requests above it (p95: 200 requests, p99: 1,000): the bootstrap
/// cannot say how far a tail it has barely seen moves (the p99 of 40
/// requests is their maximum; the p95 of 100 is decided by 5 requests,
/// one slow block's worth).
pub const MIN_TAIL: f64 = 10.0;

/// Why two summaries cannot be compared (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Incompatible(pub String);

/// One run's side of a row: its blocks in time order and whole-run values.
struct Side {
    cells: Vec<Cell>,
    width_s: f64,
    count: u64,
    percentiles: [f64; 3],
    error_rate: f64,
    throughput: f64,
}

/// Compare `base` and `new` (named as given, for messages).
pub fn compare(
    base: (&str, &Summary),
    new: (&str, &Summary),
    rule: Rule,
) -> Result<Comparison, Incompatible> {
    let (bb, nb) = (blocks_of(base)?, blocks_of(new)?);
    let pairs = matching_endpoints(base, new)?;
    let names = distinct_names(
        base.1
            .endpoints
            .iter()
            .map(|e| (e.method.as_str(), e.host.as_str(), e.template.as_str())),
    );
    let mut endpoints = Vec::new();
    for (i, (b, n)) in pairs.iter().enumerate() {
        let e = &base.1.endpoints[*b];
        let sides = (
            endpoint_side(base.1, &bb, *b),
            endpoint_side(new.1, &nb, *n),
        );
        let mut row = judge(&names[*b], &sides.0, &sides.1, &rule, i as u64 + 1);
        row.method = e.method.clone();
        row.host = e.host.clone();
        row.template = e.template.clone();
        endpoints.push(row);
    }
    let overall = judge(
        "overall",
        &overall_side(base.1, &bb),
        &overall_side(new.1, &nb),
        &rule,
        0,
    );
    let verdict = if overall.regressed || endpoints.iter().any(|r| r.regressed) {
        Verdict::Regression
    } else {
        Verdict::Pass
    };
    Ok(Comparison {
        format: "replay-compare".into(),
        version: 1,
        verdict,
        base: base.0.to_string(),
        new: new.0.to_string(),
        rule,
        overall,
        endpoints,
        notes: notes(base, new),
    })
}

fn blocks_of((name, s): (&str, &Summary)) -> Result<Blocks, Incompatible> {
    let entry = s.blocks.as_ref().ok_or_else(|| {
        Incompatible(format!(
            "{name} has no per-interval blocks (written by a replay before `blocks` was added to the summary); compare needs them to judge run-to-run noise: run it again with this version"
        ))
    })?;
    entry
        .decode(s.endpoints.len())
        .map_err(|e| Incompatible(format!("{name}: {e}")))
}

type Key = (String, String, String);

fn keys(s: &Summary) -> Vec<Key> {
    s.endpoints
        .iter()
        .map(|e| (e.method.clone(), e.host.clone(), e.template.clone()))
        .collect()
}

/// For each endpoint of `base` (in its order), its index in `new`; the
/// two must hold the same endpoints (method, host, template).
fn matching_endpoints(
    (bn, base): (&str, &Summary),
    (nn, new): (&str, &Summary),
) -> Result<Vec<(usize, usize)>, Incompatible> {
    let (bk, nk) = (keys(base), keys(new));
    same_endpoints((bn, &bk), (nn, &nk))?;
    let in_new: BTreeMap<&Key, usize> = nk.iter().enumerate().map(|(i, k)| (k, i)).collect();
    Ok(bk.iter().enumerate().map(|(i, k)| (i, in_new[k])).collect())
}

/// The same endpoints on both sides, in any order; else what differs.
fn same_endpoints((bn, bk): (&str, &[Key]), (nn, nk): (&str, &[Key])) -> Result<(), Incompatible> {
    let label = |k: &&Key| format!("{} {}{}", k.0, k.1, k.2);
    let only = |a: &[Key], b: &[Key]| -> Vec<String> {
        a.iter()
            .filter(|k| !b.contains(k))
            .map(|k| label(&k))
            .collect()
    };
    let (only_base, only_new) = (only(bk, nk), only(nk, bk));
    if only_base.is_empty() && only_new.is_empty() {
        return Ok(());
    }
    let mut parts = Vec::new();
    if !only_base.is_empty() {
        parts.push(format!("only in {bn}: {}", only_base.join(", ")));
    }
    if !only_new.is_empty() {
        parts.push(format!("only in {nn}: {}", only_new.join(", ")));
    }
    Err(Incompatible(format!(
        "{bn} and {nn} have different endpoints ({}): compare runs of the same model",
        parts.join("; ")
    )))
}

/// Reads a summary file to compare (exit 2 when it is not one).
pub fn load(path: &std::path::Path) -> Result<Summary, Incompatible> {
    let name = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Incompatible(format!("cannot read {name}: {e}")))?;
    Summary::from_json(&text).map_err(|e| {
        Incompatible(format!(
            "{name}: {e}; compare reads the files `run --summary-export` writes"
        ))
    })
}

/// Checks, before a run, that the baseline `base` (named `name`) can be
/// compared with a run of `endpoints`: it has blocks and the same
/// endpoints.
pub fn check_baseline(
    name: &str,
    base: &Summary,
    endpoints: &[crate::metrics::EndpointDesc],
) -> Result<(), Incompatible> {
    blocks_of((name, base))?;
    let run: Vec<Key> = endpoints
        .iter()
        .map(|e| (e.method.clone(), e.host.clone(), e.template.clone()))
        .collect();
    same_endpoints((name, &keys(base)), ("this run's model", &run))
}

fn throughput(count: u64, s: &Summary) -> f64 {
    if s.duration_s > 0.0 {
        count as f64 / s.duration_s
    } else {
        0.0
    }
}

fn endpoint_side(s: &Summary, b: &Blocks, endpoint: usize) -> Side {
    let e = &s.endpoints[endpoint];
    let d = &e.http_req_duration;
    Side {
        cells: b
            .cells()
            .filter(|(_, ep, _)| *ep == endpoint)
            .map(|(_, _, c)| c.clone())
            .collect(),
        width_s: b.width().as_secs_f64(),
        count: e.count,
        percentiles: [d.p50, d.p95, d.p99],
        error_rate: e.error_rate,
        throughput: throughput(e.count, s),
    }
}

fn overall_side(s: &Summary, b: &Blocks) -> Side {
    let mut by_block: BTreeMap<usize, Cell> = BTreeMap::new();
    for (block, _, c) in b.cells() {
        by_block.entry(block).or_default().add(c);
    }
    let d = s.metrics.get("http_req_duration");
    let p = |f: fn(&crate::report::MetricSummary) -> Option<f64>| d.and_then(f).unwrap_or(0.0);
    Side {
        cells: by_block.into_values().collect(),
        width_s: b.width().as_secs_f64(),
        count: s.requests.sent,
        percentiles: [p(|m| m.med), p(|m| m.p95), p(|m| m.p99)],
        error_rate: s.error_rate(),
        throughput: throughput(s.requests.sent, s),
    }
}

/// Whether a percentile's change is large enough to matter.
pub fn latency_matters(base_ms: f64, new_ms: f64, rule: &Rule) -> bool {
    let d = new_ms - base_ms;
    d > base_ms * rule.min_change && d > rule.min_delta_ms
}

/// Whether a change is significant: its interval lies above 0.
pub fn significant(interval: Option<[f64; 2]>) -> bool {
    interval.is_some_and(|[lo, _]| lo > 0.0)
}

fn metric(base: f64, new: f64, interval: Option<[f64; 2]>, matters: bool) -> Metric {
    Metric {
        base,
        new,
        delta: new - base,
        interval,
        regressed: matters && significant(interval),
    }
}

/// The row of two sides: intervals when there is enough data, and the
/// verdict of each metric.
fn judge(name: &str, b: &Side, n: &Side, rule: &Rule, series: u64) -> Row {
    let enough = |s: &Side| s.count >= MIN_REQUESTS && s.cells.len() >= MIN_BLOCKS;
    let judged = enough(b) && enough(n);
    let iv: Option<Intervals> = judged.then(|| {
        bootstrap::intervals(
            Run {
                cells: &b.cells,
                width_s: b.width_s,
            },
            Run {
                cells: &n.cells,
                width_s: n.width_s,
            },
            rule.resamples,
            rule.confidence,
            rule.seed ^ series.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        )
    });
    let lat = |k: usize| {
        let (bv, nv) = (b.percentiles[k], n.percentiles[k]);
        let tail = b.count.min(n.count) as f64 * (1.0 - bootstrap::QUANTILES[k]);
        let interval = iv
            .filter(|_| tail >= MIN_TAIL - 1e-9)
            .map(|i| [i.latency_ms[k].0, i.latency_ms[k].1]);
        metric(bv, nv, interval, latency_matters(bv, nv, rule))
    };
    let metrics = Metrics {
        p50_ms: lat(0),
        p95_ms: lat(1),
        p99_ms: lat(2),
        error_rate: metric(
            b.error_rate,
            n.error_rate,
            iv.map(|i| [i.error_rate.0, i.error_rate.1]),
            n.error_rate - b.error_rate > rule.min_error_change,
        ),
        throughput: metric(b.throughput, n.throughput, None, false),
    };
    let regressed = metrics.named().iter().any(|(_, m)| m.regressed);
    Row {
        name: name.to_string(),
        method: String::new(),
        host: String::new(),
        template: String::new(),
        base_count: b.count,
        new_count: n.count,
        judged,
        note: (!judged).then(|| {
            format!(
                "not judged: {} and {} requests in {} and {} blocks; at least {MIN_REQUESTS} in {MIN_BLOCKS} blocks in each run",
                b.count,
                n.count,
                b.cells.len(),
                n.cells.len()
            )
        }),
        metrics,
        regressed,
    }
}

/// What differs between the runs besides the measurements.
fn notes((bn, b): (&str, &Summary), (nn, n): (&str, &Summary)) -> Vec<String> {
    let mut notes = Vec::new();
    if b.target != n.target {
        notes.push(format!(
            "targets differ: {bn} ran against {}, {nn} against {}",
            b.target, n.target
        ));
    }
    let (bi, ni) = (b.intended_rate, n.intended_rate);
    if bi > 0.0 && (ni / bi - 1.0).abs() > 0.10 {
        notes.push(format!(
            "intended rates differ: {bi:.1} req/s in {bn}, {ni:.1} req/s in {nn}: latency under another load is not the same measurement"
        ));
    }
    for (name, s) in [(bn, b), (nn, n)] {
        if s.ended != crate::report::Ended::Completed {
            notes.push(format!("{name}: the run did not complete ({:?})", s.ended));
        }
    }
    notes
}

#[cfg(test)]
mod tests;
