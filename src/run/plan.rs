//! [`RunPlan::build`]: everything the user asked for, checked and decided
//! before anything starts — the target, headers and secrets, thresholds
//! against the model's endpoints, output paths, the profile's steps and
//! the load threads. A plan that builds runs; one that does not leaves no
//! server started and no file behind.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::options::{BusyPoll, Profile, RunOptions};
use super::report::Guards;
use crate::error::UsageError;
use crate::execute;
use crate::human;
use crate::metrics::EndpointDesc;
use crate::model::TrafficModel;
use crate::report;
use crate::schedule::{ArrivalMode, ScheduleSpec};
use crate::target::Target;
use crate::threshold::{self, Threshold};

/// One load phase: a schedule and the label it is reported under.
#[derive(Debug, Clone)]
pub struct Step {
    pub spec: ScheduleSpec,
    pub label: String,
    /// The mean rate the step intends over its measured window, req/s
    /// (`--rate` itself for a load run; before ramp-up and spike shape).
    pub rate: f64,
    /// The highest rate it intends in one bin of the recorded curve
    /// (`model.arrival.bin_s`) within the window; `rate` for flat
    /// arrivals and sessions.
    pub peak: f64,
}

/// A checked run, ready for [`super::Session`].
#[derive(Debug, Clone)]
pub struct RunPlan {
    pub model: Arc<TrafficModel>,
    pub endpoints: Vec<EndpointDesc>,
    pub thresholds: Vec<Threshold>,
    /// The seed of the first step (step `i` uses `seed + i`).
    pub seed: u64,
    /// Load-generator threads (given, or sized from the peak rate).
    pub threads: usize,
    pub steps: Vec<Step>,
    /// `--profile stress`: a step whose error rate exceeds this fails.
    pub stress_max_errors: Option<f64>,
    /// Scrubbed secrets without a value that the mock gets as
    /// [`MOCK_SECRET`] (it checks no credential).
    pub mock_secrets: Vec<String>,
    /// The executor's settings shared by every step (target, schedule and
    /// seed are set per step).
    pub exec: execute::Plan,
    /// The command line that reproduces the run (secrets redacted).
    pub command: String,
    /// The default guards that apply: those not turned off by
    /// `--no-default-thresholds` or replaced by a threshold on their
    /// metric.
    pub guards: Guards,
    /// How connections reach the target (proxy, `--resolve`, `--host`,
    /// `--insecure`, certificates): one line each for the report's header.
    pub network: Vec<String>,
    /// `--baseline`: the summary to compare the run with, read and
    /// checked before the run.
    pub baseline: Option<crate::report::Summary>,
    /// What was asked (the target — `None`: the built-in mock, started by
    /// the session —, outputs, `--abort-on-fail`…), as given.
    pub options: RunOptions,
}

/// What the built-in mock gets for a scrubbed secret the run has no value
/// for: it checks no credential.
pub const MOCK_SECRET: &str = "REDACTED";

/// The longest recording replayed for its own length when `--duration` is
/// not given: a capture spanning more (two requests months apart, a day of
/// traffic) asks for an explicit length instead of a run of days.
const MAX_RECORDED_DEFAULT: Duration = Duration::from_secs(3600);

/// Requests per second one load-generator thread is given by default: one
/// thread sustains well above this (see benches/replayer.sh), and below it
/// a second thread only adds wake-ups and competes with a local target.
const RATE_PER_THREAD: f64 = 15_000.0;

/// Requests per second per load thread from which `--busy-poll auto`
/// polls. Measured against nginx on loopback (one thread, 2 cores): at
/// 30,000 and 40,000 req/s polling saved the target nothing and took the
/// thread's core; at 50,000 nginx spent 14.7 µs of CPU per request with
/// the thread sleeping and 9.3 with it polling, at 60,000 13.2 and 8.8.
const BUSY_POLL_RATE: f64 = 45_000.0;

