//! What the mock answers for one endpoint: a recorded response, or status,
//! body and delay drawn from the endpoint's recorded [`ResponseModel`](crate::model::ResponseModel).
//!
//! A request is answered, in this order, by
//! 1. the sample recorded for its exact path and query;
//! 2. else the sample recorded for its path (the same slot values);
//!
//!    (a recorded `304 Not Modified` only answers a conditional request:
//!    a client without the cached copy needs the body);
//! 3. else, for a value never recorded, where the recording is complete
//!    (every recorded path kept a sample) and recorded a 404: that 404;
//! 4. else a status drawn from the recorded mix and a sample recorded with
//!    it (a 2xx one for a 2xx status), its JSON body's top-level `id` (or
//!    slot-named) field rewritten to the request's slot value; filler of a
//!    recorded size where there is none.
//!
//! A sample brings its recorded headers and body (filler of the recorded
//! size when the body was not kept). Everything that does not depend on
//! the request (header maps, bodies as [`Bytes`], lookup tables) is
//! prepared once; filler bodies are slices of one shared buffer.

use rustc_hash::FxHashMap as HashMap;
use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use rand::Rng;
use serde_json::Value;

use crate::model::{Endpoint, LogHist, Segment};

/// Largest filler body served, whatever the recorded size.
pub const MAX_BODY: usize = 8 << 20;
/// Longest delay drawn from a recorded latency distribution (long polls
/// and stalls in a capture should not hang a replay).
pub const MAX_DELAY: Duration = Duration::from_secs(60);

/// How long the mock waits before answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LatencyMode {
    /// Answer at once.
    None,
    /// Wait a time drawn from the endpoint's recorded time to first byte
    /// (its total time when the capture has no TTFB), capped at
    /// [`MAX_DELAY`].
    #[default]
    Recorded,
    /// Wait this long for every request.
    Fixed(Duration),
}

impl FromStr for LatencyMode {
    type Err = String;

    /// `recorded`, `none`, or a fixed delay such as `20ms` or `1.5s`.
    fn from_str(s: &str) -> Result<LatencyMode, String> {
        let t = s.trim();
        match t {
            "recorded" => return Ok(LatencyMode::Recorded),
            "none" | "0" => return Ok(LatencyMode::None),
            _ => {}
        }
        // A delay needs its unit: a bare number is more likely a typo here
        // than seconds.
        if t.parse::<f64>().is_ok() {
            return Err(format!(
                "'{s}' is not a latency; write recorded, none, or a fixed delay like 20ms or 1.5s"
            ));
        }
        let d = crate::units::parse_duration(t)
            .map_err(|e| format!("{e}; or write recorded or none"))?;
        if d > MAX_DELAY {
            return Err(format!(
                "'{s}' is out of range; a fixed latency is between 0 and {}s",
                MAX_DELAY.as_secs()
            ));
        }
        Ok(LatencyMode::Fixed(d))
    }
}

impl std::fmt::Display for LatencyMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LatencyMode::None => f.write_str("none"),
            LatencyMode::Recorded => f.write_str("recorded"),
            LatencyMode::Fixed(d) => write!(f, "{}ms", d.as_secs_f64() * 1e3),
        }
    }
}

/// What the mock needs of a request to answer it.
#[derive(Debug, Clone, Copy)]
pub struct Asked<'a> {
    /// Path and query.
    pub target: &'a str,
    /// A `HEAD`: no body, its length in `Content-Length`.
    pub head: bool,
    /// It carries `If-None-Match` or `If-Modified-Since`.
    pub conditional: bool,
}

impl<'a> Asked<'a> {
    /// An unconditional `GET` (or another method with a body) of `target`.
    pub fn get(target: &'a str) -> Asked<'a> {
        Asked {
            target,
            head: false,
            conditional: false,
        }
    }
}

/// One drawn answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: StatusCode,
    /// The body to send (empty for HEAD, 1xx, 204, 205 and 304).
    pub body: Bytes,
    /// For HEAD: the size the body would have had (its `Content-Length`).
    pub head_len: Option<usize>,
    pub delay: Duration,
    /// The recorded response served, if any: its headers go out with it.
    pub sample: Option<usize>,
}

