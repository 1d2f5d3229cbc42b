//! The replayer end to end: the binary against in-process servers on
//! 127.0.0.1:0. Timing claims are checked with generous bounds; exact
//! claims (counts, mix) rely on the seeded schedule.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::bin::{replay, Replay, Run, Signal};
use support::har::{shop, write_har};
use support::server::{Behaviour, Server};
use support::{chi_square, read_json as summary};

/// Writes the shop recording ([`shop`]) of `n` requests over `secs` as
/// `dir/name`.
fn shop_har(dir: &tempfile::TempDir, name: &str, n: usize, secs: f64, auth: bool) -> PathBuf {
    write_har(dir.path(), name, &shop(n, secs, auth))
}

#[test]
fn seeded_run_sends_the_same_requests_with_the_recorded_mix() {
    let dir = tempfile::tempdir().unwrap();
    let har = shop_har(&dir, "shop.har", 400, 2.0, false);
    let run = |server: &Server, out: &str| {
        let s = dir.path().join(out);
        let Run {
            code,
            stdout,
            stderr,
            ..
        } = replay([
            har.to_str().unwrap(),
            "--target",
            &server.url(),
            "--seed",
            "7",
            "--duration",
            "2s",
            "--quiet",
            "--summary-export",
            s.to_str().unwrap(),
        ]);
        assert_eq!(code, Some(0), "{stdout}\n{stderr}");
        summary(&s)
    };
    let a = Server::start(Behaviour::default());
    let sa = run(&a, "a.json");
    let b = Server::start(Behaviour::default());
    let sb = run(&b, "b.json");
    // Same seed, same requests, endpoint by endpoint.
    assert_eq!(a.counts(), b.counts());
    let total = a.total();
    assert!(total > 300, "about 400 intended, got {total}");
    assert_eq!(sa["metrics"]["http_reqs"]["count"].as_u64(), Some(total));
    assert_eq!(sa["requests"]["dropped"].as_u64(), Some(0));
    assert_eq!(sa["seed"], sb["seed"]);
    // Mix: 60/30/10 within a chi-square bound (df = 2, p = 0.001).
    let c = a.counts();
    let posts: u64 = c
        .iter()
        .filter(|(k, _)| k.starts_with("GET /posts/"))
        .map(|(_, v)| v)
        .sum();
    let me = c.get("GET /users/me").copied().unwrap_or(0);
    let orders = c.get("POST /orders").copied().unwrap_or(0);
    assert_eq!(posts + me + orders, total, "{c:?}");
    let x2 = chi_square(&[posts, me, orders], &[0.6, 0.3, 0.1]);
    assert!(x2 < 13.8, "mix off: {posts}/{me}/{orders}, chi² {x2}");
    // The same bound rejects a sampler that ignores the weights.
    assert!(chi_square(&[total / 3, total / 3, total / 3], &[0.6, 0.3, 0.1]) > 13.8);
    // A different seed gives a different sequence.
    let c2 = Server::start(Behaviour::default());
    let Run { code, .. } = replay([
        har.to_str().unwrap(),
        "--target",
        &c2.url(),
        "--seed",
        "8",
        "--duration",
        "2s",
        "--quiet",
    ]);
    assert_eq!(code, Some(0));
    assert_ne!(c2.counts(), a.counts());
}

/// `har` replayed for 2 s with seed 7 and `extra` flags against a fresh
/// server, its summary written as `dir/name`: the run must pass and drop
/// nothing. Returns the server (what it received), the summary and the
/// run's output.
fn seeded_run(
    dir: &tempfile::TempDir,
    har: &std::path::Path,
    name: &str,
    extra: &[&str],
) -> (Server, Value, String) {
    let server = Server::start(Behaviour::default());
    let s = dir.path().join(name);
    let url = server.url();
    let mut args = vec![
        har.to_str().unwrap(),
        "--target",
        &url,
        "--seed",
        "7",
        "--duration",
        "2s",
    ];
    args.extend_from_slice(extra);
    args.extend(["--summary-export", s.to_str().unwrap()]);
    let Run {
        code,
        stdout,
        stderr,
        ..
    } = replay(args);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let sum = summary(&s);
    assert_eq!(sum["requests"]["dropped"].as_u64(), Some(0), "{sum}");
    (server, sum, stdout + &stderr)
}

