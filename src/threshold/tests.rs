use super::*;
use crate::metrics::{DropReason, Dropped, ErrorKind, Sample};

fn t(s: &str) -> Threshold {
    parse(s).unwrap_or_else(|e| panic!("{e}"))
}

fn err(s: &str) -> ThresholdError {
    parse(s).expect_err(s)
}

#[test]
fn parses_the_k6_examples() {
    let a = t("http_req_duration: p(95)<500ms");
    assert_eq!(a.metric, Metric::Trend(TrendMetric::Duration));
    assert_eq!((a.agg, a.op, a.value), (Agg::P(95.0), Op::Lt, 500.0));
    assert_eq!(a.condition, "p(95)<500ms");

    let b = t("http_req_failed: rate<0.01");
    assert_eq!(
        (b.metric, b.agg, b.op, b.value),
        (Metric::Failed, Agg::Rate, Op::Lt, 0.01)
    );

    let c = t("http_reqs: rate>100");
    assert_eq!(
        (c.metric, c.agg, c.op, c.value),
        (Metric::Reqs, Agg::Rate, Op::Gt, 100.0)
    );

    let d = t("http_req_duration{endpoint:GET /posts/{id}}: p(99)<300ms");
    assert_eq!(
        d.filters,
        vec![TagFilter::Endpoint {
            value: "GET /posts/{id}".into(),
            column: 28
        }]
    );
    assert_eq!(d.agg, Agg::P(99.0));
    assert_eq!(d.condition, "p(99)<300ms");
    assert_eq!(d.series, "http_req_duration{endpoint:GET /posts/{id}}");
    assert_eq!(a.series, "http_req_duration");

    let e = t("http_req_duration{status:5xx}: max<2s");
    assert_eq!(
        e.filters,
        vec![TagFilter::Status(StatusFilter::Class(
            StatusClass::ServerError
        ))]
    );
    assert_eq!(e.value, 2000.0);
}

#[test]
fn parses_every_aggregation_operator_and_unit() {
    assert_eq!(t("schedule_lag: p(99.9)<=1ms").agg, Agg::P(99.9));
    assert_eq!(t("http_req_waiting: med>=10").value, 10.0);
    assert_eq!(t("http_req_waiting: avg==10us").value, 0.01);
    assert_eq!(t("http_req_waiting: avg===10µs").op, Op::Eq);
    assert_eq!(t("http_req_connecting: min!=1.5s").value, 1500.0);
    assert_eq!(t("http_req_service_time: max<2m").value, 120_000.0);
    assert_eq!(t("  dropped_requests : count == 0 ").op, Op::Eq);
    assert_eq!(t("data_sent: count>1000").agg, Agg::Count);
    assert_eq!(t("data_received: rate>1").agg, Agg::Rate);
    let f = t("http_reqs{method:post, status:200}: count>=1");
    assert_eq!(
        f.filters,
        vec![
            TagFilter::Method("POST".into()),
            TagFilter::Status(StatusFilter::Code(200))
        ]
    );
    let g = t("http_req_duration{ endpoint : GET /a/{x}/b/{y} , status:2xx}: p(90) < 100");
    assert_eq!(
        g.filters,
        vec![
            TagFilter::Endpoint {
                value: "GET /a/{x}/b/{y}".into(),
                column: 31
            },
            TagFilter::Status(StatusFilter::Class(StatusClass::Success))
        ]
    );
    assert_eq!(g.condition, "p(90) < 100");
}

