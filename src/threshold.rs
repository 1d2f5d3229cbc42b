//! Thresholds: k6 pass/fail expressions, parsed once and evaluated against
//! a [`Recorder`].
//!
//! Syntax (one expression per `--threshold`, as k6 allows one per string):
//!
//! ```text
//! METRIC[{TAG:VALUE[, TAG:VALUE]...}]: AGG OP VALUE[UNIT]
//! http_req_duration: p(95)<500ms
//! http_req_failed: rate<0.01
//! http_reqs: rate>100
//! http_req_duration{endpoint:GET /posts/{id}}: p(99)<300ms
//! http_req_duration{status:5xx}: max<2s
//! status_drift: rate<0.02
//! ```
//!
//! - Trend metrics (`http_req_duration`, `http_req_service_time`,
//!   `http_req_blocked`, `http_req_connecting`, `http_req_tls_handshaking`,
//!   `http_req_sending`, `http_req_waiting`, `http_req_receiving`,
//!   `schedule_lag`) take `avg`,
//!   `min`, `max`, `med` and `p(N)` (N may be decimal: `p(99.9)`); values
//!   are milliseconds unless a unit is given (`us`/`µs`, `ms`, `s`, `m`,
//!   `h`: the units of [`crate::units`], as on the command line).
//! - `http_req_failed` takes `rate` (fraction of failed requests, 0..1).
//! - `status_drift` takes `rate`: the replayed failure share minus the
//!   recorded one (same rule as `http_req_failed`: a transport error or a
//!   status outside 200..=399), so `rate<0.02` fails a replay that fails 2
//!   points more often than the recording did. Per endpoint the recorded
//!   share is that endpoint's; overall it is weighted by each endpoint's
//!   replayed requests, so `status_drift` = (failed − Σ sentᵢ ×
//!   recordedᵢ) / sent. Endpoints whose recording holds no responses have
//!   nothing to compare with and are left out. Negative when the replay
//!   fails less than the recording did.
//! - Counters (`http_reqs`, `dropped_requests`, `data_sent`,
//!   `data_received`) take `count` and `rate` (per second of run time).
//! - Operators: `<`, `<=`, `>`, `>=`, `==` (also `===`), `!=`.
//! - Tags: `endpoint` (`METHOD /template`, or just `/template` for every
//!   method; `METHOD host/template` where endpoints on two hosts share a
//!   method and template, which must then be told apart; values may
//!   contain balanced braces), `method`, and `status`
//!   (a class `2xx`, `5xx`, `error`, or a code `200`: a trend of one code
//!   is kept apart for the codes thresholds name, as k6 keeps sub-metrics)
//!   or `expected_response` (`true`: 1xx–3xx). Tags are
//!   AND-ed. `data_*`, `dropped_requests` and `status_drift` take no
//!   `status` tag.
//!
//! A threshold whose metric has no data (no matching samples) passes, as in
//! k6.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::metrics::{
    failed_status, EndpointCounters, EndpointDesc, Recorder, StatusClass, TrendMetric,
};
use crate::units;

/// A metric a threshold can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Trend(TrendMetric),
    /// `http_req_failed` (a rate).
    Failed,
    /// `http_reqs`.
    Reqs,
    /// `dropped_requests`.
    Dropped,
    DataSent,
    DataReceived,
    /// `status_drift`: replayed failure share minus the recorded one.
    StatusDrift,
}

