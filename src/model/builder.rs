//! Builds a [`TrafficModel`] from a stream of exchanges.
//!
//! `observe` is called once per exchange; everything it keeps is bounded
//! (pools and trie nodes are capped) except one 16-byte record per request
//! for the arrival process. Secrets are replaced by placeholders and
//! personal data by look-alikes ([`super::pii`]) here, before a value is
//! stored anywhere, so they cannot reach a model file; the correlator
//! alone sees the recorded values.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::arrival::{ArrivalFit, Record};
use super::correlate::{self, Correlator, RawLink, Slot};
use super::hist::LogHist;
use super::joint::{self, Joint, JointAcc, Open};
use super::pii::Pii;
use super::pool::{Pool, PoolAcc, TailType};
use super::response::{BodyPolicy, Held, Lost, RespAcc, SampleRules};
use super::scrub;
use super::template::split_path;
use super::template::{PathTrie, TemplateSegment};
use super::traffic::{
    BodyModel, Endpoint, JsonField, JsonType, Link, Param, ResponseModel, SecretUse, Segment,
    Source, SourceFile, TrafficModel,
};
use crate::ingest::{BodyKind, Exchange, IngestStats, Response};

/// Values kept verbatim per path slot.
const PATH_TOP_K: usize = 64;
/// Values kept verbatim per query/header/body slot.
const PARAM_TOP_K: usize = 32;
/// Distinct query parameter names tracked per endpoint.
const MAX_QUERY_NAMES: usize = 64;
/// Distinct header names tracked per endpoint.
const MAX_HEADER_NAMES: usize = 48;
/// Distinct JSON leaf paths tracked per endpoint.
const MAX_JSON_PATHS: usize = 128;
/// JSON skeletons deeper than this are modelled as opaque text.
const MAX_JSON_DEPTH: usize = 16;
/// Text bodies up to this size are kept verbatim in a pool.
const MAX_TEXT_BODY: usize = 4096;

/// Request headers that are not modelled: hop-by-hop, computed by the
/// client, or conditional (they would turn replays into 304s).
const SKIP_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
    "expect",
    "if-none-match",
    "if-modified-since",
    "if-match",
    "if-unmodified-since",
    "if-range",
    "http2-settings",
];

/// How the model's warning naming the endpoints sent without the body they
/// had begins (`run` repeats it when it starts).
pub const BODYLESS: &str = "sent without a body, recorded from access logs (which keep none): ";

/// Options that change what the model keeps.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Replace secrets by placeholders (the default).
    pub scrub: bool,
    /// Replace personal data by look-alikes (the default; see
    /// [`super::pii`]).
    pub pii: bool,
    /// Field names whose values are personal, besides
    /// [`super::pii::PII_FIELDS`] (`--pii-field`).
    pub pii_fields: Vec<String>,
    /// The look-alikes' key ([`super::pii::key_of_captures`]); `None`: a
    /// random one.
    pub pii_key: Option<[u8; 32]>,
    /// Compress idle gaps between consecutive requests longer than this
    /// (seconds) to it (`--max-gap`); `None` keeps them.
    pub max_gap_s: Option<f64>,
    /// Which recorded response bodies are kept for the mock (`--bodies`).
    pub bodies: BodyPolicy,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            scrub: true,
            pii: true,
            pii_fields: Vec::new(),
            pii_key: None,
            max_gap_s: Some(super::arrival::DEFAULT_MAX_GAP_S),
            bodies: BodyPolicy::All,
        }
    }
}

#[derive(Debug, Default)]
struct EndpointAcc {
    count: u64,
    /// Requests from captures that keep no bodies (access logs).
    body_unknown: u64,
    /// Values per path segment position, for this method and leaf only:
    /// a slot's pool is what this endpoint's requests carried there, not
    /// what every method and path through the trie node did (a DELETE's
    /// ids are not a GET's). Produced values (see `produced`) excluded.
    path: Vec<PoolAcc>,
    /// Values per path position that a response had produced first.
    produced: Vec<PoolAcc>,
    /// Path positions linked to produced values (set when finishing).
    linked: Vec<bool>,
    query: BTreeMap<String, PoolAcc>,
    /// Lower-case name → (name as recorded, values, name is a secret).
    headers: BTreeMap<String, (String, PoolAcc, bool)>,
    /// Path segments, query pairs and header sets as they came together.
    joint: JointAcc,
    body: BodyAcc,
    resp: RespAcc,
}

#[derive(Debug, Default)]
struct BodyAcc {
    count: u64,
    kinds: BTreeMap<u8, u64>,
    mimes: PoolAcc,
    json_count: u64,
    json_skeleton: Option<Value>,
    json_fields: BTreeMap<String, (JsonType, PoolAcc)>,
    form_count: u64,
    form: BTreeMap<String, PoolAcc>,
    text: PoolAcc,
    size: LogHist,
}

/// Streams exchanges into a model.
pub struct ModelBuilder {
    options: BuildOptions,
    trie: PathTrie,
    /// Values responses produced and later requests used. It sees the
    /// recorded values; everything stored passes through `pii` first.
    correlator: Correlator,
    /// Personal data replacer, with this model's key (`None` with
    /// `--keep-pii`).
    pii: Option<Pii>,
    accs: Vec<EndpointAcc>,
    /// Accumulator merges: `redirect[i] == i` for live ones.
    redirect: Vec<u32>,
    /// The arrival process and sessions, fitted as requests come (no
    /// record per request is kept).
    arrival: ArrivalFit,
    /// Who sent each request: users, not connections.
    clients: super::client::Clients,
    names: Names,
    scratch: Scratch,
    /// The request target of the exchange being observed (a buffer).
    target: String,
    secrets: BTreeMap<(String, String), (String, u64)>,
    files: Vec<SourceFile>,
    stats: IngestStats,
    damaged: u64,
    /// Response bodies held for samples so far.
    held: Held,
}

impl ModelBuilder {
    pub fn new(options: BuildOptions) -> Self {
        ModelBuilder {
            pii: options.pii.then(|| match options.pii_key {
                Some(key) => Pii::with_key(key, &options.pii_fields),
                None => Pii::new(&options.pii_fields),
            }),
            arrival: ArrivalFit::new(options.max_gap_s),
            options,
            trie: PathTrie::new(),
            correlator: Correlator::new(),
            accs: Vec::new(),
            redirect: Vec::new(),
            clients: Default::default(),
            names: Names::default(),
            scratch: Scratch::default(),
            target: String::new(),
            secrets: BTreeMap::new(),
            files: Vec::new(),
            stats: IngestStats::default(),
            damaged: 0,
            held: Held::default(),
        }
    }

    /// Says that every capture to come keeps no response content (access
    /// logs only): no response can produce a value a later request uses,
    /// so correlation is skipped. Call before the first `observe`.
    pub fn captures_keep_no_responses(&mut self) {
        self.correlator = Correlator::off();
    }

    /// Records that a capture file was read (for the model's `source`).
    pub fn add_source(&mut self, file: SourceFile, stats: &IngestStats) {
        self.files.push(file);
        self.stats.merge(stats);
    }

    fn root(&self, mut i: u32) -> u32 {
        while self.redirect[i as usize] != i {
            i = self.redirect[i as usize];
        }
        i
    }

    fn apply_merges(&mut self, merges: Vec<(u32, u32)>) {
        for (from, into) in merges {
            let (from, into) = (self.root(from), self.root(into));
            if from == into {
                continue;
            }
            let src = std::mem::take(&mut self.accs[from as usize]);
            self.accs[into as usize].merge(src);
            self.redirect[from as usize] = into;
        }
    }

