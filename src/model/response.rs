//! What the model keeps of an endpoint's responses: the status mix, size
//! and time distributions, and samples of recorded responses (end-to-end
//! headers and bodies) the mock serves back to the requests they answered.
//!
//! A sample is kept per distinct request target and status, at most
//! `MAX_SAMPLES` per endpoint. Its headers lose what a server makes per
//! connection or per message (hop-by-hop headers, `Content-Length`, `Date`)
//! and `Content-Encoding` (bodies are kept decoded); credentials are
//! scrubbed as in requests. Bodies pass the same secret and personal-data
//! rules as request values, each at most [`MAX_RESPONSE_BODY`] bytes and
//! all of a model within [`RESPONSE_BODY_BUDGET`], text types first. What
//! did not fit is reported by endpoint, and the mock serves filler of the
//! recorded size in its place.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::io::Read;

use serde_json::Value;

use super::hist::LogHist;
use super::pii::Pii;
use super::pool::PoolAcc;
use super::scrub;
use super::traffic::{ResponseModel, ResponseSample, MAX_SAMPLES};

/// Largest response body kept, decoded.
pub const MAX_RESPONSE_BODY: usize = 1 << 20;
/// Response bodies kept in one model, in total.
pub const RESPONSE_BODY_BUDGET: usize = 8 << 20;
/// Of which binary ones (images, fonts: they do not compress, and a mock
/// serving filler in their place still runs the app).
pub const BINARY_BODY_BUDGET: usize = 1 << 20;
/// Bodies held while recording, before the budget picks text types first.
const HOLD_BUDGET: usize = 4 * RESPONSE_BODY_BUDGET;
/// Headers kept per sample, and the longest value kept.
const MAX_SAMPLE_HEADERS: usize = 48;
const MAX_HEADER_VALUE: usize = 4096;

/// Response headers a server makes per connection or per message, or that
/// describe an encoding the kept body no longer has: never replayed.
const NOT_REPLAYED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
    "content-encoding",
    "date",
    // An alternative service on the recorded host's ports, not the mock's.
    "alt-svc",
];

/// Which response bodies `record` keeps (`--bodies`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyPolicy {
    /// Every body that fits the caps (the default).
    #[default]
    All,
    /// Only API payloads: JSON, XML, plain text, forms.
    Api,
    /// None: the mock serves filler of the recorded sizes.
    None,
}

/// Why a recorded body is not in the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lost {
    /// Over [`MAX_RESPONSE_BODY`] or beyond [`RESPONSE_BODY_BUDGET`].
    Cap,
    /// Text with secret-looking content (scrubbing is on).
    Secret,
    /// Compressed in an encoding replay cannot decode.
    Encoded,
}

impl Lost {
    pub fn describe(self) -> String {
        match self {
            Lost::Cap => format!(
                "beyond the caps ({} MiB a body, {} MiB a model of which {} MiB binary; --bodies api keeps API payloads first)",
                MAX_RESPONSE_BODY >> 20,
                RESPONSE_BODY_BUDGET >> 20,
                BINARY_BODY_BUDGET >> 20
            ),
            Lost::Secret => {
                "with secret-looking content (--keep-secrets keeps them)".to_string()
            }
            Lost::Encoded => "in a content encoding replay cannot decode".to_string(),
        }
    }
}

/// Bodies held so far by all endpoints of one recording.
#[derive(Debug, Default)]
pub(super) struct Held {
    pub bytes: usize,
}

#[derive(Debug, Default)]
struct SampleAcc {
    sample: ResponseSample,
    /// The body is of a text type (kept before binary ones).
    text: bool,
    lost: Option<Lost>,
}

#[derive(Debug, Default)]
pub(super) struct RespAcc {
    pub status: BTreeMap<u16, u64>,
    pub mimes: PoolAcc,
    pub size: LogHist,
    pub latency: LogHist,
    pub wait: LogHist,
    samples: Vec<SampleAcc>,
    /// (target, status) hash → index into `samples`.
    index: rustc_hash::FxHashMap<u64, usize>,
    /// A recorded path has no sample (the cap was reached).
    overflow: bool,
}