impl Metric {
    pub const ALL: &'static [Metric] = &[
        Metric::Trend(TrendMetric::Duration),
        Metric::Trend(TrendMetric::ServiceTime),
        Metric::Trend(TrendMetric::Waiting),
        Metric::Trend(TrendMetric::Connecting),
        Metric::Trend(TrendMetric::ScheduleLag),
        Metric::Trend(TrendMetric::Blocked),
        Metric::Trend(TrendMetric::Sending),
        Metric::Trend(TrendMetric::Receiving),
        Metric::Trend(TrendMetric::TlsHandshaking),
        Metric::Failed,
        Metric::Reqs,
        Metric::Dropped,
        Metric::DataSent,
        Metric::DataReceived,
        Metric::StatusDrift,
    ];

    /// The k6 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Trend(t) => t.as_str(),
            Metric::Failed => "http_req_failed",
            Metric::Reqs => "http_reqs",
            Metric::Dropped => "dropped_requests",
            Metric::DataSent => "data_sent",
            Metric::DataReceived => "data_received",
            Metric::StatusDrift => "status_drift",
        }
    }

    fn aggs(self) -> &'static str {
        match self {
            Metric::Trend(_) => "avg, min, med, max, p(N)",
            Metric::Failed | Metric::StatusDrift => "rate",
            _ => "count, rate",
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the metric is reduced to one number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Agg {
    Avg,
    Min,
    Max,
    Med,
    /// Percentile, 0 < N <= 100.
    P(f64),
    Rate,
    Count,
}

impl fmt::Display for Agg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Agg::Avg => f.write_str("avg"),
            Agg::Min => f.write_str("min"),
            Agg::Max => f.write_str("max"),
            Agg::Med => f.write_str("med"),
            Agg::P(n) => write!(f, "p({n})"),
            Agg::Rate => f.write_str("rate"),
            Agg::Count => f.write_str("count"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    pub fn holds(self, observed: f64, limit: f64) -> bool {
        match self {
            Op::Lt => observed < limit,
            Op::Le => observed <= limit,
            Op::Gt => observed > limit,
            Op::Ge => observed >= limit,
            Op::Eq => observed == limit,
            Op::Ne => observed != limit,
        }
    }
}

/// A `status` tag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    Class(StatusClass),
    Code(u16),
    /// k6's `expected_response` tag: `true` for statuses 100–399, `false`
    /// for 400 and up and transport errors.
    Expected(bool),
}

impl StatusFilter {
    fn takes_class(self, class: StatusClass) -> bool {
        match self {
            StatusFilter::Class(c) => c == class,
            // Trends of a code come from its own histograms
            // (`Recorder::trend_of_code`), never from a class's.
            StatusFilter::Code(_) => false,
            StatusFilter::Expected(e) => {
                let ok = matches!(
                    class,
                    StatusClass::Informational | StatusClass::Success | StatusClass::Redirection
                );
                ok == e
            }
        }
    }
}

/// One `{tag:value}` filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagFilter {
    /// `METHOD /template` or `/template`.
    Endpoint {
        value: String,
        column: usize,
    },
    Method(String),
    Status(StatusFilter),
}

/// A parsed threshold expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The expression as the user wrote it (trimmed).
    pub expr: String,
    pub metric: Metric,
    pub filters: Vec<TagFilter>,
    pub agg: Agg,
    pub op: Op,
    /// The limit, in milliseconds for trend metrics.
    pub value: f64,
    /// The part after the colon, k6's key for this threshold (`p(95)<500ms`).
    pub condition: String,
    /// The part before the colon: the metric, with its tags if any
    /// (`http_req_duration{status:5xx}`), k6's (sub)metric name.
    pub series: String,
    /// k6's `abortOnFail` for this threshold (from `--thresholds-file`):
    /// stop the run once it is lost, but not before this much of the run
    /// (`delayAbortEval`). `None`: only `--abort-on-fail` stops on it.
    pub abort_after: Option<Duration>,
}

/// A threshold expression that could not be parsed, pointing at the bad
/// part: `"<message> at column <N> in '<expr>'[; <hint>]"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at column {column} in '{expr}'{}", hint.as_ref().map(|h| format!("; {h}")).unwrap_or_default())]
pub struct ThresholdError {
    pub expr: String,
    /// 1-based column (in characters) of the bad part.
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl ThresholdError {
    /// The expression with a caret under the bad part, for terminals:
    ///
    /// ```text
    /// http_req_duration: p95<500ms
    ///                    ^
    /// ```
    pub fn caret(&self) -> String {
        format!(
            "{}\n{}^",
            self.expr,
            " ".repeat(self.column.saturating_sub(1))
        )
    }
}

/// The data a threshold looks at (its metric, narrowed by its tags).
#[derive(Debug, Clone)]
pub enum Selection {
    /// Trend metrics: the merged histogram (µs).
    Trend(Histogram<u64>),
    /// `http_req_failed`: requests and how many failed.
    Rate { n: u64, failed: u64 },
    /// Counters.
    Count(u64),
    /// `status_drift`: requests to endpoints with a recorded status mix,
    /// how many failed, and how many would have failed at the recorded
    /// failure shares.
    Drift { n: u64, failed: u64, expected: f64 },
}

/// The outcome of one threshold.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ThresholdResult {
    /// The full expression, e.g. `http_req_duration: p(95)<500ms`.
    pub expr: String,
    /// The metric name, e.g. `http_req_duration`.
    pub metric: String,
    /// The metric with its tags, e.g. `http_req_duration{status:5xx}`.
    pub series: String,
    /// The part after the colon, k6's threshold key, e.g. `p(95)<500ms`.
    pub condition: String,
    pub ok: bool,
    /// The observed aggregate (ms for trends); `None` when there was no
    /// data, which passes.
    pub observed: Option<f64>,
}