#[test]
fn several_load_threads_share_one_schedule() {
    // Two threads take alternate instants of the same schedule: together
    // they send what one thread sends, in the recorded mix, and a seed
    // reproduces a run for the same number of threads.
    let dir = tempfile::tempdir().unwrap();
    let har = shop_har(&dir, "shop.har", 400, 2.0, false);
    let run = |threads: &str| {
        let name = format!("t{threads}.json");
        let (server, sum, _) = seeded_run(&dir, &har, &name, &["--threads", threads, "--quiet"]);
        (server, sum)
    };
    let (one, s1) = run("1");
    let (two, s2) = run("2");
    let (two_again, _) = run("2");
    assert_eq!(two.total(), one.total(), "same schedule, same number");
    assert_eq!(s2["intended_rate"], s1["intended_rate"]);
    assert_eq!(two.counts(), two_again.counts());
    let c = two.counts();
    let posts: u64 = c
        .iter()
        .filter(|(k, _)| k.starts_with("GET /posts/"))
        .map(|(_, v)| v)
        .sum();
    let me = c.get("GET /users/me").copied().unwrap_or(0);
    let orders = c.get("POST /orders").copied().unwrap_or(0);
    let x2 = chi_square(&[posts, me, orders], &[0.6, 0.3, 0.1]);
    assert!(x2 < 13.8, "mix off: {posts}/{me}/{orders}, chi² {x2}");
}

#[test]
fn a_busy_polling_run_sends_what_a_sleeping_one_does_and_says_so() {
    // `--busy-poll on` changes how the load thread waits, not what it
    // sends: the same seed gives the same requests, none dropped, and the
    // banner says the thread keeps its core busy. `auto` at this rate
    // (far under 45,000 req/s per thread) sleeps and says nothing.
    let dir = tempfile::tempdir().unwrap();
    let har = shop_har(&dir, "shop.har", 400, 2.0, false);
    let run = |mode: &str| {
        let name = format!("{mode}.json");
        let (server, _, said) =
            seeded_run(&dir, &har, &name, &["--threads", "1", "--busy-poll", mode]);
        (server, said)
    };
    let (polled, said) = run("on");
    let (slept, quiet) = run("auto");
    assert!(polled.total() > 0);
    assert_eq!(polled.counts(), slept.counts(), "same seed, same requests");
    assert!(
        said.contains("the load thread polls instead of sleeping"),
        "{said}"
    );
    assert!(!quiet.contains("polls instead of sleeping"), "{quiet}");
}

#[test]
fn scale_2x_sends_twice_the_requests_of_1x() {
    let dir = tempfile::tempdir().unwrap();
    let har = shop_har(&dir, "shop.har", 300, 3.0, false);
    let count = |scale: &str| {
        let server = Server::start(Behaviour::default());
        let Run {
            code,
            stdout: out,
            stderr: err,
            ..
        } = replay([
            har.to_str().unwrap(),
            "--target",
            &server.url(),
            "--scale",
            scale,
            "--duration",
            "3s",
            "--seed",
            "1",
            "--quiet",
        ]);
        assert_eq!(code, Some(0), "{out}\n{err}");
        server.total() as f64
    };
    let one = count("1x");
    let two = count("2x");
    let ratio = two / one;
    assert!(
        (ratio - 2.0).abs() < 0.1,
        "1x {one}, 2x {two}, ratio {ratio}"
    );
}