    /// Adds one exchange to the model.
    pub fn observe(&mut self, x: &Exchange) {
        if x.damaged {
            self.damaged += 1;
        }
        let mut merges = Vec::new();
        let raw_path = x.path();
        // Templates and pools learn the look-alikes; the correlator, below,
        // the recorded values (a segment keeps its position either way).
        let path = match &mut self.pii {
            Some(p) => pii_path(p, raw_path),
            None => std::borrow::Cow::Borrowed(raw_path),
        };
        let leaf = self
            .trie
            .insert(&x.scheme, &x.authority, &path, &mut |a, b| {
                merges.push((a, b))
            });
        self.apply_merges(merges);
        let accs = &mut self.accs;
        let redirect = &mut self.redirect;
        let id = self.trie.leaf_acc(leaf, &x.method, &mut || {
            accs.push(EndpointAcc::default());
            redirect.push(accs.len() as u32 - 1);
            accs.len() as u32 - 1
        });
        let id = self.root(id);

        // Sessions are a user's (address, agent, credentials' subject);
        // a produced value is looked for among the requests of the client
        // the capture names (a connection, an address, a HAR file), so a
        // new opaque token, which starts another user, still finds the
        // login that produced it.
        let (user, client) = self.clients.ids(x);
        self.arrival.push(Record {
            ts_ns: x.started_ns,
            client: user,
            endpoint: id,
        });

        let scrub = self.options.scrub;
        let mut found: Vec<(&'static str, String)> = Vec::new();
        let acc = &mut self.accs[id as usize];
        let mut pii = self.pii.as_mut();
        acc.count += 1;
        acc.body_unknown += u64::from(x.body_unknown);
        let ts = x.started_ns;
        // Most paths have a few segments: kept on the stack.
        let mut seg_buf = [""; 16];
        let mut seg_vec = Vec::new();
        let segs = collect_into(&mut seg_buf, &mut seg_vec, split_path(&path));
        let mut raw_segs = super::template::split_path(raw_path);
        for (k, &seg) in segs.iter().enumerate() {
            let raw = raw_segs.next().unwrap_or(seg);
            if acc.path.len() <= k {
                acc.path.resize_with(k + 1, PoolAcc::new);
            }
            if acc.produced.len() <= k {
                acc.produced.resize_with(k + 1, PoolAcc::new);
            }
            // A produced value (a created id) goes apart: if the slot
            // turns out linked, the replay takes such values from live
            // responses, and the pool holds only the others.
            if self.correlator.used(id, client, ts, Slot::Path(k), raw) {
                acc.produced[k].observe(seg);
            } else {
                acc.path[k].observe(seg);
            }
        }
        let mut pairs = reuse(std::mem::take(&mut self.scratch.pairs));
        pairs.extend(x.query().into_iter().flat_map(self::pairs));
        if !self.correlator.is_off() {
            for (name, value) in &pairs {
                let slot = Slot::Query(name.to_string());
                self.correlator.used(id, client, ts, slot, value);
            }
        }
        let names = &mut self.names;
        let mut query = reuse(std::mem::take(&mut self.scratch.query));
        let as_recorded = observe_query(
            acc,
            &pairs,
            &mut query,
            names,
            scrub,
            pii.as_deref_mut(),
            &mut found,
        );
        let mut headers = reuse(std::mem::take(&mut self.scratch.headers));
        let credentials = observe_headers(
            acc,
            &x.headers,
            &mut headers,
            names,
            scrub,
            pii.as_deref_mut(),
            &mut found,
        );
        acc.observe_joint(segs, &query, &headers);
        if let Some(body) = &x.body {
            observe_body(&mut acc.body, body, scrub, pii.as_deref_mut(), &mut found);
            if body.kind == BodyKind::Json {
                for (path, value) in correlate::json_leaves(body.text.as_deref().unwrap_or("")) {
                    self.correlator
                        .used(id, client, ts, Slot::Json(path), &value);
                }
            }
        }
        // A scrubbed credential (`Authorization: Bearer …`) that a login
        // response handed out: the replay can fill it from the live one.
        for i in credentials {
            let (name, value) = &x.headers[i];
            let (prefix, token) = correlate::split_credential(value);
            let slot = Slot::Header {
                name: name.to_ascii_lowercase(),
                prefix: prefix.to_string(),
            };
            self.correlator.used(id, client, ts, slot, token);
        }
        // After every slot of the request: a value it sent itself is not
        // one its response produced.
        if let Some(r) = &x.response {
            produced(&mut self.correlator, id, client, ts, r);
        }
        if let Some(r) = &x.response {
            let target = sample_target(&mut self.target, &path, x.query(), as_recorded, &query);
            let rules = SampleRules {
                scrub,
                bodies: self.options.bodies,
                pii,
                held: &mut self.held,
            };
            acc.resp.observe(r, target, rules);
        }
        self.scratch.query = reuse(query);
        self.scratch.headers = reuse(headers);
        self.scratch.pairs = reuse(pairs);
        for (location, field) in found {
            let name = scrub::secret_name(&field);
            let e = self
                .secrets
                .entry((location.to_string(), field.to_ascii_lowercase()))
                .or_insert((name, 0));
            e.1 += 1;
        }
    }

    /// Decides templates and turns the accumulators into a model.
    pub fn finish(mut self) -> TrafficModel {
        let mut merges = Vec::new();
        let leaves = self.trie.finish(&mut |a, b| merges.push((a, b)));
        self.apply_merges(merges);

        // Endpoint list in a stable order: by count, then key.
        struct Draft {
            acc: u32,
            method: String,
            scheme: String,
            host: String,
            segments: Vec<TemplateSegment>,
        }
        let mut drafts: Vec<Draft> = Vec::new();
        for leaf in &leaves {
            for (method, acc) in &leaf.leaves {
                let acc = self.root(*acc);
                if self.accs[acc as usize].count == 0 {
                    continue;
                }
                drafts.push(Draft {
                    acc,
                    method: method.clone(),
                    scheme: leaf.origin.0.clone(),
                    host: leaf.origin.1.clone(),
                    segments: leaf.segments.clone(),
                });
            }
        }
        let raw_links = self.raw_links();
        let total: u64 = drafts.iter().map(|d| self.accs[d.acc as usize].count).sum();
        let mut bodyless = Vec::new();
        let mut marks: HashMap<u32, Vec<(bool, Option<Lost>)>> = HashMap::new();
        let mut endpoints: Vec<(u32, Endpoint)> = drafts
            .into_iter()
            .map(|d| {
                let acc = std::mem::take(&mut self.accs[d.acc as usize]);
                if acc.body_unknown > 0 && matches!(d.method.as_str(), "POST" | "PUT" | "PATCH") {
                    bodyless.push((d.acc, acc.body_unknown));
                }
                let (e, m) = finish_endpoint(d.method, d.scheme, d.host, &d.segments, acc, total);
                marks.insert(d.acc, m);
                (d.acc, e)
            })
            .collect();
        endpoints.sort_by(|a, b| {
            b.1.count
                .cmp(&a.1.count)
                .then_with(|| a.1.host.cmp(&b.1.host))
                .then_with(|| a.1.template.cmp(&b.1.template))
                .then_with(|| a.1.method.cmp(&b.1.method))
        });
        // Response bodies for the mock within a budget, text types first;
        // the model says which endpoints lost some.
        let mut marks: Vec<_> = endpoints
            .iter()
            .map(|(acc, _)| marks.remove(acc).unwrap_or_default())
            .collect();
        let mut responses: Vec<&mut ResponseModel> =
            endpoints.iter_mut().map(|(_, e)| &mut e.response).collect();
        super::response::fit_budget(&mut responses, &mut marks);
        for w in lost_bodies(&endpoints, &marks) {
            self.stats.warn(w);
        }
        // Methods that usually carry a body, recorded from captures that
        // keep none: the replay sends them without one. Said in the model.
        let bodyless: Vec<String> = endpoints
            .iter()
            .filter_map(|(acc, e)| {
                let n = bodyless.iter().find(|(a, _)| a == acc)?.1;
                Some(format!(
                    "{} {}{} ({n} of {})",
                    e.method, e.host, e.template, e.count
                ))
            })
            .collect();
        if !bodyless.is_empty() {
            self.stats
                .warn(format!("{BODYLESS}{}", bodyless.join(", ")));
        }
        let mut index: HashMap<u32, u32> = HashMap::new();
        for (i, (acc, _)) in endpoints.iter().enumerate() {
            index.insert(*acc, i as u32);
        }
        let links = links(raw_links, &endpoints);
        let fit = std::mem::replace(&mut self.arrival, ArrivalFit::new(None));
        if fit.late() > 0 {
            self.stats.warn(format!(
                "{} requests came more than {} requests out of time order; each was timed as the request before it",
                fit.late(),
                super::arrival::REORDER_WINDOW
            ));
        }
        let (arrival, mut sessions) = fit.finish();
        sessions.remap_endpoints(|e| {
            let root = self.root(e as u32);
            index.get(&root).copied().unwrap_or(0) as usize
        });

        let mut skipped = self.stats.skipped.clone();
        if self.damaged > 0 {
            // Kept, but worth knowing: they were reassembled across a gap.
            skipped.insert("(kept) damaged exchanges".to_string(), self.damaged);
        }
        let source = Source {
            files: self.files,
            seen: self.stats.seen,
            kept: total,
            skipped,
            warnings: self.stats.warnings.clone(),
            scrubbed: self.options.scrub,
            pii: self.pii.as_ref().map(Pii::counts),
        };
        let secrets = self
            .secrets
            .into_iter()
            .map(|((location, field), (name, count))| SecretUse {
                name,
                location,
                field,
                count,
            })
            .collect();
        let mut model = TrafficModel::new(
            source,
            endpoints.into_iter().map(|(_, e)| e).collect(),
            arrival,
            sessions,
            secrets,
        );
        model.links = links;
        model
    }

    /// The correlator's links with enough evidence, in accumulator terms;
    /// marks the linked path positions of each consumer.
    fn raw_links(&mut self) -> Vec<RawLink> {
        let correlator = std::mem::take(&mut self.correlator);
        let redirect = self.redirect.clone();
        let mut root = |mut a: u32| {
            while redirect[a as usize] != a {
                a = redirect[a as usize];
            }
            a
        };
        let accs = &self.accs;
        let raw = correlator.finish(&mut root, &mut |acc, slot| {
            let a = &accs[acc as usize];
            match slot {
                Slot::Path(_) => a.count,
                Slot::Query(n) => a.query.get(n).map_or(0, PoolAcc::total),
                Slot::Json(p) => a.body.json_fields.get(p).map_or(0, |(_, f)| f.total()),
                Slot::Header { name, .. } => a.headers.get(name).map_or(0, |h| h.1.total()),
            }
        });
        for l in &raw {
            if let Slot::Path(k) = l.slot {
                let a = &mut self.accs[l.consumer as usize];
                if a.linked.len() <= k {
                    a.linked.resize(k + 1, false);
                }
                a.linked[k] = true;
            }
        }
        raw
    }
}

/// Raw links in model terms: endpoint indices, path slots as `path_params`
/// indices (a position that ended up a literal segment is no slot: its
/// link is dropped), the share of the consumer's requests.
fn links(raw: Vec<RawLink>, endpoints: &[(u32, Endpoint)]) -> Vec<Link> {
    let index: HashMap<u32, usize> = endpoints
        .iter()
        .enumerate()
        .map(|(i, (acc, _))| (*acc, i))
        .collect();
    let mut links = Vec::new();
    for l in raw {
        let (Some(&producer), Some(&consumer)) = (index.get(&l.producer), index.get(&l.consumer))
        else {
            continue;
        };
        let e = &endpoints[consumer].1;
        let (slot, total) = match &l.slot {
            Slot::Path(k) => match e.segments.get(*k) {
                Some(Segment::Slot { index, .. }) => (Slot::Path(*index), e.count),
                _ => continue,
            },
            Slot::Query(n) => {
                let present = e.query.iter().find(|p| &p.name == n);
                let total = present.map_or(0, |p| (p.presence * e.count as f64).round() as u64);
                (Slot::Query(n.clone()), total)
            }
            Slot::Json(path) => match &e.body {
                Some(BodyModel::Json { fields, .. }) => {
                    match fields.iter().find(|f| &f.path == path) {
                        Some(f) => (Slot::Json(path.clone()), f.pool.total()),
                        None => continue,
                    }
                }
                _ => continue,
            },
            Slot::Header { name, .. } => {
                match e.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)) {
                    Some(h) => (l.slot.clone(), (h.presence * e.count as f64).round() as u64),
                    None => continue,
                }
            }
        };
        links.push(Link {
            producer,
            source: l.source,
            consumer,
            share: (l.count as f64 / total.max(1) as f64).min(1.0),
            slot,
            count: l.count,
            lag_ms: l.lag_ms,
        });
    }
    links.sort_by(|a, b| (a.consumer, &a.slot).cmp(&(b.consumer, &b.slot)));
    links
}

