//! [`Plan`]: everything the executor needs besides the model, decided by
//! the run plan ([`crate::run::RunPlan`]) before the executor starts.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::diagnosis::Diagnosis;
use super::proxy::Proxy;
use crate::schedule::ScheduleSpec;
use crate::target::{Resolve, Target};
use crate::tls::ClientTls;

/// Everything the executor needs besides the model.
#[derive(Debug, Clone)]
pub struct Plan {
    pub target: Target,
    pub schedule: ScheduleSpec,
    /// Requests intended before this offset are sent but not measured.
    pub warmup: Duration,
    pub seed: u64,
    /// Cap on open connections.
    pub connections: usize,
    /// Cap on requests awaiting a response.
    pub max_in_flight: usize,
    /// Per-request timeout, from the actual send to the last body byte.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub http2: bool,
    pub insecure: bool,
    /// The TLS client of an https:// target, built and checked by the run
    /// plan (`None`: the bundled and system roots, or `insecure`).
    pub tls: Option<ClientTls>,
    /// The proxy connections go through (`None`: direct).
    pub proxy: Option<Proxy>,
    /// `--resolve`: addresses for names, instead of DNS.
    pub resolve: Vec<Resolve>,
    /// Where connections go when the target was renamed (`--host`): the
    /// address or name the target had.
    pub connect_host: Option<String>,
    /// Where the executor notes each error kind's first message and count
    /// (fresh per step).
    pub diagnosis: Arc<Diagnosis>,
    /// `-H` headers: set on every request (replacing recorded ones).
    pub headers: Vec<(String, String)>,
    /// Values for `{{secret:NAME}}` placeholders.
    pub secrets: HashMap<String, String>,
    /// Time-series interval.
    pub interval: Duration,
    /// How long to wait for in-flight requests once the schedule ends.
    pub drain: Duration,
    /// Replay per-client sessions (transitions and think times) instead
    /// of independent arrivals.
    pub sessions: bool,
    /// This process's part of the global schedule (`--shard K/N`).
    pub shard: crate::schedule::Shard,
    /// The wall-clock time the schedule's offset 0 falls on (`--start-at`,
    /// shards starting together); `None`: now.
    pub start_at: Option<std::time::SystemTime>,
    /// Load-generator threads, each with its own runtime, connections and
    /// share of the schedule.
    pub threads: usize,
    /// Requests due within this long of the first due one are sent with
    /// one wake-up (their wait is measured as schedule lag).
    pub timer_slack: Duration,
    /// Poll instead of sleeping between requests due less than
    /// `timer::BUSY_WAIT` apart (see the `timer` module): each load thread
    /// keeps its core busy.
    pub busy_poll: bool,
    /// The intended mean rate, req/s, of the whole run (0 when unknown):
    /// sizes each thread's queue of requests waiting for a connection.
    pub rate: f64,
    /// Status codes whose trends are kept apart from their class's, for
    /// thresholds that name them ([`crate::threshold::trend_codes`]).
    pub status_codes: Vec<u16>,
}

impl Plan {
    /// Plain HTTP/1.1 through a proxy: requests carry absolute-form
    /// targets (`GET http://host/path`) instead of going through a
    /// CONNECT tunnel (https:// targets, `--http2`).
    pub fn absolute_form(&self) -> bool {
        self.proxy.is_some() && self.target.scheme() == crate::target::Scheme::Http && !self.http2
    }
}