struct Parser<'a> {
    expr: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn err(&self, at: usize, message: impl Into<String>, hint: Option<String>) -> ThresholdError {
        ThresholdError {
            expr: self.expr.to_string(),
            column: self.expr[..at.min(self.expr.len())].chars().count() + 1,
            message: message.into(),
            hint,
        }
    }

    fn rest(&self) -> &'a str {
        &self.expr[self.pos..]
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.expr.len() - trimmed.len();
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> &'a str {
        let rest = self.rest();
        let end = rest.find(|c| !f(c)).unwrap_or(rest.len());
        self.pos += end;
        &rest[..end]
    }
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl FromStr for Threshold {
    type Err = ThresholdError;
    fn from_str(s: &str) -> Result<Threshold, ThresholdError> {
        parse(s)
    }
}

/// Parse one threshold expression:
/// `METRIC[{TAGS}]: AGG OP VALUE[UNIT]`, one step per part, each error
/// pointing at the part it is about.
pub fn parse(expr: &str) -> Result<Threshold, ThresholdError> {
    let expr = expr.trim();
    let mut p = Parser { expr, pos: 0 };
    let (name, metric) = parse_metric(&mut p)?;
    let mut filters = Vec::new();
    if p.rest().starts_with('{') {
        filters = parse_tags(&mut p, metric)?;
    }
    let colon = parse_colon(&mut p, name, metric)?;
    let agg = parse_agg(&mut p, metric)?;
    let op = parse_op(&mut p)?;
    let value = parse_value(&mut p, metric, agg)?;
    parse_end(&mut p)?;
    Ok(Threshold {
        expr: expr.to_string(),
        metric,
        filters,
        agg,
        op,
        value,
        condition: expr[colon + 1..].trim().to_string(),
        series: expr[..colon].trim().to_string(),
        abort_after: None,
    })
}

/// One flag with several conditions, as k6 users paste them
/// (`http_req_duration: p(95)<500, p(99)<1000`), as one expression per
/// condition (`http_req_duration: p(95)<500`, `http_req_duration:
/// p(99)<1000`). Commas inside the tags (`{method:GET,status:2xx}`) do
/// not split.
pub fn expand(expr: &str) -> Vec<String> {
    let mut depth = 0usize;
    let colon = expr.char_indices().find(|(_, c)| {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => return true,
            _ => {}
        }
        false
    });
    let Some((i, _)) = colon else {
        return vec![expr.to_string()];
    };
    let (series, conditions) = (expr[..i].trim(), &expr[i + 1..]);
    let parts: Vec<&str> = conditions.split(',').map(str::trim).collect();
    if parts.len() < 2 || parts.iter().any(|p| p.is_empty()) {
        return vec![expr.to_string()];
    }
    parts.iter().map(|c| format!("{series}: {c}")).collect()
}

/// k6's `thresholds` object (the `options.thresholds` of a k6 script, as
/// JSON): `{"http_req_duration": ["p(95)<500", {"threshold":
/// "p(99)<1000", "abortOnFail": true, "delayAbortEval": "10s"}]}`. A
/// document with a top-level `thresholds` key (k6 options) is read too.
/// The error names the key and entry.
pub fn from_k6_json(text: &str) -> Result<Vec<Threshold>, String> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let doc = doc.get("thresholds").unwrap_or(&doc);
    let obj = doc
        .as_object()
        .ok_or("expected an object of series → conditions (k6's thresholds)")?;
    let mut out = Vec::new();
    for (series, conditions) in obj {
        let list: Vec<&serde_json::Value> = match conditions {
            serde_json::Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for (k, c) in list.into_iter().enumerate() {
            let at = format!("{series:?}[{k}]");
            let (condition, abort, delay) = match c {
                serde_json::Value::String(s) => (s.as_str(), false, None),
                serde_json::Value::Object(o) => (
                    o.get("threshold")
                        .and_then(|t| t.as_str())
                        .ok_or_else(|| format!("{at}: an object needs \"threshold\": \"…\""))?,
                    o.get("abortOnFail")
                        .and_then(|a| a.as_bool())
                        .unwrap_or(false),
                    o.get("delayAbortEval").and_then(|d| d.as_str()),
                ),
                _ => return Err(format!("{at}: expected a string or an object")),
            };
            let mut t =
                parse(&format!("{series}: {condition}")).map_err(|e| format!("{at}: {e}"))?;
            if abort {
                let delay = match delay {
                    Some(d) => crate::units::parse_duration(d)
                        .map_err(|e| format!("{at}: delayAbortEval: {e}"))?,
                    None => Duration::ZERO,
                };
                t.abort_after = Some(delay);
            }
            out.push(t);
        }
    }
    Ok(out)
}