/// A recorded response, ready to serve.
#[derive(Debug, Clone)]
struct Prepared {
    status: StatusCode,
    count: u64,
    headers: HeaderMap,
    body: Option<Bytes>,
    size: usize,
    path: Box<str>,
    /// The body is a JSON object with a field echoing a slot value of
    /// `path` (see [`Responder::echo`]).
    echo: bool,
}

/// A path slot of the template, for writing its value into a body.
#[derive(Debug, Clone)]
struct SlotAt {
    /// Index of the segment in the path.
    segment: usize,
    suffix: Box<str>,
    name: Box<str>,
}

/// The prepared response model of one endpoint.
#[derive(Debug, Clone)]
pub struct Responder {
    /// (status, running total of counts).
    statuses: Box<[(StatusCode, u64)]>,
    pub(crate) mime: Option<HeaderValue>,
    size: LogHist,
    latency: LogHist,
    samples: Box<[Prepared]>,
    /// Exact target, then path → samples recorded there.
    by_target: HashMap<Box<str>, Vec<usize>>,
    by_path: HashMap<Box<str>, Vec<usize>>,
    /// The most recorded 404, for values never recorded (rule 3).
    unknown: Option<usize>,
    slots: Box<[SlotAt]>,
    /// Recorded CORS headers, for a preflight nobody recorded.
    cors: Option<HeaderMap>,
}

