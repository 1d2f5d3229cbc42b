//! The traffic model: what `replay` learns from a capture.
//!
//! [`ModelBuilder`] consumes [`Exchange`](crate::ingest::Exchange)s one at a
//! time (bounded memory: pools and trie nodes are capped, per request only
//! 16 bytes are kept for the arrival process) and [`ModelBuilder::finish`]
//! produces a [`TrafficModel`]:
//!
//! - endpoints: method + host + path template (`/posts/{id}`), weights,
//!   parameter pools for path, query, header and body slots, and the
//!   recorded combinations of path slots, query pairs and header sets
//!   ([`joint`]) that generation draws whole;
//! - the arrival process: rate over time, inter-arrival distribution,
//!   burstiness; per-client sessions with transitions and think times;
//! - responses per endpoint: status mix, size and latency distributions;
//! - what was skipped, which secrets were scrubbed and how much personal
//!   data was replaced by look-alikes ([`pii`]).
//!
//! [`file`](mod@file) is the versioned on-disk form (gzip JSON), separate from these
//! in-memory types.

pub mod arrival;
pub mod builder;
pub mod client;
pub mod correlate;
pub mod encode;
pub mod file;
pub mod hist;
pub mod joint;
pub mod pii;
pub mod pool;
pub mod response;
pub mod scrub;
pub mod template;
mod traffic;

pub use arrival::{Arrival, Sessions};
pub use builder::{BuildOptions, ModelBuilder};
pub use hist::LogHist;
pub use joint::{Joint, JointOpen, Tuple};
pub use pool::{Pool, TailType};
pub use traffic::{
    BodyModel, Endpoint, JsonField, JsonType, Link, Param, ResponseModel, ResponseSample,
    SecretUse, Segment, Source, SourceFile, TrafficModel,
};