#[test]
fn server_stall_shows_in_duration_not_in_service_time() {
    let dir = tempfile::tempdir().unwrap();
    let har = shop_har(&dir, "shop.har", 100, 1.0, false);
    let server = Server::start(Behaviour {
        stall: Some((Duration::from_millis(1500), Duration::from_secs(1))),
        ..Behaviour::default()
    });
    let s = dir.path().join("s.json");
    let Run {
        code,
        stdout: out,
        stderr: err,
        ..
    } = replay([
        har.to_str().unwrap(),
        "--target",
        &server.url(),
        "--rate",
        "200/s",
        "--arrival",
        "constant",
        "--duration",
        "5s",
        "--connections",
        "2",
        "--quiet",
        "--summary-export",
        s.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let v = summary(&s);
    let m = &v["metrics"];
    let dur_p99 = m["http_req_duration"]["p(99)"].as_f64().unwrap();
    let svc_p99 = m["http_req_service_time"]["p(99)"].as_f64().unwrap();
    let lag_p99 = m["schedule_lag"]["p(99)"].as_f64().unwrap();
    assert!(
        dur_p99 > 500.0,
        "the stall must show in http_req_duration p99: {dur_p99} ms"
    );
    assert!(
        svc_p99 < 250.0,
        "service time p99 {svc_p99} ms should not carry the queueing"
    );
    assert!(
        lag_p99 > 300.0,
        "the wait for a connection is schedule lag: {lag_p99} ms"
    );
    assert_eq!(
        v["requests"]["dropped"].as_u64(),
        Some(0),
        "queued, not dropped"
    );
}

#[test]
fn thresholds_decide_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let har = shop_har(&dir, "shop.har", 50, 1.0, false);
    let server = Server::start(Behaviour::default());
    let s = dir.path().join("s.json");
    let Run {
        code,
        stdout: out,
        stderr: err,
        ..
    } = replay([
        har.to_str().unwrap(),
        "--target",
        &server.url(),
        "--duration",
        "1s",
        "--quiet",
        "--threshold",
        "http_req_failed: rate<0.01",
        "--threshold",
        "http_req_duration{endpoint:GET /users/me}: p(95)<5s",
        "--summary-export",
        s.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains('✓'), "{out}");
    let v = summary(&s);
    assert_eq!(
        v["metrics"]["http_req_failed"]["thresholds"]["rate<0.01"]["ok"],
        Value::Bool(true)
    );

    let Run {
        code, stdout: out, ..
    } = replay([
        har.to_str().unwrap(),
        "--target",
        &server.url(),
        "--duration",
        "1s",
        "--quiet",
        "--threshold",
        "http_req_duration: p(95)<0.001ms",
    ]);
    assert_eq!(code, Some(99), "{out}");
    assert!(out.contains('✗'), "{out}");

    let Run {
        code, stderr: err, ..
    } = replay([
        har.to_str().unwrap(),
        "--target",
        &server.url(),
        "--threshold",
        "http_req_duration: p95<5ms",
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("p(95)"), "{err}");
    let Run {
        code, stderr: err, ..
    } = replay([
        har.to_str().unwrap(),
        "--target",
        &server.url(),
        "--threshold",
        "http_req_duration{endpoint:GET /nope}: p(95)<5ms",
    ]);
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn secrets_must_be_supplied_and_are_sent() {
    let dir = tempfile::tempdir().unwrap();
    let har = shop_har(&dir, "auth.har", 50, 1.0, true);
    let server = Server::start(Behaviour::default());
    let Run {
        code, stderr: err, ..
    } = replay([
        har.to_str().unwrap(),
        "--target",
        &server.url(),
        "--duration",
        "1s",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("{{secret:authorization}}") && err.contains("--secret"),
        "{err}"
    );
    assert_eq!(server.total(), 0, "nothing is sent before the check");

    let Run {
        code,
        stdout: out,
        stderr: err,
        ..
    } = replay([
        har.to_str().unwrap(),
        "--target",
        &server.url(),
        "--duration",
        "1s",
        "--quiet",
        "-H",
        "Authorization: Bearer test-token",
    ]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let authorization = server.authorizations();
    assert!(!authorization.is_empty());
    assert!(
        authorization.iter().all(|a| a == "Bearer test-token"),
        "{:?}",
        &authorization[..3]
    );
}

/// Against the built-in mock (no `--target`) a capture with credentials
/// runs as it is: the mock checks none, so the missing secrets are sent as
/// REDACTED, and stderr says which and what a real target needs.
#[test]
fn the_built_in_mock_needs_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let har = shop_har(&dir, "auth.har", 50, 1.0, true);
    let s = dir.path().join("s.json");
    let Run {
        code,
        stdout: out,
        stderr: err,
        ..
    } = replay([
        har.to_str().unwrap(),
        "--duration",
        "1s",
        "--summary-export",
        s.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        err.contains(
            "scrubbed secrets without a value (authorization) are sent to the mock as REDACTED"
        ),
        "{err}"
    );
    let v = summary(&s);
    assert!(v["metrics"]["http_reqs"]["count"].as_u64().unwrap() > 0);

    // A value given is used, and nothing is said.
    let Run {
        code,
        stdout: out,
        stderr: err,
        ..
    } = replay([
        har.to_str().unwrap(),
        "--duration",
        "1s",
        "--secret",
        "authorization=Bearer x",
    ]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(!err.contains("REDACTED"), "{err}");
}

#[test]
fn ctrl_c_writes_a_partial_summary_and_exits_130() {
    if !cfg!(unix) {
        support::skip(
            "ctrl_c_writes_a_partial_summary_and_exits_130",
            "needs unix signals",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let har = shop_har(&dir, "shop.har", 100, 1.0, false);
    let server = Server::start(Behaviour::default());
    let s = dir.path().join("partial.json");
    let mut child = Replay::new([
        har.to_str().unwrap(),
        "--target",
        &server.url(),
        "--duration",
        "60s",
        "--quiet",
        "--summary-export",
        s.to_str().unwrap(),
    ])
    .spawn();
    // Once the load has started.
    let seen = server.wait_for_requests(1);
    child.ensure(seen, "request at the server");
    let started = Instant::now();
    child.signal(Signal::Int);
    let out = child.finish();
    assert!(
        out.exited_after(started) < Duration::from_secs(10),
        "stops promptly"
    );
    assert_eq!(out.code, Some(130), "{}", out.stderr);
    let v = summary(&s);
    assert!(v["metrics"]["http_reqs"]["count"].as_u64().unwrap() > 0);
    assert!(v["duration_s"].as_f64().unwrap() < 30.0, "partial duration");
    assert_eq!(v["ended"], "interrupted");
    let stdout = &out.stdout;
    assert!(stdout.contains("http_reqs"));
    assert!(
        stdout.contains("(interrupted: partial results)"),
        "{stdout}"
    );
}

#[test]
fn summary_export_has_the_documented_shape() {
    let dir = tempfile::tempdir().unwrap();
    let har = shop_har(&dir, "shop.har", 60, 1.0, false);
    let server = Server::start(Behaviour::default());
    let s = dir.path().join("s.json");
    let ts = dir.path().join("t.ndjson");
    let Run {
        code,
        stdout: out,
        stderr: err,
        ..
    } = replay([
        har.to_str().unwrap(),
        "--target",
        &server.url(),
        "--duration",
        "2s",
        "--scale",
        "2x",
        "--seed",
        "3",
        "--quiet",
        "--summary-export",
        s.to_str().unwrap(),
        "--out",
        &format!("json={}", ts.display()),
    ]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let v = summary(&s);
    for key in [
        "seed",
        "duration_s",
        "ended",
        "intended_rate",
        "achieved_rate",
        "scale",
        "target",
        "command",
        "errors",
        "endpoints",
        "histograms",
        "metrics",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(
        v["seed"], "3",
        "the seed is a string: see docs/summary-format.md"
    );
    assert_eq!(v["scale"], 2.0);
    assert_eq!(v["ended"], "completed");
    for trend in [
        "http_req_duration",
        "http_req_service_time",
        "http_req_waiting",
        "http_req_connecting",
        "schedule_lag",
    ] {
        for f in [
            "avg", "min", "med", "max", "p(90)", "p(95)", "p(99)", "p(99.9)",
        ] {
            assert!(v["metrics"][trend][f].is_number(), "{trend}.{f}");
        }
    }
    for counter in [
        "http_reqs",
        "dropped_requests",
        "data_sent",
        "data_received",
    ] {
        assert!(v["metrics"][counter]["count"].is_number(), "{counter}");
        assert!(v["metrics"][counter]["rate"].is_number(), "{counter}");
    }
    for f in ["rate", "passes", "fails"] {
        assert!(
            v["metrics"]["http_req_failed"][f].is_number(),
            "http_req_failed.{f}"
        );
    }
    let eps = v["endpoints"].as_array().unwrap();
    assert_eq!(eps.len(), 3);
    for e in eps {
        for f in [
            "method",
            "host",
            "template",
            "count",
            "recorded_share",
            "replayed_share",
        ] {
            assert!(e.get(f).is_some(), "endpoint.{f}");
        }
    }
    assert!(!v["histograms"].as_array().unwrap().is_empty());
    assert!(v["command"].as_str().unwrap().contains("--seed 3"));
    let lines = std::fs::read_to_string(&ts).unwrap();
    assert!(lines.lines().count() >= 1, "one line per interval");
    for l in lines.lines() {
        let x: Value = serde_json::from_str(l).unwrap();
        assert!(x["rate"].is_number());
    }
}

#[test]
fn without_target_it_replays_against_the_builtin_mock() {
    let dir = tempfile::tempdir().unwrap();
    let har = shop_har(&dir, "shop.har", 60, 1.0, false);
    let Run {
        code,
        stdout: out,
        stderr: err,
        ..
    } = replay([
        har.to_str().unwrap(),
        "--scale",
        "2x",
        "--duration",
        "1s",
        "--mock-latency",
        "none",
    ]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(err.contains("built-in mock"), "{err}");
    assert!(
        !err.contains("shop.test"),
        "never contacts the recorded host"
    );
    assert!(out.contains("http_req_duration"), "{out}");
    assert!(out.contains("GET /posts/{id}"), "{out}");
}

/// Answers 404 to `GET /posts/N` for odd N: a service lacking half the
/// recorded posts.
fn odd_posts_missing(key: &str) -> bool {
    key.strip_prefix("GET /posts/")
        .and_then(|id| id.parse::<u64>().ok())
        .is_some_and(|id| id % 2 == 1)
}

#[test]
fn status_drift_flags_and_gates_what_the_recording_answered_200() {
    // Every recorded response was 200; one target lacks half the posts.
    let dir = tempfile::tempdir().unwrap();
    let har = shop_har(&dir, "shop.har", 400, 2.0, false);
    let run = |server: &Server, out: &str| {
        let s = dir.path().join(out);
        let r = replay([
            har.to_str().unwrap(),
            "--target",
            &server.url(),
            "--seed",
            "7",
            "--duration",
            "2s",
            "--threshold",
            "status_drift: rate<0.02",
            "--threshold",
            "status_drift{endpoint:GET /users/me}: rate<0.02",
            "--summary-export",
            s.to_str().unwrap(),
        ]);
        (r, summary(&s))
    };
    let missing = Server::start(Behaviour {
        fail: support::server::Fail::NotFound(odd_posts_missing),
        ..Behaviour::default()
    });
    let (r, s) = run(&missing, "missing.json");
    assert_eq!(r.code, Some(99), "{}", r.output());
    // The summary sets the recording's status counts beside the replay's.
    let eps: std::collections::BTreeMap<String, &Value> = s["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                format!("{} {}", e["method"], e["template"]).replace('"', ""),
                e,
            )
        })
        .collect();
    for (name, recorded) in [
        ("GET /posts/{id}", 240),
        ("GET /users/me", 120),
        ("POST /orders", 40),
    ] {
        let e = eps[name];
        assert_eq!(
            e["recorded_status"],
            serde_json::json!({ "200": recorded }),
            "{name}"
        );
        assert_eq!(e["recorded_error_rate"], 0.0, "{name}");
    }
    let posts = eps["GET /posts/{id}"];
    let not_found = posts["status"]["404"].as_u64().unwrap_or(0);
    assert!(not_found > 0, "{posts}");
    assert!(posts["error_rate"].as_f64().unwrap() > 0.2, "{posts}");
    // Overall the drift fails the gate; GET /users/me alone does not drift.
    let t = &s["thresholds"];
    assert_eq!(
        (t[0]["ok"].as_bool(), t[1]["ok"].as_bool()),
        (Some(false), Some(true)),
        "{t}"
    );
    assert!(s["metrics"]["status_drift"]["rate"].as_f64().unwrap() > 0.1);
    // The text report flags the endpoint and names both status mixes.
    let row = |name: &str| {
        r.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row {name}: {}", r.output()))
            .to_string()
    };
    assert!(row("GET /posts/{id}").ends_with('✗'), "{}", r.stdout);
    assert!(!row("GET /users/me").ends_with('✗'), "{}", r.stdout);
    let line = r
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("GET /posts/{id}: replayed "))
        .unwrap_or_else(|| panic!("no status line: {}", r.stdout));
    assert!(line.contains(" 404 ") && line.contains(" 200 "), "{line}");
    assert!(line.ends_with("; recorded 200 100%"), "{line}");
    assert!(
        !r.stdout.contains("GET /users/me: replayed"),
        "{}",
        r.stdout
    );

    // Against a service that has every post, the same gate passes.
    let complete = Server::start(Behaviour::default());
    let (r, s) = run(&complete, "complete.json");
    assert_eq!(r.code, Some(0), "{}", r.output());
    assert_eq!(s["metrics"]["status_drift"]["rate"], 0.0);
    assert!(!r.stdout.contains("above the recording"), "{}", r.stdout);
}