impl Responder {
    pub fn new(e: &Endpoint) -> Responder {
        let r = &e.response;
        let mut acc = 0;
        let statuses: Box<[(StatusCode, u64)]> = r
            .status
            .iter()
            // A final response cannot be 1xx; 0 (no response in the HAR)
            // and out-of-range codes are not answers either.
            .filter(|(s, n)| **s >= 200 && **n > 0)
            .filter_map(|(s, n)| {
                let code = StatusCode::from_u16(*s).ok()?;
                acc += n;
                Some((code, acc))
            })
            .collect();
        let latency = if r.wait_ms.is_empty() {
            r.latency_ms.clone()
        } else {
            r.wait_ms.clone()
        };
        let mut samples: Box<[Prepared]> = r
            .samples
            .iter()
            .filter_map(|s| {
                Some(Prepared {
                    status: StatusCode::from_u16(s.status)
                        .ok()
                        .filter(|c| !c.is_informational())?,
                    count: s.count.max(1),
                    headers: header_map(&s.headers),
                    body: s.body.as_ref().map(|b| Bytes::from(b.clone())),
                    size: (s.size as usize).min(MAX_BODY),
                    path: s.path().into(),
                    echo: false,
                })
            })
            .collect();
        let mut by_target: HashMap<Box<str>, Vec<usize>> = HashMap::default();
        let mut by_path: HashMap<Box<str>, Vec<usize>> = HashMap::default();
        for (i, s) in r
            .samples
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.target.is_empty())
        {
            if i < samples.len() {
                by_target
                    .entry(s.target.as_str().into())
                    .or_default()
                    .push(i);
                by_path.entry(s.path().into()).or_default().push(i);
            }
        }
        let slots: Box<[SlotAt]> = e
            .segments
            .iter()
            .enumerate()
            .filter_map(|(k, seg)| match seg {
                Segment::Slot { index, suffix } => Some(SlotAt {
                    segment: k,
                    suffix: suffix.as_str().into(),
                    name: e
                        .path_params
                        .get(*index)
                        .map_or("", |p| p.name.as_str())
                        .into(),
                }),
                Segment::Literal(_) => None,
            })
            .collect();
        for s in samples.iter_mut() {
            let json = s
                .body
                .as_ref()
                .and_then(|b| serde_json::from_slice::<Value>(b).ok());
            if let Some(Value::Object(map)) = json {
                s.echo = !echoed(&slots, &map, &segments(&s.path)).is_empty();
            }
        }
        let unknown = (r.complete && !slots.is_empty())
            .then(|| {
                samples
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.status == StatusCode::NOT_FOUND)
                    .max_by_key(|(i, s)| (s.count, std::cmp::Reverse(*i)))
                    .map(|(i, _)| i)
            })
            .flatten();
        Responder {
            statuses,
            mime: (!r.mime.is_empty())
                .then(|| HeaderValue::from_str(&r.mime).ok())
                .flatten(),
            size: r.size.clone(),
            latency,
            cors: cors_headers(&samples),
            samples,
            by_target,
            by_path,
            unknown,
            slots,
        }
    }

    /// The largest filler body this endpoint can ask for.
    pub fn max_filler(&self) -> usize {
        let drawn = if self.size.is_empty() {
            0
        } else {
            (self.size.max.ceil() as usize).min(MAX_BODY)
        };
        self.samples
            .iter()
            .filter(|s| s.body.is_none())
            .map(|s| s.size)
            .fold(drawn, usize::max)
    }

    /// The recorded headers of sample `i` (see [`Answer::sample`]).
    pub fn headers(&self, i: usize) -> &HeaderMap {
        &self.samples[i].headers
    }

    /// The recorded CORS headers (`Access-Control-Allow-Origin` and
    /// `-Credentials`, `Vary`) of the endpoint's responses, if any.
    pub fn cors(&self) -> Option<&HeaderMap> {
        self.cors.as_ref()
    }

    /// Answers a request for `target` (path and query); `conditional`: it
    /// carries `If-None-Match` or `If-Modified-Since`. Always the same
    /// RNG calls in the same order (sample or status, size, delay), so a
    /// seeded connection answers the same sequence of requests the same
    /// way. `filler` must be at least [`Responder::max_filler`] bytes long.
    pub fn draw<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        request: Asked<'_>,
        latency: LatencyMode,
        filler: &Bytes,
    ) -> Answer {
        let Asked {
            target,
            head,
            conditional,
        } = request;
        let pick: u64 = rng.random();
        let path = target.split_once('?').map_or(target, |(p, _)| p);
        let (status, sample) = self.pick(pick, target, path, conditional);
        let sized = if self.size.is_empty() {
            None
        } else {
            let v = self.size.sample(rng).round();
            Some((v as usize).min(MAX_BODY).min(filler.len()))
        };
        let delay = match latency {
            LatencyMode::None => Duration::ZERO,
            LatencyMode::Fixed(d) => d,
            LatencyMode::Recorded => recorded_delay(&self.latency, rng),
        };
        let no_body = status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::RESET_CONTENT
            || status == StatusCode::NOT_MODIFIED;
        let body = match (no_body, sample.map(|i| &self.samples[i])) {
            (true, _) => Bytes::new(),
            (false, Some(s)) => match &s.body {
                Some(b) if *s.path != *path => self.echo(s, b, path),
                Some(b) => b.clone(),
                None => filler.slice(..s.size.min(filler.len())),
            },
            (false, None) => sized.map_or_else(Bytes::new, |n| filler.slice(..n)),
        };
        let (body, head_len) = if head {
            (Bytes::new(), Some(body.len()))
        } else {
            (body, None)
        };
        Answer {
            status,
            body,
            head_len,
            delay,
            sample,
        }
    }

    /// Rules 1 to 4 of the module docs: the status and the sample.
    fn pick(
        &self,
        draw: u64,
        target: &str,
        path: &str,
        conditional: bool,
    ) -> (StatusCode, Option<usize>) {
        let fits = |i: &usize| conditional || self.samples[*i].status != StatusCode::NOT_MODIFIED;
        for group in [self.by_target.get(target), self.by_path.get(path)]
            .into_iter()
            .flatten()
        {
            if group.iter().any(fits) {
                let i = self.weighted(group.iter().copied().filter(fits), draw);
                return (self.samples[i].status, Some(i));
            }
        }
        if let Some(i) = self.unknown {
            return (StatusCode::NOT_FOUND, Some(i));
        }
        let status = match self.statuses.last() {
            None => StatusCode::OK,
            Some(&(_, total)) => {
                let pick = draw % total;
                let i = self.statuses.partition_point(|(_, c)| *c <= pick);
                self.statuses[i].0
            }
        };
        let same = || {
            self.samples
                .iter()
                .enumerate()
                .filter(move |(_, s)| s.status == status)
        };
        let any_2xx = || {
            self.samples
                .iter()
                .enumerate()
                .filter(move |(_, s)| status.is_success() && s.status.is_success())
        };
        let sample = if same().next().is_some() {
            Some(self.weighted(same().map(|(i, _)| i), draw >> 32))
        } else if any_2xx().next().is_some() {
            Some(self.weighted(any_2xx().map(|(i, _)| i), draw >> 32))
        } else {
            None
        };
        (status, sample)
    }

    /// One of `group` (not empty), in proportion to the samples' counts.
    fn weighted(&self, group: impl Iterator<Item = usize> + Clone, draw: u64) -> usize {
        let total: u64 = group.clone().map(|i| self.samples[i].count).sum();
        let mut at = draw % total.max(1);
        let mut last = 0;
        for i in group {
            last = i;
            let n = self.samples[i].count;
            if at < n {
                return i;
            }
            at -= n;
        }
        last
    }

    /// A recorded JSON body for another value of the template's slots:
    /// top-level fields that held the recorded value and are named `id` or
    /// like the slot get the requested one (a number stays a number when
    /// the new value is one). Other bodies are served as recorded.
    fn echo(&self, s: &Prepared, body: &Bytes, requested: &str) -> Bytes {
        if !s.echo {
            return body.clone();
        }
        let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(body) else {
            return body.clone();
        };
        let new = segments(requested);
        let mut changed = false;
        for (key, slot) in echoed(&self.slots, &map, &segments(&s.path)) {
            let Some(n) = new.get(self.slots[slot].segment) else {
                continue;
            };
            let n = n.strip_suffix(&*self.slots[slot].suffix).unwrap_or(n);
            if let Some(leaf) = map.get_mut(&key) {
                *leaf = match (&*leaf, n.parse::<serde_json::Number>()) {
                    (Value::Number(_), Ok(x)) => Value::Number(x),
                    _ => Value::String(n.to_string()),
                };
                changed = true;
            }
        }
        if !changed {
            return body.clone();
        }
        serde_json::to_vec(&map).map_or_else(|_| body.clone(), Bytes::from)
    }
}

