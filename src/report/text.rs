//! The end-of-run text report, k6-like, rendered from a [`Summary`].
//!
//! Pure: a `String` out, colour (ANSI) only when `color` is true. The caller
//! decides colour once (TTY, `NO_COLOR`) and prints to stdout.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{EndpointSummary, MetricSummary, Summary};
use crate::human::{bytes, millis};
use crate::metrics::{distinct_names, drift_summary, DriftPoint};
use crate::threshold::ThresholdResult;

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

/// Options for [`render`].
#[derive(Debug, Clone, Copy, Default)]
pub struct TextOptions {
    pub color: bool,
}

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("{code}{s}{RESET}")
        } else {
            s.to_string()
        }
    }
}

fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

fn label(name: &str) -> String {
    let dots = 32usize.saturating_sub(name.chars().count());
    format!("  {name}{}:", ".".repeat(dots))
}

fn trend_line(m: &MetricSummary) -> String {
    if m.count == Some(0) {
        return " no data".to_string();
    }
    let f = |v: Option<f64>| millis(v.unwrap_or(0.0));
    format!(
        " avg={} min={} med={} p(90)={} p(95)={} p(99)={} p(99.9)={} max={}",
        f(m.avg),
        f(m.min),
        f(m.med),
        f(m.p90),
        f(m.p95),
        f(m.p99),
        f(m.p999),
        f(m.max)
    )
}