impl EndpointAcc {
    /// Counts the request's combination; when the table is full, the
    /// positions whose pools look like open ranges by now are generalised.
    fn observe_joint(
        &mut self,
        segs: &[&str],
        query: &[(&str, Cow<'_, str>)],
        headers: &[(&str, Cow<'_, str>)],
    ) {
        if self.joint.observe(segs, query, headers) {
            let open = self.open_positions();
            self.joint.make_room(&open);
        }
    }

    /// Positions whose values look like an open range (see
    /// [`joint::open_range`]): path positions by segment index (produced
    /// values counted too), query names, header names (lower case).
    fn open_positions(&self) -> Open {
        let path = self
            .path
            .iter()
            .enumerate()
            .map(|(k, own)| {
                let (mut distinct, mut once) = own.novelty();
                let mut total = own.total();
                if let Some(p) = self.produced.get(k) {
                    let (d, o) = p.novelty();
                    distinct += d;
                    once += o;
                    total += p.total();
                }
                joint::open_counts(distinct, once, total)
            })
            .collect();
        Open {
            path,
            query: self
                .query
                .iter()
                .filter(|(_, p)| joint::open_range(p))
                .map(|(n, _)| n.clone())
                .collect(),
            headers: self
                .headers
                .iter()
                .filter(|(_, (_, p, _))| joint::open_range(p))
                .map(|(n, _)| n.clone())
                .collect(),
        }
    }

    fn merge(&mut self, o: EndpointAcc) {
        self.count += o.count;
        self.body_unknown += o.body_unknown;
        self.joint.merge(o.joint);
        if self.path.len() < o.path.len() {
            self.path.resize_with(o.path.len(), PoolAcc::new);
        }
        for (mine, theirs) in self.path.iter_mut().zip(&o.path) {
            mine.merge(theirs);
        }
        if self.produced.len() < o.produced.len() {
            self.produced.resize_with(o.produced.len(), PoolAcc::new);
        }
        for (mine, theirs) in self.produced.iter_mut().zip(&o.produced) {
            mine.merge(theirs);
        }
        for (k, v) in o.query {
            self.query.entry(k).or_default().merge(&v);
        }
        for (k, (name, v, secret)) in o.headers {
            self.headers
                .entry(k)
                .or_insert_with(|| (name, PoolAcc::new(), secret))
                .1
                .merge(&v);
        }
        let (b, ob) = (&mut self.body, o.body);
        b.count += ob.count;
        for (k, v) in ob.kinds {
            *b.kinds.entry(k).or_insert(0) += v;
        }
        b.mimes.merge(&ob.mimes);
        b.json_count += ob.json_count;
        if b.json_skeleton.is_none() {
            b.json_skeleton = ob.json_skeleton;
        }
        for (k, (t, v)) in ob.json_fields {
            b.json_fields
                .entry(k)
                .or_insert((t, PoolAcc::new()))
                .1
                .merge(&v);
        }
        b.form_count += ob.form_count;
        for (k, v) in ob.form {
            b.form.entry(k).or_default().merge(&v);
        }
        b.text.merge(&ob.text);
        b.size.merge(&ob.size);
        self.resp.merge(o.resp);
    }
}

/// The request target a response sample is kept under: the path as the
/// pools store it and the query as sent (`as_recorded`), or rebuilt from
/// its scrubbed pairs when scrubbing or look-alikes changed a value.
fn sample_target<'b>(
    out: &'b mut String,
    path: &str,
    raw: Option<&str>,
    as_recorded: bool,
    pairs: &[(&str, Cow<'_, str>)],
) -> &'b str {
    out.clear();
    out.push_str(path);
    let Some(q) = raw else {
        return out;
    };
    out.push('?');
    if as_recorded {
        out.push_str(q);
        return out;
    }
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        let safe = super::encode::QUERY_SAFE;
        super::encode::encode_into(out, name, safe);
        out.push('=');
        super::encode::encode_into(out, value, safe);
    }
    out
}

/// One warning per reason response bodies were lost, naming the
/// endpoints (at most ten) and how many bodies each lost.
fn lost_bodies(endpoints: &[(u32, Endpoint)], marks: &[Vec<(bool, Option<Lost>)>]) -> Vec<String> {
    let mut by_reason: BTreeMap<Lost, Vec<String>> = BTreeMap::new();
    for ((_, e), m) in endpoints.iter().zip(marks) {
        let mut counts: BTreeMap<Lost, u64> = BTreeMap::new();
        for (_, lost) in m {
            if let Some(l) = lost {
                *counts.entry(*l).or_insert(0) += 1;
            }
        }
        for (l, n) in counts {
            by_reason.entry(l).or_default().push(format!(
                "{} {}{} ({n} of {})",
                e.method,
                e.host,
                e.template,
                m.len()
            ));
        }
    }
    by_reason
        .into_iter()
        .map(|(reason, mut list)| {
            let more = list.len().saturating_sub(10);
            list.truncate(10);
            let mut s = format!(
                "response bodies not kept {} (the mock serves filler of the recorded size): {}",
                reason.describe(),
                list.join(", ")
            );
            if more > 0 {
                s += &format!(" and {more} more endpoints");
            }
            s
        })
        .collect()
}

/// A response to a request of accumulator `id` by `client` at `ts`: what
/// it hands out that later requests may use.
fn produced(correlator: &mut Correlator, id: u32, client: u64, ts: i64, r: &Response) {
    if correlator.is_off() {
        return;
    }
    // Absurd recorded times (a hostile capture) saturate.
    let took = r.total_ms.filter(|t| t.is_finite() && *t > 0.0);
    let end = ts.saturating_add(took.map_or(0, |t| (t * 1e6) as i64));
    // A HAR's base64 body is decoded for the correlator only when it is
    // JSON (binary bodies produce no values).
    let decoded = (r.body_base64 && r.mime.contains("json"))
        .then(|| r.body.as_deref().and_then(super::response::base64_text))
        .flatten();
    let body = if r.body_base64 {
        decoded.as_deref()
    } else {
        r.body.as_deref()
    };
    correlator.produced(id, client, end, body, &r.headers);
}

/// Buffers reused from one request to the next (empty between them):
/// allocating them per request cost more than what they hold.
#[derive(Default)]
struct Scratch {
    pairs: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    query: Vec<(&'static str, Cow<'static, str>)>,
    headers: Vec<(&'static str, Cow<'static, str>)>,
}

/// An empty vector in `v`'s allocation, for items that differ in
/// lifetime only (collecting from an emptied vector reuses it).
fn reuse<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().map(|_| unreachable!("emptied")).collect()
}

/// The items of `it`, in `buf` when they fit, else in `spill`.
fn collect_into<'a, T: Copy, const N: usize>(
    buf: &'a mut [T; N],
    spill: &'a mut Vec<T>,
    mut it: impl Iterator<Item = T>,
) -> &'a [T] {
    let mut n = 0;
    while let Some(t) = it.next() {
        if n == N {
            spill.extend_from_slice(&buf[..]);
            spill.push(t);
            spill.extend(it);
            return spill;
        }
        buf[n] = t;
        n += 1;
    }
    &buf[..n]
}