#[test]
fn errors_point_at_the_bad_part() {
    let e = err("http_req_duration: p95<500ms");
    assert_eq!(
        e.to_string(),
        "unknown aggregation 'p95' at column 20 in 'http_req_duration: p95<500ms'; write p(95)"
    );
    assert_eq!(
        e.caret(),
        "http_req_duration: p95<500ms\n                   ^"
    );

    let e = err("http_req_duraton: p(95)<500");
    assert_eq!(e.column, 1);
    assert!(
        e.to_string()
            .starts_with("unknown metric 'http_req_duraton' at column 1"),
        "{e}"
    );
    assert!(e.hint.unwrap().contains("http_req_duration"));

    let e = err("http_req_failed: p(95)<0.1");
    assert_eq!(e.column, 18);
    assert!(
        e.to_string()
            .contains("'p(95)' does not apply to http_req_failed"),
        "{e}"
    );
    assert!(e.to_string().ends_with("http_req_failed takes rate"), "{e}");

    assert_eq!(err("http_req_duration: p(95)<500ks").column, 29);
    assert!(err("http_req_duration: p(95)<500ks")
        .to_string()
        .contains("unknown time unit 'ks'"));
    assert_eq!(err("http_req_duration p(95)<500").column, 19);
    assert_eq!(err("http_req_duration: p(95)~500").column, 25);
    assert_eq!(err("http_req_duration: p(95)<").column, 26);
    assert_eq!(err("http_req_duration: p(0)<5").column, 22);
    assert_eq!(err("http_req_duration: p(101)<5").column, 22);
    assert_eq!(err("http_req_duration: p(95<5").column, 24);
    assert_eq!(err("http_req_duration: p(95)<5ms, p(99)<9").column, 29);
    assert_eq!(err("http_reqs: rate>100ms").column, 20);
    assert_eq!(
        err("http_req_duration{endpoint:GET /posts/{id}: p(99)<300ms").column,
        18
    );
    assert!(
        err("http_req_duration{endpoint:GET /posts/{id}: p(99)<300ms")
            .to_string()
            .contains("unclosed '{'")
    );
    assert_eq!(err("http_req_duration{url:x}: p(99)<3").column, 19);
    assert_eq!(err("http_req_duration{status:7xx}: p(99)<3").column, 26);
    assert_eq!(err("data_sent{status:5xx}: count<3").column, 11);
    assert_eq!(err("http_req_duration{endpoint:}: p(99)<3").column, 28);
    // A code that is no HTTP status.
    let e = err("http_req_duration{status:99}: p(95)<500");
    assert_eq!(e.column, 26);
    // Multi-byte characters before the error still give a character column.
    assert_eq!(
        err("http_req_duration{endpoint:GET /é}: p(9x)<1").column,
        40
    );
}

fn desc(method: &str, template: &str) -> EndpointDesc {
    EndpointDesc {
        method: method.into(),
        host: "api.example.com".into(),
        template: template.into(),
        recorded_share: 0.5,
        recorded_status: Default::default(),
    }
}

fn sample(endpoint: usize, status: Option<u16>, ms: u64) -> Sample {
    let d = Duration::from_millis(ms);
    Sample {
        endpoint,
        status,
        error: if status.is_none() {
            Some(ErrorKind::Reset)
        } else {
            None
        },
        duration: d,
        service_time: d / 2,
        waiting: d / 4,
        connecting: None,
        // New TLS connections on endpoint 1 only.
        tls_handshaking: (endpoint == 1).then_some(d / 10),
        schedule_lag: Duration::from_micros(100),
        blocked: d / 8,
        sending: d / 16,
        receiving: d / 5,
        bytes_sent: 10,
        bytes_received: 100,
        at: d,
        warmup: false,
    }
}

/// Endpoint 0 (GET /posts/{id}): 90 × 200 at 10..=99 ms, 10 × 503 at 1000 ms.
/// Endpoint 1 (POST /posts): 50 × 201 at 5 ms, 1 reset.
fn known_run() -> (Recorder, Vec<EndpointDesc>) {
    let mut r = Recorder::new();
    // As a run whose thresholds name these codes keeps them.
    r.track_codes([200, 503]);
    for i in 10..100 {
        r.record(&sample(0, Some(200), i));
    }
    for _ in 0..10 {
        r.record(&sample(0, Some(503), 1000));
    }
    for _ in 0..50 {
        r.record(&sample(1, Some(201), 5));
    }
    r.record(&sample(1, None, 30_000));
    r.record_dropped(&Dropped {
        endpoint: 1,
        reason: DropReason::ConnectionCap,
        at: Duration::ZERO,
        warmup: false,
    });
    (r, vec![desc("GET", "/posts/{id}"), desc("POST", "/posts")])
}

