//! Misbehaving targets: the real binary replays a two-endpoint capture —
//! `GET /ok` and one faulty route of `fault_server` — and each test checks
//! that the run ends on time (schedule and `--timeout` kept), the failures
//! are counted under a named kind, the healthy endpoint is unaffected,
//! memory stays bounded and the exit code follows the threshold.
//!
//! Each run is 3 s at 10 requests/s with `--timeout 1s`; every bound on
//! time is generous (a loaded 2-core machine).

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use support::bin::{Replay, Run};
use support::fault::{Fault, FaultServer};
use support::har::{write_har, Entry};

/// `--duration`, `--rate` and `--timeout` of every run here.
const DURATION_S: u64 = 3;
const RATE: u64 = 10;
const TIMEOUT_S: u64 = 1;
/// A run must end within schedule + drain (one timeout) + this slack.
const SLACK: Duration = Duration::from_secs(8);
/// Killed as hung after this.
const HANG_LIMIT: Duration = Duration::from_secs(60);
/// How long the target stays away in the outage test.
const OUTAGE: Duration = Duration::from_secs(2);
/// Peak RSS allowed to the replay process.
const RSS_LIMIT_KIB: u64 = 200 * 1024;

/// A capture alternating `GET /ok` with `METHOD route` (a POST carries a
/// body), 10 requests/s for 2 s.
fn capture(dir: &Path, method: &'static str, route: &str) -> PathBuf {
    let entries: Vec<Entry> = (0..20u64)
        .map(|i| {
            if i % 2 == 0 {
                Entry::get("http://shop.test/ok", i * 100)
            } else {
                let mut e = Entry::get(format!("http://shop.test{route}"), i * 100);
                e.method = method;
                if method == "POST" {
                    e.post = Some((
                        "application/json".into(),
                        "{\"sku\":\"A1\",\"qty\":2}".into(),
                    ));
                }
                e
            }
        })
        .collect();
    write_har(dir, "capture.har", &entries)
}

/// The result of one run against a target.
struct Outcome {
    run: Run,
    summary: Value,
}

