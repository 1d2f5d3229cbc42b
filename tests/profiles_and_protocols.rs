//! Load profiles (stress, spike, smoke, soak), `--abort-on-fail`, HTTP/2
//! (h2c prior knowledge) and HTTPS, end to end: the real binary replays a
//! one-endpoint capture (`GET /ok`, 10 requests/s) against the in-process
//! server of `support::server` on 127.0.0.1:0, which logs every request
//! (arrival time and HTTP version) and can be told to fail above a request
//! rate, always, or to slow down after a while. Each test checks the exit
//! code, the text report and the `--summary-export` JSON.
//!
//! Every run is a few seconds at 5–30 requests/s; time bounds are generous
//! (a loaded 2-core machine).

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use support::bin::{Replay, Run};
use support::har::{write_har, Entry};
use support::server::{self_signed, Behaviour, Fail, Server};

/// Killed as hung after this.
const HANG_LIMIT: Duration = Duration::from_secs(90);

/// A capture of `GET /ok` at 10 requests/s for 2 s.
fn capture(dir: &Path) -> PathBuf {
    let entries: Vec<Entry> = (0..20u64)
        .map(|i| Entry::get("http://shop.test/ok", i * 100))
        .collect();
    write_har(dir, "capture.har", &entries)
}

/// Runs `replay CAPTURE --summary-export S --quiet --seed 7 ARGS…`;
/// returns the run and the summary (Null when none was written).
fn replay(args: &[&str]) -> (Run, Value) {
    let dir = tempfile::tempdir().unwrap();
    let har = capture(dir.path());
    let summary = dir.path().join("summary.json");
    let mut all: Vec<&str> = vec![
        har.to_str().unwrap(),
        "--summary-export",
        summary.to_str().unwrap(),
        "--quiet",
        "--seed",
        "7",
    ];
    all.extend_from_slice(args);
    let run = Replay::new(&all).deadline(HANG_LIMIT).run();
    let json = std::fs::read_to_string(&summary)
        .map(|s| serde_json::from_str(&s).unwrap())
        .unwrap_or(Value::Null);
    (run, json)
}

