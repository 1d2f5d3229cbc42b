//! Produced values at replay time: what live responses returned that the
//! model's links (see [`crate::model::correlate`]) say later requests
//! use. One store per load thread, so each thread's requests use the ids
//! its own responses created, as each recorded client did.

use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use rand::Rng;
use serde_json::Value;

use crate::model::correlate::{json_at, Origin, Slot};
use crate::model::{BodyModel, Link, TrafficModel};

/// Values kept per link: beyond it the oldest go (a consumer the schedule
/// runs less often than its producer cannot use them all).
const KEEP: usize = 1024;
/// Response bodies larger than this are not captured.
pub const MAX_CAPTURE: usize = 256 * 1024;
/// A consumer slot the recording filled with a produced value at least
/// this often has no fallback: without a value the request is dropped
/// (`no_produced_value`) rather than sent with an id the service never
/// issued. Below it, the recorded pool fills the slot as it did then.
const REQUIRED_SHARE: f64 = 0.9;

/// Sessions whose values are kept at once (`--sessions`); the oldest
/// started go first. A session lasts a few requests, so this is far more
/// than are ever active on one thread.
const SESSIONS: usize = 4096;

/// The captured values, per link: one store for independent arrivals,
/// one per session with `--sessions` (a session uses what its own
/// responses produced, as each recorded client did).
pub struct Produced {
    links: Vec<Link>,
    /// Per endpoint, the links it produces for and consumes from (shared
    /// slices: taking one per request copies no list).
    by_producer: Vec<Rc<[usize]>>,
    by_consumer: Vec<Rc<[usize]>>,
    values: Vec<VecDeque<String>>,
    sessions: HashMap<u64, Vec<VecDeque<String>>>,
    session_order: VecDeque<u64>,
    /// Credentials being fetched: (session, link) → when the producer was
    /// sent in a consumer's place ([`NoValue::instead`]).
    fetching: HashMap<(Option<u64>, usize), std::time::Instant>,
}

/// A consumer whose required value no response has produced yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoValue {
    /// The producer to send in the consumer's place, when the value is a
    /// credential no request is fetching yet: a client without a token
    /// logs in first. Ids (a delete of a created post) are waited for
    /// instead: creating one in a read's place would change the mix.
    pub instead: Option<usize>,
}

/// How long a credential fetch is waited for before another consumer may
/// send the producer again (a login that failed or went unanswered).
const FETCH_RETRY: std::time::Duration = std::time::Duration::from_secs(5);

impl Produced {
    pub fn new(model: &TrafficModel) -> Produced {
        let n = model.endpoints.len();
        let (mut by_producer, mut by_consumer) = (vec![Vec::new(); n], vec![Vec::new(); n]);
        for (i, l) in model.links.iter().enumerate() {
            if l.producer < n && l.consumer < n {
                by_producer[l.producer].push(i);
                by_consumer[l.consumer].push(i);
            }
        }
        Produced {
            values: vec![VecDeque::new(); model.links.len()],
            links: model.links.clone(),
            by_producer: by_producer.into_iter().map(Rc::from).collect(),
            by_consumer: by_consumer.into_iter().map(Rc::from).collect(),
            sessions: HashMap::new(),
            session_order: VecDeque::new(),
            fetching: HashMap::new(),
        }
    }

    /// The store of `session` (the shared one without a session).
    fn store(&mut self, session: Option<u64>) -> &mut Vec<VecDeque<String>> {
        let Some(id) = session else {
            return &mut self.values;
        };
        if !self.sessions.contains_key(&id) {
            if self.session_order.len() == SESSIONS {
                if let Some(old) = self.session_order.pop_front() {
                    self.sessions.remove(&old);
                }
            }
            self.session_order.push_back(id);
            self.sessions
                .insert(id, vec![VecDeque::new(); self.links.len()]);
        }
        self.sessions.entry(id).or_default()
    }

    /// Whether responses of `endpoint` are searched for values.
    pub fn captures(&self, endpoint: usize) -> bool {
        self.by_producer
            .get(endpoint)
            .is_some_and(|l| !l.is_empty())
    }

