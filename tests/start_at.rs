//! `--start-at` (issue 11): shards given the same time start together. A
//! run whose start time lies ahead waits for it; one that starts late
//! keeps the global clock — what it missed is counted as dropped
//! (`late_start`) and the report says so — instead of shifting its
//! schedule.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::bin::replay;
use support::har::{shop, write_har};
use support::read_json;
use support::server::{Behaviour, Server};

fn unix(t: SystemTime) -> String {
    format!("{:.3}", t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64())
}

#[test]
fn a_start_time_ahead_is_waited_for_and_one_behind_keeps_the_global_clock() {
    let dir = tempfile::tempdir().unwrap();
    let har = write_har(dir.path(), "shop.har", &shop(400, 20.0, false));
    let server = Server::start(Behaviour::default());
    let server_started = SystemTime::now();
    let run = |start: SystemTime, name: &str| {
        let out = dir.path().join(name);
        let r = replay([
            "run".as_ref(),
            har.as_os_str(),
            "--target".as_ref(),
            server.url().as_ref(),
            "--seed".as_ref(),
            "3".as_ref(),
            "--start-at".as_ref(),
            unix(start).as_ref(),
            "--duration".as_ref(),
            "2s".as_ref(),
            "--no-default-thresholds".as_ref(),
            "--summary-export".as_ref(),
            out.as_os_str(),
        ]);
        assert_eq!(r.code, Some(0), "{}", r.output());
        (r, read_json(&out))
    };

    // Ahead: nothing reaches the server before the start time.
    let start = SystemTime::now() + Duration::from_millis(1500);
    let (_, s) = run(start, "ahead.json");
    let first = server
        .seen()
        .iter()
        .map(|r| r.at)
        .min()
        .expect("requests arrived");
    let first_at = server_started + first;
    assert!(
        first_at + Duration::from_millis(30) >= start,
        "a request arrived {:?} before --start-at",
        start.duration_since(first_at).unwrap_or_default()
    );
    assert!(s["requests"]["sent"].as_u64().unwrap() > 10, "{s}");
    assert!(s["dropped"].get("late_start").is_none(), "{s}");

    // Behind by a second of a 2 s run: about half is missed and counted,
    // the rest sent on the global clock.
    let (r, s) = run(SystemTime::now() - Duration::from_secs(1), "behind.json");
    let late = s["dropped"]["late_start"].as_u64().unwrap_or(0);
    let sent = s["requests"]["sent"].as_u64().unwrap();
    let intended = s["requests"]["intended"].as_u64().unwrap();
    assert!(late > 5 && sent > 5, "late {late} sent {sent}: {s}");
    assert!(
        (late as f64 / intended as f64 - 0.5).abs() < 0.25,
        "late {late} of {intended}"
    );
    assert!(r.output().contains("late_start"), "{}", r.output());
}