/// `METRIC`: one of [`Metric::ALL`], by its k6 name.
fn parse_metric<'a>(p: &mut Parser<'a>) -> Result<(&'a str, Metric), ThresholdError> {
    let start = p.pos;
    let name = p.take_while(is_ident);
    if name.is_empty() {
        return Err(p.err(start, "expected a metric name", Some(known_metrics())));
    }
    let metric = Metric::ALL
        .iter()
        .copied()
        .find(|m| m.as_str() == name)
        .ok_or_else(|| {
            p.err(
                start,
                format!("unknown metric '{name}'"),
                Some(known_metrics()),
            )
        })?;
    Ok((name, metric))
}

/// The `:` between the series and the condition; returns where it is, as
/// the two halves are k6's keys for the threshold.
fn parse_colon(p: &mut Parser<'_>, name: &str, metric: Metric) -> Result<usize, ThresholdError> {
    p.skip_ws();
    let colon = p.pos;
    if !p.eat(":") {
        return Err(p.err(
            p.pos,
            "expected ':' after the metric",
            Some(format!("write '{name}: {}<…'", first_agg(metric))),
        ));
    }
    p.skip_ws();
    Ok(colon)
}

/// `AGG`: a known aggregation that applies to the metric.
fn parse_agg(p: &mut Parser<'_>, metric: Metric) -> Result<Agg, ThresholdError> {
    let agg_start = p.pos;
    let word = p.take_while(is_ident);
    let agg = match word {
        "avg" => Agg::Avg,
        "min" => Agg::Min,
        "max" => Agg::Max,
        "med" => Agg::Med,
        "rate" => Agg::Rate,
        "count" => Agg::Count,
        "p" if p.rest().starts_with('(') => parse_percentile(p)?,
        "" => {
            return Err(p.err(
                agg_start,
                "expected an aggregation",
                Some(format!("{metric} takes {}", metric.aggs())),
            ))
        }
        w => {
            // `p95` is the likeliest slip: suggest the spelling that parses.
            let hint = match w
                .strip_prefix('p')
                .filter(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
            {
                Some(digits) => format!("write p({digits})"),
                None => format!("{metric} takes {}", metric.aggs()),
            };
            return Err(p.err(agg_start, format!("unknown aggregation '{w}'"), Some(hint)));
        }
    };
    if !agg_applies(metric, agg) {
        return Err(p.err(
            agg_start,
            format!("aggregation '{agg}' does not apply to {metric}"),
            Some(format!("{metric} takes {}", metric.aggs())),
        ));
    }
    Ok(agg)
}

/// `(N)` after `p`; `p` is at the `(`.
fn parse_percentile(p: &mut Parser<'_>) -> Result<Agg, ThresholdError> {
    p.eat("(");
    let n_start = p.pos;
    let n = p.take_while(|c| c.is_ascii_digit() || c == '.');
    let n: f64 = n.parse().map_err(|_| {
        p.err(
            n_start,
            "expected a percentile number",
            Some("write e.g. p(95) or p(99.9)".into()),
        )
    })?;
    if !(n > 0.0 && n <= 100.0) {
        return Err(p.err(
            n_start,
            format!("percentile {n} is out of range"),
            Some("use 0 < N <= 100".into()),
        ));
    }
    if !p.eat(")") {
        return Err(p.err(p.pos, "expected ')' closing the percentile", None));
    }
    Ok(Agg::P(n))
}

/// Trends reduce by statistics, `http_req_failed` only by its rate, the
/// counters by count or rate.
fn agg_applies(metric: Metric, agg: Agg) -> bool {
    match metric {
        Metric::Trend(_) => matches!(agg, Agg::Avg | Agg::Min | Agg::Max | Agg::Med | Agg::P(_)),
        Metric::Failed | Metric::StatusDrift => agg == Agg::Rate,
        _ => matches!(agg, Agg::Count | Agg::Rate),
    }
}

/// `OP`: the two-character operators are tried first, so `<=` is not read
/// as `<` followed by garbage; k6's `===` and `!==` are accepted too.
fn parse_op(p: &mut Parser<'_>) -> Result<Op, ThresholdError> {
    p.skip_ws();
    let op_start = p.pos;
    let op = if p.eat("<=") {
        Op::Le
    } else if p.eat(">=") {
        Op::Ge
    } else if p.eat("===") || p.eat("==") {
        Op::Eq
    } else if p.eat("!==") || p.eat("!=") {
        Op::Ne
    } else if p.eat("<") {
        Op::Lt
    } else if p.eat(">") {
        Op::Gt
    } else {
        return Err(p.err(
            op_start,
            "expected a comparison",
            Some("use one of <, <=, >, >=, ==, !=".into()),
        ));
    };
    Ok(op)
}

/// `VALUE[UNIT]`: trend limits are converted to milliseconds (a bare
/// number is already in ms); other metrics take a plain number.
fn parse_value(p: &mut Parser<'_>, metric: Metric, agg: Agg) -> Result<f64, ThresholdError> {
    p.skip_ws();
    let num_start = p.pos;
    let num = p.take_while(|c| c.is_ascii_digit() || c == '.' || c == '-');
    let mut value: f64 = num
        .parse()
        .map_err(|_| p.err(num_start, "expected a number", None))?;
    if !value.is_finite() {
        return Err(p.err(num_start, "expected a finite number", None));
    }
    let unit_start = p.pos;
    let unit = p.take_while(|c| c.is_alphabetic());
    match (metric, unit) {
        (Metric::Trend(_), u) => {
            value = units::to_millis(value, u, "ms").ok_or_else(|| {
                p.err(
                    unit_start,
                    format!("unknown time unit '{u}'"),
                    Some(format!("use {} (ms when omitted)", units::TIME_UNITS)),
                )
            })?;
        }
        (_, "") => {}
        (_, u) => {
            return Err(p.err(
                unit_start,
                format!("unexpected unit '{u}'"),
                Some(format!("{metric} {agg} is a plain number")),
            ))
        }
    }
    Ok(value)
}

/// Nothing may follow the value.
fn parse_end(p: &mut Parser<'_>) -> Result<(), ThresholdError> {
    p.skip_ws();
    if !p.rest().is_empty() {
        return Err(p.err(
            p.pos,
            format!("unexpected '{}' after the value", p.rest()),
            Some("one expression per --threshold; repeat the flag for more".into()),
        ));
    }
    Ok(())
}

fn known_metrics() -> String {
    let names: Vec<_> = Metric::ALL.iter().map(|m| m.as_str()).collect();
    format!("known metrics: {}", names.join(", "))
}

fn first_agg(m: Metric) -> &'static str {
    match m {
        Metric::Trend(_) => "p(95)",
        _ => "rate",
    }
}