/// `s.split('/')` with memchr (the char searcher's setup costs more than
/// a path's scan).
fn split_slash(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match memchr::memchr(b'/', r.as_bytes()) {
            Some(i) => {
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// A path with each segment's personal data replaced.
fn pii_path<'p>(pii: &mut Pii, path: &'p str) -> std::borrow::Cow<'p, str> {
    let mut out: Option<String> = None;
    for (k, seg) in split_slash(path).enumerate() {
        let v = pii.text(seg);
        if let (None, std::borrow::Cow::Owned(_)) = (&out, &v) {
            // The segments before this one, as they were.
            let before: Vec<&str> = path.split('/').take(k).collect();
            let mut s = before.join("/");
            if k > 0 {
                s.push('/');
            }
            out = Some(s);
        } else if let Some(o) = &mut out {
            o.push('/');
        }
        if let Some(o) = &mut out {
            o.push_str(&v);
        }
    }
    out.map_or(std::borrow::Cow::Borrowed(path), std::borrow::Cow::Owned)
}

/// Replaces a secret value by its placeholder, noting where it was found,
/// or the personal data in it by look-alikes. True when it was a secret.
/// `personal`: whether the name is a personal field, when known.
#[allow(clippy::too_many_arguments)]
fn scrubbed<'v>(
    location: &'static str,
    name: &str,
    value: &'v str,
    name_is_secret: bool,
    personal: Option<bool>,
    scrub: bool,
    pii: Option<&mut Pii>,
    found: &mut Vec<(&'static str, String)>,
) -> (Cow<'v, str>, bool) {
    if scrub && (name_is_secret || scrub::value_looks_secret(value)) {
        found.push((location, name.to_string()));
        let v = scrub::placeholder(&scrub::secret_name(name));
        (Cow::Owned(v), true)
    } else if let Some(p) = pii {
        match personal {
            Some(personal) => (p.value_as(personal, value), false),
            None => (p.value(Some(name), value), false),
        }
    } else {
        (Cow::Borrowed(value), false)
    }
}

/// Names remembered with what they say about their values: a capture
/// repeats a few dozen query and header names in every request, and the
/// word searches cost more than a hash lookup (bounded).
#[derive(Default)]
struct Names {
    /// Query parameter name → (secret, personal).
    query: rustc_hash::FxHashMap<Box<str>, (bool, bool)>,
    /// Header name as recorded → its place in `header_list` (an index,
    /// so a known name costs one lookup).
    headers: rustc_hash::FxHashMap<Box<str>, u32>,
    header_list: Vec<HeaderName>,
}

/// Names remembered per kind.
const NAMES_CAP: usize = 4096;

/// A request header name as the builder treats it.
#[derive(Clone)]
struct HeaderName {
    /// Not modelled ([`SKIP_HEADERS`]).
    skip: bool,
    lower: Box<str>,
    /// A personal field's name ([`Pii::is_field`]).
    personal: bool,
}

impl Names {
    fn query(&mut self, name: &str, pii: Option<&Pii>) -> (bool, bool) {
        if let Some(f) = self.query.get(name) {
            return *f;
        }
        let f = (
            scrub::is_secret_field(name),
            pii.is_some_and(|p| p.is_field(name)),
        );
        if self.query.len() < NAMES_CAP {
            self.query.insert(name.into(), f);
        }
        f
    }

    fn header(&mut self, name: &str, pii: Option<&Pii>) -> Cow<'_, HeaderName> {
        if let Some(i) = self.headers.get(name) {
            return Cow::Borrowed(&self.header_list[*i as usize]);
        }
        let h = HeaderName {
            skip: SKIP_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name)),
            lower: name.to_ascii_lowercase().into(),
            personal: pii.is_some_and(|p| p.is_field(name)),
        };
        if self.headers.len() >= NAMES_CAP {
            return Cow::Owned(h);
        }
        self.headers
            .insert(name.into(), self.header_list.len() as u32);
        self.header_list.push(h);
        Cow::Borrowed(self.header_list.last().expect("just pushed"))
    }
}

