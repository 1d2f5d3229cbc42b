//! Where replay listens and where it sends: the mock binds loopback unless
//! an address is typed out, and no recorded host is contacted unless
//! `--target` names it — tested with captures whose recorded host is a
//! listener on this machine that counts connections.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;
use support::bin::{Replay, Signal, Spawned};
use support::fault::{Fault, FaultServer};
use support::har::{write_har, Entry};

const HANG_LIMIT: Duration = Duration::from_secs(60);

/// A capture of 20 requests over 2 s to `origin` (e.g.
/// `http://127.0.0.1:PORT`).
fn capture(dir: &Path, origin: &str) -> PathBuf {
    let entries: Vec<Entry> = (0..20u64)
        .map(|i| Entry::get(format!("{origin}/ok"), i * 100))
        .collect();
    write_har(dir, "capture.har", &entries)
}

fn connections(s: &FaultServer) -> u64 {
    s.stats.connections.load(Ordering::SeqCst)
}

/// The recorded host is a live listener on loopback — by IP and by
/// `localhost` — and is never contacted without `--target`: the run goes
/// to the built-in mock. Named by `--target`, it is.
#[test]
fn recorded_hosts_are_not_contacted_unless_target_names_them() {
    let recorded = FaultServer::start();
    let port = recorded.addr.port();
    for origin in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let har = capture(dir.path(), &origin);
        let summary = dir.path().join("s.json");
        let r = Replay::new([
            har.to_str().unwrap(),
            "--duration",
            "2s",
            "--mock-latency",
            "none",
            "--summary-export",
            summary.to_str().unwrap(),
        ])
        .deadline(HANG_LIMIT)
        .run();
        assert_eq!(r.code, Some(0), "{}", r.output());
        assert!(r.stderr.contains("built-in mock"), "{}", r.output());
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
        assert!(v["metrics"]["http_reqs"]["count"].as_u64().unwrap() >= 15);
        assert_ne!(v["target"].as_str().unwrap(), origin);
        assert_eq!(connections(&recorded), 0, "{origin} was contacted");
    }
    // The same capture with --target naming the recorded host does reach it.
    let dir = tempfile::tempdir().unwrap();
    let har = capture(dir.path(), &recorded.url());
    let r = Replay::new([
        har.to_str().unwrap(),
        "--duration",
        "1s",
        "--target",
        &recorded.url(),
        "--quiet",
    ])
    .deadline(HANG_LIMIT)
    .run();
    assert_eq!(r.code, Some(0), "{}", r.output());
    assert!(recorded.requests("/ok") > 0);
}

/// A target that redirects to another host does not lead replay there:
/// redirects are measured as responses, not followed.
#[test]
fn redirects_are_not_followed() {
    let recorded = FaultServer::start();
    let target = FaultServer::start();
    let dir = tempfile::tempdir().unwrap();
    let to = format!("{}/ok", recorded.url());
    let entries: Vec<Entry> = (0..20u64)
        .map(|i| Entry::get(format!("http://shop.test/redirect?to={to}"), i * 100))
        .collect();
    let har = write_har(dir.path(), "capture.har", &entries);
    let summary = dir.path().join("s.json");
    let r = Replay::new([
        har.to_str().unwrap(),
        "--duration",
        "2s",
        "--target",
        &target.url(),
        "--quiet",
        "--summary-export",
        summary.to_str().unwrap(),
    ])
    .deadline(HANG_LIMIT)
    .run();
    assert_eq!(r.code, Some(0), "{}", r.output());
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let count = v["metrics"]["http_reqs"]["count"].as_u64().unwrap();
    assert!(count >= 15);
    assert_eq!(
        v["endpoints"][0]["status"]["302"].as_u64(),
        Some(count),
        "{}",
        v["endpoints"]
    );
    assert_eq!(target.requests(Fault::Redirect.path()), count);
    assert_eq!(connections(&recorded), 0, "the redirect was followed");
}