fn check(expr: &str) -> (bool, Option<f64>) {
    let (r, eps) = known_run();
    let th = t(expr);
    th.check_endpoints(&eps).unwrap();
    let res = th.evaluate(&r, &eps, Duration::from_secs(10));
    assert_eq!(res.expr, expr.trim());
    (res.ok, res.observed)
}

#[test]
fn evaluates_pass_and_fail_on_known_data() {
    // 151 requests, 11 failed.
    assert_eq!(check("http_reqs: count==151"), (true, Some(151.0)));
    assert_eq!(check("http_reqs: rate>15"), (true, Some(15.1)));
    assert!(!check("http_reqs: rate>16").0);
    let (ok, rate) = check("http_req_failed: rate<0.01");
    assert!(!ok);
    assert!((rate.unwrap() - 11.0 / 151.0).abs() < 1e-12);
    assert!(check("http_req_failed: rate<0.1").0);
    // Per endpoint: GET has 10% 503s, POST 1/51 errors.
    assert_eq!(
        check("http_req_failed{endpoint:GET /posts/{id}}: rate<0.1"),
        (false, Some(0.1))
    );
    assert!(check("http_req_failed{endpoint:POST /posts}: rate<0.02").0);
    assert!(check("http_req_failed{method:post}: rate<0.02").0);
    // p(99) of GET is the 1000 ms 503s; of the 2xx only it is < 100 ms.
    let (ok, p99) = check("http_req_duration{endpoint:GET /posts/{id}}: p(99)<300ms");
    assert!(!ok);
    assert!((p99.unwrap() - 1000.0).abs() <= 1.0, "{p99:?}");
    let (ok, p99) = check("http_req_duration{endpoint:GET /posts/{id},status:2xx}: p(99)<300ms");
    assert!(ok);
    assert!((p99.unwrap() - 99.0).abs() <= 0.1, "{p99:?}");
    // Template alone matches every method.
    assert_eq!(
        check("http_reqs{endpoint:/posts}: count==51"),
        (true, Some(51.0))
    );
    // Status filters.
    assert_eq!(
        check("http_reqs{status:5xx}: count==10"),
        (true, Some(10.0))
    );
    assert_eq!(
        check("http_reqs{status:201}: count==50"),
        (true, Some(50.0))
    );
    assert_eq!(
        check("http_req_failed{status:error}: rate==1"),
        (true, Some(1.0))
    );
    assert_eq!(
        check("http_req_failed{status:2xx}: rate==0"),
        (true, Some(0.0))
    );
    let (_, max) = check("http_req_duration{status:error}: max>=30s");
    assert!((max.unwrap() - 30_000.0).abs() <= 30.0, "{max:?}");
    assert!(check("http_req_duration{status:error}: max>=30s").0);
    // Trend aggregations in ms, units converted.
    let (_, min) = check("http_req_duration: min<1s");
    assert_eq!(min, Some(5.0));
    assert!(check("http_req_duration: med<60").0);
    assert!(
        !check("http_req_duration: avg<100").0,
        "avg is pulled up by the 30 s reset"
    );
    assert!(check("schedule_lag: p(99.9)<=0.1ms").0);
    assert!(check("schedule_lag: p(99.9)<=100us").0);
    assert!(!check("schedule_lag: p(99.9)<99us").0);
    // Counters.
    assert_eq!(check("dropped_requests: count<1"), (false, Some(1.0)));
    assert_eq!(
        check("dropped_requests{endpoint:GET /posts/{id}}: count<1"),
        (true, Some(0.0))
    );
    assert_eq!(check("data_sent: count==1510"), (true, Some(1510.0)));
    assert_eq!(check("data_received: rate==1510"), (true, Some(1510.0)));
}

