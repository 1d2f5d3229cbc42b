//! `replay merge SUMMARY... [-o FILE]`: the shards of one run, added up
//! exactly (HdrHistograms merge without loss) and judged as one run.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use super::args::{MergeArgs, OutKind};
use crate::error::{UsageError, EXIT_THRESHOLD};
use crate::report::{self, file, shards, MergeError, Summary};
use crate::threshold::{self, Threshold};

/// Points of a merged run's drift series.
const DRIFT_POINTS: usize = 60;

pub fn run(args: MergeArgs) -> anyhow::Result<u8> {
    if let Some(out) = args.output.as_ref().filter(|p| !file::is_stdout(p)) {
        file::check_output_path(out, "-o")
            .map_err(|e| UsageError(format!("{e}; choose another path with -o")))?;
    }
    let (junit, html, hdr) = out_paths(&args)?;
    let parts = read(&args.summaries)?;
    let named: Vec<(String, &Summary)> = parts.iter().map(|(n, s)| (n.clone(), s)).collect();
    let coverage = shards::check(&named, args.allow_partial).map_err(UsageError)?;
    let summaries: Vec<Summary> = parts.iter().map(|(_, s)| s.clone()).collect();
    let mut merged = report::merge_summaries(&summaries).map_err(|e| incompatible(&parts, e))?;
    merged.meta.command = reproduce(&merged.meta.command, coverage.count);
    let parsed = thresholds(&merged.thresholds, &args.thresholds, &merged.meta.endpoints)?;
    let elapsed = Duration::from_secs_f64(merged.meta.duration_s.max(0.0));
    let results = threshold::evaluate(&parsed, &merged.recorder, &merged.meta.endpoints, elapsed);
    let mut summary = Summary::build(&merged.recorder, &merged.meta, &parsed, &results);
    if !merged.blocks_complete {
        summary.blocks = None;
    }
    summary.errors_detail = merged.errors_detail;
    // The shards' drift series hold percentiles, which do not add; the
    // merged blocks give it exactly.
    if let Some(b) = &summary.blocks {
        summary.drift = b.drift(DRIFT_POINTS);
    }
    let guards = crate::run::Guards::for_run(args.no_default_thresholds, &parsed);
    let broken = guards.broken(&summary);
    write_outputs(&args, &summary, &coverage, &broken)?;
    if let Some(path) = hdr {
        let log = report::hlog::render(&summary).map_err(anyhow::Error::msg)?;
        file::write_atomic(&path, &log)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = html {
        file::write_atomic(&path, report::html::render(&summary).as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = junit {
        let xml = report::junit::render(
            &summary,
            &[("replay default guards", guards.cases(&summary))],
        );
        file::write_atomic(&path, xml.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let failed = summary.thresholds.iter().any(|t| !t.ok) || !broken.is_empty();
    Ok(if failed { EXIT_THRESHOLD } else { 0 })
}

/// How to reproduce the merged run from a shard's command line: every
/// shard, then the merge.
fn reproduce(shard_command: &str, n: u64) -> String {
    let mut words: Vec<&str> = shard_command.split(' ').collect();
    if let Some(i) = words.iter().position(|w| *w == "--shard") {
        if i + 1 < words.len() {
            words[i + 1] = "$K/$N";
        }
    }
    format!(
        "N={n}; for K in $(seq $N); do {} & done; wait; replay merge SUMMARIES",
        words.join(" ")
    )
}

/// The `--out junit=` and `--out html=` files, checked; merge writes no
/// time series (`json=`).
fn out_paths(args: &MergeArgs) -> Result<Outs, UsageError> {
    let (mut junit, mut html, mut hdr) = (None, None, None);
    for o in &args.out {
        let slot = match o.kind {
            OutKind::Junit => &mut junit,
            OutKind::Html => &mut html,
            OutKind::Hdr => &mut hdr,
            OutKind::Json => {
                return Err(UsageError(
                    "--out json=: merge has no time series to write (the shards' NDJSON files are theirs); use junit=FILE or html=FILE".into(),
                ))
            }
        };
        if slot.replace(o.path.clone()).is_some() {
            return Err(UsageError(
                format!("--out {:?} is given twice", o.kind).to_lowercase(),
            ));
        }
        file::check_output_path(&o.path, "--out")
            .map_err(|e| UsageError(format!("{e}; choose another path")))?;
    }
    Ok((junit, html, hdr))
}

/// The `--out` files of a merge: JUnit, HTML, interval log.
type Outs = (Option<PathBuf>, Option<PathBuf>, Option<PathBuf>);

/// Each file read and parsed, named as given.
fn read(paths: &[PathBuf]) -> anyhow::Result<Vec<(String, Summary)>> {
    paths
        .iter()
        .map(|p| {
            let name = p.display().to_string();
            let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {name}"))?;
            let s = Summary::from_json(&text).map_err(|e| {
                UsageError(format!(
                    "{name}: {e}; replay merge reads the files `run --summary-export` writes"
                ))
            })?;
            Ok((name, s))
        })
        .collect()
}

/// A merge error with the files named instead of their positions.
fn incompatible(parts: &[(String, Summary)], e: MergeError) -> anyhow::Error {
    let name = |i: usize| parts.get(i).map_or("?", |p| p.0.as_str());
    let msg = match e {
        MergeError::Endpoints { part, index } => format!(
            "{} and {} have different endpoints (from endpoint {index} on): they are not shards of one model's run",
            name(part),
            name(0)
        ),
        other => format!("cannot merge: {other}"),
    };
    UsageError(msg).into()
}

/// The shards' thresholds and the extra ones, each once, parsed and
/// checked against the endpoints.
fn thresholds(
    recorded: &[String],
    extra: &[String],
    endpoints: &[crate::metrics::EndpointDesc],
) -> anyhow::Result<Vec<Threshold>> {
    let mut exprs: Vec<&String> = recorded.iter().collect();
    for t in extra {
        if !exprs.contains(&t) {
            exprs.push(t);
        }
    }
    exprs
        .into_iter()
        .map(|t| {
            let parsed = threshold::parse(t)
                .and_then(|p| p.check_endpoints(endpoints).map(|()| p))
                .map_err(|e| UsageError(format!("--threshold: {e}\n{}", e.caret())))?;
            Ok(parsed)
        })
        .collect()
}

/// The merged summary (`-o`), the text report (stdout, or stderr when the
/// summary goes to stdout), and what is missing or broken on stderr.
fn write_outputs(
    args: &MergeArgs,
    summary: &Summary,
    coverage: &shards::Coverage,
    broken: &[String],
) -> anyhow::Result<()> {
    let json_to_stdout = args.output.as_ref().is_some_and(|p| file::is_stdout(p));
    let color = !args.no_color
        && std::env::var_os("NO_COLOR").is_none()
        && !json_to_stdout
        && std::io::stdout().is_terminal();
    let mut text = report::text::render(summary, report::text::TextOptions { color });
    let present: Vec<String> = coverage.present.iter().map(|s| s.to_string()).collect();
    text.push_str(&format!(
        "\n  merged shards {} of {}\n",
        present.join(", "),
        coverage.count
    ));
    let mut err = std::io::stderr().lock();
    if !coverage.missing.is_empty() {
        let missing: Vec<String> = coverage.missing.iter().map(|s| s.to_string()).collect();
        text.push_str(&format!(
            "  PARTIAL: shards {} missing\n",
            missing.join(", ")
        ));
        let _ = writeln!(
            err,
            "warning: partial merge: shards {} are missing",
            missing.join(", ")
        );
    }
    for b in broken {
        let _ = writeln!(err, "warning: {b}");
    }
    if json_to_stdout {
        let _ = err.write_all(text.as_bytes());
        let mut out = std::io::stdout().lock();
        out.write_all(summary.to_json().as_bytes())?;
        out.write_all(b"\n")?;
    } else {
        std::io::stdout().lock().write_all(text.as_bytes())?;
    }
    if let Some(p) = args.output.as_ref().filter(|p| !file::is_stdout(p)) {
        file::write_atomic(p, summary.to_json().as_bytes())
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    Ok(())
}