/// Parse `{key:value, ...}`; `p` is at the `{`. Values may contain balanced
/// braces (`{endpoint:GET /posts/{id}}`).
fn parse_tags(p: &mut Parser<'_>, metric: Metric) -> Result<Vec<TagFilter>, ThresholdError> {
    let open = p.pos;
    p.eat("{");
    let mut filters = Vec::new();
    loop {
        p.skip_ws();
        let key_start = p.pos;
        let key = p.take_while(is_ident);
        if key.is_empty() {
            return Err(p.err(
                key_start,
                "expected a tag name",
                Some("tags are endpoint, method, status".into()),
            ));
        }
        p.skip_ws();
        if !p.eat(":") {
            return Err(p.err(p.pos, format!("expected ':' after tag '{key}'"), None));
        }
        // Value: up to ',' or '}' at brace depth 0.
        let value_start = p.pos;
        let mut depth = 0usize;
        let mut end = None;
        for (i, c) in p.rest().char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth > 0 => depth -= 1,
                '}' | ',' if depth == 0 => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let Some(end) = end else {
            return Err(p.err(
                open,
                "unclosed '{' in tag filter",
                Some("close it with '}' before the ':'".into()),
            ));
        };
        let raw = &p.rest()[..end];
        let value = raw.trim();
        let value_col = value_start + (raw.len() - raw.trim_start().len());
        p.pos += end;
        if value.is_empty() {
            return Err(p.err(value_col, format!("empty value for tag '{key}'"), None));
        }
        let filter = match key {
            "endpoint" | "name" => TagFilter::Endpoint {
                value: value.to_string(),
                column: p.expr[..value_col].chars().count() + 1,
            },
            "method" => TagFilter::Method(value.to_ascii_uppercase()),
            "status" | "expected_response" => {
                let parsed = if key == "status" {
                    parse_status(value)
                } else {
                    value.parse::<bool>().ok().map(StatusFilter::Expected)
                };
                if filters.iter().any(|f| matches!(f, TagFilter::Status(_))) {
                    return Err(p.err(
                        key_start,
                        "one of 'status' and 'expected_response' per threshold",
                        Some("give two thresholds".into()),
                    ));
                }
                let f = parsed.ok_or_else(|| {
                    p.err(
                        value_col,
                        format!("bad {key} '{value}'"),
                        Some(if key == "status" {
                            "use a class (1xx..5xx, error) or a code (100..599)".into()
                        } else {
                            "expected_response is true or false".into()
                        }),
                    )
                })?;
                if matches!(
                    metric,
                    Metric::Dropped | Metric::DataSent | Metric::DataReceived | Metric::StatusDrift
                ) {
                    return Err(p.err(
                        key_start,
                        format!("tag '{key}' does not apply to {metric}"),
                        Some("filter it by endpoint or method".into()),
                    ));
                }
                TagFilter::Status(f)
            }
            other => {
                return Err(p.err(
                    key_start,
                    format!("unknown tag '{other}'"),
                    Some("tags are endpoint, method, status, expected_response".into()),
                ));
            }
        };
        filters.push(filter);
        if p.eat("}") {
            return Ok(filters);
        }
        p.eat(",");
    }
}

