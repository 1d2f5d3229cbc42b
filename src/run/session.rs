//! [`Session`]: runs a [`RunPlan`]'s steps — against the given target or
//! the built-in mock it starts — and returns one [`RunReport`]. The caller
//! supplies the shutdown and, optionally, an [`Observer`] for live
//! progress; the per-interval time series (`--out`) is written as the run
//! goes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;

use super::plan::{RunPlan, Step};
use super::report::{stress_summary, RunReport, StepResult};
use crate::error::UsageError;
use crate::execute::{self, Diagnosis, IntervalHook, Outcome};
use crate::metrics::{ErrorKind, IntervalStats, Recorder};
use crate::mock::{self, MockOptions};
use crate::report::{ndjson::IntervalWriter, Ended, RunMeta, Summary};
use crate::shutdown::Shutdown;
use crate::target::Target;
use crate::threshold;

/// Live view of a run (the command line's progress bar); every method has
/// a do-nothing default.
pub trait Observer: Send + Sync {
    /// The built-in mock is up (no `--target`).
    fn mock_started(&self, _target: &Target, _plan: &RunPlan) {}
    /// The target is known (given, or the mock's) and the first step is
    /// about to start.
    fn run_started(&self, _target: &Target, _plan: &RunPlan) {}
    /// A step begins; `total_s` is its scheduled length.
    fn step_started(&self, _label: &str, _total_s: f64) {}
    /// Once per interval of the running step.
    fn interval(&self, _stats: &IntervalStats, _rec: &Recorder, _elapsed: Duration, _rate: f64) {}
    /// The step ended.
    fn step_finished(&self) {}
}

/// The `--out` file as it is written.
type TimeSeries = IntervalWriter<std::io::BufWriter<crate::report::file::AtomicFile>>;

/// An observer that shows nothing.
pub struct Quiet;

impl Observer for Quiet {}

/// A run in progress.
pub struct Session<'a> {
    plan: &'a RunPlan,
    observer: Arc<dyn Observer>,
    /// The `--out` time series, written by the interval hook; taken and
    /// finished when the load is over.
    out: Option<Arc<Mutex<Option<TimeSeries>>>>,
    /// Why `--abort-on-fail` stopped the run.
    aborted: Arc<Mutex<Option<String>>>,
    /// The error kind every request of the first seconds failed with,
    /// how many, and when the run was stopped for it.
    failed_fast: Arc<Mutex<Option<(ErrorKind, u64, Duration)>>>,
}

/// A run whose every request fails the same way in its first seconds
/// (at least this many of them) is stopped with the reason…
const FAIL_FAST_MIN: u64 = 3;
/// …when that happens within this long of the start.
const FAIL_FAST_WINDOW: Duration = Duration::from_secs(10);