fn kv_list(m: &BTreeMap<String, u64>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Render the report: a title, then one section after another, each left
/// out when it has nothing to say.
pub fn render(s: &Summary, opts: TextOptions) -> String {
    let st = Style { color: opts.color };
    let mut out = String::new();
    let w = &mut out;
    title(w, s);
    requests_and_rate(w, s);
    metrics(w, s);
    statuses(w, s);
    endpoints(w, &s.endpoints, &st);
    thresholds(w, &s.thresholds, &st);
    drift(w, &s.drift);
    let _ = writeln!(w, "\n  seed {}; reproduce with: {}", s.seed, s.command);
    out
}

/// What ran against what, and whether it ran to the end.
fn title(w: &mut String, s: &Summary) {
    let _ = writeln!(
        w,
        "\n  replay: {} requests in {:.1}s against {}{}\n",
        s.requests.sent,
        s.duration_s,
        s.target,
        match s.ended {
            super::Ended::Completed => "",
            super::Ended::Interrupted => " (interrupted: partial results)",
            super::Ended::Aborted => " (stopped by --abort-on-fail: partial results)",
            super::Ended::FailedFast => " (stopped: every request failed the same way)",
        }
    );
    if let Some(mode) = &s.mock {
        let latencies = match mode.as_str() {
            "recorded" => "latencies are the mock's, drawn from the recording".to_string(),
            "none" => "the mock answers without delay".to_string(),
            delay => format!("the mock waits {delay} before each answer"),
        };
        let _ = writeln!(
            w,
            "  built-in mock (no --target): {latencies}; not a measurement of any real service\n"
        );
    }
    for line in &s.network {
        let _ = writeln!(w, "  via: {line}");
    }
    if !s.network.is_empty() {
        let _ = writeln!(w);
    }
}

fn requests_and_rate(w: &mut String, s: &Summary) {
    let r = &s.requests;
    let _ = writeln!(
        w,
        "{} intended={} sent={} completed={} dropped={}{}",
        label("requests"),
        r.intended,
        r.sent,
        r.completed,
        r.dropped,
        if r.warmup > 0 || r.warmup_dropped > 0 {
            format!(
                " (warmup: {} sent, {} dropped, not counted)",
                r.warmup, r.warmup_dropped
            )
        } else {
            String::new()
        }
    );
    // Sent over intended requests: the two rates divide by different
    // windows (the measured duration, the planned one), and a schedule
    // that ends in a quiet stretch would read as more than 100%.
    let ratio = if r.intended > 0 {
        format!(
            " ({:.1}% of intended)",
            r.sent as f64 / r.intended as f64 * 100.0
        )
    } else {
        String::new()
    };
    let scale = s.scale.map(|x| format!(", scale {x}x")).unwrap_or_default();
    if r.sent > 0 && r.sent < SMALL_SAMPLE {
        let _ = writeln!(
            w,
            "{} {} requests is a small sample: its percentiles move from run to run; a longer --duration or a higher --scale steadies them",
            label("note"),
            r.sent
        );
    }
    let _ = writeln!(
        w,
        "{} achieved={:.2}/s intended={:.2}/s{ratio}{scale}",
        label("rate"),
        s.achieved_rate,
        s.intended_rate
    );
    let _ = writeln!(w);
}

/// Every overall metric, in k6's alphabetical order, then the error tally.
fn metrics(w: &mut String, s: &Summary) {
    for (name, m) in &s.metrics {
        if name.contains('{') {
            continue; // sub-metrics are shown with their thresholds
        }
        let _ = writeln!(w, "{}{}", label(name), metric_line(name, m, s));
    }
    if !s.errors.is_empty() {
        let _ = writeln!(w, "{} {}", label("errors"), kv_list(&s.errors));
        for (kind, message) in &s.errors_detail {
            let _ = writeln!(w, "    {kind}: {message}");
        }
    }
}

/// A metric's figures, in the form its kind calls for: a rate of failures,
/// a volume of bytes, a counter, or a trend of durations.
fn metric_line(name: &str, m: &MetricSummary, s: &Summary) -> String {
    match name {
        "status_drift" => format!(
            " {:+.2} points of failure share over the recording ({} requests)",
            m.rate.unwrap_or(0.0) * 100.0,
            m.count.unwrap_or(0)
        ),
        "http_req_failed" => format!(
            " {} {} out of {}",
            pct(m.rate.unwrap_or(0.0)),
            m.passes.unwrap_or(0),
            m.passes.unwrap_or(0) + m.fails.unwrap_or(0)
        ),
        "data_sent" | "data_received" => format!(
            " {} {}/s",
            bytes(m.count.unwrap_or(0) as f64),
            bytes(m.rate.unwrap_or(0.0).floor())
        ),
        "http_reqs" | "dropped_requests" => {
            let mut l = format!(" {} {:.2}/s", m.count.unwrap_or(0), m.rate.unwrap_or(0.0));
            if name == "dropped_requests" && !s.dropped.is_empty() {
                let _ = write!(l, " ({})", kv_list(&s.dropped));
            }
            l
        }
        _ => trend_line(m),
    }
}

/// Below this many requests the report says the sample is small.
pub const SMALL_SAMPLE: u64 = 100;

/// The responses by status class, each with its top codes, then the
/// transport failures: `2xx 616 (200 600, 201 16), 5xx 40 (503 40)`.
fn status_mix(status: &BTreeMap<String, u64>, errors: &BTreeMap<String, u64>) -> String {
    let mut classes: BTreeMap<char, Vec<(&String, u64)>> = BTreeMap::new();
    for (code, n) in status {
        let class = code.chars().next().unwrap_or('?');
        classes.entry(class).or_default().push((code, *n));
    }
    let mut parts: Vec<String> = classes
        .into_iter()
        .map(|(class, mut codes)| {
            let total: u64 = codes.iter().map(|c| c.1).sum();
            codes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
            let top: Vec<String> = codes
                .iter()
                .take(3)
                .map(|(c, n)| format!("{c} {n}"))
                .collect();
            let more = if codes.len() > 3 { ", …" } else { "" };
            format!("{class}xx {total} ({}{more})", top.join(", "))
        })
        .collect();
    let failed: u64 = errors.values().sum();
    if failed > 0 {
        parts.push(format!("no response {failed} ({})", kv_list(errors)));
    }
    if parts.is_empty() {
        return "none".into();
    }
    parts.join(", ")
}

/// Why requests failed, at a glance: every response by status class
/// with the top codes, overall (the per-endpoint mix is under the
/// endpoint table).
fn statuses(w: &mut String, s: &Summary) {
    if s.requests.sent == 0 {
        return;
    }
    let mut all: BTreeMap<String, u64> = BTreeMap::new();
    for e in &s.endpoints {
        for (code, n) in &e.status {
            *all.entry(code.clone()).or_default() += n;
        }
    }
    let _ = writeln!(w, "{} {}", label("status"), status_mix(&all, &s.errors));
}

/// How wide the report may be: the endpoint column gives way to keep the
/// table within it.
const MAX_WIDTH: usize = 100;
/// The endpoint column is never cut below this.
const MIN_ENDPOINT_WIDTH: usize = 16;
const COLUMNS: usize = 9;

/// The per-endpoint table, columns as wide as their widest cell, the
/// replayed error share beside the recorded one and a ✗ after endpoints
/// whose error share grew; then one line per such endpoint with the two
/// status mixes.
fn endpoints(w: &mut String, endpoints: &[EndpointSummary], st: &Style) {
    if endpoints.is_empty() {
        return;
    }
    let _ = writeln!(w, "\n  endpoints");
    let header = [
        "endpoint", "count", "recorded", "replayed", "p50", "p95", "p99", "rec.err", "errors",
    ];
    let names = distinct_names(
        endpoints
            .iter()
            .map(|e| (e.method.as_str(), e.host.as_str(), e.template.as_str())),
    );
    let mut rows: Vec<[String; COLUMNS]> = endpoints
        .iter()
        .zip(&names)
        .map(|(e, n)| endpoint_row(e, n))
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let flagged: Vec<(&EndpointSummary, &String)> = endpoints
        .iter()
        .zip(&names)
        .filter(|(e, _)| e.error_share_grew())
        .collect();
    // Indent, the separators, the other columns and the mark.
    let others: usize = widths[1..].iter().map(|w| w + 2).sum();
    let mark = if flagged.is_empty() { 0 } else { 3 };
    let room = MAX_WIDTH.saturating_sub(4 + others + mark);
    widths[0] = widths[0].min(room.max(MIN_ENDPOINT_WIDTH));
    for row in &mut rows {
        row[0] = shorten(&row[0], widths[0]);
    }
    let head: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let _ = writeln!(w, "{}", st.paint(DIM, &table_row(&head, &widths)));
    for (row, e) in rows.iter().zip(endpoints) {
        let mut line = table_row(row, &widths);
        if e.error_share_grew() {
            let _ = write!(line, "  {}", st.paint(RED, "✗"));
        }
        let _ = writeln!(w, "{}", line.trim_end());
    }
    endpoint_statuses(w, endpoints, &names);
    if flagged.is_empty() {
        return;
    }
    let _ = writeln!(
        w,
        "\n    {} error share above the recording's by more than {} point:",
        st.paint(RED, "✗"),
        EndpointSummary::DRIFT_FLAG * 100.0
    );
    for (e, name) in flagged {
        let _ = writeln!(w, "      {}", status_drift_line(e, name));
    }
}

/// Each endpoint that got requests, with its responses by status class
/// and top codes.
fn endpoint_statuses(w: &mut String, endpoints: &[EndpointSummary], names: &[String]) {
    let with_requests: Vec<(&EndpointSummary, &String)> = endpoints
        .iter()
        .zip(names)
        .filter(|(e, _)| e.count > 0)
        .collect();
    if with_requests.is_empty() {
        return;
    }
    let _ = writeln!(w, "\n  status by endpoint");
    for (e, name) in with_requests {
        let _ = writeln!(w, "    {name}: {}", status_mix(&e.status, &e.errors));
    }
}

fn endpoint_row(e: &EndpointSummary, name: &str) -> [String; COLUMNS] {
    let d = &e.http_req_duration;
    let has = e.count > 0;
    let t = |v: f64| if has { millis(v) } else { "-".into() };
    [
        name.to_string(),
        e.count.to_string(),
        pct(e.recorded_share),
        pct(e.replayed_share),
        t(d.p50),
        t(d.p95),
        t(d.p99),
        e.recorded_error_rate.map_or_else(|| "-".into(), pct),
        pct(e.error_rate),
    ]
}

/// `name` cut in the middle to `width` characters, so that both the
/// method and the end of the template stay readable.
fn shorten(name: &str, width: usize) -> String {
    let n = name.chars().count();
    if n <= width || width < 2 {
        return name.to_string();
    }
    let head = (width - 1) / 2;
    let tail = width - 1 - head;
    let start: String = name.chars().take(head).collect();
    let end: String = name.chars().skip(n - tail).collect();
    format!("{start}…{end}")
}

/// `GET /posts/{id}: replayed 404 57%, 200 43%; recorded 200 100%`: the
/// top replayed outcomes (status codes and transport errors) beside the
/// top recorded status codes.
fn status_drift_line(e: &EndpointSummary, name: &str) -> String {
    let replayed: Vec<(&String, u64)> = e
        .status
        .iter()
        .chain(&e.errors)
        .map(|(k, v)| (k, *v))
        .collect();
    let recorded: Vec<(&String, u64)> = e.recorded_status.iter().map(|(k, v)| (k, *v)).collect();
    format!(
        "{name}: replayed {}; recorded {}",
        top_mix(replayed),
        top_mix(recorded)
    )
}

/// The three largest parts of a mix with their shares: `404 57%, 200 43%`.
fn top_mix(mut parts: Vec<(&String, u64)>) -> String {
    let total: u64 = parts.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return "nothing".into();
    }
    parts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let shown: Vec<String> = parts
        .iter()
        .take(3)
        .map(|(k, n)| format!("{k} {}", whole_pct(*n as f64 / total as f64)))
        .collect();
    let more = if parts.len() > 3 { ", …" } else { "" };
    format!("{}{more}", shown.join(", "))
}