/// Counts the query's values in the pools (the first value of a repeated
/// name) and returns every pair, scrubbed, in order (at most
/// `MAX_QUERY_NAMES`), for the joint table; and whether they are the
/// query as recorded (nothing scrubbed, replaced or left out).
#[allow(clippy::too_many_arguments)]
fn observe_query<'p>(
    acc: &mut EndpointAcc,
    pairs: &'p [(Cow<'_, str>, Cow<'_, str>)],
    out: &mut Vec<(&'p str, Cow<'p, str>)>,
    names: &mut Names,
    scrub: bool,
    mut pii: Option<&mut Pii>,
    found: &mut Vec<(&'static str, String)>,
) -> bool {
    let mut as_recorded = pairs.len() <= MAX_QUERY_NAMES;
    let pairs = &pairs[..pairs.len().min(MAX_QUERY_NAMES)];
    for (j, (name, value)) in pairs.iter().enumerate() {
        let (name, value) = (name.as_ref(), value.as_ref());
        let (secret, personal) = names.query(name, pii.as_deref());
        // A repeated parameter: the first value stands for it in the pool
        // (and in the count of secrets replaced). Its first value was
        // counted when its name is tracked (it was then, or it never is).
        let repeated = pairs[..j].iter().any(|(n, _)| n == name) && acc.query.contains_key(name);
        let mut ignored = Vec::new();
        let (v, _) = scrubbed(
            "query",
            name,
            value,
            secret,
            Some(personal),
            scrub,
            pii.as_deref_mut(),
            if repeated { &mut ignored } else { found },
        );
        if !repeated {
            if let Some(pool) = acc.query.get_mut(name) {
                pool.observe(&v);
            } else if acc.query.len() < MAX_QUERY_NAMES {
                let mut pool = PoolAcc::new();
                pool.observe(&v);
                acc.query.insert(name.to_string(), pool);
            }
        }
        as_recorded &= *v == *value;
        out.push((name, v));
    }
    as_recorded
}

/// Counts the modelled headers' values in the pools and returns them,
/// scrubbed, in recorded order, for the joint table; and the indices of
/// those scrubbed as credentials (candidates for a produced token).
fn observe_headers<'x>(
    acc: &mut EndpointAcc,
    headers: &'x [(String, String)],
    out: &mut Vec<(&'x str, Cow<'x, str>)>,
    names: &mut Names,
    scrub: bool,
    mut pii: Option<&mut Pii>,
    found: &mut Vec<(&'static str, String)>,
) -> Vec<usize> {
    let mut credentials = Vec::new();
    for (i, (name, value)) in headers.iter().enumerate() {
        let h = names.header(name, pii.as_deref());
        if h.skip {
            continue;
        }
        let lower = &*h.lower;
        let full = acc.headers.len() >= MAX_HEADER_NAMES;
        let entry = match acc.headers.get_mut(lower) {
            Some(e) => e,
            None if full => continue,
            None => {
                // Whether the name is a credential is decided once per
                // header and endpoint, not per request.
                let secret = scrub::is_secret_header(name);
                acc.headers.entry(lower.to_string()).or_insert((
                    name.clone(),
                    PoolAcc::new(),
                    secret,
                ))
            }
        };
        let (v, secret) = scrubbed(
            "header",
            name,
            value,
            entry.2,
            Some(h.personal),
            scrub,
            pii.as_deref_mut(),
            found,
        );
        if secret && !lower.contains("cookie") {
            credentials.push(i);
        }
        entry.1.observe(&v);
        out.push((name.as_str(), v));
    }
    credentials
}

fn body_kind_code(k: BodyKind) -> u8 {
    match k {
        BodyKind::Text => 0,
        BodyKind::Json => 1,
        BodyKind::Form => 2,
        BodyKind::Binary => 3,
    }
}

