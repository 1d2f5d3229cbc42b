//! `replay INPUT [options]` (same as `replay run INPUT`): replay a model's
//! traffic against a target — or the built-in mock — and report. The
//! library plans, runs and reports ([`crate::run`]); this file turns the
//! flags into options, owns the terminal (progress, Ctrl-C) and prints.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::args::RunArgs;
use super::progress::Progress;
use crate::metrics::{IntervalStats, Recorder};
use crate::report::file::remove_temporaries;
use crate::run::{self, Observer, RunOptions, RunPlan, Session, MOCK_SECRET};
use crate::shutdown::{self, Shutdown};
use crate::target::Target;

pub use crate::error::{EXIT_INTERRUPTED, EXIT_THRESHOLD};

pub fn run(args: RunArgs) -> anyhow::Result<u8> {
    let input = super::input::load_input(&args.inputs, &args.filters)?;
    let quiet = args.quiet;
    let plan = RunPlan::build(&options(args), Arc::new(input.model))?;
    let runtime = control_runtime(plan.threads)?;
    runtime.block_on(async {
        let shutdown = signals();
        let observer = Arc::new(Terminal::new(quiet));
        let (report, mut failed) = Session::new(&plan, observer).run(shutdown).await?;
        print_report(&report);
        failed.extend(run::write_outputs(&plan, &report));
        match failed.pop() {
            Some(last) => {
                for e in failed {
                    let _ = writeln!(std::io::stderr(), "error: {e:#}");
                }
                Err(last)
            }
            None => Ok(report.exit_code()),
        }
    })
}

/// The flags as typed options.
fn options(a: RunArgs) -> RunOptions {
    RunOptions {
        target: a.target,
        scale: a.scale,
        rate: a.rate,
        duration: a.duration,
        ramp_up: a.ramp_up,
        warmup: a.warmup,
        arrival: a.arrival,
        sessions: a.sessions,
        profile: a.profile,
        stress_steps: a.stress_steps,
        stress_max_errors: a.stress_max_errors,
        seed: a.seed,
        headers: a.headers,
        secrets: a.secrets,
        connections: a.connections,
        max_in_flight: a.max_in_flight,
        timeout: a.timeout,
        timer_slack: a.timer_slack,
        insecure: a.insecure,
        cacert: a.cacert,
        cert: a.cert,
        key: a.key,
        resolve: a.resolve,
        host: a.host,
        no_proxy: a.no_proxy,
        no_fail_fast: a.no_fail_fast,
        http2: a.http2,
        thresholds: a.thresholds,
        abort_on_fail: a.abort_on_fail,
        summary_export: a.summary_export,
        out: a.out,
        mock_latency: a.mock_latency,
        threads: a.threads,
        command_line: std::env::args().collect(),
    }
}

/// The control runtime: interval reports, signals and the built-in mock;
/// the load itself runs on `threads` threads of its own.
fn control_runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores.saturating_sub(threads).max(1))
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Ctrl-C / SIGTERM: the first stops sending and the report is written; a
/// second exits at once.
fn signals() -> Shutdown {
    let (trigger, shutdown) = shutdown::channel();
    // The streams are made here, before any load is sent (not in the task,
    // which may first run later), and once: a signal that arrives while
    // the first is being handled is queued, not missed.
    #[cfg(unix)]
    let (mut int, mut term) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    tokio::spawn(async move {
        let mut first = true;
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
            if !first {
                // Not eprintln!, which panics on a broken stderr: this
                // must exit.
                let _ = writeln!(
                    std::io::stderr(),
                    "\ninterrupted twice: exiting without a report"
                );
                remove_temporaries();
                std::process::exit(EXIT_INTERRUPTED as i32);
            }
            first = false;
            let _ = writeln!(std::io::stderr(), "\ninterrupted: stopping, waiting briefly for in-flight requests, then writing the report (Ctrl-C again to exit at once)");
            trigger.fire();
        }
    });
    shutdown
}

/// The report to stdout first, so that it reaches the terminal whatever
/// happens to the files; then the notes to stderr.
fn print_report(report: &run::RunReport) {
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(report.text(color).as_bytes());
    let _ = stdout.flush();
    for note in report.notes() {
        let _ = writeln!(std::io::stderr(), "{note}");
    }
}

/// Progress on a TTY, and the notices about the built-in mock.
struct Terminal {
    quiet: bool,
    progress: std::sync::Mutex<Option<Progress>>,
}

impl Terminal {
    fn new(quiet: bool) -> Terminal {
        Terminal {
            quiet,
            progress: std::sync::Mutex::new(None),
        }
    }

    fn with_progress(&self, f: impl FnOnce(&Progress)) {
        if let Some(p) = self.progress.lock().ok().as_ref().and_then(|p| p.as_ref()) {
            f(p);
        }
    }
}

impl Observer for Terminal {
    fn mock_started(&self, target: &Target, plan: &RunPlan) {
        if self.quiet {
            return;
        }
        let latency = match plan.options.mock_latency {
            crate::mock::LatencyMode::Recorded => " and latencies".to_string(),
            crate::mock::LatencyMode::None => String::new(),
            other => format!(", latency {other}"),
        };
        let mut err = std::io::stderr();
        let _ = writeln!(
            err,
            "no --target: replaying against the built-in mock of the recorded service on {target} (recorded statuses, sizes{latency})"
        );
        if !plan.mock_secrets.is_empty() {
            let _ = writeln!(
                err,
                "scrubbed secrets without a value ({}) are sent to the mock as {MOCK_SECRET}; a real --target needs them (--secret NAME=VALUE)",
                plan.mock_secrets.join(", ")
            );
        }
    }

    fn step_started(&self, label: &str, total_s: f64) {
        if let Ok(mut p) = self.progress.lock() {
            *p = Some(Progress::new(self.quiet, label, total_s));
        }
    }

    fn interval(&self, stats: &IntervalStats, rec: &Recorder, elapsed: Duration, rate: f64) {
        self.with_progress(|p| p.update(stats, rec, elapsed, rate));
    }

    fn step_finished(&self) {
        self.with_progress(Progress::finish);
    }
}