fn parse_status(v: &str) -> Option<StatusFilter> {
    if let Ok(c) = v.parse::<StatusClass>() {
        return Some(StatusFilter::Class(c));
    }
    if let Some(c) = v
        .strip_suffix("XX")
        .and_then(|d| format!("{d}xx").parse().ok())
    {
        return Some(StatusFilter::Class(c));
    }
    match v.parse::<u16>() {
        Ok(code @ 100..=599) => Some(StatusFilter::Code(code)),
        _ => None,
    }
}

impl Threshold {
    /// Check the `endpoint` filters against the model's endpoints, so a typo
    /// is a usage error before load starts rather than a silent pass.
    pub fn check_endpoints(&self, endpoints: &[EndpointDesc]) -> Result<(), ThresholdError> {
        let names = EndpointDesc::names(endpoints);
        for f in &self.filters {
            let TagFilter::Endpoint { value, column } = f else {
                continue;
            };
            let fail = |message: String, hint: String| ThresholdError {
                expr: self.expr.clone(),
                column: *column,
                message,
                hint: Some(hint),
            };
            let matched: Vec<usize> = (0..endpoints.len())
                .filter(|&i| endpoint_matches(value, &endpoints[i]))
                .collect();
            if matched.is_empty() {
                let mut shown: Vec<_> = names.iter().take(5).cloned().collect();
                if endpoints.len() > 5 {
                    shown.push("…".into());
                }
                return Err(fail(
                    format!("no endpoint of the model is '{value}'"),
                    format!("endpoints are: {}", shown.join(", ")),
                ));
            }
            let hosts: std::collections::BTreeSet<&str> = matched
                .iter()
                .map(|&i| endpoints[i].host.as_str())
                .collect();
            if hosts.len() > 1 {
                let which: Vec<&str> = matched.iter().map(|&i| names[i].as_str()).collect();
                return Err(fail(
                    format!(
                        "'{value}' is {} endpoints on different hosts",
                        matched.len()
                    ),
                    format!("name one with its host: {}", which.join(", ")),
                ));
            }
        }
        Ok(())
    }

    fn endpoint_selected(&self, idx: usize, endpoints: &[EndpointDesc]) -> bool {
        self.filters.iter().all(|f| match f {
            TagFilter::Endpoint { value, .. } => endpoints
                .get(idx)
                .is_some_and(|e| endpoint_matches(value, e)),
            TagFilter::Method(m) => endpoints
                .get(idx)
                .is_some_and(|e| e.method.eq_ignore_ascii_case(m)),
            TagFilter::Status(_) => true,
        })
    }

    fn status_filter(&self) -> Option<StatusFilter> {
        self.filters.iter().find_map(|f| match f {
            TagFilter::Status(s) => Some(*s),
            _ => None,
        })
    }

