//! What the user typed: the clap-derive structs (their `///` comments are
//! the help text) and the parsers of flag values that are the command
//! line's own. Units (durations, rates, scales) parse through
//! [`crate::units`], URLs through [`crate::target`].

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::units::{parse_duration, parse_rate, parse_scale};

/// Learn a traffic model from real captures (HAR, pcap, pcapng) and replay
/// statistically similar load at a scaled rate.
#[derive(Debug, Parser)]
#[command(name = "replay", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build a traffic model from captures and save it.
    Record(RecordArgs),
    /// Show what a model (or a capture, modelled on the fly) contains.
    Inspect(InspectArgs),
    /// Draw realistic requests from a model as data; nothing is sent.
    Generate(GenerateArgs),
    /// Replay a model's traffic (the default command: `replay INPUT`).
    Run(Box<RunArgs>),
    /// Serve the recorded responses: a mock of the recorded service.
    Mock(MockArgs),
    /// Add up the summaries of a sharded run (`run --shard K/N`) exactly
    /// and re-evaluate the thresholds on the whole.
    Merge(MergeArgs),
    /// Make the HTML report of a saved summary (`--summary-export`).
    Report(ReportArgs),
    /// Compare two runs' summaries, overall and per endpoint; exit 99 when
    /// NEW regressed against BASE, 2 when they cannot be compared.
    Compare(CompareArgs),
    /// How close the generated schedule (a dry run, nothing sent) or a
    /// capture of a real replay is to the recording, beside the
    /// recording's own split-half noise; exit 99 when a figure is past
    /// its limit.
    Fidelity(FidelityArgs),
}

#[derive(Debug, Args)]
pub struct FidelityArgs {
    /// The recording: captures (HAR, pcap/pcapng, access logs), or one
    /// model file (compared at its histograms' resolution).
    #[arg(required = true, value_name = "CAPTURE|MODEL")]
    pub inputs: Vec<PathBuf>,
    /// A capture of a replay (e.g. tcpdump on the target while `replay`
    /// ran) to compare instead of the model's generated schedule.
    #[arg(long, value_name = "CAPTURE")]
    pub against: Option<PathBuf>,
    /// The seed of the generated schedule.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Compare the schedule `run --sessions` sends (users walking the
    /// recorded sessions) instead of independent arrivals, with the
    /// session figures: requests per session, session length and think
    /// times.
    #[arg(long, conflicts_with = "against")]
    pub sessions: bool,
    /// Print the figures as JSON (fields `mix_tv`, `gap_ks`,
    /// `rate_error`, `count_ratio`, `split_half`, `checks`, `pass`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline's summary (`run --summary-export`).
    #[arg(value_name = "BASE.json")]
    pub base: PathBuf,
    /// The summary of the run to judge.
    #[arg(value_name = "NEW.json")]
    pub new: PathBuf,
    /// Output: text, markdown (a pull-request comment) or json.
    #[arg(long, value_enum, default_value_t = CompareFormat::Text)]
    pub format: CompareFormat,
    #[command(flatten)]
    pub gate: GateArgs,
}

/// Output formats of `compare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompareFormat {
    Text,
    Markdown,
    Json,
}

/// What `compare` and `run --baseline` count as a regression.
#[derive(Debug, Clone, Args)]
pub struct GateArgs {
    /// A percentile regresses only if it grew by more than this share of
    /// the baseline (and --min-delta), and the change is significant.
    #[arg(long = "min-change", default_value = "10%", value_parser = parse_fraction, value_name = "PERCENT")]
    pub min_change: f64,
    /// A percentile regresses only if it grew by more than this (and
    /// --min-change).
    #[arg(long = "min-delta", default_value = "1ms", value_parser = parse_duration, value_name = "DURATION")]
    pub min_delta: std::time::Duration,
    /// The error rate regresses only if it grew by more than this many
    /// percentage points (1% = one point), and the change is significant.
    #[arg(long = "min-error-change", default_value = "1%", value_parser = parse_fraction, value_name = "PERCENT")]
    pub min_error_change: f64,
    /// Confidence of the block-bootstrap interval that must lie above 0.
    #[arg(long, default_value = "95%", value_parser = parse_fraction, value_name = "PERCENT")]
    pub confidence: f64,
}

