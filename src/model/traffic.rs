//! The in-memory traffic model types: [`TrafficModel`] and its endpoints,
//! parameters, bodies, responses and secrets. The builder produces them,
//! the model file serializes them, generation and the mock read them.

use std::collections::BTreeMap;

use super::arrival::{Arrival, Sessions};
use super::correlate::{Origin, Slot};
use super::hist::LogHist;
use super::joint::Joint;
use super::pool::Pool;
use crate::ingest::CaptureKind;

/// A learned traffic model.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficModel {
    pub source: Source,
    /// Sorted by count, most frequent first.
    pub endpoints: Vec<Endpoint>,
    pub arrival: Arrival,
    pub sessions: Sessions,
    /// Secrets replaced by placeholders, and where.
    pub secrets: Vec<SecretUse>,
    /// Values a response produced and later requests used (see
    /// [`super::correlate`]); empty for models recorded before version 2.
    pub links: Vec<Link>,
    /// Running totals of endpoint counts, for weighted sampling.
    cumulative: Vec<u64>,
}

impl TrafficModel {
    pub fn new(
        source: Source,
        endpoints: Vec<Endpoint>,
        arrival: Arrival,
        sessions: Sessions,
        secrets: Vec<SecretUse>,
    ) -> TrafficModel {
        let mut acc = 0;
        let cumulative = endpoints
            .iter()
            .map(|e| {
                acc += e.count;
                acc
            })
            .collect();
        TrafficModel {
            source,
            endpoints,
            arrival,
            sessions,
            secrets,
            links: Vec::new(),
            cumulative,
        }
    }

    /// Total requests modelled.
    pub fn requests(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// Picks an endpoint index with probability proportional to its count,
    /// given a uniform draw in `0..requests()`.
    pub fn endpoint_at(&self, draw: u64) -> usize {
        self.cumulative.partition_point(|c| *c <= draw)
    }

    /// Names of all secret placeholders the model's requests carry.
    pub fn placeholder_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.secrets.iter().map(|s| s.name.clone()).collect();
        names.sort();
        names.dedup();
        names
    }
}

/// A produced value's way from a response to later requests.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// The endpoint whose response carries the value.
    pub producer: usize,
    pub source: Origin,
    /// The endpoint whose requests use it.
    pub consumer: usize,
    /// Where: a path slot (index into `path_params`) or a query name.
    pub slot: Slot,
    /// Recorded requests of the consumer that used a produced value there.
    pub count: u64,
    /// `count` over the consumer's requests that filled the slot.
    pub share: f64,
    /// Time from the producing response to the using request, ms.
    pub lag_ms: LogHist,
}

/// Where the model came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Source {
    pub files: Vec<SourceFile>,
    /// Requests seen in all captures (kept + skipped).
    pub seen: u64,
    /// Requests modelled.
    pub kept: u64,
    pub skipped: BTreeMap<String, u64>,
    pub warnings: Vec<String>,
    /// False when recorded with `--keep-secrets`.
    pub scrubbed: bool,
    /// Personal data replaced by look-alikes: values replaced per kind
    /// (`card`, `email`, `phone`, `ip`, `iban`, `field`). `None` when
    /// recorded with `--keep-pii`, or by a replay that did not look.
    pub pii: Option<BTreeMap<String, u64>>,
}

impl Source {
    /// Requests skipped, not counting the `(kept) …` notes (exchanges
    /// that were modelled but are worth mentioning).
    pub fn skipped_total(&self) -> u64 {
        self.skipped
            .iter()
            .filter(|(k, _)| !k.starts_with("(kept)"))
            .map(|(_, v)| v)
            .sum()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SourceFile {
    pub path: String,
    pub kind: CaptureKind,
    pub bytes: u64,
    /// The capture's digest, hex: BLAKE3 for models recorded now, SHA-256
    /// for models recorded before replay switched (at least one is set).
    pub blake3: Option<String>,
    pub sha256: Option<String>,
    pub seen: u64,
    pub kept: u64,
}

impl SourceFile {
    /// (algorithm, hex digest) of the capture.
    pub fn digest(&self) -> (&'static str, &str) {
        match (&self.blake3, &self.sha256) {
            (Some(b), _) => ("blake3", b),
            (None, Some(s)) => ("sha256", s),
            (None, None) => ("none", ""),
        }
    }
}

/// One endpoint: method + origin + path template.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub method: String,
    /// `http` or `https`.
    pub scheme: String,
    /// Host and optional port as recorded.
    pub host: String,
    /// Path template, e.g. `/posts/{id}`.
    pub template: String,
    pub segments: Vec<Segment>,
    pub count: u64,
    /// Share of all requests, `count / total`.
    pub weight: f64,
    /// Path slots in the order they appear in the template.
    pub path_params: Vec<Param>,
    pub query: Vec<Param>,
    pub headers: Vec<Param>,
    /// The recorded combinations of path slots, query pairs and header
    /// sets, drawn whole; `None` in models written before version 3
    /// (every slot is then drawn from its pool alone).
    pub joint: Option<Joint>,
    pub body: Option<BodyModel>,
    pub response: ResponseModel,
}

impl Endpoint {
    /// `GET /posts/{id}`: the key used in reports and threshold tags.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.template)
    }
}

