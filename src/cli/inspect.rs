//! `replay inspect MODEL|CAPTURE`: what a model learned, as a table or as
//! a JSON document (`--json`, documented in docs/inspect-json.md).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;

use serde_json::{json, Value};

use super::args::InspectArgs;
use crate::human as fmt;
use crate::model::correlate::{Origin, Slot};
use crate::model::{
    BodyModel, Endpoint, Link, LogHist, Param, Pool, Sessions, TailType, TrafficModel,
};

pub fn run(args: InspectArgs) -> anyhow::Result<u8> {
    let input = super::input::load_input(&args.inputs, &args.filters)?;
    let out = if args.json {
        let mut s = serde_json::to_string_pretty(&document(&input.model, args.top))?;
        s.push('\n');
        s
    } else {
        table(&input.model, args.top)
    };
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        other => other.map(|_| 0).map_err(Into::into),
    }
}

fn status_mix(e: &Endpoint) -> Vec<(u16, f64)> {
    let total: u64 = e.response.status.values().sum();
    let mut v: Vec<(u16, f64)> = e
        .response
        .status
        .iter()
        .map(|(k, c)| (*k, *c as f64 / total.max(1) as f64))
        .collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

fn hist_json(h: &LogHist) -> Value {
    if h.is_empty() {
        return Value::Null;
    }
    json!({
        "count": h.count,
        "mean": h.mean(),
        "p50": h.quantile(0.5),
        "p90": h.quantile(0.9),
        "p95": h.quantile(0.95),
        "p99": h.quantile(0.99),
        "max": h.max,
    })
}

fn tail_json(t: &TailType) -> Value {
    match t {
        TailType::None => Value::Null,
        TailType::IntRange { min, max } => json!({"type": "int_range", "min": min, "max": max}),
        TailType::Uuid => json!({"type": "uuid"}),
        TailType::Hex { len, .. } => json!({"type": "hex", "len": len}),
        TailType::Text {
            min_len,
            max_len,
            alphabet,
        } => {
            json!({"type": "text", "min_len": min_len, "max_len": max_len, "alphabet": alphabet.name()})
        }
    }
}

fn pool_json(p: &Pool, top: usize) -> Value {
    let total = p.total().max(1) as f64;
    json!({
        "distinct_kept": p.values.len(),
        "top": p.values.iter().take(top).map(|(v, c)| json!({"value": v, "count": c, "share": *c as f64 / total})).collect::<Vec<_>>(),
        "tail_share": p.tail_count as f64 / total,
        "tail": tail_json(&p.tail),
    })
}

/// `open`: whether generation draws the slot from its pool alone, free to
/// produce values never recorded (always, in models without combinations).
fn param_json(p: &Param, open: bool, top: usize) -> Value {
    json!({"name": p.name, "presence": p.presence, "open": open, "pool": pool_json(&p.pool, top)})
}

/// Which of an endpoint's slots are open, by kind.
struct Openness<'e>(&'e Endpoint);

impl Openness<'_> {
    fn path(&self, i: usize) -> bool {
        self.0
            .joint
            .as_ref()
            .is_none_or(|j| j.open.path.get(i).copied().unwrap_or(true))
    }

    fn query(&self, name: &str) -> bool {
        self.0.joint.as_ref().is_none_or(|j| j.query_open(name))
    }

    fn header(&self, name: &str) -> bool {
        self.0.joint.as_ref().is_none_or(|j| j.header_open(name))
    }
}

/// The endpoint's parameters, each with whether it is open.
fn params_json(e: &Endpoint, top: usize) -> (Value, Value, Value) {
    let o = Openness(e);
    (
        e.path_params
            .iter()
            .enumerate()
            .map(|(i, p)| param_json(p, o.path(i), top))
            .collect(),
        e.query
            .iter()
            .map(|p| param_json(p, o.query(&p.name), top))
            .collect(),
        e.headers
            .iter()
            .map(|p| param_json(p, o.header(&p.name), top))
            .collect(),
    )
}

