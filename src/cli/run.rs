//! `replay INPUT [options]` (same as `replay run INPUT`): replay a model's
//! traffic against a target — or the built-in mock — and report.
//!
//! Reads as the stages of a run: plan (flags → typed values, outputs
//! checked before any load), target (given, or the mock started), load
//! (the executor, with live progress and the time series), report
//! (summary text, JSON export, thresholds → exit code).

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;

use super::{RunArgs, UsageError};
use crate::execute::{self, Plan};
use crate::generate::Target;
use crate::metrics::EndpointDesc;
use crate::model::TrafficModel;
use crate::report::{self, ndjson::IntervalWriter, Ended, RunMeta, Summary};
use crate::schedule::{ArrivalMode, ScheduleSpec};
use crate::threshold::{self, Threshold};

/// Exit code when a threshold was crossed (as k6).
pub const EXIT_THRESHOLD: u8 = 99;
/// Exit code after Ctrl-C (128 + SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;

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

/// Parses `30s`, `5m`, `1h30m`, `500ms`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if let Ok(v) = t.parse::<f64>() {
        return secs(v, s);
    }
    let mut total = 0.0;
    let mut num = String::new();
    let mut chars = t.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(n) = chars.peek() {
            if n.is_ascii_alphabetic() || *n == 'µ' {
                unit.push(*n);
                chars.next();
            } else {
                break;
            }
        }
        let v: f64 = num
            .parse()
            .map_err(|_| format!("'{s}' is not a duration; write 30s, 5m, 1h or 500ms"))?;
        num.clear();
        total += v * match unit.as_str() {
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(format!("'{s}': unknown unit '{unit}'; use ms, s, m or h")),
        };
        any = true;
    }
    if !num.is_empty() || !any {
        return Err(format!(
            "'{s}' is not a duration; write 30s, 5m, 1h or 500ms"
        ));
    }
    secs(total, s)
}

fn secs(v: f64, s: &str) -> Result<Duration, String> {
    if v.is_finite() && (0.0..=1e7).contains(&v) {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(format!("'{s}' is out of range"))
    }
}

