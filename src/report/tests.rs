use std::collections::BTreeSet;
use std::time::Duration;

use super::*;
use crate::metrics::{Dropped, Sample};
use crate::threshold::{evaluate, parse, Threshold};

fn endpoints() -> Vec<EndpointDesc> {
    vec![
        EndpointDesc {
            method: "GET".into(),
            host: "api.example.com".into(),
            template: "/posts/{id}".into(),
            recorded_share: 0.7,
            recorded_status: BTreeMap::from([(200, 700)]),
        },
        EndpointDesc {
            method: "POST".into(),
            host: "api.example.com".into(),
            template: "/posts".into(),
            recorded_share: 0.3,
            recorded_status: BTreeMap::from([(201, 290), (503, 10)]),
        },
    ]
}

fn meta() -> RunMeta {
    RunMeta {
        seed: 42,
        duration_s: 10.0,
        planned_duration_s: 10.0,
        ended: Ended::Completed,
        intended_rate: 11.0,
        scale: Some(2.0),
        target: "http://127.0.0.1:8080".into(),
        command: "replay shop.model.gz --scale 2x --seed 42".into(),
        mock: None,
        shards: Vec::new(),
        endpoints: endpoints(),
    }
}

/// Deterministic samples: n-th sample of a fixed pattern.
fn nth(i: u64) -> Sample {
    let endpoint = if i % 10 < 7 { 0 } else { 1 };
    let (status, error) = match i % 25 {
        0 => (None, Some(ErrorKind::Timeout)),
        5 => (Some(503), None),
        _ => (Some(if endpoint == 0 { 200 } else { 201 }), None),
    };
    let d = Duration::from_micros(1000 + i * 137 % 50_000);
    Sample {
        endpoint,
        status,
        error,
        duration: d,
        service_time: d * 9 / 10,
        waiting: d / 2,
        connecting: (i % 20 == 0).then(|| Duration::from_micros(300 + i)),
        schedule_lag: Duration::from_micros(i % 200),
        tls_handshaking: None,
        blocked: Duration::ZERO,
        sending: Duration::ZERO,
        receiving: Duration::ZERO,
        bytes_sent: 100,
        bytes_received: 1000 + i % 7,
        at: Duration::from_millis(i * 10),
        warmup: i < 5,
    }
}

fn record(rec: &mut Recorder, range: std::ops::Range<u64>) {
    for i in range {
        rec.record(&nth(i));
        if i % 50 == 0 {
            rec.record_dropped(&Dropped {
                endpoint: (i % 2) as usize,
                reason: DropReason::ConnectionCap,
                at: Duration::from_millis(i),
                warmup: i < 5,
            });
        }
        if i % 100 == 99 {
            rec.take_interval(Duration::from_secs(i / 100 + 1));
        }
    }
}

fn thresholds() -> Vec<Threshold> {
    [
        "http_req_duration: p(95)<500ms",
        "http_req_failed: rate<0.01",
        "http_reqs: rate>100",
        "http_req_duration{endpoint:GET /posts/{id}}: p(99)<300ms",
        "http_req_duration{status:5xx}: max<1s",
        "status_drift: rate<0.02",
        "http_req_waiting{status:201}: p(95)<300ms",
    ]
    .iter()
    .map(|t| parse(t).unwrap())
    .collect()
}

fn build(rec: &Recorder) -> Summary {
    let ths = thresholds();
    let results = evaluate(&ths, rec, &endpoints(), Duration::from_secs(10));
    Summary::build(rec, &meta(), &ths, &results)
}

/// A recorder as a run with [`thresholds`] makes one: keeping the codes
/// they name apart.
fn recorder() -> Recorder {
    let mut rec = Recorder::new();
    rec.track_codes(crate::threshold::trend_codes(&thresholds()));
    rec
}

pub(super) fn known() -> Summary {
    let mut rec = recorder();
    record(&mut rec, 0..1000);
    build(&rec)
}

