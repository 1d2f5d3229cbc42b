//! The runner of `support::bin`, on the real binary: the other tests rely
//! on it draining a child that writes more than a pipe holds, waiting on a
//! file or a line, and killing a child past its deadline with what it
//! printed in the failure.

mod support;

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use support::bin::Replay;
use support::har::{shop, write_har};

#[test]
fn a_chatty_child_is_drained_and_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let har = write_har(dir.path(), "shop.har", &shop(100, 1.0, false));
    let model = dir.path().join("m.model.gz");
    let mut record = Replay::new([
        "record",
        har.to_str().unwrap(),
        "-o",
        model.to_str().unwrap(),
    ])
    .spawn();
    record.wait_for_file(&model);
    let r = record.finish();
    assert_eq!(r.code, Some(0), "{}", r.output());

    // About 4 MB of requests, far more than a pipe holds (64 KiB on Linux).
    let mut generate = Replay::new([
        "generate",
        model.to_str().unwrap(),
        "-n",
        "20000",
        "--seed",
        "1",
    ])
    .spawn();
    let first = generate.wait_for_stdout("shop.test");
    let r = generate.finish();
    assert_eq!(r.code, Some(0), "{}", r.output());
    assert!(r.stdout.len() > 1 << 20, "{} bytes", r.stdout.len());
    assert_eq!(r.stdout.lines().count(), 20_000);
    assert_eq!(r.stdout.lines().next(), Some(first.as_str()));
}

#[test]
fn a_child_past_its_deadline_is_killed_and_its_output_shown() {
    let dir = tempfile::tempdir().unwrap();
    let har = write_har(dir.path(), "shop.har", &shop(10, 1.0, false));
    // The mock serves until it is stopped.
    let mut mock = Replay::new(["mock", har.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .deadline(Duration::from_secs(3))
        .spawn();
    mock.wait_for_stderr("listening on http://");
    let failed = std::panic::catch_unwind(AssertUnwindSafe(|| mock.finish()))
        .err()
        .expect("the run fails at its deadline");
    let message = failed
        .downcast_ref::<String>()
        .expect("a formatted panic message");
    assert!(
        message.contains("did not finish within 3s (killed)"),
        "{message}"
    );
    assert!(message.contains("listening on http://"), "{message}");
}
