//! [`Plan`]: everything the executor needs besides the model, decided by
//! the run plan ([`crate::run::RunPlan`]) before the executor starts.

use std::collections::HashMap;
use std::time::Duration;

use crate::schedule::ScheduleSpec;
use crate::target::Target;

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
    /// Load-generator threads, each with its own runtime, connections and
    /// share of the schedule.
    pub threads: usize,
    /// Requests due within this long of the first due one are sent with
    /// one wake-up (their wait is measured as schedule lag).
    pub timer_slack: Duration,
}
