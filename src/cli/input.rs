//! Turning the user's input paths into a model: a model file is loaded, a
//! list of captures is recorded in memory through the filters.

use std::path::PathBuf;

use super::args::FilterArgs;
use crate::error::UsageError;
use crate::human as fmt;
use crate::ingest::filter::{Filter, FilterSpec};
use crate::ingest::{self, CaptureKind};
use crate::model::{self, BuildOptions, ModelBuilder, SourceFile, TrafficModel};

/// What the inputs turned out to be.
pub struct Input {
    pub model: TrafficModel,
    /// True when the inputs were captures modelled on the fly.
    pub from_captures: bool,
}

impl FilterArgs {
    fn spec(&self) -> FilterSpec {
        FilterSpec {
            include_hosts: self.include_host.clone(),
            exclude_hosts: self.exclude_host.clone(),
            include_paths: self.include_path.clone(),
            exclude_paths: self.exclude_path.clone(),
            methods: self.method.clone(),
            api_only: self.api_only,
        }
    }

    fn any(&self) -> bool {
        !(self.include_host.is_empty()
            && self.exclude_host.is_empty()
            && self.include_path.is_empty()
            && self.exclude_path.is_empty()
            && self.method.is_empty()
            && !self.api_only
            && !self.keep_secrets
            && !self.keep_pii
            && self.pii_field.is_empty()
            && self.log_format.is_none()
            && self.bodies == super::args::Bodies::All)
    }
}

/// Loads a model file, or models the captures.
pub fn load_input(inputs: &[PathBuf], filters: &FilterArgs) -> anyhow::Result<Input> {
    let options = ingest::ReadOptions {
        log_format: filters.log_format.clone(),
    };
    if inputs.len() == 1 && ingest::detect_with(&inputs[0], &options)?.0 == CaptureKind::Model {
        if filters.any() {
            return Err(UsageError(format!(
                "{} is a model file; filters, --keep-secrets, --keep-pii, --pii-field and --bodies apply when recording from captures (replay record CAPTURE ... -o MODEL)",
                inputs[0].display()
            ))
            .into());
        }
        let model = model::file::load(&inputs[0])?;
        return Ok(Input {
            model,
            from_captures: false,
        });
    }
    Ok(Input {
        model: record(inputs, filters)?,
        from_captures: true,
    })
}

/// Reads every capture through the filters into one model.
pub fn record(captures: &[PathBuf], filters: &FilterArgs) -> anyhow::Result<TrafficModel> {
    let filter = Filter::new(&filters.spec()).map_err(UsageError)?;
    let mut builder = ModelBuilder::new(build_options(captures, filters));
    let options = ingest::ReadOptions {
        log_format: filters.log_format.clone(),
    };
    let kinds = captures
        .iter()
        .map(|path| Ok(ingest::detect_with(path, &options)?.0))
        .collect::<Result<Vec<_>, ingest::IngestError>>()?;
    if kinds.iter().all(|k| *k == CaptureKind::AccessLog) {
        builder.captures_keep_no_responses();
    }
    for (path, &kind) in captures.iter().zip(&kinds) {
        if kind == CaptureKind::Model && ingest::is_gzip_text(path) {
            return Err(UsageError(format!(
                "{}: gzip-compressed text that is no capture replay knows (not a HAR, nor an access log in a built-in layout: nginx/Apache combined or common, JSON lines, Envoy, AWS ALB); for a log in a custom layout pass its nginx log_format, e.g. --log-format '$remote_addr [$msec] \"$request\" $status'",
                path.display()
            ))
            .into());
        }
        if kind == CaptureKind::Model {
            return Err(UsageError(format!(
                "{} is a model file (gzip magic at byte offset 0), not a capture; record from HAR/pcap captures, or pass the model alone to inspect, generate or run",
                path.display()
            ))
            .into());
        }
        let mut filtered: std::collections::BTreeMap<&'static str, u64> = Default::default();
        let b = &mut builder;
        let (_, mut stats, digest) =
            ingest::read_capture_with(path, &options, &mut |x| match filter.rejects(x) {
                Some(reason) => *filtered.entry(reason).or_insert(0) += 1,
                None => b.observe(x),
            })?;
        for (reason, n) in filtered {
            stats.kept = stats.kept.saturating_sub(n);
            stats.skip_n(reason, n);
        }
        builder.add_source(
            SourceFile {
                path: path.display().to_string(),
                kind,
                bytes: digest.bytes,
                blake3: Some(digest.blake3),
                sha256: None,
                seen: stats.seen,
                kept: stats.kept,
            },
            &stats,
        );
    }
    let model = builder.finish();
    if model.requests() == 0 {
        // Every command needs requests; say why there are none, with the
        // first warning (a corrupt or truncated capture names the spot).
        let warning = model
            .source
            .warnings
            .first()
            .map(|w| format!("; {w}"))
            .unwrap_or_default();
        return Err(UsageError(format!(
            "no request in {} could be modelled (read to the end of the file: {} seen, {}){warning}; check the filters or the capture",
            captures
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            model.source.seen,
            skipped_summary(&model, 4)
        ))
        .into());
    }
    Ok(model)
}

/// What the model keeps, from the flags (and the captures' look-alike key).
fn build_options(captures: &[PathBuf], filters: &FilterArgs) -> BuildOptions {
    BuildOptions {
        scrub: !filters.keep_secrets,
        pii: !filters.keep_pii,
        pii_fields: filters.pii_field.clone(),
        pii_key: crate::model::pii::key_of_captures(captures),
        max_gap_s: match filters.max_gap {
            None => Some(crate::model::arrival::DEFAULT_MAX_GAP_S),
            Some(d) if d.is_zero() => None,
            Some(d) => Some(d.as_secs_f64()),
        },
        bodies: filters.bodies.into(),
    }
}

pub(super) fn skipped_summary(m: &TrafficModel, n: usize) -> String {
    let mut reasons: Vec<(&String, &u64)> = m.source.skipped.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1));
    if reasons.is_empty() {
        return "nothing skipped".into();
    }
    reasons
        .iter()
        .take(n)
        .map(|(r, c)| format!("{} {r}", fmt::count(**c)))
        .collect::<Vec<_>>()
        .join(", ")
}
