//! Auto-correlation learned from a capture: a value that first appears in
//! a response (a JSON field, a segment of `Location`, a token-like header
//! such as `X-Subject-Token`) and is later used by the same client in a
//! request's path, query, JSON body or credential header is a *produced*
//! value — the id a `POST /posts` returned and the `DELETE /posts/{id}`
//! that followed, or the token a login returned and the `Authorization:
//! Bearer …` of every later request. The model keeps the link (producer endpoint and where in the
//! response, consumer endpoint and slot, how often and how soon); the
//! replayer captures the value from the live response and the dependent
//! request uses it, instead of an id the fresh service never issued.
//!
//! Memory is bounded: at most `MAX_PRODUCED` values are remembered and
//! `MAX_LINKS` candidate links counted, whatever the capture's length.

use std::collections::BTreeMap;

use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::Value;

use super::hist::LogHist;

/// Values remembered as produced (oldest kept; later ones not tracked).
const MAX_PRODUCED: usize = 200_000;
/// Hashes of values seen in requests (a value a request used first is not
/// produced by a later response).
const MAX_REQUESTED: usize = 1_000_000;
/// Candidate links counted.
const MAX_LINKS: usize = 4096;
/// Distinct values remembered per consumer slot, over all slots.
const MAX_SLOT_VALUES: usize = 2_000_000;
/// A slot whose produced numbers lie inside the range it used by itself at
/// least this often draws from one population: no link.
const MAX_OVERLAP: f64 = 0.5;
/// Response bodies larger than this are not searched for values.
const MAX_BODY: usize = 256 * 1024;
/// A slot is linked when at least this share of its requests used a
/// produced value (a read of created posts among reads of seeded ones is
/// a link too: the replay mixes them in the recorded proportion).
pub const MIN_SHARE: f64 = 0.05;
/// ... and at least this many did.
const MIN_COUNT: u64 = 2;

/// Where in a response a produced value sits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    /// A JSON field, `$.id`, `$.data.id`, `$[].id` (every element).
    Json(String),
    /// Path segment `k` of the `Location` header's path.
    Location(usize),
    /// The whole value of a token-like response header (lower-case name,
    /// see [`token_header`]).
    Header(String),
}

/// Where in a request a consumed value goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Slot {
    /// Path segment position `k` while recording; index into the
    /// endpoint's `path_params` in the finished model.
    Path(usize),
    /// A query parameter by name.
    Query(String),
    /// A field of a JSON request body, `$.postId` (the notation of body
    /// fields).
    Json(String),
    /// A credential header (lower-case name), which the model scrubbed to
    /// `{{secret:NAME}}`: the value follows `prefix` (`Bearer `, or empty
    /// when the header is the bare token).
    Header { name: String, prefix: String },
}

pub use crate::credential::token_header;

/// A credential header's value split into its scheme prefix and the
/// token: `Bearer abc` → (`Bearer `, `abc`); a bare value has no prefix.
pub fn split_credential(value: &str) -> (&str, &str) {
    let v = value.trim();
    match v.split_once(' ') {
        Some((scheme, token))
            if !scheme.is_empty()
                && scheme.len() <= 16
                && scheme.bytes().all(|b| b.is_ascii_alphabetic())
                && !token.trim().is_empty() =>
        {
            let token = token.trim_start();
            (&v[..v.len() - token.len()], token)
        }
        _ => ("", v),
    }
}

/// A learned link, in builder terms (accumulator ids, segment positions).
#[derive(Debug, Clone)]
pub struct RawLink {
    pub producer: u32,
    pub source: Origin,
    pub consumer: u32,
    pub slot: Slot,
    pub count: u64,
    pub lag_ms: LogHist,
}

struct Produced {
    client: u64,
    producer: u32,
    source: u32,
    ts_ns: i64,
}

/// Learns links while the builder observes exchanges in time order.
#[derive(Default)]
pub struct Correlator {
    /// By the value's hash (64 bits: a collision is one value taken for
    /// another, at worst one spurious use).
    produced: FxHashMap<u64, Produced>,
    /// Hashes of response bodies already searched: a body seen before
    /// produced nothing new (a capture of one endpoint hammered with
    /// identical answers pays one parse).
    bodies: FxHashSet<u64>,
    requested: FxHashSet<u64>,
    sources: Vec<Origin>,
    source_ids: FxHashMap<Origin, u32>,
    links: FxHashMap<(u32, u32, u32, Slot), (u64, LogHist)>,
    /// Per consumer slot, the distinct values (hashes) it used that a
    /// response had produced, and those it used otherwise.
    slot_values: FxHashMap<(u32, Slot), SlotValues>,
    slot_values_len: usize,
    /// No response will carry a value (see [`Correlator::off`]).
    off: bool,
}