/// How one recording treats response samples.
pub(super) struct SampleRules<'a> {
    pub scrub: bool,
    pub bodies: BodyPolicy,
    pub pii: Option<&'a mut Pii>,
    pub held: &'a mut Held,
}

impl RespAcc {
    /// Counts a response to a request for `target` (path and query as the
    /// model stores them).
    pub fn observe(&mut self, r: &crate::ingest::Response, target: &str, rules: SampleRules<'_>) {
        *self.status.entry(r.status).or_insert(0) += 1;
        if !r.mime.is_empty() {
            self.mimes.observe(&r.mime);
        }
        if let Some(s) = r.body_size {
            self.size.record(s as f64);
        }
        if let Some(t) = r.total_ms {
            self.latency.record(t);
        }
        if let Some(w) = r.wait_ms {
            self.wait.record(w);
        }
        let key = sample_key(target, r.status);
        if let Some(&i) = self.index.get(&key) {
            let s = &mut self.samples[i].sample;
            if s.target == target && s.status == r.status {
                s.count += 1;
                return;
            }
        }
        if self.samples.len() >= MAX_SAMPLES || self.index.contains_key(&key) {
            let path = target.split('?').next().unwrap_or("");
            if !self.overflow && !self.samples.iter().any(|s| s.sample.path() == path) {
                self.overflow = true;
            }
            return;
        }
        self.index.insert(key, self.samples.len());
        self.samples.push(new_sample(r, target, rules));
    }

    pub fn merge(&mut self, o: RespAcc) {
        for (k, v) in o.status {
            *self.status.entry(k).or_insert(0) += v;
        }
        self.mimes.merge(&o.mimes);
        self.size.merge(&o.size);
        self.latency.merge(&o.latency);
        self.wait.merge(&o.wait);
        self.overflow |= o.overflow;
        for s in o.samples {
            let key = sample_key(&s.sample.target, s.sample.status);
            match self.index.get(&key) {
                Some(&i) if self.samples[i].sample.target == s.sample.target => {
                    self.samples[i].sample.count += s.sample.count;
                }
                Some(_) => self.overflow = true,
                None if self.samples.len() >= MAX_SAMPLES => self.overflow = true,
                None => {
                    self.index.insert(key, self.samples.len());
                    self.samples.push(s);
                }
            }
        }
    }

    /// The response model, with the samples' bodies and why the others
    /// were lost (by sample, in the same order).
    pub fn finish(self, mime: String) -> (ResponseModel, Vec<(bool, Option<Lost>)>) {
        let mut marks = Vec::with_capacity(self.samples.len());
        let samples = self
            .samples
            .into_iter()
            .map(|s| {
                marks.push((s.text, s.lost));
                s.sample
            })
            .collect();
        let model = ResponseModel {
            status: self.status,
            mime,
            size: self.size,
            latency_ms: self.latency,
            wait_ms: self.wait,
            samples,
            complete: !self.overflow,
        };
        (model, marks)
    }
}

fn sample_key(target: &str, status: u16) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    target.hash(&mut h);
    status.hash(&mut h);
    h.finish()
}

fn new_sample(r: &crate::ingest::Response, target: &str, rules: SampleRules<'_>) -> SampleAcc {
    let SampleRules {
        scrub,
        bodies,
        mut pii,
        held,
    } = rules;
    let headers = served_headers(&r.headers, scrub, pii.as_deref_mut());
    let mime = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map_or(r.mime.as_str(), |(_, v)| v.as_str())
        .to_ascii_lowercase();
    let text = is_text(&mime);
    let mut size = r.body_size.unwrap_or(0);
    let wanted = match bodies {
        BodyPolicy::All => true,
        BodyPolicy::Api => is_api(&mime),
        BodyPolicy::None => false,
    };
    let (body, lost) = match (&r.body, wanted) {
        (Some(b), true) => match kept_body(b, r.body_base64, &r.headers, &mime, scrub, pii, held) {
            Ok(b) => {
                size = b.len() as u64;
                (Some(b), None)
            }
            Err(lost) => (None, Some(lost)),
        },
        _ => (None, None),
    };
    SampleAcc {
        sample: ResponseSample {
            target: target.to_string(),
            status: r.status,
            count: 1,
            headers,
            size,
            body,
        },
        text,
        lost,
    }
}

