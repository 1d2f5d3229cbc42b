//! The model file: gzip-compressed JSON, format `replay-model`, version 4
//! (versions 1 to 3 still load).
//!
//! The on-disk types here are separate from the in-memory model so the
//! wire format changes only on purpose; `docs/model-format.md` documents
//! every field. Loading rejects other formats and versions, non-gzip input
//! and decompression bombs (a cap on the decompressed size), and validates
//! what it reads, so a hand-edited file fails with a message naming the
//! field rather than misbehaving later.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use super::arrival::{self, span_s, Arrival, CompressedGaps, GapChain, Sessions, CHAIN_CLASSES};
use super::correlate::{Origin, Slot};
use super::hist::{Bins, LogHist, BINS_PER_DECADE};
use super::joint::{Joint, JointOpen, Tuple};
use super::pool::{Alphabet, Pool, TailType};
use super::{
    BodyModel, Endpoint, JsonField, JsonType, Link, Param, ResponseModel, ResponseSample,
    SecretUse, Segment, Source, SourceFile, TrafficModel,
};
use crate::ingest::CaptureKind;

pub const FORMAT: &str = crate::ingest::MODEL_FORMAT;
/// The version this build writes. Version 4 (issues 12 and 18):
/// `arrival.spans` and `arrival.gap_chain` (no `arrival.operational_gaps`),
/// and response `samples` (recorded headers and bodies) with `complete`.
pub const VERSION: u32 = 4;
/// Older versions this build still reads (version 1: no `links`; 2: no
/// endpoint `joint`; 3: no `arrival.spans` nor `gap_chain`, and one small
/// response body instead of `samples`).
const READABLE: std::ops::RangeInclusive<u64> = 1..=4;
/// A model file never needs more than this once decompressed.
pub const MAX_DECOMPRESSED: u64 = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    #[error("cannot read model {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a replay model: it is not gzip-compressed (record one with `replay record CAPTURE -o MODEL`)", path.display())]
    NotGzip { path: PathBuf },
    #[error("{} is not a replay model: the gzip data is corrupt or truncated at byte {offset} of the decompressed stream; copy the file again or re-record it", path.display())]
    Corrupt {
        path: PathBuf,
        offset: u64,
        #[source]
        source: std::io::Error,
    },
    #[error("{} decompresses to more than {} MiB (stopped at byte {} of the decompressed stream); a replay model is never that large (a decompression bomb?): record the model again with `replay record`", path.display(), MAX_DECOMPRESSED / (1024 * 1024), MAX_DECOMPRESSED)]
    TooLarge { path: PathBuf },
    #[error("{} is not a replay model: {message}; record it again with `replay record`", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("{} is a {format} file version {version} (fields \"format\" and \"version\"); this replay reads {FORMAT} versions 1 to {VERSION}: re-record the model with this version of replay", path.display())]
    Version {
        path: PathBuf,
        format: String,
        version: u64,
    },
}

// ---------------------------------------------------------------------------
// On-disk types (version 1).

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    version: u64,
}

#[derive(Serialize, Deserialize, Debug)]
struct ModelV1 {
    format: String,
    version: u64,
    created_by: String,
    source: SourceV1,
    arrival: ArrivalV1,
    sessions: SessionsV1,
    endpoints: Vec<EndpointV1>,
    secrets: Vec<SecretV1>,
    /// Version 2: produced values and their consumers.
    #[serde(default)]
    links: Vec<LinkV2>,
}

/// A link (version 2): `producer`/`consumer` index `endpoints`; `from`
/// is `json:$.path`, `location:K` (path segment K of `Location`) or
/// `header:NAME` (a token-like response header); `to` is `path:I` (index
/// into the consumer's path slots), `query:NAME`, `json:$.path` or
/// `header:NAME` (a scrubbed credential header, its value `prefix` and
/// the token).
#[derive(Serialize, Deserialize, Debug)]
struct LinkV2 {
    producer: u64,
    from: String,
    consumer: u64,
    to: String,
    /// What precedes the token in a `header:` consumer (`Bearer `).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    prefix: String,
    count: u64,
    share: f64,
    lag_ms: HistV1,
}

#[derive(Serialize, Deserialize, Debug)]
struct SourceV1 {
    files: Vec<SourceFileV1>,
    seen: u64,
    kept: u64,
    skipped: BTreeMap<String, u64>,
    #[serde(default)]
    warnings: Vec<String>,
    scrubbed: bool,
    /// Personal data replaced by look-alikes, values per kind; absent
    /// when recorded with `--keep-pii` (or before replay looked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pii: Option<BTreeMap<String, u64>>,
}

#[derive(Serialize, Deserialize, Debug)]
struct SourceFileV1 {
    path: String,
    kind: CaptureKind,
    bytes: u64,
    /// Models recorded before the switch to BLAKE3 carry this instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    blake3: Option<String>,
    seen: u64,
    kept: u64,
}

#[derive(Serialize, Deserialize, Debug)]
struct ArrivalV1 {
    start: String,
    start_ns: i64,
    end_ns: i64,
    requests: u64,
    duration_s: f64,
    mean_rate_rps: f64,
    burstiness_cv: f64,
    bin_s: f64,
    bins: Vec<u64>,
    inter_arrival_s: HistV1,
    // Versions 2 and 3 had `operational_gaps`; unknown fields are
    // ignored, so it still loads (and is not used).
    /// Version 4: per bin, its first-to-last request span in ten
    /// thousandths of `bin_s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spans: Option<Vec<u16>>,
    /// Per bin, the offset of its first request from the bin's start, in
    /// the same steps as `spans` (optional: absent in models written
    /// before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    starts: Option<Vec<u16>>,
    /// The recording's clock step, seconds (0.001: whole milliseconds);
    /// absent when continuous or unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tick_s: Option<f64>,
    /// Version 4: the gap chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gap_chain: Option<GapChainV4>,
    /// Idle gaps compressed out of the timeline; absent when none were
    /// (and in models written before `--max-gap`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    compressed_gaps: Option<CompressedGapsV1>,
}

/// Which gap class follows which (version 4).
#[derive(Serialize, Deserialize, Debug)]
struct GapChainV4 {
    /// Class 0: gaps under `low_s`; then `per_decade` classes per power
    /// of ten; the last class is open-ended.
    classes: usize,
    low_s: f64,
    per_decade: u32,
    /// `[from, to, count]`, nonzero counts only.
    transitions: Vec<[u64; 3]>,
}

#[derive(Serialize, Deserialize, Debug)]
struct CompressedGapsV1 {
    max_gap_s: f64,
    gaps: u64,
    removed_s: f64,
}

#[derive(Serialize, Deserialize, Debug)]
struct SessionsV1 {
    clients: u64,
    sessions: u64,
    idle_split_s: f64,
    /// `[endpoint, count]`
    starts: Vec<[u64; 2]>,
    /// `[from, to, count]`
    transitions: Vec<[u64; 3]>,
    /// `[endpoint, count]`
    ends: Vec<[u64; 2]>,
    think_time_s: HistV1,
    length: HistV1,
    /// Which think time follows which within a session (the gap chain's
    /// classes); absent in models written before it (think times are
    /// then drawn independently).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    think_chain: Option<GapChainV4>,
    /// Learned from one client in this many (absent: from every client).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_sample: Option<u64>,
}