/// What a consumer slot used, to tell a dependency from a coincidence of
/// numbers (see [`SlotValues::coincidence`]).
#[derive(Default)]
struct SlotValues {
    /// Numeric values it used that a response had produced first.
    produced: FxHashSet<u64>,
    /// The range of numeric values it used otherwise.
    other: Option<(u64, u64)>,
}

impl SlotValues {
    fn merge(&mut self, o: SlotValues) {
        self.produced.extend(o.produced);
        if let Some((lo, hi)) = o.other {
            self.note_other(lo);
            self.note_other(hi);
        }
    }

    fn note_other(&mut self, n: u64) {
        self.other = Some(match self.other {
            None => (n, n),
            Some((lo, hi)) => (lo.min(n), hi.max(n)),
        });
    }

    /// Share of the produced numbers that lie inside the range of the
    /// numbers the slot used on its own: high when the client draws from
    /// one range by itself (page numbers 1..50 that lists of posts also
    /// happen to carry as ids), low when it uses what responses hand out
    /// (created ids above the seeded ones, or a slot nothing else filled).
    /// Non-numeric values (UUIDs, slugs) rarely coincide; they are not
    /// judged.
    fn coincidence(&self) -> f64 {
        let Some((lo, hi)) = self.other else {
            return 0.0;
        };
        if self.produced.is_empty() {
            return 0.0;
        }
        let inside = self
            .produced
            .iter()
            .filter(|n| (lo..=hi).contains(*n))
            .count();
        inside as f64 / self.produced.len() as f64
    }
}

fn body_hash(b: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut h = rustc_hash::FxHasher::default();
    h.write(b);
    h.finish()
}

fn hash(v: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    v.hash(&mut h);
    h.finish()
}

/// Whether a value can identify something: not empty, not a word of
/// prose, not a boolean. Short numbers count (ids start at 1), and so do
/// tokens as long as JWTs (values are kept as hashes).
fn id_like(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 4096
        && v != "true"
        && v != "false"
        && v != "null"
        && !v.contains(char::is_whitespace)
}

impl Correlator {
    pub fn new() -> Correlator {
        Correlator::default()
    }

    /// A correlator for captures that keep no response content (access
    /// logs): nothing can be produced, so there is nothing to link and no
    /// request value needs remembering (a hash-set insert per path segment
    /// and query value, the largest share of modelling a log line).
    pub fn off() -> Correlator {
        Correlator {
            off: true,
            ..Correlator::default()
        }
    }

    /// Whether this correlator ignores everything ([`Correlator::off`]).
    pub fn is_off(&self) -> bool {
        self.off
    }

    fn source_id(&mut self, s: Origin) -> u32 {
        if let Some(id) = self.source_ids.get(&s) {
            return *id;
        }
        let id = self.sources.len() as u32;
        self.sources.push(s.clone());
        self.source_ids.insert(s, id);
        id
    }

    /// A request of endpoint accumulator `consumer` by `client` at `ts_ns`
    /// used `value` in `slot`: a link if a response produced it earlier.
    ///
    /// Returns whether the value was produced (the builder keeps such
    /// values out of the slot's pool when the slot turns out linked).
    pub fn used(
        &mut self,
        consumer: u32,
        client: u64,
        ts_ns: i64,
        slot: Slot,
        value: &str,
    ) -> bool {
        if self.off || !id_like(value) {
            return false;
        }
        let h = hash(value);
        let produced = self
            .produced
            .get(&h)
            .is_some_and(|p| p.client == client && p.ts_ns <= ts_ns);
        self.note_value(consumer, &slot, value, produced);
        if let Some(p) = self.produced.get(&h) {
            if p.client == client && p.ts_ns <= ts_ns {
                let key = (p.producer, p.source, consumer, slot);
                let lag_ms = (ts_ns - p.ts_ns) as f64 / 1e6;
                if let Some(l) = self.links.get_mut(&key) {
                    l.0 += 1;
                    l.1.record(lag_ms);
                } else if self.links.len() < MAX_LINKS {
                    let mut h = LogHist::default();
                    h.record(lag_ms);
                    self.links.insert(key, (1, h));
                }
                return true;
            }
        }
        if self.requested.len() < MAX_REQUESTED {
            self.requested.insert(h);
        }
        false
    }

