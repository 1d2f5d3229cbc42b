//! The run's live view on stderr: a banner when the run starts (target,
//! planned duration and rate, seed — also in CI logs, where there is no
//! progress bar), the notices about the built-in mock, and progress
//! ([`Progress`]: a bar on a terminal, a line every
//! `--progress-interval` without one). Nothing with `--quiet`.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use super::progress::Progress;
use crate::human;
use crate::metrics::{IntervalStats, Recorder};
use crate::run::{Observer, Profile, RunPlan, MOCK_SECRET};
use crate::target::Target;

pub struct Terminal {
    quiet: bool,
    /// Without a terminal, a progress line this often.
    every: Duration,
    progress: Mutex<Option<Progress>>,
}

impl Terminal {
    pub fn new(quiet: bool, every: Duration) -> Terminal {
        Terminal {
            quiet,
            every,
            progress: Mutex::new(None),
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

    fn run_started(&self, target: &Target, plan: &RunPlan) {
        if !self.quiet {
            let _ = write!(std::io::stderr(), "{}", banner(target, plan));
        }
        // A warning, so even with --quiet: once, not per request.
        if let Some(line) = bodyless(plan) {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
    }

    fn step_started(&self, label: &str, total_s: f64) {
        if let Ok(mut p) = self.progress.lock() {
            *p = Some(Progress::new(self.quiet, label, total_s, self.every));
        }
    }

    fn interval(&self, _stats: &IntervalStats, rec: &Recorder, elapsed: Duration, rate: f64) {
        self.with_progress(|p| p.update(rec, elapsed, rate));
    }

    fn step_finished(&self) {
        self.with_progress(Progress::finish);
    }
}

/// The endpoints the run sends without the request body they had (POST,
/// PUT, PATCH recorded from access logs), as the model's warning names
/// them.
pub fn bodyless(plan: &RunPlan) -> Option<String> {
    let warning = plan
        .model
        .source
        .warnings
        .iter()
        .find_map(|w| w.strip_prefix(crate::model::builder::BODYLESS))?;
    Some(format!(
        "warning: sent without the request body they had (recorded from access logs, which keep none): {warning}"
    ))
}

/// What is about to run: `replay: 3 endpoints → http://… (the built-in
/// mock)` and the plan — how long (and whether that is a default), at
/// what intended rate, with which seed.
/// The step's peak beside its mean, when the recorded curve makes them
/// differ by half or more: a run over a busy stretch, a bursty recording
/// (an even recording's bins differ by a request or so: not worth a word).
fn peak(step: &crate::run::Step, bin_s: f64) -> String {
    if step.peak > step.rate * 1.5 {
        format!(
            " (peak {:.1} req/s over {} of the recorded curve)",
            step.peak,
            human::seconds(bin_s)
        )
    } else {
        String::new()
    }
}

pub fn banner(target: &Target, plan: &RunPlan) -> String {
    let o = &plan.options;
    let against = if o.target.is_none() {
        " (the built-in mock)"
    } else {
        ""
    };
    let mut text = format!(
        "replay: {} endpoint{} → {target}{against}\n",
        plan.endpoints.len(),
        if plan.endpoints.len() == 1 { "" } else { "s" },
    );
    let warmup_s = o.warmup.map_or(0.0, |w| w.as_secs_f64());
    let length = |s: &crate::run::Step| s.spec.duration_s.unwrap_or(0.0) - warmup_s;
    let why = match (o.duration, o.profile) {
        (Some(_), _) => "",
        (None, None | Some(Profile::Load)) => {
            " (the recording's length, the default: --duration sets it)"
        }
        (None, Some(_)) => " (the profile's default: --duration sets it)",
    };
    let steps = &plan.steps;
    let what = match steps.as_slice() {
        [one] => {
            // With --rate the label is the rate: said once.
            let (label, rate) = match o.rate {
                Some(_) => (format!("{} intended", one.label), String::new()),
                None => (
                    one.label.clone(),
                    format!(" at {:.1} req/s intended", one.rate),
                ),
            };
            format!(
                "{label} for {}{why}{rate}{}",
                human::seconds(length(one)),
                peak(one, plan.model.arrival.bin_s)
            )
        }
        _ => format!(
            "{} steps of {}{why}: {}",
            steps.len(),
            human::seconds(steps.first().map_or(0.0, length)),
            steps
                .iter()
                .map(|s| format!("{} ({:.1} req/s)", s.label, s.rate))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    text += &format!("  plan: {what}");
    if warmup_s > 0.0 {
        text += &format!(", after {} of warmup", human::seconds(warmup_s));
    }
    text += &format!("; seed {}\n", plan.seed);
    let polled = steps.iter().filter(|s| plan.busy_poll(s)).count();
    if polled > 0 {
        let threads = match plan.threads {
            1 => "the load thread polls".to_string(),
            n => format!("the {n} load threads poll"),
        };
        let busy = if plan.threads == 1 {
            "keeping its core busy"
        } else {
            "each keeping a core busy"
        };
        let when = if polled == steps.len() {
            String::new()
        } else {
            format!(" in {polled} of the {} steps", steps.len())
        };
        text +=
            &format!("  {threads} instead of sleeping{when}, {busy} (--busy-poll off stops it)\n");
    }
    text
}