impl GateArgs {
    /// The typed rule.
    pub fn rule(&self) -> crate::compare::Rule {
        crate::compare::Rule {
            min_change: self.min_change,
            min_delta_ms: self.min_delta.as_secs_f64() * 1000.0,
            min_error_change: self.min_error_change,
            confidence: self.confidence.clamp(0.5, 0.9999),
            ..crate::compare::Rule::default()
        }
    }
}

/// `10%` or `0.1`: a fraction from 0 to 1.
pub fn parse_fraction(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("'{s}' is not a percentage such as 10% (or a fraction such as 0.1)"))?;
    if !(0.0..=1.0).contains(&v) {
        return Err(format!("'{s}' is not between 0% and 100%"));
    }
    Ok(v)
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A summary file (`run --summary-export`, `merge -o`).
    #[arg(value_name = "SUMMARY")]
    pub summary: PathBuf,
    /// Write the self-contained HTML report here ('-': standard output).
    #[arg(long = "html", value_name = "FILE")]
    pub html: PathBuf,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' summary files (each `run --shard K/N --summary-export`).
    #[arg(required = true, value_name = "SUMMARY")]
    pub summaries: Vec<PathBuf>,
    /// Write the merged summary here ('-': standard output, the text
    /// report then goes to standard error).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// A threshold to evaluate on the merged data besides the shards' own
    /// (k6 syntax). Repeatable.
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<String>,
    /// Merge although shards are missing; the report names them.
    #[arg(long = "allow-partial")]
    pub allow_partial: bool,
    /// junit=FILE.xml, html=FILE.html, hdr=FILE.hlog: the merged run's
    /// JUnit XML, HTML report and interval log, as `run --out` writes
    /// them. Repeatable.
    #[arg(long = "out", value_parser = parse_out, value_name = "KIND=FILE")]
    pub out: Vec<OutArg>,
    /// Turn off the default guards (more than 1% dropped, every request
    /// failed), as for `run`.
    #[arg(long = "no-default-thresholds")]
    pub no_default_thresholds: bool,
    /// No colour in the text report.
    #[arg(long = "no-color")]
    pub no_color: bool,
}

/// Filters that choose which captured requests are modelled.
#[derive(Debug, Clone, Default, Args)]
pub struct FilterArgs {
    /// Keep only requests to this host (and its subdomains). Repeatable.
    #[arg(long = "include-host", value_name = "HOST")]
    pub include_host: Vec<String>,
    /// Drop requests to this host (and its subdomains). Repeatable.
    #[arg(long = "exclude-host", value_name = "HOST")]
    pub exclude_host: Vec<String>,
    /// Keep only paths matching this glob (e.g. '/api/**'). Repeatable.
    #[arg(long = "include-path", value_name = "GLOB")]
    pub include_path: Vec<String>,
    /// Drop paths matching this glob. Repeatable.
    #[arg(long = "exclude-path", value_name = "GLOB")]
    pub exclude_path: Vec<String>,
    /// Keep only these methods (e.g. --method GET --method POST).
    #[arg(long = "method", value_name = "METHOD")]
    pub method: Vec<String>,
    /// Drop static assets: images, fonts, stylesheets, scripts (by
    /// resource type, mime type or extension).
    #[arg(long = "api-only")]
    pub api_only: bool,
    /// Keep credentials (Authorization, cookies, tokens...) in the model
    /// instead of replacing them with {{secret:NAME}} placeholders.
    #[arg(long = "keep-secrets")]
    pub keep_secrets: bool,
    /// Keep personal data (card numbers, e-mail addresses, phone numbers,
    /// IP addresses, IBANs, named fields) verbatim instead of replacing it
    /// with consistent look-alikes.
    #[arg(long = "keep-pii")]
    pub keep_pii: bool,
    /// Treat the values of this query, form, JSON or header field as
    /// personal data, besides the built-in names (ssn, dob, first_name,
    /// address, phone, email...). Repeatable.
    #[arg(long = "pii-field", value_name = "NAME")]
    pub pii_field: Vec<String>,
    /// Compress idle gaps between consecutive requests longer than this
    /// to it (default 5m; 0 keeps them), so captures taken apart and
    /// month-long HARs make one continuous recording.
    #[arg(long = "max-gap", value_parser = parse_duration, value_name = "DURATION")]
    pub max_gap: Option<std::time::Duration>,
    /// Access logs in a custom layout: the server's nginx log_format
    /// string, e.g. '$remote_addr [$time_local] "$request" $status
    /// $body_bytes_sent $request_time $msec'. Combined, Common and JSON
    /// lines are recognised without it.
    #[arg(long = "log-format", value_name = "LOG_FORMAT", value_parser = parse_log_format)]
    pub log_format: Option<crate::ingest::accesslog::layout::Layout>,
    /// Recorded response bodies kept for the mock: all (what fits the
    /// caps, text types first), api (JSON, XML, plain text and forms
    /// only) or none (filler of the recorded sizes).
    #[arg(long, value_enum, default_value_t = Bodies::All, value_name = "all|api|none")]
    pub bodies: Bodies,
}

