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
//! - [`generate`]: `generate(&model, &mut rng)` → a concrete request; pure and
//!   deterministic for a seed.
//! - [`cli`]: the command line (what the user typed) and the commands that
//!   drive the stages.

pub mod ingest;
pub mod model;
pub mod generate;
pub mod cli;