/// A path segment in a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    /// A slot: `index` into `Endpoint::path_params`, followed by the
    /// literal `suffix` (a file extension such as `.png`, or `""`).
    Slot {
        index: usize,
        suffix: String,
    },
}

/// A slot: a path, query, header or form parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    /// Share of the endpoint's requests that carried it.
    pub presence: f64,
    pub pool: Pool,
}

/// How request bodies of an endpoint are generated.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyModel {
    /// A JSON skeleton whose scalar leaves are slots.
    Json {
        presence: f64,
        mime: String,
        skeleton: serde_json::Value,
        fields: Vec<JsonField>,
    },
    /// `application/x-www-form-urlencoded` fields.
    Form {
        presence: f64,
        mime: String,
        fields: Vec<Param>,
    },
    /// Whole bodies seen verbatim (small text bodies).
    Text {
        presence: f64,
        mime: String,
        pool: Pool,
    },
    /// Binary or large bodies: only their size is modelled.
    Opaque {
        presence: f64,
        mime: String,
        size: LogHist,
    },
}

/// A scalar leaf of a JSON body skeleton.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonField {
    /// `$.user.id`, `$.items[].sku`.
    pub path: String,
    pub presence: f64,
    pub json_type: JsonType,
    pub pool: Pool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonType {
    String,
    Number,
    Bool,
    Null,
}

impl JsonType {
    pub fn name(self) -> &'static str {
        match self {
            JsonType::String => "string",
            JsonType::Number => "number",
            JsonType::Bool => "bool",
            JsonType::Null => "null",
        }
    }

    pub fn from_name(s: &str) -> Option<JsonType> {
        Some(match s {
            "string" => JsonType::String,
            "number" => JsonType::Number,
            "bool" => JsonType::Bool,
            "null" => JsonType::Null,
            _ => return None,
        })
    }
}

/// Responses of one endpoint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResponseModel {
    pub status: BTreeMap<u16, u64>,
    /// Most common response mime type.
    pub mime: String,
    /// Body size, bytes.
    pub size: LogHist,
    /// Total time (request start to last byte), ms.
    pub latency_ms: LogHist,
    /// Time to first byte, ms.
    pub wait_ms: LogHist,
    /// Recorded responses the mock serves back, one per distinct request
    /// target and status (at most `MAX_SAMPLES` per endpoint), in the
    /// order first seen.
    pub samples: Vec<ResponseSample>,
    /// Every distinct path the endpoint was recorded with has a sample, so
    /// a path with none was never recorded (the mock's rule for unknown
    /// values needs to know).
    pub complete: bool,
}

/// Recorded responses kept per endpoint (distinct target and status).
pub const MAX_SAMPLES: usize = 64;

/// One recorded response, as the mock serves it back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResponseSample {
    /// Path and query as requested (personal data replaced as in the
    /// pools, so generated requests find it); empty for a body kept by a
    /// model of version 3 or older, which stands for the whole template.
    pub target: String,
    pub status: u16,
    /// Recorded requests answered with this status at this target.
    pub count: u64,
    /// End-to-end headers in recorded order, credentials scrubbed; never
    /// hop-by-hop ones, `Content-Length`, `Date` or `Content-Encoding` (the
    /// body is kept decoded and the mock makes those afresh).
    pub headers: Vec<(String, String)>,
    /// The recorded body size in bytes (decoded).
    pub size: u64,
    /// The body, decoded; `None` when it was not recorded or not kept (the
    /// mock then serves filler of `size` bytes).
    pub body: Option<Vec<u8>>,
}

impl ResponseSample {
    /// The path part of `target`.
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }
}

/// One kind of secret the model replaced by a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretUse {
    /// Placeholder name: `{{secret:NAME}}`.
    pub name: String,
    /// `header`, `query`, `form`, `json`.
    pub location: String,
    /// The header, parameter or field name as recorded.
    pub field: String,
    /// How many values were scrubbed.
    pub count: u64,
}
