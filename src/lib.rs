//! `replay` — a record-and-replay HTTP load tester.
//!
//! # Layout
//!
//! The modules follow the pipeline, each stage with one job and typed data
//! between stages:
//!
//! - [`ingest`]: capture files (HAR, pcap, pcapng) → [`ingest::Exchange`]s,
//!   streamed one at a time, with counts of what was skipped and why.
//! - [`model`]: exchanges → [`model::TrafficModel`] (endpoint templates,
//!   parameter pools, arrival process, sessions, responses), and the
//!   versioned on-disk model file.
//! - [`schedule`]: intended send times from the arrival process, seeded.
//! - [`generate`]: `generate(&model, &mut rng)` → a concrete request; pure and
//!   deterministic for a seed.
//! - [`metrics`]: executor samples → HdrHistograms per metric × endpoint ×
//!   status class and counters; exact merge, interval time series.
//! - [`threshold`]: k6 threshold expressions, parsed and evaluated against
//!   a [`metrics::Recorder`].
//! - [`mock`]: the built-in mock of a recorded service (a hyper server
//!   answering with the recorded statuses, sizes and latencies), the
//!   default target of a replay.
//! - [`report`]: the end-of-run summary type and its exports (JSON summary,
//!   text report, NDJSON time series), written atomically.
//! - [`http1`]: HTTP/1 message framing (tokens, `Content-Length`, chunked
//!   decoding, body framing), shared by the pcap reader and the lean
//!   HTTP/1.1 load client.
//! - [`cli`]: the command line (what the user typed) and the commands that
//!   drive the stages.

pub mod cli;
pub mod execute;
pub mod generate;
pub mod http1;
pub mod ingest;
pub mod metrics;
pub mod mock;
pub mod model;
pub mod report;
pub mod schedule;
pub mod threshold;
