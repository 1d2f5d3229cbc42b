//! `replay INPUT [options]` (same as `replay run INPUT`): replay a model's
//! traffic against a target — or the built-in mock — and report. The
//! library plans, runs and reports ([`crate::run`]); this file turns the
//! flags into options, owns the terminal (progress, Ctrl-C) and prints.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use anyhow::Context;

use super::args::{OutKind, ReportFormat, RunArgs};
use super::terminal::Terminal;
use crate::error::UsageError;
use crate::report::file::{is_stdout, remove_temporaries};
use crate::run::{self, RunOptions, RunPlan, Session};
use crate::shutdown::{self, Shutdown};

pub use crate::error::{EXIT_INTERRUPTED, EXIT_THRESHOLD};

pub fn run(args: RunArgs) -> anyhow::Result<u8> {
    let output = Output::of(&args)?;
    let input = super::input::load_input(&args.inputs, &args.filters)?;
    let every = args.progress_interval;
    let plan = RunPlan::build(&options(args)?, Arc::new(input.model))?;
    let runtime = control_runtime(plan.threads)?;
    runtime.block_on(async {
        let shutdown = signals();
        let observer = Arc::new(Terminal::new(output.quiet, every));
        let (report, mut failed) = Session::new(&plan, observer).run(shutdown).await?;
        output.print(&report);
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
fn options(a: RunArgs) -> Result<RunOptions, UsageError> {
    let out = a.out_path(OutKind::Json).map_err(UsageError)?;
    let junit = a.out_path(OutKind::Junit).map_err(UsageError)?;
    let html = a.out_path(OutKind::Html).map_err(UsageError)?;
    let hdr = a.out_path(OutKind::Hdr).map_err(UsageError)?;
    Ok(RunOptions {
        target: a.target,
        scale: a.scale,
        rate: a.rate,
        duration: a.duration,
        ramp_up: a.ramp_up,
        warmup: a.warmup,
        arrival: a.arrival,
        sessions: a.sessions,
        shard: a.shard.unwrap_or_default(),
        start_at: a.start_at,
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
        no_default_thresholds: a.no_default_thresholds,
        abort_on_fail: a.abort_on_fail,
        summary_export: a.summary_export,
        out,
        junit,
        html,
        hdr,
        thresholds_file: a.thresholds_file,
        baseline: a.baseline,
        gate: a.gate.rule(),
        mock_latency: a.mock_latency,
        threads: a.threads,
        busy_poll: a.busy_poll,
        command_line: std::env::args().collect(),
    })
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

/// Whether an output path writes to this process's standard output: `-`,
/// or one of the device names for it (`--summary-export /dev/stdout`).
fn names_stdout(path: &std::path::Path) -> bool {
    is_stdout(path)
        || ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"]
            .iter()
            .any(|p| path == std::path::Path::new(p))
}

/// Where the end of the run goes: the text report to stdout, unless
/// stdout carries data (`--json`, `--summary-export -`, `--out json=-`),
/// which then has it to itself and the text report goes to stderr (not
/// at all with `--quiet`). Notes and warnings always go to stderr.
struct Output {
    /// `--json`: the summary document on stdout.
    json: bool,
    /// The text report goes to stderr.
    text_to_stderr: bool,
    quiet: bool,
    no_color: bool,
}

fn out_to_stdout(a: &RunArgs, kind: OutKind) -> bool {
    a.out
        .iter()
        .any(|o| o.kind == kind && names_stdout(&o.path))
}

impl Output {
    /// Decided once, before anything is read: two data streams on stdout
    /// are refused.
    fn of(a: &RunArgs) -> Result<Output, UsageError> {
        let json = a.json || a.format == ReportFormat::Json;
        let on_stdout: Vec<&str> = [
            (json, "--json"),
            (
                a.summary_export.as_deref().is_some_and(names_stdout),
                "--summary-export -",
            ),
            (out_to_stdout(a, OutKind::Json), "--out json=-"),
            (out_to_stdout(a, OutKind::Junit), "--out junit=-"),
            (out_to_stdout(a, OutKind::Html), "--out html=-"),
            (out_to_stdout(a, OutKind::Hdr), "--out hdr=-"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, flag)| *flag)
        .collect();
        if on_stdout.len() > 1 {
            return Err(UsageError(format!(
                "{} would all write to standard output; send all but one to a file",
                on_stdout.join(" and ")
            )));
        }
        Ok(Output {
            json,
            text_to_stderr: !on_stdout.is_empty(),
            quiet: a.quiet,
            no_color: a.no_color || std::env::var_os("NO_COLOR").is_some(),
        })
    }

    /// The report first, so that it reaches the terminal whatever happens
    /// to the files; then the notes to stderr.
    fn print(&self, report: &run::RunReport) {
        let (mut stdout, mut stderr) = (std::io::stdout().lock(), std::io::stderr());
        if self.text_to_stderr {
            if !self.quiet {
                let color = !self.no_color && stderr.is_terminal();
                let _ = stderr.write_all(report.text(color).as_bytes());
            }
        } else {
            let color = !self.no_color && stdout.is_terminal();
            let _ = stdout.write_all(report.text(color).as_bytes());
        }
        if let (true, Some(summary)) = (self.json, report.summary()) {
            let _ = stdout.write_all(summary.to_json().as_bytes());
        }
        let _ = stdout.flush();
        for note in report.notes() {
            let _ = writeln!(stderr, "{note}");
        }
    }
}