/// `--bodies`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Bodies {
    #[default]
    All,
    Api,
    None,
}

impl From<Bodies> for crate::model::response::BodyPolicy {
    fn from(b: Bodies) -> Self {
        use crate::model::response::BodyPolicy;
        match b {
            Bodies::All => BodyPolicy::All,
            Bodies::Api => BodyPolicy::Api,
            Bodies::None => BodyPolicy::None,
        }
    }
}

fn parse_log_format(s: &str) -> Result<crate::ingest::accesslog::layout::Layout, String> {
    crate::ingest::accesslog::layout::Layout::parse(s)
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Capture files: HAR, pcap, pcapng or access logs, plain or gzip
    /// (detected by content). Several captures (rotated logs) merge into
    /// one model.
    #[arg(required = true, value_name = "CAPTURE")]
    pub captures: Vec<PathBuf>,
    /// Where to write the model (gzip JSON, e.g. shop.model.gz; '-' is
    /// standard output).
    #[arg(short = 'o', long = "output", value_name = "MODEL")]
    pub output: PathBuf,
    #[command(flatten)]
    pub filters: FilterArgs,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A model file, or capture files to model on the fly.
    #[arg(required = true, value_name = "MODEL|CAPTURE")]
    pub inputs: Vec<PathBuf>,
    /// Print a machine-readable JSON document (see docs/inspect-json.md).
    #[arg(long)]
    pub json: bool,
    /// Top values shown per parameter.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub top: usize,
    #[command(flatten)]
    pub filters: FilterArgs,
}

