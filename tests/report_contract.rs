//! A report that cannot mislead (issue 20), end to end through the
//! binary: the default guards on dropped and all-failed runs and their
//! exit codes, why requests failed in the text, the built-in mock named,
//! `--json` and `-` for standard output, endpoints told apart by host,
//! the banner and periodic lines without a terminal, and the seed as a
//! string that reproduces every profile.

mod support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::bin::{replay, Replay, Signal};
use support::har::{shop, write_har, Entry};
use support::read_json;
use support::server::{Behaviour, Fail, Server};

/// The shop recording: 60 requests over 3 s.
fn shop_har(dir: &Path) -> PathBuf {
    write_har(dir, "shop.har", &shop(60, 3.0, false))
}

fn args<'a>(input: &'a Path, rest: &[&'a str]) -> Vec<&'a OsStr> {
    let mut v: Vec<&OsStr> = vec![input.as_os_str()];
    v.extend(rest.iter().map(|s| OsStr::new(*s)));
    v
}

/// `--connections 1` against a mock that takes 200 ms per answer, at
/// 50 req/s: most requests are dropped (they wait longer than the
/// 300 ms `--timeout` for the one connection). Both thresholds pass,
/// but the default guard fails the run with exit 99 and says why on
/// stderr; `--no-default-thresholds`, or a threshold on
/// `dropped_requests`, turns it off.
#[test]
fn dropped_load_fails_the_run_unless_the_guard_is_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let har = shop_har(dir.path());
    let summary = dir.path().join("s.json");
    let base = [
        "--rate",
        "50/s",
        "-d",
        "2s",
        "--connections",
        "1",
        "--timeout",
        "300ms",
        "--mock-latency",
        "200ms",
        "--seed",
        "1",
        "--summary-export",
        summary.to_str().unwrap(),
        "--threshold",
        "http_req_duration: p(95)<5s",
        "--threshold",
        "http_req_failed: rate<0.5",
    ];
    let r = replay(args(&har, &base));
    assert_eq!(r.code, Some(99), "{}", r.output());
    let s = read_json(&summary);
    let (dropped, intended) = (
        s["requests"]["dropped"].as_u64().unwrap(),
        s["requests"]["intended"].as_u64().unwrap(),
    );
    assert!(dropped * 100 > intended, "{s}");
    assert!(
        s["thresholds"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["ok"] == true),
        "the thresholds themselves pass: {s}"
    );
    assert!(
        r.stderr.contains(&format!(
            "warning: {dropped} of {intended} intended requests"
        )) && r.stderr.contains("--no-default-thresholds"),
        "{}",
        r.output()
    );

    let mut off = base.to_vec();
    off.push("--no-default-thresholds");
    let r = replay(args(&har, &off));
    assert_eq!(r.code, Some(0), "{}", r.output());
    assert!(!r.stderr.contains("warning:"), "{}", r.output());

    let mut replaced = base.to_vec();
    replaced.extend(["--threshold", "dropped_requests: count<100000"]);
    let r = replay(args(&har, &replaced));
    assert_eq!(r.code, Some(0), "{}", r.output());
}

/// A target answering 500 to everything: exit 99, stderr says every
/// request failed and with what, and the text report breaks the
/// failures down by status — overall and per endpoint. A threshold on
/// `http_req_failed` replaces the guard.
#[test]
fn a_run_whose_every_request_fails_exits_99_and_says_why() {
    let server = Server::start(Behaviour {
        fail: Fail::Always,
        ..Behaviour::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let har = shop_har(dir.path());
    let url = server.url();
    let base = ["--target", url.as_str(), "--rate", "20/s", "-d", "1s"];
    let r = replay(args(&har, &base));
    assert_eq!(r.code, Some(99), "{}", r.output());
    let sent = server.total();
    assert!(sent > 0);
    assert!(
        r.stderr
            .contains(&format!("warning: all {sent} requests failed (500 {sent})")),
        "{}",
        r.output()
    );
    let status = r
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("status...."))
        .unwrap_or_else(|| panic!("no status line\n{}", r.output()));
    assert!(
        status.ends_with(&format!(": 5xx {sent} (500 {sent})")),
        "{status}"
    );
    // Per endpoint: every line is all 500s, and they add up.
    let by_endpoint = r.stdout.split("status by endpoint\n").nth(1).unwrap();
    let mut total = 0;
    for line in by_endpoint.lines().take_while(|l| !l.trim().is_empty()) {
        let (_, mix) = line.rsplit_once(": ").unwrap();
        let n: u64 = mix
            .strip_prefix("5xx ")
            .and_then(|m| m.split_once(' '))
            .map(|(n, rest)| {
                assert_eq!(rest, format!("(500 {n})"), "{line}");
                n.parse().unwrap()
            })
            .unwrap_or_else(|| panic!("not all 500s: {line}"));
        total += n;
    }
    assert_eq!(total, sent, "{}", r.stdout);

    // The summary file says which guard broke (a CI script reading it
    // sees why the run exited 99 with every threshold passed).
    let file = dir.path().join("guards.json");
    let mut exported = base.to_vec();
    exported.extend(["--summary-export", file.to_str().unwrap()]);
    let r = replay(args(&har, &exported));
    assert_eq!(r.code, Some(99), "{}", r.output());
    let s = read_json(&file);
    let guards = s["guards"].as_array().unwrap();
    let failed = guards
        .iter()
        .find(|g| g["name"] == "default guard: not every request failed")
        .unwrap_or_else(|| panic!("{s}"));
    assert_eq!(failed["ok"], false);
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .contains("requests failed"),
        "{failed}"
    );
    assert!(
        guards.iter().any(|g| g["ok"] == true),
        "the dropped guard held: {s}"
    );

    let mut replaced = base.to_vec();
    replaced.extend(["--threshold", "http_req_failed: rate<=1"]);
    let r = replay(args(&har, &replaced));
    assert_eq!(r.code, Some(0), "{}", r.output());
}

