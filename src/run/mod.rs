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

pub use options::{BusyPoll, Profile, RunOptions};
pub use plan::{RunPlan, Step, MOCK_SECRET};
pub use report::{Guards, RunReport, StepResult, MAX_DROPPED_SHARE};
pub use session::{Observer, Quiet, Session};

/// Writes the report's summary to `--summary-export`, atomically; returns
/// the failure, if any, naming the file.
pub fn write_outputs(plan: &RunPlan, report: &RunReport) -> Vec<anyhow::Error> {
    let mut failed = Vec::new();
    let Some(summary) = report.summary() else {
        return failed;
    };
    let o = &plan.options;
    let mut write = |path: &Option<std::path::PathBuf>,
                     flag: &str,
                     render: &dyn Fn() -> anyhow::Result<Vec<u8>>| {
        let Some(p) = path else { return };
        let written = render().and_then(|bytes| Ok(crate::report::file::write_atomic(p, &bytes)?));
        if let Err(e) = written {
            failed.push(e.context(format!("cannot write {flag} file {}", p.display())));
        }
    };
    write(&o.summary_export, "--summary-export", &|| {
        Ok(summary.to_json().into_bytes())
    });
    write(&o.junit, "--out junit", &|| {
        let suites = [
            ("replay default guards", report.guard_cases()),
            ("replay baseline comparison", report.baseline_cases()),
        ];
        Ok(crate::report::junit::render(&summary, &suites).into_bytes())
    });
    write(&o.html, "--out html", &|| {
        Ok(crate::report::html::render(&summary).into_bytes())
    });
    write(&o.hdr, "--out hdr", &|| {
        crate::report::hlog::render(&summary).map_err(anyhow::Error::msg)
    });
    failed
}