/// `path: type` lines for every value in the JSON; array elements share
/// the path `[]`.
fn shape(v: &serde_json::Value, path: &str, out: &mut BTreeSet<String>) {
    use serde_json::Value::*;
    let ty = match v {
        Null => "null",
        Bool(_) => "bool",
        Number(n) if n.is_u64() => "uint",
        Number(_) => "number",
        String(_) => "string",
        Array(_) => "array",
        Object(_) => "object",
    };
    out.insert(format!("{path}: {ty}"));
    match v {
        Array(items) => items
            .iter()
            .for_each(|i| shape(i, &format!("{path}[]"), out)),
        Object(m) => m
            .iter()
            .for_each(|(k, i)| shape(i, &format!("{path}.{k}"), out)),
        _ => {}
    }
}

/// [`known`] with every optional section present: a run against the
/// built-in mock, with the stress section.
fn known_full() -> Summary {
    let mut s = known();
    s.mock = Some("recorded".into());
    s.stress = Some(StressSummary {
        largest_passing_step: Some("1x".into()),
        first_failing_step: Some("2x".into()),
        steps: vec![StressStep {
            step: "1x".into(),
            scale: Some(1.0),
            thresholds_ok: true,
            error_rate: 0.0,
            p95_ms: 12.5,
            achieved_rate: 10.0,
        }],
    });
    s.baseline = Some(comparison());
    s
}

/// A comparison as `run --baseline` adds it (made by hand: the report
/// stage does not call the compare stage).
fn comparison() -> comparison::Comparison {
    use comparison::{Comparison, Metric, Metrics, Row, Rule, Verdict};
    let m = |base: f64, new: f64, judged: bool| Metric {
        base,
        new,
        delta: new - base,
        interval: judged.then_some([new - base - 1.0, new - base + 1.0]),
        regressed: false,
    };
    let row = |name: &str, method: &str, template: &str| Row {
        name: name.into(),
        method: method.into(),
        host: if method.is_empty() {
            ""
        } else {
            "api.example.com"
        }
        .into(),
        template: template.into(),
        base_count: 700,
        new_count: 705,
        judged: true,
        note: None,
        metrics: Metrics {
            p50_ms: m(12.0, 12.5, true),
            p95_ms: m(40.0, 41.0, true),
            p99_ms: m(80.0, 79.0, false),
            error_rate: m(0.0, 0.0, true),
            throughput: m(70.0, 70.5, false),
        },
        regressed: false,
    };
    Comparison {
        format: "replay-compare".into(),
        version: 1,
        verdict: Verdict::Pass,
        base: "base.json".into(),
        new: "this run".into(),
        rule: Rule::default(),
        overall: row("overall", "", ""),
        endpoints: vec![row("GET /posts/{id}", "GET", "/posts/{id}")],
        notes: vec!["targets differ".into()],
    }
}

/// The `shape` lines of [`known_full`].
fn shape_lines() -> BTreeSet<String> {
    let v = serde_json::to_value(known_full()).unwrap();
    let mut lines = BTreeSet::new();
    shape(&v, "$", &mut lines);
    lines
}