fn u(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("{v} is not an unsigned integer"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

// --- stress -----------------------------------------------------------------

#[test]
fn stress_names_the_largest_passing_step_when_the_server_breaks() {
    // 5, 10 and 20 req/s; the server answers 503 once more than 14
    // requests arrived within a second, so the 2x step fails.
    let server = Server::start(Behaviour {
        fail: Fail::AboveRate(14),
        ..Behaviour::default()
    });
    let (run, s) = replay(&[
        "--target",
        &server.url(),
        "--profile",
        "stress",
        "--stress-steps",
        "0.5x,1x,2x",
        "--duration",
        "2s",
        "--arrival",
        "constant",
    ]);
    let out = run.output();
    // The first step held: the breaking point above it is the finding.
    assert_eq!(run.code, Some(0), "{out}");
    assert!(run.stdout.contains("stress steps:"), "{out}");
    assert!(
        run.stdout
            .contains("breaking point: largest scale that passed: 1x (failed at 2x)"),
        "{out}"
    );
    let st = &s["stress"];
    assert_eq!(st["largest_passing_step"], "1x", "{out}");
    assert_eq!(st["first_failing_step"], "2x", "{out}");
    let steps = st["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3, "{st}");
    for (step, (label, scale)) in steps.iter().zip([("0.5x", 0.5), ("1x", 1.0), ("2x", 2.0)]) {
        assert_eq!(step["step"], label, "{st}");
        assert_eq!(f(&step["scale"]), scale, "{st}");
    }
    assert!(f(&steps[0]["error_rate"]) <= 0.05, "{st}");
    assert!(f(&steps[1]["error_rate"]) <= 0.05, "{st}");
    assert!(f(&steps[2]["error_rate"]) > 0.05, "{st}");
    // Achieved rates follow the steps (generous: 2 s per step).
    let rate = |i: usize| f(&steps[i]["achieved_rate"]);
    assert!((3.0..=7.0).contains(&rate(0)), "{st}");
    assert!((7.0..=13.0).contains(&rate(1)), "{st}");
    assert!((14.0..=26.0).contains(&rate(2)), "{st}");
    // The top-level summary is the last (failing) step's, 503s included.
    assert_eq!(f(&s["scale"]), 2.0);
    assert!(u(&s["requests"]["failed"]) > 0, "{s}");
    assert!(
        s["endpoints"][0]["status"]["503"].as_u64().unwrap_or(0) > 0,
        "{s}"
    );
}

/// With `--rate`, the stress steps are multiples of that rate.
#[test]
fn stress_steps_multiply_the_given_rate() {
    let server = Server::start(Behaviour::default());
    let (run, s) = replay(&[
        "--target",
        &server.url(),
        "--profile",
        "stress",
        "--rate",
        "4/s",
        "--stress-steps",
        "1x,3x",
        "--duration",
        "2s",
        "--arrival",
        "constant",
    ]);
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    let f = |v: &Value| v.as_f64().unwrap();
    let steps = s["stress"]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{out}");
    assert!((3.0..=5.0).contains(&f(&steps[0]["achieved_rate"])), "{s}");
    assert!((9.0..=15.0).contains(&f(&steps[1]["achieved_rate"])), "{s}");
}

#[test]
fn stress_where_every_step_passes_and_where_the_first_already_fails() {
    let server = Server::start(Behaviour::default());
    let (run, s) = replay(&[
        "--target",
        &server.url(),
        "--profile",
        "stress",
        "--stress-steps",
        "0.5x,1x",
        "--duration",
        "1s",
        "--arrival",
        "constant",
    ]);
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    assert!(
        run.stdout
            .contains("breaking point: none found; every step passed up to 1x"),
        "{out}"
    );
    assert_eq!(s["stress"]["largest_passing_step"], "1x", "{out}");
    assert!(s["stress"]["first_failing_step"].is_null(), "{out}");
    assert_eq!(s["stress"]["steps"].as_array().unwrap().len(), 2);

    // The scale asked for already fails a threshold: exit 99, no more steps.
    let broken = Server::start(Behaviour {
        fail: Fail::Always,
        ..Behaviour::default()
    });
    let (run, s) = replay(&[
        "--target",
        &broken.url(),
        "--profile",
        "stress",
        "--stress-steps",
        "0.5x,1x",
        "--duration",
        "1s",
        "--arrival",
        "constant",
        "--threshold",
        "http_req_failed: rate<0.01",
    ]);
    let out = run.output();
    assert_eq!(run.code, Some(99), "{out}");
    assert!(
        run.stdout
            .contains("breaking point: the first step (0.5x) already failed"),
        "{out}"
    );
    assert!(s["stress"]["largest_passing_step"].is_null(), "{out}");
    assert_eq!(s["stress"]["first_failing_step"], "0.5x", "{out}");
    assert_eq!(s["stress"]["steps"].as_array().unwrap().len(), 1, "{out}");
    assert_eq!(s["thresholds"][0]["ok"], false, "{out}");
}

// --- spike ------------------------------------------------------------------

#[test]
fn spike_sends_the_peak_rate_in_the_middle_third() {
    // 6 s: 10 req/s, then 30 req/s, then 10 req/s, 2 s each.
    let server = Server::start(Behaviour::default());
    let (run, s) = replay(&[
        "--target",
        &server.url(),
        "--profile",
        "spike",
        "--scale",
        "3x",
        "--duration",
        "6s",
        "--arrival",
        "constant",
    ]);
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    let seen = server.seen();
    assert_eq!(seen.len() as u64, u(&s["requests"]["sent"]), "{out}");
    // Requests per second at the server in the inner 1.5 s of each third
    // (relative to the first request), away from the step edges.
    let t0 = seen[0].at;
    let rate_in = |from: f64| {
        let n = seen
            .iter()
            .map(|x| (x.at - t0).as_secs_f64())
            .filter(|t| (from..from + 1.5).contains(t))
            .count();
        n as f64 / 1.5
    };
    let (before, peak, after) = (rate_in(0.25), rate_in(2.25), rate_in(4.25));
    let msg = format!("before {before}/s, peak {peak}/s, after {after}/s\n{out}");
    assert!((6.0..=14.0).contains(&before), "{msg}");
    assert!((6.0..=14.0).contains(&after), "{msg}");
    assert!((20.0..=40.0).contains(&peak), "{msg}");
    assert!(peak / before >= 2.0 && peak / after >= 2.0, "{msg}");
    // 20 + 60 + 20 intended in all.
    let sent = u(&s["requests"]["sent"]);
    assert!((80..=120).contains(&sent), "sent {sent}\n{out}");
    assert_eq!(u(&s["requests"]["failed"]), 0, "{out}");
    assert_eq!(f(&s["scale"]), 3.0, "{out}");
}

// --- smoke and soak -----------------------------------------------------------

#[test]
fn smoke_sends_a_trickle_of_one_request_per_second() {
    let server = Server::start(Behaviour::default());
    let (run, s) = replay(&[
        "--target",
        &server.url(),
        "--profile",
        "smoke",
        "--duration",
        "3s",
    ]);
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    let sent = u(&s["requests"]["sent"]);
    assert!((2..=4).contains(&sent), "sent {sent}\n{out}");
    assert_eq!(server.seen().len() as u64, sent, "{out}");
    assert_eq!(u(&s["requests"]["failed"]), 0, "{out}");
    // 1 req/s over the recorded rate (20 requests in 1.9 s).
    assert!((f(&s["scale"]) - 1.9 / 20.0).abs() < 1e-6, "{s}");
    assert!((f(&s["intended_rate"]) - 1.0).abs() < 0.5, "{s}");
    assert!(run.stdout.contains("seed 7"), "{out}");
}

#[test]
fn soak_reports_p95_drift_when_the_server_slows_down() {
    // 11 s at 10 req/s; after 6 s every answer takes 150 ms more.
    let server = Server::start(Behaviour {
        slow_after: Some((Duration::from_secs(6), Duration::from_millis(150))),
        ..Behaviour::default()
    });
    let (run, s) = replay(&[
        "--target",
        &server.url(),
        "--profile",
        "soak",
        "--duration",
        "11s",
        "--arrival",
        "constant",
    ]);
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    let drift = s["drift"].as_array().unwrap();
    assert!(drift.len() >= 10, "{} drift points\n{out}", drift.len());
    let total: u64 = drift.iter().map(|p| u(&p["requests"])).sum();
    let sent = u(&s["requests"]["sent"]);
    assert!(
        total <= sent && total + 10 >= sent,
        "drift {total}, sent {sent}"
    );
    let p95 = |p: &Value| f(&p["p95_ms"]);
    // The first and last tenths that completed requests (under load the
    // tail of the drain can be a point with none, whose p95 is null).
    let answered: Vec<&Value> = drift.iter().filter(|p| u(&p["requests"]) > 0).collect();
    let (first, last) = (answered[0], answered[answered.len() - 1]);
    assert!(p95(first) < 100.0, "first {first}\n{out}");
    assert!(p95(last) >= 140.0, "last {last}\n{out}");
    // The text names the drift, first tenth → last tenth.
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("drift (first → last tenth): p95 "))
        .unwrap_or_else(|| panic!("no drift line\n{out}"));
    assert!(line.contains("error rate 0.00% → 0.00%"), "{line}");
}

// --- abort on fail ------------------------------------------------------------

#[test]
fn abort_on_fail_stops_early_and_still_writes_the_summary() {
    let server = Server::start(Behaviour {
        fail: Fail::Always,
        ..Behaviour::default()
    });
    let (run, s) = replay(&[
        "--target",
        &server.url(),
        "--duration",
        "30s",
        "--threshold",
        "http_req_failed: rate<0.01",
        "--abort-on-fail",
    ]);
    let out = run.output();
    assert_eq!(run.code, Some(99), "{out}");
    assert!(run.elapsed < Duration::from_secs(15), "{out}");
    assert!(f(&s["duration_s"]) < 10.0, "{s}\n{out}");
    assert_eq!(s["ended"], "aborted", "{out}");
    let sent = u(&s["requests"]["sent"]);
    assert!(sent > 0 && sent < 100, "sent {sent}\n{out}");
    assert_eq!(u(&s["requests"]["failed"]), sent, "{out}");
    assert_eq!(s["thresholds"][0]["ok"], false, "{out}");
    assert!(run.stdout.contains("http_req_failed: rate<0.01"), "{out}");
    // Said on stderr, even with --quiet and no terminal.
    assert!(
        run.stderr
            .contains("--abort-on-fail: 'http_req_failed: rate<0.01' crossed after")
            && run.stderr.contains("the run was stopped early"),
        "{out}"
    );
}

// --- HTTP/2 -------------------------------------------------------------------

#[test]
fn http2_prior_knowledge_against_an_h2c_server() {
    let server = Server::start(Behaviour::default());
    let (run, s) = replay(&[
        "--target",
        &server.url(),
        "--http2",
        "--duration",
        "2s",
        "--rate",
        "20/s",
        "--arrival",
        "constant",
    ]);
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    let seen = server.seen();
    let sent = u(&s["requests"]["sent"]);
    assert!((30..=50).contains(&sent), "sent {sent}\n{out}");
    assert_eq!(seen.len() as u64, sent, "{out}");
    assert!(
        seen.iter().all(|x| x.version == http::Version::HTTP_2),
        "{seen:?}"
    );
    assert_eq!(u(&s["requests"]["failed"]), 0, "{out}");
    assert_eq!(u(&s["endpoints"][0]["status"]["200"]), sent, "{out}");
}

#[test]
fn http2_against_the_built_in_mock() {
    let (run, s) = replay(&["--http2", "--duration", "2s", "--mock-latency", "none"]);
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    let sent = u(&s["requests"]["sent"]);
    assert!(sent >= 10, "sent {sent}\n{out}");
    assert_eq!(u(&s["requests"]["failed"]), 0, "{out}");
    assert_eq!(s["errors"], serde_json::json!({}), "{out}");
}

// --- HTTPS --------------------------------------------------------------------

fn tls_server() -> Server {
    Server::start(Behaviour {
        tls: Some(self_signed()),
        ..Behaviour::default()
    })
}

fn https_run(server: &Server, extra: &[&str]) -> (Run, Value) {
    let target = server.https_url();
    let mut args = vec![
        "--target",
        &target,
        "--duration",
        "2s",
        "--arrival",
        "constant",
    ];
    args.extend_from_slice(extra);
    replay(&args)
}

#[test]
fn https_with_insecure_succeeds_over_http1_and_negotiates_h2() {
    for (http2, version) in [
        (false, http::Version::HTTP_11),
        (true, http::Version::HTTP_2),
    ] {
        let server = tls_server();
        let extra: &[&str] = if http2 {
            &["--insecure", "--http2"]
        } else {
            &["--insecure"]
        };
        let (run, s) = https_run(&server, extra);
        let out = run.output();
        assert_eq!(run.code, Some(0), "http2 {http2}: {out}");
        let sent = u(&s["requests"]["sent"]);
        assert!((15..=25).contains(&sent), "sent {sent}\n{out}");
        assert_eq!(u(&s["requests"]["failed"]), 0, "{out}");
        let seen = server.seen();
        assert_eq!(seen.len() as u64, sent, "{out}");
        assert!(seen.iter().all(|x| x.version == version), "{seen:?}");
        assert!(s["target"].as_str().unwrap().starts_with("https://"), "{s}");
    }
}

#[test]
fn https_without_insecure_fails_every_request_as_tls() {
    let server = tls_server();
    let (run, s) = https_run(
        &server,
        &[
            "--threshold",
            "http_req_failed: rate<0.01",
            "--no-fail-fast",
        ],
    );
    let out = run.output();
    assert_eq!(run.code, Some(99), "{out}");
    let sent = u(&s["requests"]["sent"]);
    assert!(sent >= 15, "sent {sent}\n{out}");
    assert_eq!(u(&s["requests"]["failed"]), sent, "{out}");
    assert_eq!(s["errors"], serde_json::json!({ "tls": sent }), "{out}");
    assert_eq!(s["endpoints"][0]["errors"]["tls"], sent, "{out}");
    assert!(server.seen().is_empty(), "no request gets through");
    assert!(server.tls_failures() > 0);
    assert!(run.stdout.contains("tls"), "{out}");
}
