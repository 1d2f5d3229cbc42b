//! Small SVG line charts for the HTML report, drawn here so the report is
//! one self-contained file: no chart library, no script, no font or image
//! from elsewhere. A chart is a set of named series of (x, y) points on
//! linear or log axes, with ticks, a legend and a title.

use std::fmt::Write as _;

/// One line of a chart.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// How an axis maps values.
#[derive(Clone, Copy, PartialEq)]
pub enum Scale {
    Linear,
    /// Base 10; values must be positive.
    Log,
}

pub struct Chart<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub x_scale: Scale,
    pub y_scale: Scale,
    /// Tick labels for the x axis at these values, instead of numbers
    /// (the percentile plot's "99%", "99.9%").
    pub x_ticks: Option<Vec<(f64, String)>>,
    pub series: Vec<Series>,
}

/// Colour-blind-safe palette (Okabe–Ito).
const COLOURS: [&str; 8] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442",
];

const W: f64 = 720.0;
const H: f64 = 260.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 160.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 40.0;

fn map(scale: Scale, v: f64) -> f64 {
    match scale {
        Scale::Linear => v,
        Scale::Log => v.max(1e-9).log10(),
    }
}

/// `[lo, hi]` of the mapped values of one axis, padded so a flat line sits
/// inside the plot.
fn range(values: impl Iterator<Item = f64>, scale: Scale, from_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = values
        .filter(|v| v.is_finite() && (scale == Scale::Linear || *v > 0.0))
        .map(|v| map(scale, v))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if from_zero && scale == Scale::Linear {
        lo = lo.min(0.0);
    }
    if hi - lo < 1e-9 {
        hi = lo + 1.0;
    }
    if scale == Scale::Linear {
        hi += (hi - lo) * 0.05;
    }
    (lo, hi)
}

/// Round tick steps: 1, 2 or 5 times a power of ten, about five ticks.
fn ticks(lo: f64, hi: f64, scale: Scale) -> Vec<f64> {
    if scale == Scale::Log {
        // `m` times each power of ten in [lo, hi] (log10 units).
        let marks = |ms: &[f64]| -> Vec<f64> {
            (lo.floor() as i32..=hi.ceil() as i32)
                .flat_map(|e| ms.iter().map(move |m| f64::from(e) + m.log10()))
                .filter(|t| *t >= lo - 1e-9 && *t <= hi + 1e-9)
                .collect()
        };
        let decades = marks(&[1.0]);
        if decades.len() >= 2 {
            return decades;
        }
        // Less than two decades: 1, 2 and 5 times a power of ten, when
        // three of them fit (0.3–4.5 ms gets 0.5, 1 and 2, where round
        // values would leave the part below 1 unlabelled).
        let mantissas = marks(&[1.0, 2.0, 5.0]);
        if mantissas.len() >= 3 {
            return mantissas;
        }
        // Less than that: round values in between, placed on the log axis.
        let (a, b) = (10f64.powf(lo), 10f64.powf(hi));
        return ticks(a, b, Scale::Linear)
            .into_iter()
            .filter(|v| *v > 0.0)
            .map(f64::log10)
            .collect();
    }
    let raw = (hi - lo) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() * step;
    (0..12)
        .map(|i| first + i as f64 * step)
        .filter(|v| *v <= hi + 1e-9)
        .collect()
}

