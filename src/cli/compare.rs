//! `replay compare BASE.json NEW.json`: two runs' summaries judged against
//! each other (see [`crate::compare`]); exit 0 pass, 99 regression, 2 when
//! they cannot be compared.

use std::io::Write;

use super::args::{CompareArgs, CompareFormat};
use crate::compare::{self, render, Verdict};
use crate::error::{UsageError, EXIT_OK, EXIT_THRESHOLD};

pub fn run(args: CompareArgs) -> anyhow::Result<u8> {
    let base = compare::load(&args.base).map_err(|e| UsageError(e.0))?;
    let new = compare::load(&args.new).map_err(|e| UsageError(e.0))?;
    let (bn, nn) = (
        args.base.display().to_string(),
        args.new.display().to_string(),
    );
    let c = compare::compare((&bn, &base), (&nn, &new), args.gate.rule())
        .map_err(|e| UsageError(format!("cannot compare: {e}")))?;
    let out = match args.format {
        CompareFormat::Text => render::text(&c),
        CompareFormat::Markdown => render::markdown(&c),
        CompareFormat::Json => render::json(&c),
    };
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(match c.verdict {
        Verdict::Pass => EXIT_OK,
        Verdict::Regression => EXIT_THRESHOLD,
    })
}
