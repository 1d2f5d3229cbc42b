//! Request generation: `generate(&model, &mut rng)` draws one realistic
//! request from a traffic model.
//!
//! Pure and deterministic: the same model and RNG state give the same
//! request, so a seeded run is reproducible. The endpoint is drawn by
//! weight; then one of its recorded combinations ([`crate::model::joint`]):
//! the path slot values, query pairs and header set that went together,
//! with their recorded frequency. Only open slots (an open range of
//! values, such as ids) are drawn from their own pool (recorded values
//! with their frequency, or a fresh value of the recorded type). Models
//! written before version 3 have no combinations: every slot is drawn from
//! its pool, and optional parameters and headers appear with their
//! recorded presence. Body fields are drawn from their pools, with their
//! presence. Secret placeholders (`{{secret:NAME}}`) are left in place for
//! the replayer to fill.

use rand::Rng;
use serde_json::Value;

pub use crate::model::correlate::Slot;
pub use crate::model::encode::encode_into;
use crate::model::encode::{PATH_SAFE, QUERY_SAFE};
use crate::model::{BodyModel, Endpoint, JsonField, JsonType, Segment, TrafficModel, Tuple};
use crate::target::Target;

/// One generated request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Index into `model.endpoints`.
    pub endpoint: usize,
    pub method: String,
    /// Path and query in origin form (`/users/7?x=1`): the origin is the
    /// executor's (the target's) or, for data, [`Request::url`]'s.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl Request {
    /// The absolute URL: on `target` (its origin and base path), or on
    /// the recorded origin of the request's endpoint.
    pub fn url(&self, model: &TrafficModel, target: Option<&Target>) -> String {
        match target {
            Some(t) => t.url(&self.path),
            None => {
                let e = &model.endpoints[self.endpoint];
                format!("{}://{}{}", e.scheme, e.host, self.path)
            }
        }
    }
}

/// One scheduled request: its number in the global schedule, its offset
/// (seconds), its session (`--sessions`) and the endpoint the session
/// chose (`None`: drawn by weight when the request is).
pub type Scheduled = (u64, f64, Option<u64>, Option<usize>);

/// The global schedule of a run, as `run` walks it: the independent
/// arrivals of `spec`, or with `sessions` the session schedule (when the
/// model has sessions). The schedule draws from the seed's schedule
/// stream ([`crate::schedule::schedule_rng`]).
pub fn schedule<'m>(
    model: &'m TrafficModel,
    spec: crate::schedule::ScheduleSpec,
    sessions: bool,
    seed: u64,
) -> Box<dyn Iterator<Item = Scheduled> + 'm> {
    use crate::schedule::{schedule_rng, Schedule, SessionSchedule};
    let session = sessions
        .then(|| SessionSchedule::new(model, &spec, schedule_rng(seed)))
        .flatten();
    match session {
        Some(mut s) => Box::new(
            (0u64..)
                .map_while(move |i| s.next_in_session().map(|e| (i, e)))
                .map(|(i, (at, e, session))| (i, at, Some(session), Some(e))),
        ),
        None => Box::new(
            (0u64..)
                .zip(Schedule::new(&model.arrival, spec, schedule_rng(seed)))
                .map(|(i, at)| (i, at, None, None)),
        ),
    }
}

/// The request of scheduled request `i`: drawn from its own stream of
/// `base` (the seed's, [`crate::schedule::request_rng`]), the endpoint by
/// weight unless given, produced values as placeholders naming the link
/// (docs/model-format.md, `links[]`).
pub fn scheduled_request(
    model: &TrafficModel,
    base: &mut rand_chacha::ChaCha8Rng,
    i: u64,
    endpoint: Option<usize>,
) -> Request {
    let rng = crate::schedule::request_rng(base, i);
    let idx = endpoint.unwrap_or_else(|| pick_endpoint(model, rng));
    let fills = produced_placeholders(model, idx);
    generate_filled(model, idx, &fills, rng)
}

/// Draws a request: the endpoint by weight, then its slots.
pub fn generate<R: Rng + ?Sized>(model: &TrafficModel, rng: &mut R) -> Request {
    let idx = pick_endpoint(model, rng);
    generate_endpoint(model, idx, rng)
}

/// Draws an endpoint index by weight (one draw of `rng`).
pub fn pick_endpoint<R: Rng + ?Sized>(model: &TrafficModel, rng: &mut R) -> usize {
    let total = model.requests();
    if total == 0 {
        0
    } else {
        model.endpoint_at(rng.random_range(0..total))
    }
}