    fn note_value(&mut self, consumer: u32, slot: &Slot, value: &str, produced: bool) {
        let Ok(n) = value.parse::<u64>() else {
            return;
        };
        if self.slot_values_len >= MAX_SLOT_VALUES {
            return;
        }
        let v = self
            .slot_values
            .entry((consumer, slot.clone()))
            .or_default();
        if !produced {
            v.note_other(n);
        } else if v.produced.insert(n) {
            self.slot_values_len += 1;
        }
    }

    /// A response of endpoint accumulator `producer` to `client`, ending at
    /// `ts_ns`: its JSON body, `Location` and token-like headers are
    /// searched for values no request used before.
    pub fn produced(
        &mut self,
        producer: u32,
        client: u64,
        ts_ns: i64,
        body: Option<&[u8]>,
        headers: &[(String, String)],
    ) {
        if self.off || self.produced.len() >= MAX_PRODUCED {
            return;
        }
        let mut found: Vec<(Origin, String)> = Vec::new();
        if let Some(b) = body.filter(|b| b.len() <= MAX_BODY && looks_json(b)) {
            let new_body = self.bodies.len() >= MAX_REQUESTED || self.bodies.insert(body_hash(b));
            if new_body {
                if let Ok(v) = serde_json::from_slice::<Value>(b) {
                    json_values(&v, "$", &mut found, 0);
                }
            }
        }
        for (name, value) in headers {
            if token_header(name) {
                let name = name.to_ascii_lowercase();
                found.push((Origin::Header(name), value.trim().to_string()));
            }
        }
        let location = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("location"))
            .map(|(_, v)| v.as_str());
        if let Some(loc) = location {
            let path = loc
                .split_once("://")
                .map_or(loc, |(_, rest)| rest.find('/').map_or("/", |i| &rest[i..]));
            let path = path.split(['?', '#']).next().unwrap_or("");
            for (k, seg) in super::template::split_path(path).enumerate() {
                found.push((Origin::Location(k), seg.to_string()));
            }
        }
        for (source, value) in found {
            let h = hash(&value);
            if !id_like(&value)
                || self.produced.contains_key(&h)
                || self.requested.contains(&h)
                || self.produced.len() >= MAX_PRODUCED
            {
                continue;
            }
            let source = self.source_id(source);
            self.produced.insert(
                h,
                Produced {
                    client,
                    producer,
                    source,
                    ts_ns,
                },
            );
        }
    }

    /// The links with enough evidence; `root` maps an accumulator id to the
    /// one it was merged into, `slot_total` gives how many requests of an
    /// accumulator filled a slot.
    pub fn finish(
        self,
        root: &mut dyn FnMut(u32) -> u32,
        slot_total: &mut dyn FnMut(u32, &Slot) -> u64,
    ) -> Vec<RawLink> {
        let mut merged: BTreeMap<(u32, u32, u32, Slot), (u64, LogHist)> = BTreeMap::new();
        for ((p, s, c, slot), (n, lag)) in self.links {
            let e = merged
                .entry((root(p), s, root(c), slot))
                .or_insert_with(|| (0, LogHist::default()));
            e.0 += n;
            e.1.merge(&lag);
        }
        let mut values: BTreeMap<(u32, Slot), SlotValues> = BTreeMap::new();
        for ((c, slot), v) in self.slot_values {
            values.entry((root(c), slot)).or_default().merge(v);
        }
        // One producer per consumer slot: the one that supplied it most.
        let mut best: BTreeMap<(u32, Slot), RawLink> = BTreeMap::new();
        for ((p, s, c, slot), (n, lag)) in merged {
            let total = slot_total(c, &slot).max(1);
            if n < MIN_COUNT || (n as f64) < MIN_SHARE * total as f64 {
                continue;
            }
            let coincidence = values
                .get(&(c, slot.clone()))
                .map_or(0.0, SlotValues::coincidence);
            if coincidence >= MAX_OVERLAP {
                continue;
            }
            let link = RawLink {
                producer: p,
                source: self.sources[s as usize].clone(),
                consumer: c,
                slot: slot.clone(),
                count: n,
                lag_ms: lag,
            };
            match best.get(&(c, slot.clone())) {
                Some(b) if b.count >= n => {}
                _ => {
                    best.insert((c, slot), link);
                }
            }
        }
        best.into_values().collect()
    }
}

fn looks_json(b: &[u8]) -> bool {
    matches!(
        b.iter().find(|c| !c.is_ascii_whitespace()),
        Some(b'{' | b'[')
    )
}