/// The recorded combinations, or null for models written before them.
fn joint_json(e: &Endpoint) -> Value {
    let Some(j) = &e.joint else {
        return Value::Null;
    };
    let listed: u64 = j.tuples.iter().map(|t| t.count).sum();
    json!({
        "combinations": j.tuples.len(),
        "header_sets": j.header_sets.len(),
        "header_sets_apart": j.headers_apart(),
        "tail_share": j.tail_count as f64 / (listed + j.tail_count).max(1) as f64,
    })
}

/// The `--json` document.
pub fn document(m: &TrafficModel, top: usize) -> Value {
    let a = &m.arrival;
    let ts = |ns: i64| {
        chrono::DateTime::from_timestamp_nanos(ns)
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    };
    json!({
        "requests": m.requests(),
        "duration_s": a.duration_s(),
        "mean_rate_rps": a.mean_rate(),
        "burstiness_cv": a.burstiness(),
        "peak_to_mean": a.peak_to_mean(),
        "start": ts(a.start_ns),
        "end": ts(a.end_ns),
        "compressed_gaps": (a.compressed.gaps > 0).then(|| json!({
            "max_gap_s": a.compressed.max_gap_s,
            "gaps": a.compressed.gaps,
            "removed_s": a.compressed.removed_s,
        })),
        "inter_arrival_s": hist_json(&a.inter_arrival_s),
        "rate": {"bin_s": a.bin_s, "counts": a.bins},
        "sessions": {
            "clients": m.sessions.clients,
            "sessions": m.sessions.sessions,
            "idle_split_s": m.sessions.idle_split_s,
            "think_time_s": hist_json(&m.sessions.think_time_s),
            "length": hist_json(&m.sessions.length),
            "transitions": m.sessions.transitions.len(),
            "client_sample": m.sessions.client_sample.max(1),
        },
        "endpoints": m.endpoints.iter().map(|e| endpoint_json(e, top)).collect::<Vec<_>>(),
        "skipped": m.source.skipped,
        "secrets": m.secrets.iter().map(|s| json!({
            "placeholder": crate::model::scrub::placeholder(&s.name),
            "name": s.name, "location": s.location, "field": s.field, "count": s.count,
        })).collect::<Vec<_>>(),
        "links": m.links.iter().map(|l| json!({
            "producer": l.producer,
            "from": origin_text(&l.source),
            "consumer": l.consumer,
            "to": slot_text(m, l),
            "count": l.count,
            "share": l.share,
            "lag_ms": hist_json(&l.lag_ms),
        })).collect::<Vec<_>>(),
        "scrubbed": m.source.scrubbed,
        "pii": m.source.pii,
        "warnings": m.source.warnings,
        "source": {
            "seen": m.source.seen,
            "kept": m.source.kept,
            "files": m.source.files.iter().map(|f| {
                let (algorithm, digest) = f.digest();
                let mut o = json!({"path": f.path, "kind": f.kind, "bytes": f.bytes});
                o[algorithm] = json!(digest);
                o["seen"] = json!(f.seen);
                o["kept"] = json!(f.kept);
                o
            }).collect::<Vec<_>>(),
        },
    })
}

fn endpoint_json(e: &Endpoint, top: usize) -> Value {
    let (path, query, headers) = params_json(e, top);
    json!({
        "method": e.method,
        "scheme": e.scheme,
        "host": e.host,
        "template": e.template,
        "count": e.count,
        "weight": e.weight,
        "status": e.response.status.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "latency_ms": hist_json(&e.response.latency_ms),
        "wait_ms": hist_json(&e.response.wait_ms),
        "response_size_bytes": hist_json(&e.response.size),
        "path_params": path,
        "query": query,
        "headers": headers,
        "joint": joint_json(e),
        "body": e.body.as_ref().map(body_kind),
    })
}