#[derive(Serialize, Deserialize, Debug)]
struct HistV1 {
    count: u64,
    sum: f64,
    sum_sq: f64,
    min: f64,
    max: f64,
    zeros: u64,
    bins_per_decade: f64,
    /// `[bin, count]`, bin `i` covering `[10^(i/d), 10^((i+1)/d))`.
    bins: Vec<(i32, u64)>,
}

#[derive(Serialize, Deserialize, Debug)]
struct EndpointV1 {
    method: String,
    scheme: String,
    host: String,
    template: String,
    count: u64,
    weight: f64,
    path: Vec<PathParamV1>,
    query: Vec<ParamV1>,
    headers: Vec<ParamV1>,
    /// Version 3: recorded combinations, drawn whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    joint: Option<JointV3>,
    body: Option<BodyV1>,
    response: ResponseV1,
}

/// An endpoint's recorded combinations (version 3). A `null` value is
/// drawn from the slot's pool.
#[derive(Serialize, Deserialize, Debug)]
struct JointV3 {
    open: JointOpenV3,
    header_sets: Vec<HeaderSetV3>,
    tuples: Vec<TupleV3>,
    tail_count: u64,
}

/// A recorded set of headers (`[name, value]` in recorded order) and the
/// requests that carried it.
#[derive(Serialize, Deserialize, Debug)]
struct HeaderSetV3 {
    count: u64,
    headers: Vec<(String, Option<String>)>,
}

/// Open slots: path slot names, query names, header names (lower case).
#[derive(Serialize, Deserialize, Debug)]
struct JointOpenV3 {
    path: Vec<String>,
    query: Vec<String>,
    headers: Vec<String>,
}

#[derive(Serialize, Deserialize, Debug)]
struct TupleV3 {
    count: u64,
    path: Vec<Option<String>>,
    query: Vec<(String, Option<String>)>,
    /// Index into `header_sets`; `null`: drawn apart, by their counts.
    headers: Option<usize>,
}

#[derive(Serialize, Deserialize, Debug)]
struct PathParamV1 {
    /// Index of the segment in the template (0 = first after `/`).
    segment: usize,
    name: String,
    pool: PoolV1,
}

#[derive(Serialize, Deserialize, Debug)]
struct ParamV1 {
    name: String,
    presence: f64,
    pool: PoolV1,
}

#[derive(Serialize, Deserialize, Debug)]
struct PoolV1 {
    values: Vec<(String, u64)>,
    tail_count: u64,
    tail: TailV1,
}

#[derive(Serialize, Deserialize, Debug)]
#[serde(tag = "type", rename_all = "snake_case")]
enum TailV1 {
    None,
    IntRange {
        min: i64,
        max: i64,
    },
    Uuid,
    Hex {
        len: usize,
        upper: bool,
    },
    Text {
        min_len: usize,
        max_len: usize,
        alphabet: String,
    },
}

#[derive(Serialize, Deserialize, Debug)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum BodyV1 {
    Json {
        presence: f64,
        mime: String,
        skeleton: serde_json::Value,
        fields: Vec<JsonFieldV1>,
    },
    Form {
        presence: f64,
        mime: String,
        fields: Vec<ParamV1>,
    },
    Text {
        presence: f64,
        mime: String,
        pool: PoolV1,
    },
    Opaque {
        presence: f64,
        mime: String,
        size_bytes: HistV1,
    },
}

#[derive(Serialize, Deserialize, Debug)]
struct JsonFieldV1 {
    path: String,
    presence: f64,
    #[serde(rename = "type")]
    json_type: String,
    pool: PoolV1,
}

#[derive(Serialize, Deserialize, Debug)]
struct ResponseV1 {
    status: BTreeMap<String, u64>,
    mime: String,
    size_bytes: HistV1,
    latency_ms: HistV1,
    wait_ms: HistV1,
    /// Versions 1 to 3: one recorded 2xx body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body_base64: Option<String>,
    /// Version 4: recorded responses the mock serves back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    samples: Vec<SampleV4>,
    #[serde(default)]
    complete: bool,
}

/// A recorded response (version 4). The body is `body` when it is UTF-8
/// text, else `body_base64`; neither when it was not kept.
#[derive(Serialize, Deserialize, Debug)]
struct SampleV4 {
    target: String,
    status: u16,
    count: u64,
    #[serde(default)]
    headers: Vec<(String, String)>,
    size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body_base64: Option<String>,
    /// The same body as `samples[body_of]` of this endpoint (an earlier
    /// one), written once: pages recorded under many ids often answer
    /// the same bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body_of: Option<usize>,
}

#[derive(Serialize, Deserialize, Debug)]
struct SecretV1 {
    name: String,
    location: String,
    field: String,
    count: u64,
}

// ---------------------------------------------------------------------------
// Saving.

/// The model as gzip-compressed JSON bytes.
pub fn to_bytes(model: &TrafficModel) -> Vec<u8> {
    let v1 = to_v1(model);
    // Serialize first, compress in one write: flate2 zero-fills its output
    // buffer on every write call, and serde_json writes token by token.
    // Writing to a Vec cannot fail; serializing plain data cannot either.
    let json = serde_json::to_vec(&v1).expect("serializing a model to memory");
    let mut enc = GzEncoder::new(
        Vec::with_capacity(json.len() / 4),
        flate2::Compression::default(),
    );
    enc.write_all(&json).expect("compressing to memory");
    enc.finish().expect("compressing to memory")
}

/// Writes the model atomically: a temporary file in the same directory,
/// then a rename, so a crash never leaves a half-written model.
pub fn save(model: &TrafficModel, path: &Path) -> std::io::Result<()> {
    crate::report::file::write_atomic(path, &to_bytes(model))
}

fn hist_v1(h: &LogHist) -> HistV1 {
    HistV1 {
        count: h.count,
        sum: h.sum,
        sum_sq: h.sum_sq,
        min: h.min,
        max: h.max,
        zeros: h.zeros,
        bins_per_decade: BINS_PER_DECADE,
        bins: h.bins.iter().collect(),
    }
}

fn pool_v1(p: &Pool) -> PoolV1 {
    PoolV1 {
        values: p.values.clone(),
        tail_count: p.tail_count,
        tail: match &p.tail {
            TailType::None => TailV1::None,
            TailType::IntRange { min, max } => TailV1::IntRange {
                min: *min,
                max: *max,
            },
            TailType::Uuid => TailV1::Uuid,
            TailType::Hex { len, upper } => TailV1::Hex {
                len: *len,
                upper: *upper,
            },
            TailType::Text {
                min_len,
                max_len,
                alphabet,
            } => TailV1::Text {
                min_len: *min_len,
                max_len: *max_len,
                alphabet: alphabet.name().to_string(),
            },
        },
    }
}

fn param_v1(p: &Param) -> ParamV1 {
    ParamV1 {
        name: p.name.clone(),
        presence: p.presence,
        pool: pool_v1(&p.pool),
    }
}

