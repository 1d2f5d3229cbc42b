//! What the integration tests share. Each `tests/*.rs` declares
//! `mod support;` and takes what it needs.
//!
//! Layout:
//! - [`bin`]: runs the built `replay` binary with a deadline, both pipes
//!   drained on threads; a spawned child can be waited on (a line on a
//!   pipe, a file) and signalled.
//! - [`har`]: the HAR builder, and the shop-like recording.
//! - [`pcap`]: the same entries as a pcap, one TCP connection each.
//! - [`server`]: a configurable in-process HTTP/1.1 + HTTP/2 server
//!   (counts, delays, failing statuses, TLS) that tests can wait on.
//! - [`fault`]: a raw-socket server whose routes misbehave, one fault each.
//! - here: fixtures, small checks on what a run wrote, loud skips, and
//!   [`Log`], the event list both servers are waited on through.

// Each tests/*.rs is its own crate and uses a subset of what is here.
#![allow(dead_code)]

pub mod bin;
pub mod fault;
pub mod har;
pub mod pcap;
pub mod server;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use replay::cli::FilterArgs;
use replay::model::TrafficModel;

/// How long a test waits for something it caused (a request at the
/// server, a line on stderr): generous, for a loaded 2-core machine.
pub const WAIT: Duration = Duration::from_secs(30);

/// Says on the test's standard error why it did not run, as
/// `SKIPPED: <test>: <reason>`; the caller then returns. Written to the
/// stream itself, not through `eprintln!`, which the test harness captures
/// and shows only for failures.
pub fn skip(test: &str, reason: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {reason}");
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/har")
}

/// Path to a HAR fixture. The large ones are stored as `NAME.gz`; they are
/// decompressed into `dir` under their plain name.
pub fn fixture(dir: &Path, name: &str) -> PathBuf {
    let plain = fixtures_dir().join(name);
    if plain.exists() {
        return plain;
    }
    let gz = fixtures_dir().join(format!("{name}.gz"));
    let f = std::fs::File::open(&gz).unwrap_or_else(|e| panic!("{}: {e}", gz.display()));
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(f)
        .read_to_end(&mut bytes)
        .unwrap();
    let dst = dir.join(name);
    std::fs::write(&dst, bytes).unwrap();
    dst
}

/// The decompressed JSON text of a model file.
pub fn gunzip_text(path: &Path) -> String {
    let f = std::fs::File::open(path).unwrap();
    let mut s = String::new();
    flate2::read::GzDecoder::new(f)
        .read_to_string(&mut s)
        .unwrap();
    s
}

/// A JSON file, parsed (a `--summary-export`, say).
pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Models captures in memory through the library, as `record` does.
pub fn model_of(captures: &[PathBuf], filters: &FilterArgs) -> TrafficModel {
    replay::cli::load_input(captures, filters)
        .unwrap_or_else(|e| panic!("{e:#}"))
        .model
}

/// Pearson's chi-square statistic of observed counts against expected
/// probabilities.
pub fn chi_square(observed: &[u64], probs: &[f64]) -> f64 {
    let n: u64 = observed.iter().sum();
    observed
        .iter()
        .zip(probs)
        .map(|(o, p)| {
            let e = p * n as f64;
            (*o as f64 - e).powi(2) / e
        })
        .sum()
}

/// Whether `path` is a character device (false where there are none).
pub fn is_char_device(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        std::fs::metadata(path).is_ok_and(|m| m.file_type().is_char_device())
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// A symbolic link at `link` to `target` (tests that call it skip where
/// there are no such links).
pub fn symlink(target: &Path, link: &Path) {
    #[cfg(unix)]
    std::os::unix::fs::symlink(target, link).unwrap();
    #[cfg(not(unix))]
    panic!(
        "no symbolic link {} -> {}",
        link.display(),
        target.display()
    );
}

/// Events as they happen (requests a server saw), in order, which a test
/// can wait on instead of sleeping.
pub struct Log<T> {
    events: Mutex<Vec<T>>,
    changed: Condvar,
}

impl<T> Default for Log<T> {
    fn default() -> Self {
        Log {
            events: Mutex::new(Vec::new()),
            changed: Condvar::new(),
        }
    }
}

impl<T: Clone> Log<T> {
    pub fn push(&self, event: T) {
        self.push_then(event, |_| ());
    }

    /// Pushes `event` and returns `f` of the events, with no other event
    /// pushed in between.
    pub fn push_then<R>(&self, event: T, f: impl FnOnce(&[T]) -> R) -> R {
        let mut events = self.events.lock().unwrap();
        events.push(event);
        let r = f(&events);
        drop(events);
        self.changed.notify_all();
        r
    }

    /// `f` of the events so far.
    pub fn with<R>(&self, f: impl FnOnce(&[T]) -> R) -> R {
        f(&self.events.lock().unwrap())
    }

    pub fn snapshot(&self) -> Vec<T> {
        self.with(<[T]>::to_vec)
    }

    /// Waits until `done` holds for the events, at most [`WAIT`]; false if
    /// it never did.
    pub fn wait_until(&self, mut done: impl FnMut(&[T]) -> bool) -> bool {
        let deadline = Instant::now() + WAIT;
        let mut events = self.events.lock().unwrap();
        loop {
            if done(&events) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            events = self.changed.wait_timeout(events, left).unwrap().0;
        }
    }
}