fn body_kind(b: &BodyModel) -> Value {
    match b {
        BodyModel::Json {
            presence,
            mime,
            fields,
            ..
        } => {
            json!({"kind": "json", "presence": presence, "mime": mime, "fields": fields.iter().map(|f| &f.path).collect::<Vec<_>>()})
        }
        BodyModel::Form {
            presence,
            mime,
            fields,
        } => {
            json!({"kind": "form", "presence": presence, "mime": mime, "fields": fields.iter().map(|f| &f.name).collect::<Vec<_>>()})
        }
        BodyModel::Text {
            presence,
            mime,
            pool,
        } => {
            json!({"kind": "text", "presence": presence, "mime": mime, "distinct": pool.values.len()})
        }
        BodyModel::Opaque {
            presence,
            mime,
            size,
        } => {
            json!({"kind": "opaque", "presence": presence, "mime": mime, "size_bytes": hist_json(size)})
        }
    }
}

fn pool_line(p: &Pool, top: usize) -> String {
    let total = p.total().max(1) as f64;
    let mut parts: Vec<String> = p
        .values
        .iter()
        .take(top)
        .map(|(v, c)| {
            format!(
                "{} ({})",
                fmt::cut(if v.is_empty() { "\"\"" } else { v }, 40),
                fmt::percent(*c as f64 / total)
            )
        })
        .collect();
    let listed_rest: u64 = p.values.iter().skip(top).map(|v| v.1).sum();
    if listed_rest > 0 {
        parts.push(format!(
            "{} more ({})",
            p.values.len() - top,
            fmt::percent(listed_rest as f64 / total)
        ));
    }
    if p.tail_count > 0 {
        let tail = match &p.tail {
            TailType::None => String::new(),
            TailType::IntRange { min, max } => format!("ints {min}..{max}"),
            TailType::Uuid => "uuids".into(),
            TailType::Hex { len, .. } => format!("hex[{len}]"),
            TailType::Text {
                min_len,
                max_len,
                alphabet,
            } => format!("{} text[{min_len}..{max_len}]", alphabet.name()),
        };
        parts.push(format!(
            "+ {tail} ({})",
            fmt::percent(p.tail_count as f64 / total)
        ));
    }
    parts.join(", ")
}

/// The readable table: one section after another, each skipped when it
/// would be empty.
pub fn table(m: &TrafficModel, top: usize) -> String {
    let mut s = String::new();
    sources(&mut s, m);
    arrival(&mut s, m);
    sessions(&mut s, &m.sessions);
    endpoints(&mut s, &m.endpoints);
    parameters(&mut s, &m.endpoints, top);
    links(&mut s, m);
    skipped(&mut s, &m.source.skipped);
    secrets(&mut s, m);
    for w in &m.source.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    s
}

/// One line per input file, then how many requests made it into the model.
fn sources(s: &mut String, m: &TrafficModel) {
    for f in &m.source.files {
        let _ = writeln!(
            s,
            "source    {} ({}, {}, {} {})",
            f.path,
            f.kind,
            fmt::bytes(f.bytes as f64),
            f.digest().0,
            &f.digest().1[..f.digest().1.len().min(12)]
        );
    }
    let skipped = m.source.skipped_total();
    let _ = writeln!(
        s,
        "requests  {} modelled ({} seen, {} skipped)",
        fmt::count(m.requests()),
        fmt::count(m.source.seen),
        fmt::count(skipped)
    );
}

/// When the traffic came and how bursty it was.
fn arrival(s: &mut String, m: &TrafficModel) {
    let a = &m.arrival;
    let start = chrono::DateTime::from_timestamp_nanos(a.start_ns)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let _ = writeln!(s, "duration  {} from {start}", fmt::seconds(a.duration_s()));
    if let Some(line) = compressed_gaps(m) {
        let _ = writeln!(s, "          {line}");
    }
    let _ = writeln!(
        s,
        "rate      {} req/s mean, peak/mean {:.1}, burstiness (CV of gaps) {:.2}",
        fmt::rate(a.mean_rate()),
        a.peak_to_mean(),
        a.burstiness()
    );
    let g = &a.inter_arrival_s;
    if !g.is_empty() {
        let _ = writeln!(
            s,
            "gaps      p50 {}  p90 {}  p99 {}  max {}",
            fmt::seconds(g.quantile(0.5)),
            fmt::seconds(g.quantile(0.9)),
            fmt::seconds(g.quantile(0.99)),
            fmt::seconds(g.max)
        );
    }
    let _ = writeln!(
        s,
        "over time {} (bins of {})",
        fmt::sparkline(&a.bins, 60),
        fmt::seconds(a.bin_s)
    );
}