#[test]
fn no_data_passes_like_k6() {
    let (r, eps) = known_run();
    let th = t("http_req_connecting: p(95)<1ms");
    let res = th.evaluate(&r, &eps, Duration::from_secs(1));
    assert_eq!((res.ok, res.observed), (true, None));
    let empty = Recorder::new();
    let res = t("http_req_failed: rate<0.01").evaluate(&empty, &eps, Duration::from_secs(1));
    assert_eq!((res.ok, res.observed), (true, None));
    // But a count of zero is data.
    let res = t("http_reqs: count>0").evaluate(&empty, &eps, Duration::from_secs(1));
    assert_eq!((res.ok, res.observed), (false, Some(0.0)));
}

#[test]
fn unknown_endpoint_is_a_usage_error() {
    let (_, eps) = known_run();
    let th = t("http_req_duration{endpoint:GET /post/{id}}: p(99)<300ms");
    let e = th.check_endpoints(&eps).unwrap_err();
    assert_eq!(e.column, 28);
    assert!(
        e.to_string()
            .contains("no endpoint of the model is 'GET /post/{id}'"),
        "{e}"
    );
    assert!(
        e.to_string().contains("GET /posts/{id}, POST /posts"),
        "{e}"
    );
}

/// Two hosts serving `GET /` (cnn.com and www.cnn.com): `GET /` names
/// neither alone, so it is refused with both names; each is selected by
/// its host-qualified name, and only its own requests count.
#[test]
fn endpoints_on_two_hosts_are_named_with_their_host() {
    let mut eps = vec![desc("GET", "/"), desc("GET", "/")];
    eps[0].host = "cnn.com".into();
    eps[1].host = "www.cnn.com".into();
    let e = t("http_reqs{endpoint:GET /}: count>0")
        .check_endpoints(&eps)
        .unwrap_err();
    assert!(e.to_string().contains("'GET /' is 2 endpoints"), "{e}");
    assert!(
        e.to_string().contains("GET cnn.com/, GET www.cnn.com/"),
        "{e}"
    );
    assert!(t("http_reqs{endpoint:/}: count>0")
        .check_endpoints(&eps)
        .is_err());
    let mut r = Recorder::new();
    for _ in 0..3 {
        r.record(&sample(0, Some(200), 5));
    }
    r.record(&sample(1, Some(200), 5));
    for (expr, n) in [
        ("http_reqs{endpoint:GET cnn.com/}: count>0", 3.0),
        ("http_reqs{endpoint:get WWW.cnn.com/}: count>0", 1.0),
        ("http_reqs{endpoint:www.cnn.com/}: count>0", 1.0),
    ] {
        let th = t(expr);
        th.check_endpoints(&eps).unwrap();
        let res = th.evaluate(&r, &eps, Duration::from_secs(1));
        assert_eq!(res.observed, Some(n), "{expr}");
    }
    assert!(t("http_reqs{endpoint:GET edition.cnn.com/}: count>0")
        .check_endpoints(&eps)
        .is_err());
}

#[test]
fn mid_run_abort_ignores_counts_that_can_still_grow() {
    let (r, eps) = known_run();
    let ths = [
        t("http_reqs: count>1000"),        // failing now, may still pass
        t("dropped_requests: count<1"),    // lost for good
        t("http_req_failed: rate<0.01"),   // failing now
        t("http_req_duration: p(95)<10s"), // passing
    ];
    let lost = lost_mid_run(&ths, &r, &eps, Duration::from_secs(10), true);
    let exprs: Vec<_> = lost.iter().map(|l| l.expr.as_str()).collect();
    assert_eq!(
        exprs,
        ["dropped_requests: count<1", "http_req_failed: rate<0.01"]
    );
    let all = evaluate(&ths, &r, &eps, Duration::from_secs(10));
    assert_eq!(
        all.iter().map(|r| r.ok).collect::<Vec<_>>(),
        [false, false, false, true]
    );
}