/// A recorded body as the model keeps it: decoded, scrubbed, within the
/// caps.
fn kept_body(
    b: &[u8],
    base64: bool,
    headers: &[(String, String)],
    mime: &str,
    scrub: bool,
    pii: Option<&mut Pii>,
    held: &mut Held,
) -> Result<Vec<u8>, Lost> {
    let encoding = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-encoding"))
        .map(|(_, v)| v.trim().to_ascii_lowercase());
    let decoded;
    let b = if base64 {
        decoded = base64_text(b).ok_or(Lost::Encoded)?;
        &decoded[..]
    } else {
        b
    };
    let b = decode(b, encoding.as_deref())?;
    if b.len() > MAX_RESPONSE_BODY || held.bytes + b.len() > HOLD_BUDGET {
        return Err(Lost::Cap);
    }
    let b = scrubbed_body(b, mime, scrub, pii)?;
    held.bytes += b.len();
    Ok(b)
}

/// A HAR's base64 body text, decoded; `None` when it is not base64.
pub fn base64_text(b: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(b.trim_ascii())
        .ok()
}

/// The body without its content encoding. HAR keeps bodies decoded
/// whatever the header says, a packet capture as sent: a gzip or deflate
/// stream is inflated; any other encoding is taken as already decoded
/// when the bytes are text.
pub fn decode(b: &[u8], encoding: Option<&str>) -> Result<Vec<u8>, Lost> {
    let limit = MAX_RESPONSE_BODY as u64 + 1;
    let inflate = |r: &mut dyn Read| {
        let mut out = Vec::new();
        r.take(limit).read_to_end(&mut out).ok().map(|_| out)
    };
    let decoded = match encoding {
        None | Some("identity") | Some("") => return Ok(b.to_vec()),
        Some("gzip") | Some("x-gzip") if b.starts_with(&[0x1f, 0x8b]) => {
            inflate(&mut flate2::read::GzDecoder::new(b))
        }
        Some("deflate") if std::str::from_utf8(b).is_err() => {
            inflate(&mut flate2::read::ZlibDecoder::new(b))
                .or_else(|| inflate(&mut flate2::read::DeflateDecoder::new(b)))
        }
        _ => None,
    };
    match decoded {
        Some(d) => Ok(d),
        None if std::str::from_utf8(b).is_ok() => Ok(b.to_vec()),
        None => Err(Lost::Encoded),
    }
}

/// Secrets and personal data out of a kept body. JSON: secret fields and
/// token-like values become placeholders, as in request bodies. Scripts
/// and stylesheets (where `token` is an identifier): only token-like
/// values (a JWT) make the body secret. Other text with secret-looking
/// content is not kept. Then personal data is replaced by look-alikes;
/// binary bodies are kept as they are.
fn scrubbed_body(
    b: Vec<u8>,
    mime: &str,
    scrub: bool,
    pii: Option<&mut Pii>,
) -> Result<Vec<u8>, Lost> {
    let Ok(text) = std::str::from_utf8(&b) else {
        return Ok(b);
    };
    let mut replaced = None;
    if scrub {
        let first = text.trim_start().bytes().next();
        let json = matches!(first, Some(b'{') | Some(b'['))
            .then(|| serde_json::from_str::<Value>(text).ok())
            .flatten();
        if let Some(mut v) = json {
            if scrub_json(&mut v, None) {
                replaced = Some(serde_json::to_vec(&v).map_err(|_| Lost::Secret)?);
            }
        } else if is_code(mime) {
            if text
                .split(|c: char| !(c.is_ascii_alphanumeric() || "._-=".contains(c)))
                .any(scrub::value_looks_secret)
            {
                return Err(Lost::Secret);
            }
        } else if scrub::text_has_secret(text) {
            return Err(Lost::Secret);
        }
    }
    let b = replaced.unwrap_or(b);
    Ok(match pii {
        Some(p) => p.body(&b),
        None => b,
    })
}