/// Output formats of `generate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GenerateFormat {
    /// One JSON object per line.
    Jsonl,
    /// A HAR 1.2 document whose entries carry the requests.
    Har,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// A model file, or capture files to model on the fly.
    #[arg(required = true, value_name = "MODEL|CAPTURE")]
    pub inputs: Vec<PathBuf>,
    /// Number of requests to draw.
    #[arg(short = 'n', long = "count", default_value_t = 10, value_name = "N")]
    pub count: u64,
    /// Seed for the random draws; the same seed gives the same requests.
    /// Without it a seed is chosen and printed to stderr.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GenerateFormat::Jsonl)]
    pub format: GenerateFormat,
    /// Base URL replacing the recorded origin (e.g. http://127.0.0.1:8080).
    #[arg(long, value_name = "URL")]
    pub target: Option<crate::target::Target>,
    /// Rate multiplier for the at_s offsets (2x, 0.5x, 150%).
    #[arg(long, default_value = "1x", value_parser = parse_scale)]
    pub scale: f64,
    /// Draw per-client sessions (as `run --sessions`); each request says
    /// its session.
    #[arg(long)]
    pub sessions: bool,
    /// Only this shard's part of the N requests (K/N): the union over
    /// K = 1..N is the unsharded output for the same --seed.
    #[arg(long, value_parser = parse_shard, value_name = "K/N")]
    pub shard: Option<crate::schedule::Shard>,
    /// Write to this file instead of standard output ('-': standard
    /// output).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub filters: FilterArgs,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A model file, or capture files (HAR, pcap, pcapng) modelled first.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Where to send load (scheme, host, port, optional base path). Without
    /// it, replay starts a mock of the recorded service on 127.0.0.1 and
    /// replays against that; it never sends to recorded hosts by itself.
    #[arg(long, value_name = "URL")]
    pub target: Option<crate::target::Target>,
    /// Rate multiplier over the recorded rate: 2x, 0.5x, 150% (default
    /// 1x; for --profile spike, the peak: default 4x).
    #[arg(long, value_parser = parse_scale, value_name = "SCALE")]
    pub scale: Option<f64>,
    /// An absolute mean rate instead of --scale: 100/s, 6000/m. The mean
    /// over the run's measured window (after --warmup, for --duration):
    /// the recorded shape in that window, renormalised.
    #[arg(long, value_parser = parse_rate, conflicts_with = "scale", value_name = "N/s")]
    pub rate: Option<f64>,
    /// How long to send (30s, 5m, 1h; also -d as k6, -z as oha).
    /// Default: the recorded duration (the rate curve repeats when
    /// longer); the start-up banner says which.
    #[arg(short = 'd', short_alias = 'z', long, value_parser = parse_length, value_name = "DURATION")]
    pub duration: Option<std::time::Duration>,
    /// Ramp the rate up from zero over this long.
    #[arg(long = "ramp-up", value_parser = parse_duration, value_name = "DURATION")]
    pub ramp_up: Option<std::time::Duration>,
    /// Send for this long first without counting the results (reported
    /// separately); added before --duration.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub warmup: Option<std::time::Duration>,
    /// Arrival process: recorded gaps and rate curve, or the classics.
    #[arg(long, value_enum, default_value_t = crate::schedule::ArrivalMode::Recorded)]
    pub arrival: crate::schedule::ArrivalMode,
    /// Replay per-client sessions (recorded endpoint-to-endpoint
    /// transitions and think times) instead of independent arrivals, from
    /// a steady population of clients at the recorded rate (× scale) or
    /// --rate.
    #[arg(long)]
    pub sessions: bool,
    /// Test type (k6 guide): smoke, load, stress, spike, soak.
    #[arg(long, value_enum)]
    pub profile: Option<crate::run::Profile>,
    /// Steps for --profile stress (e.g. --stress-steps 1x,2x,3x): scales of
    /// the recorded rate, or multiples of --rate when it is given.
    #[arg(long = "stress-steps", value_delimiter = ',', value_parser = parse_scale, value_name = "SCALES")]
    pub stress_steps: Vec<f64>,
    /// With --profile stress, a step whose error rate exceeds this fails.
    #[arg(
        long = "stress-max-errors",
        default_value_t = 0.05,
        value_name = "RATE"
    )]
    pub stress_max_errors: f64,
    /// Seed for schedule and requests; the run is reproducible from it.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Send only this shard's part of the run (K/N, K in 1..N): every
    /// shard computes the global schedule from --seed (required) and takes
    /// a disjoint part (requests, or sessions with --sessions). Connection
    /// and in-flight limits apply per shard.
    #[arg(long, value_parser = parse_shard, value_name = "K/N")]
    pub shard: Option<crate::schedule::Shard>,
    /// When the run's first request is due: RFC 3339
    /// (2026-12-07T10:00:00Z) or Unix seconds. Shards given the same time
    /// start together; one that starts late keeps the global clock and
    /// counts what it missed as dropped (late_start).
    #[arg(long = "start-at", value_parser = parse_start_at, value_name = "TIME")]
    pub start_at: Option<std::time::SystemTime>,
    /// A header for every request ('Name: value'); also fills the
    /// {{secret:name}} placeholder of that header. Repeatable.
    #[arg(short = 'H', long = "header", value_parser = parse_header, value_name = "'NAME: VALUE'")]
    pub headers: Vec<(String, String)>,
    /// A value for a {{secret:NAME}} placeholder. Repeatable.
    #[arg(long = "secret", value_parser = parse_secret, value_name = "NAME=VALUE")]
    pub secrets: Vec<(String, String)>,
    /// Cap on open connections. When all are busy, requests wait for the
    /// next free one (the wait counts in http_req_duration and
    /// schedule_lag); a full queue drops them.
    #[arg(short = 'c', long, default_value_t = 64, value_parser = parse_count, value_name = "N")]
    pub connections: usize,
    /// Cap on requests awaiting a response; beyond it a scheduled request
    /// is dropped (default: no cap beyond --connections for HTTP/1.1,
    /// 10000 streams for HTTP/2).
    #[arg(long = "max-in-flight", value_parser = parse_count, value_name = "N")]
    pub max_in_flight: Option<usize>,
    /// Per-request timeout.
    #[arg(long, default_value = "30s", value_parser = parse_length, value_name = "DURATION")]
    pub timeout: std::time::Duration,
    /// Requests due within this long of the current one are sent with it,
    /// on one wake-up (at the last one's instant): less CPU per
    /// request at moderate rates. The wait is real and shows in
    /// schedule_lag and http_req_duration. 0 wakes for every request.
    #[arg(long = "timer-slack", default_value = "250us", value_parser = parse_duration, value_name = "DURATION")]
    pub timer_slack: std::time::Duration,
    /// Accept any TLS certificate (the report says so).
    #[arg(long)]
    pub insecure: bool,
    /// Trust the certificate authorities in this PEM file, besides the
    /// system's store and the bundled Mozilla roots (an internal CA).
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Client certificate (PEM, with its chain) for mutual TLS; needs --key.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The private key of --cert (PEM: PKCS#8, RSA or EC).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Connect to ADDR for HOST:PORT instead of what DNS says; Host and
    /// SNI keep the name (curl's --resolve). Repeatable.
    #[arg(long, value_name = "HOST:PORT:ADDR")]
    pub resolve: Vec<crate::target::Resolve>,
    /// The name Host and TLS (SNI, certificate check) carry when --target
    /// is an address; connections still go to the address.
    #[arg(long = "host", value_name = "NAME")]
    pub host: Option<String>,
    /// Ignore HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY: connect
    /// directly. (Loopback targets never use a proxy.)
    #[arg(long = "no-proxy")]
    pub no_proxy: bool,
    /// Keep going when every request of the first seconds fails the same
    /// way (by default the run stops, says why, and exits 1).
    #[arg(long = "no-fail-fast")]
    pub no_fail_fast: bool,
    /// Use HTTP/2 (h2c prior knowledge on http://, ALPN on https://).
    #[arg(long)]
    pub http2: bool,
    /// k6 threshold, e.g. 'http_req_duration: p(95)<500ms'; several
    /// conditions in one ('…: p(95)<500, p(99)<1000') are several
    /// thresholds. Repeatable.
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<String>,
    /// k6's thresholds object as JSON (the `thresholds` of a k6 script's
    /// options, with `abortOnFail` and `delayAbortEval`).
    #[arg(long = "thresholds-file", value_name = "FILE")]
    pub thresholds_file: Option<PathBuf>,
    /// Stop as soon as a threshold can no longer pass.
    #[arg(long = "abort-on-fail")]
    pub abort_on_fail: bool,
    /// Turn off the default guards: without it a run that dropped more
    /// than 1% of its intended requests, or whose every request failed,
    /// exits 99 with a warning (a --threshold on dropped_requests or
    /// http_req_failed replaces the guard on that metric).
    #[arg(long = "no-default-thresholds")]
    pub no_default_thresholds: bool,
    /// After the run, compare it with this summary as `replay compare`
    /// does (--min-change, --min-delta, --min-error-change, --confidence):
    /// a regression exits 99 and the report names the endpoints.
    #[arg(long, value_name = "BASE.json")]
    pub baseline: Option<PathBuf>,
    #[command(flatten)]
    pub gate: GateArgs,
    /// Write the end-of-run summary as JSON (k6 layout plus histograms);
    /// '-' is standard output.
    #[arg(long = "summary-export", value_name = "FILE.json")]
    pub summary_export: Option<PathBuf>,
    /// Print only the summary JSON to standard output (the text report
    /// goes to standard error). Same as --format json.
    #[arg(long)]
    pub json: bool,
    /// The end-of-run report on standard output: text (k6-like) or json
    /// (the summary document, docs/summary-format.md).
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// More outputs, repeatable: json=FILE.ndjson (the per-interval time
    /// series), junit=FILE.xml (thresholds and default guards as JUnit test
    /// cases, for CI test reporters), html=FILE.html (a self-contained
    /// report with charts), hdr=FILE.hlog (an HdrHistogram interval log,
    /// one tag per endpoint); '-' is standard output.
    #[arg(long = "out", value_parser = parse_out, value_name = "KIND=FILE")]
    pub out: Vec<OutArg>,
    /// Latency of the built-in mock (used without --target): recorded,
    /// none, or a fixed delay such as 20ms.
    #[arg(
        long = "mock-latency",
        default_value = "recorded",
        value_name = "recorded|none|DELAY"
    )]
    pub mock_latency: crate::mock::LatencyMode,
    /// Load-generator threads, each with its own connections and share of
    /// the schedule (default: 1 per 15,000 intended req/s, at most one per
    /// core). A seed reproduces a run for the same number of threads.
    #[arg(long, value_parser = parse_count, value_name = "N")]
    pub threads: Option<usize>,
    /// Load threads poll instead of sleeping between requests: at high
    /// rates a target on the same machine is spared waking them for every
    /// response, and falls behind later. `auto` polls from 45,000 intended
    /// req/s per thread when a core is left over; `on` always (each load
    /// thread keeps its core busy); `off` never.
    #[arg(
        long = "busy-poll",
        value_enum,
        default_value = "auto",
        value_name = "auto|on|off"
    )]
    pub busy_poll: crate::run::BusyPoll,
    /// No progress output (no banner, no progress lines); the report is
    /// still printed.
    #[arg(short, long)]
    pub quiet: bool,
    /// Without a terminal (CI logs), a progress line on stderr this often.
    #[arg(long = "progress-interval", default_value = "10s", value_parser = parse_length, value_name = "DURATION")]
    pub progress_interval: std::time::Duration,
    /// No colour in the report (also NO_COLOR=1; colour is only ever used
    /// on a terminal).
    #[arg(long = "no-color")]
    pub no_color: bool,
    #[command(flatten)]
    pub filters: FilterArgs,
}

