use std::time::Duration;

use super::*;
use crate::metrics::{EndpointDesc, Recorder, Sample};
use crate::report::{Ended, RunMeta};

fn endpoints(templates: &[&str]) -> Vec<EndpointDesc> {
    templates
        .iter()
        .map(|t| EndpointDesc {
            method: "GET".into(),
            host: "api.test".into(),
            template: t.to_string(),
            recorded_share: 1.0 / templates.len() as f64,
            recorded_status: Default::default(),
        })
        .collect()
}

/// A 5 s run at 200 req/s over `templates`; endpoint `e`'s latency is
/// `ms(e, i)` for request `i`; every `fail_every`-th request of endpoint 0
/// fails.
fn summary(templates: &[&str], ms: impl Fn(usize, u64) -> f64, fail_every: u64) -> Summary {
    let mut rec = Recorder::new();
    let eps = templates.len();
    for i in 0..1000u64 {
        let endpoint = (i % eps as u64) as usize;
        let d = Duration::from_secs_f64(ms(endpoint, i) / 1000.0);
        let failed = endpoint == 0 && fail_every > 0 && i % fail_every == 0;
        rec.record(&Sample {
            endpoint,
            status: Some(if failed { 500 } else { 200 }),
            error: None,
            duration: d,
            service_time: d,
            waiting: d,
            connecting: None,
            schedule_lag: Duration::ZERO,
            tls_handshaking: None,
            blocked: Duration::ZERO,
            sending: Duration::ZERO,
            receiving: Duration::ZERO,
            bytes_sent: 10,
            bytes_received: 10,
            at: Duration::from_millis(i * 5),
            warmup: false,
        });
    }
    let meta = RunMeta {
        seed: 1,
        duration_s: 5.0,
        planned_duration_s: 5.0,
        ended: Ended::Completed,
        intended_rate: 200.0,
        scale: None,
        target: "http://127.0.0.1:1".into(),
        command: "replay".into(),
        mock: None,
        shards: Vec::new(),
        endpoints: endpoints(templates),
    };
    Summary::build(&rec, &meta, &[], &[])
}

/// Latency that wobbles from request to request (deterministically).
fn wobble(base_ms: f64, i: u64) -> f64 {
    base_ms * (1.0 + 0.2 * ((i * 7919 % 101) as f64 / 100.0 - 0.5))
}

const EPS: [&str; 3] = ["/a", "/b", "/c"];

#[test]
fn a_slower_endpoint_regresses_alone() {
    let base = summary(&EPS, |_, i| wobble(5.0, i), 0);
    let same = summary(&EPS, |_, i| wobble(5.0, i + 3), 0);
    let c = compare(("base.json", &base), ("same.json", &same), Rule::default()).unwrap();
    assert_eq!(c.verdict, Verdict::Pass, "{}", render::text(&c));
    let slow = summary(&EPS, |e, i| wobble(if e == 1 { 25.0 } else { 5.0 }, i), 0);
    let c = compare(("base.json", &base), ("slow.json", &slow), Rule::default()).unwrap();
    assert_eq!(c.verdict, Verdict::Regression);
    let flagged: Vec<&str> = c.regressed().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(flagged, ["GET /b"], "{}", render::text(&c));
    let b = &c.endpoints[1];
    assert!(b.metrics.p50_ms.regressed && b.metrics.p95_ms.regressed);
    assert!((b.metrics.p50_ms.delta - 20.0).abs() < 1.0, "{b:?}");
    let [lo, hi] = b.metrics.p50_ms.interval.unwrap();
    assert!(lo > 15.0 && hi < 25.0, "{lo}..{hi}");
    // Every format says which.
    assert!(render::markdown(&c).contains("| `GET /b` |"));
    let j: serde_json::Value = serde_json::from_str(&render::json(&c)).unwrap();
    assert_eq!(j["verdict"], "regression");
    assert_eq!(j["endpoints"][1]["template"], "/b");
    assert_eq!(j["endpoints"][1]["regressed"], true);
    assert_eq!(j["endpoints"][0]["regressed"], false);
    assert!(j["endpoints"][1]["metrics"]["p95_ms"]["interval"].is_array());
}

/// The minimum practical effect: a significant change that is small in
/// relative or in absolute terms is not a regression.
#[test]
fn the_practical_effect_rule() {
    let r = Rule::default();
    assert!(latency_matters(10.0, 12.0, &r), "+20%, +2 ms");
    assert!(!latency_matters(10.0, 10.9, &r), "+9%: under 10%");
    assert!(
        !latency_matters(2.0, 2.8, &r),
        "+40% but +0.8 ms: under 1 ms"
    );
    assert!(!latency_matters(100.0, 105.0, &r), "+5 ms but +5%");
    assert!(!latency_matters(10.0, 5.0, &r), "faster");
    let strict = Rule {
        min_change: 0.02,
        min_delta_ms: 0.1,
        ..r
    };
    assert!(latency_matters(100.0, 105.0, &strict));

    // On runs: 5 ms → 5.4 ms everywhere is certain (every request moved)
    // but under 1 ms: pass; with --min-delta 0.1ms it regresses.
    let base = summary(&EPS, |_, i| wobble(5.0, i), 0);
    let new = summary(&EPS, |_, i| wobble(5.0, i) + 0.4, 0);
    let c = compare(("a", &base), ("b", &new), r).unwrap();
    assert_eq!(c.verdict, Verdict::Pass, "{}", render::text(&c));
    assert!(significant(c.overall.metrics.p50_ms.interval));
    let c = compare(("a", &base), ("b", &new), strict).unwrap();
    assert_eq!(c.verdict, Verdict::Regression, "{}", render::text(&c));
}

#[test]
fn error_rates_regress_beyond_the_minimum_change() {
    let base = summary(&EPS, |_, i| wobble(5.0, i), 0);
    let failing = summary(&EPS, |_, i| wobble(5.0, i), 4);
    let c = compare(("a", &base), ("b", &failing), Rule::default()).unwrap();
    let a = &c.endpoints[0];
    assert!(a.metrics.error_rate.regressed, "{}", render::text(&c));
    assert!(!a.metrics.p95_ms.regressed);
    assert_eq!(c.regressed().len(), 1);
}

#[test]
fn incompatible_summaries_say_what_differs() {
    let base = summary(&EPS, |_, i| wobble(5.0, i), 0);
    let other = summary(&["/a", "/b", "/d"], |_, i| wobble(5.0, i), 0);
    let e = compare(("base.json", &base), ("new.json", &other), Rule::default()).unwrap_err();
    assert!(
        e.0.contains("only in base.json: GET api.test/c")
            && e.0.contains("only in new.json: GET api.test/d"),
        "{e}"
    );
    let mut old = base.clone();
    old.blocks = None;
    let e = compare(("old.json", &old), ("base.json", &base), Rule::default()).unwrap_err();
    assert!(e.0.contains("old.json has no per-interval blocks"), "{e}");
}

#[test]
fn too_little_data_is_reported_not_judged() {
    let base = summary(&EPS, |_, i| wobble(5.0, i), 0);
    let mut few = base.clone();
    let blocks = few.blocks.as_mut().unwrap();
    blocks.cells.retain(|c| c.endpoint != 2 || c.block < 2);
    let c = compare(("a", &base), ("b", &few), Rule::default()).unwrap();
    let r = &c.endpoints[2];
    assert!(!r.judged && !r.regressed, "{r:?}");
    assert!(r.note.as_deref().unwrap().contains("not judged"), "{r:?}");
    assert!(r.metrics.p95_ms.interval.is_none());
}
