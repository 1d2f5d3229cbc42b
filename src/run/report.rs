//! [`RunReport`]: the one value a run returns. It owns every section —
//! each step's summary, the stress result, why the run stopped early —
//! and every output (text, summary JSON, exit code) is a function of it.

use crate::error::{EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_THRESHOLD};
use crate::human;
use crate::report::{self, Ended, StressStep, StressSummary, Summary};

/// One step's result.
#[derive(Debug, Clone)]
pub struct StepResult {
    pub label: String,
    pub summary: Summary,
    /// Thresholds held (and, for stress, the error rate stayed under
    /// `--stress-max-errors`), and the step was not cut short.
    pub passed: bool,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The steps that ran, in order (a stress run stops at the first that
    /// fails; an interrupted run at the one that was running).
    pub steps: Vec<StepResult>,
    /// `--profile stress`: every step and the breaking point.
    pub stress: Option<StressSummary>,
    /// Why `--abort-on-fail` stopped the run, and when.
    pub aborted: Option<String>,
    /// Requests still awaiting a response when a step ended: counted as
    /// failed (`unfinished`).
    pub abandoned: usize,
    /// Why the run was stopped because every request of its first seconds
    /// failed the same way: the reason with the flag that fixes it.
    pub failed_fast: Option<String>,
}

impl RunReport {
    /// The report's summary: the last step's, with the stress section.
    /// `None` when no step ran.
    pub fn summary(&self) -> Option<Summary> {
        let mut s = self.steps.last()?.summary.clone();
        s.stress = self.stress.clone();
        Some(s)
    }

    /// How the run ended (the last step's ending).
    pub fn ended(&self) -> Ended {
        self.steps
            .last()
            .map_or(Ended::Completed, |s| s.summary.ended)
    }

    /// 0 when the thresholds held, 99 when one was crossed, 1 when every
    /// request of the first seconds failed the same way, 130 after a
    /// shutdown. A stress run passes when its first step (the scale asked
    /// for) held: the breaking point above it is the finding.
    pub fn exit_code(&self) -> u8 {
        if self.ended() == Ended::Interrupted {
            return EXIT_INTERRUPTED;
        }
        if self.failed_fast.is_some() {
            return EXIT_FAILURE;
        }
        let passed = match (&self.stress, self.steps.last()) {
            (Some(stress), _) => stress.largest_passing_step.is_some(),
            (None, Some(last)) => last.summary.thresholds_ok(),
            (None, None) => true,
        };
        if passed {
            EXIT_OK
        } else {
            EXIT_THRESHOLD
        }
    }

    /// The end-of-run text: the stress steps (if any), then the k6-style
    /// report of the last step.
    pub fn text(&self, color: bool) -> String {
        let Some(summary) = self.summary() else {
            return String::new();
        };
        let mut text = String::new();
        if let Some(stress) = &self.stress {
            text += &stress_text(stress);
        }
        text += &report::text::render(&summary, report::text::TextOptions { color });
        text
    }

    /// The notes for stderr after the report: an abort, unfinished
    /// requests.
    pub fn notes(&self) -> Vec<String> {
        let mut notes: Vec<String> = self.aborted.iter().cloned().collect();
        notes.extend(self.failed_fast.iter().cloned());
        if self.abandoned > 0 {
            notes.push(format!(
                "note: {} request{} still awaiting a response when the run ended; counted as failed (error kind 'unfinished')",
                self.abandoned,
                if self.abandoned == 1 { " was" } else { "s were" },
            ));
        }
        notes
    }
}

/// The stress section of a run whose steps are `results`.
pub(super) fn stress_summary(results: &[StepResult]) -> StressSummary {
    let largest_passing_step = results
        .iter()
        .rev()
        .find(|r| r.passed)
        .map(|r| r.label.clone());
    let first_failing_step = results.iter().find(|r| !r.passed).map(|r| r.label.clone());
    StressSummary {
        largest_passing_step,
        first_failing_step,
        steps: results
            .iter()
            .map(|r| StressStep {
                step: r.label.clone(),
                scale: r.summary.scale,
                thresholds_ok: r.summary.thresholds_ok(),
                error_rate: r.summary.error_rate(),
                p95_ms: r.summary.p95_ms(),
                achieved_rate: r.summary.achieved_rate,
            })
            .collect(),
    }
}

fn stress_text(stress: &StressSummary) -> String {
    let mut text = String::from("stress steps:\n");
    for (s, passed) in stress.steps.iter().map(|s| {
        let passed = Some(&s.step) != stress.first_failing_step.as_ref();
        (s, passed)
    }) {
        text += &format!(
            "  {:<14} {}  p95 {:>9}  errors {:>6.2}%  achieved {:.1} req/s\n",
            s.step,
            if passed { "✓" } else { "✗" },
            human::millis(s.p95_ms),
            s.error_rate * 100.0,
            s.achieved_rate
        );
    }
    text += &format!(
        "breaking point: {}\n\n",
        match (&stress.largest_passing_step, &stress.first_failing_step) {
            (Some(p), Some(b)) => format!("largest scale that passed: {p} (failed at {b})"),
            (Some(p), None) => format!("none found; every step passed up to {p}"),
            (None, Some(b)) => format!("the first step ({b}) already failed"),
            (None, None) => "no step ran".into(),
        }
    );
    text
}