#[derive(Debug, Args)]
pub struct MockArgs {
    /// A model file, or capture files to model on the fly.
    #[arg(required = true, value_name = "MODEL|CAPTURE")]
    pub inputs: Vec<PathBuf>,
    /// Address serving every recorded origin, routing by the Host header
    /// when it names one (IP:PORT, localhost:PORT, :PORT or PORT, which
    /// mean 127.0.0.1; port 0 picks a free port). Default 127.0.0.1:8080,
    /// none with --map or --map-all.
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    pub listen: Option<std::net::SocketAddr>,
    /// Serve one recorded origin on its own address, e.g.
    /// --map http://api.example.com=127.0.0.1:8081 (the scheme and a
    /// default port may be left out; port 0 picks a free port).
    /// Repeatable; the addresses are printed.
    // The doc comment is `--help` text, where a URL stays bare.
    #[allow(rustdoc::bare_urls)]
    #[arg(long = "map", value_name = "ORIGIN=ADDR", value_parser = parse_map)]
    pub map: Vec<(String, std::net::SocketAddr)>,
    /// Serve every recorded origin on its own free port of 127.0.0.1
    /// (those given by --map on theirs) and print the table.
    #[arg(long = "map-all")]
    pub map_all: bool,
    /// Delay before answering: recorded (drawn from the recorded time to
    /// first byte), none, or a fixed delay such as 20ms.
    #[arg(long, default_value = "recorded", value_name = "recorded|none|DELAY")]
    pub latency: crate::mock::LatencyMode,
    /// Seed for the drawn statuses, sizes and delays. Without it a seed is
    /// chosen and printed.
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub filters: FilterArgs,
}

