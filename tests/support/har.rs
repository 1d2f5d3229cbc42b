//! Synthetic HAR 1.2 documents (Chrome-like): one [`Entry`] per request,
//! its offset from the capture start, and the shop-like recording most
//! end-to-end tests replay.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// One synthetic HAR entry.
#[derive(Clone)]
pub struct Entry {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// (mime type, text)
    pub post: Option<(String, String)>,
    pub status: u16,
    /// The response body (JSON); `{"ok":true}` when `None`.
    pub response: Option<String>,
    /// Response headers besides `Content-Type: application/json`.
    pub response_headers: Vec<(String, String)>,
    /// Offset from the capture start, milliseconds.
    pub at_ms: u64,
}

impl Entry {
    /// `GET url`, accepting JSON, answered 200.
    pub fn get(url: impl Into<String>, at_ms: u64) -> Entry {
        Entry {
            method: "GET",
            url: url.into(),
            headers: vec![("Accept".into(), "application/json".into())],
            post: None,
            status: 200,
            response: None,
            response_headers: Vec::new(),
            at_ms,
        }
    }

    /// `POST url` with a JSON body, answered 200.
    pub fn post_json(url: impl Into<String>, at_ms: u64, body: impl Into<String>) -> Entry {
        Entry {
            method: "POST",
            post: Some(("application/json".into(), body.into())),
            ..Entry::get(url, at_ms)
        }
    }
}

/// A HAR document for the entries, captured from November 2023.
pub fn har(entries: &[Entry]) -> String {
    har_at(entries, 1_700_000_000_000)
}

/// A HAR document for the entries, captured from `start` (Unix ms).
pub fn har_at(entries: &[Entry], start: i64) -> String {
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
                    "headers": std::iter::once(json!({"name": "Content-Type", "value": "application/json"}))
                        .chain(e.response_headers.iter().map(|(n, v)| json!({"name": n, "value": v})))
                        .collect::<Vec<_>>(),
                    "cookies": [],
                    "content": {"size": 20, "mimeType": "application/json", "text": e.response.as_deref().unwrap_or("{\"ok\":true}")},
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

/// Writes a synthetic HAR captured from `start` (Unix ms) into `dir` and
/// returns its path.
pub fn write_har_at(dir: &Path, name: &str, entries: &[Entry], start: i64) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, har_at(entries, start)).unwrap();
    p
}

/// Writes a synthetic HAR into `dir` and returns its path.
pub fn write_har(dir: &Path, name: &str, entries: &[Entry]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, har(entries)).unwrap();
    p
}

/// A shop-like recording: `n` requests evenly over `secs` seconds; 60%
/// GET /posts/{id}, 30% GET /users/me, 10% POST /orders, each with
/// `Authorization: Bearer recorded-secret-token` when `auth`.
pub fn shop(n: usize, secs: f64, auth: bool) -> Vec<Entry> {
    (0..n)
        .map(|i| {
            let ms = (i as f64 * secs * 1000.0 / n as f64) as u64;
            let mut e = match i % 10 {
                0..=5 => Entry::get(format!("http://shop.test/posts/{}", 1 + (i * 7) % 97), ms),
                6..=8 => Entry::get("http://shop.test/users/me", ms),
                _ => Entry::post_json(
                    "http://shop.test/orders",
                    ms,
                    format!("{{\"sku\":\"A{}\",\"qty\":{}}}", i % 13, 1 + i % 3),
                ),
            };
            if auth {
                e.headers.push((
                    "Authorization".into(),
                    "Bearer recorded-secret-token".into(),
                ));
            }
            e
        })
        .collect()
}

/// A bursty recording: `busy` requests over the first `busy_secs`
/// seconds, then `quiet` requests over the next `quiet_secs` (a busy
/// start and a quiet tail), spaced with a fixed pseudo-random jitter so
/// the gaps are not a metronome. All `GET /items/{id}`.
pub fn bursty(busy: usize, busy_secs: f64, quiet: usize, quiet_secs: f64) -> Vec<Entry> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut jitter = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 1000) as f64 / 1000.0
    };
    let mut at = Vec::with_capacity(busy + quiet);
    for i in 0..busy {
        at.push((i as f64 + jitter()) * busy_secs / busy as f64);
    }
    for i in 0..quiet {
        at.push(busy_secs + (i as f64 + jitter()) * quiet_secs / quiet as f64);
    }
    at.iter()
        .enumerate()
        .map(|(i, s)| {
            Entry::get(
                format!("http://api.test/items/{}", 1 + i % 50),
                (s * 1000.0) as u64,
            )
        })
        .collect()
}