#[test]
fn summary_json_shape_is_pinned() {
    let actual: String = shape_lines().into_iter().map(|l| l + "\n").collect();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/report/testdata/summary-shape.txt"
    );
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(path, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        actual == expected,
        "summary JSON shape changed (a contract: update docs/summary-format.md, then rerun \
         with UPDATE_SNAPSHOTS=1 to accept):\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

/// Every key the summary writes is named in docs/summary-format.md (as
/// `key`), so the document cannot fall behind the file. Keys that are
/// data — status codes, error kinds and drop reasons, metric names with
/// tags, threshold conditions — are checked by their parent's entry.
#[test]
fn every_summary_key_is_documented() {
    let doc = include_str!("../../docs/summary-format.md");
    let mut missing = BTreeSet::new();
    for line in shape_lines() {
        // `p(99.9)` is one key: its dot is not a separator.
        let path = line
            .split(": ")
            .next()
            .unwrap_or("")
            .replace("(99.9)", "(99·9)");
        let parts: Vec<&str> = path.split('.').collect();
        let Some(last) = parts
            .last()
            .map(|k| k.trim_end_matches("[]").replace('·', "."))
        else {
            continue;
        };
        let last = last.as_str();
        let data = |k: &str| {
            k.parse::<u16>().is_ok()
                || k.contains(['{', '<', '>'])
                || k == "$"
                || [
                    "errors",
                    "dropped",
                    "status",
                    "recorded_status",
                    "thresholds",
                ]
                .iter()
                .any(|p| parts.len() >= 2 && parts[parts.len() - 2].trim_end_matches("[]") == *p)
        };
        // The comparison is `replay compare`'s JSON, documented with it
        // in docs/replay.md.
        if path.starts_with("$.baseline.") {
            continue;
        }
        if data(last) || path.contains("thresholds.") && last == "ok" {
            continue;
        }
        if !doc.contains(&format!("`{last}`")) {
            missing.insert(last.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "keys the summary writes that docs/summary-format.md does not name: {missing:?}"
    );
}

#[test]
fn seeds_are_strings_that_survive_readers_using_doubles() {
    let mut s = known();
    s.seed = 5_658_179_054_502_545_877;
    let text = s.to_json();
    assert!(text.contains("\"seed\": \"5658179054502545877\""), "{text}");
    // A reader whose numbers are doubles (JavaScript, jq 1.6) keeps a
    // string exactly; the number it would have read is another seed.
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let seed = v["seed"].as_str().unwrap();
    assert_eq!(seed.parse::<u64>().unwrap(), s.seed);
    assert_ne!(
        (s.seed as f64) as u64,
        s.seed,
        "the test needs a seed doubles lose"
    );
    assert_eq!(Summary::from_json(&text).unwrap().seed, s.seed);
    // Summaries written with a numeric seed still read.
    let old = text.replace("\"5658179054502545877\"", "42");
    assert_eq!(Summary::from_json(&old).unwrap().seed, 42);
    let bad = text.replace("\"5658179054502545877\"", "\"x\"");
    assert!(Summary::from_json(&bad).is_err());
}

#[test]
fn summary_values_follow_k6_semantics() {
    let s = known();
    // 995 measured samples (i = 5..1000; 0..5 is warmup): a timeout when
    // i % 25 == 0 (39, i = 0 was warmup), a 503 when i % 25 == 5 (40).
    assert_eq!(s.requests.sent, 995);
    assert_eq!(s.requests.warmup, 5);
    assert_eq!(s.requests.warmup_dropped, 1);
    assert_eq!(s.requests.dropped, 19);
    assert_eq!(s.requests.intended, 995 + 19);
    assert_eq!(s.requests.completed, 995 - 39);
    assert_eq!(s.requests.failed, 79);
    assert_eq!(s.errors, BTreeMap::from([("timeout".to_string(), 39)]));
    assert_eq!(
        s.dropped,
        BTreeMap::from([("connection_cap".to_string(), 19)])
    );
    assert_eq!(s.achieved_rate, 99.5);
    let failed = &s.metrics["http_req_failed"];
    assert_eq!(
        (failed.passes, failed.fails),
        (Some(79), Some(916)),
        "passes = failed requests, as k6"
    );
    assert_eq!(failed.rate, Some(79.0 / 995.0));
    assert_eq!(failed.value, failed.rate);
    let reqs = &s.metrics["http_reqs"];
    assert_eq!((reqs.count, reqs.rate), (Some(995), Some(99.5)));
    let d = &s.metrics["http_req_duration"];
    assert_eq!(d.count, Some(995));
    assert!(d.min.unwrap() >= 1.0 && d.max.unwrap() <= 51.0, "{d:?}");
    assert!(d.p90 <= d.p95 && d.p95 <= d.p99 && d.p99 <= d.p999);
    // Thresholds: k6 keys under the (sub)metric, {"ok": bool}.
    assert_eq!(d.thresholds["p(95)<500ms"], ThresholdOk { ok: true });
    assert_eq!(
        s.metrics["http_req_failed"].thresholds["rate<0.01"],
        ThresholdOk { ok: false }
    );
    assert_eq!(
        s.metrics["http_reqs"].thresholds["rate>100"],
        ThresholdOk { ok: false }
    );
    let sub = &s.metrics["http_req_duration{endpoint:GET /posts/{id}}"];
    assert_eq!(sub.thresholds["p(99)<300ms"], ThresholdOk { ok: true });
    assert_eq!(sub.count, Some(s.endpoints[0].count));
    assert_eq!(s.metrics["http_req_duration{status:5xx}"].count, Some(40));
    assert!(!s.thresholds_ok());
    // Endpoints.
    let e = &s.endpoints[0];
    assert_eq!(
        (e.method.as_str(), e.template.as_str()),
        ("GET", "/posts/{id}")
    );
    assert_eq!(e.count + s.endpoints[1].count, 995);
    assert!((e.replayed_share - e.count as f64 / 995.0).abs() < 1e-12);
    assert_eq!(
        e.status.values().sum::<u64>() + e.errors.values().sum::<u64>(),
        e.count
    );
    assert!(e.http_req_duration.p95 > 0.0);
    // One histogram per metric × endpoint × class seen.
    assert!(s
        .histograms
        .iter()
        .any(|h| h.metric == "http_req_connecting" && h.status == "2xx"));
    assert_eq!(s.drift.len(), 10);
}

fn assert_json_close(a: &serde_json::Value, b: &serde_json::Value, path: &str) {
    use serde_json::Value::*;
    match (a, b) {
        (Number(x), Number(y)) if !(x.is_u64() && y.is_u64()) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
                "{path}: {x} != {y}"
            );
        }
        (Array(x), Array(y)) => {
            assert_eq!(x.len(), y.len(), "{path}");
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                assert_json_close(x, y, &format!("{path}[{i}]"));
            }
        }
        (Object(x), Object(y)) => {
            assert_eq!(
                x.keys().collect::<Vec<_>>(),
                y.keys().collect::<Vec<_>>(),
                "{path}"
            );
            for (k, v) in x {
                assert_json_close(v, &y[k], &format!("{path}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{path}"),
    }
}

#[test]
fn json_round_trips_and_is_checked() {
    let s = known();
    let text = s.to_json();
    let back = Summary::from_json(&text).unwrap();
    // serde_json's float parsing may differ in the last bit; compare values
    // with a relative tolerance, everything else exactly.
    assert_json_close(
        &serde_json::to_value(&back).unwrap(),
        &serde_json::to_value(&s).unwrap(),
        "$",
    );
    assert!(matches!(
        Summary::from_json("{}"),
        Err(MergeError::NotASummary)
    ));
    let v2 = text.replace("\"version\": 1", "\"version\": 2");
    let e = Summary::from_json(&v2).unwrap_err();
    assert!(
        e.to_string().contains("version Some(2) is not supported"),
        "{e}"
    );
}

#[test]
fn merging_shard_summaries_is_exact() {
    // Three shards record disjoint parts of the same run.
    let mut shards = Vec::new();
    for r in [0..300, 300..650, 650..1000] {
        let mut rec = recorder();
        record(&mut rec, r);
        let s = build(&rec);
        // Through JSON text, as `replay merge` would read them.
        shards.push(Summary::from_json(&s.to_json()).unwrap());
    }
    let merged = merge_summaries(&shards).unwrap();
    assert_eq!(merged.thresholds.len(), 7);
    // The per-code trends came through: the 201s' waiting time.
    assert!(shards.iter().all(|s| !s.status_histograms.is_empty()));
    let ths: Vec<_> = merged
        .thresholds
        .iter()
        .map(|t| parse(t).unwrap())
        .collect();
    let results = evaluate(
        &ths,
        &merged.recorder,
        &merged.meta.endpoints,
        Duration::from_secs(10),
    );
    let mut m = Summary::build(&merged.recorder, &merged.meta, &ths, &results);
    let mut whole = known();
    assert_eq!(
        merged.meta.intended_rate, 33.0,
        "shard intended rates add up"
    );
    // Not merged: the drift series, and the intended rate is per shard here.
    m.drift.clear();
    whole.drift.clear();
    m.intended_rate = whole.intended_rate;
    assert_eq!(m, whole);
}

#[test]
fn a_merge_is_complete_only_if_every_part_is() {
    let mut rec = Recorder::new();
    record(&mut rec, 0..100);
    let done = build(&rec);
    let mut cut = done.clone();
    cut.ended = Ended::Interrupted;
    let ended = |parts: &[Summary]| merge_summaries(parts).unwrap().meta.ended;
    assert_eq!(ended(&[done.clone(), done.clone()]), Ended::Completed);
    assert_eq!(ended(&[done.clone(), cut.clone()]), Ended::Interrupted);
    assert_eq!(ended(&[cut, done.clone()]), Ended::Interrupted);
    // A summary written before the field existed reads as completed.
    let old = done.to_json().replace("\"ended\": \"completed\",", "");
    assert!(!old.contains("\"ended\""));
    assert_eq!(Summary::from_json(&old).unwrap().ended, Ended::Completed);
    let aborted = done
        .to_json()
        .replace("\"ended\": \"completed\"", "\"ended\": \"aborted\"");
    assert_eq!(Summary::from_json(&aborted).unwrap().ended, Ended::Aborted);
}

#[test]
fn merge_keeps_each_failure_kinds_first_message() {
    let (mut a, mut b) = (known(), known());
    a.errors_detail.insert(
        "connect".into(),
        "connection refused: is the target up?".into(),
    );
    b.errors_detail
        .insert("connect".into(), "connection refused (shard 2)".into());
    b.errors_detail
        .insert("tls".into(), "certificate: pass --cacert FILE".into());
    let merged = merge_summaries(&[a, b]).unwrap();
    assert_eq!(
        merged.errors_detail.into_iter().collect::<Vec<_>>(),
        [
            (
                "connect".to_string(),
                "connection refused: is the target up?".to_string()
            ),
            (
                "tls".to_string(),
                "certificate: pass --cacert FILE".to_string()
            ),
        ]
    );
}

#[test]
fn merge_rejects_different_models_and_bad_histograms() {
    let a = known();
    let mut b = known();
    b.endpoints[1].template = "/users".into();
    let e = merge_summaries(&[a.clone(), b]).unwrap_err();
    assert!(
        e.to_string().contains("summary 1 has different endpoints"),
        "{e}"
    );
    let mut c = known();
    c.histograms[0].data = "AAAA".into();
    let e = merge_summaries(&[a, c]).unwrap_err();
    assert!(e.to_string().starts_with("summary 1: histogram 0:"), "{e}");
}

#[test]
fn text_report_has_the_right_lines() {
    let s = known();
    let text = text::render(&s, text::TextOptions { color: false });
    assert!(!text.contains('\x1b'), "no colour unless asked");
    for needle in [
        "replay: 995 requests in 10.0s against http://127.0.0.1:8080",
        "requests........................: intended=1014 sent=995 completed=956 dropped=19 (warmup: 5 sent, 1 dropped, not counted)",
        "rate............................: achieved=99.50/s intended=11.00/s (98.1% of intended), scale 2x",
        "http_req_failed.................: 7.94% 79 out of 995",
        "http_reqs.......................: 995 99.50/s",
        "dropped_requests................: 19 1.90/s (connection_cap 19)",
        "errors..........................: timeout 39",
        "✓ http_req_duration: p(95)<500ms  p(95)=",
        "✗ http_req_failed: rate<0.01  rate=7.94%",
        "✗ http_reqs: rate>100  rate=99.50/s",
        "seed 42; reproduce with: replay shop.model.gz --scale 2x --seed 42",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    let duration = text
        .lines()
        .find(|l| l.contains("http_req_duration...."))
        .unwrap();
    for k in [
        "avg=", "min=", "med=", "p(90)=", "p(95)=", "p(99)=", "p(99.9)=", "max=",
    ] {
        assert!(duration.contains(k), "{duration}");
    }
    let get = text
        .lines()
        .find(|l| l.contains("GET /posts/{id}") && !l.contains('✓'))
        .unwrap();
    assert!(get.contains("70.00%"), "recorded share: {get}");
    let header = text
        .lines()
        .find(|l| l.contains("endpoint") && l.contains("p95"))
        .unwrap();
    assert!(
        header.contains("recorded") && header.contains("replayed") && header.contains("errors")
    );
    // With colour: marks are painted.
    let coloured = text::render(&s, text::TextOptions { color: true });
    assert!(coloured.contains("\x1b[32m✓\x1b[0m") && coloured.contains("\x1b[31m✗\x1b[0m"));
}

#[test]
fn endpoints_carry_the_recorded_status_mix_and_status_drift() {
    let s = known();
    let (get, post) = (&s.endpoints[0], &s.endpoints[1]);
    assert_eq!(
        get.recorded_status,
        BTreeMap::from([("200".to_string(), 700)])
    );
    assert_eq!(get.recorded_error_rate, Some(0.0));
    assert_eq!(post.recorded_error_rate, Some(10.0 / 300.0));
    // Every failure of the known run is on GET: its share grew, POST's fell.
    assert!(get.error_share_grew() && !post.error_share_grew());
    let drift = &s.metrics["status_drift"];
    let want = (79.0 - post.count as f64 * 10.0 / 300.0) / 995.0;
    assert!((drift.rate.unwrap() - want).abs() < 1e-12, "{drift:?}");
    assert_eq!((drift.value, drift.count), (drift.rate, Some(995)));
    assert_eq!(drift.thresholds["rate<0.02"], ThresholdOk { ok: false });
}

#[test]
fn summaries_without_recorded_status_still_load_and_flag_nothing() {
    let mut v = serde_json::to_value(known()).unwrap();
    for e in v["endpoints"].as_array_mut().unwrap() {
        let e = e.as_object_mut().unwrap();
        e.remove("recorded_status").unwrap();
        e.remove("recorded_error_rate").unwrap();
    }
    let old = Summary::from_json(&v.to_string()).unwrap();
    let e = &old.endpoints[0];
    assert!(e.recorded_status.is_empty() && e.recorded_error_rate.is_none());
    assert!(!e.error_share_grew(), "no recording, no comparison");
    let text = text::render(&old, text::TextOptions { color: false });
    assert!(!text.contains("above the recording"), "{text}");
    // They merge, and status_drift then has no baseline: no data, passes.
    let merged = merge_summaries(&[old.clone(), old]).unwrap();
    assert!(merged.meta.endpoints[0].recorded_status.is_empty());
    let drift = parse("status_drift: rate<0.02").unwrap();
    let r = drift.evaluate(
        &merged.recorder,
        &merged.meta.endpoints,
        Duration::from_secs(10),
    );
    assert_eq!((r.ok, r.observed), (true, None));
}

#[test]
fn text_report_flags_endpoints_failing_more_than_recorded() {
    let s = known();
    let text = text::render(&s, text::TextOptions { color: false });
    let row = |name: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no row {name} in\n{text}"))
    };
    let header = row("endpoint ");
    assert!(header.contains("rec.err") && header.trim_end().ends_with("errors"));
    let get = row("GET /posts/{id} ");
    assert!(get.ends_with("  ✗"), "{get}");
    assert!(
        get.contains("  0.00%  11.37%"),
        "recorded, then replayed: {get}"
    );
    let post = row("POST /posts ");
    assert!(post.ends_with("  3.33%   0.00%"), "not flagged: {post}");
    for needle in [
        "✗ error share above the recording's by more than 1 point:",
        "      GET /posts/{id}: replayed 200 89%, 503 6%, timeout 6%; recorded 200 100%\n",
        "status_drift....................: +6.93 points of failure share over the recording (995 requests)",
        "✗ status_drift: rate<0.02  rate=6.93%",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    assert!(!text.contains("POST /posts: replayed"), "{text}");
    let coloured = text::render(&s, text::TextOptions { color: true });
    assert!(coloured.contains("11.37%  \x1b[31m✗\x1b[0m"), "{coloured}");
}

#[test]
fn endpoint_table_fits_in_100_columns() {
    let mut s = known();
    s.endpoints[0].template = "/api/v1/organisations/{org}/projects/{project}/members/{id}".into();
    let text = text::render(&s, text::TextOptions { color: false });
    let table: Vec<&str> = text
        .lines()
        .skip_while(|l| l.trim() != "endpoints")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(table.len(), 3, "{text}");
    for l in &table {
        assert!(
            l.chars().count() <= 100,
            "{} columns: {l}",
            l.chars().count()
        );
    }
    // Cut in the middle: the method and the end of the template remain.
    assert!(
        table[1].starts_with("    GET /api/v…embers/{id}    695  "),
        "{}",
        table[1]
    );
    // The line under the table names it in full.
    assert!(text.contains(
        "      GET /api/v1/organisations/{org}/projects/{project}/members/{id}: replayed 200 89%"
    ));
}

/// Why requests failed is in the text, not only in the summary file:
/// responses by status class with their top codes, overall and per
/// endpoint, beside the transport failures.
#[test]
fn text_report_breaks_responses_down_by_status() {
    let s = known();
    let text = text::render(&s, text::TextOptions { color: false });
    let status = text
        .lines()
        .find(|l| l.trim_start().starts_with("status...."))
        .unwrap_or_else(|| panic!("no status line in\n{text}"));
    let count = |code: &str| -> u64 { s.endpoints.iter().filter_map(|e| e.status.get(code)).sum() };
    let ok = count("200") + count("201");
    assert!(
        status.ends_with(&format!(
            "2xx {ok} (200 {}, 201 {}), 5xx 40 (503 40), no response 39 (timeout 39)",
            count("200"),
            count("201")
        )),
        "{status}"
    );
    let by_endpoint = text
        .split("status by endpoint\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no per-endpoint status in\n{text}"));
    for e in &s.endpoints {
        let line = by_endpoint
            .lines()
            .find(|l| {
                l.trim_start()
                    .starts_with(&format!("{} {}:", e.method, e.template))
            })
            .unwrap_or_else(|| panic!("no status line for {} in\n{text}", e.template));
        assert!(!e.status.is_empty());
        for (code, n) in &e.status {
            assert!(line.contains(&format!("{code} {n}")), "{code}: {line}");
        }
    }
    // No mock line against a real target; one, naming whose latencies
    // they are, against the built-in mock.
    assert!(!text.contains("built-in mock"), "{text}");
    let mut mocked = s.clone();
    mocked.mock = Some("recorded".into());
    let text = text::render(&mocked, text::TextOptions { color: false });
    assert!(
        text.contains("latencies are the mock's, drawn from the recording"),
        "{text}"
    );
}

/// Two endpoints that read the same without their host (cnn.com and
/// www.cnn.com both serving `GET /`) are told apart in the table.
#[test]
fn endpoints_that_read_the_same_carry_their_host() {
    let mut s = known();
    s.endpoints[1].method = "GET".into();
    s.endpoints[1].template = "/posts/{id}".into();
    s.endpoints[1].host = "www.example.com".into();
    let text = text::render(&s, text::TextOptions { color: false });
    for name in [
        "GET api.example.com/posts/{id}",
        "GET www.example.com/posts/{id}",
    ] {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(name)),
            "no row {name} in\n{text}"
        );
    }
    assert!(!text.contains("    GET /posts/{id} "), "{text}");
}

/// A run of fewer than 100 requests says its sample is small.
#[test]
fn a_small_sample_is_named() {
    let mut rec = Recorder::new();
    record(&mut rec, 0..60);
    let text = text::render(&build(&rec), text::TextOptions { color: false });
    assert!(text.contains("55 requests is a small sample"), "{text}");
    let text = text::render(&known(), text::TextOptions { color: false });
    assert!(!text.contains("small sample"), "{text}");
}
