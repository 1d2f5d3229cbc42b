//! The run layer: plan, run and report a replay from the library, without
//! the command line.
//!
//! ```text
//! RunOptions ──RunPlan::build──► RunPlan ──Session::run(shutdown)──► RunReport
//!  (typed,        (checks everything       (mock if no target,        (every section;
//!   what was       before anything          steps, interval hook,      text, JSON and
//!   asked)         starts)                  time series)               exit code from it)
//! ```
//!
//! [`RunPlan::build`] decides every default and refuses a bad run before
//! any server starts or file is created; [`Session`] runs the steps
//! (stress and spike included) and returns one [`RunReport`];
//! [`write_outputs`] writes the summary export atomically.

mod command;
mod options;
mod plan;
mod report;
mod route;
mod session;

pub use options::{Profile, RunOptions};
pub use plan::{RunPlan, Step, MOCK_SECRET};
pub use report::{Guards, RunReport, StepResult, MAX_DROPPED_SHARE};
pub use session::{Observer, Quiet, Session};

/// Writes the report's summary to `--summary-export`, atomically; returns
/// the failure, if any, naming the file.
pub fn write_outputs(plan: &RunPlan, report: &RunReport) -> Vec<anyhow::Error> {
    let mut failed = Vec::new();
    if let (Some(p), Some(summary)) = (&plan.options.summary_export, report.summary()) {
        if let Err(e) = crate::report::file::write_atomic(p, summary.to_json().as_bytes()) {
            failed.push(anyhow::Error::from(e).context(format!(
                "cannot write --summary-export file {}",
                p.display()
            )));
        }
    }
    if let (Some(p), Some(summary)) = (&plan.options.junit, report.summary()) {
        let guards = report.guard_cases();
        let baseline = report.baseline_cases();
        let xml = crate::report::junit::render(
            &summary,
            &[
                ("replay default guards", guards),
                ("replay baseline comparison", baseline),
            ],
        );
        if let Err(e) = crate::report::file::write_atomic(p, xml.as_bytes()) {
            failed.push(
                anyhow::Error::from(e)
                    .context(format!("cannot write --out junit file {}", p.display())),
            );
        }
    }
    if let (Some(p), Some(summary)) = (&plan.options.html, report.summary()) {
        let html = crate::report::html::render(&summary);
        if let Err(e) = crate::report::file::write_atomic(p, html.as_bytes()) {
            failed.push(
                anyhow::Error::from(e)
                    .context(format!("cannot write --out html file {}", p.display())),
            );
        }
    }
    if let (Some(p), Some(summary)) = (&plan.options.hdr, report.summary()) {
        let written = crate::report::hlog::render(&summary)
            .map_err(anyhow::Error::msg)
            .and_then(|log| Ok(crate::report::file::write_atomic(p, &log)?));
        if let Err(e) = written {
            failed.push(e.context(format!("cannot write --out hdr file {}", p.display())));
        }
    }
    failed
}
