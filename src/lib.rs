//! `replay` — a record-and-replay HTTP load tester.
//!
//! # Layout
//!
//! The modules follow the pipeline, each stage with one job and typed data
//! between stages:
//!
//! - [`ingest`]: capture files (HAR, pcap, pcapng) → [`ingest::Exchange`]s,
//!   streamed one at a time, with counts of what was skipped and why.
//!   (HTTP/1 framing is shared with the executor.)
//! - [`model`]: exchanges → [`model::TrafficModel`] (endpoint templates,
//!   parameter pools, arrival process, sessions, responses) with secrets
//!   scrubbed and personal data replaced by look-alikes, and the
//!   versioned on-disk model file.
//! - [`schedule`]: intended send times from the arrival process, seeded.
//! - [`generate`]: `generate(&model, &mut rng)` → a concrete request (path
//!   in origin form); pure and deterministic for a seed.
//! - [`target`]: `--target`, parsed and checked once into scheme, host,
//!   port and base path.
//! - [`tls`]: the TLS client of a run (trusted authorities, `--cacert`,
//!   client certificates, `--insecure`), checked before anything starts.
//! - [`execute`]: the executor — an open-model load generator on threads of
//!   its own, CO-correct timing, the lean HTTP/1.1 client and hyper for
//!   HTTP/2 — turning a schedule into samples.
//! - [`metrics`]: executor samples → HdrHistograms per metric × endpoint ×
//!   status class and counters; exact merge, interval time series.
//! - [`threshold`]: k6 threshold expressions, parsed and evaluated against
//!   a [`metrics::Recorder`].
//! - [`mock`]: the built-in mock of a recorded service (a hyper server
//!   answering with the recorded statuses, sizes and latencies), the
//!   default target of a replay.
//! - [`run`]: the run layer — [`run::RunPlan::build`] checks everything
//!   before anything starts, [`run::Session`] runs the steps against the
//!   target or the mock and returns one [`run::RunReport`].
//! - [`report`]: the end-of-run summary type and its exports (JSON summary,
//!   text report, NDJSON time series), written atomically.
//! - [`compare`]: two summaries judged against each other (`replay
//!   compare`, `run --baseline`): per-endpoint deltas, a block-bootstrap
//!   interval and a minimum practical effect.
//! - [`http1`]: HTTP/1 message framing (tokens, `Content-Length`, chunked
//!   decoding, body framing), shared by the pcap reader and the lean
//!   HTTP/1.1 load client.
//! - [`shard`]: `--shard K/N`, the part of the global schedule one
//!   process sends (used by the schedule, the executor and `merge`).
//! - [`credential`]: which header, query and field names carry
//!   credentials, shared by the capture readers and the model's scrubber.
//! - [`cli`]: the command line (what the user typed) and the commands that
//!   drive the stages. No other module imports it.
//!
//! Shared by all: [`units`] (the one grammar of durations, rates and
//! scales), [`human`] (the one formatter for people), [`error`] (usage
//! errors and exit codes), [`shutdown`] (the caller's stop request).

pub mod cli;
pub mod compare;
pub mod credential;
pub mod error;
pub mod execute;
pub mod fidelity;
pub mod generate;
pub mod http1;
pub mod human;
pub mod ingest;
pub mod metrics;
pub mod mock;
pub mod model;
pub mod report;
pub mod run;
pub mod schedule;
pub mod shard;
pub mod shutdown;
pub mod target;
pub mod threshold;
pub mod tls;
pub mod units;
