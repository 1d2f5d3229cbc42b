//! Live progress: on a terminal a bar (elapsed/total, intended vs
//! achieved rate, p95, errors, dropped); without one (CI logs) a plain
//! line on stderr every `--progress-interval`, so a long run is not
//! silent until its end. Nothing with `--quiet`. Callers never branch on
//! the output style.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::metrics::{IntervalStats, Recorder, TrendMetric};

pub struct Progress {
    bar: ProgressBar,
    /// Without a terminal: the plain lines.
    lines: Option<Lines>,
}

struct Lines {
    label: String,
    total_s: f64,
    every: Duration,
    /// When the next line is due (elapsed time of the step).
    next: Mutex<Duration>,
}

impl Progress {
    /// A bar on a terminal, lines every `every` without one, nothing when
    /// `quiet`.
    pub fn new(quiet: bool, label: &str, total_s: f64, every: Duration) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let visible = !quiet && terminal;
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
        let lines = (!quiet && !terminal).then(|| Lines {
            label: label.to_string(),
            total_s,
            every,
            next: Mutex::new(every),
        });
        Progress { bar, lines }
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
        let figures = format!(
            "{:.1}/{:.1} req/s  p95 {}  failed {}  dropped {}",
            stats.rate,
            intended_rate,
            crate::human::millis(p95),
            totals.failed,
            totals.dropped_total()
        );
        if let Some(l) = &self.lines {
            l.maybe_print(elapsed, &figures);
        }
        self.bar.set_position((elapsed.as_secs_f64() * 10.0) as u64);
        self.bar
            .set_message(format!("{:>5.0}s  {figures}", elapsed.as_secs_f64()));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Lines {
    fn maybe_print(&self, elapsed: Duration, figures: &str) {
        let Ok(mut next) = self.next.lock() else {
            return;
        };
        if elapsed < *next {
            return;
        }
        while *next <= elapsed {
            *next += self.every;
        }
        // Not eprintln!, which panics on a closed stderr.
        let _ = writeln!(
            std::io::stderr(),
            "replay: {} {:.0}s/{:.0}s  {figures}",
            self.label,
            elapsed.as_secs_f64(),
            self.total_s
        );
    }
}