/// Output formats of the run's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// The k6-like text report.
    Text,
    /// The summary document only.
    Json,
}

/// A duration that must not be zero (`--duration`, `--timeout`).
pub fn parse_length(s: &str) -> Result<std::time::Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err(format!("'{s}' is zero; give a length above 0, such as 30s"));
    }
    Ok(d)
}

/// A count of at least 1 (`--connections`, `--threads`).
pub fn parse_count(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err(format!("'{s}' is zero; give at least 1")),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("'{s}' is not a whole number")),
    }
}

/// `--secret name=value`.
pub fn parse_secret(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((n, v)) if !n.trim().is_empty() => Ok((n.trim().to_string(), v.to_string())),
        _ => Err(format!("'{s}': write --secret NAME=VALUE")),
    }
}

/// `-H 'Name: value'`.
pub fn parse_header(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((n, v)) if !n.trim().is_empty() && !n.contains(' ') => {
            Ok((n.trim().to_string(), v.trim().to_string()))
        }
        _ => Err(format!("'{s}': write -H 'Name: value'")),
    }
}

/// `--out json=FILE.ndjson` (`json=-`: standard output).
/// What `--out` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutKind {
    /// The per-interval NDJSON time series.
    Json,
    /// JUnit XML.
    Junit,
    /// The self-contained HTML report.
    Html,
    /// The HdrHistogram interval log.
    Hdr,
}

/// One `--out KIND=FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutArg {
    pub kind: OutKind,
    pub path: PathBuf,
}

