//! JSON-lines access logs: the fields replay needs, by the names the common
//! loggers give them (first name found wins).
//!
//! - nginx `log_format … escape=json` (names as the variables: `msec`,
//!   `time_iso8601`, `request`, `request_uri`, `status`, `request_time`,
//!   `body_bytes_sent`, `remote_addr`…; values often quoted numbers)
//! - Caddy (`ts`, `request.{method,uri,host,remote_ip,headers}`, `status`,
//!   `duration` in seconds, `size`)
//! - Traefik (`StartUTC`, `RequestMethod`, `RequestPath`, `DownstreamStatus`,
//!   `Duration` in nanoseconds, `DownstreamContentSize`, `ClientHost`)
//! - generic (`time`/`timestamp`/`@timestamp`/`ts`, `method`,
//!   `uri`/`path`/`url`, `status`, `duration`/`latency`, `bytes`)

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::time::{self, Stamp};
use super::Fields;

/// Stamps that mark the request's arrival rather than the line's writing.
const START_KEYS: &[&str] = &["StartUTC", "start_time", "request_creation_time"];
const TIME_KEYS: &[&str] = &[
    "msec",
    "time_iso8601",
    "time_local",
    "time",
    "timestamp",
    "@timestamp",
    "ts",
];
const METHOD_KEYS: &[&str] = &["request_method", "method", "RequestMethod", "http_method"];
const TARGET_KEYS: &[&str] = &["request_uri", "uri", "RequestPath", "path", "url", "target"];
const STATUS_KEYS: &[&str] = &[
    "status",
    "DownstreamStatus",
    "status_code",
    "response_code",
    "elb_status_code",
];
const BYTES_KEYS: &[&str] = &[
    "body_bytes_sent",
    "bytes_sent",
    "bytes",
    "size",
    "DownstreamContentSize",
    "response_size",
];
const CLIENT_KEYS: &[&str] = &[
    "http_x_forwarded_for",
    "remote_addr",
    "remote_ip",
    "client_ip",
    "ClientHost",
    "ip",
];
const HOST_KEYS: &[&str] = &["host", "http_host", "RequestHost", "server_name"];

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn first<'m>(m: &'m Map<String, Value>, keys: &[&str]) -> Option<&'m Value> {
    keys.iter().find_map(|k| {
        m.get(*k).filter(|v| {
            !matches!(v, Value::Null) && v.as_str() != Some("-") && v.as_str() != Some("")
        })
    })
}

fn stamp(v: &Value) -> Option<Stamp> {
    match v {
        Value::Number(n) => {
            let s = n.to_string();
            time::epoch(s.as_bytes())
        }
        Value::String(s) => time::any(s.as_bytes()),
        _ => None,
    }
}

/// Duration in seconds: `request_time`/`duration`/`latency` in seconds
/// (or with a unit), Traefik's `Duration` in nanoseconds.
fn request_time(m: &Map<String, Value>) -> Option<f64> {
    if let Some(ns) = m.get("Duration").and_then(Value::as_f64) {
        return Some(ns / 1e9);
    }
    for k in [
        "request_time",
        "duration",
        "latency",
        "response_time",
        "elapsed",
    ] {
        match m.get(k) {
            Some(Value::Number(n)) => return n.as_f64().filter(|v| *v >= 0.0),
            Some(Value::String(s)) => {
                if let Some(v) = time::seconds(s.as_bytes()) {
                    return Some(v);
                }
            }
            _ => {}
        }
    }
    None
}

/// The fields of a JSON line, or `None` when it is not a JSON object.
pub fn fields(line: &str) -> Option<Fields<'static>> {
    let Value::Object(m) = serde_json::from_str::<Value>(line).ok()? else {
        return None;
    };
    let mut f = Fields::default();
    // Caddy nests the request.
    let req = match m.get("request") {
        Some(Value::Object(r)) => Some(r),
        Some(Value::String(s)) => {
            f.request = Some(Cow::Owned(s.clone()));
            None
        }
        _ => None,
    };
    if let Some(v) = first(&m, START_KEYS) {
        f.stamp = stamp(v);
        f.stamp_is_start = f.stamp.is_some();
    }
    if f.stamp.is_none() {
        f.stamp = first(&m, TIME_KEYS).and_then(stamp);
    }
    let own = |v: Option<&Value>| v.and_then(text).map(Cow::Owned);
    f.method = own(first(&m, METHOD_KEYS)).or_else(|| own(req.and_then(|r| first(r, METHOD_KEYS))));
    f.target = own(first(&m, TARGET_KEYS)).or_else(|| own(req.and_then(|r| first(r, TARGET_KEYS))));
    f.args = own(first(&m, &["args", "query_string"]));
    f.status = own(first(&m, STATUS_KEYS));
    f.bytes = first(&m, BYTES_KEYS)
        .and_then(text)
        .and_then(|s| s.parse().ok());
    f.request_time_s = request_time(&m);
    f.client = own(first(&m, CLIENT_KEYS))
        .or_else(|| own(req.and_then(|r| first(r, CLIENT_KEYS))))
        .map(|c| match c.split(',').next() {
            Some(a) => Cow::Owned(a.trim().to_string()),
            None => c,
        });
    f.host = own(first(&m, HOST_KEYS)).or_else(|| own(req.and_then(|r| first(r, HOST_KEYS))));
    f.scheme = own(first(&m, &["scheme"]));
    f.referer = own(first(&m, &["http_referer", "referer"]));
    f.user_agent = own(first(
        &m,
        &["http_user_agent", "user_agent", "request_User-Agent"],
    ))
    .or_else(|| {
        let h = req?.get("headers")?.get("User-Agent")?;
        h.get(0).or(Some(h)).and_then(text).map(Cow::Owned)
    });
    Some(f)
}