    /// What the threshold's metric and tag filters select from a recorder.
    pub fn select(&self, rec: &Recorder, endpoints: &[EndpointDesc]) -> Selection {
        let has_tag_filter = self
            .filters
            .iter()
            .any(|f| !matches!(f, TagFilter::Status(_)));
        let ep_ok = |i: usize| !has_tag_filter || self.endpoint_selected(i, endpoints);
        let status = self.status_filter();
        match self.metric {
            // A code's trend is kept only where the run tracked it (every
            // threshold naming one does); otherwise there is no data.
            Metric::Trend(t) => Selection::Trend(match status {
                Some(StatusFilter::Code(code)) => rec
                    .trend_of_code(t, code, ep_ok)
                    .unwrap_or_else(crate::metrics::hist::new_histogram),
                _ => rec.trend_where(t, |ep, class| {
                    ep_ok(ep) && status.is_none_or(|s| s.takes_class(class))
                }),
            }),
            Metric::Failed => {
                let (n, failed) = selected(rec, &ep_ok, |c| requests_with(c, status));
                Selection::Rate { n, failed }
            }
            Metric::Reqs => Selection::Count(selected(rec, &ep_ok, |c| requests_with(c, status)).0),
            Metric::Dropped => {
                Selection::Count(selected(rec, &ep_ok, |c| (c.dropped_total(), 0)).0)
            }
            Metric::DataSent => Selection::Count(selected(rec, &ep_ok, |c| (c.data_sent, 0)).0),
            Metric::DataReceived => {
                Selection::Count(selected(rec, &ep_ok, |c| (c.data_received, 0)).0)
            }
            Metric::StatusDrift => drift(rec, endpoints, &ep_ok),
        }
    }

    /// The observed value (ms for trends), `None` without data.
    pub fn observe(
        &self,
        rec: &Recorder,
        endpoints: &[EndpointDesc],
        elapsed: Duration,
    ) -> Option<f64> {
        match self.select(rec, endpoints) {
            Selection::Trend(h) => trend_agg(&h, self.agg),
            Selection::Rate { n, failed } => (n > 0).then(|| failed as f64 / n as f64),
            Selection::Count(n) => count_agg(n, self.agg, elapsed),
            Selection::Drift {
                n,
                failed,
                expected,
            } => (n > 0).then(|| (failed as f64 - expected) / n as f64),
        }
    }

    /// Evaluate against the recorder; `elapsed` is the measured run time
    /// (for `rate` of counters).
    pub fn evaluate(
        &self,
        rec: &Recorder,
        endpoints: &[EndpointDesc],
        elapsed: Duration,
    ) -> ThresholdResult {
        let observed = self.observe(rec, endpoints, elapsed);
        ThresholdResult {
            expr: self.expr.clone(),
            metric: self.metric.as_str().to_string(),
            series: self.series.clone(),
            condition: self.condition.clone(),
            ok: observed.is_none_or(|v| self.op.holds(v, self.value)),
            observed,
        }
    }

    /// Whether a failure now can still turn into a pass by the end of the
    /// run: counts only grow, so `count > N` (or `>=`, `==`, `!=`) failing
    /// mid-run proves nothing.
    fn can_recover(&self) -> bool {
        matches!(
            self.metric,
            Metric::Reqs | Metric::Dropped | Metric::DataSent | Metric::DataReceived
        ) && self.agg == Agg::Count
            && !matches!(self.op, Op::Lt | Op::Le)
    }
}

/// Whether an `endpoint` tag value names `e`: `[METHOD ][host]/template`
/// (`GET /posts/{id}`, `/posts/{id}` for every method, `GET
/// www.cnn.com/` where two hosts share a method and template).
fn endpoint_matches(value: &str, e: &EndpointDesc) -> bool {
    let (method, rest) = match value.split_once(char::is_whitespace) {
        Some((m, t)) => (Some(m), t.trim()),
        None => (None, value),
    };
    if method.is_some_and(|m| !m.eq_ignore_ascii_case(&e.method)) {
        return false;
    }
    match rest.find('/') {
        Some(0) => rest == e.template,
        Some(i) => rest[..i].eq_ignore_ascii_case(&e.host) && rest[i..] == e.template,
        None => false,
    }
}

/// `status_drift` over the selected endpoints that have a recorded status
/// mix: each contributes its requests, its failures, and its requests times
/// its recorded failure share.
fn drift(rec: &Recorder, endpoints: &[EndpointDesc], ep_ok: &dyn Fn(usize) -> bool) -> Selection {
    let (mut n, mut failed, mut expected) = (0, 0, 0.0);
    for (i, c) in rec.endpoints().iter().enumerate() {
        let recorded = endpoints.get(i).and_then(EndpointDesc::recorded_error_rate);
        if let (true, Some(share)) = (ep_ok(i), recorded) {
            n += c.requests;
            failed += c.failed;
            expected += c.requests as f64 * share;
        }
    }
    Selection::Drift {
        n,
        failed,
        expected,
    }
}