#[test]
fn parses_status_drift_as_a_rate_with_endpoint_tags() {
    let a = t("status_drift: rate<0.02");
    assert_eq!(
        (a.metric, a.agg, a.op, a.value),
        (Metric::StatusDrift, Agg::Rate, Op::Lt, 0.02)
    );
    assert_eq!(
        (a.series.as_str(), a.condition.as_str()),
        ("status_drift", "rate<0.02")
    );
    let b = t("status_drift{endpoint:GET /posts/{id}, method:get}: rate<=0.05");
    assert_eq!(b.filters.len(), 2);
    assert_eq!(
        b.series,
        "status_drift{endpoint:GET /posts/{id}, method:get}"
    );
    // Only `rate`, no unit, no status tag: each error points at its part.
    let e = err("status_drift: p(95)<1");
    assert_eq!(e.column, 15);
    assert_eq!(
        e.message,
        "aggregation 'p(95)' does not apply to status_drift"
    );
    assert_eq!(e.hint.as_deref(), Some("status_drift takes rate"));
    assert_eq!(err("status_drift: count<1").column, 15);
    let e = err("status_drift: rate<0.02ms");
    assert_eq!((e.column, e.message.as_str()), (24, "unexpected unit 'ms'"));
    let e = err("status_drift{status:4xx}: rate<0.1");
    assert_eq!(e.column, 14);
    assert_eq!(e.message, "tag 'status' does not apply to status_drift");
    assert_eq!(
        e.caret(),
        "status_drift{status:4xx}: rate<0.1\n             ^"
    );
    let e = err("status_drif: rate<0.1");
    assert!(
        e.hint.unwrap().contains("status_drift"),
        "listed as a known metric"
    );
    // An endpoint the model lacks is a usage error, as for other metrics.
    let eps = vec![desc("GET", "/posts/{id}")];
    let e = t("status_drift{endpoint:GET /users}: rate<0.1")
        .check_endpoints(&eps)
        .unwrap_err();
    assert_eq!(e.column, 23);
    assert!(t("status_drift{endpoint:/posts/{id}}: rate<0.1")
        .check_endpoints(&eps)
        .is_ok());
}

/// [`known_run`] with recorded status mixes: GET 5% 404 (the replay has
/// 10% 503), POST none failed (the replay had 1 reset in 51).
fn drift_check(expr: &str, recorded: [&[(u16, u64)]; 2]) -> (bool, Option<f64>) {
    let (r, mut eps) = known_run();
    for (e, rec) in eps.iter_mut().zip(recorded) {
        e.recorded_status = rec.iter().copied().collect();
    }
    let th = t(expr);
    th.check_endpoints(&eps).unwrap();
    let res = th.evaluate(&r, &eps, Duration::from_secs(10));
    (res.ok, res.observed)
}

#[test]
fn evaluates_status_drift_against_the_recorded_failure_share() {
    let both: [&[(u16, u64)]; 2] = [&[(200, 95), (404, 5)], &[(201, 40)]];
    let close = |(ok, v): (bool, Option<f64>), want_ok: bool, want: f64| {
        assert_eq!(ok, want_ok, "{v:?}");
        assert!((v.unwrap() - want).abs() < 1e-12, "{v:?} != {want}");
    };
    // Overall, weighted by replayed requests: (11 − 100 × 0.05) / 151.
    close(
        drift_check("status_drift: rate<0.02", both),
        false,
        6.0 / 151.0,
    );
    close(
        drift_check("status_drift: rate<0.04", both),
        true,
        6.0 / 151.0,
    );
    // Per endpoint: GET 10% − 5%, POST 1/51 − 0.
    close(
        drift_check("status_drift{endpoint:GET /posts/{id}}: rate<0.05", both),
        false,
        0.05,
    );
    close(
        drift_check("status_drift{method:POST}: rate<0.02", both),
        true,
        1.0 / 51.0,
    );
    // Failing less than the recording is a negative drift.
    let worse: [&[(u16, u64)]; 2] = [&[(200, 1), (500, 1)], &[(201, 1)]];
    close(
        drift_check("status_drift{endpoint:GET /posts/{id}}: rate<0", worse),
        true,
        -0.4,
    );
    // An endpoint without recorded responses has no baseline: left out of
    // the total, and alone it is no data, which passes.
    let no_post: [&[(u16, u64)]; 2] = [&[(200, 95), (404, 5)], &[]];
    close(drift_check("status_drift: rate<0.06", no_post), true, 0.05);
    assert_eq!(
        drift_check("status_drift{endpoint:POST /posts}: rate<0.01", no_post),
        (true, None)
    );
    assert_eq!(
        drift_check("status_drift: rate<0.01", [&[], &[]]),
        (true, None)
    );
}