fn segments(path: &str) -> Vec<&str> {
    path.strip_prefix('/').unwrap_or(path).split('/').collect()
}

/// The top-level fields of a recorded JSON object that echo a slot value
/// of its path `recorded`: named `id` or like the slot, holding the
/// value. (field, slot index).
fn echoed(
    slots: &[SlotAt],
    map: &serde_json::Map<String, Value>,
    recorded: &[&str],
) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (k, slot) in slots.iter().enumerate() {
        let Some(o) = recorded.get(slot.segment) else {
            continue;
        };
        let o = o.strip_suffix(&*slot.suffix).unwrap_or(o);
        for (key, leaf) in map {
            let named = key.eq_ignore_ascii_case("id") || key.eq_ignore_ascii_case(&slot.name);
            let held = match leaf {
                Value::String(s) => s == o,
                Value::Number(x) => x.to_string() == o,
                _ => false,
            };
            if named && held {
                out.push((key.clone(), k));
            }
        }
    }
    out
}

/// Recorded headers as a map; a name or value HTTP cannot carry is left
/// out (the model file checks them; a hand-edited one may not).
fn header_map(headers: &[(String, String)]) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (n, v) in headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(n.as_bytes()),
            HeaderValue::from_bytes(v.as_bytes()),
        ) {
            map.append(n, v);
        }
    }
    map
}

/// The CORS headers a preflight answer carries, from the first sample
/// that recorded `Access-Control-Allow-Origin`.
fn cors_headers(samples: &[Prepared]) -> Option<HeaderMap> {
    let s = samples.iter().find(|s| {
        s.headers
            .contains_key(http::header::ACCESS_CONTROL_ALLOW_ORIGIN)
    })?;
    let mut map = HeaderMap::new();
    for name in [
        http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
        http::header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        http::header::VARY,
    ] {
        for v in s.headers.get_all(&name) {
            map.append(name.clone(), v.clone());
        }
    }
    Some(map)
}