/// A target refusing every connection, no threshold given: exit 99 and
/// a warning naming `connect_refused` (it used to exit 0 in silence).
#[test]
fn a_refusing_target_fails_without_any_threshold() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let har = shop_har(dir.path());
    let url = format!("http://127.0.0.1:{port}");
    let r = replay(args(
        &har,
        // Without fail-fast, which would stop the run (exit 1) when its
        // first interval closes before the schedule ends: the guard is
        // what is under test.
        &[
            "--target",
            &url,
            "--rate",
            "10/s",
            "-d",
            "1s",
            "-q",
            "--no-fail-fast",
        ],
    ));
    assert_eq!(r.code, Some(99), "{}", r.output());
    assert!(
        r.stderr.contains("requests failed (connect_refused"),
        "{}",
        r.output()
    );
}

/// `--json` prints the summary document and nothing else on stdout (the
/// text report goes to stderr); `--summary-export -` does the same and
/// leaves no file named `-`; two streams on stdout are refused.
#[test]
fn json_output_is_only_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let har = shop_har(dir.path());
    let quick = ["--rate", "20/s", "-d", "1s", "--mock-latency", "none"];
    for flags in [
        &["--json"][..],
        &["--format", "json"],
        &["--summary-export", "-"],
    ] {
        let mut a = quick.to_vec();
        a.extend(flags);
        let r = Replay::new(args(&har, &a)).current_dir(dir.path()).run();
        assert_eq!(r.code, Some(0), "{flags:?}: {}", r.output());
        let v: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| {
            panic!(
                "{flags:?}: stdout is not one JSON document ({e}): {}",
                r.stdout
            )
        });
        assert_eq!(v["format"], "replay-summary");
        assert!(v["requests"]["sent"].as_u64().unwrap() > 0);
        assert_eq!(v["mock"], "none", "{v}");
        assert!(
            r.stderr.contains("http_req_duration."),
            "{flags:?}: {}",
            r.stderr
        );
        assert!(!dir.path().join("-").exists());
    }
    // NDJSON on stdout: every line a JSON object, the report on stderr.
    let mut a = quick.to_vec();
    a.extend(["--out", "json=-", "-q"]);
    let r = replay(args(&har, &a));
    assert_eq!(r.code, Some(0), "{}", r.output());
    assert!(!r.stdout.is_empty());
    for line in r.stdout.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["at_s"].is_number(), "{line}");
    }
    let mut a = quick.to_vec();
    a.extend(["--json", "--out", "json=-"]);
    let r = replay(args(&har, &a));
    assert_eq!(r.code, Some(2), "{}", r.output());
    assert!(r.stderr.contains("standard output"), "{}", r.stderr);
}