impl<'a> Session<'a> {
    pub fn new(plan: &'a RunPlan, observer: Arc<dyn Observer>) -> Session<'a> {
        Session {
            plan,
            observer,
            out: None,
            aborted: Arc::default(),
            failed_fast: Arc::default(),
        }
    }

    /// Runs every step until the last, a stress step that fails, or the
    /// shutdown; returns the report of what ran. Call it inside a tokio
    /// runtime. The report's files are the caller's to write (see
    /// [`super::write_outputs`]); the time series is finished here, and a
    /// failure to write it is returned with the report.
    pub async fn run(
        mut self,
        shutdown: Shutdown,
    ) -> anyhow::Result<(RunReport, Vec<anyhow::Error>)> {
        let (target, mock) = self.target().await?;
        self.observer.run_started(&target, self.plan);
        if let Some(p) = &self.plan.options.out {
            let writer = IntervalWriter::create(p, &self.plan.endpoints).map_err(|e| {
                UsageError(format!("cannot write --out file '{}': {e}", p.display()))
            })?;
            self.out = Some(Arc::new(Mutex::new(Some(writer))));
        }
        let mut results: Vec<StepResult> = Vec::new();
        let mut abandoned = 0usize;
        let mut failure = None;
        let mut failed_fast = None;
        for (i, step) in self.plan.steps.iter().enumerate() {
            let diagnosis = Arc::new(Diagnosis::new());
            let outcome = match self
                .step(i, step, &target, diagnosis.clone(), shutdown.clone())
                .await
            {
                Ok(o) => o,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            };
            abandoned += outcome.abandoned;
            failed_fast = self.failed_fast(&outcome, &diagnosis, &target);
            let result = self.result(step, &target, &outcome, &diagnosis, failed_fast.is_some());
            let stop = outcome.stopped || (self.plan.is_stress() && !result.passed);
            results.push(result);
            if stop {
                break;
            }
        }
        if let Some(m) = mock {
            let _ = m.shutdown().await;
        }
        if let Some(e) = failure {
            return Err(e);
        }
        let mut failed = Vec::new();
        if let Some(e) = self.finish_out() {
            failed.push(e);
        }
        let aborted = self.aborted.lock().ok().and_then(|mut a| a.take());
        let mut report = RunReport {
            stress: self.plan.is_stress().then(|| stress_summary(&results)),
            steps: results,
            aborted,
            abandoned,
            guards: self.plan.guards,
            failed_fast,
            baseline: None,
        };
        report.baseline = self.compare_baseline(&report)?;
        Ok((report, failed))
    }

    /// The given target, or the built-in mock started on 127.0.0.1.
    async fn target(&self) -> anyhow::Result<(Target, Option<mock::MockHandle>)> {
        if let Some(t) = &self.plan.options.target {
            return Ok((t.clone(), None));
        }
        let handle = mock::spawn(
            &self.plan.model,
            MockOptions {
                latency: self.plan.options.mock_latency,
                seed: self.plan.seed,
            },
        )
        .await
        .context("cannot start the built-in mock")?;
        let target = Target::local(handle.addr());
        self.observer.mock_started(&target, self.plan);
        Ok((target, Some(handle)))
    }

    async fn step(
        &self,
        i: usize,
        step: &Step,
        target: &Target,
        diagnosis: Arc<Diagnosis>,
        shutdown: Shutdown,
    ) -> anyhow::Result<Outcome> {
        let mut exec = self.plan.exec.clone();
        // The plan's target is the given one (renamed by --host); the
        // mock's address is known only now.
        if self.plan.options.target.is_none() {
            exec.target = target.clone();
        }
        exec.diagnosis = diagnosis.clone();
        exec.schedule = step.spec.clone();
        exec.busy_poll = self.plan.busy_poll(step);
        exec.rate = step.rate;
        exec.seed = self.plan.seed.wrapping_add(i as u64);
        exec.start_at = if i == 0 {
            self.plan.options.start_at
        } else {
            None
        };
        self.observer
            .step_started(&step.label, step.spec.duration_s.unwrap_or(0.0));
        let rate = step.rate;
        let outcome = execute::run(
            self.plan.model.clone(),
            exec,
            shutdown,
            Some(self.hook(rate, diagnosis)),
        )
        .await;
        self.observer.step_finished();
        let outcome = outcome?;
        // The hook also sees the final interval, after a run that was not
        // stopped: a threshold lost there stopped nothing.
        if !outcome.stopped || outcome.interrupted {
            if let Ok(mut a) = self.aborted.lock() {
                a.take();
            }
            if let Ok(mut f) = self.failed_fast.lock() {
                f.take();
            }
        }
        Ok(outcome)
    }

    /// The sentence of a step stopped because every request of its first
    /// seconds failed the same way: the first message of that error kind
    /// (which names the flag that fixes it), and what was seen.
    fn failed_fast(&self, outcome: &Outcome, d: &Diagnosis, target: &Target) -> Option<String> {
        let (kind, n, at) = self.failed_fast.lock().ok()?.take()?;
        if !outcome.stopped || outcome.interrupted {
            return None;
        }
        let first = d.first(kind).map_or_else(
            || execute::generic_error_message(kind, &target.to_string(), self.plan.options.timeout),
            str::to_string,
        );
        Some(format!(
            "error: {first}\n(all {n} requests of the first {:.1}s failed as '{kind}'; the run was stopped: --no-fail-fast keeps going)",
            at.as_secs_f64()
        ))
    }

    /// The interval hook: the time series, the observer, and
    /// `--abort-on-fail`.
    fn hook(&self, intended_rate: f64, diagnosis: Arc<Diagnosis>) -> IntervalHook {
        let fail_fast = (!self.plan.options.no_fail_fast).then(|| self.failed_fast.clone());
        let thresholds = self.plan.thresholds.clone();
        let endpoints = self.plan.endpoints.clone();
        let out = self.out.clone();
        let abort_all = self.plan.options.abort_on_fail;
        let abort = abort_all || thresholds.iter().any(|t| t.abort_after.is_some());
        let observer = self.observer.clone();
        let aborted = self.aborted.clone();
        Box::new(
            move |stats: &IntervalStats, rec: &Recorder, elapsed: Duration| {
                if let Some(o) = &out {
                    // A failed write is kept and reported at the end; the
                    // load goes on.
                    if let Some(w) = o.lock().ok().as_mut().and_then(|w| w.as_mut()) {
                        w.write(stats);
                    }
                }
                observer.interval(stats, rec, elapsed, intended_rate);
                if let (Some(slot), true) = (&fail_fast, elapsed <= FAIL_FAST_WINDOW) {
                    if let Some((kind, n)) = failing_the_same_way(&diagnosis, rec) {
                        if let Ok(mut f) = slot.lock() {
                            f.get_or_insert((kind, n, elapsed));
                        }
                        return false;
                    }
                }
                if !abort {
                    return true;
                }
                let lost =
                    threshold::lost_mid_run(&thresholds, rec, &endpoints, elapsed, abort_all);
                let Some(first) = lost.first() else {
                    return true;
                };
                if let Ok(mut a) = aborted.lock() {
                    let why = if abort_all {
                        "--abort-on-fail"
                    } else {
                        "abortOnFail"
                    };
                    a.get_or_insert(format!(
                        "{why}: '{}' crossed after {:.1}s; the run was stopped early",
                        first.expr,
                        elapsed.as_secs_f64()
                    ));
                }
                false
            },
        )
    }

    /// The summary of one step.
    fn result(
        &self,
        step: &Step,
        target: &Target,
        outcome: &Outcome,
        diagnosis: &Diagnosis,
        failed_fast: bool,
    ) -> StepResult {
        let plan = self.plan;
        let measured = outcome.measured.as_secs_f64().max(1e-9);
        let scheduled = outcome.scheduled.as_secs_f64().max(1e-9);
        let evaluated = threshold::evaluate(
            &plan.thresholds,
            &outcome.recorder,
            &plan.endpoints,
            outcome.measured,
        );
        let ended = match (outcome.stopped, outcome.interrupted) {
            (false, _) => Ended::Completed,
            (true, true) => Ended::Interrupted,
            (true, false) if failed_fast => Ended::FailedFast,
            (true, false) => Ended::Aborted,
        };
        let meta = RunMeta {
            // The run's seed, whatever the step: it reproduces every step
            // (step `i` draws from `seed + i`).
            seed: plan.seed,
            duration_s: measured,
            planned_duration_s: outcome.planned.as_secs_f64(),
            ended,
            // The window's mean, as planned (what `--rate` asks for):
            // over the schedule, not over the measured time, which ends
            // early when the schedule ends with a quiet stretch.
            intended_rate: outcome.intended as f64 / scheduled,
            scale: plan.options.rate.is_none().then_some(step.spec.scale),
            target: target.to_string(),
            command: plan.command.clone(),
            mock: plan
                .options
                .target
                .is_none()
                .then(|| plan.options.mock_latency.to_string()),
            shards: (!plan.options.shard.is_whole())
                .then(|| plan.options.shard.to_string())
                .into_iter()
                .collect(),
            endpoints: plan.endpoints.clone(),
        };
        let mut summary = Summary::build(&outcome.recorder, &meta, &plan.thresholds, &evaluated);
        summary.network = plan.network.clone();
        summary.errors_detail = errors_detail(&summary, diagnosis, target, plan);
        let within_errors = plan
            .stress_max_errors
            .is_none_or(|max| summary.error_rate() <= max);
        StepResult {
            label: step.label.clone(),
            passed: summary.thresholds_ok() && within_errors && !outcome.stopped,
            summary,
        }
    }

    /// `--baseline`: the run's summary compared with the baseline's.
    fn compare_baseline(
        &self,
        report: &RunReport,
    ) -> anyhow::Result<Option<crate::compare::Comparison>> {
        let (Some(base), Some(summary), Some(path)) = (
            &self.plan.baseline,
            report.summary(),
            &self.plan.options.baseline,
        ) else {
            return Ok(None);
        };
        let name = path.display().to_string();
        let c = crate::compare::compare(
            (&name, base),
            ("this run", &summary),
            self.plan.options.gate,
        )
        .map_err(|e| UsageError::flag("--baseline", e))?;
        Ok(Some(c))
    }

    /// Finishes the `--out` time series; its error, if any.
    fn finish_out(&self) -> Option<anyhow::Error> {
        let (o, p) = (self.out.as_ref()?, self.plan.options.out.as_ref()?);
        let writer = o.lock().ok().and_then(|mut w| w.take());
        let finished = match writer {
            Some(w) => w.finish().map_err(anyhow::Error::from),
            None => Err(anyhow::anyhow!("the writer was lost")),
        };
        finished
            .err()
            .map(|e| e.context(format!("cannot write --out file {}", p.display())))
    }
}

/// The error kind and count when every request that ended so far (warmup
/// included) failed with one kind of error that says the run is pointed
/// wrong — no connection, no name, no TLS session, no HTTP spoken — at
/// least [`FAIL_FAST_MIN`] of them, and none was answered. Timeouts and
/// resets are a server's behaviour under load: measured, not stopped on.
fn failing_the_same_way(d: &Diagnosis, rec: &Recorder) -> Option<(ErrorKind, u64)> {
    use ErrorKind as K;
    let (kind, n) = d.only_kind()?;
    let setup = matches!(
        kind,
        K::ConnectRefused | K::ConnectTimeout | K::Dns | K::Tls | K::Protocol
    );
    if !setup || n < FAIL_FAST_MIN {
        return None;
    }
    let totals = rec.totals();
    let warmup = rec.warmup();
    let answered = totals.status.values().sum::<u64>();
    // The executor counts a failure before it records it: `n` is never
    // behind the recorder.
    (answered == 0 && n >= totals.requests + warmup.requests).then_some((kind, n))
}

/// The first message of each error kind the summary counts.
fn errors_detail(
    summary: &Summary,
    d: &Diagnosis,
    target: &Target,
    plan: &RunPlan,
) -> std::collections::BTreeMap<String, String> {
    ErrorKind::ALL
        .iter()
        .filter(|k| summary.errors.contains_key(k.as_str()))
        .map(|&k| {
            let message = d.first(k).map_or_else(
                || execute::generic_error_message(k, &target.to_string(), plan.options.timeout),
                str::to_string,
            );
            (k.as_str().to_string(), message)
        })
        .collect()
}
