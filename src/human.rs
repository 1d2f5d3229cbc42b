//! The one formatter of numbers for people: durations, sizes, counts,
//! shares, sparklines. Every text a person reads (the report, progress,
//! `record`, `inspect`) formats through here, so a duration or a size
//! reads the same everywhere. Parsing what people type is [`crate::units`].

/// `1234567` → `1,234,567`.
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Seconds → `850µs`, `12.35ms`, `4.20s`, `6m12s`, `2h03m`: one style
/// for every duration shown to a person (the k6-like report, progress,
/// `record` and `inspect`).
pub fn seconds(s: f64) -> String {
    if !s.is_finite() {
        return "-".into();
    }
    if s < 0.001 {
        format!("{:.0}µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.2}ms", s * 1e3)
    } else if s < 60.0 {
        format!("{s:.2}s")
    } else if s < 3600.0 {
        let whole = s.round() as u64;
        format!("{}m{:02}s", whole / 60, whole % 60)
    } else {
        let minutes = (s / 60.0).round() as u64;
        format!("{}h{:02}m", minutes / 60, minutes % 60)
    }
}

/// Milliseconds → same style as [`seconds`].
pub fn millis(ms: f64) -> String {
    seconds(ms / 1e3)
}

/// Bytes in decimal units, as k6: `512 B`, `1.2 kB`, `3.4 MB`.
pub fn bytes(b: f64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if b < 1000.0 {
        return format!("{b:.0} B");
    }
    let mut v = b;
    let mut unit = "B";
    for u in UNITS {
        if v < 1000.0 {
            break;
        }
        v /= 1000.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// A rate per second: below 10/s with two decimals, else one.
pub fn rate(r: f64) -> String {
    if r < 10.0 {
        format!("{r:.2}")
    } else {
        format!("{r:.1}")
    }
}

/// A share in `[0, 1]` → `12.5%`.
pub fn percent(x: f64) -> String {
    if x >= 0.1 {
        format!("{:.1}%", x * 100.0)
    } else {
        format!("{:.2}%", x * 100.0)
    }
}

/// A compact bar of the values: `▁▂▅█▃`, at most `width` characters (values
/// are summed into buckets when there are more).
pub fn sparkline(values: &[u64], width: usize) -> String {
    if values.is_empty() || width == 0 {
        return String::new();
    }
    let per = values.len().div_ceil(width);
    let buckets: Vec<u64> = values.chunks(per).map(|c| c.iter().sum()).collect();
    let max = buckets.iter().copied().max().unwrap_or(0).max(1);
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    buckets
        .iter()
        .map(|v| {
            if *v == 0 {
                ' '
            } else {
                BARS[((*v as f64 / max as f64) * 7.0).round() as usize]
            }
        })
        .collect()
}

/// Cuts `s` to at most `n` characters, with an ellipsis.
pub fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(12), "12");
        assert_eq!(seconds(0.0005), "500µs");
        assert_eq!(seconds(0.0123), "12.30ms");
        assert_eq!(seconds(372.0), "6m12s");
        assert_eq!(seconds(7380.0), "2h03m");
        assert_eq!(millis(0.0426), "43µs");
        assert_eq!(millis(12.345), "12.35ms");
        assert_eq!(millis(1500.0), "1.50s");
        assert_eq!(millis(125_000.0), "2m05s");
        assert_eq!(bytes(999.0), "999 B");
        assert_eq!(bytes(1500.0), "1.5 kB");
        assert_eq!(bytes(1_234_567.0), "1.2 MB");
        assert_eq!(percent(0.125), "12.5%");
        assert_eq!(sparkline(&[0, 1, 8], 3), " ▂█");
        assert_eq!(cut("abcdef", 4), "abc…");
    }
}