impl Outcome {
    fn endpoint(&self, template: &str) -> &Value {
        self.summary["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["template"] == template)
            .unwrap_or_else(|| panic!("no endpoint {template}: {}", self.summary["endpoints"]))
    }

    fn errors(&self, template: &str) -> &Value {
        &self.endpoint(template)["errors"]
    }
}

/// Replays `har` against `target` with the settings above and a
/// `http_req_failed: rate<0.01` threshold.
fn replay(dir: &Path, har: &Path, target: &str, extra: &[&str]) -> Outcome {
    let summary = dir.join("summary.json");
    let duration = format!("{DURATION_S}s");
    let rate = format!("{RATE}/s");
    let timeout = format!("{TIMEOUT_S}s");
    let mut args = vec![
        har.to_str().unwrap(),
        "--target",
        target,
        "--duration",
        &duration,
        "--rate",
        &rate,
        "--arrival",
        "constant",
        "--timeout",
        &timeout,
        "--seed",
        "7",
        "--quiet",
        "--threshold",
        "http_req_failed: rate<0.01",
        "--summary-export",
        summary.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let run = Replay::new(&args).deadline(HANG_LIMIT).run();
    let text = std::fs::read_to_string(&summary)
        .unwrap_or_else(|e| panic!("no summary ({e}): {}", run.output()));
    let summary: Value = serde_json::from_str(&text).unwrap();
    let on_time = Duration::from_secs(DURATION_S + TIMEOUT_S) + SLACK;
    assert!(
        run.elapsed < on_time,
        "the run took {:?}, more than {on_time:?}: {}",
        run.elapsed,
        run.output()
    );
    if cfg!(target_os = "linux") {
        assert!(
            run.peak_rss_kib > 0 && run.peak_rss_kib < RSS_LIMIT_KIB,
            "peak RSS {} KiB: {}",
            run.peak_rss_kib,
            run.output()
        );
    }
    // Every scheduled request was sent (nothing dropped) and is in the
    // per-endpoint counts.
    let req = &summary["requests"];
    assert_eq!(req["dropped"], 0, "{}", run.output());
    assert!(
        req["sent"].as_u64().unwrap() >= (DURATION_S * RATE) - 2,
        "{req}"
    );
    Outcome { run, summary }
}

/// The healthy endpoint got what it would get from a healthy server: every
/// request it sent was answered 200 by the server, none failed or waited
/// behind a faulty one.
fn assert_healthy(o: &Outcome, server: &FaultServer) {
    let ok = o.endpoint("/ok");
    let count = ok["count"].as_u64().unwrap();
    assert!(count >= 8, "about half of 30 requests: {ok}");
    assert_eq!(ok["failed"], 0, "{ok}");
    assert_eq!(ok["error_rate"], 0.0, "{ok}");
    assert_eq!(ok["status"]["200"].as_u64(), Some(count), "{ok}");
    assert_eq!(server.requests("/ok"), count, "the server saw each once");
    let p95 = ok["http_req_duration"]["p(95)"].as_f64().unwrap();
    assert!(p95 < 500.0, "healthy p95 {p95} ms: {ok}");
}

/// One faulty route next to `/ok`: its requests all fail with `kind`, the
/// healthy ones pass, and the threshold fails the run (exit 99).
fn fault_counted_as(fault: Fault, method: &'static str, kind: &str) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let server = FaultServer::start();
    let har = capture(dir.path(), method, fault.path());
    let o = replay(dir.path(), &har, &server.url(), &[]);
    let bad = o.endpoint(fault.path());
    let count = bad["count"].as_u64().unwrap();
    assert!(count >= 8, "about half of 30 requests: {bad}");
    assert_eq!(
        bad["errors"],
        serde_json::json!({ kind: count }),
        "every {} request fails as {kind}: {}",
        fault.path(),
        o.run.output()
    );
    assert_eq!(o.summary["errors"], serde_json::json!({ kind: count }));
    assert_eq!(bad["failed"].as_u64(), Some(count));
    assert_eq!(server.requests(fault.path()), count, "each sent once");
    assert_healthy(&o, &server);
    assert_eq!(o.run.code, Some(99), "{}", o.run.output());
    o
}

#[test]
fn connection_refused_is_counted_and_the_run_ends_on_time() {
    let dir = tempfile::tempdir().unwrap();
    // A port nobody listens on: bind one, then close it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let har = capture(dir.path(), "GET", "/other");
    // Every request fails the same way: counted to the end, not stopped.
    let o = replay(dir.path(), &har, &target, &["--no-fail-fast"]);
    let sent = o.summary["requests"]["sent"].as_u64().unwrap();
    assert_eq!(
        o.summary["errors"],
        serde_json::json!({ "connect_refused": sent }),
        "{}",
        o.run.output()
    );
    assert_eq!(
        o.errors("/ok")["connect_refused"],
        o.endpoint("/ok")["count"]
    );
    assert_eq!(o.summary["metrics"]["http_req_failed"]["rate"], 1.0);
    assert_eq!(o.run.code, Some(99), "{}", o.run.output());
    assert!(o.run.stdout.contains("connect_refused"), "{}", o.run.stdout);
}

#[test]
fn reset_mid_request_is_a_reset() {
    fault_counted_as(Fault::ResetRequest, "POST", "reset");
}

#[test]
fn reset_mid_response_is_a_reset() {
    fault_counted_as(Fault::ResetResponse, "GET", "reset");
}

#[test]
fn a_server_that_never_answers_times_out() {
    let o = fault_counted_as(Fault::Hang, "GET", "timeout");
    // Each waited its timeout, not longer.
    let max = o.endpoint("/hang")["http_req_duration"]["max"]
        .as_f64()
        .unwrap();
    assert!((900.0..2500.0).contains(&max), "{max} ms");
}

#[test]
fn one_byte_per_second_times_out() {
    fault_counted_as(Fault::Slow, "GET", "timeout");
}

#[test]
fn an_invalid_status_line_is_a_protocol_error() {
    fault_counted_as(Fault::BadStatus, "GET", "protocol");
}

#[test]
fn a_body_shorter_than_its_content_length_is_a_protocol_error() {
    fault_counted_as(Fault::ShortBody, "GET", "protocol");
}

#[test]
fn huge_response_headers_are_a_protocol_error() {
    fault_counted_as(Fault::HugeHeaders, "GET", "protocol");
}

/// The body is read and counted, not buffered: the server sends far more
/// than the memory the process ever holds, and each request ends at its
/// timeout.
#[test]
fn an_infinite_body_times_out_without_being_buffered() {
    let dir = tempfile::tempdir().unwrap();
    let server = FaultServer::start();
    let har = capture(dir.path(), "GET", Fault::Infinite.path());
    let o = replay(dir.path(), &har, &server.url(), &[]);
    let bad = o.endpoint("/infinite");
    let count = bad["count"].as_u64().unwrap();
    assert_eq!(
        bad["errors"],
        serde_json::json!({ "timeout": count }),
        "{}",
        o.run.output()
    );
    assert_healthy(&o, &server);
    assert_eq!(o.run.code, Some(99));
    let sent = server
        .stats
        .infinite_bytes
        .load(std::sync::atomic::Ordering::Relaxed);
    let peak = o.run.peak_rss_kib * 1024;
    eprintln!(
        "infinite body: {} MiB sent, peak RSS {} MiB",
        sent >> 20,
        peak >> 20
    );
    if cfg!(target_os = "linux") {
        assert!(
            sent > 4 * peak,
            "the server sent {sent} bytes, the process peaked at {peak}: not enough to tell"
        );
    }
    let received = bad["data_received"].as_u64().unwrap();
    assert!(received > sent / 2, "received {received} of {sent}");
    // Each response was abandoned at its timeout: the client closed the
    // connection then, rather than reading on in the background.
    let streams = server.stats.infinite_streams.lock().unwrap().clone();
    assert_eq!(streams.len() as u64, count, "{streams:?}");
    for d in &streams {
        assert!(
            *d < Duration::from_millis(2500),
            "a response went on for {d:?}: {streams:?}"
        );
    }
}

#[test]
fn server_errors_are_failed_requests_by_status() {
    let dir = tempfile::tempdir().unwrap();
    let server = FaultServer::start();
    let har = capture(dir.path(), "GET", Fault::ServerError.path());
    let o = replay(dir.path(), &har, &server.url(), &[]);
    let bad = o.endpoint("/5xx");
    let count = bad["count"].as_u64().unwrap();
    assert!(count >= 8, "{bad}");
    assert_eq!(bad["status"], serde_json::json!({ "503": count }));
    assert_eq!(bad["failed"].as_u64(), Some(count));
    assert_eq!(bad["errors"], serde_json::json!({}), "no transport error");
    assert_healthy(&o, &server);
    assert_eq!(o.run.code, Some(99));
}

/// Closing after every response (without `Connection: close`) costs a
/// reconnect, not an error.
#[test]
fn connections_closed_after_every_response_are_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let server = FaultServer::start();
    let har = capture(dir.path(), "GET", Fault::Close.path());
    let o = replay(dir.path(), &har, &server.url(), &[]);
    let closing = o.endpoint("/close");
    let count = closing["count"].as_u64().unwrap();
    assert_eq!(
        closing["status"],
        serde_json::json!({ "200": count }),
        "{}",
        o.run.output()
    );
    assert_eq!(o.summary["errors"], serde_json::json!({}));
    assert_healthy(&o, &server);
    let conns = server
        .stats
        .connections
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        conns >= count,
        "{conns} connections for {count} closing responses"
    );
    assert_eq!(o.run.code, Some(0), "{}", o.run.output());
}