fn to_v1(m: &TrafficModel) -> ModelV1 {
    let a = &m.arrival;
    let start = chrono::DateTime::from_timestamp_nanos(a.start_ns)
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    ModelV1 {
        format: FORMAT.to_string(),
        version: VERSION as u64,
        created_by: format!("replay {}", env!("CARGO_PKG_VERSION")),
        source: SourceV1 {
            files: m
                .source
                .files
                .iter()
                .map(|f| SourceFileV1 {
                    path: f.path.clone(),
                    kind: f.kind,
                    bytes: f.bytes,
                    sha256: f.sha256.clone(),
                    blake3: f.blake3.clone(),
                    seen: f.seen,
                    kept: f.kept,
                })
                .collect(),
            seen: m.source.seen,
            kept: m.source.kept,
            skipped: m.source.skipped.clone(),
            warnings: m.source.warnings.clone(),
            scrubbed: m.source.scrubbed,
            pii: m.source.pii.clone(),
        },
        arrival: ArrivalV1 {
            start,
            start_ns: a.start_ns,
            end_ns: a.end_ns,
            requests: a.requests,
            duration_s: a.duration_s(),
            mean_rate_rps: a.mean_rate(),
            burstiness_cv: a.burstiness(),
            bin_s: a.bin_s,
            bins: a.bins.clone(),
            inter_arrival_s: hist_v1(&a.inter_arrival_s),
            spans: (!a.spans_s.is_empty()).then(|| {
                a.spans_s
                    .iter()
                    .map(|s| arrival::span_steps(*s, a.bin_s))
                    .collect()
            }),
            tick_s: (a.tick_s > 0.0).then_some(a.tick_s),
            starts: (!a.starts_s.is_empty()).then(|| {
                a.starts_s
                    .iter()
                    .map(|s| arrival::span_steps(*s, a.bin_s))
                    .collect()
            }),
            gap_chain: gap_chain_v4(&a.chain),
            compressed_gaps: (a.compressed.gaps > 0).then_some(CompressedGapsV1 {
                max_gap_s: a.compressed.max_gap_s,
                gaps: a.compressed.gaps,
                removed_s: a.compressed.removed_s,
            }),
        },
        sessions: SessionsV1 {
            clients: m.sessions.clients,
            sessions: m.sessions.sessions,
            idle_split_s: m.sessions.idle_split_s,
            starts: m
                .sessions
                .starts
                .iter()
                .map(|(k, v)| [*k as u64, *v])
                .collect(),
            transitions: m
                .sessions
                .transitions
                .iter()
                .map(|((f, t), c)| [*f as u64, *t as u64, *c])
                .collect(),
            ends: m
                .sessions
                .ends
                .iter()
                .map(|(k, v)| [*k as u64, *v])
                .collect(),
            think_time_s: hist_v1(&m.sessions.think_time_s),
            length: hist_v1(&m.sessions.length),
            think_chain: gap_chain_v4(&m.sessions.think_chain),
            client_sample: (m.sessions.client_sample > 1).then_some(m.sessions.client_sample),
        },
        endpoints: m.endpoints.iter().map(endpoint_v1).collect(),
        links: m.links.iter().map(link_v2).collect(),
        secrets: m
            .secrets
            .iter()
            .map(|s| SecretV1 {
                name: s.name.clone(),
                location: s.location.clone(),
                field: s.field.clone(),
                count: s.count,
            })
            .collect(),
    }
}

fn link_v2(l: &Link) -> LinkV2 {
    LinkV2 {
        producer: l.producer as u64,
        from: match &l.source {
            Origin::Json(p) => format!("json:{p}"),
            Origin::Location(k) => format!("location:{k}"),
            Origin::Header(n) => format!("header:{n}"),
        },
        consumer: l.consumer as u64,
        to: match &l.slot {
            Slot::Path(i) => format!("path:{i}"),
            Slot::Query(n) => format!("query:{n}"),
            Slot::Json(p) => format!("json:{p}"),
            Slot::Header { name, .. } => format!("header:{name}"),
        },
        prefix: match &l.slot {
            Slot::Header { prefix, .. } => prefix.clone(),
            _ => String::new(),
        },
        count: l.count,
        share: l.share,
        lag_ms: hist_v1(&l.lag_ms),
    }
}

fn link_from(l: LinkV2, i: usize, endpoints: &[Endpoint]) -> Result<Link, String> {
    let what = format!("links[{i}]");
    let endpoint = |n: u64| {
        usize::try_from(n)
            .ok()
            .filter(|n| *n < endpoints.len())
            .ok_or_else(|| format!("{what}: endpoint {n} does not exist"))
    };
    let (producer, consumer) = (endpoint(l.producer)?, endpoint(l.consumer)?);
    let source = match l.from.split_once(':') {
        Some(("json", p)) if p.starts_with('$') => Origin::Json(p.to_string()),
        Some(("location", k)) => Origin::Location(
            k.parse()
                .map_err(|_| format!("{what}: from {:?} is not location:K", l.from))?,
        ),
        Some(("header", n)) if !n.is_empty() => Origin::Header(n.to_ascii_lowercase()),
        _ => {
            return Err(format!(
                "{what}: from {:?} is not json:$…, location:K or header:NAME",
                l.from
            ))
        }
    };
    let slot = match l.to.split_once(':') {
        Some(("path", k)) => {
            let k: usize = k
                .parse()
                .map_err(|_| format!("{what}: to {:?} is not path:I", l.to))?;
            if k >= endpoints[consumer].path_params.len() {
                return Err(format!("{what}: endpoint {consumer} has no path slot {k}"));
            }
            Slot::Path(k)
        }
        Some(("query", n)) if !n.is_empty() => Slot::Query(n.to_string()),
        Some(("json", p)) if p.starts_with('$') => Slot::Json(p.to_string()),
        Some(("header", n)) if !n.is_empty() => Slot::Header {
            name: n.to_ascii_lowercase(),
            prefix: l.prefix.clone(),
        },
        _ => {
            return Err(format!(
                "{what}: to {:?} is not path:I, query:NAME, json:$… or header:NAME",
                l.to
            ))
        }
    };
    if !(0.0..=1.0).contains(&l.share) {
        return Err(format!("{what}: share must be within 0..1"));
    }
    Ok(Link {
        producer,
        source,
        consumer,
        slot,
        count: l.count,
        share: l.share,
        lag_ms: hist_from(l.lag_ms, &format!("{what}.lag_ms"))?,
    })
}