/// Starts `replay mock HAR --listen ADDR`; returns the child and the address
/// it announced.
fn start_mock(har: &Path, listen: &str) -> (Spawned, SocketAddr) {
    let mut child = Replay::new(["mock", har.to_str().unwrap(), "--listen", listen])
        .deadline(HANG_LIMIT)
        .spawn();
    let line = child.wait_for_stderr("listening on http://");
    let addr = line
        .split("listening on http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .parse()
        .unwrap();
    (child, addr)
}

/// `replay mock` binds loopback for every short form of --listen (the
/// default, 127.0.0.1:8080, is pinned by the CLI tests without binding
/// it), and serves there.
#[test]
fn the_mock_listens_on_loopback_unless_an_address_is_typed_out() {
    let dir = tempfile::tempdir().unwrap();
    let har = capture(dir.path(), "http://shop.test");
    for listen in ["0", ":0", "localhost:0", "127.0.0.1:0"] {
        let (mut child, addr) = start_mock(&har, listen);
        assert!(addr.ip().is_loopback(), "--listen {listen}: {addr}");
        assert_ne!(addr.port(), 0);
        // It serves there.
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"GET /ok HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
        child.signal(Signal::Term);
        let r = child.finish();
        assert_eq!(r.code, Some(0), "{}", r.output());
        assert!(r.stdout.contains("1 requests"), "{}", r.output());
    }
    // Any other address has to be typed out, and is then used as given:
    // this one (TEST-NET-1) is on no interface here.
    let r = Replay::new(["mock", har.to_str().unwrap(), "--listen", "192.0.2.1:0"])
        .deadline(HANG_LIMIT)
        .run();
    assert_eq!(r.code, Some(2), "{}", r.output());
    assert!(
        r.stderr.contains("cannot listen on 192.0.2.1:0"),
        "{}",
        r.output()
    );
    let r = Replay::new(["mock", har.to_str().unwrap(), "--listen", "localhost"])
        .deadline(HANG_LIMIT)
        .run();
    assert_eq!(
        r.code,
        Some(2),
        "a host without a port is refused: {}",
        r.output()
    );
}

/// Neither the capture's credentials (scrubbed at record time) nor the ones
/// supplied for the run (`-H`, `--secret`: sent to the target) reach the
/// text report, the summary file or the time series; the reproduce command
/// says REDACTED.
#[test]
fn secrets_reach_no_report() {
    const CAPTURED: [&str; 2] = ["Bearer captured-T0KEN-1f2e", "captured-K3Y-9a8b"];
    const SUPPLIED: [&str; 2] = ["Bearer supplied-T0KEN-3c4d", "supplied-K3Y-7e6f"];
    let dir = tempfile::tempdir().unwrap();
    let entries: Vec<Entry> = (0..20u64)
        .map(|i| {
            let mut e = Entry::get(
                format!("http://shop.test/ok?api_key={}", CAPTURED[1]),
                i * 100,
            );
            e.headers.push(("Authorization".into(), CAPTURED[0].into()));
            e
        })
        .collect();
    let har = write_har(dir.path(), "capture.har", &entries);
    let server = FaultServer::start();
    let summary = dir.path().join("s.json");
    let series = dir.path().join("t.ndjson");
    let out = format!("json={}", series.display());
    let auth = format!("Authorization: {}", SUPPLIED[0]);
    let key = format!("api_key={}", SUPPLIED[1]);
    let r = Replay::new([
        har.to_str().unwrap(),
        "--duration",
        "1s",
        "--target",
        &server.url(),
        "-H",
        &auth,
        "--secret",
        &key,
        "--summary-export",
        summary.to_str().unwrap(),
        "--out",
        &out,
    ])
    .deadline(HANG_LIMIT)
    .run();
    assert_eq!(r.code, Some(0), "{}", r.output());
    assert!(server.requests("/ok") > 0);
    let files = [
        ("summary", std::fs::read_to_string(&summary).unwrap()),
        ("time series", std::fs::read_to_string(&series).unwrap()),
        ("stdout", r.stdout.clone()),
        ("stderr", r.stderr.clone()),
    ];
    for (what, text) in &files {
        for s in CAPTURED.iter().chain(&SUPPLIED) {
            assert!(!text.contains(s), "{s} is in the {what}");
        }
    }
    assert!(
        files[0].1.contains("Authorization: REDACTED"),
        "{}",
        files[0].1
    );
    assert!(r.stdout.contains("api_key=REDACTED"), "{}", r.stdout);
}
