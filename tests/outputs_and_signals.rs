//! Runs whose environment fails: output paths that cannot be written (at
//! the start, or only at the end), a full disk, and signals. Each drives
//! the real binary against `support::fault` on 127.0.0.1.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::bin::{closed_pipe, Replay, Run, Signal, Spawned};
use support::fault::{Fault, FaultServer};
use support::har::{write_har, Entry};

/// Killed as hung after this.
const HANG_LIMIT: Duration = Duration::from_secs(60);

/// `GET /ok` and `GET route` alternating, 10 requests/s for 2 s.
fn capture(dir: &Path, route: &str) -> PathBuf {
    let entries: Vec<Entry> = (0..20u64)
        .map(|i| {
            let path = if i % 2 == 0 { "/ok" } else { route };
            Entry::get(format!("http://shop.test{path}"), i * 100)
        })
        .collect();
    write_har(dir, "capture.har", &entries)
}

/// Everything a test leaves in `dir`, but the capture.
fn leftovers(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "capture.har")
        .collect();
    names.sort();
    names
}

/// Runs `replay HAR --target URL --duration 2s ... extra` (through `sh` with
/// `prefix` when given).
fn run(har: &Path, url: &str, extra: &[&str], shell_prefix: Option<&str>) -> Run {
    let mut args: Vec<String> = [
        har.to_str().unwrap(),
        "--target",
        url,
        "--duration",
        "2s",
        "--rate",
        "10/s",
        "--timeout",
        "1s",
        "--quiet",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    match shell_prefix {
        None => Replay::new(&args),
        Some(prefix) => Replay::through_shell(prefix, &args),
    }
    .deadline(HANG_LIMIT)
    .run()
}

/// Exit 2 with one error line naming the flag and the path, before any
/// request was sent, and nothing left behind.
fn assert_refused_at_start(r: &Run, server: &FaultServer, flag: &str, reason: &str) {
    assert_eq!(r.code, Some(2), "{}", r.output());
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {}", r.output());
    assert!(
        lines[0].starts_with(&format!("error: cannot write {flag} file '"))
            && lines[0].contains(reason),
        "{}",
        r.output()
    );
    assert_eq!(
        server
            .stats
            .connections
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    assert!(r.stdout.is_empty(), "{}", r.output());
}

#[test]
fn unwritable_output_paths_are_refused_before_any_load() {
    let dir = tempfile::tempdir().unwrap();
    let har = capture(dir.path(), "/ok");
    let server = FaultServer::start();
    let plain = dir.path().join("plain-file");
    std::fs::write(&plain, "").unwrap();
    let mut cases: Vec<(PathBuf, &str)> = vec![
        (plain.join("summary.json"), "is not a directory"),
        (
            dir.path().join("missing").join("summary.json"),
            "does not exist",
        ),
        (dir.path().to_path_buf(), "is a directory"),
    ];
    if cfg!(target_os = "linux") {
        // Not even root can create files here.
        cases.push((
            PathBuf::from("/proc/version/summary.json"),
            "is not a directory",
        ));
        cases.push((PathBuf::from("/proc/summary.json"), "os error"));
    }
    for (path, reason) in &cases {
        let p = path.to_str().unwrap();
        let r = run(&har, &server.url(), &["--summary-export", p], None);
        assert_refused_at_start(&r, &server, "--summary-export", reason);
        let out = format!("json={p}");
        let r = run(&har, &server.url(), &["--out", &out], None);
        assert_refused_at_start(&r, &server, "--out", reason);
    }
    assert_eq!(leftovers(dir.path()), ["plain-file"]);
}

/// `/dev/full`, reached through a link (so that a regression could only
/// replace the link): the check's write fails, before any load.
#[test]
fn a_full_device_is_refused_before_any_load() {
    if !cfg!(target_os = "linux") {
        support::skip(
            "a_full_device_is_refused_before_any_load",
            "needs Linux (/dev/full)",
        );
        return;
    }
    let dev_full = Path::new("/dev/full");
    if !support::is_char_device(dev_full) {
        support::skip(
            "a_full_device_is_refused_before_any_load",
            "/dev/full is missing or not a character device here",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let har = capture(dir.path(), "/ok");
    let server = FaultServer::start();
    let full = dir.path().join("full.json");
    support::symlink(dev_full, &full);
    let r = run(
        &har,
        &server.url(),
        &["--summary-export", full.to_str().unwrap()],
        None,
    );
    assert_refused_at_start(&r, &server, "--summary-export", "No space left on device");
    let out = format!("json={}", full.display());
    let r = run(&har, &server.url(), &["--out", &out], None);
    assert_refused_at_start(&r, &server, "--out", "No space left on device");
    assert!(std::fs::symlink_metadata(&full)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(support::is_char_device(dev_full));
}

/// A full disk for regular files, simulated with a file-size limit of zero
/// (`ulimit -f 0`, SIGXFSZ ignored: writes fail with EFBIG, as they would
/// with ENOSPC): the check writes, so it is found before any load.
#[test]
fn a_disk_that_takes_no_bytes_is_refused_before_any_load() {
    if !cfg!(unix) {
        support::skip(
            "a_disk_that_takes_no_bytes_is_refused_before_any_load",
            "needs a unix shell (ulimit -f, trap XFSZ)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let har = capture(dir.path(), "/ok");
    let server = FaultServer::start();
    let summary = dir.path().join("summary.json");
    let r = run(
        &har,
        &server.url(),
        &["--summary-export", summary.to_str().unwrap()],
        Some("trap '' XFSZ; ulimit -f 0"),
    );
    assert_refused_at_start(&r, &server, "--summary-export", "File too large");
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
}

/// `--summary-export /dev/stdout` (k6's idiom) sends the JSON after the
/// text report, and leaves `/dev/stdout` alone.
#[test]
fn the_summary_can_go_to_standard_output() {
    if !cfg!(target_os = "linux") {
        support::skip(
            "the_summary_can_go_to_standard_output",
            "needs Linux (/dev/stdout through a symbolic link)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let har = capture(dir.path(), "/ok");
    let server = FaultServer::start();
    let link = dir.path().join("stdout.json");
    support::symlink(Path::new("/dev/stdout"), &link);
    let r = run(
        &har,
        &server.url(),
        &["--summary-export", link.to_str().unwrap()],
        None,
    );
    assert_eq!(r.code, Some(0), "{}", r.output());
    let json_start = r.stdout.find("\n{").expect("JSON after the text") + 1;
    assert!(
        r.stdout[..json_start].contains("http_reqs"),
        "{}",
        r.output()
    );
    let v: Value = serde_json::from_str(&r.stdout[json_start..]).unwrap();
    assert_eq!(v["format"], "replay-summary");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(leftovers(dir.path()), ["stdout.json"]);
}

/// The output directory disappears during the run: the text report still
/// reaches the terminal, both files fail with their own error line, exit 1.
#[test]
fn a_write_failure_at_the_end_still_prints_the_text_summary() {
    let dir = tempfile::tempdir().unwrap();
    let har = capture(dir.path(), "/ok");
    let server = FaultServer::start();
    let outdir = dir.path().join("reports");
    std::fs::create_dir(&outdir).unwrap();
    let summary = outdir.join("summary.json");
    let out = format!("json={}", outdir.join("series.ndjson").display());
    let url = server.url();
    let args = [
        har.to_str().unwrap(),
        "--target",
        &url,
        "--duration",
        "3s",
        "--rate",
        "10/s",
        "--timeout",
        "1s",
        "--quiet",
        "--summary-export",
        summary.to_str().unwrap(),
        "--out",
        &out,
    ];
    let mut child = Replay::new(args).deadline(HANG_LIMIT).spawn();
    let seen = server.wait_for_requests(&[("/ok", 1)]);
    child.ensure(seen, "request at the server");
    // The load has started (outputs were checked and opened): take the
    // directory away.
    std::fs::remove_dir_all(&outdir).unwrap();
    let r = child.finish();
    assert_eq!(r.code, Some(1), "{}", r.output());
    assert!(
        r.stdout.contains("http_reqs"),
        "the text report: {}",
        r.output()
    );
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 2, "{}", r.output());
    assert!(
        errors[0].starts_with("error: cannot write --out file"),
        "{}",
        r.output()
    );
    assert!(
        errors[1].starts_with("error: cannot write --summary-export file"),
        "{}",
        r.output()
    );
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
}

/// Starts a 60 s run against a target whose `/hang` never answers, with a
/// summary and a time series; returns it once the server has seen load.
fn start_long_run(dir: &Path, server: &FaultServer) -> (Spawned, PathBuf, PathBuf) {
    let har = capture(dir, Fault::Hang.path());
    let summary = dir.join("partial.json");
    let series = dir.join("series.ndjson");
    let url = server.url();
    let out = format!("json={}", series.display());
    let mut child = Replay::new([
        har.to_str().unwrap(),
        "--target",
        &url,
        "--duration",
        "60s",
        "--rate",
        "10/s",
        "--timeout",
        "30s",
        "--quiet",
        "--summary-export",
        summary.to_str().unwrap(),
        "--out",
        &out,
    ])
    .deadline(HANG_LIMIT)
    .spawn();
    // Past the first interval, with hung requests in flight.
    let loaded = server.wait_for_requests(&[("/ok", 15), (Fault::Hang.path(), 1)]);
    child.ensure(loaded, "load at the server");
    (child, summary, series)
}

/// SIGTERM (how CI and process managers stop a job) is Ctrl-C: the partial
/// report is printed and written, the time series too, exit 130 — even
/// with requests hanging (they are abandoned after a short drain).
#[test]
fn sigterm_writes_the_partial_report_and_exits_130() {
    if !cfg!(unix) {
        support::skip(
            "sigterm_writes_the_partial_report_and_exits_130",
            "needs unix signals",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = FaultServer::start();
    let (mut child, summary, series) = start_long_run(dir.path(), &server);
    let signalled = Instant::now();
    child.signal(Signal::Term);
    let r = child.finish();
    assert_eq!(r.code, Some(130), "{}", r.output());
    assert!(
        r.exited_after(signalled) < Duration::from_secs(10),
        "stops promptly: {}",
        r.output()
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert!(v["metrics"]["http_reqs"]["count"].as_u64().unwrap() >= 15);
    assert!(v["duration_s"].as_f64().unwrap() < 30.0, "partial");
    assert_eq!(v["ended"], "interrupted");
    let lines = std::fs::read_to_string(&series).unwrap();
    assert!(lines.lines().count() >= 1);
    for l in lines.lines() {
        serde_json::from_str::<Value>(l).unwrap();
    }
    assert!(r.stdout.contains("http_reqs"), "{}", r.output());
    // The hung requests were sent but never answered: each one the
    // server saw is in the summary, failed as `unfinished`, and the run
    // says so.
    assert_eq!(
        v["errors"],
        serde_json::json!({ "unfinished": server.requests("/hang") }),
        "{}",
        r.output()
    );
    assert!(
        r.stderr
            .contains("still awaiting a response when the run ended; counted as failed"),
        "{}",
        r.output()
    );
}

/// The first Ctrl-C waits up to 2 s for in-flight requests (here hung
/// ones); a second, sent once the first has been handled, exits at once,
/// without a report.
#[test]
fn a_second_sigint_exits_at_once() {
    if !cfg!(unix) {
        support::skip("a_second_sigint_exits_at_once", "needs unix signals");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = FaultServer::start();
    let (mut child, summary, series) = start_long_run(dir.path(), &server);
    child.signal(Signal::Int);
    // Once the first has been handled.
    let line = child.wait_for_stderr("interrupted: stopping");
    assert!(line.starts_with("interrupted: stopping"), "{line}");
    let second = Instant::now();
    child.signal(Signal::Int);
    let r = child.finish();
    assert_eq!(r.code, Some(130), "{}", r.output());
    assert!(
        r.stderr
            .lines()
            .any(|l| l.contains("interrupted twice: exiting without a report")),
        "{}",
        r.output()
    );
    // Before the 2 s drain of the first signal ended: the report it
    // would then have printed is not there (an event, where a bound on
    // the time would be tight: the drain is capped at 2 s).
    assert!(!r.stdout.contains("http_reqs"), "{}", r.output());
    let waited = r.exited_after(second);
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    assert!(!summary.exists(), "no report after the second signal");
    assert!(!series.exists());
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
}

/// A standard error nobody reads any more does not turn a command's work
/// into a crash (exit 101): `record` still writes its model, `generate`
/// its requests, and `mock` keeps serving.
#[test]
fn a_closed_stderr_pipe_is_not_a_crash() {
    if !cfg!(target_os = "linux") {
        support::skip(
            "a_closed_stderr_pipe_is_not_a_crash",
            "needs Linux (pipe(2) through libc)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let har = capture(dir.path(), "/ok");
    let model = dir.path().join("m.model.gz");

    let out = Replay::new([
        "record",
        har.to_str().unwrap(),
        "-o",
        model.to_str().unwrap(),
    ])
    .stdout(Stdio::null())
    .stderr(closed_pipe())
    .run();
    assert_eq!(out.code, Some(0), "record");
    assert!(model.exists());

    // Without --seed, generate says the seed it drew on stderr.
    let out = Replay::new(["generate", model.to_str().unwrap(), "-n", "3"])
        .stderr(closed_pipe())
        .run();
    assert_eq!(out.code, Some(0), "generate");
    assert_eq!(out.stdout.lines().count(), 3);

    // Where it listens is said on stderr, which is closed: pick the port.
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let mut mock = Replay::new(["mock", model.to_str().unwrap(), "--listen", &listen])
        .stdout(Stdio::null())
        .stderr(closed_pipe())
        .deadline(HANG_LIMIT)
        .spawn();
    // Fails if the mock ends first ("mock ended at once").
    mock.wait_until("an answer from the mock", || answers_ok(&listen));
    mock.signal(Signal::Term);
    let r = mock.finish();
    assert_ne!(r.code, Some(101), "mock panicked: {}", r.output());
}

/// Whether `GET /ok` at `addr` is answered 200.
fn answers_ok(addr: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(b"GET /ok HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n");
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}