fn observe_body(
    b: &mut BodyAcc,
    body: &crate::ingest::Body,
    scrub: bool,
    mut pii: Option<&mut Pii>,
    found: &mut Vec<(&'static str, String)>,
) {
    b.count += 1;
    b.size.record(body.size as f64);
    if !body.mime.is_empty() {
        b.mimes.observe(&body.mime);
    }
    let mut kind = body.kind;
    match kind {
        BodyKind::Json => {
            let parsed = body
                .text
                .as_deref()
                .and_then(|t| serde_json::from_str::<Value>(t).ok())
                .filter(|v| depth(v) <= MAX_JSON_DEPTH);
            match parsed {
                Some(mut v) => {
                    b.json_count += 1;
                    let mut paths = Vec::new();
                    let mut walk = Walk {
                        out: &mut paths,
                        scrub,
                        pii: pii.as_deref_mut(),
                        found,
                    };
                    walk.collect(&mut v, "$", None);
                    for (path, t, val) in paths {
                        if !b.json_fields.contains_key(&path)
                            && b.json_fields.len() >= MAX_JSON_PATHS
                        {
                            continue;
                        }
                        b.json_fields
                            .entry(path)
                            .or_insert((t, PoolAcc::new()))
                            .1
                            .observe(&val);
                    }
                    if b.json_skeleton.is_none() {
                        b.json_skeleton = Some(v);
                    }
                }
                None => kind = BodyKind::Text,
            }
        }
        BodyKind::Form => {
            b.form_count += 1;
            let pairs: Vec<(String, String)> = if !body.params.is_empty() {
                body.params.clone()
            } else {
                body.text.as_deref().map(form_pairs).unwrap_or_default()
            };
            for (name, value) in pairs {
                if !b.form.contains_key(&name) && b.form.len() >= MAX_QUERY_NAMES {
                    continue;
                }
                let (v, _) = scrubbed(
                    "form",
                    &name,
                    &value,
                    scrub::is_secret_field(&name),
                    None,
                    scrub,
                    pii.as_deref_mut(),
                    found,
                );
                b.form.entry(name.clone()).or_default().observe(&v);
            }
        }
        BodyKind::Text | BodyKind::Binary => {}
    }
    if kind == BodyKind::Text {
        match body.text.as_deref() {
            Some(t) if t.len() <= MAX_TEXT_BODY && !(scrub && scrub::text_has_secret(t)) => {
                match pii {
                    Some(p) => b.text.observe(&p.text(t)),
                    None => b.text.observe(t),
                }
            }
            Some(t) if scrub && scrub::text_has_secret(t) => {
                found.push(("body", "text body".to_string()));
                kind = BodyKind::Binary;
            }
            _ => kind = BodyKind::Binary,
        }
    }
    *b.kinds.entry(body_kind_code(kind)).or_insert(0) += 1;
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// A walk over a JSON body: records every scalar leaf by path and replaces
/// secret leaves by placeholders and personal data by look-alikes in the
/// value itself (which may become the skeleton).
struct Walk<'a, 'p> {
    out: &'a mut Vec<(String, JsonType, String)>,
    scrub: bool,
    pii: Option<&'p mut Pii>,
    found: &'a mut Vec<(&'static str, String)>,
}

impl Walk<'_, '_> {
    fn collect(&mut self, v: &mut Value, path: &str, key: Option<&str>) {
        match v {
            Value::Object(map) => {
                if let Some(p) = self.pii.as_deref_mut() {
                    p.keys(map);
                }
                for (k, child) in map.iter_mut() {
                    let p = format!("{path}.{k}");
                    self.collect(child, &p, Some(k));
                }
            }
            Value::Array(items) => {
                let p = format!("{path}[]");
                for child in items.iter_mut() {
                    self.collect(child, &p, key);
                }
            }
            Value::String(s) => {
                let name = key.unwrap_or("body");
                let secret =
                    self.scrub && (scrub::is_secret_field(name) || scrub::value_looks_secret(s));
                if secret {
                    self.found.push(("json", name.to_string()));
                    *s = scrub::placeholder(&scrub::secret_name(name));
                } else if let Some(p) = self.pii.as_deref_mut() {
                    if let std::borrow::Cow::Owned(o) = p.value(key, s) {
                        *s = o;
                    }
                }
                self.out
                    .push((path.to_string(), JsonType::String, s.clone()));
            }
            Value::Number(_) => {
                let name = key.unwrap_or("body");
                if self.scrub && scrub::is_secret_field(name) {
                    self.found.push(("json", name.to_string()));
                    let ph = scrub::placeholder(&scrub::secret_name(name));
                    *v = Value::String(ph.clone());
                    self.out.push((path.to_string(), JsonType::String, ph));
                    return;
                }
                if let Some(p) = self.pii.as_deref_mut() {
                    p.json(v, key);
                }
                let (t, text) = match v {
                    Value::Number(n) => (JsonType::Number, n.to_string()),
                    Value::String(s) => (JsonType::String, s.clone()),
                    _ => (JsonType::Null, "null".to_string()),
                };
                self.out.push((path.to_string(), t, text));
            }
            Value::Bool(b) => self
                .out
                .push((path.to_string(), JsonType::Bool, b.to_string())),
            Value::Null => self
                .out
                .push((path.to_string(), JsonType::Null, "null".to_string())),
        }
    }
}

/// Splits `a=1&b=x%20y` into decoded pairs.
pub fn form_pairs(s: &str) -> Vec<(String, String)> {
    pairs(s)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// [`form_pairs`] borrowing from `s` where nothing is encoded (most names
/// and values): the builder splits every request's query.
fn pairs(s: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decoded(k), decoded(v)),
            None => (decoded(p), Cow::Borrowed("")),
        })
}

/// Decodes `%XX` and `+` (form encoding). Invalid escapes stay as they are.
pub fn percent_decode(s: &str) -> String {
    decoded(s).into_owned()
}

