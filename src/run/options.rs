//! [`RunOptions`]: what a run was asked to do, typed — the command line
//! parses units and URLs into it; a test or another program builds it
//! directly.

use std::path::PathBuf;
use std::time::Duration;

use crate::mock::LatencyMode;
use crate::schedule::ArrivalMode;
use crate::target::{Resolve, Target};

/// `--busy-poll`: whether load threads poll instead of sleeping between
/// requests (see `execute::timer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum BusyPoll {
    /// From 45,000 intended req/s per load thread, when a core is left
    /// over for the rest of the machine (a local target).
    #[default]
    Auto,
    /// Always: each load thread keeps its core busy.
    On,
    /// Never: threads sleep until the next request or response.
    Off,
}

/// The load shapes of the k6 guide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// A trickle (1 req/s) for 30 s to check the setup.
    Smoke,
    /// Steady at --scale for --duration (the default).
    Load,
    /// Step the scale up (1x, 2x, 4x… or --stress-steps) until a
    /// threshold breaks; report the largest scale that passed.
    Stress,
    /// Baseline, a step to the peak scale, and back.
    Spike,
    /// A long steady run (default 1 h) watching p95 and errors drift.
    Soak,
}

/// What a run was asked to do, typed (the command line parses units and
/// URLs into these). `None` means "not given": the plan decides.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// `None`: the built-in mock.
    pub target: Option<Target>,
    pub scale: Option<f64>,
    /// Requests per second, instead of a scale.
    pub rate: Option<f64>,
    pub duration: Option<Duration>,
    pub ramp_up: Option<Duration>,
    pub warmup: Option<Duration>,
    pub arrival: ArrivalMode,
    pub sessions: bool,
    /// This process's part of the global schedule (`--shard K/N`); the
    /// whole run by default.
    pub shard: crate::schedule::Shard,
    /// When the run's offset 0 falls (`--start-at`): shards start
    /// together; `None` starts now.
    pub start_at: Option<std::time::SystemTime>,
    pub profile: Option<Profile>,
    pub stress_steps: Vec<f64>,
    pub stress_max_errors: f64,
    pub seed: Option<u64>,
    pub headers: Vec<(String, String)>,
    pub secrets: Vec<(String, String)>,
    pub connections: usize,
    pub max_in_flight: Option<usize>,
    pub timeout: Duration,
    pub timer_slack: Duration,
    pub insecure: bool,
    /// `--cacert`: certificate authorities to trust besides the system's
    /// and the bundled ones (PEM).
    pub cacert: Option<PathBuf>,
    /// `--cert` and `--key`: the client certificate of mutual TLS (PEM).
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// `--resolve HOST:PORT:ADDR`: addresses for names, instead of DNS.
    pub resolve: Vec<Resolve>,
    /// `--host NAME`: the name `Host` and SNI carry when the target is an
    /// address (connections still go to the target's address).
    pub host: Option<String>,
    /// `--no-proxy`: ignore the proxy variables (`HTTPS_PROXY`, …).
    pub no_proxy: bool,
    /// `--no-fail-fast`: keep going when every request of the first
    /// seconds fails the same way.
    pub no_fail_fast: bool,
    pub http2: bool,
    /// k6 threshold expressions.
    pub thresholds: Vec<String>,
    /// Turn off the default guards (see [`super::Guards`]): a run that
    /// dropped over 1% of its requests, or whose every request failed,
    /// then passes unless a threshold says otherwise.
    pub no_default_thresholds: bool,
    pub abort_on_fail: bool,
    pub summary_export: Option<PathBuf>,
    /// `--baseline`: compare the run with this summary at the end.
    pub baseline: Option<PathBuf>,
    /// What the baseline comparison counts as a regression.
    pub gate: crate::compare::Rule,
    /// The per-interval time series (NDJSON).
    pub out: Option<PathBuf>,
    /// `--out junit=FILE`: thresholds and default guards as JUnit XML.
    pub junit: Option<PathBuf>,
    /// `--out html=FILE`: the self-contained HTML report.
    pub html: Option<PathBuf>,
    /// `--out hdr=FILE`: the HdrHistogram interval log.
    pub hdr: Option<PathBuf>,
    /// `--thresholds-file`: k6's thresholds object (JSON).
    pub thresholds_file: Option<PathBuf>,
    pub mock_latency: LatencyMode,
    pub threads: Option<usize>,
    pub busy_poll: BusyPoll,
    /// The command line as typed, for the reproduce command (secrets are
    /// redacted); empty when the run was not started from one.
    pub command_line: Vec<String>,
}

impl Default for RunOptions {
    /// The command line's defaults.
    fn default() -> RunOptions {
        RunOptions {
            target: None,
            scale: None,
            rate: None,
            duration: None,
            ramp_up: None,
            warmup: None,
            arrival: ArrivalMode::Recorded,
            sessions: false,
            shard: crate::schedule::Shard::WHOLE,
            start_at: None,
            profile: None,
            stress_steps: Vec::new(),
            stress_max_errors: 0.05,
            seed: None,
            headers: Vec::new(),
            secrets: Vec::new(),
            connections: 64,
            max_in_flight: None,
            timeout: Duration::from_secs(30),
            timer_slack: Duration::from_micros(250),
            insecure: false,
            cacert: None,
            cert: None,
            key: None,
            resolve: Vec::new(),
            host: None,
            no_proxy: false,
            no_fail_fast: false,
            http2: false,
            thresholds: Vec::new(),
            no_default_thresholds: false,
            abort_on_fail: false,
            summary_export: None,
            baseline: None,
            gate: crate::compare::Rule::default(),
            out: None,
            junit: None,
            html: None,
            hdr: None,
            thresholds_file: None,
            mock_latency: LatencyMode::Recorded,
            threads: None,
            busy_poll: BusyPoll::Auto,
            command_line: Vec::new(),
        }
    }
}