pub fn number(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

impl Chart<'_> {
    /// The chart as an `<svg>` element.
    pub fn render(&self) -> String {
        let pts = || self.series.iter().flat_map(|s| s.points.iter());
        let (x0, x1) = range(pts().map(|p| p.0), self.x_scale, false);
        let (y0, y1) = range(pts().map(|p| p.1), self.y_scale, true);
        let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
        let sx = |v: f64| LEFT + (map(self.x_scale, v) - x0) / (x1 - x0) * pw;
        let sy = |v: f64| TOP + ph - (map(self.y_scale, v) - y0) / (y1 - y0) * ph;
        let mut s = String::new();
        let _ = write!(
            s,
            r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{}"><rect width="{W}" height="{H}" fill="#fff"/><text x="{LEFT}" y="18" font-size="13" font-weight="bold">{}</text>"##,
            super::html::esc(self.title),
            super::html::esc(self.title)
        );
        for t in ticks(y0, y1, self.y_scale) {
            let y = TOP + ph - (t - y0) / (y1 - y0) * ph;
            let label = match self.y_scale {
                Scale::Linear => number(t),
                Scale::Log => number(10f64.powf(t)),
            };
            let _ = write!(
                s,
                r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{}" y="{:.1}" font-size="10" text-anchor="end">{label}</text>"##,
                LEFT + pw,
                LEFT - 4.0,
                y + 3.0
            );
        }
        let x_ticks: Vec<(f64, String)> = match &self.x_ticks {
            Some(t) => t
                .iter()
                .map(|(v, l)| (map(self.x_scale, *v), l.clone()))
                .collect(),
            None => ticks(x0, x1, self.x_scale)
                .into_iter()
                .map(|t| {
                    (
                        t,
                        number(if self.x_scale == Scale::Log {
                            10f64.powf(t)
                        } else {
                            t
                        }),
                    )
                })
                .collect(),
        };
        for (t, label) in x_ticks
            .iter()
            .filter(|(t, _)| *t >= x0 - 1e-9 && *t <= x1 + 1e-9)
        {
            let x = LEFT + (t - x0) / (x1 - x0) * pw;
            let _ = write!(
                s,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{}" stroke="#f0f0f0"/><text x="{x:.1}" y="{}" font-size="10" text-anchor="middle">{}</text>"##,
                TOP + ph,
                TOP + ph + 14.0,
                super::html::esc(label)
            );
        }
        let _ = write!(
            s,
            r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#999"/><text x="{}" y="{}" font-size="11" text-anchor="middle">{}</text><text x="14" y="{}" font-size="11" text-anchor="middle" transform="rotate(-90 14 {})">{}</text>"##,
            LEFT + pw / 2.0,
            H - 6.0,
            super::html::esc(self.x_label),
            TOP + ph / 2.0,
            TOP + ph / 2.0,
            super::html::esc(self.y_label)
        );
        // A few series (p50, p95, p99) are drawn last first, each wider
        // than the one after it: where two coincide (a short run's p95 and
        // p99 are often the same sample) both stay visible, one edging
        // the other, instead of the later hiding the earlier.
        let nested = self.series.len() <= 4;
        let order: Vec<usize> = if nested {
            (0..self.series.len()).rev().collect()
        } else {
            (0..self.series.len()).collect()
        };
        for i in order {
            let series = &self.series[i];
            let colour = COLOURS[i % COLOURS.len()];
            let width = if nested { 1.6 + 1.2 * i as f64 } else { 1.8 };
            let path: Vec<String> = series
                .points
                .iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .filter(|(x, y)| {
                    (self.x_scale == Scale::Linear || *x > 0.0)
                        && (self.y_scale == Scale::Linear || *y > 0.0)
                })
                .map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y)))
                .collect();
            if !path.is_empty() {
                let _ = write!(
                    s,
                    r##"<polyline fill="none" stroke="{colour}" stroke-width="{width:.1}" points="{}"/>"##,
                    path.join(" ")
                );
            }
        }
        for (i, series) in self.series.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let ly = TOP + 12.0 + i as f64 * 16.0;
            let _ = write!(
                s,
                r##"<rect x="{}" y="{}" width="12" height="3" fill="{colour}"/><text x="{}" y="{}" font-size="11">{}</text>"##,
                LEFT + pw + 10.0,
                ly - 4.0,
                LEFT + pw + 26.0,
                ly,
                super::html::esc(&truncate(&series.name, 22))
            );
        }
        s.push_str("</svg>");
        s
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let head: String = s.chars().take(n - 1).collect();
        format!("{head}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// p50, p95 and p99 on the same points: all three polylines are
    /// there, p99 first and widest, so p50 and p95 are drawn over it.
    #[test]
    fn coinciding_percentiles_stay_visible() {
        let points = vec![(0.0, 5.0), (1.0, 7.0)];
        let series = ["p50", "p95", "p99"].map(|n| Series {
            name: n.into(),
            points: points.clone(),
        });
        let chart = Chart {
            title: "t",
            x_label: "s",
            y_label: "ms",
            x_scale: Scale::Linear,
            y_scale: Scale::Log,
            x_ticks: None,
            series: series.into_iter().collect(),
        };
        let svg = chart.render();
        let at = |colour: &str, width: &str| {
            svg.find(&format!(r#"stroke="{colour}" stroke-width="{width}""#))
                .unwrap_or_else(|| panic!("{colour} {width}: {svg}"))
        };
        let (p50, p95, p99) = (
            at(COLOURS[0], "1.6"),
            at(COLOURS[1], "2.8"),
            at(COLOURS[2], "4.0"),
        );
        assert!(p99 < p95 && p95 < p50);
    }

    #[test]
    fn ticks_are_round_and_inside() {
        assert_eq!(
            ticks(0.0, 10.0, Scale::Linear),
            [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
        );
        assert_eq!(ticks(-0.5, 2.2, Scale::Log), [0.0, 1.0, 2.0]);
        // Less than two decades: 1-2-5 when three fit, else round values.
        let shown = |lo: f64, hi: f64| -> Vec<String> {
            ticks(lo.log10(), hi.log10(), Scale::Log)
                .into_iter()
                .map(|t| number(10f64.powf(t)))
                .collect()
        };
        assert_eq!(shown(0.3, 4.5), ["0.500", "1.0", "2.0"]);
        assert_eq!(shown(42.0, 58.0), ["45.0", "50.0", "55.0"]);
        assert_eq!(shown(10.0, 45.0), ["10.0", "20.0", "30.0", "40.0"]);
        let chart = Chart {
            title: "t <x>",
            x_label: "s",
            y_label: "ms",
            x_scale: Scale::Linear,
            y_scale: Scale::Log,
            x_ticks: None,
            series: vec![Series {
                name: "p99".into(),
                points: vec![(0.0, 1.0), (1.0, 10.0), (2.0, 0.0)],
            }],
        };
        let svg = chart.render();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("t &lt;x&gt;") && svg.contains("<polyline"));
    }
}