pub fn parse_out(s: &str) -> Result<OutArg, String> {
    let (kind, path) = match s.split_once('=') {
        Some(("json", p)) if !p.is_empty() => (OutKind::Json, p),
        Some(("junit", p)) if !p.is_empty() => (OutKind::Junit, p),
        Some(("html", p)) if !p.is_empty() => (OutKind::Html, p),
        Some(("hdr", p)) if !p.is_empty() => (OutKind::Hdr, p),
        _ => {
            return Err(format!(
            "'{s}': outputs are json=FILE.ndjson, junit=FILE.xml, html=FILE.html and hdr=FILE.hlog"
        ))
        }
    };
    Ok(OutArg {
        kind,
        path: PathBuf::from(path),
    })
}

impl RunArgs {
    /// The `--out` file of `kind`; an error when it is given twice.
    pub fn out_path(&self, kind: OutKind) -> Result<Option<PathBuf>, String> {
        let mut found = self.out.iter().filter(|o| o.kind == kind);
        let first = found.next().map(|o| o.path.clone());
        if found.next().is_some() {
            return Err(
                format!("--out {kind:?} is given twice; give one file per kind").to_lowercase(),
            );
        }
        Ok(first)
    }
}

/// `--listen`: `IP:PORT`; `PORT`, `:PORT` and `localhost:PORT` mean
/// 127.0.0.1 (a non-loopback address has to be typed out).
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    let t = s.trim();
    let port = t
        .strip_prefix("localhost:")
        .or_else(|| t.strip_prefix(':'))
        .unwrap_or(t);
    if let Ok(port) = port.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    t.parse().map_err(|_| {
        format!(
            "'{s}' is not an address to listen on; write IP:PORT (e.g. 127.0.0.1:8080) or a port"
        )
    })
}

/// `ORIGIN=ADDR` of `--map`.
pub fn parse_map(s: &str) -> Result<(String, SocketAddr), String> {
    let Some((origin, addr)) = s.rsplit_once('=') else {
        return Err(format!(
            "'{s}' is not ORIGIN=ADDR; write e.g. http://api.example.com=127.0.0.1:8081"
        ));
    };
    let origin = origin.trim();
    if origin.is_empty() {
        return Err(format!(
            "'{s}' names no origin before '='; write e.g. http://api.example.com=127.0.0.1:8081"
        ));
    }
    Ok((origin.to_string(), parse_listen(addr)?))
}

fn parse_shard(s: &str) -> Result<crate::schedule::Shard, String> {
    crate::schedule::Shard::parse(s)
}

fn parse_start_at(s: &str) -> Result<std::time::SystemTime, String> {
    crate::units::parse_wall_time(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_headers_and_outputs() {
        assert_eq!(parse_secret("tok=a=b"), Ok(("tok".into(), "a=b".into())));
        assert!(parse_secret("=x").is_err());
        assert_eq!(
            parse_header("Authorization: Bearer x"),
            Ok(("Authorization".into(), "Bearer x".into()))
        );
        assert!(parse_header("nocolon").is_err());
        assert_eq!(
            parse_out("json=a.ndjson"),
            Ok(OutArg {
                kind: OutKind::Json,
                path: PathBuf::from("a.ndjson")
            })
        );
        assert_eq!(parse_out("junit=r.xml").map(|o| o.kind), Ok(OutKind::Junit));
        assert!(parse_out("csv=a").is_err());
    }

    #[test]
    fn connection_flags_parse() {
        let run = |args: &[&str]| {
            let mut all = vec!["replay", "run", "m.gz"];
            all.extend_from_slice(args);
            Cli::try_parse_from(all)
        };
        let Command::Run(a) = run(&["--resolve", "a.test:443:127.0.0.1", "--host", "a.test"])
            .unwrap()
            .command
        else {
            panic!("not a run");
        };
        assert_eq!(a.resolve[0].port, 443);
        assert_eq!(a.host.as_deref(), Some("a.test"));
        assert!(run(&["--resolve", "a.test:443"]).is_err());
        assert!(run(&["--cert", "c.pem"]).is_err(), "--cert needs --key");
        assert!(run(&[
            "--cert",
            "c.pem",
            "--key",
            "k.pem",
            "--no-proxy",
            "--no-fail-fast"
        ])
        .is_ok());
    }
}
