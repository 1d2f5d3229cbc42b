//! `--out json=FILE.ndjson`: one JSON object per line per interval.
//!
//! Each line is an [`IntervalStats`] with, in every `endpoints[]` entry, the
//! endpoint's `name` (`METHOD /template`, with the host where two
//! endpoints would read the same: [`EndpointDesc::names`]) beside its
//! index. The line schema is in docs/summary-format.md. The file is
//! written to a temporary file and renamed into place by
//! [`IntervalWriter::finish`], so a reader never sees a half-written file.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::metrics::{EndpointDesc, IntervalStats};

use super::file::AtomicFile;

/// Writes interval lines to any writer.
pub struct IntervalWriter<W: Write> {
    out: W,
    names: Vec<String>,
    /// The first write that failed (a full disk mid-run): later lines are
    /// not written, and [`finish`](IntervalWriter::finish) reports it.
    failed: Option<io::Error>,
}

/// One NDJSON line for `stats`.
pub fn line(stats: &IntervalStats, names: &[String]) -> String {
    let mut v = serde_json::to_value(stats).expect("interval stats always serialize");
    if let Some(eps) = v.get_mut("endpoints").and_then(|e| e.as_array_mut()) {
        for e in eps {
            let name = e
                .get("endpoint")
                .and_then(|i| i.as_u64())
                .and_then(|i| names.get(i as usize))
                .cloned();
            if let (Some(obj), Some(name)) = (e.as_object_mut(), name) {
                obj.insert("name".into(), name.into());
            }
        }
    }
    v.to_string()
}

impl<W: Write> IntervalWriter<W> {
    pub fn new(out: W, endpoints: &[EndpointDesc]) -> Self {
        IntervalWriter {
            out,
            names: EndpointDesc::names(endpoints),
            failed: None,
        }
    }

    /// Append one interval (one line, flushed). A failure is kept for the
    /// end of the run rather than stopping it.
    pub fn write(&mut self, stats: &IntervalStats) {
        if self.failed.is_some() {
            return;
        }
        let written =
            writeln!(self.out, "{}", line(stats, &self.names)).and_then(|()| self.out.flush());
        if let Err(e) = written {
            self.failed = Some(e);
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

impl IntervalWriter<BufWriter<AtomicFile>> {
    /// Start an NDJSON file at `path` (check it first with
    /// [`super::file::check_output_path`]).
    pub fn create(path: &Path, endpoints: &[EndpointDesc]) -> io::Result<Self> {
        Ok(IntervalWriter::new(
            BufWriter::new(AtomicFile::create(path)?),
            endpoints,
        ))
    }

    /// Flush, fsync and move the file into place. Call it at the end of the
    /// run (also after Ctrl-C). A write that failed during the run fails
    /// this (and the file is not moved into place: it would miss lines).
    pub fn finish(self) -> io::Result<()> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        self.out.into_inner().map_err(|e| e.into_error())?.commit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Recorder, Sample};
    use std::time::Duration;

    #[test]
    fn one_line_per_interval_with_endpoint_names() {
        let eps = vec![EndpointDesc {
            method: "GET".into(),
            host: "h".into(),
            template: "/a/{id}".into(),
            recorded_share: 1.0,
            recorded_status: Default::default(),
        }];
        let mut rec = Recorder::new();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("series.ndjson");
        let mut w = IntervalWriter::create(&path, &eps).unwrap();
        for sec in 1..=3u64 {
            for _ in 0..sec {
                rec.record(&Sample {
                    endpoint: 0,
                    status: Some(200),
                    error: None,
                    duration: Duration::from_millis(10),
                    service_time: Duration::from_millis(9),
                    waiting: Duration::from_millis(5),
                    connecting: None,
                    schedule_lag: Duration::ZERO,
                    tls_handshaking: None,
                    blocked: Duration::ZERO,
                    sending: Duration::ZERO,
                    receiving: Duration::ZERO,
                    bytes_sent: 1,
                    bytes_received: 2,
                    at: Duration::from_secs(sec),
                    warmup: false,
                });
            }
            w.write(&rec.take_interval(Duration::from_secs(sec)));
        }
        assert!(!path.exists(), "not visible before finish");
        w.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[2]["requests"], 3);
        assert_eq!(lines[2]["rate"], 3.0);
        assert_eq!(lines[2]["at_s"], 3.0);
        assert_eq!(lines[2]["endpoints"][0]["name"], "GET /a/{id}");
        assert_eq!(lines[2]["endpoints"][0]["count"], 3);
        assert!(lines[0]["p95_ms"].as_f64().unwrap() > 9.9);
    }

    /// A write that fails mid-run (a full disk) does not stop the run; the
    /// end of the run reports it.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_failed_write_is_reported_at_the_end() {
        use std::os::unix::fs::FileTypeExt;
        if !std::fs::metadata("/dev/full").is_ok_and(|m| m.file_type().is_char_device()) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("full.ndjson");
        std::os::unix::fs::symlink("/dev/full", &path).unwrap();
        let mut w = IntervalWriter::create(&path, &[]).unwrap();
        let mut rec = Recorder::new();
        for sec in 1..=3 {
            w.write(&rec.take_interval(Duration::from_secs(sec)));
        }
        let e = w.finish().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(28), "{e}");
    }
}