/// Two hosts serving `GET /` (cnn.com and www.cnn.com in a real HAR):
/// the report names each with its host, `{endpoint:GET /}` is refused
/// with both names instead of matching one silently, a host-qualified
/// name selects one, and `generate` writes the same names, method
/// included.
#[test]
fn endpoints_on_two_hosts_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let entries: Vec<Entry> = (0..40)
        .map(|i| {
            let host = if i % 2 == 0 {
                "news.test"
            } else {
                "www.news.test"
            };
            Entry::get(format!("http://{host}/"), i * 50)
        })
        .collect();
    let har = write_har(dir.path(), "news.har", &entries);
    let quick = ["--rate", "20/s", "-d", "1s", "--mock-latency", "none"];

    let mut a = quick.to_vec();
    a.extend(["--threshold", "http_reqs{endpoint:GET /}: count>0"]);
    let r = replay(args(&har, &a));
    assert_eq!(r.code, Some(2), "{}", r.output());
    assert!(
        r.stderr.contains("GET news.test/, GET www.news.test/"),
        "{}",
        r.stderr
    );

    let mut a = quick.to_vec();
    a.extend([
        "--threshold",
        "http_reqs{endpoint:GET www.news.test/}: count>0",
    ]);
    let r = replay(args(&har, &a));
    assert_eq!(r.code, Some(0), "{}", r.output());
    for name in ["GET news.test/", "GET www.news.test/"] {
        assert!(
            r.stdout.lines().any(|l| l.trim_start().starts_with(name)),
            "no row {name}\n{}",
            r.stdout
        );
    }

    let g = replay([
        "generate".as_ref(),
        har.as_os_str(),
        "-n".as_ref(),
        "20".as_ref(),
        "--seed".as_ref(),
        "3".as_ref(),
        "-o".as_ref(),
        "-".as_ref(),
    ]);
    assert_eq!(g.code, Some(0), "{}", g.output());
    let names: std::collections::BTreeSet<String> = g
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["endpoint"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["GET news.test/", "GET www.news.test/"]
    );
}

/// Without a terminal (stderr is a pipe here) a run says at once what it
/// will do — target, planned duration (and that it is the recording's
/// length when not given), intended rate, seed — and then prints a line
/// every `--progress-interval`; `--quiet` prints neither.
#[test]
fn without_a_terminal_a_banner_and_periodic_lines() {
    let dir = tempfile::tempdir().unwrap();
    let har = shop_har(dir.path());
    let mut run = Replay::new(args(
        &har,
        &[
            "--rate",
            "20/s",
            "-d",
            "30s",
            "--progress-interval",
            "1s",
            "--mock-latency",
            "none",
            "--seed",
            "77",
        ],
    ))
    .spawn();
    let target = run.wait_for_stderr("replay: 3 endpoints → http://127.0.0.1:");
    assert!(target.ends_with("(the built-in mock)"), "{target}");
    let plan = run.wait_for_stderr("  plan: ");
    assert!(
        plan.contains("plan: 20.0 req/s intended for 30.00s; seed 77"),
        "{plan}"
    );
    let lines = run.wait_for_stderr_lines("s/30s  ", 2);
    assert!(lines.iter().all(|l| l.contains("req/s  p95 ")), "{lines:?}");
    run.signal(Signal::Int);
    let r = run.finish();
    assert_eq!(r.code, Some(130), "{}", r.output());

    // The default duration is named as such.
    let r = replay(args(&har, &["--rate", "20/s", "--mock-latency", "none"]));
    assert_eq!(r.code, Some(0), "{}", r.output());
    assert!(
        r.stderr
            .contains("(the recording's length, the default: --duration sets it)"),
        "{}",
        r.stderr
    );
    let r = replay(args(&har, &["--rate", "20/s", "-d", "1s", "-q"]));
    assert_eq!(r.code, Some(0), "{}", r.output());
    assert!(!r.stderr.contains("plan:"), "{}", r.stderr);
    // Against the mock, the report says whose latencies it shows.
    assert!(
        r.stdout
            .contains("latencies are the mock's, drawn from the recording"),
        "{}",
        r.stdout
    );
}

/// The seed is a string in the summary (a 64-bit seed survives readers
/// that parse numbers as doubles) and the same seed reproduces the run;
/// a stress run reports the seed it was given, not its last step's.
#[test]
fn the_seed_is_a_string_and_reproduces_every_profile() {
    let dir = tempfile::tempdir().unwrap();
    let har = shop_har(dir.path());
    let seed = "5658179054502545877";
    let run = |name: &str, extra: &[&str]| {
        let p = dir.path().join(name);
        let mut a = vec!["-d", "1s", "--mock-latency", "none", "--summary-export"];
        a.push(p.to_str().unwrap());
        a.extend(extra);
        let r = replay(args(&har, &a));
        assert_eq!(r.code, Some(0), "{}", r.output());
        (read_json(&p), r)
    };
    let (a, _) = run("a.json", &["--seed", seed]);
    let (b, _) = run("b.json", &["--seed", seed]);
    assert_eq!(a["seed"], Value::String(seed.into()), "{a}");
    assert_eq!(
        a["seed"].as_str().unwrap().parse::<u64>().unwrap(),
        5658179054502545877
    );
    assert_eq!(a["requests"], b["requests"]);

    let (s, r) = run(
        "stress.json",
        &[
            "--profile",
            "stress",
            "--stress-steps",
            "1x,2x",
            "--seed",
            "100",
        ],
    );
    assert_eq!(s["stress"]["steps"].as_array().unwrap().len(), 2, "{s}");
    assert_eq!(s["seed"], "100", "{s}");
    assert!(
        r.stdout.contains("seed 100; reproduce with:"),
        "{}",
        r.stdout
    );
}