    /// Takes the values of a successful response of `endpoint` (its body
    /// and the headers [`keeps_header`] names).
    pub fn capture(
        &mut self,
        endpoint: usize,
        session: Option<u64>,
        body: &[u8],
        headers: &[(String, String)],
    ) {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim())
        };
        let Some(links) = self.by_producer.get(endpoint).cloned() else {
            return;
        };
        let json: Option<Value> = if links
            .iter()
            .any(|&l| matches!(self.links[l].source, Origin::Json(_)))
        {
            serde_json::from_slice(body).ok()
        } else {
            None
        };
        let mut captured = Vec::new();
        for &l in links.iter() {
            let found: Vec<String> = match &self.links[l].source {
                Origin::Json(path) => json.as_ref().map(|v| json_at(v, path)).unwrap_or_default(),
                Origin::Location(k) => header("location")
                    .and_then(|loc| location_segment(loc, *k))
                    .into_iter()
                    .collect(),
                Origin::Header(name) => header(name)
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
                    .into_iter()
                    .collect(),
            };
            captured.push((l, found));
        }
        for (l, found) in &captured {
            if !found.is_empty() {
                self.fetching.remove(&(session, *l));
            }
        }
        let store = self.store(session);
        for (l, found) in captured {
            let q = &mut store[l];
            for v in found {
                if q.len() == KEEP {
                    q.pop_front();
                }
                q.push_back(v);
            }
        }
    }

    /// The slots of a request of `endpoint` to fill with produced values.
    ///
    /// A slot the recording filled with produced values at least
    /// [`REQUIRED_SHARE`] of the time — or whose pool holds nothing else,
    /// or whose method is destructive — always takes one; others take one
    /// with the recorded share and otherwise keep the pool's draw (which
    /// holds only values no response produced). A destructive method
    /// (DELETE, PUT, PATCH) uses each value once, the oldest first (as a
    /// client deletes what it created); others use the latest. `Err` when
    /// a value is required and none has been produced yet.
    pub fn fills<R: Rng + ?Sized>(
        &mut self,
        model: &TrafficModel,
        endpoint: usize,
        session: Option<u64>,
        rng: &mut R,
    ) -> Result<Vec<(Slot, String)>, NoValue> {
        let Some(links) = self
            .by_consumer
            .get(endpoint)
            .filter(|l| !l.is_empty())
            .cloned()
        else {
            return Ok(Vec::new());
        };
        let e = &model.endpoints[endpoint];
        let destructive = matches!(e.method.as_str(), "DELETE" | "PUT" | "PATCH");
        let mut fills = Vec::with_capacity(links.len());
        for &l in links.iter() {
            let link = &self.links[l];
            let pool_empty = match &link.slot {
                Slot::Path(i) => e.path_params.get(*i).is_none_or(|p| p.pool.total() == 0),
                Slot::Query(n) => e
                    .query
                    .iter()
                    .find(|p| &p.name == n)
                    .is_none_or(|p| p.pool.total() == 0),
                Slot::Json(path) => match &e.body {
                    Some(BodyModel::Json { fields, .. }) => fields
                        .iter()
                        .find(|f| &f.path == path)
                        .is_none_or(|f| f.pool.total() == 0),
                    _ => true,
                },
                // The fallback is the --secret (or -H) value, which the
                // plan requires unless the link always fills the header.
                Slot::Header { .. } => false,
            };
            let required = destructive || pool_empty || link.share >= REQUIRED_SHARE;
            if !required && rng.random::<f64>() >= link.share {
                continue;
            }
            let slot = link.slot.clone();
            let q = &mut self.store(session)[l];
            let v = if destructive {
                q.pop_front()
            } else {
                q.back().cloned()
            };
            if let (true, Some(gone)) = (destructive, &v) {
                self.forget(l, session, gone);
            }
            match v {
                Some(v) => fills.push((slot, v)),
                None if required => {
                    let credential = matches!(slot, Slot::Header { .. });
                    let instead = (credential && self.claim_fetch(session, l))
                        .then_some(self.links[l].producer);
                    return Err(NoValue { instead });
                }
                None => {}
            }
        }
        Ok(fills)
    }
}

impl Produced {
    /// Whether a consumer of link `l` in `session` may send the producer
    /// in its place: none was sent for it within [`FETCH_RETRY`].
    fn claim_fetch(&mut self, session: Option<u64>, l: usize) -> bool {
        let now = std::time::Instant::now();
        if let Some(at) = self.fetching.get(&(session, l)) {
            if now.saturating_duration_since(*at) < FETCH_RETRY {
                return false;
            }
        }
        if self.fetching.len() >= SESSIONS {
            self.fetching.clear();
        }
        self.fetching.insert((session, l), now);
        true
    }

    /// How long a request of `endpoint` may wait for a produced value: the
    /// recorded lag from producing response to using request (its 99th
    /// percentile, over the endpoint's links).
    pub fn wait_for(&self, endpoint: usize) -> std::time::Duration {
        let ms = self
            .by_consumer
            .get(endpoint)
            .into_iter()
            .flat_map(|l| l.iter())
            .map(|&l| self.links[l].lag_ms.quantile(0.99))
            .fold(0.0, f64::max);
        std::time::Duration::from_secs_f64((ms / 1e3).clamp(0.0, 3600.0))
    }