/// What personal data was replaced, by kind and count (never a value):
/// `replaced personal data with look-alikes: 12 e-mail addresses, 3
/// card numbers`; or that it was kept.
pub fn pii_line(m: &TrafficModel) -> Option<String> {
    let Some(counts) = &m.source.pii else {
        return Some(
            "personal data was kept verbatim (recorded with --keep-pii, or by an older replay)"
                .into(),
        );
    };
    let mut kinds: Vec<(&String, &u64)> = counts.iter().filter(|(_, n)| **n > 0).collect();
    if kinds.is_empty() {
        return Some("no personal data found (card numbers, e-mail and IP addresses, phone numbers, IBANs, personal fields)".into());
    }
    kinds.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let parts: Vec<String> = kinds
        .iter()
        .map(|(k, n)| {
            let what = match (k.as_str(), **n == 1) {
                ("card", true) => "card number",
                ("card", false) => "card numbers",
                ("email", true) => "e-mail address",
                ("email", false) => "e-mail addresses",
                ("phone", true) => "phone number",
                ("phone", false) => "phone numbers",
                ("ip", true) => "IP address",
                ("ip", false) => "IP addresses",
                ("iban", true) => "IBAN",
                ("iban", false) => "IBANs",
                ("field", true) => "personal field value",
                ("field", false) => "personal field values",
                (other, _) => other,
            };
            format!("{} {what}", fmt::count(**n))
        })
        .collect();
    Some(format!(
        "replaced personal data with look-alikes: {} (--keep-pii keeps it)",
        parts.join(", ")
    ))
}

/// What `--max-gap` took out of the timeline, when it took anything.
pub fn compressed_gaps(m: &TrafficModel) -> Option<String> {
    let g = &m.arrival.compressed;
    (g.gaps > 0).then(|| {
        format!(
            "{} idle gap{} over {} compressed to it: {} removed (--max-gap)",
            fmt::count(g.gaps),
            if g.gaps == 1 { "" } else { "s" },
            fmt::seconds(g.max_gap_s),
            fmt::seconds(g.removed_s)
        )
    })
}

fn sessions(s: &mut String, ss: &Sessions) {
    // Estimates when the users were too many to follow each.
    let about = if ss.client_sample > 1 { "~" } else { "" };
    let _ = writeln!(
        s,
        "sessions  {about}{} users, {about}{} sessions (idle over {} ends one), {} requests a session p50, think time p50 {}, {} transitions",
        fmt::count(ss.clients),
        fmt::count(ss.sessions),
        fmt::seconds(ss.idle_split_s),
        fmt_len(ss.length.quantile(0.5)),
        fmt::seconds(ss.think_time_s.quantile(0.5)),
        ss.transitions.len()
    );
    if ss.client_sample > 1 {
        let _ = writeln!(
            s,
            "          learned from one user in {} (too many users to follow each at once), each counted {} times",
            ss.client_sample, ss.client_sample
        );
    }
}

fn fmt_len(n: f64) -> String {
    if n.is_finite() {
        format!("{:.0}", n.round())
    } else {
        "-".into()
    }
}

/// The endpoint table, its columns as wide as the longest host and template
/// (within limits, so one long URL cannot push the numbers off screen).
fn endpoints(s: &mut String, endpoints: &[Endpoint]) {
    let _ = writeln!(s, "\nendpoints ({})", endpoints.len());
    let tw = endpoints
        .iter()
        .map(|e| e.template.chars().count().min(50))
        .max()
        .unwrap_or(8)
        .max(8);
    let hw = endpoints
        .iter()
        .map(|e| e.host.len().min(30))
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        s,
        "  {:<7} {:<hw$} {:<tw$} {:>8} {:>7}  {:<22} {:>9} {:>9}",
        "METHOD", "HOST", "TEMPLATE", "COUNT", "WEIGHT", "STATUS", "P50", "P95"
    );
    for e in endpoints {
        let mix: Vec<String> = status_mix(e)
            .iter()
            .take(3)
            .map(|(c, f)| format!("{c}:{:.0}%", f * 100.0))
            .collect();
        let lat = &e.response.latency_ms;
        let (p50, p95) = if lat.is_empty() {
            ("-".into(), "-".into())
        } else {
            (
                fmt::millis(lat.quantile(0.5)),
                fmt::millis(lat.quantile(0.95)),
            )
        };
        let _ = writeln!(
            s,
            "  {:<7} {:<hw$} {:<tw$} {:>8} {:>7}  {:<22} {:>9} {:>9}",
            e.method,
            fmt::cut(&e.host, 30),
            fmt::cut(&e.template, 50),
            fmt::count(e.count),
            fmt::percent(e.weight),
            mix.join(" "),
            p50,
            p95
        );
    }
}