/// Draws a request for one endpoint.
///
/// # Panics
/// If `idx` is not an endpoint index of `model`.
pub fn generate_endpoint<R: Rng + ?Sized>(
    model: &TrafficModel,
    idx: usize,
    rng: &mut R,
) -> Request {
    generate_filled(model, idx, &[], rng)
}

/// The placeholder `generate` writes where a request uses a value a
/// response produces (link `k` of the model, as `inspect` numbers them):
/// there is no live response to take it from.
pub fn produced_placeholder(k: usize) -> String {
    format!("{{{{produced:{k}}}}}")
}

/// For data (`replay generate`): every slot of `idx` that the model links
/// to a producer, filled with [`produced_placeholder`].
pub fn produced_placeholders(model: &TrafficModel, idx: usize) -> Vec<(Slot, String)> {
    model
        .links
        .iter()
        .enumerate()
        .filter(|(_, l)| l.consumer == idx)
        .map(|(k, l)| (l.slot.clone(), produced_placeholder(k)))
        .collect()
}

/// Draws a request for one endpoint with some slots given (`fills`: the
/// produced values a replay captured from live responses). A given slot's
/// pool is still drawn from, so the rest of the request is the one the
/// same seed gives without it.
pub fn generate_filled<R: Rng + ?Sized>(
    model: &TrafficModel,
    idx: usize,
    fills: &[(Slot, String)],
    rng: &mut R,
) -> Request {
    let e = &model.endpoints[idx];
    let mut path = String::with_capacity(64);
    let tuple = e.joint.as_ref().and_then(|j| j.pick(rng));
    match tuple {
        Some(t) => {
            push_path(&mut path, e, &t.path, fills, rng);
            push_query_joint(&mut path, e, t, fills, rng);
        }
        None => {
            push_path(&mut path, e, &[], fills, rng);
            push_query(&mut path, e, fills, rng);
        }
    }

    let body = e.body.as_ref().and_then(|b| body(b, fills, rng));
    let mut headers = Vec::with_capacity(e.headers.len() + 1);
    // A Content-Type goes with a body: left out without one, the body's
    // type added when none was recorded.
    let skip = |name: &str| body.is_none() && name.eq_ignore_ascii_case("content-type");
    match (tuple, &e.joint) {
        (Some(t), Some(j)) => {
            for (name, value) in j.headers(t, rng) {
                if skip(name) {
                    continue;
                }
                let value = match value {
                    Some(v) => v.clone(),
                    None => pool_of(&e.headers, name).map_or_else(String::new, |p| p.sample(rng)),
                };
                headers.push((name.clone(), value));
            }
        }
        _ => {
            for h in &e.headers {
                if skip(&h.name) || (h.presence < 1.0 && rng.random::<f64>() >= h.presence) {
                    continue;
                }
                headers.push((h.name.clone(), h.pool.sample(rng)));
            }
        }
    }
    let has_content_type = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
    if let (Some((_, mime)), false) = (&body, has_content_type) {
        if !mime.is_empty() {
            headers.push(("Content-Type".to_string(), mime.clone()));
        }
    }
    fill_credentials(&mut headers, fills);
    Request {
        endpoint: idx,
        method: e.method.clone(),
        path,
        headers,
        body: body.map(|(b, _)| b),
    }
}

/// Credential headers given a produced token: the header's value becomes
/// the recorded scheme and the token (`Bearer <token>`) in place of the
/// scrubbed `{{secret:NAME}}`.
fn fill_credentials(headers: &mut [(String, String)], fills: &[(Slot, String)]) {
    for (slot, token) in fills {
        if let Slot::Header { name, prefix } = slot {
            for (n, v) in headers.iter_mut() {
                if n.eq_ignore_ascii_case(name) {
                    *v = format!("{prefix}{token}");
                }
            }
        }
    }
}

/// The value given for `slot`, if any.
fn filled<'f>(fills: &'f [(Slot, String)], slot: &Slot) -> Option<&'f str> {
    fills
        .iter()
        .find(|(s, _)| s == slot)
        .map(|(_, v)| v.as_str())
}

/// The pool of the parameter `name` (headers: any case).
fn pool_of<'e>(params: &'e [crate::model::Param], name: &str) -> Option<&'e crate::model::Pool> {
    params
        .iter()
        .find(|p| p.name == name)
        .or_else(|| params.iter().find(|p| p.name.eq_ignore_ascii_case(name)))
        .map(|p| &p.pool)
}