/// Scalar values of a JSON document with their paths (`$.a.b`, `$[].id`),
/// the notation of the model's body fields.
fn json_values(v: &Value, path: &str, out: &mut Vec<(Origin, String)>, depth: usize) {
    if depth > 16 || out.len() > 10_000 {
        return;
    }
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                json_values(child, &format!("{path}.{k}"), out, depth + 1);
            }
        }
        Value::Array(items) => {
            let p = format!("{path}[]");
            for child in items {
                json_values(child, &p, out, depth + 1);
            }
        }
        Value::String(s) => out.push((Origin::Json(path.to_string()), s.clone())),
        Value::Number(n) => out.push((Origin::Json(path.to_string()), n.to_string())),
        Value::Bool(_) | Value::Null => {}
    }
}

/// The scalar leaves of a JSON request body with their paths, for
/// [`Correlator::used`] with [`Slot::Json`].
pub fn json_leaves(text: &str) -> Vec<(String, String)> {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    json_values(&v, "$", &mut found, 0);
    found
        .into_iter()
        .filter_map(|(o, v)| match o {
            Origin::Json(p) => Some((p, v)),
            Origin::Location(_) | Origin::Header(_) => None,
        })
        .collect()
}

/// The values at `path` (`$.id`, `$[].id`) in a JSON document: what the
/// replayer captures from a live response.
pub fn json_at(v: &Value, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let rest = path.strip_prefix('$').unwrap_or(path);
    collect_at(v, rest, &mut out);
    out
}

fn collect_at(v: &Value, rest: &str, out: &mut Vec<String>) {
    if rest.is_empty() {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Number(n) => out.push(n.to_string()),
            _ => {}
        }
        return;
    }
    if let Some(after) = rest.strip_prefix("[]") {
        if let Value::Array(items) = v {
            for item in items {
                collect_at(item, after, out);
            }
        }
        return;
    }
    if let Some(after) = rest.strip_prefix('.') {
        let end = after.find(['.', '[']).unwrap_or(after.len());
        if let Some(child) = v.get(&after[..end]) {
            collect_at(child, &after[end..], out);
        }
    }
}