/// A delay drawn from a recorded latency histogram (ms), capped at
/// [`MAX_DELAY`]; zero when nothing was recorded.
pub fn recorded_delay<R: Rng + ?Sized>(latency_ms: &LogHist, rng: &mut R) -> Duration {
    if latency_ms.is_empty() {
        return Duration::ZERO;
    }
    let ms = latency_ms.sample(rng);
    if !(ms.is_finite() && ms > 0.0) {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(ms / 1e3).min(MAX_DELAY)
}

/// A buffer of printable filler bytes, `len` long.
pub fn filler(len: usize) -> Bytes {
    const LINE: &[u8] = b"replay mock filler: the recorded response was this many bytes.\n";
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        let k = (len - v.len()).min(LINE.len());
        v.extend_from_slice(&LINE[..k]);
    }
    Bytes::from(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Param, Pool, ResponseModel, ResponseSample, TailType};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn model(status: &[(u16, u64)], sizes: &[f64], wait: &[f64]) -> ResponseModel {
        let mut r = ResponseModel {
            status: status.iter().copied().collect(),
            mime: "application/json".into(),
            ..Default::default()
        };
        for s in sizes {
            r.size.record(*s);
        }
        for w in wait {
            r.wait_ms.record(*w);
            r.latency_ms.record(*w * 10.0);
        }
        r
    }

    /// `GET /posts/{id}` answering `r`.
    fn ep(r: ResponseModel) -> Endpoint {
        Endpoint {
            method: "GET".into(),
            scheme: "http".into(),
            host: "api.test".into(),
            template: "/posts/{id}".into(),
            segments: vec![
                Segment::Literal("posts".into()),
                Segment::Slot {
                    index: 0,
                    suffix: String::new(),
                },
            ],
            count: 1,
            weight: 1.0,
            path_params: vec![Param {
                name: "id".into(),
                presence: 1.0,
                pool: Pool::new(vec![], 0, TailType::None),
            }],
            query: vec![],
            headers: vec![],
            joint: None,
            body: None,
            response: r,
        }
    }

    fn sample(target: &str, status: u16, count: u64, body: &str) -> ResponseSample {
        ResponseSample {
            target: target.into(),
            status,
            count,
            headers: vec![("X-Total-Count".into(), target.len().to_string())],
            size: body.len() as u64,
            body: Some(body.as_bytes().to_vec()),
        }
    }

    fn responder(r: &ResponseModel) -> Responder {
        Responder::new(&ep(r.clone()))
    }

    #[test]
    fn latency_flag_values() {
        assert_eq!("recorded".parse(), Ok(LatencyMode::Recorded));
        assert_eq!("none".parse(), Ok(LatencyMode::None));
        assert_eq!(
            "20ms".parse(),
            Ok(LatencyMode::Fixed(Duration::from_millis(20)))
        );
        assert_eq!(
            "1.5s".parse(),
            Ok(LatencyMode::Fixed(Duration::from_millis(1500)))
        );
        assert!("fast".parse::<LatencyMode>().is_err());
        assert!("-1ms".parse::<LatencyMode>().is_err());
        assert!("2h".parse::<LatencyMode>().is_err());
    }

    #[test]
    fn delays_follow_ttfb_and_are_reproducible() {
        let r = responder(&model(&[(200, 1)], &[100.0], &[5.0, 10.0, 20.0]));
        let f = filler(r.max_filler());
        let draws = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..200)
                .map(|_| {
                    r.draw(&mut rng, Asked::get("/posts/1"), LatencyMode::Recorded, &f)
                        .delay
                })
                .collect::<Vec<_>>()
        };
        let a = draws(1);
        assert_eq!(a, draws(1));
        assert_ne!(a, draws(2));
        // wait_ms (5..20 ms) is used, not the total time (50..200 ms).
        for d in &a {
            assert!(
                (Duration::from_millis(5)..=Duration::from_millis(20)).contains(d),
                "{d:?}"
            );
        }
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let none = r.draw(&mut rng, Asked::get("/posts/1"), LatencyMode::None, &f);
        assert_eq!(none.delay, Duration::ZERO);
        let fixed = LatencyMode::Fixed(Duration::from_millis(7));
        assert_eq!(
            r.draw(&mut rng, Asked::get("/posts/1"), fixed, &f).delay,
            Duration::from_millis(7)
        );
    }

    #[test]
    fn total_time_stands_in_for_missing_ttfb_and_is_capped() {
        let mut m = model(&[(200, 1)], &[], &[]);
        m.latency_ms.record(3_600_000.0);
        let r = responder(&m);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let a = r.draw(
            &mut rng,
            Asked::get("/posts/1"),
            LatencyMode::Recorded,
            &Bytes::new(),
        );
        assert_eq!(a.delay, MAX_DELAY);
        assert!(a.body.is_empty());
    }

    /// Without samples (a model of sizes only): the recorded mix, filler
    /// of recorded sizes, no body where the status has none.
    #[test]
    fn filler_by_status_and_method() {
        let m = model(
            &[(200, 1), (204, 1), (304, 1), (404, 1)],
            &[10.0, 300.0],
            &[],
        );
        let r = responder(&m);
        let f = filler(r.max_filler());
        assert_eq!(r.max_filler(), 300);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut seen = std::collections::BTreeSet::new();
        for k in 0..400 {
            let target = format!("/posts/{k}");
            let a = r.draw(&mut rng, Asked::get(&target), LatencyMode::None, &f);
            seen.insert(a.status.as_u16());
            assert_eq!(a.sample, None);
            match a.status.as_u16() {
                200 | 404 => assert!((10..=300).contains(&a.body.len()), "{}", a.body.len()),
                204 | 304 => assert!(a.body.is_empty()),
                s => panic!("status {s}"),
            }
            let h = r.draw(
                &mut rng,
                Asked {
                    head: true,
                    ..Asked::get(&target)
                },
                LatencyMode::None,
                &f,
            );
            assert!(h.body.is_empty());
            assert!(h.head_len.is_some());
        }
        assert_eq!(seen.len(), 4);
    }

    /// The exact path and query first, then the path (slot value), then a
    /// recorded body of the template with the slot value written into its
    /// `id`; a body not kept is filler of its recorded size.
    #[test]
    fn body_selection_order() {
        let mut m = model(&[(200, 4)], &[20.0], &[]);
        m.samples = vec![
            sample("/posts/1?full=1", 200, 1, r#"{"id":1,"full":true}"#),
            sample("/posts/1?x=0", 200, 1, r#"{"id":1,"full":false}"#),
            sample("/posts/2", 200, 1, r#"{"id":2,"userId":2,"title":"two"}"#),
            ResponseSample {
                body: None,
                size: 1234,
                ..sample("/posts/3", 200, 1, "")
            },
        ];
        let r = responder(&m);
        let f = filler(r.max_filler());
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut get = |t: &str| {
            let a = r.draw(&mut rng, Asked::get(t), LatencyMode::None, &f);
            (
                a.status.as_u16(),
                String::from_utf8_lossy(&a.body).into_owned(),
                a.sample,
            )
        };
        for _ in 0..20 {
            assert_eq!(get("/posts/1?full=1").1, r#"{"id":1,"full":true}"#);
            assert_eq!(get("/posts/1?x=0").1, r#"{"id":1,"full":false}"#);
            // Same path, another query: one of the path's samples.
            assert!(get("/posts/1?y=1").1.starts_with(r#"{"id":1,"#));
            assert_eq!(
                get("/posts/2?utm=z").1,
                r#"{"id":2,"userId":2,"title":"two"}"#
            );
        }
        let (_, body, s) = get("/posts/3");
        assert_eq!((body.len(), s), (1234, Some(3)));
        assert_eq!(r.headers(3)["x-total-count"], "8");
        // Never recorded, no 404 recorded: a 200 body of the template with
        // the value written where it echoed the recorded one (the `id`,
        // not another field that happened to hold the same value).
        let mut echoed = std::collections::BTreeSet::new();
        for _ in 0..40 {
            let (status, body, _) = get("/posts/77");
            assert_eq!(status, 200);
            echoed.insert(body);
        }
        assert!(
            echoed.contains(r#"{"id":77,"title":"two","userId":2}"#),
            "{echoed:?}"
        );
        assert!(echoed.contains(r#"{"full":true,"id":77}"#), "{echoed:?}");
        assert!(echoed.iter().any(|b| b.len() == 1234), "{echoed:?}");
    }

    /// Where the template recorded 404s and every recorded path kept a
    /// sample, a value never recorded answers the recorded 404; where the
    /// recording is incomplete it cannot tell and follows the mix.
    #[test]
    fn unknown_values_follow_the_recording() {
        let mut m = model(&[(200, 2), (404, 1)], &[30.0], &[]);
        m.samples = vec![
            sample("/posts/1", 200, 1, r#"{"id":1}"#),
            sample("/posts/2", 200, 1, r#"{"id":2}"#),
            sample("/posts/999", 404, 1, r#"{"error":"no such post"}"#),
        ];
        m.complete = true;
        let r = responder(&m);
        let f = filler(r.max_filler());
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        for k in [5, 1000, 31337] {
            let a = r.draw(
                &mut rng,
                Asked::get(&format!("/posts/{k}")),
                LatencyMode::None,
                &f,
            );
            assert_eq!(a.status, StatusCode::NOT_FOUND);
            assert_eq!(&a.body[..], br#"{"error":"no such post"}"#);
            assert_eq!(a.sample, Some(2));
        }
        let a = r.draw(&mut rng, Asked::get("/posts/2"), LatencyMode::None, &f);
        assert_eq!(
            (a.status, &a.body[..]),
            (StatusCode::OK, &br#"{"id":2}"#[..])
        );

        m.complete = false;
        let r = responder(&m);
        let statuses: std::collections::BTreeSet<u16> = (0..200)
            .map(|k| {
                let t = format!("/posts/{}", 10 + k);
                r.draw(&mut rng, Asked::get(&t), LatencyMode::None, &f)
                    .status
                    .as_u16()
            })
            .collect();
        assert_eq!(statuses, [200, 404].into());

        // No 404 recorded: a recorded 200, echoing the value.
        m.complete = true;
        m.status.remove(&404);
        m.samples.pop();
        let r = responder(&m);
        let a = r.draw(&mut rng, Asked::get("/posts/5"), LatencyMode::None, &f);
        assert_eq!(
            (a.status, &a.body[..]),
            (StatusCode::OK, &br#"{"id":5}"#[..])
        );
    }

    /// A browser's recording has 304s where its cache was warm; a client
    /// without the cached copy (no `If-None-Match`) gets the recorded 200.
    #[test]
    fn recorded_304s_answer_conditional_requests_only() {
        let mut m = model(&[(200, 1), (304, 9)], &[], &[]);
        m.samples = vec![
            sample("/posts/1", 200, 1, r#"{"id":1}"#),
            ResponseSample {
                body: None,
                size: 0,
                ..sample("/posts/1", 304, 9, "")
            },
        ];
        let r = responder(&m);
        let f = filler(r.max_filler());
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut conditional = std::collections::BTreeSet::new();
        for _ in 0..50 {
            let a = r.draw(&mut rng, Asked::get("/posts/1"), LatencyMode::None, &f);
            assert_eq!(
                (a.status, &a.body[..]),
                (StatusCode::OK, &br#"{"id":1}"#[..])
            );
            let asked = Asked {
                conditional: true,
                ..Asked::get("/posts/1")
            };
            conditional.insert(
                r.draw(&mut rng, asked, LatencyMode::None, &f)
                    .status
                    .as_u16(),
            );
        }
        assert_eq!(conditional, [200, 304].into());
    }

    #[test]
    fn informational_and_missing_statuses_become_200() {
        let r = responder(&model(&[(0, 5), (101, 3)], &[], &[]));
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let a = r.draw(
            &mut rng,
            Asked::get("/posts/1"),
            LatencyMode::None,
            &Bytes::new(),
        );
        assert_eq!(a.status, StatusCode::OK);
    }

    #[test]
    fn preflight_headers_come_from_a_recorded_response() {
        let mut m = model(&[(200, 1)], &[], &[]);
        let mut s = sample("/posts/1", 200, 1, "{}");
        s.headers = vec![
            (
                "Access-Control-Allow-Origin".into(),
                "http://app.test".into(),
            ),
            ("Access-Control-Allow-Credentials".into(), "true".into()),
            ("ETag".into(), "\"x\"".into()),
        ];
        m.samples = vec![s];
        let cors = responder(&m).cors().cloned().unwrap();
        assert_eq!(cors.len(), 2);
        assert_eq!(cors["access-control-allow-origin"], "http://app.test");
        assert!(responder(&model(&[(200, 1)], &[], &[])).cors().is_none());
    }
}