/// (requests, failed) among an endpoint's requests matching `status`.
fn requests_with(c: &EndpointCounters, status: Option<StatusFilter>) -> (u64, u64) {
    match status {
        None => (c.requests, c.failed),
        Some(StatusFilter::Class(StatusClass::Error)) => {
            let n = c.errors.values().sum();
            (n, n)
        }
        Some(StatusFilter::Class(class)) => c
            .status
            .iter()
            .filter(|(code, _)| StatusClass::of_status(**code) == class)
            .fold((0, 0), |(n, f), (code, k)| {
                (n + k, f + if failed_status(*code) { *k } else { 0 })
            }),
        Some(StatusFilter::Code(code)) => {
            let n = c.status.get(&code).copied().unwrap_or(0);
            (n, if failed_status(code) { n } else { 0 })
        }
        Some(StatusFilter::Expected(expected)) => {
            let answered = c
                .status
                .iter()
                .filter(|(code, _)| (**code < 400) == expected)
                .fold((0, 0), |(n, f), (code, k)| {
                    (n + k, f + if failed_status(*code) { *k } else { 0 })
                });
            if expected {
                answered
            } else {
                let errors: u64 = c.errors.values().sum();
                (answered.0 + errors, answered.1 + errors)
            }
        }
    }
}

fn selected(
    rec: &Recorder,
    ep_ok: &dyn Fn(usize) -> bool,
    f: impl Fn(&EndpointCounters) -> (u64, u64),
) -> (u64, u64) {
    rec.endpoints()
        .iter()
        .enumerate()
        .filter(|(i, _)| ep_ok(*i))
        .map(|(_, c)| f(c))
        .fold((0, 0), |(a, b), (x, y)| (a + x, b + y))
}

fn count_agg(n: u64, agg: Agg, elapsed: Duration) -> Option<f64> {
    match agg {
        Agg::Rate => (elapsed > Duration::ZERO).then(|| n as f64 / elapsed.as_secs_f64()),
        _ => Some(n as f64),
    }
}

fn trend_agg(h: &Histogram<u64>, agg: Agg) -> Option<f64> {
    if h.is_empty() {
        return None;
    }
    let us = match agg {
        Agg::Avg => h.mean(),
        Agg::Min => h.min() as f64,
        Agg::Max => h.max() as f64,
        Agg::Med => h.value_at_quantile(0.5) as f64,
        Agg::P(n) => h.value_at_quantile(n / 100.0) as f64,
        Agg::Rate | Agg::Count => return None,
    };
    Some(us / 1000.0)
}

/// The status codes that trend thresholds name
/// (`http_req_duration{status:200}`): the recorder must keep their trends
/// apart ([`Recorder::track_codes`]).
pub fn trend_codes(thresholds: &[Threshold]) -> Vec<u16> {
    let mut codes: Vec<u16> = thresholds
        .iter()
        .filter(|t| matches!(t.metric, Metric::Trend(_)))
        .filter_map(|t| match t.status_filter() {
            Some(StatusFilter::Code(c)) => Some(c),
            _ => None,
        })
        .collect();
    codes.sort_unstable();
    codes.dedup();
    codes
}

/// Evaluate every threshold at the end of a run.
pub fn evaluate(
    thresholds: &[Threshold],
    rec: &Recorder,
    endpoints: &[EndpointDesc],
    elapsed: Duration,
) -> Vec<ThresholdResult> {
    thresholds
        .iter()
        .map(|t| t.evaluate(rec, endpoints, elapsed))
        .collect()
}

/// For `--abort-on-fail`: the thresholds already lost at this point of the
/// run (failing now, and not a growing count that may still pass). Empty
/// means keep going.
///
/// `all`: `--abort-on-fail` (every threshold); otherwise only those with
/// k6's `abortOnFail`, once `delayAbortEval` has passed.
pub fn lost_mid_run(
    thresholds: &[Threshold],
    rec: &Recorder,
    endpoints: &[EndpointDesc],
    elapsed: Duration,
    all: bool,
) -> Vec<ThresholdResult> {
    thresholds
        .iter()
        .filter(|t| all || t.abort_after.is_some_and(|d| elapsed >= d))
        .filter(|t| !t.can_recover())
        .map(|t| t.evaluate(rec, endpoints, elapsed))
        .filter(|r| !r.ok)
        .collect()
}

#[cfg(test)]
mod tests;