/// [`percent_decode`], borrowing `s` when it has no `%` or `+`.
fn decoded(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    if memchr::memchr2(b'%', b'+', b).is_none() {
        return Cow::Borrowed(s);
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    Cow::Owned(match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn finish_param(name: String, pool: &PoolAcc, k: usize, count: u64) -> Param {
    Param {
        name,
        presence: if count == 0 {
            0.0
        } else {
            (pool.total() as f64 / count as f64).min(1.0)
        },
        pool: pool.finish(k),
    }
}

fn top_value(p: &PoolAcc) -> String {
    p.finish(1)
        .values
        .into_iter()
        .next()
        .map(|v| v.0)
        .unwrap_or_default()
}

/// Methods that change or remove the resource they name.
fn is_destructive(method: &str) -> bool {
    matches!(method, "DELETE" | "PUT" | "PATCH")
}

fn finish_endpoint(
    method: String,
    scheme: String,
    host: String,
    segments: &[TemplateSegment],
    acc: EndpointAcc,
    total: u64,
) -> (Endpoint, Vec<(bool, Option<Lost>)>) {
    let mut path_params = Vec::new();
    // The endpoint's own values per position; the trie node's (shared by
    // every method and path through it) only if the positions disagree.
    let own = acc.path.len() == segments.len();
    let destructive = is_destructive(&method);
    let segs = segments
        .iter()
        .enumerate()
        .map(|(k, s)| match s {
            TemplateSegment::Literal(l) => Segment::Literal(l.clone()),
            TemplateSegment::Slot {
                name,
                values,
                suffix,
            } => {
                let mut pool = match (own, acc.linked.get(k).copied().unwrap_or(false)) {
                    (false, _) => values.finish(PATH_TOP_K),
                    // Linked: the replay supplies produced values itself;
                    // the pool keeps the others — or, when every value was
                    // produced, the recorded ones, for `generate` (which
                    // has no live responses) and as a last resort.
                    (true, true) if acc.path[k].total() > 0 => {
                        acc.path[k].strip_suffix(suffix).finish(PATH_TOP_K)
                    }
                    (true, _) => {
                        let mut all = acc.path[k].clone();
                        if let Some(p) = acc.produced.get(k) {
                            all.merge(p);
                        }
                        all.strip_suffix(suffix).finish(PATH_TOP_K)
                    }
                };
                if destructive {
                    // A DELETE, PUT or PATCH only targets values the
                    // recording shows it used: no fresh ids from the tail.
                    pool = Pool::new(pool.values, 0, TailType::None);
                }
                path_params.push(Param {
                    name: name.clone(),
                    presence: 1.0,
                    pool,
                });
                Segment::Slot {
                    index: path_params.len() - 1,
                    suffix: suffix.clone(),
                }
            }
        })
        .collect();
    let count = acc.count;
    let query = acc
        .query
        .iter()
        .map(|(n, p)| finish_param(n.clone(), p, PARAM_TOP_K, count))
        .collect();
    let headers = acc
        .headers
        .values()
        .map(|(n, p, _)| finish_param(n.clone(), p, PARAM_TOP_K, count))
        .collect();
    let joint = own.then(|| finish_joint(&acc, segments));
    let body = finish_body(acc.body, count);
    let mime = top_value(&acc.resp.mimes);
    let (response, marks) = acc.resp.finish(mime);
    let endpoint = Endpoint {
        method,
        scheme,
        host,
        template: super::template::render(segments),
        segments: segs,
        count,
        weight: if total == 0 {
            0.0
        } else {
            count as f64 / total as f64
        },
        path_params,
        query,
        headers,
        joint,
        body,
        response,
    };
    (endpoint, marks)
}

/// The endpoint's recorded combinations. Open: what looks like an open
/// range now or did when the table filled up, and linked path slots (the
/// replay takes produced values for them; their pool holds the others).
fn finish_joint(acc: &EndpointAcc, segments: &[TemplateSegment]) -> Joint {
    let mut open = acc.open_positions();
    open.union(acc.joint.open());
    for (k, linked) in acc.linked.iter().enumerate() {
        if *linked && k < open.path.len() {
            open.path[k] = true;
        }
    }
    let slots: Vec<(usize, &str)> = segments
        .iter()
        .enumerate()
        .filter_map(|(k, s)| match s {
            TemplateSegment::Slot { suffix, .. } => Some((k, suffix.as_str())),
            TemplateSegment::Literal(_) => None,
        })
        .collect();
    acc.joint.finish(&slots, &open)
}

fn finish_body(b: BodyAcc, count: u64) -> Option<BodyModel> {
    if b.count == 0 {
        return None;
    }
    let presence = (b.count as f64 / count.max(1) as f64).min(1.0);
    let mime = top_value(&b.mimes);
    let kind = b
        .kinds
        .iter()
        .max_by(|a, c| a.1.cmp(c.1).then_with(|| c.0.cmp(a.0)))
        .map(|(k, _)| *k)
        .unwrap_or(3);
    Some(match kind {
        1 if b.json_skeleton.is_some() => BodyModel::Json {
            presence,
            mime: if mime.is_empty() {
                "application/json".into()
            } else {
                mime
            },
            skeleton: b.json_skeleton.unwrap_or(Value::Null),
            fields: b
                .json_fields
                .iter()
                .map(|(path, (t, p))| JsonField {
                    path: path.clone(),
                    presence: (p.total() as f64 / b.json_count.max(1) as f64).min(1.0),
                    json_type: *t,
                    pool: p.finish(PARAM_TOP_K),
                })
                .collect(),
        },
        2 => BodyModel::Form {
            presence,
            mime: if mime.is_empty() {
                "application/x-www-form-urlencoded".into()
            } else {
                mime
            },
            fields: b
                .form
                .iter()
                .map(|(n, p)| finish_param(n.clone(), p, PARAM_TOP_K, b.form_count))
                .collect(),
        },
        0 if b.text.total() > 0 => BodyModel::Text {
            presence,
            mime,
            pool: Pool::new(b.text.finish(8).values, 0, super::pool::TailType::None),
        },
        _ => BodyModel::Opaque {
            presence,
            mime,
            size: b.size,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{Body, Response};
    use crate::model::traffic::MAX_SAMPLES;

    fn ex(ts_ms: i64, method: &str, target: &str) -> Exchange {
        Exchange {
            started_ns: ts_ms * 1_000_000,
            method: method.into(),
            scheme: "https".into(),
            authority: "api.example.com".into(),
            target: target.into(),
            headers: vec![
                ("Accept".into(), "application/json".into()),
                ("Authorization".into(), "Bearer s3cr3t-t0ken".into()),
            ],
            response: Some(Response {
                status: 200,
                mime: "application/json".into(),
                body_size: Some(120),
                total_ms: Some(30.0),
                wait_ms: Some(25.0),
                ..Default::default()
            }),
            client: Some("c1".into()),
            ..Default::default()
        }
    }

    /// Response samples: one per distinct target and status, counted,
    /// capped (then the endpoint is not `complete`); a query keeps its
    /// recorded form unless scrubbing changed a value.
    #[test]
    fn response_samples_by_target_and_status() {
        let build = |ids: u64| {
            let mut b = ModelBuilder::new(BuildOptions::default());
            for k in 0..ids * 2 {
                let mut x = ex(k as i64, "GET", &format!("/posts/{}", 1000 + k % ids));
                let r = x.response.as_mut().unwrap();
                r.status = if k % ids == 0 { 404 } else { 200 };
                r.body = Some(format!(r#"{{"id":{}}}"#, 1000 + k % ids).into_bytes());
                b.observe(&x);
            }
            for q in ["q=shoes&page=2", "q=shoes&access_token=abc123"] {
                b.observe(&ex(1000, "GET", &format!("/search?{q}")));
            }
            b.finish()
        };
        let m = build(5);
        let posts = m
            .endpoints
            .iter()
            .find(|e| e.template == "/posts/{id}")
            .unwrap();
        let r = &posts.response;
        assert!(r.complete);
        assert_eq!(r.samples.len(), 5);
        assert_eq!(r.samples[0].target, "/posts/1000");
        assert_eq!((r.samples[0].status, r.samples[0].count), (404, 2));
        assert_eq!(r.samples[1].body.as_deref(), Some(&br#"{"id":1001}"#[..]));
        let search = m
            .endpoints
            .iter()
            .find(|e| e.template == "/search")
            .unwrap();
        let targets: Vec<&str> = search
            .response
            .samples
            .iter()
            .map(|s| s.target.as_str())
            .collect();
        assert_eq!(
            targets,
            [
                "/search?q=shoes&page=2",
                "/search?q=shoes&access_token={{secret:access_token}}"
            ]
        );

        let m = build(MAX_SAMPLES as u64 + 6);
        let posts = m
            .endpoints
            .iter()
            .find(|e| e.template == "/posts/{id}")
            .unwrap();
        assert!(!posts.response.complete);
        assert_eq!(posts.response.samples.len(), MAX_SAMPLES);
        assert!(posts.response.samples.iter().all(|s| s.count == 2));
    }

    /// The per-request buffers keep their allocation, and a query's
    /// repeated names count their first value once.
    #[test]
    fn scratch_buffers_are_reused_and_repeated_names_count_once() {
        let mut v: Vec<(&str, Cow<'_, str>)> = Vec::with_capacity(8);
        v.push(("a", Cow::Borrowed("b")));
        let at = v.as_ptr() as usize;
        let w: Vec<(&'static str, Cow<'static, str>)> = reuse(v);
        assert!(w.is_empty() && w.capacity() >= 8);
        assert_eq!(w.as_ptr() as usize, at);
        let mut b = ModelBuilder::new(BuildOptions::default());
        b.observe(&ex(1, "GET", "/s?a=1&b=2&a=3&a=4"));
        b.observe(&ex(2, "GET", "/s?a=5&b=6"));
        let m = b.finish();
        let q = &m.endpoints[0].query;
        let a = q.iter().find(|p| p.name == "a").unwrap();
        assert_eq!(a.pool.total(), 2);
        assert_eq!(a.pool.values[0].0, "1");
    }

    /// The stateful-replay regression: reads of popular seeded posts and
    /// deletes of posts the client created went through one trie node;
    /// the DELETE drew the GET's popular ids and deleted them.
    #[test]
    fn each_method_draws_its_own_path_values_and_deletes_invent_none() {
        let mut b = ModelBuilder::new(BuildOptions::default());
        let mut t = 0;
        for i in 0..400 {
            t += 10;
            // Zipf-like reads of ids 1..=40.
            let id = 1 + (i * i) % 40;
            b.observe(&ex(t, "GET", &format!("/posts/{id}")));
            if i % 10 == 0 {
                t += 10;
                b.observe(&ex(t, "DELETE", &format!("/posts/{}", 501 + i / 10)));
            }
        }
        let m = b.finish();
        let pool = |method: &str| {
            let e = m
                .endpoints
                .iter()
                .find(|e| e.method == method && e.template == "/posts/{id}")
                .unwrap_or_else(|| panic!("{method}: {:?}", m.endpoints));
            e.path_params[0].pool.clone()
        };
        let (get, delete) = (pool("GET"), pool("DELETE"));
        let ids =
            |p: &Pool| -> Vec<u64> { p.values.iter().map(|(v, _)| v.parse().unwrap()).collect() };
        assert!(ids(&get).iter().all(|id| (1..=40).contains(id)), "{get:?}");
        assert!(
            ids(&delete).iter().all(|id| (501..=540).contains(id)),
            "{delete:?}"
        );
        assert_eq!(delete.tail_count, 0, "a DELETE invents no ids");
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
        for _ in 0..200 {
            let v: u64 = delete.sample(&mut rng).parse().unwrap();
            assert!((501..=540).contains(&v));
        }
    }

    #[test]
    fn builds_endpoints_weights_and_scrubs() {
        let mut b = ModelBuilder::new(BuildOptions::default());
        for i in 0..30 {
            b.observe(&ex(
                i * 10,
                "GET",
                &format!("/posts/{}?page={}&access_token=abc{i}", i * 7, i % 3),
            ));
        }
        for i in 0..10 {
            let mut x = ex(i * 10 + 5, "POST", "/posts");
            x.body = Some(Body {
                mime: "application/json".into(),
                text: Some(format!(
                    r#"{{"title":"t{i}","tags":["a","b"],"password":"hunter2"}}"#
                )),
                size: 40,
                kind: BodyKind::Json,
                ..Default::default()
            });
            b.observe(&x);
        }
        let m = b.finish();
        assert_eq!(m.requests(), 40);
        assert_eq!(m.endpoints.len(), 2);
        let get = &m.endpoints[0];
        assert_eq!(get.key(), "GET /posts/{id}");
        assert_eq!(get.count, 30);
        assert!((m.endpoints.iter().map(|e| e.weight).sum::<f64>() - 1.0).abs() < 1e-12);
        let page = get.query.iter().find(|q| q.name == "page").unwrap();
        assert_eq!(page.presence, 1.0);
        assert_eq!(page.pool.values.len(), 3);
        let tok = get.query.iter().find(|q| q.name == "access_token").unwrap();
        assert_eq!(
            tok.pool.values,
            vec![("{{secret:access_token}}".to_string(), 30)]
        );
        let auth = get
            .headers
            .iter()
            .find(|h| h.name == "Authorization")
            .unwrap();
        assert_eq!(auth.pool.values[0].0, "{{secret:authorization}}");
        let post = &m.endpoints[1];
        match post.body.as_ref().unwrap() {
            BodyModel::Json {
                skeleton, fields, ..
            } => {
                assert_eq!(skeleton["password"], "{{secret:password}}");
                assert!(fields.iter().any(|f| f.path == "$.tags[]"));
            }
            other => panic!("{other:?}"),
        }
        // The recorded combinations are scrubbed as the pools are.
        let joint = get.joint.as_ref().unwrap();
        assert!(joint.tuples.iter().all(|t| t.query.contains(&(
            "access_token".into(),
            Some("{{secret:access_token}}".into())
        ))));
        assert!(joint.header_sets.iter().all(|(set, _)| set.contains(&(
            "Authorization".into(),
            Some("{{secret:authorization}}".into())
        ))));
        let names = m.placeholder_names();
        assert_eq!(names, vec!["access_token", "authorization", "password"]);
        // No secret value anywhere in the model's debug form.
        let dump = format!("{m:?}");
        assert!(!dump.contains("s3cr3t"));
        assert!(!dump.contains("hunter2"));
        assert!(!dump.contains("abc1"));
    }

    /// The correlator sees the recorded values, the model stores the
    /// look-alikes: an e-mail address a signup returned and later requests
    /// used in their path and JSON body still links, and neither the pools
    /// nor the kept response body carry it.
    #[test]
    fn produced_personal_values_still_link_and_are_stored_as_look_alikes() {
        let mut b = ModelBuilder::new(BuildOptions::default());
        let mut t = 0;
        for i in 0..12 {
            let email = format!("person{i}@corp.example");
            let mut signup = ex(t, "POST", "/signup");
            signup.client = Some(format!("c{i}"));
            if let Some(r) = signup.response.as_mut() {
                r.body = Some(format!(r#"{{"id":{},"email":"{email}"}}"#, 100 + i).into_bytes());
            }
            b.observe(&signup);
            let mut get = ex(t + 50, "GET", &format!("/users/{email}/profile"));
            get.client = Some(format!("c{i}"));
            b.observe(&get);
            let mut put = ex(t + 90, "PUT", "/contacts");
            put.client = Some(format!("c{i}"));
            put.body = Some(Body {
                mime: "application/json".into(),
                text: Some(format!(r#"{{"contact":{{"email":"{email}"}}}}"#)),
                kind: BodyKind::Json,
                ..Default::default()
            });
            b.observe(&put);
            t += 1000;
        }
        let m = b.finish();
        let keys: Vec<String> = m.endpoints.iter().map(|e| e.key()).collect();
        let index = |key: &str| {
            keys.iter()
                .position(|k| k.starts_with(key))
                .unwrap_or_else(|| panic!("{keys:?}"))
        };
        let (signup, get, put) = (
            index("POST /signup"),
            index("GET /users/{"),
            index("PUT /contacts"),
        );
        let has = |consumer: usize, slot: &Slot| {
            m.links.iter().any(|l| {
                l.producer == signup
                    && l.consumer == consumer
                    && &l.slot == slot
                    && l.source == correlate::Origin::Json("$.email".into())
            })
        };
        assert!(has(get, &Slot::Path(0)), "{:?}", m.links);
        assert!(
            has(put, &Slot::Json("$.contact.email".into())),
            "{:?}",
            m.links
        );
        let dump = format!("{m:?}");
        assert!(!dump.contains("corp.example"), "{dump}");
        let pool = &m.endpoints[get].path_params[0].pool;
        assert!(
            // The template keeps the common `.test` as the slot's suffix.
            pool.values
                .iter()
                .all(|(v, _)| v.starts_with("user") && v.ends_with("@example")),
            "{pool:?}"
        );
        // 12 paths, 12 request bodies and the one response body kept.
        assert_eq!(m.source.pii.as_ref().unwrap()["email"], 25);
    }

    #[test]
    fn keep_secrets_keeps_them() {
        let mut b = ModelBuilder::new(BuildOptions {
            scrub: false,
            ..Default::default()
        });
        b.observe(&ex(0, "GET", "/x"));
        let m = b.finish();
        assert!(format!("{m:?}").contains("s3cr3t-t0ken"));
        assert!(m.secrets.is_empty());
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b+c%zz%4"), "a b c%zz%4");
        assert_eq!(percent_decode("%41%"), "A%");
        assert_eq!(percent_decode("x%4"), "x%4");
        assert_eq!(percent_decode("%e2%82%ac+%ff"), "€ \u{fffd}");
        assert_eq!(percent_decode("plain"), "plain");
        assert_eq!(
            form_pairs("a=1&b&c=%3D"),
            vec![
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), String::new()),
                ("c".to_string(), "=".to_string()),
            ]
        );
    }
}