/// Replaces secret fields and token-like strings by placeholders; true
/// when something was replaced.
fn scrub_json(v: &mut Value, key: Option<&str>) -> bool {
    match v {
        Value::Object(map) => {
            let mut changed = false;
            for (k, child) in map.iter_mut() {
                changed |= scrub_json(child, Some(k));
            }
            changed
        }
        Value::Array(items) => {
            let mut changed = false;
            for child in items.iter_mut() {
                changed |= scrub_json(child, key);
            }
            changed
        }
        Value::String(s) => {
            let name = key.unwrap_or("body");
            if scrub::is_secret_field(name) || scrub::value_looks_secret(s) {
                *s = scrub::placeholder(&scrub::secret_name(name));
                true
            } else {
                false
            }
        }
        _ => false,
    }
}

/// The recorded response headers the mock serves back: end-to-end ones,
/// in recorded order, credentials scrubbed (`Set-Cookie` keeps its name
/// and attributes, its value becomes a placeholder) and personal data
/// replaced. CORS headers are never taken for credentials.
pub fn served_headers(
    headers: &[(String, String)],
    scrub: bool,
    mut pii: Option<&mut Pii>,
) -> Vec<(String, String)> {
    // Headers the response's own `Connection` names are hop-by-hop too.
    let listed: Vec<String> = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| v.split(',').map(|t| t.trim().to_ascii_lowercase()))
        .collect();
    let mut out = Vec::new();
    // Browsers' HARs join repeated headers (`Set-Cookie`) with newlines.
    let lines = headers
        .iter()
        .flat_map(|(n, v)| v.split('\n').map(move |v| (n, v.trim_end_matches('\r'))));
    for (name, value) in lines {
        let lower = name.to_ascii_lowercase();
        if !crate::http1::is_token(name)
            || NOT_REPLAYED.contains(&lower.as_str())
            || listed.contains(&lower)
            || value.len() > MAX_HEADER_VALUE
            || value.bytes().any(|b| b.is_ascii_control() && b != b'\t')
        {
            continue;
        }
        if out.len() >= MAX_SAMPLE_HEADERS {
            break;
        }
        let cors = lower.starts_with("access-control-")
            || lower == "www-authenticate"
            || lower == "proxy-authenticate"
            || lower == "vary";
        let v = if scrub && lower == "set-cookie" {
            scrubbed_cookie(value)
        } else if scrub
            && !cors
            && (scrub::is_secret_header(name) || scrub::value_looks_secret(value))
        {
            scrub::placeholder(&scrub::secret_name(name))
        } else {
            match pii.as_deref_mut() {
                Some(p) if !cors => p.value(Some(name), value).into_owned(),
                _ => value.to_string(),
            }
        };
        out.push((name.clone(), v));
    }
    out
}

/// `sid=abc; Path=/; HttpOnly` → `sid={{secret:sid}}; Path=/; HttpOnly`.
fn scrubbed_cookie(v: &str) -> String {
    let (pair, attrs) = v.split_once(';').map_or((v, None), |(p, a)| (p, Some(a)));
    let name = pair.split('=').next().unwrap_or("").trim();
    let mut out = format!("{name}={}", scrub::placeholder(&scrub::secret_name(name)));
    if let Some(a) = attrs {
        out.push(';');
        out.push_str(a);
    }
    out
}

/// JSON, XML, HTML, scripts, stylesheets, SVG, forms, any `text/*`.
pub fn is_text(mime: &str) -> bool {
    mime.starts_with("text/")
        || [
            "json",
            "xml",
            "javascript",
            "ecmascript",
            "x-www-form-urlencoded",
        ]
        .iter()
        .any(|t| mime.contains(t))
}