/// A JSON API exchange of client `c` on `api.test`, answered 200 after
/// 1 ms with `body`: what the correlation tests record.
#[cfg(test)]
pub(crate) fn api_exchange(
    t_ms: i64,
    method: &str,
    target: String,
    body: Option<String>,
) -> crate::ingest::Exchange {
    crate::ingest::Exchange {
        started_ns: t_ms * 1_000_000,
        method: method.into(),
        scheme: "http".into(),
        authority: "api.test".into(),
        target,
        response: Some(crate::ingest::Response {
            status: 200,
            mime: "application/json".into(),
            total_ms: Some(1.0),
            body: body.map(String::into_bytes),
            ..Default::default()
        }),
        client: Some("c".into()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(v: &str) -> Vec<(String, String)> {
        vec![("Location".to_string(), v.to_string())]
    }

    #[test]
    fn a_created_id_used_by_a_later_delete_is_a_link() {
        let mut c = Correlator::new();
        // Client 0 reads seeded post 7 (a request used it first: not
        // produced), creates posts 501 and 502 and deletes them.
        c.used(0, 0, 0, Slot::Path(1), "7");
        for (i, id) in [501, 502].iter().enumerate() {
            let t = 1_000_000 * (10 * i as i64 + 1);
            let body = format!(r#"{{"id":{id},"title":"hello world","userId":7}}"#);
            c.produced(1, 0, t, Some(body.as_bytes()), &[]);
            c.used(2, 0, t + 5_000_000, Slot::Path(1), &id.to_string());
        }
        // A later response carrying 7 does not make it produced.
        c.produced(1, 0, 50_000_000, Some(br#"{"id":7}"#), &[]);
        c.used(3, 0, 60_000_000, Slot::Path(1), "7");
        let links = c.finish(&mut |a| a, &mut |_, _| 2);
        assert_eq!(links.len(), 1, "{links:?}");
        let l = &links[0];
        assert_eq!((l.producer, l.consumer, l.count), (1, 2, 2));
        assert_eq!(l.source, Origin::Json("$.id".into()));
        assert_eq!(l.slot, Slot::Path(1));
    }

    /// Page numbers that a list of posts also carries as ids: the client
    /// pages through 1..=20 in random order by itself, and the ids 5..=12
    /// of an early list are a coincidence, not where its page numbers
    /// come from.
    #[test]
    fn a_coincidence_of_numbers_is_no_link() {
        let mut c = Correlator::new();
        let mut t = 0;
        for page in [1u64, 20, 2, 19, 3, 18] {
            t += 10;
            c.used(1, 0, t, Slot::Query("_page".into()), &page.to_string());
        }
        let ids: Vec<String> = (5..=12).map(|i| format!(r#"{{"id":{i}}}"#)).collect();
        let list = format!("[{}]", ids.join(","));
        c.produced(1, 0, t + 1, Some(list.as_bytes()), &[]);
        for round in 0..5 {
            for page in 1..=20u64 {
                t += 10;
                c.used(
                    1,
                    0,
                    t + round,
                    Slot::Query("_page".into()),
                    &page.to_string(),
                );
            }
        }
        let links = c.finish(&mut |a| a, &mut |_, _| 106);
        assert!(links.is_empty(), "{links:?}");
        // Ids above every number the slot used by itself are produced ones.
        let mut c = Correlator::new();
        for i in 0..10u64 {
            c.used(2, 0, 10 * i as i64, Slot::Path(1), &(1 + i % 5).to_string());
            let id = 100 + i;
            c.produced(
                3,
                0,
                10 * i as i64 + 1,
                Some(format!(r#"{{"id":{id}}}"#).as_bytes()),
                &[],
            );
            c.used(2, 0, 10 * i as i64 + 2, Slot::Path(1), &id.to_string());
        }
        let links = c.finish(&mut |a| a, &mut |_, _| 20);
        assert_eq!(links.len(), 1, "{links:?}");
    }

    #[test]
    fn values_of_another_client_or_from_location_and_lists() {
        let mut c = Correlator::new();
        c.produced(1, 0, 0, None, &loc("https://api.test/orders/abc-123?x=1"));
        c.used(2, 1, 10, Slot::Path(1), "abc-123");
        c.used(2, 1, 11, Slot::Path(1), "abc-123");
        assert!(
            c.finish(&mut |a| a, &mut |_, _| 2).is_empty(),
            "another client's value"
        );
        let v: Value = serde_json::from_str(r#"{"data":[{"id":"a"},{"id":"b"}]}"#).unwrap();
        assert_eq!(json_at(&v, "$.data[].id"), ["a", "b"]);
        let v: Value = serde_json::from_str(r#"{"id":501}"#).unwrap();
        assert_eq!(json_at(&v, "$.id"), ["501"]);
        let mut c = Correlator::new();
        c.produced(1, 0, 0, None, &loc("/orders/abc-123"));
        c.used(2, 0, 10, Slot::Path(1), "abc-123");
        c.produced(1, 0, 20, None, &loc("/orders/abc-124"));
        c.used(2, 0, 30, Slot::Path(1), "abc-124");
        let links = c.finish(&mut |a| a, &mut |_, _| 3);
        assert_eq!(links[0].source, Origin::Location(1));
    }

    /// A login's token, from a JSON field or a token header, reaches the
    /// credential header of later requests, with or without a scheme.
    #[test]
    fn tokens_from_a_login_reach_credential_headers() {
        assert_eq!(split_credential("Bearer abc.def"), ("Bearer ", "abc.def"));
        assert_eq!(split_credential("abc"), ("", "abc"));
        assert_eq!(split_credential("Bearer "), ("", "Bearer"));
        assert!(token_header("X-Subject-Token") && token_header("x-auth-token"));
        assert!(!token_header("Set-Cookie") && !token_header("Content-Type"));
        let bearer = || Slot::Header {
            name: "authorization".into(),
            prefix: "Bearer ".into(),
        };
        let mut c = Correlator::new();
        for i in 0..5i64 {
            // A JWT-long token: more than the 128 bytes ids were held to.
            let token = format!("eyJ{}.{i}", "x".repeat(300));
            c.produced(
                1,
                0,
                i * 100,
                Some(format!(r#"{{"token":"{token}"}}"#).as_bytes()),
                &[],
            );
            for k in 1..4 {
                assert!(c.used(2, 0, i * 100 + k, bearer(), &token));
            }
            let subject = format!("gAAAAB{i}");
            let h = vec![("X-Subject-Token".to_string(), subject.clone())];
            c.produced(3, 0, i * 100 + 50, None, &h);
            c.used(
                4,
                0,
                i * 100 + 60,
                Slot::Header {
                    name: "x-auth-token".into(),
                    prefix: String::new(),
                },
                &subject,
            );
        }
        let links = c.finish(&mut |a| a, &mut |_, _| 5);
        let find = |consumer| links.iter().find(|l| l.consumer == consumer).unwrap();
        assert_eq!(find(2).source, Origin::Json("$.token".into()));
        assert_eq!(find(2).slot, bearer());
        assert_eq!(find(4).source, Origin::Header("x-subject-token".into()));
    }
}
