//! The HTML report (`--out html=FILE`, `replay report SUMMARY --html
//! FILE`): one self-contained file — inline CSS and SVG charts drawn here
//! (the `svg` module), no script, font or image from elsewhere — that opens
//! offline. Made from the summary alone, so a saved summary gives the same
//! report.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use super::blocks::BlocksEntry;
use super::svg::{number, Chart, Scale, Series};
use super::Summary;
use crate::metrics::hist;

/// Escaped text for HTML content and attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}\
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eee}\
th{background:#f6f6f6}td.n{text-align:right;font-variant-numeric:tabular-nums}\
.pass{color:#0a7a2f;font-weight:bold}.fail{color:#b3261e;font-weight:bold}.note{color:#666;font-size:12px}\
.badge{display:inline-block;padding:2px 10px;border-radius:4px;color:#fff;font-weight:bold}\
.badge.pass{background:#0a7a2f;color:#fff}.badge.fail{background:#b3261e;color:#fff}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0}dt{color:#555}dd{margin:0;word-break:break-all}\
.charts{display:flex;flex-wrap:wrap;gap:12px}svg{max-width:100%;height:auto;border:1px solid #eee}\
table.cmp td.n{white-space:nowrap;font-size:12px}table.cmp div.nm{max-width:300px;overflow-wrap:anywhere}table.cmp td.n.fail{background:#fdecea}";

/// The report for `s`.
pub fn render(s: &Summary) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let ok = s.thresholds.iter().all(|t| t.ok);
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>replay report: {}</title><style>{STYLE}</style></head><body>",
        esc(&s.target)
    );
    header(&mut h, s, ok);
    thresholds(&mut h, s);
    baseline(&mut h, s);
    over_time(&mut h, s);
    distribution(&mut h, s);
    endpoints(&mut h, s);
    stress(&mut h, s);
    let _ = write!(
        h,
        "<p class=\"note\">Made by replay {} from the run's summary. Latencies are measured from each request's intended send time (coordinated omission corrected).</p></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    h
}

fn header(h: &mut String, s: &Summary, ok: bool) {
    let verdict = if s.thresholds.is_empty() {
        String::new()
    } else if ok {
        "<span class=\"badge pass\">thresholds passed</span>".into()
    } else {
        "<span class=\"badge fail\">thresholds failed</span>".into()
    };
    let _ = write!(h, "<h1>replay report {verdict}</h1><dl>");
    let mut row = |k: &str, v: String| {
        let _ = write!(h, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(&v));
    };
    row("target", s.target.clone());
    if let Some(mode) = &s.mock {
        row("built-in mock", format!("latency {mode}: its latencies are the mock's, drawn from the recording, not a measurement of any real service"));
    }
    row("command", s.command.clone());
    row("seed", s.seed.to_string());
    if !s.shards.is_empty() {
        row("shards", s.shards.join(", "));
    }
    row(
        "duration",
        format!(
            "{:.1} s measured, {:.1} s planned ({:?})",
            s.duration_s, s.planned_duration_s, s.ended
        ),
    );
    let r = &s.requests;
    row(
        "requests",
        format!(
            "{} intended, {} sent, {} completed, {} failed, {} dropped",
            r.intended, r.sent, r.completed, r.failed, r.dropped
        ),
    );
    row(
        "rate",
        format!(
            "{:.2}/s achieved of {:.2}/s intended",
            s.achieved_rate, s.intended_rate
        ),
    );
    if !s.errors.is_empty() {
        let e: Vec<String> = s.errors.iter().map(|(k, n)| format!("{k} {n}")).collect();
        row("errors", e.join(", "));
    }
    if !s.dropped.is_empty() {
        let d: Vec<String> = s.dropped.iter().map(|(k, n)| format!("{k} {n}")).collect();
        row("dropped", d.join(", "));
    }
    h.push_str("</dl>");
}

fn thresholds(h: &mut String, s: &Summary) {
    if s.thresholds.is_empty() {
        return;
    }
    h.push_str("<h2>Thresholds</h2><table><tr><th></th><th>threshold</th><th>observed</th></tr>");
    for t in &s.thresholds {
        let (class, mark) = if t.ok {
            ("pass", "✓")
        } else {
            ("fail", "✗")
        };
        let observed = t
            .observed
            .map_or_else(|| "no data".into(), |v| format!("{v:.3}"));
        let _ = write!(
            h,
            "<tr><td class=\"{class}\">{mark}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            esc(&t.expr),
            esc(&observed)
        );
    }
    h.push_str("</table>");
}

/// The measured span on the blocks' time axis (seconds since the run
/// started, warmup included), as far as the summary tells: from the first
/// block that holds a request (the warmup's hold none) for the scheduled
/// time (`intended / intended_rate`), never ending before the last block
/// starts nor after it ends.
fn measured_span(s: &Summary, b: &BlocksEntry, blocks: usize) -> (f64, f64) {
    let last_start = (blocks - 1) as f64 * b.width_s;
    let last_end = blocks as f64 * b.width_s;
    let first = b.cells.iter().map(|c| c.block).min().unwrap_or(0) as f64 * b.width_s;
    let scheduled = match s.intended_rate > 0.0 {
        true => s.requests.intended as f64 / s.intended_rate,
        false => return (first, last_end),
    };
    // A block's requests are spread through it: even a last block cut
    // short covers some time.
    let end = (first + scheduled).clamp(last_start + b.width_s / 4.0, last_end);
    (first, end)
}

/// Requests per second of each group of `width` seconds (`count`),
/// plotted at its middle, over the measured span `[start, end)`: groups
/// outside it (the warmup, the time after the schedule) are left out, and
/// one it cuts counts over the time it covers.
fn per_second(count: &[u64], width: f64, (start, end): (f64, f64)) -> Vec<(f64, f64)> {
    count
        .iter()
        .enumerate()
        .filter_map(|(i, &c)| {
            let from = i as f64 * width;
            let covered = end.min(from + width) - start.max(from);
            (covered > 1e-9).then(|| (from + width / 2.0, c as f64 / covered))
        })
        .collect()
}

/// Rate, latency and errors over time, from the summary's per-endpoint
/// blocks (or the coarser drift series of summaries without them).
fn over_time(h: &mut String, s: &Summary) {
    h.push_str("<h2>Over time</h2><div class=\"charts\">");
    let Some(b) = s.blocks.as_ref().filter(|b| !b.cells.is_empty()) else {
        drift_charts(h, s);
        h.push_str("</div>");
        return;
    };
    // At most ~60 points: adjacent blocks are merged for the charts.
    let blocks = b.cells.iter().map(|c| c.block).max().unwrap_or(0) + 1;
    let group = blocks.div_ceil(60).max(1);
    let width = b.width_s * group as f64;
    let n = blocks.div_ceil(group);
    let mut merged: Vec<Option<Histogram<u64>>> = vec![None; n];
    let (mut count, mut failed) = (vec![0u64; n], vec![0u64; n]);
    for c in &b.cells {
        let i = c.block / group;
        count[i] += c.count;
        failed[i] += c.failed;
        if let Ok(hg) = hist::decode(&c.data) {
            match &mut merged[i] {
                Some(m) => {
                    let _ = m.add(&hg);
                }
                slot => *slot = Some(hg),
            }
        }
    }
    let t = |i: usize| (i as f64 + 0.5) * width;
    // The last group may hold fewer blocks, and its last block may be cut
    // by the end of the schedule: a rate over the whole group width would
    // show the run falling off at its end.
    let span = measured_span(s, b, blocks);
    let rate = per_second(&count, width, span);
    let intended = vec![(span.0, s.intended_rate), (span.1, s.intended_rate)];
    let chart = Chart {
        title: "Request rate (per second, by intended send time)",
        x_label: "seconds",
        y_label: "req/s",
        x_scale: Scale::Linear,
        y_scale: Scale::Linear,
        x_ticks: None,
        series: vec![
            Series {
                name: "achieved".into(),
                points: rate,
            },
            Series {
                name: "intended (mean)".into(),
                points: intended,
            },
        ],
    };
    h.push_str(&chart.render());
    let q = |p: f64| -> Vec<(f64, f64)> {
        (0..n)
            .filter_map(|i| {
                merged[i]
                    .as_ref()
                    .map(|m| (t(i), m.value_at_quantile(p) as f64 / 1000.0))
            })
            .collect()
    };
    let chart = Chart {
        title: "Latency (http_req_duration)",
        x_label: "seconds",
        y_label: "ms",
        x_scale: Scale::Linear,
        y_scale: Scale::Log,
        x_ticks: None,
        series: vec![
            Series {
                name: "p50".into(),
                points: q(0.5),
            },
            Series {
                name: "p95".into(),
                points: q(0.95),
            },
            Series {
                name: "p99".into(),
                points: q(0.99),
            },
        ],
    };
    h.push_str(&chart.render());
    let errors = per_second(&failed, width, span);
    let chart = Chart {
        title: "Failed requests (per second)",
        x_label: "seconds",
        y_label: "failed/s",
        x_scale: Scale::Linear,
        y_scale: Scale::Linear,
        x_ticks: None,
        series: vec![Series {
            name: "failed".into(),
            points: errors,
        }],
    };
    h.push_str(&chart.render());
    h.push_str("</div><p class=\"note\">Points of ");
    let _ = write!(
        h,
        "{} s; schedule lag over time is in the --out json time series.</p>",
        number(width)
    );
}

fn drift_charts(h: &mut String, s: &Summary) {
    let p95: Vec<(f64, f64)> = s
        .drift
        .iter()
        .filter_map(|d| d.p95_ms.map(|p| ((d.start_s + d.end_s) / 2.0, p)))
        .collect();
    let chart = Chart {
        title: "p95 latency per tenth of the run",
        x_label: "seconds",
        y_label: "ms",
        x_scale: Scale::Linear,
        y_scale: Scale::Linear,
        x_ticks: None,
        series: vec![Series {
            name: "p95".into(),
            points: p95,
        }],
    };
    h.push_str(&chart.render());
}

/// The latency distribution, HdrHistogram style: latency against the
/// percentile on a log scale of 1/(1−p), overall and per endpoint.
fn distribution(h: &mut String, s: &Summary) {
    let mut overall: Option<Histogram<u64>> = None;
    let mut per: Vec<Option<Histogram<u64>>> = vec![None; s.endpoints.len()];
    for e in s
        .histograms
        .iter()
        .filter(|e| e.metric == "http_req_duration")
    {
        let Ok(hg) = hist::decode(&e.data) else {
            continue;
        };
        for slot in [Some(&mut overall), per.get_mut(e.endpoint)]
            .into_iter()
            .flatten()
        {
            match slot {
                Some(m) => {
                    let _ = m.add(&hg);
                }
                none => *none = Some(hg.clone()),
            }
        }
    }
    let Some(overall) = overall else { return };
    let curve = |hg: &Histogram<u64>| -> Vec<(f64, f64)> {
        let mut pts = Vec::new();
        let mut p: f64 = 0.0;
        while p < 0.99999 {
            pts.push((1.0 / (1.0 - p), hg.value_at_quantile(p) as f64 / 1000.0));
            p = 1.0 - (1.0 - p) * 0.85;
        }
        pts.push((1.0 / (1.0 - 0.99999), hg.max() as f64 / 1000.0));
        pts
    };
    let mut series = vec![Series {
        name: "all".into(),
        points: curve(&overall),
    }];
    let names = endpoint_names(s);
    let mut order: Vec<usize> = (0..s.endpoints.len()).collect();
    order.sort_by_key(|i| std::cmp::Reverse(s.endpoints[*i].count));
    for i in order.into_iter().take(7) {
        if let Some(hg) = &per[i] {
            series.push(Series {
                name: names[i].clone(),
                points: curve(hg),
            });
        }
    }
    let ticks = [
        (1.0, "0%"),
        (10.0, "90%"),
        (100.0, "99%"),
        (1000.0, "99.9%"),
        (10000.0, "99.99%"),
        (100000.0, "99.999%"),
    ]
    .iter()
    .map(|(v, l)| (*v, l.to_string()))
    .collect();
    let chart = Chart {
        title: "Latency by percentile (http_req_duration)",
        x_label: "percentile",
        y_label: "ms",
        x_scale: Scale::Log,
        y_scale: Scale::Log,
        x_ticks: Some(ticks),
        series,
    };
    h.push_str("<h2>Latency distribution</h2>");
    h.push_str(&chart.render());
}

/// `run --baseline`: the verdict and every row of the comparison, each
/// metric as base → new with its change and the bootstrap interval of
/// the change; regressed metrics and rows in red.
fn baseline(h: &mut String, s: &Summary) {
    use super::comparison::render::{delta, interval, rule_line, value, verdict_line};
    use super::comparison::Verdict;
    let Some(c) = &s.baseline else { return };
    let badge = match c.verdict {
        Verdict::Pass => "<span class=\"badge pass\">PASS</span>",
        Verdict::Regression => "<span class=\"badge fail\">REGRESSION</span>",
    };
    let _ = write!(
        h,
        "<h2>Compared with the baseline</h2><p>{badge} {}</p><p class=\"note\">{}.</p>",
        esc(&verdict_line(c)),
        esc(&rule_line(c))
    );
    h.push_str("<table class=\"cmp\"><tr><th>endpoint</th><th>requests</th><th>p50</th><th>p95</th><th>p99</th><th>error rate</th><th>throughput</th><th>verdict</th></tr>");
    for r in std::iter::once(&c.overall).chain(&c.endpoints) {
        let (class, verdict) = match (r.regressed, r.judged) {
            (true, _) => ("fail", "regressed"),
            (false, true) => ("pass", "ok"),
            (false, false) => ("note", "not judged"),
        };
        // Why not judged goes under the name, where there is room.
        let why = r
            .note
            .as_ref()
            .map(|n| format!("<br><span class=\"note\">{}</span>", esc(n)))
            .unwrap_or_default();
        let _ = write!(
            h,
            "<tr><td><div class=\"nm\">{}{why}</div></td><td class=\"n\">{} → {}</td>",
            esc(&r.name),
            r.base_count,
            r.new_count
        );
        // Base → new, then the change; the interval of the change shows on
        // hover (and is in the summary's `baseline`).
        for (name, m) in r.metrics.named() {
            let _ = write!(
                h,
                "<td class=\"n{}\" title=\"interval of the change: {}\">{} → {}<br><span class=\"note\">{}</span></td>",
                if m.regressed { " fail" } else { "" },
                esc(&interval(name, m)),
                esc(&value(name, m.base)),
                esc(&value(name, m.new)),
                esc(&delta(name, m)),
            );
        }
        let _ = write!(h, "<td class=\"{class}\">{verdict}</td></tr>");
    }
    h.push_str("</table>");
    for n in &c.notes {
        let _ = write!(h, "<p class=\"note\">note: {}</p>", esc(n));
    }
}

fn endpoint_names(s: &Summary) -> Vec<String> {
    crate::metrics::distinct_names(
        s.endpoints
            .iter()
            .map(|e| (e.method.as_str(), e.host.as_str(), e.template.as_str())),
    )
}

fn endpoints(h: &mut String, s: &Summary) {
    let names = endpoint_names(s);
    h.push_str("<h2>Endpoints</h2><table><tr><th>endpoint</th><th>count</th><th>recorded</th><th>replayed</th><th>p50</th><th>p95</th><th>p99</th><th>errors</th><th>recorded errors</th><th>status</th></tr>");
    for (e, name) in s.endpoints.iter().zip(&names) {
        let status: Vec<String> = e.status.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let d = &e.http_req_duration;
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{:.2}%</td><td class=\"n\">{:.2}%</td><td class=\"n\">{:.2} ms</td><td class=\"n\">{:.2} ms</td><td class=\"n\">{:.2} ms</td><td class=\"n{}\">{:.2}%</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(name),
            e.count,
            e.recorded_share * 100.0,
            e.replayed_share * 100.0,
            d.p50,
            d.p95,
            d.p99,
            if e.error_share_grew() { " fail" } else { "" },
            e.error_rate * 100.0,
            e.recorded_error_rate.map_or_else(|| "–".into(), |r| format!("{:.2}%", r * 100.0)),
            esc(&status.join(", "))
        );
    }
    h.push_str("</table>");
}

fn stress(h: &mut String, s: &Summary) {
    let Some(st) = &s.stress else { return };
    h.push_str("<h2>Stress steps</h2><table><tr><th>step</th><th>thresholds</th><th>error rate</th><th>p95</th><th>achieved</th></tr>");
    for step in &st.steps {
        let (class, mark) = if step.thresholds_ok {
            ("pass", "✓")
        } else {
            ("fail", "✗")
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"{class}\">{mark}</td><td class=\"n\">{:.2}%</td><td class=\"n\">{:.2} ms</td><td class=\"n\">{:.1}/s</td></tr>",
            esc(&step.step),
            step.error_rate * 100.0,
            step.p95_ms,
            step.achieved_rate
        );
    }
    h.push_str("</table>");
    let _ = write!(
        h,
        "<p>Largest passing step: <b>{}</b>; first failing: <b>{}</b>.</p>",
        esc(st.largest_passing_step.as_deref().unwrap_or("none")),
        esc(st.first_failing_step.as_deref().unwrap_or("none"))
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_points_count_only_the_measured_time_their_group_covers() {
        // Groups of 2 s; the schedule ended 1 s into the third: 100 req/s
        // throughout, so 200, 200 and 100 requests.
        let points = per_second(&[200, 200, 100, 0], 2.0, (0.0, 5.0));
        assert_eq!(points, vec![(1.0, 100.0), (3.0, 100.0), (5.0, 100.0)]);
        // A 3 s warmup: the first group holds no measured request and the
        // second one second of them.
        let points = per_second(&[0, 100, 200, 100], 2.0, (3.0, 7.0));
        assert_eq!(points, vec![(3.0, 100.0), (5.0, 100.0), (7.0, 100.0)]);
    }

    #[test]
    fn the_measured_span_is_where_the_blocks_and_intended_requests_say() {
        let mut s = super::super::tests::known();
        s.intended_rate = 100.0;
        s.requests.intended = 510;
        let cell = |block| super::super::blocks::BlockCell {
            block,
            endpoint: 0,
            count: 1,
            failed: 0,
            data: String::new(),
        };
        // A 2 s warmup (blocks 0-7 empty), then 5.1 s of schedule.
        let b = BlocksEntry {
            width_s: 0.25,
            cells: (8..29).map(cell).collect(),
        };
        let (start, end) = measured_span(&s, &b, 29);
        assert_eq!(start, 2.0);
        assert!((end - 7.1).abs() < 1e-9);
        // Never ending before the last block with a request starts.
        s.requests.intended = 10;
        assert!((measured_span(&s, &b, 29).1 - (7.0 + 0.0625)).abs() < 1e-9);
        s.intended_rate = 0.0;
        assert_eq!(measured_span(&s, &b, 29), (2.0, 7.25));
    }
}