/// The target goes away for two seconds (listener closed, open connections
/// reset) and comes back on the same port: the run goes on, reconnects,
/// and the `--out` time series shows healthy seconds, then seconds where
/// every request failed, then healthy seconds again.
#[test]
fn an_outage_shows_in_the_time_series_and_the_run_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let server = FaultServer::start();
    let har = capture(dir.path(), "GET", "/ok");
    let summary = dir.path().join("summary.json");
    let series = dir.path().join("series.ndjson");
    let out = format!("json={}", series.display());
    let url = server.url();
    let args = [
        har.to_str().unwrap(),
        "--target",
        &url,
        "--duration",
        "8s",
        "--rate",
        "20/s",
        "--arrival",
        "constant",
        "--timeout",
        "1s",
        "--seed",
        "7",
        "--quiet",
        "--summary-export",
        summary.to_str().unwrap(),
        "--out",
        &out,
    ];
    let mut child = Replay::new(args).deadline(HANG_LIMIT).spawn();
    // Go down after 2 s of the schedule (40 requests at 20/s), counted at
    // the server, so that the slow start of a loaded machine does not
    // move the outage.
    let healthy_first = server.wait_for_requests(&[("/ok", 40)]);
    child.ensure(healthy_first, "40 requests at the server");
    server.go_down();
    let before = server.requests("/ok");
    // The outage itself: the target stays away for this long (nothing
    // observable marks its end; refused connections never reach a server).
    std::thread::sleep(OUTAGE);
    server.come_back();
    let run = child.finish();
    assert!(
        run.elapsed < Duration::from_secs(8 + 1) + SLACK,
        "{}",
        run.output()
    );
    assert!(
        server.requests("/ok") > before + 40,
        "reconnected after the outage"
    );

    let lines: Vec<Value> = std::fs::read_to_string(&series)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let shape: Vec<(u64, u64)> = lines
        .iter()
        .map(|l| {
            (
                l["requests"].as_u64().unwrap(),
                l["failed"].as_u64().unwrap(),
            )
        })
        .collect();
    eprintln!("(requests, failed) per second: {shape:?}");
    let healthy = |i: usize| shape[i].0 > 0 && shape[i].1 == 0;
    let down = |i: usize| shape[i].0 > 0 && shape[i].1 == shape[i].0;
    let first_down = (0..shape.len()).find(|&i| down(i));
    let recovered = first_down.and_then(|d| (d..shape.len()).find(|&i| healthy(i)));
    assert!(
        matches!((first_down, recovered), (Some(d), Some(r)) if d > 0 && healthy(0) && r > d),
        "(requests, failed) per second: {shape:?}"
    );
    // The last seconds are healthy again.
    let n = shape.len();
    assert!(
        n >= 7 && healthy(n - 2),
        "(requests, failed) per second: {shape:?}"
    );

    let v: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let refused = v["errors"]["connect_refused"].as_u64().unwrap_or(0);
    assert!(refused >= 20, "{}: {}", v["errors"], run.output());
    assert_eq!(v["requests"]["dropped"], 0);
    assert_eq!(
        run.code,
        Some(0),
        "no threshold: the outage alone does not fail the run (the default guards fail only a run whose every request failed, or that dropped over 1%)"
    );
}

/// `--http2` (prior knowledge, over plain TCP) against a server that only
/// speaks HTTP/1.1: h2 rejects the answer (FRAME_SIZE_ERROR) — a protocol
/// error, or a reset for a request whose connection died first — never
/// the vague `other`.
#[test]
fn http2_against_an_http1_server_is_a_protocol_error() {
    let dir = tempfile::tempdir().unwrap();
    let server = FaultServer::start();
    let har = capture(dir.path(), "GET", "/ok");
    let o = replay(
        dir.path(),
        &har,
        &server.url(),
        &["--http2", "--no-fail-fast"],
    );
    let sent = o.summary["requests"]["sent"].as_u64().unwrap();
    let errors = o.summary["errors"].as_object().unwrap();
    assert!(
        errors.keys().all(|k| k == "protocol" || k == "reset"),
        "{errors:?}"
    );
    assert!(errors["protocol"].as_u64().unwrap() > 0, "{errors:?}");
    assert_eq!(
        errors.values().map(|v| v.as_u64().unwrap()).sum::<u64>(),
        sent
    );
    assert_eq!(o.run.code, Some(99));
}