/// What each endpoint varies, under its own heading; the section is left
/// out entirely when no endpoint varies anything.
fn parameters(s: &mut String, endpoints: &[Endpoint], top: usize) {
    let mut params = String::new();
    for e in endpoints {
        let lines = endpoint_parameters(e, top);
        if !lines.is_empty() {
            let _ = writeln!(params, "  {} {}{}", e.method, e.host, e.template);
            for l in lines {
                let _ = writeln!(params, "{l}");
            }
        }
    }
    if !params.is_empty() {
        let _ = writeln!(s, "\nparameters (top {top} values)");
        s.push_str(&params);
    }
}

/// One line per path parameter, query parameter and body field, then the
/// recorded combinations. An open slot (`open`) is drawn from its pool and
/// may take values never recorded; the others (`recorded`) only take the
/// values of a recorded combination.
fn endpoint_parameters(e: &Endpoint, top: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let o = Openness(e);
    let tag = |open: bool| if open { "open" } else { "recorded" };
    for (i, p) in e.path_params.iter().enumerate() {
        lines.push(format!(
            "    path {{{}}} {}: {}",
            p.name,
            tag(o.path(i)),
            pool_line(&p.pool, top)
        ));
    }
    for q in &e.query {
        lines.push(format!(
            "    query {} ({}) {}: {}",
            q.name,
            fmt::percent(q.presence),
            tag(o.query(&q.name)),
            pool_line(&q.pool, top)
        ));
    }
    if let Some(b) = &e.body {
        body_lines(&mut lines, b, top);
    }
    if let Some(j) = &e.joint {
        let varies = j.tuples.len() > 1 || !j.open.headers.is_empty() || j.tail_count > 0;
        if varies {
            let open: Vec<&str> = e
                .headers
                .iter()
                .filter(|h| j.header_open(&h.name))
                .map(|h| h.name.as_str())
                .collect();
            let listed: u64 = j.tuples.iter().map(|t| t.count).sum();
            lines.push(format!(
                "    drawn together: {} recorded combination{} of path, query and {} header set{}{}{}{}",
                fmt::count(j.tuples.len() as u64),
                if j.tuples.len() == 1 { "" } else { "s" },
                j.header_sets.len(),
                if j.header_sets.len() == 1 { "" } else { "s" },
                if j.headers_apart() {
                    " (header sets drawn apart: too many combinations to keep)"
                } else {
                    ""
                },
                if open.is_empty() {
                    String::new()
                } else {
                    format!(" (open headers: {})", open.join(", "))
                },
                if j.tail_count > 0 {
                    format!(
                        "; {} of requests in rarer ones not kept",
                        fmt::percent(j.tail_count as f64 / (listed + j.tail_count) as f64)
                    )
                } else {
                    String::new()
                }
            ));
        }
    }
    lines
}