fn endpoint_v1(e: &Endpoint) -> EndpointV1 {
    let path = e
        .segments
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match s {
            Segment::Slot { index, .. } => e.path_params.get(*index).map(|param| PathParamV1 {
                segment: i,
                name: param.name.clone(),
                pool: pool_v1(&param.pool),
            }),
            Segment::Literal(_) => None,
        })
        .collect();
    EndpointV1 {
        method: e.method.clone(),
        scheme: e.scheme.clone(),
        host: e.host.clone(),
        template: e.template.clone(),
        count: e.count,
        weight: e.weight,
        path,
        query: e.query.iter().map(param_v1).collect(),
        headers: e.headers.iter().map(param_v1).collect(),
        joint: e.joint.as_ref().map(|j| joint_v3(j, e)),
        body: e.body.as_ref().map(|b| match b {
            BodyModel::Json {
                presence,
                mime,
                skeleton,
                fields,
            } => BodyV1::Json {
                presence: *presence,
                mime: mime.clone(),
                skeleton: skeleton.clone(),
                fields: fields
                    .iter()
                    .map(|f| JsonFieldV1 {
                        path: f.path.clone(),
                        presence: f.presence,
                        json_type: f.json_type.name().to_string(),
                        pool: pool_v1(&f.pool),
                    })
                    .collect(),
            },
            BodyModel::Form {
                presence,
                mime,
                fields,
            } => BodyV1::Form {
                presence: *presence,
                mime: mime.clone(),
                fields: fields.iter().map(param_v1).collect(),
            },
            BodyModel::Text {
                presence,
                mime,
                pool,
            } => BodyV1::Text {
                presence: *presence,
                mime: mime.clone(),
                pool: pool_v1(pool),
            },
            BodyModel::Opaque {
                presence,
                mime,
                size,
            } => BodyV1::Opaque {
                presence: *presence,
                mime: mime.clone(),
                size_bytes: hist_v1(size),
            },
        }),
        response: ResponseV1 {
            status: e
                .response
                .status
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            mime: e.response.mime.clone(),
            size_bytes: hist_v1(&e.response.size),
            latency_ms: hist_v1(&e.response.latency_ms),
            wait_ms: hist_v1(&e.response.wait_ms),
            body_base64: None,
            samples: samples_v4(&e.response.samples),
            complete: e.response.complete,
        },
    }
}

/// An endpoint's samples, each distinct body written once ([`SampleV4::body_of`]).
fn samples_v4(samples: &[ResponseSample]) -> Vec<SampleV4> {
    let mut first: HashMap<&[u8], usize> = HashMap::new();
    samples
        .iter()
        .enumerate()
        .map(|(k, s)| match s.body.as_deref() {
            Some(b) if !b.is_empty() => match first.get(b) {
                Some(&i) => SampleV4 {
                    body_of: Some(i),
                    ..sample_v4(s, None)
                },
                None => {
                    first.insert(b, k);
                    sample_v4(s, Some(b))
                }
            },
            b => sample_v4(s, b),
        })
        .collect()
}

/// A sample as written, with `body` (none: not kept, or written once
/// elsewhere).
fn sample_v4(s: &ResponseSample, body: Option<&[u8]>) -> SampleV4 {
    let (body, body_base64) = match body {
        None => (None, None),
        Some(b) => match std::str::from_utf8(b) {
            Ok(t) => (Some(t.to_string()), None),
            Err(_) => (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(b)),
            ),
        },
    };
    SampleV4 {
        target: s.target.clone(),
        status: s.status,
        count: s.count,
        headers: s.headers.clone(),
        size: s.size,
        body,
        body_base64,
        body_of: None,
    }
}

fn joint_v3(j: &Joint, e: &Endpoint) -> JointV3 {
    JointV3 {
        open: JointOpenV3 {
            path: e
                .path_params
                .iter()
                .zip(&j.open.path)
                .filter(|(_, open)| **open)
                .map(|(p, _)| p.name.clone())
                .collect(),
            query: j.open.query.clone(),
            headers: j.open.headers.clone(),
        },
        header_sets: j
            .header_sets
            .iter()
            .map(|(headers, count)| HeaderSetV3 {
                count: *count,
                headers: headers.clone(),
            })
            .collect(),
        tuples: j
            .tuples
            .iter()
            .map(|t| TupleV3 {
                count: t.count,
                path: t.path.clone(),
                query: t.query.clone(),
                headers: t.headers,
            })
            .collect(),
        tail_count: j.tail_count,
    }
}

// ---------------------------------------------------------------------------
// Loading.