/// The k6 forms people paste (issue 10): several conditions in one flag,
/// `{expected_response:true}`, and k6's thresholds object with
/// `abortOnFail` and `delayAbortEval`. Values against `known_run`.
#[test]
fn k6_forms_parse_and_evaluate() {
    assert_eq!(
        expand("http_req_duration: p(95)<500, p(99)<1000"),
        [
            "http_req_duration: p(95)<500",
            "http_req_duration: p(99)<1000"
        ]
    );
    assert_eq!(
        expand("http_reqs{method:GET,status:2xx}: count>1"),
        ["http_reqs{method:GET,status:2xx}: count>1"],
        "commas in the tags do not split"
    );
    assert_eq!(
        expand("http_reqs: count>1,"),
        ["http_reqs: count>1,"],
        "left to the parser"
    );
    // expected_response: true = statuses below 400 (90 × 200, 50 × 201),
    // false = 4xx/5xx and transport errors (10 × 503, 1 reset).
    assert_eq!(
        check("http_reqs{expected_response:true}: count==140"),
        (true, Some(140.0))
    );
    assert_eq!(
        check("http_reqs{expected_response:false}: count==11"),
        (true, Some(11.0))
    );
    assert_eq!(
        check("http_req_failed{expected_response:false}: rate==1"),
        (true, Some(1.0))
    );
    let (ok, max) = check("http_req_duration{expected_response:true}: max<100ms");
    assert!(ok, "{max:?}");
    assert!((max.unwrap() - 99.0).abs() <= 0.1);
    let (_, max) = check("http_req_duration{expected_response:false}: max>=30s");
    assert!((max.unwrap() - 30_000.0).abs() <= 30.0, "{max:?}");
    let e = err("http_reqs{expected_response:yes}: count>1");
    assert!(e.to_string().contains("true or false"), "{e}");
    let e = err("http_reqs{status:2xx,expected_response:true}: count>1");
    assert!(e.to_string().contains("one of"), "{e}");

    // k6's thresholds object.
    let ths = from_k6_json(
        r#"{"thresholds": {
            "http_req_duration": ["p(95)<500", {"threshold": "p(99)<1000", "abortOnFail": true, "delayAbortEval": "10s"}],
            "http_req_failed{endpoint:POST /posts}": "rate<0.05"
        }}"#,
    )
    .unwrap();
    let exprs: Vec<&str> = ths.iter().map(|t| t.expr.as_str()).collect();
    assert_eq!(
        exprs,
        [
            "http_req_duration: p(95)<500",
            "http_req_duration: p(99)<1000",
            "http_req_failed{endpoint:POST /posts}: rate<0.05"
        ]
    );
    assert_eq!(ths[0].abort_after, None);
    assert_eq!(ths[1].abort_after, Some(Duration::from_secs(10)));
    let e = from_k6_json(r#"{"http_reqs": [{"abortOnFail": true}]}"#).unwrap_err();
    assert!(
        e.contains("\"http_reqs\"[0]") && e.contains("threshold"),
        "{e}"
    );
    assert!(from_k6_json(r#"{"http_reqs": ["count>"]}"#).is_err());
    assert!(from_k6_json("[1]").is_err());

    // abortOnFail: lost mid-run only once delayAbortEval has passed, and
    // only for the thresholds that ask for it (without --abort-on-fail).
    let (r, eps) = known_run();
    let mut p99 = t("http_req_duration: p(99)<300ms");
    let p95 = t("http_req_duration: p(95)<300ms");
    assert!(lost_mid_run(
        &[p99.clone(), p95.clone()],
        &r,
        &eps,
        Duration::from_secs(20),
        false
    )
    .is_empty());
    p99.abort_after = Some(Duration::from_secs(10));
    let both = [p99, p95];
    assert!(lost_mid_run(&both, &r, &eps, Duration::from_secs(5), false).is_empty());
    let lost = lost_mid_run(&both, &r, &eps, Duration::from_secs(20), false);
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].expr, "http_req_duration: p(99)<300ms");
    assert_eq!(
        lost_mid_run(&both, &r, &eps, Duration::from_secs(5), true).len(),
        2
    );
}