    /// A destructive request of link `l` took `value`: the thing it names
    /// is gone, so no other request (a read, a comment on it) uses it.
    fn forget(&mut self, l: usize, session: Option<u64>, value: &str) {
        let (producer, source) = (self.links[l].producer, self.links[l].source.clone());
        let same: Vec<usize> = (0..self.links.len())
            .filter(|&i| {
                i != l && self.links[i].producer == producer && self.links[i].source == source
            })
            .collect();
        let store = self.store(session);
        for i in same {
            store[i].retain(|v| v != value);
        }
    }
}

/// The scrubbed credentials (placeholder names) that live responses
/// always supply: every endpoint that carries the header fills it from a
/// link that is required there (see [`Produced::fills`]). A run needs no
/// `--secret` for them.
pub fn produced_credentials(model: &TrafficModel) -> Vec<String> {
    use std::collections::BTreeMap;
    let mut covered: BTreeMap<&str, bool> = BTreeMap::new();
    for s in &model.secrets {
        let ok = s.location == "header"
            && model.endpoints.iter().enumerate().all(|(i, e)| {
                !e.headers.iter().any(|h| h.name.eq_ignore_ascii_case(&s.field))
                    || model.links.iter().any(|l| {
                        l.consumer == i
                            && l.share >= REQUIRED_SHARE
                            && matches!(&l.slot, Slot::Header { name, .. } if name.eq_ignore_ascii_case(&s.field))
                    })
            });
        let e = covered.entry(s.name.as_str()).or_insert(true);
        *e &= ok;
    }
    covered
        .into_iter()
        .filter(|(_, ok)| *ok)
        .map(|(n, _)| n.to_string())
        .collect()
}

/// Whether a response header is kept for [`Produced::capture`]:
/// `Location` and token-like headers.
pub fn keeps_header(name: &str) -> bool {
    name.eq_ignore_ascii_case("location") || crate::model::correlate::token_header(name)
}

/// Path segment `k` of a `Location` value (absolute URL or path).
fn location_segment(loc: &str, k: usize) -> Option<String> {
    let path = loc
        .split_once("://")
        .map_or(loc, |(_, rest)| rest.find('/').map_or("/", |i| &rest[i..]));
    let path = path.split(['?', '#']).next().unwrap_or("");
    crate::model::template::split_path(path)
        .nth(k)
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// A model whose POST /posts returns `{"id": N}` and whose DELETE
    /// /posts/{id} deletes it.
    fn model() -> TrafficModel {
        use crate::model::correlate::api_exchange as ex;
        let mut b = crate::model::ModelBuilder::new(Default::default());
        for i in 0..20i64 {
            let id = 100 + i;
            b.observe(&ex(
                i * 100,
                "POST",
                "/posts".into(),
                Some(format!(r#"{{"id":{id}}}"#)),
            ));
            b.observe(&ex(i * 100 + 50, "DELETE", format!("/posts/{id}"), None));
        }
        b.finish()
    }

    #[test]
    fn each_session_uses_what_its_own_responses_produced() {
        let m = model();
        let post = m.endpoints.iter().position(|e| e.method == "POST").unwrap();
        let delete = m
            .endpoints
            .iter()
            .position(|e| e.method == "DELETE")
            .unwrap();
        let mut p = Produced::new(&m);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        assert!(p.captures(post) && !p.captures(delete));
        p.capture(post, Some(1), br#"{"id":501}"#, &[]);
        p.capture(post, Some(2), br#"{"id":502}"#, &[]);
        let take = |p: &mut Produced, s, rng: &mut rand_chacha::ChaCha8Rng| {
            p.fills(&m, delete, s, rng).map(|f| f[0].1.clone())
        };
        assert_eq!(take(&mut p, Some(2), &mut rng).as_deref(), Ok("502"));
        assert_eq!(take(&mut p, Some(1), &mut rng).as_deref(), Ok("501"));
        // Each value once; nothing for the run-wide store or a spent session.
        assert_eq!(
            take(&mut p, Some(1), &mut rng),
            Err(NoValue { instead: None })
        );
        assert_eq!(take(&mut p, None, &mut rng), Err(NoValue { instead: None }));
        p.capture(post, None, br#"{"id":503}"#, &[]);
        assert_eq!(take(&mut p, None, &mut rng).as_deref(), Ok("503"));
        assert!(p.wait_for(delete) > std::time::Duration::ZERO);
    }

    #[test]
    fn location_segments() {
        assert_eq!(location_segment("/posts/501", 1).as_deref(), Some("501"));
        assert_eq!(
            location_segment("https://a.test/v1/orders/x-9?y=1", 2).as_deref(),
            Some("x-9")
        );
        assert_eq!(location_segment("/posts", 3), None);
    }
}