impl RunPlan {
    /// Checks `options` against `model` and decides every default.
    pub fn build(options: &RunOptions, model: Arc<TrafficModel>) -> anyhow::Result<RunPlan> {
        if model.requests() == 0 {
            return Err(UsageError("the model has no requests to replay".into()).into());
        }
        let endpoints = endpoint_descs(&model);
        let thresholds = thresholds(options, &endpoints)?;
        for (flag, path) in [
            ("--summary-export", &options.summary_export),
            ("--out", &options.out),
            ("--out junit", &options.junit),
            ("--out html", &options.html),
            ("--out hdr", &options.hdr),
        ] {
            if let Some(p) = path {
                report::file::check_output_path(p, flag).map_err(|e| UsageError(e.to_string()))?;
            }
        }
        for (name, value) in &options.headers {
            execute::check_header(name, value).map_err(UsageError)?;
        }
        let secrets: HashMap<String, String> = options.secrets.iter().cloned().collect();
        let missing = execute::unfilled_secrets(&model, &secrets, &options.headers);
        let mock_secrets = match (&options.target, missing.is_empty()) {
            (_, true) => Vec::new(),
            (None, false) => missing,
            (Some(_), false) => return Err(missing_secrets(&model, &missing).into()),
        };
        let steps = steps(options, &model)?;
        let baseline = baseline(options, &endpoints)?;
        let threads = options.threads.unwrap_or_else(|| {
            let peak_rate = steps.iter().map(|s| s.rate).fold(0.0, f64::max);
            let local = options.target.as_ref().is_none_or(Target::is_loopback);
            load_threads(peak_rate, available_cores(), local)
        });
        if threads == 0 {
            return Err(UsageError("--threads: at least 1".into()).into());
        }
        if options.connections == 0 {
            return Err(UsageError("--connections: at least 1".into()).into());
        }
        if !options.shard.is_whole() && options.seed.is_none() {
            return Err(UsageError(format!(
                "--shard {}: every shard must draw the same global schedule; pass the same --seed to all {} shards",
                options.shard, options.shard.count
            ))
            .into());
        }
        if options.duration == Some(Duration::ZERO) {
            return Err(UsageError(
                "--duration 0s would send nothing; give a length such as 30s".into(),
            )
            .into());
        }
        if options.timeout.is_zero() {
            return Err(UsageError(
                "--timeout 0s would fail every request; give one such as 30s".into(),
            )
            .into());
        }
        let route = super::route::route(options, &|v| std::env::var(v).ok())?;
        let seed = options.seed.unwrap_or_else(rand::random::<u64>);
        let mut exec_secrets = secrets;
        for name in &mock_secrets {
            exec_secrets.insert(name.clone(), MOCK_SECRET.to_string());
        }
        let guards = Guards::for_run(options.no_default_thresholds, &thresholds);
        let network = route.notes.clone();
        let mut exec = exec_plan(options, exec_secrets, threads, route);
        exec.status_codes = crate::threshold::trend_codes(&thresholds);
        Ok(RunPlan {
            guards,
            exec,
            network,
            command: super::command::reproduce(options, seed, threads),
            model,
            endpoints,
            thresholds,
            seed,
            threads,
            steps,
            stress_max_errors: (options.profile == Some(Profile::Stress))
                .then_some(options.stress_max_errors),
            mock_secrets,
            baseline,
            options: options.clone(),
        })
    }

    /// Whether this is a stress run (steps until a threshold breaks).
    pub fn is_stress(&self) -> bool {
        self.stress_max_errors.is_some()
    }
}

/// `--baseline`: read and checked against the model before any load.
fn baseline(
    options: &RunOptions,
    endpoints: &[EndpointDesc],
) -> Result<Option<report::Summary>, UsageError> {
    let Some(path) = &options.baseline else {
        return Ok(None);
    };
    let fail = |e: crate::compare::Incompatible| UsageError::flag("--baseline", e);
    let base = crate::compare::load(path).map_err(fail)?;
    crate::compare::check_baseline(&path.display().to_string(), &base, endpoints).map_err(fail)?;
    Ok(Some(base))
}

fn endpoint_descs(model: &TrafficModel) -> Vec<EndpointDesc> {
    model
        .endpoints
        .iter()
        .map(|e| EndpointDesc {
            method: e.method.clone(),
            host: e.host.clone(),
            template: e.template.clone(),
            recorded_share: e.weight,
            recorded_status: e.response.status.clone(),
        })
        .collect()
}

