//! Test helpers: an in-process HTTP server on 127.0.0.1:0 that counts what
//! it receives and can stall, and small HAR builders.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// What the test server saw.
#[derive(Default, Debug)]
pub struct Seen {
    /// "METHOD /path" (query stripped) → count.
    pub requests: BTreeMap<String, u64>,
    /// Authorization header values seen.
    pub authorization: Vec<String>,
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Seen>>,
    _runtime: tokio::runtime::Runtime,
}

#[derive(Clone, Default)]
pub struct Behaviour {
    /// Requests arriving in `[at, at + for)` after start wait until the end
    /// of the stall.
    pub stall: Option<(Duration, Duration)>,
}

impl TestServer {
    pub fn start(b: Behaviour) -> TestServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let start = Instant::now();
        let seen2 = seen.clone();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let seen = seen2.clone();
                let b = b.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let seen = seen.clone();
                        let b = b.clone();
                        async move {
                            let key = format!("{} {}", req.method(), req.uri().path());
                            let auth = req
                                .headers()
                                .get("authorization")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_string);
                            let _ = req.into_body().collect().await;
                            if let Some((at, len)) = b.stall {
                                let now = start.elapsed();
                                if now >= at && now < at + len {
                                    tokio::time::sleep(at + len - now).await;
                                }
                            }
                            {
                                let mut s = seen.lock().unwrap();
                                *s.requests.entry(key).or_insert(0) += 1;
                                if let Some(a) = auth {
                                    s.authorization.push(a);
                                }
                            }
                            Ok::<_, Infallible>(hyper::Response::new(Full::new(
                                Bytes::from_static(b"{\"ok\":true}"),
                            )))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        TestServer {
            addr,
            seen,
            _runtime: runtime,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn total(&self) -> u64 {
        self.seen.lock().unwrap().requests.values().sum()
    }

    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.seen.lock().unwrap().requests.clone()
    }
}

/// One HAR entry.
pub struct Entry {
    pub ms: i64,
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<String>,
}

/// A HAR document from entries (status 200, JSON responses).
pub fn har(entries: &[Entry]) -> String {
    let base = 1_700_000_000_000i64;
    let es: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            let ts = chrono_like(base + e.ms);
            let mut req = serde_json::json!({
                "method": e.method,
                "url": e.url,
                "httpVersion": "HTTP/1.1",
                "headers": e.headers.iter().map(|(n, v)| serde_json::json!({"name": n, "value": v})).collect::<Vec<_>>(),
                "queryString": [], "cookies": [], "headersSize": -1, "bodySize": e.body.as_ref().map(|b| b.len() as i64).unwrap_or(0),
            });
            if let Some(b) = &e.body {
                req["postData"] = serde_json::json!({"mimeType": "application/json", "text": b});
            }
            serde_json::json!({
                "startedDateTime": ts,
                "time": 12.5,
                "request": req,
                "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "headers": [], "cookies": [],
                    "content": {"size": 11, "mimeType": "application/json", "text": "{\"ok\":true}"}, "redirectURL": "", "headersSize": -1, "bodySize": 11},
                "cache": {},
                "timings": {"send": 0.5, "wait": 10.0, "receive": 2.0},
            })
        })
        .collect();
    serde_json::json!({"log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": es}}).to_string()
}

/// Unix ms → RFC 3339 (UTC) without a date library.
fn chrono_like(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let frac = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:03}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

/// A shop-like recording: `n` requests evenly over `secs` seconds; 60%
/// GET /posts/{id}, 30% GET /users/me, 10% POST /orders.
pub fn shop_har(n: usize, secs: f64, auth: bool) -> String {
    let entries: Vec<Entry> = (0..n)
        .map(|i| {
            let ms = (i as f64 * secs * 1000.0 / n as f64) as i64;
            let (method, url, body) = match i % 10 {
                0..=5 => (
                    "GET",
                    format!("http://shop.test/posts/{}", 1 + (i * 7) % 97),
                    None,
                ),
                6..=8 => ("GET", "http://shop.test/users/me".to_string(), None),
                _ => (
                    "POST",
                    "http://shop.test/orders".to_string(),
                    Some(format!("{{\"sku\":\"A{}\",\"qty\":{}}}", i % 13, 1 + i % 3)),
                ),
            };
            let mut headers = vec![("Accept", "application/json".to_string())];
            if auth {
                headers.push(("Authorization", "Bearer recorded-secret-token".to_string()));
            }
            Entry {
                ms,
                method,
                url,
                headers,
                body,
            }
        })
        .collect();
    har(&entries)
}

/// Runs the replay binary; returns (exit code, stdout, stderr).
pub fn replay(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_replay"))
        .args(args)
        .output()
        .expect("run replay");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
