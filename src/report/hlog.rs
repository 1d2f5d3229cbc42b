//! `--out hdr=FILE.hlog`: the run's latency (`http_req_duration`) as an
//! HdrHistogram interval log (format v1.3, written by the hdrhistogram
//! crate's interval-log writer), readable by HistogramLogAnalyzer and
//! HdrHistogram's plotter: one interval per block of the summary's
//! `blocks` (see docs/summary-format.md), tagged with the endpoint, plus
//! an untagged total per block. Tags cannot hold spaces or commas: an
//! endpoint's tag is its name with those replaced by `_` (`GET_/posts/{id}`),
//! and a comment at the top lists the names. Timestamps are seconds from
//! the run's start; values are microseconds, the max column milliseconds.

use std::time::Duration;

use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::Histogram;

use super::Summary;
use crate::metrics::hist;

/// The interval log of `s`; `Err` with the reason when `s` has no blocks
/// (a summary written before them) or a block cannot be read.
pub fn render(s: &Summary) -> Result<Vec<u8>, String> {
    let b = s
        .blocks
        .as_ref()
        .ok_or("the summary has no per-interval blocks to write as an interval log")?;
    let names = crate::metrics::distinct_names(
        s.endpoints
            .iter()
            .map(|e| (e.method.as_str(), e.host.as_str(), e.template.as_str())),
    );
    let tags: Vec<String> = names.iter().map(|n| tag_of(n)).collect();
    let mut out = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    let mut builder = IntervalLogWriterBuilder::new();
    builder.with_max_value_divisor(1000.0);
    builder.add_comment(&format!(
        "replay {}: http_req_duration in µs, measured from intended send times (coordinated omission corrected); seed {}; target {}",
        env!("CARGO_PKG_VERSION"),
        s.seed,
        s.target
    ));
    for (tag, name) in tags.iter().zip(&names) {
        builder.add_comment(&format!("tag {tag} = {name}"));
    }
    let mut w = builder
        .begin_log_with(&mut out, &mut serializer)
        .map_err(|e| e.to_string())?;
    let width = Duration::from_secs_f64(b.width_s);
    let blocks = b.cells.iter().map(|c| c.block).max().map_or(0, |m| m + 1);
    for block in 0..blocks {
        let start = width.mul_f64(block as f64);
        let mut total: Option<Histogram<u64>> = None;
        for c in b.cells.iter().filter(|c| c.block == block) {
            let h = hist::decode(&c.data).map_err(|e| format!("block {block}: {e}"))?;
            let tag = tags.get(c.endpoint).and_then(|t| Tag::new(t));
            w.write_histogram(&h, start, width, tag)
                .map_err(|e| format!("block {block}: {e}"))?;
            match &mut total {
                Some(t) => t.add(&h).map_err(|e| format!("block {block}: {e:?}"))?,
                None => total = Some(h),
            }
        }
        if let Some(t) = total {
            w.write_histogram(&t, start, width, None)
                .map_err(|e| format!("block {block}: {e}"))?;
        }
    }
    Ok(out)
}

/// An endpoint name as an interval-log tag: no spaces, commas or line
/// breaks.
pub fn tag_of(name: &str) -> String {
    name.chars()
        .map(|c| {
            if matches!(c, ' ' | ',' | '\r' | '\n') {
                '_'
            } else {
                c
            }
        })
        .collect()
}