/// `--threshold` flags (one with several conditions is several
/// thresholds, as k6 reads them) and `--thresholds-file`, parsed and
/// checked against the endpoints.
fn thresholds(o: &RunOptions, endpoints: &[EndpointDesc]) -> anyhow::Result<Vec<Threshold>> {
    let usage =
        |e: threshold::ThresholdError| UsageError(format!("--threshold: {e}\n{}", e.caret()));
    let mut parsed: Vec<Threshold> = o
        .thresholds
        .iter()
        .flat_map(|t| threshold::expand(t))
        .map(|t| threshold::parse(&t).map_err(usage))
        .collect::<Result<_, _>>()?;
    if let Some(path) = &o.thresholds_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            UsageError(format!(
                "--thresholds-file {}: cannot read it: {e}",
                path.display()
            ))
        })?;
        let from_file = threshold::from_k6_json(&text).map_err(|e| {
            UsageError(format!(
                "--thresholds-file {}: {e}; the file holds k6's thresholds object, e.g. {{\"http_req_duration\": [\"p(95)<500\"]}}",
                path.display()
            ))
        })?;
        parsed.extend(from_file);
    }
    for t in &parsed {
        t.check_endpoints(endpoints).map_err(usage)?;
    }
    Ok(parsed)
}

fn missing_secrets(model: &TrafficModel, missing: &[String]) -> UsageError {
    let hints: Vec<String> = missing
        .iter()
        .map(|n| {
            let field = model
                .secrets
                .iter()
                .find(|s| &s.name == n)
                .map(|s| format!("{} {}", s.location, s.field))
                .unwrap_or_default();
            format!("{{{{secret:{n}}}}} ({field})")
        })
        .collect();
    UsageError(format!(
        "the model needs values for scrubbed secrets: {}; supply each with --secret NAME=VALUE (or -H 'Header: value' for headers), e.g. --secret {}=...",
        hints.join(", "),
        missing[0]
    ))
}

fn exec_plan(
    o: &RunOptions,
    secrets: HashMap<String, String>,
    threads: usize,
    route: super::route::Route,
) -> execute::Plan {
    let mut headers = o.headers.clone();
    let mut exec = execute::Plan {
        // The given target (renamed by --host), or the mock's, set by the
        // session.
        target: route
            .named
            .clone()
            .or_else(|| o.target.clone())
            .unwrap_or_else(|| Target::local(([127, 0, 0, 1], 0).into())),
        schedule: ScheduleSpec::default(),
        warmup: o.warmup.unwrap_or(Duration::ZERO),
        seed: 0,
        connections: o.connections,
        max_in_flight: o
            .max_in_flight
            .unwrap_or(if o.http2 { 10_000 } else { usize::MAX }),
        timeout: o.timeout,
        connect_timeout: o.timeout.min(Duration::from_secs(10)),
        http2: o.http2,
        insecure: o.insecure,
        tls: route.tls,
        proxy: route.proxy,
        resolve: o.resolve.clone(),
        connect_host: route
            .named
            .and(o.target.as_ref())
            .map(|t| t.host().to_string()),
        diagnosis: Default::default(),
        headers: Vec::new(),
        secrets,
        interval: Duration::from_secs(1),
        drain: o.timeout,
        sessions: o.sessions,
        shard: o.shard,
        // Set on the first step by the session: later steps follow it.
        start_at: None,
        threads,
        timer_slack: o.timer_slack,
        // Set per step by the session (`RunPlan::busy_poll`).
        busy_poll: false,
        rate: 0.0,
        status_codes: Vec::new(),
    };
    // A proxy taking absolute-form requests gets its credentials with
    // each of them.
    if let (true, Some(auth)) = (
        exec.absolute_form(),
        exec.proxy.as_ref().and_then(|p| p.authorization.clone()),
    ) {
        headers.push(("Proxy-Authorization".into(), auth));
    }
    exec.headers = headers;
    exec
}

fn available_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// The default `--threads`: one per `RATE_PER_THREAD` of the highest
/// mean rate the run intends, at most one per core — and one core fewer
/// when the target runs on this machine (the built-in mock or a loopback
/// address), which needs a core of its own to answer.
fn load_threads(peak_rate: f64, cores: usize, local_target: bool) -> usize {
    let cores = if local_target { cores - 1 } else { cores };
    ((peak_rate / RATE_PER_THREAD).ceil() as usize).clamp(1, cores.max(1))
}

impl RunPlan {
    /// Whether the load threads poll through `step` instead of sleeping
    /// (`--busy-poll`).
    pub fn busy_poll(&self, step: &Step) -> bool {
        busy_poll(
            self.options.busy_poll,
            step.rate,
            self.threads,
            available_cores(),
        )
    }
}