/// A share as a whole percent; `<1%` for a share that rounds to nothing.
fn whole_pct(x: f64) -> String {
    let p = x * 100.0;
    if p > 0.0 && p < 0.5 {
        "<1%".into()
    } else {
        format!("{p:.0}%")
    }
}

/// The first column left-aligned, the numbers right-aligned.
fn table_row(cells: &[String], widths: &[usize]) -> String {
    let mut l = String::from("   ");
    for (i, (c, wd)) in cells.iter().zip(widths).enumerate() {
        let pad = wd.saturating_sub(c.chars().count());
        if i == 0 {
            let _ = write!(l, " {c}{}", " ".repeat(pad));
        } else {
            let _ = write!(l, "  {}{c}", " ".repeat(pad));
        }
    }
    l
}

/// Each threshold with a pass/fail mark and the value it was judged on.
fn thresholds(w: &mut String, thresholds: &[ThresholdResult], st: &Style) {
    if thresholds.is_empty() {
        return;
    }
    let _ = writeln!(w, "\n  thresholds");
    for t in thresholds {
        let mark = if t.ok {
            st.paint(GREEN, "✓")
        } else {
            st.paint(RED, "✗")
        };
        let observed = match t.observed {
            None => "no data".to_string(),
            Some(v) => observed(t, v),
        };
        let _ = writeln!(w, "    {mark} {}  {}", t.expr, st.paint(DIM, &observed));
    }
}

/// `agg=value`, the value in the unit its metric is measured in.
fn observed(t: &ThresholdResult, v: f64) -> String {
    let agg = t
        .condition
        .split(['<', '>', '=', '!'])
        .next()
        .unwrap_or("")
        .trim();
    let trend = t.metric.split('{').next().unwrap_or("");
    let value = if trend.parse::<crate::metrics::TrendMetric>().is_ok() {
        millis(v)
    } else if t.metric == "http_req_failed" || t.metric == "status_drift" {
        pct(v)
    } else if agg == "rate" {
        format!("{v:.2}/s")
    } else {
        format!("{v}")
    };
    format!("{agg}={value}")
}

/// How latency and errors moved over a soak run.
fn drift(w: &mut String, drift: &[DriftPoint]) {
    // Only meaningful with a series of some length.
    if drift.len() < 10 {
        return;
    }
    if let Some(d) = drift_summary(drift) {
        let p = |v: Option<f64>| v.map(millis).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            w,
            "\n  drift (first → last tenth): p95 {} → {}, error rate {} → {}",
            p(d.first_p95_ms),
            p(d.last_p95_ms),
            pct(d.first_error_rate),
            pct(d.last_error_rate)
        );
    }
}