fn body_lines(lines: &mut Vec<String>, b: &BodyModel, top: usize) {
    match b {
        BodyModel::Json { fields, .. } => {
            // A JSON body can have hundreds of fields; a dozen shows its shape.
            for f in fields.iter().take(12) {
                lines.push(format!(
                    "    json {} ({}): {}",
                    f.path,
                    fmt::percent(f.presence),
                    pool_line(&f.pool, top)
                ));
            }
            if fields.len() > 12 {
                lines.push(format!("    json … {} more fields", fields.len() - 12));
            }
        }
        BodyModel::Form { fields, .. } => {
            for f in fields {
                lines.push(format!(
                    "    form {} ({}): {}",
                    f.name,
                    fmt::percent(f.presence),
                    pool_line(&f.pool, top)
                ));
            }
        }
        BodyModel::Text { mime, pool, .. } => lines.push(format!(
            "    body {mime}: {} distinct bodies",
            pool.values.len()
        )),
        BodyModel::Opaque { mime, size, .. } => lines.push(format!(
            "    body {mime}: opaque, size p50 {}",
            fmt::bytes(size.quantile(0.5))
        )),
    }
}

/// Why requests were left out, most common reason first.
fn skipped(s: &mut String, skipped: &BTreeMap<String, u64>) {
    if skipped.is_empty() {
        return;
    }
    let _ = writeln!(s, "\nskipped");
    let mut reasons: Vec<(&String, &u64)> = skipped.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (r, c) in reasons {
        let _ = writeln!(s, "  {:<40} {:>8}", r, fmt::count(*c));
    }
}

/// The secrets a replay will need, or a reminder that they were kept.
/// Produced values and the requests that use them.
fn links(s: &mut String, m: &TrafficModel) {
    if m.links.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\nproduced values (taken from live responses when replaying)"
    );
    for l in &m.links {
        let _ = writeln!(
            s,
            "  {} {} → {} {}  ({} uses, {} of its requests, median lag {})",
            m.endpoints[l.producer].key(),
            origin_text(&l.source),
            m.endpoints[l.consumer].key(),
            slot_text(m, l),
            fmt::count(l.count),
            fmt::percent(l.share),
            fmt::millis(l.lag_ms.quantile(0.5)),
        );
    }
}

fn origin_text(o: &Origin) -> String {
    match o {
        Origin::Json(p) => p.clone(),
        Origin::Location(k) => format!("Location segment {k}"),
        Origin::Header(n) => format!("{n} header"),
    }
}

/// The consumer slot by name: `{id}` for a path slot, `?page` for a query.
fn slot_text(m: &TrafficModel, l: &Link) -> String {
    match &l.slot {
        Slot::Path(i) => m.endpoints[l.consumer]
            .path_params
            .get(*i)
            .map_or_else(|| format!("path slot {i}"), |p| format!("{{{}}}", p.name)),
        Slot::Query(n) => format!("?{n}"),
        Slot::Json(p) => format!("body {p}"),
        Slot::Header { name, prefix } => format!("{name}: {prefix}…"),
    }
}

fn secrets(s: &mut String, m: &TrafficModel) {
    if !m.secrets.is_empty() {
        let _ = writeln!(s, "\nscrubbed secrets (supply with -H 'Name: value' or --secret NAME=VALUE when replaying)");
        for sec in &m.secrets {
            let _ = writeln!(
                s,
                "  {:<32} {:<7} {:<28} {:>6} values",
                crate::model::scrub::placeholder(&sec.name),
                sec.location,
                fmt::cut(&sec.field, 28),
                fmt::count(sec.count)
            );
        }
    } else if !m.source.scrubbed {
        let _ = writeln!(s, "\nsecrets were kept (recorded with --keep-secrets)");
    }
    if let Some(line) = pii_line(m) {
        let _ = writeln!(s, "\n{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampled_sessions_read_as_estimates() {
        let mut ss = Sessions {
            clients: 3_000_000,
            sessions: 3_100_000,
            idle_split_s: 1800.0,
            client_sample: 1,
            ..Default::default()
        };
        let mut exact = String::new();
        sessions(&mut exact, &ss);
        assert!(
            exact.starts_with("sessions  3,000,000 users, 3,100,000 sessions"),
            "{exact}"
        );
        assert!(!exact.contains("one user in"), "{exact}");
        ss.client_sample = 16;
        let mut est = String::new();
        sessions(&mut est, &ss);
        assert!(
            est.starts_with("sessions  ~3,000,000 users, ~3,100,000 sessions"),
            "{est}"
        );
        assert!(est.contains("learned from one user in 16"), "{est}");
    }
}
