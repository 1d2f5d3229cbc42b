//! Live progress on a TTY: elapsed/total, intended vs achieved rate, p95,
//! errors, dropped. A hidden bar when output is not a terminal or with
//! `--quiet`, so callers never branch on the output style.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::metrics::{IntervalStats, Recorder, TrendMetric};

#[derive(Clone)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub fn new(quiet: bool, label: &str, total_s: f64) -> Progress {
        let visible = !quiet && std::io::stderr().is_terminal();
        let bar = ProgressBar::with_draw_target(
            Some((total_s.max(0.0) * 10.0) as u64),
            if visible {
                ProgressDrawTarget::stderr_with_hz(4)
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:24}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(label.to_string());
        Progress { bar }
    }

    pub fn update(
        &self,
        stats: &IntervalStats,
        rec: &Recorder,
        elapsed: Duration,
        intended_rate: f64,
    ) {
        let totals = rec.totals();
        let p95 = rec.trend(TrendMetric::Duration).value_at_quantile(0.95) as f64 / 1000.0;
        self.bar.set_position((elapsed.as_secs_f64() * 10.0) as u64);
        self.bar.set_message(format!(
            "{:>5.0}s  {:.1}/{:.1} req/s  p95 {}  errors {}  dropped {}",
            elapsed.as_secs_f64(),
            stats.rate,
            intended_rate,
            crate::human::millis(p95),
            totals.failed,
            totals.dropped_total()
        ));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