/// `--busy-poll`: `auto` polls when each of the `threads` load threads is
/// given at least `BUSY_POLL_RATE` of the step's mean `rate` and a core is
/// left over for the rest of the machine (a polling thread never gives
/// its core up, and a local target needs one).
fn busy_poll(mode: BusyPoll, rate: f64, threads: usize, cores: usize) -> bool {
    match mode {
        BusyPoll::On => true,
        BusyPoll::Off => false,
        BusyPoll::Auto => threads < cores && rate / threads.max(1) as f64 >= BUSY_POLL_RATE,
    }
}

/// The steps of the profile: one for load, smoke, soak and spike (whose
/// shape is inside the schedule), several for stress.
fn steps(o: &RunOptions, model: &TrafficModel) -> anyhow::Result<Vec<Step>> {
    let recorded_rate = model.arrival.mean_rate();
    let recorded = Duration::from_secs_f64(model.arrival.duration_s());
    let by_recording = matches!(o.profile, None | Some(Profile::Load | Profile::Spike));
    if by_recording && o.duration.is_none() && recorded > MAX_RECORDED_DEFAULT {
        return Err(UsageError(format!(
            "the recording spans {} from its first request to its last ({} requests), and without --duration a run lasts that long; say how long to replay, e.g. --duration 10m",
            human::seconds(recorded.as_secs_f64()),
            model.arrival.requests,
        ))
        .into());
    }
    let d = o.duration.unwrap_or(match o.profile {
        None | Some(Profile::Load) => recorded,
        Some(Profile::Smoke | Profile::Stress) => Duration::from_secs(30),
        Some(Profile::Soak) => Duration::from_secs(3600),
        Some(Profile::Spike) => recorded.max(Duration::from_secs(60)),
    });
    let mode = match o.profile {
        Some(Profile::Smoke) => ArrivalMode::Constant,
        _ => o.arrival,
    };
    let warmup_s = o.warmup.map_or(0.0, |w| w.as_secs_f64());
    let window = (warmup_s, warmup_s + d.as_secs_f64());
    let speed = by_rate(o, mode).then_some(1.0);
    let spec = |scale: f64| ScheduleSpec {
        mode,
        scale,
        curve_speed: speed,
        duration_s: Some(window.1),
        ramp_up_s: o.ramp_up.map_or(0.0, |d| d.as_secs_f64()),
        shape: Vec::new(),
    };
    if o.sessions && (o.ramp_up.is_some() || o.profile == Some(Profile::Spike)) {
        return Err(UsageError(
            "--sessions keeps a steady population of client sessions at the rate asked for, and does not follow --ramp-up or --profile spike: drop --sessions for those, or step the load with --profile stress --sessions".into(),
        )
        .into());
    }
    let base_scale = match (o.rate, o.scale) {
        // Sessions run at a flat rate: a multiple of the recorded mean.
        (Some(r), _) if o.sessions => r / recorded_rate.max(1e-12),
        (Some(r), _) => r / window_rate(model, &spec(1.0), window)?,
        (None, Some(s)) => s,
        (None, None) => 1.0,
    };
    let step = |scale: f64, label: String| {
        let spec = spec(scale);
        Step {
            rate: if o.sessions {
                recorded_rate * scale
            } else {
                spec.mean_rate(&model.arrival, window.0, window.1)
            },
            peak: if o.sessions {
                recorded_rate * scale
            } else {
                spec.peak_rate(&model.arrival, window.0, window.1)
            },
            spec,
            label,
        }
    };
    let label = |scale: f64| match o.rate {
        Some(r) => format!("{:.1} req/s", r * scale / base_scale),
        None => format!("{}x", trim_float(scale)),
    };
    Ok(match o.profile {
        None | Some(Profile::Load) => vec![step(base_scale, label(base_scale))],
        Some(Profile::Smoke) => {
            // A trickle of 1 req/s, unless a lower scale or a rate is given.
            let scale = match (o.rate, o.scale) {
                (Some(_), _) => base_scale,
                (None, s) => (1.0 / recorded_rate.max(1e-12)).min(s.unwrap_or(1.0)),
            };
            vec![step(scale, format!("smoke {}", label(scale)))]
        }
        Some(Profile::Soak) => vec![step(base_scale, format!("soak {}", label(base_scale)))],
        Some(Profile::Spike) => vec![spike(o, base_scale, warmup_s, d, &step)?],
        Some(Profile::Stress) => {
            let scales: Vec<f64> = if o.stress_steps.is_empty() {
                (0..6).map(|i| base_scale * 2f64.powi(i)).collect()
            } else {
                // Multiples of --rate when given (the rate is the base),
                // otherwise scales of the recorded rate.
                match o.rate {
                    Some(_) => o.stress_steps.iter().map(|s| s * base_scale).collect(),
                    None => o.stress_steps.clone(),
                }
            };
            scales.into_iter().map(|s| step(s, label(s))).collect()
        }
    })
}

