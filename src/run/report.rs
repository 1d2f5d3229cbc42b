//! [`RunReport`]: the one value a run returns. It owns every section —
//! each step's summary, the stress result, why the run stopped early —
//! and every output (text, summary JSON, exit code) is a function of it.

use crate::error::{EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_THRESHOLD};
use crate::human;
use crate::metrics::DropReason;
use crate::report::{self, Ended, StressStep, StressSummary, Summary};
use crate::threshold::{Metric, Threshold};

/// The share of intended requests a run may drop (the schedule could not
/// be kept: `connection_cap`, `max_in_flight`, `generator_behind`) before
/// the default guard fails it.
pub const MAX_DROPPED_SHARE: f64 = 0.01;

/// The checks every run gets unless `--no-default-thresholds` turns them
/// off or a threshold on the same metric replaces them: a run that
/// dropped more than [`MAX_DROPPED_SHARE`] of its intended requests did
/// not send the load it reports, and a run whose every request failed
/// measured nothing of the service; either exits 99, as a crossed
/// threshold does, with a warning on stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Guards {
    /// `dropped_requests` over intended at most 1%.
    pub dropped: bool,
    /// Not every request failed (`http_req_failed` below 100%).
    pub failed: bool,
}

impl Guards {
    /// The guards that apply: none with `--no-default-thresholds`; a
    /// threshold on `dropped_requests` or `http_req_failed` (any tags)
    /// replaces that metric's guard.
    pub fn for_run(off: bool, thresholds: &[Threshold]) -> Guards {
        let given = |m: Metric| thresholds.iter().any(|t| t.metric == m);
        Guards {
            dropped: !off && !given(Metric::Dropped),
            failed: !off && !given(Metric::Failed),
        }
    }

    /// What `s` broke, one warning each (empty when it broke none).
    pub fn broken(&self, s: &Summary) -> Vec<String> {
        self.cases(s).into_iter().filter_map(|(_, f)| f).collect()
    }

    /// Every guard that applies, by name, with its failure (`None`: it
    /// held): the JUnit report's test cases.
    pub fn cases(&self, s: &Summary) -> Vec<(String, Option<String>)> {
        let r = &s.requests;
        let mut cases = Vec::new();
        // Drops where the schedule could not be kept; not a request left
        // out because no response had produced the id it needs (a fact
        // of the service's state, reported beside them).
        let lost: Vec<(&String, &u64)> = s
            .dropped
            .iter()
            .filter(|(k, _)| k.as_str() != DropReason::NoProducedValue.as_str())
            .collect();
        let dropped: u64 = lost.iter().map(|(_, n)| **n).sum();
        let dropped_share = if r.intended > 0 {
            dropped as f64 / r.intended as f64
        } else {
            0.0
        };
        if self.dropped {
            let broken = (dropped_share > MAX_DROPPED_SHARE).then(|| {
                let reasons: Vec<String> = lost.iter().map(|(k, n)| format!("{k} {n}")).collect();
                format!(
                    "warning: {dropped} of {} intended requests ({:.1}%) were dropped, not sent ({}): the run did not send the load it reports. Raise --connections (or --max-in-flight), or lower --rate/--scale. Default guard: more than {}% dropped fails the run (exit 99); --no-default-thresholds turns it off, a --threshold on dropped_requests replaces it",
                    r.intended,
                    dropped_share * 100.0,
                    reasons.join(", "),
                    MAX_DROPPED_SHARE * 100.0,
                )
            });
            let name = format!(
                "default guard: at most {}% of intended requests dropped",
                MAX_DROPPED_SHARE * 100.0
            );
            cases.push((name, broken));
        }
        if self.failed {
            let broken = (r.sent > 0 && r.failed == r.sent).then(|| {
                format!(
                    "warning: all {} requests failed ({}): nothing of the service was measured. Default guard: a run whose every request fails fails (exit 99); --no-default-thresholds turns it off, a --threshold on http_req_failed replaces it",
                    r.sent,
                    why_failed(s),
                )
            });
            cases.push((
                "default guard: not every request failed".to_string(),
                broken,
            ));
        }
        cases
    }
}

/// The failures of a summary by status code and transport error, the
/// largest first: `500 18` or `connect_refused 40`.
fn why_failed(s: &Summary) -> String {
    let mut parts: std::collections::BTreeMap<String, u64> = s.errors.clone();
    for e in &s.endpoints {
        for (code, n) in &e.status {
            if code.parse::<u16>().is_ok_and(crate::metrics::failed_status) {
                *parts.entry(code.clone()).or_default() += n;
            }
        }
    }
    let mut parts: Vec<(String, u64)> = parts.into_iter().collect();
    parts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    parts
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

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
    /// The default guards the run is held to.
    pub guards: Guards,
    /// Why the run was stopped because every request of its first seconds
    /// failed the same way: the reason with the flag that fixes it.
    pub failed_fast: Option<String>,
    /// `--baseline`: the run compared with the baseline's summary.
    pub baseline: Option<crate::compare::Comparison>,
}