/// API payloads (`--bodies api`): JSON, XML (not XHTML), plain text, CSV,
/// forms.
pub fn is_api(mime: &str) -> bool {
    (mime.contains("json") || (mime.contains("xml") && !mime.contains("xhtml")))
        || mime.starts_with("text/plain")
        || mime.starts_with("text/csv")
        || mime.contains("x-www-form-urlencoded")
}

fn is_code(mime: &str) -> bool {
    mime.contains("javascript") || mime.contains("ecmascript") || mime.starts_with("text/css")
}

/// Keeps the held bodies within [`RESPONSE_BODY_BUDGET`] (binary ones
/// within [`BINARY_BODY_BUDGET`]): text types first, then by the
/// endpoint's order (most requested first) and the sample's count. `marks` are [`RespAcc::finish`]'s, per endpoint; bodies
/// that do not fit are dropped and marked [`Lost::Cap`].
pub(super) fn fit_budget(
    models: &mut [&mut ResponseModel],
    marks: &mut [Vec<(bool, Option<Lost>)>],
) {
    let mut order: Vec<(usize, usize)> = Vec::new();
    for (e, m) in models.iter().enumerate() {
        for (s, sample) in m.samples.iter().enumerate() {
            if sample.body.is_some() {
                order.push((e, s));
            }
        }
    }
    order.sort_by_key(|&(e, s)| {
        (
            !marks[e][s].0,
            e,
            std::cmp::Reverse(models[e].samples[s].count),
        )
    });
    let (mut left, mut binary) = (RESPONSE_BODY_BUDGET, BINARY_BODY_BUDGET);
    for (e, s) in order {
        let sample = &mut models[e].samples[s];
        let n = sample.body.as_ref().map_or(0, Vec::len);
        let text = marks[e][s].0;
        if n <= left && (text || n <= binary) {
            left -= n;
            if !text {
                binary -= n;
            }
        } else {
            sample.body = None;
            marks[e][s].1 = Some(Lost::Cap);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn hop_by_hop_and_per_message_headers_are_dropped() {
        let recorded = h(&[
            (":status", "200"),
            ("Content-Type", "application/json; charset=utf-8"),
            ("Connection", "keep-alive, X-Hop"),
            ("Keep-Alive", "timeout=5"),
            ("Transfer-Encoding", "chunked"),
            ("Content-Length", "123"),
            ("Content-Encoding", "gzip"),
            ("Date", "Tue, 01 Oct 2024 10:00:00 GMT"),
            ("X-Hop", "per connection"),
            ("Upgrade", "h2c"),
            ("X-Total-Count", "3"),
            ("Link", "<http://api.test/items?page=2>; rel=\"next\""),
            ("ETag", "W/\"3-abc\""),
            ("Cache-Control", "max-age=60"),
            ("Access-Control-Allow-Origin", "http://app.test"),
            ("Access-Control-Allow-Credentials", "true"),
            ("Access-Control-Expose-Headers", "X-Total-Count, Link, ETag"),
        ]);
        let served = served_headers(&recorded, true, None);
        let names: Vec<&str> = served.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "Content-Type",
                "X-Total-Count",
                "Link",
                "ETag",
                "Cache-Control",
                "Access-Control-Allow-Origin",
                "Access-Control-Allow-Credentials",
                "Access-Control-Expose-Headers"
            ]
        );
        // Values as recorded: CORS headers are not credentials.
        assert_eq!(served[6].1, "true");
        assert_eq!(served[2].1, recorded[11].1);
    }

    #[test]
    fn credentials_in_response_headers_stay_scrubbed() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
        let recorded = h(&[
            ("Set-Cookie", "sid=s3cr3t-value; Path=/; HttpOnly"),
            ("X-Auth-Token", "abcdef123456"),
            ("X-Request-Id", jwt),
            ("Content-Type", "text/html"),
            ("set-cookie", "a=1; Path=/\nb=2"),
            ("X-Bad", "line\u{0}break"),
        ]);
        let served = served_headers(&recorded, true, None);
        assert_eq!(served[0].1, "sid={{secret:sid}}; Path=/; HttpOnly");
        assert_eq!(served[1].1, "{{secret:x_auth_token}}");
        assert_eq!(served[2].1, "{{secret:x_request_id}}");
        assert_eq!(served[3].1, "text/html");
        // Joined by a browser's HAR: one header each; control bytes: none.
        assert_eq!(served[4].1, "a={{secret:a}}; Path=/");
        assert_eq!(served[5].1, "b={{secret:b}}");
        assert_eq!(served.len(), 6);
        for (_, v) in &served {
            assert!(!v.contains("s3cr3t") && !v.contains("abcdef") && !v.contains("eyJ"));
        }
        // --keep-secrets keeps them.
        let kept = served_headers(&recorded, false, None);
        assert_eq!(kept[0].1, "sid=s3cr3t-value; Path=/; HttpOnly");
    }

    /// Text first; binary bodies within their own smaller budget; a HAR's
    /// base64 body is decoded when kept.
    #[test]
    fn the_budget_keeps_text_first_and_little_binary() {
        let mut held = Held::default();
        let mut acc = RespAcc::default();
        let response = |body: Vec<u8>, mime: &str, base64: bool| crate::ingest::Response {
            status: 200,
            mime: mime.into(),
            body_size: Some(body.len() as u64),
            headers: h(&[("Content-Type", mime)]),
            body: Some(body),
            body_base64: base64,
            ..Default::default()
        };
        let png = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(vec![0x89u8; 700 << 10])
        };
        for (k, (body, mime, b64)) in [
            (png.clone().into_bytes(), "image/png", true),
            (png.into_bytes(), "image/png", true),
            (vec![b'a'; 900 << 10], "text/javascript", false),
        ]
        .into_iter()
        .enumerate()
        {
            let rules = SampleRules {
                scrub: true,
                bodies: BodyPolicy::All,
                pii: None,
                held: &mut held,
            };
            acc.observe(&response(body, mime, b64), &format!("/a/{k}"), rules);
        }
        let (mut model, marks) = acc.finish(String::new());
        let mut marks = vec![marks];
        fit_budget(&mut [&mut model], &mut marks);
        let kept: Vec<Option<usize>> = model
            .samples
            .iter()
            .map(|s| s.body.as_ref().map(Vec::len))
            .collect();
        assert_eq!(kept, [Some(700 << 10), None, Some(900 << 10)]);
        assert_eq!(marks[0][1].1, Some(Lost::Cap));
        assert_eq!(model.samples[0].body.as_ref().unwrap()[0], 0x89);
    }

    #[test]
    fn bodies_are_decoded_and_scrubbed() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"{\"a\":1}").unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(decode(&gz, Some("gzip")).unwrap(), b"{\"a\":1}");
        // HAR: decoded already whatever the header says.
        assert_eq!(decode(b"{\"a\":1}", Some("br")).unwrap(), b"{\"a\":1}");
        assert_eq!(decode(&[0xff, 0x00, 0x81], Some("br")), Err(Lost::Encoded));

        let json = br#"{"access_token":"abc","user":{"id":7}}"#.to_vec();
        let out = scrubbed_body(json, "application/json", true, None).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["access_token"], "{{secret:access_token}}");
        assert_eq!(v["user"]["id"], 7);
        // A script naming tokens is code, kept; a page saying password is not.
        let js = b"const token = localStorage.getItem('token');".to_vec();
        assert!(scrubbed_body(js, "text/javascript", true, None).is_ok());
        let html = b"<p>your password is hunter2</p>".to_vec();
        assert_eq!(
            scrubbed_body(html.clone(), "text/html", true, None),
            Err(Lost::Secret)
        );
        assert!(scrubbed_body(html, "text/html", false, None).is_ok());
    }
}