/// Whether `--rate` renormalises the recorded curve over the run's window
/// (the curve at its recorded speed, see [`ScheduleSpec::curve_speed`]):
/// with `recorded` arrivals. Poisson and constant arrivals are flat, and
/// `--sessions` start sessions at a flat rate, so there the recorded mean
/// is scaled as before.
fn by_rate(o: &RunOptions, mode: ArrivalMode) -> bool {
    o.rate.is_some() && mode == ArrivalMode::Recorded && !o.sessions
}

/// The mean rate `spec` intends over the measured window (after the
/// warmup, for the run's length); an error when the recorded curve is
/// empty there, so that no multiple of it reaches `--rate`.
fn window_rate(
    model: &TrafficModel,
    spec: &ScheduleSpec,
    window: (f64, f64),
) -> anyhow::Result<f64> {
    let rate = spec.mean_rate(&model.arrival, window.0, window.1);
    if rate > 1e-12 {
        return Ok(rate);
    }
    Err(UsageError(format!(
        "--rate: the recording has no requests in the run's window ({} to {} of the recorded curve), so no multiple of it has a mean rate; give a longer --duration, a shorter --warmup or --arrival poisson",
        human::seconds(window.0),
        human::seconds(window.1),
    ))
    .into())
}

/// Baseline 1x, the peak (`--scale` or `--rate`, 4x when neither is given)
/// in the middle third, back to 1x.
fn spike(
    o: &RunOptions,
    peak: f64,
    warmup_s: f64,
    d: Duration,
    step: &dyn Fn(f64, String) -> Step,
) -> anyhow::Result<Step> {
    let peak = match (o.rate, o.scale) {
        (None, None) => 4.0,
        _ => peak,
    };
    if peak <= 1.0 {
        let flag = if o.rate.is_some() {
            "--rate"
        } else {
            "--scale"
        };
        return Err(UsageError(format!(
            "--profile spike steps from the recorded rate (1x) up to {flag}, which is {}x here; give a peak above 1x, e.g. --scale 4x",
            trim_float(peak)
        ))
        .into());
    }
    let third = d.as_secs_f64() / 3.0;
    let mut s = step(peak, format!("spike 1x → {}x → 1x", trim_float(peak)));
    s.spec.shape = vec![
        (warmup_s + third, 1.0 / peak),
        (warmup_s + 2.0 * third, 1.0),
        (f64::INFINITY, 1.0 / peak),
    ];
    Ok(s)
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_polling_is_for_high_rates_per_thread_with_a_core_to_spare() {
        use super::BusyPoll::{Auto, Off, On};
        assert!(!busy_poll(Auto, 5_000.0, 1, 2));
        assert!(!busy_poll(Auto, 40_000.0, 1, 2));
        assert!(busy_poll(Auto, 100_000.0, 1, 2));
        // Two threads on two cores would take the local target's core.
        assert!(!busy_poll(Auto, 200_000.0, 2, 2));
        // Per thread: 100,000 over three threads is under the rate.
        assert!(!busy_poll(Auto, 100_000.0, 3, 8));
        assert!(busy_poll(Auto, 150_000.0, 3, 8));
        assert!(!busy_poll(Auto, 1e6, 1, 1));
        assert!(busy_poll(On, 1.0, 2, 2));
        assert!(!busy_poll(Off, 1e6, 1, 8));
    }

    #[test]
    fn default_threads_follow_the_rate_and_leave_a_core_to_a_local_target() {
        assert_eq!(load_threads(500.0, 8, false), 1);
        assert_eq!(load_threads(15_000.0, 8, false), 1);
        assert_eq!(load_threads(40_000.0, 8, false), 3);
        assert_eq!(load_threads(1e6, 8, false), 8);
        assert_eq!(load_threads(40_000.0, 2, true), 1);
        assert_eq!(load_threads(40_000.0, 1, true), 1);
        assert_eq!(load_threads(40_000.0, 4, true), 3);
    }
}
