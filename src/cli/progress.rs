//! Live progress: on a terminal a bar (elapsed/total, intended vs
//! achieved rate, p95, errors, dropped); without one (CI logs) a plain
//! line on stderr every `--progress-interval`, so a long run is not
//! silent until its end. Nothing with `--quiet`. Callers never branch on
//! the output style.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::metrics::{Recorder, TrendMetric};

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

    pub fn update(&self, rec: &Recorder, elapsed: Duration, intended_rate: f64) {
        let totals = rec.totals();
        let p95 = rec.trend(TrendMetric::Duration).value_at_quantile(0.95) as f64 / 1000.0;
        let figures = figures(&totals, p95, elapsed, intended_rate);
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

/// The progress figures: the rate achieved so far (every request sent
/// since the step started, failed or not, over the time since: the
/// summary's "achieved", not the last second's, which a bursty recording
/// leaves at 0 between its bursts) beside the intended one, p95, failures
/// and drops.
fn figures(
    totals: &crate::metrics::EndpointCounters,
    p95_ms: f64,
    elapsed: Duration,
    intended_rate: f64,
) -> String {
    let secs = elapsed.as_secs_f64();
    let achieved = if secs > 0.0 {
        totals.requests as f64 / secs
    } else {
        0.0
    };
    format!(
        "{achieved:.1}/{intended_rate:.1} req/s  p95 {}  failed {}  dropped {}",
        crate::human::millis(p95_ms),
        totals.failed,
        totals.dropped_total()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_what_was_sent_so_far_failed_or_not() {
        let totals = crate::metrics::EndpointCounters {
            requests: 38,
            failed: 27,
            ..Default::default()
        };
        let line = figures(&totals, 11.13, Duration::from_secs(10), 3.2);
        assert!(line.starts_with("3.8/3.2 req/s"), "{line}");
        assert!(line.contains("failed 27"), "{line}");
        let line = figures(&totals, 0.0, Duration::ZERO, 3.2);
        assert!(line.starts_with("0.0/3.2 req/s"), "{line}");
    }
}