/// Trends of one exact status code: `{status:200}` selects the 200s only,
/// not the 201s of the same class, from the histograms the run kept for
/// the codes its thresholds named.
#[test]
fn trend_of_an_exact_status_code() {
    // GET: 200 at 10..=99 ms; 503 at 1000 ms. POST: 201 at 5 ms.
    let (ok, max) = check("http_req_duration{status:200}: max<100");
    assert!(ok);
    assert!((max.unwrap() - 99.0).abs() <= 0.1, "{max:?}");
    let (_, avg) = check("http_req_duration{status:200}: avg<100");
    // (10 + … + 99) / 90 = 54.5 ms, within a histogram bucket.
    assert!((avg.unwrap() - 54.5).abs() <= 0.1, "{avg:?}");
    let (_, min) = check("http_req_duration{status:503}: min>=1s");
    assert!((min.unwrap() - 1000.0).abs() <= 1.0, "{min:?}");
    // The class holds the 201s at 5 ms too; the code does not.
    assert_eq!(check("http_req_duration{status:2xx}: min<6").1, Some(5.0));
    assert!(check("http_req_duration{status:200}: min>=10").0);
    // Tags are AND-ed: POST answered no 200.
    assert_eq!(
        check("http_req_duration{endpoint:POST /posts,status:200}: max<1"),
        (true, None)
    );
    let (_, p50) = check("http_req_waiting{method:GET,status:200}: med<100");
    // waiting is a quarter of the duration: median of 10..=99 ms is 54 ms.
    assert!((p50.unwrap() - 13.5).abs() <= 0.1, "{p50:?}");
}

#[test]
fn a_run_tracks_the_codes_its_trend_thresholds_name() {
    let ths: Vec<Threshold> = [
        "http_req_duration{status:503}: p(95)<500",
        "http_req_duration{status:200}: p(95)<500",
        "http_req_waiting{status:200}: p(95)<500",
        "http_reqs{status:404}: count<1",
        "http_req_duration{status:5xx}: p(95)<500",
    ]
    .iter()
    .map(|e| t(e))
    .collect();
    // Counters filter by code from their own counts: only trends need it.
    assert_eq!(crate::threshold::trend_codes(&ths), vec![200, 503]);
}

/// The k6 phase metrics, from the samples' own phases (known_run's samples
/// spend d/8 blocked, d/16 sending, d/4 waiting, d/5 receiving, and d/10
/// in a TLS handshake on POST only).
#[test]
fn phase_metrics_are_evaluated() {
    // Blocked: the 30 s reset / 8.
    let (_, max) = check("http_req_blocked: max<1s");
    assert!((max.unwrap() - 3750.0).abs() <= 4.0, "{max:?}");
    let (_, max) = check("http_req_blocked{status:2xx}: max<100");
    assert!((max.unwrap() - 12.375).abs() <= 0.02, "{max:?}");
    let (_, min) = check("http_req_sending{status:5xx}: min<100");
    assert!((min.unwrap() - 62.5).abs() <= 0.1, "{min:?}");
    assert_eq!(
        check("http_req_receiving{endpoint:POST /posts,status:2xx}: avg<=1"),
        (true, Some(1.0))
    );
    let (ok, max) = check("http_req_tls_handshaking: max<1s");
    assert!(!ok);
    assert!((max.unwrap() - 3000.0).abs() <= 3.0, "{max:?}");
    // GET opened no TLS connection in this run: no data, which passes.
    assert_eq!(
        check("http_req_tls_handshaking{endpoint:GET /posts/{id}}: max<1"),
        (true, None)
    );
}