/// The path: `recorded` values for closed slots (a recorded combination's;
/// empty without one), a draw from the pool for the others (drawn even
/// when `fills` gives the value, so the rest of the request is the one the
/// same seed gives without it).
fn push_path<R: Rng + ?Sized>(
    url: &mut String,
    e: &Endpoint,
    recorded: &[Option<String>],
    fills: &[(Slot, String)],
    rng: &mut R,
) {
    if e.segments.is_empty() {
        url.push('/');
        return;
    }
    for s in &e.segments {
        url.push('/');
        match s {
            Segment::Literal(l) => url.push_str(l),
            Segment::Slot { index, suffix } => {
                let drawn = match recorded.get(*index) {
                    Some(Some(v)) => v.clone(),
                    _ => e.path_params[*index].pool.sample(rng),
                };
                let v = filled(fills, &Slot::Path(*index)).unwrap_or(&drawn);
                encode_into(url, v, PATH_SAFE);
                url.push_str(suffix);
            }
        }
    }
}

/// The query pairs of a recorded combination, in recorded order; open
/// values drawn from their pool. A given (produced) value replaces the
/// pair's, or is added when the combination has no such pair.
fn push_query_joint<R: Rng + ?Sized>(
    url: &mut String,
    e: &Endpoint,
    t: &Tuple,
    fills: &[(Slot, String)],
    rng: &mut R,
) {
    let mut first = true;
    let mut pair = |url: &mut String, name: &str, v: &str| {
        url.push(if first { '?' } else { '&' });
        first = false;
        encode_into(url, name, QUERY_SAFE);
        if !v.is_empty() {
            url.push('=');
            encode_into(url, v, QUERY_SAFE);
        }
    };
    for (name, value) in &t.query {
        let drawn = match value {
            Some(v) => v.clone(),
            None => pool_of(&e.query, name).map_or_else(String::new, |p| p.sample(rng)),
        };
        let v = filled(fills, &Slot::Query(name.clone())).unwrap_or(&drawn);
        pair(url, name, v);
    }
    for (slot, v) in fills {
        if let Slot::Query(name) = slot {
            if !t.query.iter().any(|(n, _)| n == name) {
                pair(url, name, v);
            }
        }
    }
}

fn push_query<R: Rng + ?Sized>(
    url: &mut String,
    e: &Endpoint,
    fills: &[(Slot, String)],
    rng: &mut R,
) {
    let mut first = true;
    for q in &e.query {
        let given = fills
            .iter()
            .find(|(s, _)| matches!(s, Slot::Query(n) if *n == q.name));
        if given.is_none() && q.presence < 1.0 && rng.random::<f64>() >= q.presence {
            continue;
        }
        url.push(if first { '?' } else { '&' });
        first = false;
        encode_into(url, &q.name, QUERY_SAFE);
        let drawn = q.pool.sample(rng);
        let v = given.map_or(drawn, |(_, v)| v.clone());
        if !v.is_empty() {
            url.push('=');
            encode_into(url, &v, QUERY_SAFE);
        }
    }
}

/// Generates a body and its mime type, or `None` when this request has
/// none (by the recorded presence).
fn body<R: Rng + ?Sized>(
    b: &BodyModel,
    fills: &[(Slot, String)],
    rng: &mut R,
) -> Option<(Vec<u8>, String)> {
    let presence = match b {
        BodyModel::Json { presence, .. }
        | BodyModel::Form { presence, .. }
        | BodyModel::Text { presence, .. }
        | BodyModel::Opaque { presence, .. } => *presence,
    };
    if presence < 1.0 && rng.random::<f64>() >= presence {
        return None;
    }
    Some(match b {
        BodyModel::Json {
            mime,
            skeleton,
            fields,
            ..
        } => {
            let mut v = skeleton.clone();
            fill_json(&mut v, "$", fields, fills, rng);
            (serde_json::to_vec(&v).unwrap_or_default(), mime.clone())
        }
        BodyModel::Form { mime, fields, .. } => {
            let mut s = String::new();
            for f in fields {
                if f.presence < 1.0 && rng.random::<f64>() >= f.presence {
                    continue;
                }
                if !s.is_empty() {
                    s.push('&');
                }
                encode_into(&mut s, &f.name, QUERY_SAFE);
                s.push('=');
                encode_into(&mut s, &f.pool.sample(rng), QUERY_SAFE);
            }
            (s.into_bytes(), mime.clone())
        }
        BodyModel::Text { mime, pool, .. } => (pool.sample(rng).into_bytes(), mime.clone()),
        BodyModel::Opaque { mime, size, .. } => {
            let n = (size.sample(rng).round() as usize).min(MAX_OPAQUE_BODY);
            let bytes = (0..n).map(|_| rng.random::<u8>()).collect();
            (bytes, mime.clone())
        }
    })
}

