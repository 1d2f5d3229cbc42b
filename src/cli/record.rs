//! `replay record CAPTURE... -o MODEL`.

use std::io::Write;

use anyhow::Context;

use super::args::RecordArgs;
use crate::error::UsageError;
use crate::human as fmt;
use crate::model::{self, TrafficModel};

pub fn run(args: RecordArgs) -> anyhow::Result<u8> {
    // Fail before the (possibly long) read if the output cannot be written.
    crate::report::file::check_output_path(&args.output, "-o")
        .map_err(|e| UsageError(format!("{e}; choose another path with -o")))?;
    let started = std::time::Instant::now();
    // Fails (exit 2) when nothing could be modelled.
    let model = super::input::record(&args.captures, &args.filters)?;
    // As model::file::save does, keeping the bytes for their size (`-o -`
    // writes them to standard output).
    let bytes = model::file::to_bytes(&model);
    crate::report::file::write_atomic(&args.output, &bytes)
        .with_context(|| format!("cannot write the model to {}", args.output.display()))?;
    if !args.quiet {
        let size = bytes.len() as u64;
        // Not eprint!, which panics when stderr is a closed pipe: the
        // model is written, the exit code must say so.
        let _ = write!(
            std::io::stderr(),
            "{}",
            summary(
                &model,
                &args.output.display().to_string(),
                size,
                started.elapsed()
            )
        );
    }
    Ok(0)
}

/// The short summary `record` prints to stderr.
fn summary(m: &TrafficModel, out: &str, size: u64, took: std::time::Duration) -> String {
    let input_bytes: u64 = m.source.files.iter().map(|f| f.bytes).sum();
    let mut s = format!(
        "recorded {} requests from {} file{} ({}) in {}\n",
        fmt::count(m.requests()),
        m.source.files.len(),
        if m.source.files.len() == 1 { "" } else { "s" },
        fmt::bytes(input_bytes as f64),
        fmt::seconds(took.as_secs_f64()),
    );
    let skipped = m.source.skipped_total();
    if skipped > 0 {
        s += &format!(
            "  skipped {}: {}\n",
            fmt::count(skipped),
            super::input::skipped_summary(m, 5)
        );
    }
    s += &format!(
        "  {} endpoints, {} req/s over {}, burstiness {:.2}\n",
        m.endpoints.len(),
        fmt::rate(m.arrival.mean_rate()),
        fmt::seconds(m.arrival.duration_s()),
        m.arrival.burstiness()
    );
    if let Some(line) = super::inspect::compressed_gaps(m) {
        s += &format!("  {line}\n");
    }
    let ss = &m.sessions;
    if ss.client_sample > 1 {
        s += &format!(
            "  ~{} users: too many to follow each at once, sessions were learned from one user in {} (estimates; inspect shows them)\n",
            fmt::count(ss.clients),
            ss.client_sample
        );
    }
    if !m.secrets.is_empty() {
        let names = m.placeholder_names();
        s += &format!(
            "  scrubbed {} secret{} ({}); supply them with -H or --secret NAME=VALUE when replaying\n",
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            names.join(", ")
        );
    } else if !m.source.scrubbed {
        s += "  --keep-secrets: credentials were kept verbatim in the model\n";
    }
    if let Some(line) = super::inspect::pii_line(m) {
        s += &format!("  {line}\n");
    }
    for w in &m.source.warnings {
        s += &format!("  warning: {w}\n");
    }
    s += &format!("  wrote {out} ({})\n", fmt::bytes(size as f64));
    s
}
