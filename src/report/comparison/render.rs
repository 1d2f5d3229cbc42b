//! The comparison as text (terminal), Markdown (a pull-request comment) or
//! JSON (`verdict`, `overall`, `endpoints[]`): pure functions of a
//! [`Comparison`].

use super::{Comparison, Metric, Row, Verdict};

pub(crate) fn verdict_line(c: &Comparison) -> String {
    let n = c.regressed().len();
    match c.verdict {
        Verdict::Pass => format!("PASS: no regression ({} → {})", c.base, c.new),
        Verdict::Regression if n == 0 => {
            format!("REGRESSION overall ({} → {})", c.base, c.new)
        }
        Verdict::Regression => format!(
            "REGRESSION in {n} of {} endpoint{} ({} → {}): {}",
            c.endpoints.len(),
            if c.endpoints.len() == 1 { "" } else { "s" },
            c.base,
            c.new,
            c.regressed()
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

pub(crate) fn rule_line(c: &Comparison) -> String {
    let r = &c.rule;
    format!(
        "regressed = the {:.0}% block-bootstrap interval of the change lies above 0, and a percentile grew by more than {:.0}% and {} ms (error rate: by more than {:.1} points)",
        r.confidence * 100.0,
        r.min_change * 100.0,
        r.min_delta_ms,
        r.min_error_change * 100.0
    )
}

pub(crate) fn value(name: &str, v: f64) -> String {
    match name {
        "error rate" => format!("{:.2}%", v * 100.0),
        "throughput" => format!("{v:.1}/s"),
        _ => format!("{v:.2}ms"),
    }
}

pub(crate) fn delta(name: &str, m: &Metric) -> String {
    let rel = if m.base != 0.0 {
        format!(" ({:+.0}%)", m.delta / m.base * 100.0)
    } else {
        String::new()
    };
    match name {
        "error rate" => format!("{:+.2} pt", m.delta * 100.0),
        "throughput" => format!("{:+.1}/s{rel}", m.delta),
        _ => format!("{:+.2}ms{rel}", m.delta),
    }
}

pub(crate) fn interval(name: &str, m: &Metric) -> String {
    match (m.interval, name) {
        (None, _) => "-".into(),
        (Some([lo, hi]), "error rate") => format!("[{:+.2}, {:+.2}] pt", lo * 100.0, hi * 100.0),
        (Some([lo, hi]), _) => format!("[{lo:+.2}, {hi:+.2}]ms"),
    }
}

fn row_text(r: &Row, out: &mut String) {
    out.push_str(&format!(
        "\n  {}  ({} → {} requests){}\n",
        r.name,
        r.base_count,
        r.new_count,
        if r.regressed { "  REGRESSED" } else { "" }
    ));
    if let Some(note) = &r.note {
        out.push_str(&format!("    {note}\n"));
    }
    for (name, m) in r.metrics.named() {
        out.push_str(&format!(
            "    {:<11} {:>11} → {:>11}  {:>18}  {:>22}{}\n",
            name,
            value(name, m.base),
            value(name, m.new),
            delta(name, m),
            interval(name, m),
            if m.regressed { "  ✗" } else { "" }
        ));
    }
}

/// The terminal report.
pub fn text(c: &Comparison) -> String {
    let mut out = format!("compare: {}\n  {}\n", verdict_line(c), rule_line(c));
    out.push_str(
        "\n  metric             base           new               delta                interval\n",
    );
    row_text(&c.overall, &mut out);
    for r in &c.endpoints {
        row_text(r, &mut out);
    }
    for n in &c.notes {
        out.push_str(&format!("\n  note: {n}"));
    }
    if !c.notes.is_empty() {
        out.push('\n');
    }
    out
}

fn md_cell(name: &str, m: &Metric) -> String {
    format!(
        "{} → {} ({}){}",
        value(name, m.base),
        value(name, m.new),
        delta(name, m),
        if m.regressed { " ❌" } else { "" }
    )
}

/// A Markdown report that fits a pull-request comment.
pub fn markdown(c: &Comparison) -> String {
    let icon = match c.verdict {
        Verdict::Pass => "✅",
        Verdict::Regression => "❌",
    };
    let mut out = format!("### {icon} replay compare: {}\n\n", verdict_line(c));
    out.push_str("| endpoint | p50 | p95 | p99 | error rate | throughput | verdict |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    for r in std::iter::once(&c.overall).chain(&c.endpoints) {
        let m = &r.metrics;
        let verdict = match (r.regressed, r.judged) {
            (true, _) => "regressed",
            (false, true) => "ok",
            (false, false) => "not judged",
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {verdict} |\n",
            r.name.replace('|', "\\|"),
            md_cell("p50", &m.p50_ms),
            md_cell("p95", &m.p95_ms),
            md_cell("p99", &m.p99_ms),
            md_cell("error rate", &m.error_rate),
            md_cell("throughput", &m.throughput),
        ));
    }
    out.push_str(&format!("\n<sub>{}.</sub>\n", rule_line(c)));
    for n in &c.notes {
        out.push_str(&format!("\n> note: {n}\n"));
    }
    out
}

/// The JSON document.
pub fn json(c: &Comparison) -> String {
    let mut s = serde_json::to_string_pretty(c).expect("a comparison always serializes");
    s.push('\n');
    s
}
