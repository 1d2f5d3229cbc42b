//! Shared helpers for the integration tests: fixture paths (decompressing
//! the `.har.gz` ones), running the built binary, writing synthetic HARs.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

use replay::cli::FilterArgs;
use replay::model::TrafficModel;

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

/// Runs the built `replay` binary.
pub fn replay<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_replay"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("running the replay binary")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs `replay` and asserts it succeeded; returns stdout.
pub fn replay_ok<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let o = replay(args);
    assert!(
        o.status.success(),
        "replay failed ({:?}): {}",
        o.status,
        stderr(&o)
    );
    stdout(&o)
}

/// `replay inspect --json INPUT [extra...]` parsed.
pub fn inspect_json(input: &Path, extra: &[&str]) -> Value {
    let mut args: Vec<&OsStr> = vec![OsStr::new("inspect"), OsStr::new("--json")];
    args.push(input.as_os_str());
    args.extend(extra.iter().map(OsStr::new));
    serde_json::from_str(&replay_ok(args)).expect("inspect --json prints JSON")
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

/// Models captures in memory through the library, as `record` does.
pub fn model_of(captures: &[PathBuf], filters: &FilterArgs) -> TrafficModel {
    replay::cli::load_input(captures, filters)
        .unwrap_or_else(|e| panic!("{e:#}"))
        .model
}

/// One synthetic HAR entry.
#[derive(Clone)]
pub struct Entry {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// (mime type, text)
    pub post: Option<(String, String)>,
    pub status: u16,
    /// Offset from the capture start, milliseconds.
    pub at_ms: u64,
}

impl Entry {
    pub fn get(url: impl Into<String>, at_ms: u64) -> Entry {
        Entry {
            method: "GET",
            url: url.into(),
            headers: vec![("Accept".into(), "application/json".into())],
            post: None,
            status: 200,
            at_ms,
        }
    }
}

/// A HAR 1.2 document (Chrome-like) for the entries.
pub fn har(entries: &[Entry]) -> String {
    let start = 1_700_000_000_000i64;
    let es: Vec<Value> = entries
        .iter()
        .map(|e| {
            let ts = chrono::DateTime::from_timestamp_millis(start + e.at_ms as i64)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let mut req = json!({
                "method": e.method,
                "url": e.url,
                "httpVersion": "HTTP/1.1",
                "headers": e.headers.iter().map(|(n, v)| json!({"name": n, "value": v})).collect::<Vec<_>>(),
                "queryString": [],
                "cookies": [],
                "headersSize": -1,
                "bodySize": e.post.as_ref().map(|p| p.1.len() as i64).unwrap_or(0),
            });
            if let Some((mime, text)) = &e.post {
                req["postData"] = json!({"mimeType": mime, "text": text});
            }
            json!({
                "startedDateTime": ts,
                "time": 12.5,
                "request": req,
                "response": {
                    "status": e.status, "statusText": "", "httpVersion": "HTTP/1.1",
                    "headers": [{"name": "Content-Type", "value": "application/json"}],
                    "cookies": [],
                    "content": {"size": 20, "mimeType": "application/json", "text": "{\"ok\":true}"},
                    "redirectURL": "", "headersSize": -1, "bodySize": 20,
                },
                "cache": {},
                "timings": {"blocked": -1, "dns": -1, "connect": -1, "send": 0.1, "wait": 10.0, "receive": 2.4},
            })
        })
        .collect();
    json!({"log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": es}})
        .to_string()
}

/// Writes a synthetic HAR into `dir` and returns its path.
pub fn write_har(dir: &Path, name: &str, entries: &[Entry]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, har(entries)).unwrap();
    p
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