impl RunReport {
    /// The report's summary: the last step's, with the stress section.
    /// `None` when no step ran.
    pub fn summary(&self) -> Option<Summary> {
        let mut s = self.steps.last()?.summary.clone();
        s.stress = self.stress.clone();
        s.baseline = self.baseline.clone();
        s.guards = self
            .guard_cases()
            .into_iter()
            .map(|(name, broken)| crate::report::GuardResult {
                ok: broken.is_none(),
                name,
                message: broken,
            })
            .collect();
        Some(s)
    }

    /// How the run ended (the last step's ending).
    pub fn ended(&self) -> Ended {
        self.steps
            .last()
            .map_or(Ended::Completed, |s| s.summary.ended)
    }

    /// 0 when the thresholds, the default guards and the `--baseline`
    /// comparison held, 99 when one was crossed or the run regressed, 1 when every request of the first seconds failed the same
    /// way (that stands over the guards), 130 after a shutdown. A stress
    /// run passes when its first step (the scale asked for) held: the
    /// breaking point above it is the finding.
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
        let regressed = self
            .baseline
            .as_ref()
            .is_some_and(|c| c.verdict == crate::compare::Verdict::Regression);
        if passed && !regressed && self.guards_broken().is_empty() {
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
        if let Some(c) = &self.baseline {
            text.push('\n');
            text += &crate::compare::render::text(c);
        }
        text
    }

    /// The notes for stderr after the report: an abort, unfinished
    /// requests.
    pub fn notes(&self) -> Vec<String> {
        let mut notes: Vec<String> = self.aborted.iter().cloned().collect();
        notes.extend(self.failed_fast.iter().cloned());
        if self.ended() != Ended::Interrupted && self.failed_fast.is_none() {
            notes.extend(self.guards_broken());
            if let Some(c) = self.baseline.as_ref().filter(|c| !c.regressed().is_empty()) {
                let names: Vec<&str> = c.regressed().iter().map(|r| r.name.as_str()).collect();
                notes.push(format!(
                    "--baseline: regressed against {}: {}",
                    c.base,
                    names.join(", ")
                ));
            } else if let Some(c) = self.baseline.as_ref().filter(|c| c.overall.regressed) {
                notes.push(format!("--baseline: regressed overall against {}", c.base));
            }
        }
        let late = self.steps.first().map_or(0, |s| {
            let name = crate::metrics::DropReason::LateStart.as_str();
            s.summary.dropped.get(name).copied().unwrap_or(0)
        });
        if late > 0 {
            notes.push(format!(
                "note: this process began sending after --start-at: {late} request{} due before then {} not sent (late_start); the schedule kept the global clock",
                if late == 1 { "" } else { "s" },
                if late == 1 { "was" } else { "were" },
            ));
        }
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

impl RunReport {
    /// The default guards the run broke, as warnings. They judge the step
    /// the run asked for: the only one, or a stress run's first (the steps
    /// above it are meant to break).
    pub fn guards_broken(&self) -> Vec<String> {
        let judged = match self.stress {
            Some(_) => self.steps.first(),
            None => self.steps.last(),
        };
        judged.map_or_else(Vec::new, |s| self.guards.broken(&s.summary))
    }

    /// `--baseline`: one verdict per row of the comparison (overall and
    /// each endpoint), failing with the metrics that regressed.
    pub fn baseline_cases(&self) -> Vec<(String, Option<String>)> {
        let Some(c) = &self.baseline else {
            return Vec::new();
        };
        std::iter::once(&c.overall)
            .chain(&c.endpoints)
            .map(|row| {
                let failure = row.regressed.then(|| {
                    let worse: Vec<String> = row
                        .metrics
                        .named()
                        .iter()
                        .filter(|(_, m)| m.regressed)
                        .map(|(name, m)| format!("{name} {:.3} → {:.3}", m.base, m.new))
                        .collect();
                    format!("regressed against {}: {}", c.base, worse.join(", "))
                });
                (format!("no regression: {}", row.name), failure)
            })
            .collect()
    }

    /// Every default guard that applies, held or broken, for the JUnit
    /// report (judged as [`RunReport::guards_broken`] judges).
    pub fn guard_cases(&self) -> Vec<(String, Option<String>)> {
        let judged = match self.stress {
            Some(_) => self.steps.first(),
            None => self.steps.last(),
        };
        judged.map_or_else(Vec::new, |s| self.guards.cases(&s.summary))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_threshold_on_a_guarded_metric_replaces_its_guard() {
        let parse = |e: &[&str]| -> Vec<Threshold> {
            e.iter()
                .map(|t| crate::threshold::parse(t).unwrap())
                .collect()
        };
        let both = Guards {
            dropped: true,
            failed: true,
        };
        assert_eq!(Guards::for_run(false, &[]), both);
        assert_eq!(Guards::for_run(true, &[]), Guards::default());
        let g = Guards::for_run(false, &parse(&["http_req_failed{status:5xx}: rate<1"]));
        assert!(g.dropped && !g.failed);
        let g = Guards::for_run(false, &parse(&["dropped_requests: count<10"]));
        assert!(!g.dropped && g.failed);
        let g = Guards::for_run(false, &parse(&["http_req_duration: p(95)<1s"]));
        assert_eq!(g, both);
    }
}
