//! [`RunOptions`]: what a run was asked to do, typed — the command line
//! parses units and URLs into it; a test or another program builds it
//! directly.

use std::path::PathBuf;
use std::time::Duration;

use crate::mock::LatencyMode;
use crate::schedule::ArrivalMode;
use crate::target::Target;

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
    pub http2: bool,
    /// k6 threshold expressions.
    pub thresholds: Vec<String>,
    /// Turn off the default guards (see [`super::Guards`]): a run that
    /// dropped over 1% of its requests, or whose every request failed,
    /// then passes unless a threshold says otherwise.
    pub no_default_thresholds: bool,
    pub abort_on_fail: bool,
    pub summary_export: Option<PathBuf>,
    /// The per-interval time series (NDJSON).
    pub out: Option<PathBuf>,
    pub mock_latency: LatencyMode,
    pub threads: Option<usize>,
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
            http2: false,
            thresholds: Vec::new(),
            no_default_thresholds: false,
            abort_on_fail: false,
            summary_export: None,
            out: None,
            mock_latency: LatencyMode::Recorded,
            threads: None,
            command_line: Vec::new(),
        }
    }
}