/// Parses `100/s`, `100`, `6000/m` into requests per second.
pub fn parse_rate(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, per) = match t.split_once('/') {
        Some((n, "s")) => (n, 1.0),
        Some((n, "m")) => (n, 60.0),
        Some((n, "h")) => (n, 3600.0),
        Some(_) => return Err(format!("'{s}': write the rate as 100/s, 6000/m or 100")),
        None => (t, 1.0),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a rate; write it as 100/s"))?;
    let r = v / per;
    if r.is_finite() && r > 0.0 && r <= 1e7 {
        Ok(r)
    } else {
        Err(format!("'{s}' is out of range"))
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

/// `--out json=FILE.ndjson`.
pub fn parse_out(s: &str) -> Result<PathBuf, String> {
    match s.split_once('=') {
        Some(("json", p)) if !p.is_empty() => Ok(PathBuf::from(p)),
        _ => Err(format!("'{s}': the only output is json=FILE.ndjson")),
    }
}

/// One load phase: a schedule and the scale it is reported at.
struct Step {
    spec: ScheduleSpec,
    label: String,
}

pub fn run(args: RunArgs) -> anyhow::Result<u8> {
    // Plan: everything the user typed, checked before any load is sent.
    let thresholds: Vec<Threshold> = args
        .thresholds
        .iter()
        .map(|t| {
            threshold::parse(t).map_err(|e| UsageError(format!("--threshold: {e}\n{}", e.caret())))
        })
        .collect::<Result<_, _>>()?;
    if let Some(p) = &args.summary_export {
        report::file::check_output_path(p, "--summary-export")
            .map_err(|e| UsageError(e.to_string()))?;
    }
    if let Some(p) = &args.out {
        report::file::check_output_path(p, "--out").map_err(|e| UsageError(e.to_string()))?;
    }
    let input = super::load_input(&args.inputs, &args.filters)?;
    let model = Arc::new(input.model);
    if model.requests() == 0 {
        return Err(UsageError("the model has no requests to replay".into()).into());
    }
    let endpoints: Vec<EndpointDesc> = model
        .endpoints
        .iter()
        .map(|e| EndpointDesc {
            method: e.method.clone(),
            host: e.host.clone(),
            template: e.template.clone(),
            recorded_share: e.weight,
        })
        .collect();
    for t in &thresholds {
        t.check_endpoints(&endpoints)
            .map_err(|e| UsageError(format!("--threshold: {e}\n{}", e.caret())))?;
    }
    let seed = args.seed.unwrap_or_else(rand::random::<u64>);
    let steps = steps(&args, &model)?;

    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let peak_rate = steps
        .iter()
        .map(|s| model.arrival.mean_rate() * s.spec.scale)
        .fold(0.0, f64::max);
    let threads = args
        .threads
        .unwrap_or_else(|| load_threads(peak_rate, cores, local_target(&args)));
    // The control runtime: interval reports, signals and the built-in
    // mock; the load itself runs on `threads` threads of its own.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores.saturating_sub(threads).max(1))
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_async(
        args, model, endpoints, thresholds, seed, steps, threads,
    ))
}

/// Requests per second one load-generator thread is given by default: one
/// thread sustains well above this (see benches/replayer.sh), and below it
/// a second thread only adds wake-ups and competes with a local target.
const RATE_PER_THREAD: f64 = 15_000.0;

/// The default `--threads`: one per `RATE_PER_THREAD` of the highest
/// mean rate the run intends, at most one per core — and one core fewer
/// when the target runs on this machine (the built-in mock or a loopback
/// address), which needs a core of its own to answer.
fn load_threads(peak_rate: f64, cores: usize, local_target: bool) -> usize {
    let cores = if local_target { cores - 1 } else { cores };
    ((peak_rate / RATE_PER_THREAD).ceil() as usize).clamp(1, cores.max(1))
}

/// Whether the target runs on this machine.
fn local_target(args: &RunArgs) -> bool {
    let Some(t) = &args.target else {
        return true; // the built-in mock
    };
    let host = crate::ingest::exchange::host_of(&t.authority).trim_matches(['[', ']']);
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// The longest recording replayed for its own length when `--duration` is
/// not given: a capture spanning more (two requests months apart, a day of
/// traffic) asks for an explicit length instead of a run of days.
const MAX_RECORDED_DEFAULT: Duration = Duration::from_secs(3600);

fn steps(args: &RunArgs, model: &TrafficModel) -> anyhow::Result<Vec<Step>> {
    let recorded_rate = model.arrival.mean_rate();
    let base_scale = match args.rate {
        Some(r) => r / recorded_rate.max(1e-12),
        None => args.scale,
    };
    let recorded = Duration::from_secs_f64(model.arrival.duration_s());
    let by_recording = matches!(args.profile, None | Some(Profile::Load | Profile::Spike));
    if by_recording && args.duration.is_none() && recorded > MAX_RECORDED_DEFAULT {
        return Err(UsageError(format!(
            "the recording spans {} from its first request to its last ({} requests), and without --duration a run lasts that long; say how long to replay, e.g. --duration 10m",
            super::fmt::seconds(recorded.as_secs_f64()),
            model.arrival.requests,
        ))
        .into());
    }
    let mode = args.arrival;
    let spec = |scale: f64, duration: Duration, mode: ArrivalMode| ScheduleSpec {
        mode,
        scale,
        duration_s: Some(
            duration.as_secs_f64() + args.warmup.map(|w| w.as_secs_f64()).unwrap_or(0.0),
        ),
        ramp_up_s: args.ramp_up.map(|d| d.as_secs_f64()).unwrap_or(0.0),
        shape: Vec::new(),
    };
    let label = |scale: f64| match args.rate {
        Some(_) => format!("{:.1} req/s", scale * recorded_rate),
        None => format!("{}x", trim_float(scale)),
    };
    Ok(match args.profile {
        None | Some(Profile::Load) => {
            let d = args.duration.unwrap_or(recorded);
            vec![Step {
                spec: spec(base_scale, d, mode),
                label: label(base_scale),
            }]
        }
        Some(Profile::Smoke) => {
            let d = args.duration.unwrap_or(Duration::from_secs(30));
            let scale = match args.rate {
                Some(_) => base_scale,
                None => (1.0 / recorded_rate.max(1e-12)).min(base_scale),
            };
            vec![Step {
                spec: spec(scale, d, ArrivalMode::Constant),
                label: format!("smoke {}", label(scale)),
            }]
        }
        Some(Profile::Soak) => {
            let d = args.duration.unwrap_or(Duration::from_secs(3600));
            vec![Step {
                spec: spec(base_scale, d, mode),
                label: format!("soak {}", label(base_scale)),
            }]
        }
        Some(Profile::Spike) => {
            // Baseline 1x, the peak (--scale, default 4x) in the middle
            // third, back to 1x.
            let d = args
                .duration
                .unwrap_or(recorded.max(Duration::from_secs(60)));
            let peak = if args.scale == 1.0 && args.rate.is_none() {
                4.0
            } else {
                base_scale.max(1.0)
            };
            let third = d.as_secs_f64() / 3.0;
            let w = args.warmup.map(|w| w.as_secs_f64()).unwrap_or(0.0);
            let mut s = spec(peak, d, mode);
            s.shape = vec![
                (w + third, 1.0 / peak),
                (w + 2.0 * third, 1.0),
                (f64::INFINITY, 1.0 / peak),
            ];
            vec![Step {
                spec: s,
                label: format!("spike 1x → {}x → 1x", trim_float(peak)),
            }]
        }
        Some(Profile::Stress) => {
            let d = args.duration.unwrap_or(Duration::from_secs(30));
            let scales: Vec<f64> = if args.stress_steps.is_empty() {
                let start = base_scale;
                (0..6).map(|i| start * 2f64.powi(i)).collect()
            } else {
                // Multiples of --rate when given (the rate is the base),
                // otherwise scales of the recorded rate.
                match args.rate {
                    Some(_) => args.stress_steps.iter().map(|s| s * base_scale).collect(),
                    None => args.stress_steps.clone(),
                }
            };
            scales
                .into_iter()
                .map(|s| Step {
                    spec: spec(s, d, mode),
                    label: label(s),
                })
                .collect()
        }
    })
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// What the built-in mock gets for a scrubbed secret the run has no value
/// for: it checks no credential.
const MOCK_SECRET: &str = "REDACTED";

/// Gives every placeholder of the model that neither `--secret` nor a `-H`
/// header fills the value [`MOCK_SECRET`]; returns their names. Only for
/// the built-in mock: against a real `--target` a missing secret refuses
/// the run (a request with a made-up credential would measure the
/// target's 401 path, not the recorded traffic).
fn fill_secrets_for_mock(
    model: &TrafficModel,
    secrets: &mut HashMap<String, String>,
    headers: &[(String, String)],
) -> Vec<String> {
    let filled = execute::unfilled_secrets(model, secrets, headers);
    for name in &filled {
        secrets.insert(name.clone(), MOCK_SECRET.to_string());
    }
    filled
}

async fn run_async(
    args: RunArgs,
    model: Arc<TrafficModel>,
    endpoints: Vec<EndpointDesc>,
    thresholds: Vec<Threshold>,
    seed: u64,
    steps: Vec<Step>,
    threads: usize,
) -> anyhow::Result<u8> {
    let mut secrets: HashMap<String, String> = args.secrets.iter().cloned().collect();
    // Target: the given one, or the built-in mock on 127.0.0.1.
    let (target, mock) = match &args.target {
        Some(t) => (t.clone(), None),
        None => {
            let filled = fill_secrets_for_mock(&model, &mut secrets, &args.headers);
            let handle = crate::mock::spawn(
                &model,
                crate::mock::MockOptions {
                    latency: args.mock_latency,
                    seed,
                },
            )
            .await
            .context("cannot start the built-in mock")?;
            let t: Target = format!("http://{}", handle.addr())
                .parse()
                .map_err(|e: String| anyhow::anyhow!(e))?;
            if !args.quiet {
                let _ = writeln!(
                    std::io::stderr(),
                    "no --target: replaying against the built-in mock of the recorded service on {t} (recorded statuses, sizes{})",
                    match args.mock_latency {
                        crate::mock::LatencyMode::Recorded => " and latencies".to_string(),
                        crate::mock::LatencyMode::None => String::new(),
                        other => format!(", latency {other}"),
                    }
                );
                if !filled.is_empty() {
                    let _ = writeln!(
                        std::io::stderr(),
                        "scrubbed secrets without a value ({}) are sent to the mock as {MOCK_SECRET}; a real --target needs them (--secret NAME=VALUE)",
                        filled.join(", ")
                    );
                }
            }
            (t, Some(handle))
        }
    };

    // Ctrl-C / SIGTERM: the first stops sending and writes the partial
    // report; a second one exits at once.
    let stop = Arc::new(AtomicBool::new(false));
    let interrupted = Arc::new(AtomicBool::new(false));
    spawn_signal_handler(stop.clone(), interrupted.clone());

    let command = reproduce_command(&args, seed, threads);
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    // The time series is written as the run goes; taken out of the mutex
    // and finished once the load is over.
    let out = match &args.out {
        Some(p) => Some(Arc::new(Mutex::new(Some(
            IntervalWriter::create(p, &endpoints).map_err(|e| {
                UsageError(format!("cannot write --out file '{}': {e}", p.display()))
            })?,
        )))),
        None => None,
    };

    let mut results: Vec<(String, Summary)> = Vec::new();
    // Sent, but still awaiting a response when a step ended (after a stop,
    // the drain is short): in no count of the summary.
    let mut abandoned = 0usize;
    let mut breaking: Option<String> = None;
    let mut last_passing: Option<String> = None;
    let stress = args.profile == Some(Profile::Stress);
    // Why `--abort-on-fail` stopped the run, and when: said on stderr
    // after the report, whether or not a progress bar was showing.
    let aborted: Arc<Mutex<Option<String>>> = Arc::default();
    for (i, step) in steps.iter().enumerate() {
        let plan = Plan {
            target: target.clone(),
            schedule: step.spec.clone(),
            warmup: args.warmup.unwrap_or(Duration::ZERO),
            seed: seed.wrapping_add(i as u64),
            connections: args.connections,
            max_in_flight: args.max_in_flight.unwrap_or(if args.http2 {
                10_000
            } else {
                usize::MAX
            }),
            timeout: args.timeout,
            connect_timeout: args.timeout.min(Duration::from_secs(10)),
            http2: args.http2,
            insecure: args.insecure,
            headers: args.headers.clone(),
            secrets: secrets.clone(),
            interval: Duration::from_secs(1),
            drain: args.timeout,
            sessions: args.sessions,
            threads,
            timer_slack: args.timer_slack,
        };
        let total = step.spec.duration_s.unwrap_or(0.0);
        let progress = super::progress::Progress::new(args.quiet, &step.label, total);
        let hook = {
            let ths = thresholds.clone();
            let eps = endpoints.clone();
            let out = out.clone();
            let abort = args.abort_on_fail;
            let progress = progress.clone();
            let aborted = aborted.clone();
            let intended_rate = model.arrival.mean_rate() * step.spec.scale;
            Box::new(
                move |stats: &crate::metrics::IntervalStats,
                      rec: &crate::metrics::Recorder,
                      elapsed: Duration| {
                    if let Some(o) = &out {
                        if let Ok(mut w) = o.lock() {
                            // A failed write is kept and reported at the
                            // end; the load goes on.
                            if let Some(w) = w.as_mut() {
                                w.write(stats);
                            }
                        }
                    }
                    progress.update(stats, rec, elapsed, intended_rate);
                    if abort {
                        let lost = threshold::lost_mid_run(&ths, rec, &eps, elapsed);
                        if !lost.is_empty() {
                            if let Ok(mut a) = aborted.lock() {
                                a.get_or_insert(format!(
                                    "--abort-on-fail: '{}' crossed after {:.1}s; the run was stopped early",
                                    lost[0].expr,
                                    elapsed.as_secs_f64()
                                ));
                            }
                            return false;
                        }
                    }
                    true
                },
            ) as execute::IntervalHook
        };
        let outcome = execute::run(model.clone(), plan, stop.clone(), Some(hook)).await?;
        abandoned += outcome.abandoned;
        // The hook also sees the final interval, after a run that was not
        // stopped: a threshold lost there did not stop anything.
        if !outcome.stopped || interrupted.load(Ordering::SeqCst) {
            if let Ok(mut a) = aborted.lock() {
                a.take();
            }
        }
        progress.finish();
        let measured = outcome.measured.as_secs_f64().max(1e-9);
        let results_th =
            threshold::evaluate(&thresholds, &outcome.recorder, &endpoints, outcome.measured);
        let ended = if !outcome.stopped {
            Ended::Completed
        } else if interrupted.load(Ordering::SeqCst) {
            Ended::Interrupted
        } else {
            Ended::Aborted
        };
        let meta = RunMeta {
            seed: seed.wrapping_add(i as u64),
            duration_s: measured,
            ended,
            intended_rate: outcome.intended as f64 / measured,
            scale: if args.rate.is_some() {
                None
            } else {
                Some(step.spec.scale)
            },
            target: target.to_string(),
            command: command.clone(),
            endpoints: endpoints.clone(),
        };
        let summary = Summary::build(&outcome.recorder, &meta, &thresholds, &results_th);
        let ok =
            summary.thresholds_ok() && (!stress || error_rate(&summary) <= args.stress_max_errors);
        if stress {
            if ok && !outcome.stopped {
                last_passing = Some(step.label.clone());
            } else if breaking.is_none() {
                breaking = Some(step.label.clone());
            }
        }
        results.push((step.label.clone(), summary));
        if outcome.stopped || (stress && !ok) {
            break;
        }
    }

    if let Some(m) = mock {
        let _ = m.shutdown().await;
    }

    // Report: the text to stdout first, so that it reaches the terminal
    // whatever happens to the files; then the time series and the JSON
    // export, each written atomically, each failure reported.
    let Some((_, last)) = results.last() else {
        return Ok(0);
    };
    let mut text = String::new();
    if stress {
        text += "stress steps:\n";
        for (label, s) in &results {
            text += &format!(
                "  {:<14} {}  p95 {:>9}  errors {:>6.2}%  achieved {:.1} req/s\n",
                label,
                if s.thresholds_ok() && error_rate(s) <= args.stress_max_errors {
                    "✓"
                } else {
                    "✗"
                },
                report::text::human_ms(p95_ms(s)),
                error_rate(s) * 100.0,
                s.achieved_rate
            );
        }
        text += &format!(
            "breaking point: {}\n\n",
            match (&last_passing, &breaking) {
                (Some(p), Some(b)) => format!("largest scale that passed: {p} (failed at {b})"),
                (Some(p), None) => format!("none found; every step passed up to {p}"),
                (None, Some(b)) => format!("the first step ({b}) already failed"),
                (None, None) => "no step ran".into(),
            }
        );
    }
    text += &report::text::render(last, report::text::TextOptions { color });
    {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes());
        let _ = stdout.flush();
    }
    if let Some(m) = aborted.lock().ok().and_then(|mut a| a.take()) {
        let _ = writeln!(std::io::stderr(), "{m}");
    }
    if abandoned > 0 {
        let _ = writeln!(
            std::io::stderr(),
            "note: {abandoned} request{} still awaiting a response when the run ended; counted as failed (error kind 'unfinished')",
            if abandoned == 1 { " was" } else { "s were" },
        );
    }
    let mut failed: Vec<anyhow::Error> = Vec::new();
    if let (Some(o), Some(p)) = (out, &args.out) {
        let writer = o.lock().ok().and_then(|mut w| w.take());
        let finished = match writer {
            Some(w) => w.finish().map_err(anyhow::Error::from),
            None => Err(anyhow::anyhow!("the writer was lost")),
        };
        if let Err(e) = finished {
            failed.push(e.context(format!("cannot write --out file {}", p.display())));
        }
    }
    if let Some(p) = &args.summary_export {
        let mut json = last.to_json();
        if stress {
            json = add_stress(&json, &results, &last_passing, &breaking);
        }
        if let Err(e) = report::file::write_atomic(p, json.as_bytes()) {
            failed.push(anyhow::Error::from(e).context(format!(
                "cannot write --summary-export file {}",
                p.display()
            )));
        }
    }
    if let Some(last_failure) = failed.pop() {
        for e in failed {
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
        }
        return Err(last_failure);
    }
    if interrupted.load(Ordering::SeqCst) {
        return Ok(EXIT_INTERRUPTED);
    }
    // A stress run passes when its first step (the scale asked for) held;
    // the breaking point above it is the finding, not a failure.
    let passed = if stress {
        last_passing.is_some()
    } else {
        last.thresholds_ok()
    };
    Ok(if passed { 0 } else { EXIT_THRESHOLD })
}

fn error_rate(s: &Summary) -> f64 {
    if s.requests.sent == 0 {
        0.0
    } else {
        s.requests.failed as f64 / s.requests.sent as f64
    }
}

fn p95_ms(s: &Summary) -> f64 {
    s.metrics
        .get("http_req_duration")
        .and_then(|m| m.p95)
        .unwrap_or(0.0)
}

fn add_stress(
    json: &str,
    results: &[(String, Summary)],
    passing: &Option<String>,
    breaking: &Option<String>,
) -> String {
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(json) else {
        return json.to_string();
    };
    v["stress"] = serde_json::json!({
        "largest_passing_step": passing,
        "first_failing_step": breaking,
        "steps": results.iter().map(|(label, s)| serde_json::json!({
            "step": label,
            "scale": s.scale,
            "thresholds_ok": s.thresholds_ok(),
            "error_rate": error_rate(s),
            "p95_ms": p95_ms(s),
            "achieved_rate": s.achieved_rate,
        })).collect::<Vec<_>>(),
    });
    serde_json::to_string_pretty(&v).unwrap_or_else(|_| json.to_string())
}

fn spawn_signal_handler(stop: Arc<AtomicBool>, interrupted: Arc<AtomicBool>) {
    tokio::spawn(async move {
        // The streams are made once: a signal that arrives while the first
        // is being handled is queued, not missed (as it would be between
        // two `ctrl_c()` futures).
        #[cfg(unix)]
        let (mut int, mut term) = {
            use tokio::signal::unix::{signal, SignalKind};
            (
                signal(SignalKind::interrupt()).ok(),
                signal(SignalKind::terminate()).ok(),
            )
        };
        loop {
            #[cfg(unix)]
            let got = match (int.as_mut(), term.as_mut()) {
                (Some(i), Some(t)) => tokio::select! {
                    r = i.recv() => r.is_some(),
                    r = t.recv() => r.is_some(),
                },
                (Some(i), None) => i.recv().await.is_some(),
                (None, _) => tokio::signal::ctrl_c().await.is_ok(),
            };
            #[cfg(not(unix))]
            let got = tokio::signal::ctrl_c().await.is_ok();
            if !got {
                return;
            }
            if interrupted.swap(true, Ordering::SeqCst) {
                // Not eprintln!, which panics on a broken stderr: this
                // must exit.
                let _ = writeln!(
                    std::io::stderr(),
                    "\ninterrupted twice: exiting without a report"
                );
                report::file::remove_temporaries();
                std::process::exit(EXIT_INTERRUPTED as i32);
            }
            let _ = writeln!(std::io::stderr(), "\ninterrupted: stopping, waiting briefly for in-flight requests, then writing the report (Ctrl-C again to exit at once)");
            stop.store(true, Ordering::SeqCst);
        }
    });
}

/// The command line that reproduces this run, seed included.
/// Values of `--secret` and of credential headers (`-H 'Authorization: …'`)
/// are replaced by [`REDACTED`]: the command goes into the text report and
/// the summary file (CI logs and artifacts), where a secret must not.
fn reproduce_command(args: &RunArgs, seed: u64, threads: usize) -> String {
    let mut parts: Vec<String> = redact_secrets(std::env::args())
        .iter()
        .map(|a| shell_quote(a))
        .collect();
    if args.seed.is_none() {
        parts.push(format!("--seed {seed}"));
    }
    // The request stream depends on how it is split between threads.
    if args.threads.is_none() && threads > 1 {
        parts.push(format!("--threads {threads}"));
    }
    parts.join(" ")
}

/// What stands for a secret value in the reproduce command.
const REDACTED: &str = "REDACTED";

fn redact_secrets(args: impl IntoIterator<Item = String>) -> Vec<String> {
    fn secret(v: &str) -> String {
        match v.split_once('=') {
            Some((name, _)) => format!("{name}={REDACTED}"),
            None => REDACTED.to_string(),
        }
    }
    fn header(v: &str) -> String {
        match v.split_once(':') {
            Some((name, _)) if crate::model::scrub::is_secret_header(name.trim()) => {
                format!("{name}: {REDACTED}")
            }
            _ => v.to_string(),
        }
    }
    let mut out = Vec::new();
    let mut next: Option<fn(&str) -> String> = None;
    for a in args {
        if let Some(f) = next.take() {
            out.push(f(&a));
            continue;
        }
        let redacted = if let Some(v) = a.strip_prefix("--secret=") {
            format!("--secret={}", secret(v))
        } else if let Some(v) = a.strip_prefix("--header=") {
            format!("--header={}", header(v))
        } else if let Some(v) = a.strip_prefix("-H").filter(|v| !v.is_empty()) {
            format!("-H{}", header(v))
        } else {
            match a.as_str() {
                "--secret" => next = Some(secret),
                "-H" | "--header" => next = Some(header),
                _ => {}
            }
            a
        };
        out.push(redacted);
    }
    out
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn durations_rates_and_flags() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2.5"), Ok(Duration::from_millis(2500)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("5").is_ok());
        assert_eq!(parse_rate("100/s"), Ok(100.0));
        assert_eq!(parse_rate("600/m"), Ok(10.0));
        assert!(parse_rate("0/s").is_err());
        assert_eq!(parse_secret("tok=a=b"), Ok(("tok".into(), "a=b".into())));
        assert!(parse_secret("=x").is_err());
        assert_eq!(
            parse_header("Authorization: Bearer x"),
            Ok(("Authorization".into(), "Bearer x".into()))
        );
        assert!(parse_header("nocolon").is_err());
        assert_eq!(parse_out("json=a.ndjson"), Ok(PathBuf::from("a.ndjson")));
        assert!(parse_out("csv=a").is_err());
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn secrets_are_redacted_from_the_reproduce_command() {
        let args = [
            "replay",
            "m.gz",
            "--secret",
            "token=s3cr3t",
            "--secret=api_key=k3y",
            "-H",
            "Authorization: Bearer t0k",
            "-HX-Api-Key: xk",
            "--header=Cookie: sid=c00kie",
            "-H",
            "Accept: text/plain",
            "--target",
            "http://127.0.0.1:1",
        ];
        let out = redact_secrets(args.iter().map(|s| s.to_string()));
        assert_eq!(
            out,
            [
                "replay",
                "m.gz",
                "--secret",
                "token=REDACTED",
                "--secret=api_key=REDACTED",
                "-H",
                "Authorization: REDACTED",
                "-HX-Api-Key: REDACTED",
                "--header=Cookie: REDACTED",
                "-H",
                "Accept: text/plain",
                "--target",
                "http://127.0.0.1:1",
            ]
        );
    }
}