/// Loads and validates a model file.
pub fn load(path: &Path) -> Result<TrafficModel, ModelFileError> {
    let f = std::fs::File::open(path).map_err(|source| ModelFileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    from_reader(path, f)
}

/// Loads a model from gzip bytes; `path` names it in errors.
pub fn from_reader<R: Read>(path: &Path, mut r: R) -> Result<TrafficModel, ModelFileError> {
    let mut magic = [0u8; 2];
    let mut n = 0;
    while n < 2 {
        match r.read(&mut magic[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(ModelFileError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
    }
    if n < 2 || magic != [0x1f, 0x8b] {
        return Err(ModelFileError::NotGzip {
            path: path.to_path_buf(),
        });
    }
    let dec = GzDecoder::new(std::io::Read::chain(&magic[..], r));
    let mut json = Vec::new();
    let mut limited = dec.take(MAX_DECOMPRESSED + 1);
    if let Err(source) = limited.read_to_end(&mut json) {
        return Err(ModelFileError::Corrupt {
            path: path.to_path_buf(),
            offset: json.len() as u64,
            source,
        });
    }
    if json.len() as u64 > MAX_DECOMPRESSED {
        return Err(ModelFileError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    let invalid = |message: String| ModelFileError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let header: Header = serde_json::from_slice(&json)
        .map_err(|e| invalid(format!("no format/version header ({e})")))?;
    if header.format != FORMAT || !READABLE.contains(&header.version) {
        return Err(ModelFileError::Version {
            path: path.to_path_buf(),
            format: header.format,
            version: header.version,
        });
    }
    let v1: ModelV1 = serde_json::from_slice(&json).map_err(|e| invalid(format!("{e}")))?;
    // Validation messages start with the field path.
    from_v1(v1).map_err(|m| invalid(format!("field {m}")))
}

/// The arrival process of a model file, checked.
fn arrival_from(a: ArrivalV1) -> Result<Arrival, String> {
    if !(a.bin_s.is_finite() && a.bin_s > 0.0) {
        return Err("arrival.bin_s must be a positive number".into());
    }
    if a.end_ns < a.start_ns {
        return Err("arrival.end_ns is before arrival.start_ns".into());
    }
    // A model outside that was edited by hand and would replay for
    // centuries.
    if !PLAUSIBLE_NS.contains(&a.start_ns) || !PLAUSIBLE_NS.contains(&a.end_ns) {
        return Err(
            "arrival.start_ns/end_ns: the recording must lie between 1970 and 2106 (Unix ns)"
                .into(),
        );
    }
    let compressed = match a.compressed_gaps {
        None => CompressedGaps::default(),
        Some(g) => {
            let span = span_s(a.start_ns, a.end_ns);
            let valid = g.removed_s.is_finite()
                && g.removed_s >= 0.0
                && g.removed_s < span
                && g.max_gap_s.is_finite()
                && g.max_gap_s >= 0.0;
            if !valid {
                return Err(
                    "arrival.compressed_gaps: removed_s must be at least 0 and less than end_ns − start_ns, max_gap_s a number at least 0"
                        .into(),
                );
            }
            CompressedGaps {
                max_gap_s: g.max_gap_s,
                gaps: g.gaps,
                removed_s: g.removed_s,
            }
        }
    };
    let spans_s = bin_steps(a.spans, a.bins.len(), a.bin_s, "arrival.spans")?;
    let starts_s = bin_steps(a.starts, a.bins.len(), a.bin_s, "arrival.starts")?;
    let chain = match a.gap_chain {
        None => GapChain::default(),
        Some(g) => gap_chain_from(g, "arrival.gap_chain")?,
    };
    let arrival = Arrival {
        start_ns: a.start_ns,
        end_ns: a.end_ns,
        requests: a.requests,
        bin_s: a.bin_s,
        bins: a.bins,
        inter_arrival_s: hist_from(a.inter_arrival_s, "arrival.inter_arrival_s")?,
        spans_s,
        starts_s,
        tick_s: match a.tick_s {
            None => 0.0,
            Some(t) if (0.0..=1.0).contains(&t) => t,
            Some(t) => return Err(format!("arrival.tick_s: {t} (0 to 1 s)")),
        },
        chain,
        compressed,
    };
    Ok(arrival)
}

/// Per-bin offsets kept in steps of the bin (`arrival.spans`,
/// `arrival.starts`), in seconds; empty when absent.
fn bin_steps(v: Option<Vec<u16>>, bins: usize, bin_s: f64, what: &str) -> Result<Vec<f64>, String> {
    match v {
        None => Ok(Vec::new()),
        Some(s) if s.len() == bins && s.iter().all(|q| f64::from(*q) <= arrival::SPAN_STEPS) => {
            Ok(s.into_iter()
                .map(|q| arrival::span_from_steps(q, bin_s))
                .collect())
        }
        Some(_) => Err(format!(
            "{what}: one number per bin ({bins} bins), each 0 to {}",
            arrival::SPAN_STEPS
        )),
    }
}

/// A gap chain as the file keeps it; `None` when it is empty.
fn gap_chain_v4(chain: &GapChain) -> Option<GapChainV4> {
    (!chain.is_empty()).then(|| GapChainV4 {
        classes: CHAIN_CLASSES,
        low_s: arrival::CHAIN_LOW_S,
        per_decade: 2,
        transitions: chain
            .counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| [(i / CHAIN_CLASSES) as u64, (i % CHAIN_CLASSES) as u64, *c])
            .collect(),
    })
}

/// The gap chain of a version 4 file (`what`: `arrival.gap_chain` or
/// `sessions.think_chain`): the class layout this build uses, every class
/// in range.
fn gap_chain_from(g: GapChainV4, what: &str) -> Result<GapChain, String> {
    if g.classes != CHAIN_CLASSES || g.low_s != arrival::CHAIN_LOW_S || g.per_decade != 2 {
        return Err(format!(
            "{what}: classes {}, low_s {}, per_decade {} (this replay reads {CHAIN_CLASSES}, {}, 2)",
            g.classes,
            g.low_s,
            g.per_decade,
            arrival::CHAIN_LOW_S
        ));
    }
    let mut counts = vec![0u64; CHAIN_CLASSES * CHAIN_CLASSES];
    for [from, to, c] in g.transitions {
        if from as usize >= CHAIN_CLASSES || to as usize >= CHAIN_CLASSES {
            return Err(format!(
                "{what}.transitions: class {} does not exist ({CHAIN_CLASSES} classes)",
                from.max(to)
            ));
        }
        let k = from as usize * CHAIN_CLASSES + to as usize;
        counts[k] = counts[k].saturating_add(c);
    }
    Ok(GapChain { counts })
}

fn hist_from(h: HistV1, what: &str) -> Result<LogHist, String> {
    if h.bins_per_decade != BINS_PER_DECADE {
        return Err(format!("{what}: bins_per_decade must be {BINS_PER_DECADE}"));
    }
    let binned: u64 = h
        .bins
        .iter()
        .map(|b| b.1)
        .fold(h.zeros, u64::saturating_add);
    if binned != h.count {
        return Err(format!(
            "{what}: bin counts add up to {binned}, but count says {}",
            h.count
        ));
    }
    if h.count > 0 && !(h.min.is_finite() && h.max.is_finite() && h.min >= 0.0 && h.min <= h.max) {
        return Err(format!("{what}: min/max are not a valid range"));
    }
    let mut bins = Bins::default();
    for (k, v) in h.bins {
        if !(-400..=400).contains(&k) {
            return Err(format!("{what}: bin {k} is out of range"));
        }
        bins.add(k, v);
    }
    Ok(LogHist {
        bins,
        zeros: h.zeros,
        count: h.count,
        sum: h.sum,
        sum_sq: h.sum_sq,
        min: h.min,
        max: h.max,
    })
}

fn pool_from(p: PoolV1, what: &str) -> Result<Pool, String> {
    let tail = match p.tail {
        TailV1::None => TailType::None,
        TailV1::IntRange { min, max } if min <= max => TailType::IntRange { min, max },
        TailV1::IntRange { .. } => return Err(format!("{what}: int_range has min > max")),
        TailV1::Uuid => TailType::Uuid,
        TailV1::Hex { len, upper } if (1..=4096).contains(&len) => TailType::Hex { len, upper },
        TailV1::Hex { len, .. } => return Err(format!("{what}: hex length {len} is out of range")),
        TailV1::Text {
            min_len,
            max_len,
            alphabet,
        } => {
            if min_len > max_len || max_len > 4096 {
                return Err(format!(
                    "{what}: text length range {min_len}..{max_len} is invalid"
                ));
            }
            let alphabet = Alphabet::from_name(&alphabet)
                .ok_or_else(|| format!("{what}: unknown alphabet {alphabet:?}"))?;
            TailType::Text {
                min_len,
                max_len,
                alphabet,
            }
        }
    };
    let listed = p.values.iter().map(|v| v.1).fold(0u64, u64::saturating_add);
    if listed.checked_add(p.tail_count).is_none() {
        return Err(format!("{what}: counts overflow"));
    }
    Ok(Pool::new(p.values, p.tail_count, tail))
}

fn presence(v: f64, what: &str) -> Result<f64, String> {
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{what}: presence {v} is not between 0 and 1"))
    }
}

fn param_from(p: ParamV1, what: &str) -> Result<Param, String> {
    let w = format!("{what} {:?}", p.name);
    Ok(Param {
        presence: presence(p.presence, &w)?,
        pool: pool_from(p.pool, &w)?,
        name: p.name,
    })
}

pub use crate::ingest::PLAUSIBLE_NS;

fn from_v1(v: ModelV1) -> Result<TrafficModel, String> {
    let source = Source {
        files: v
            .source
            .files
            .into_iter()
            .enumerate()
            .map(|(i, f)| match (&f.blake3, &f.sha256) {
                (None, None) => Err(format!(
                    "source.files[{i}]: no digest (\"blake3\", or \"sha256\" in older models)"
                )),
                _ => Ok(SourceFile {
                    path: f.path,
                    kind: f.kind,
                    bytes: f.bytes,
                    blake3: f.blake3,
                    sha256: f.sha256,
                    seen: f.seen,
                    kept: f.kept,
                }),
            })
            .collect::<Result<_, _>>()?,
        seen: v.source.seen,
        kept: v.source.kept,
        skipped: v.source.skipped,
        warnings: v.source.warnings,
        scrubbed: v.source.scrubbed,
        pii: v.source.pii,
    };
    let n = v.endpoints.len();
    let arrival = arrival_from(v.arrival)?;
    let s = v.sessions;
    let ep = |i: u64, what: &str| -> Result<usize, String> {
        if (i as usize) < n {
            Ok(i as usize)
        } else {
            Err(format!(
                "sessions.{what}: endpoint {i} does not exist ({n} endpoints)"
            ))
        }
    };
    let mut starts = BTreeMap::new();
    for [e, c] in s.starts {
        starts.insert(ep(e, "starts")?, c);
    }
    let mut ends = BTreeMap::new();
    for [e, c] in s.ends {
        ends.insert(ep(e, "ends")?, c);
    }
    let mut transitions = BTreeMap::new();
    for [f, t, c] in s.transitions {
        transitions.insert((ep(f, "transitions")?, ep(t, "transitions")?), c);
    }
    let sessions = Sessions {
        clients: s.clients,
        sessions: s.sessions,
        idle_split_s: s.idle_split_s,
        starts,
        transitions,
        ends,
        think_time_s: hist_from(s.think_time_s, "sessions.think_time_s")?,
        length: hist_from(s.length, "sessions.length")?,
        think_chain: match s.think_chain {
            Some(g) => gap_chain_from(g, "sessions.think_chain")?,
            None => GapChain::default(),
        },
        client_sample: s.client_sample.unwrap_or(1).max(1),
    };
    let total: u64 = v
        .endpoints
        .iter()
        .map(|e| e.count)
        .fold(0, u64::saturating_add);
    let mut endpoints = Vec::with_capacity(n);
    for (i, e) in v.endpoints.into_iter().enumerate() {
        endpoints.push(endpoint_from(e, i, total)?);
    }
    let secrets = v
        .secrets
        .into_iter()
        .map(|s| SecretUse {
            name: s.name,
            location: s.location,
            field: s.field,
            count: s.count,
        })
        .collect();
    let links = v
        .links
        .into_iter()
        .enumerate()
        .map(|(i, l)| link_from(l, i, &endpoints))
        .collect::<Result<Vec<_>, _>>()?;
    let mut model = TrafficModel::new(source, endpoints, arrival, sessions, secrets);
    model.links = links;
    Ok(model)
}

fn endpoint_from(e: EndpointV1, i: usize, total: u64) -> Result<Endpoint, String> {
    // Bounded: a template can be long, and this goes into a one-line error.
    let what = format!(
        "endpoints[{i}] ({} {})",
        clip(&e.method, 16),
        clip(&e.template, 80)
    );
    if !e.template.starts_with('/') {
        return Err(format!("{what}: template must start with '/'"));
    }
    // Any RFC 9110 token, as the readers accept (the fuzzer found a pcap
    // method "POS#" recorded into a model this rejected).
    if !crate::http1::is_token(&e.method) {
        return Err(format!(
            "{what}: method {:?} is not a valid HTTP method",
            e.method
        ));
    }
    let (segments, path_params) = path_from(&e.template, e.path, &what)?;
    let query = e
        .query
        .into_iter()
        .map(|p| param_from(p, &format!("{what} query")))
        .collect::<Result<Vec<_>, _>>()?;
    let headers = e
        .headers
        .into_iter()
        .map(|p| param_from(p, &format!("{what} header")))
        .collect::<Result<Vec<_>, _>>()?;
    let body = match e.body {
        None => None,
        Some(BodyV1::Json {
            presence: pr,
            mime,
            skeleton,
            fields,
        }) => Some(BodyModel::Json {
            presence: presence(pr, &what)?,
            mime,
            skeleton,
            fields: fields
                .into_iter()
                .map(|f| {
                    let w = format!("{what} body field {:?}", f.path);
                    Ok(JsonField {
                        presence: presence(f.presence, &w)?,
                        json_type: JsonType::from_name(&f.json_type)
                            .ok_or_else(|| format!("{w}: unknown type {:?}", f.json_type))?,
                        pool: pool_from(f.pool, &w)?,
                        path: f.path,
                    })
                })
                .collect::<Result<_, String>>()?,
        }),
        Some(BodyV1::Form {
            presence: pr,
            mime,
            fields,
        }) => Some(BodyModel::Form {
            presence: presence(pr, &what)?,
            mime,
            fields: fields
                .into_iter()
                .map(|p| param_from(p, &format!("{what} form field")))
                .collect::<Result<_, _>>()?,
        }),
        Some(BodyV1::Text {
            presence: pr,
            mime,
            pool,
        }) => Some(BodyModel::Text {
            presence: presence(pr, &what)?,
            mime,
            pool: pool_from(pool, &format!("{what} text body"))?,
        }),
        Some(BodyV1::Opaque {
            presence: pr,
            mime,
            size_bytes,
        }) => Some(BodyModel::Opaque {
            presence: presence(pr, &what)?,
            mime,
            size: hist_from(size_bytes, &format!("{what} body size"))?,
        }),
    };
    let mut status = BTreeMap::new();
    for (k, v) in &e.response.status {
        let code: u16 = k
            .parse()
            .ok()
            .filter(|c| (100..=999).contains(c))
            .ok_or_else(|| format!("{what}: response status {k:?} is not an HTTP status code"))?;
        status.insert(code, *v);
    }
    let samples = samples_from(&e.response, &status, &what)?;
    let joint = match e.joint {
        Some(j) => Some(joint_from(j, &what, &path_params, &query, &headers)?),
        None => None,
    };
    Ok(Endpoint {
        joint,
        weight: if total == 0 {
            0.0
        } else {
            e.count as f64 / total as f64
        },
        method: e.method,
        scheme: e.scheme,
        host: e.host,
        template: e.template,
        segments,
        count: e.count,
        path_params,
        query,
        headers,
        body,
        response: ResponseModel {
            status,
            mime: e.response.mime,
            size: hist_from(e.response.size_bytes, &format!("{what} response size"))?,
            latency_ms: hist_from(e.response.latency_ms, &format!("{what} response latency"))?,
            wait_ms: hist_from(e.response.wait_ms, &format!("{what} response wait"))?,
            samples,
            complete: e.response.complete,
        },
    })
}

/// The response samples; a body of a model of version 3 or older becomes
/// one sample for the whole template (empty target), answered with the
/// most recorded 2xx status.
fn samples_from(
    r: &ResponseV1,
    status: &BTreeMap<u16, u64>,
    what: &str,
) -> Result<Vec<ResponseSample>, String> {
    let b64 = |b: &str, field: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|err| format!("{what}: {field}: {err}"))
    };
    if let Some(b) = &r.body_base64 {
        let body = b64(b, "response body_base64")?;
        let ok = status
            .iter()
            .filter(|(s, _)| (200..300).contains(*s))
            .max_by_key(|(_, n)| **n)
            .map_or(200, |(s, _)| *s);
        return Ok(vec![ResponseSample {
            target: String::new(),
            status: ok,
            count: 1,
            headers: Vec::new(),
            size: body.len() as u64,
            body: Some(body),
        }]);
    }
    let mut out = Vec::with_capacity(r.samples.len());
    for (k, s) in r.samples.iter().enumerate() {
        let w = format!("{what} response samples[{k}]");
        if !(100..=999).contains(&s.status) {
            return Err(format!(
                "{w}: status {} is not an HTTP status code",
                s.status
            ));
        }
        if !(s.target.is_empty() || s.target.starts_with('/')) {
            return Err(format!(
                "{w}: target {:?} does not start with /",
                clip(&s.target, 60)
            ));
        }
        for (name, value) in &s.headers {
            if !crate::http1::is_token(name)
                || value.bytes().any(|b| b.is_ascii_control() && b != b'\t')
            {
                return Err(format!(
                    "{w}: header {:?} is not a valid HTTP header",
                    clip(name, 60)
                ));
            }
        }
        let body = match (&s.body, &s.body_base64, s.body_of) {
            (Some(t), None, None) => Some(t.clone().into_bytes()),
            (None, Some(b), None) => Some(b64(b, &format!("response samples[{k}] body_base64"))?),
            (None, None, None) => None,
            (None, None, Some(i)) => match out.get(i).and_then(|o: &ResponseSample| o.body.clone())
            {
                Some(b) => Some(b),
                None => {
                    return Err(format!(
                        "{w}: body_of {i} names no earlier sample with a body"
                    ))
                }
            },
            _ => return Err(format!("{w}: more than one of body, body_base64, body_of")),
        };
        out.push(ResponseSample {
            target: s.target.clone(),
            status: s.status,
            count: s.count,
            headers: s.headers.clone(),
            size: s.size,
            body,
        });
    }
    Ok(out)
}

/// The template's segments and path slots: a slot's segment in the
/// template is `{name}` and the slot's literal suffix, if any
/// (`{slug}.png`).
fn path_from(
    template: &str,
    path: Vec<PathParamV1>,
    what: &str,
) -> Result<(Vec<Segment>, Vec<Param>), String> {
    let raw: Vec<&str> = super::template::split_path(template).collect();
    let mut segments: Vec<Segment> = raw
        .iter()
        .map(|s| Segment::Literal(s.to_string()))
        .collect();
    let mut path_params = Vec::new();
    for p in path {
        if p.segment >= segments.len() {
            return Err(format!(
                "{what}: path slot {:?} points at segment {} of {}",
                p.name,
                p.segment,
                segments.len()
            ));
        }
        let suffix = raw[p.segment]
            .strip_prefix('{')
            .and_then(|r| r.strip_prefix(p.name.as_str()))
            .and_then(|r| r.strip_prefix('}'))
            .ok_or_else(|| {
                format!(
                    "{what}: path slot {:?} points at segment {}, which is not {{{}}}",
                    p.name, p.segment, p.name
                )
            })?;
        segments[p.segment] = Segment::Slot {
            index: path_params.len(),
            suffix: suffix.to_string(),
        };
        let w = format!("{what} path slot {:?}", p.name);
        path_params.push(Param {
            pool: pool_from(p.pool, &w)?,
            name: p.name,
            presence: 1.0,
        });
    }
    Ok((segments, path_params))
}

/// Checks a joint table against its endpoint: one value per path slot, and
/// a value left to a pool (`null`) only where there is a pool to draw it.
fn joint_from(
    j: JointV3,
    what: &str,
    path: &[Param],
    query: &[Param],
    headers: &[Param],
) -> Result<Joint, String> {
    let what = format!("{what} joint");
    let mut open_path = vec![false; path.len()];
    for name in &j.open.path {
        let i = path
            .iter()
            .position(|p| &p.name == name)
            .ok_or_else(|| format!("{what}: open path slot {name:?} does not exist"))?;
        open_path[i] = true;
    }
    let has = |ps: &[Param], n: &str| ps.iter().any(|p| p.name.eq_ignore_ascii_case(n));
    for n in &j.open.query {
        if !has(query, n) {
            return Err(format!("{what}: open query {n:?} has no pool in query[]"));
        }
    }
    for n in &j.open.headers {
        if !has(headers, n) {
            return Err(format!(
                "{what}: open header {n:?} has no pool in headers[]"
            ));
        }
    }
    for (i, set) in j.header_sets.iter().enumerate() {
        if let Some((n, _)) = set
            .headers
            .iter()
            .find(|(n, v)| v.is_none() && !has(headers, n))
        {
            return Err(format!(
                "{what}: header_sets[{i}] leaves {n:?} to a pool, but headers[] has none"
            ));
        }
    }
    let mut tuples = Vec::with_capacity(j.tuples.len());
    let mut total = j.tail_count;
    for (i, t) in j.tuples.into_iter().enumerate() {
        let w = format!("{what} tuples[{i}]");
        if t.path.len() != path.len() {
            return Err(format!(
                "{w}: {} path values for {} path slots",
                t.path.len(),
                path.len()
            ));
        }
        if let Some(h) = t.headers.filter(|h| *h >= j.header_sets.len()) {
            return Err(format!("{w}: header set {h} does not exist"));
        }
        if let Some((n, _)) = t.query.iter().find(|(n, v)| v.is_none() && !has(query, n)) {
            return Err(format!(
                "{w}: query {n:?} is left to a pool, but query[] has none"
            ));
        }
        total = total
            .checked_add(t.count)
            .ok_or_else(|| format!("{w}: counts overflow"))?;
        tuples.push(Tuple {
            path: t.path,
            query: t.query,
            headers: t.headers,
            count: t.count,
        });
    }
    Ok(Joint::new(
        JointOpen {
            path: open_path,
            query: j.open.query,
            headers: j.open.headers,
        },
        j.header_sets
            .into_iter()
            .map(|s| (s.headers, s.count))
            .collect(),
        tuples,
        j.tail_count,
    ))
}

/// At most `max` bytes of `s` (on a char boundary), with "…" when cut.
fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Writes a gzip stream of `json` (for tests that need odd files).
#[doc(hidden)]
pub fn gzip(json: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = enc.write_all(json);
    enc.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_other_formats_versions_and_bombs() {
        let p = Path::new("m.model.gz");
        let e = from_reader(p, &b"{\"format\":\"replay-model\"}"[..]).unwrap_err();
        assert!(matches!(e, ModelFileError::NotGzip { .. }), "{e}");
        let e = from_reader(p, &gzip(br#"{"format":"replay-model","version":5}"#)[..]).unwrap_err();
        assert!(e.to_string().contains("version 5"), "{e}");
        let e = from_reader(p, &gzip(br#"{"format":"other","version":1}"#)[..]).unwrap_err();
        assert!(matches!(e, ModelFileError::Version { .. }), "{e}");
        let e = from_reader(p, &gzip(b"[1,2")[..]).unwrap_err();
        assert!(matches!(e, ModelFileError::Invalid { .. }), "{e}");
        // Truncated gzip.
        let full = gzip(br#"{"format":"replay-model","version":1}"#);
        let e = from_reader(p, &full[..full.len() / 2]).unwrap_err();
        assert!(matches!(e, ModelFileError::Corrupt { .. }), "{e}");
    }

    /// A recording whose client creates posts and deletes them: the link
    /// is learned, saved, loaded back, and a version 1 file (no links)
    /// still loads.
    #[test]
    fn links_round_trip_and_version_1_models_load_without_them() {
        use crate::model::correlate::api_exchange as ex;
        let mut b = crate::model::ModelBuilder::new(Default::default());
        for i in 0..30 {
            let t = i * 100;
            b.observe(&ex(t, "GET", format!("/posts/{}", 1 + i % 7), None));
            let id = 501 + i;
            b.observe(&ex(
                t + 10,
                "POST",
                "/posts".into(),
                Some(format!(r#"{{"id":{id}}}"#)),
            ));
            b.observe(&ex(t + 50, "DELETE", format!("/posts/{id}"), None));
        }
        let m = b.finish();
        assert_eq!(m.links.len(), 1, "{:?}", m.links);
        let l = &m.links[0];
        assert_eq!(m.endpoints[l.producer].method, "POST");
        assert_eq!(m.endpoints[l.consumer].method, "DELETE");
        assert_eq!(
            (&l.source, &l.slot),
            (&Origin::Json("$.id".into()), &Slot::Path(0))
        );
        assert_eq!((l.count, l.share), (30, 1.0));
        let p = Path::new("m.model.gz");
        let json = serde_json::to_string(&to_v1(&m)).unwrap();
        let back = from_reader(p, &gzip(json.as_bytes())[..]).unwrap();
        assert_eq!(back.links, m.links);
        let mut v1: serde_json::Value = serde_json::from_str(&json).unwrap();
        v1["version"] = 1.into();
        v1.as_object_mut().unwrap().remove("links");
        let old = from_reader(p, &gzip(v1.to_string().as_bytes())[..]).unwrap();
        assert!(old.links.is_empty());
        assert_eq!(old.endpoints, m.endpoints);
    }

    /// A body recorded for several targets is written once (`body_of`)
    /// and every sample has it again once loaded; a `body_of` naming no
    /// earlier body is refused.
    #[test]
    fn repeated_bodies_are_written_once_and_load_for_every_sample() {
        use crate::model::correlate::api_exchange as ex;
        let mut b = crate::model::ModelBuilder::new(Default::default());
        let page = "<html>weather-page".to_string() + &"the same page ".repeat(2000) + "</html>";
        for i in 0..20 {
            let mut x = ex(
                i * 100,
                "GET",
                format!("/weather/{}", 100 + i),
                Some(page.clone()),
            );
            x.response.as_mut().unwrap().mime = "text/html".into();
            b.observe(&x);
        }
        let m = b.finish();
        let samples = &m.endpoints[0].response.samples;
        assert_eq!(samples.len(), 20, "{samples:?}");
        let json = serde_json::to_string(&to_v1(&m)).unwrap();
        assert_eq!(json.matches("weather-page").count(), 1);
        assert_eq!(json.matches("\"body_of\":0").count(), 19);
        let p = Path::new("m.model.gz");
        let back = from_reader(p, &gzip(json.as_bytes())[..]).unwrap();
        assert_eq!(back.endpoints[0].response.samples, *samples);
        let bad = json.replacen("\"body_of\":0", "\"body_of\":7", 1);
        let e = from_reader(p, &gzip(bad.as_bytes())[..]).unwrap_err();
        assert!(
            e.to_string().contains("body_of 7 names no earlier sample"),
            "{e}"
        );
    }

    /// Models recorded before the switch to BLAKE3 carry `sha256`: they
    /// still load, and keep that digest when written again.
    #[test]
    fn loads_models_with_the_older_sha256_digest() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/har/mitmproxy__successful_log.har"
        ));
        let mut b = crate::model::ModelBuilder::new(Default::default());
        let (kind, stats, digest) =
            crate::ingest::read_capture_hashed(path, &mut |x| b.observe(x)).unwrap();
        let file = crate::model::SourceFile {
            path: "capture.har".into(),
            kind,
            bytes: digest.bytes,
            blake3: Some(digest.blake3.clone()),
            sha256: None,
            seen: stats.seen,
            kept: stats.kept,
        };
        b.add_source(file, &stats);
        let json = String::from_utf8(serde_json::to_vec(&to_v1(&b.finish())).expect("serializes"))
            .unwrap();
        let new_key = format!("\"blake3\":\"{}\"", digest.blake3);
        assert!(json.contains(&new_key), "{json}");
        let p = Path::new("m.model.gz");

        let old = json.replace(&new_key, "\"sha256\":\"b3c61f87\"");
        let m = from_reader(p, &gzip(old.as_bytes())[..]).unwrap();
        let f = &m.source.files[0];
        assert_eq!(
            (f.blake3.as_deref(), f.sha256.as_deref()),
            (None, Some("b3c61f87"))
        );
        assert_eq!(f.digest(), ("sha256", "b3c61f87"));
        let again = serde_json::to_string(&to_v1(&m)).unwrap();
        assert!(again.contains("\"sha256\":\"b3c61f87\"") && !again.contains("blake3"));

        let none = json.replace(&format!("{new_key},"), "");
        let e = from_reader(p, &gzip(none.as_bytes())[..]).unwrap_err();
        assert!(e.to_string().contains("no digest"), "{e}");
    }

    #[test]
    fn a_recording_dated_outside_1970_to_2106_is_refused() {
        let har =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/har/mitmproxy__insomnia.har");
        let mut b = crate::model::builder::ModelBuilder::new(Default::default());
        crate::ingest::read_capture(&har, &mut |x| b.observe(x)).unwrap();
        let model = b.finish();
        let json = |start: i64, end: i64| {
            let mut v: serde_json::Value =
                serde_json::from_slice(&decompress(&to_bytes(&model))).unwrap();
            v["arrival"]["start_ns"] = start.into();
            v["arrival"]["end_ns"] = end.into();
            gzip(&serde_json::to_vec(&v).unwrap())
        };
        let p = Path::new("m.model.gz");
        assert!(from_reader(
            p,
            &json(1_700_000_000_000_000_000, 1_700_000_001_000_000_000)[..]
        )
        .is_ok());
        for (start, end) in [(-1_000_000_000_000_000_000, 0), (0, i64::MAX)] {
            let e = from_reader(p, &json(start, end)[..]).unwrap_err();
            assert!(e.to_string().contains("between 1970 and 2106"), "{e}");
        }
    }

    fn decompress(gz: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn bomb_is_stopped_by_the_cap() {
        // 100 MiB of spaces compress to ~100 KB; streamed, never held whole
        // beyond the cap.
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::best());
        let chunk = vec![b' '; 1 << 20];
        for _ in 0..100 {
            enc.write_all(&chunk).unwrap();
        }
        let bomb = enc.finish().unwrap();
        assert!(bomb.len() < 1 << 20);
        let e = from_reader(Path::new("bomb.gz"), &bomb[..]).unwrap_err();
        assert!(matches!(e, ModelFileError::TooLarge { .. }), "{e}");
    }
}