/// Generated binary bodies are capped at this size.
const MAX_OPAQUE_BODY: usize = 8 * 1024 * 1024;

fn field<'f>(fields: &'f [JsonField], path: &str) -> Option<&'f JsonField> {
    fields
        .binary_search_by(|f| f.path.as_str().cmp(path))
        .ok()
        .map(|i| &fields[i])
}

fn fill_json<R: Rng + ?Sized>(
    v: &mut Value,
    path: &str,
    fields: &[JsonField],
    fills: &[(Slot, String)],
    rng: &mut R,
) {
    match v {
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                let p = format!("{path}.{k}");
                let drop = match field(fields, &p) {
                    Some(f) => f.presence < 1.0 && rng.random::<f64>() >= f.presence,
                    None => false,
                };
                if drop {
                    map.remove(&k);
                } else if let Some(child) = map.get_mut(&k) {
                    fill_json(child, &p, fields, fills, rng);
                }
            }
        }
        Value::Array(items) => {
            let p = format!("{path}[]");
            for item in items.iter_mut() {
                fill_json(item, &p, fields, fills, rng);
            }
        }
        leaf => {
            if let Some(f) = field(fields, path) {
                let drawn = f.pool.sample(rng);
                // A produced value (or its placeholder) in place of the draw.
                let s = match filled(fills, &Slot::Json(path.to_string())) {
                    Some(v) => v.to_string(),
                    None => drawn,
                };
                *leaf = match f.json_type {
                    JsonType::String => Value::String(s),
                    JsonType::Number => serde_json::from_str::<serde_json::Number>(&s)
                        .map(Value::Number)
                        .unwrap_or(Value::String(s)),
                    JsonType::Bool => Value::Bool(s == "true"),
                    JsonType::Null => Value::Null,
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{Body, BodyKind, Exchange, Response};
    use crate::model::{BuildOptions, ModelBuilder};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn model() -> TrafficModel {
        let mut b = ModelBuilder::new(BuildOptions::default());
        for i in 0..200 {
            let (method, target, body) = match i % 4 {
                0 | 1 => ("GET", format!("/posts/{}?page={}", i % 50, i % 5), None),
                2 => ("GET", "/users/me".to_string(), None),
                _ => (
                    "POST",
                    "/posts".to_string(),
                    Some(Body {
                        mime: "application/json".into(),
                        text: Some(format!(r#"{{"title":"t{}","n":{},"ok":true}}"#, i % 7, i)),
                        size: 30,
                        kind: BodyKind::Json,
                        ..Default::default()
                    }),
                ),
            };
            b.observe(&Exchange {
                started_ns: i * 1_000_000,
                method: method.into(),
                scheme: "http".into(),
                authority: "shop.example:8080".into(),
                target,
                headers: vec![
                    ("Cookie".into(), "sid=abc".into()),
                    ("Accept".into(), "*/*".into()),
                ],
                body,
                response: Some(Response {
                    status: 200,
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        b.finish()
    }

    #[test]
    fn generates_valid_requests_deterministically() {
        let m = model();
        let mut a = ChaCha8Rng::seed_from_u64(5);
        let mut b = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..100 {
            let r = generate(&m, &mut a);
            assert_eq!(r, generate(&m, &mut b));
            assert!(r.path.starts_with('/'), "{}", r.path);
            let url = r.url(&m, None);
            assert!(url.starts_with("http://shop.example:8080/"), "{url}");
            let cookie = r.headers.iter().find(|h| h.0 == "Cookie").unwrap();
            assert_eq!(cookie.1, "{{secret:cookie}}");
            if r.method == "POST" {
                let v: Value = serde_json::from_slice(r.body.as_ref().unwrap()).unwrap();
                assert!(v["title"].as_str().unwrap().starts_with('t'));
                assert!(v["n"].is_number());
                assert_eq!(v["ok"], Value::Bool(true));
                assert!(r
                    .headers
                    .iter()
                    .any(|h| h.0 == "Content-Type" && h.1 == "application/json"));
            } else {
                assert!(r.body.is_none());
            }
        }
    }

    #[test]
    fn target_replaces_the_origin_and_keeps_placeholders() {
        let m = model();
        let t: Target = "https://staging.example/base/".parse().unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let r = generate(&m, &mut rng);
        let url = r.url(&m, Some(&t));
        assert!(url.starts_with("https://staging.example/base/"), "{}", url);
        assert!(!url.contains("base//"), "{url}");
        let mut s = String::new();
        encode_into(&mut s, "a b&{{secret:tok}}/é", QUERY_SAFE);
        assert_eq!(s, "a%20b%26{{secret:tok}}/%C3%A9");
    }
}
