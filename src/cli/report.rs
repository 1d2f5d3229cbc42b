//! `replay report SUMMARY --html FILE`: the HTML report of a saved
//! summary, the same one `run --out html=` writes.

use std::io::Write;

use anyhow::Context;

use super::args::ReportArgs;
use crate::error::UsageError;
use crate::report::{file, html, Summary};

pub fn run(args: ReportArgs) -> anyhow::Result<u8> {
    let to_stdout = file::is_stdout(&args.html);
    if !to_stdout {
        file::check_output_path(&args.html, "--html")
            .map_err(|e| UsageError(format!("{e}; choose another path with --html")))?;
    }
    let name = args.summary.display().to_string();
    let text =
        std::fs::read_to_string(&args.summary).with_context(|| format!("cannot read {name}"))?;
    let summary = Summary::from_json(&text).map_err(|e| {
        UsageError(format!(
            "{name}: {e}; replay report reads the files `run --summary-export` writes"
        ))
    })?;
    let page = html::render(&summary);
    if to_stdout {
        std::io::stdout().lock().write_all(page.as_bytes())?;
    } else {
        file::write_atomic(&args.html, page.as_bytes())
            .with_context(|| format!("cannot write {}", args.html.display()))?;
    }
    Ok(0)
}
