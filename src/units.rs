//! The one grammar for quantities a user types: durations, rates and
//! scales. The command line (`--duration 1h30m`, `--rate 600/m`,
//! `--scale 150%`) and threshold values (`p(95)<1.5s`) read time units
//! from the same table, so `h`, `µs` (micro sign) and `μs` (Greek mu) mean
//! the same everywhere. Formatting for people is [`crate::human`].

use std::time::Duration;

/// The longest duration accepted anywhere (about 115 days): beyond it a
/// value is a typo, and `Duration::from_secs_f64` would be near overflow.
const MAX_SECONDS: f64 = 1e7;

/// A time unit as a fraction of a millisecond, `(numerator, divisor)`:
/// dividing keeps `10us` exactly `0.01` ms, as a multiplication by `1e-3`
/// would not.
fn unit_ms(unit: &str) -> Option<(f64, f64)> {
    Some(match unit {
        "us" | "µs" | "μs" => (1.0, 1000.0),
        "ms" => (1.0, 1.0),
        "s" => (1000.0, 1.0),
        "m" => (60_000.0, 1.0),
        "h" => (3_600_000.0, 1.0),
        _ => return None,
    })
}

/// Seconds in one of a time unit: `us`/`µs`/`μs`, `ms`, `s`, `m`, `h`.
pub fn time_unit_seconds(unit: &str) -> Option<f64> {
    unit_ms(unit).map(|(n, d)| n / d / 1000.0)
}

/// The units [`time_unit_seconds`] knows, for messages.
pub const TIME_UNITS: &str = "us, ms, s, m or h";

fn is_unit_char(c: char) -> bool {
    c.is_alphabetic()
}

/// Parses `30s`, `5m`, `1h30m`, `500ms`, `250µs`, or a bare number of
/// seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let not_a_duration = || format!("'{s}' is not a duration; write 30s, 5m, 1h30m or 500ms");
    if let Ok(v) = t.parse::<f64>() {
        return seconds_in_range(v, s);
    }
    let mut total = 0.0;
    let mut rest = t;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let unit_end = rest[num_end..]
            .find(|c: char| !is_unit_char(c))
            .map_or(rest.len(), |i| num_end + i);
        let (num, unit) = (&rest[..num_end], &rest[num_end..unit_end]);
        let v: f64 = num.parse().map_err(|_| not_a_duration())?;
        if unit.is_empty() {
            return Err(not_a_duration());
        }
        let per = time_unit_seconds(unit)
            .ok_or_else(|| format!("'{s}': unknown unit '{unit}'; use {TIME_UNITS}"))?;
        total += v * per;
        rest = &rest[unit_end..];
    }
    if t.is_empty() {
        return Err(not_a_duration());
    }
    seconds_in_range(total, s)
}

fn seconds_in_range(v: f64, s: &str) -> Result<Duration, String> {
    if v.is_finite() && (0.0..=MAX_SECONDS).contains(&v) {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(format!(
            "'{s}' is out of range (0 to {MAX_SECONDS:.0} seconds)"
        ))
    }
}

/// Parses a time value whose bare number is in `bare_unit` (thresholds
/// take bare milliseconds, as k6): `"1.5"` + `"s"` → 1500 ms. Returns
/// milliseconds; `None` for an unknown unit.
pub fn to_millis(value: f64, unit: &str, bare_unit: &str) -> Option<f64> {
    let unit = if unit.is_empty() { bare_unit } else { unit };
    unit_ms(unit).map(|(n, d)| value * n / d)
}

/// The spelled-out units a rate may also take (`100/min`, vegeta's
/// `100/1s`), as the time unit they mean.
fn rate_unit(unit: &str) -> &str {
    match unit {
        "1s" | "sec" | "second" => "s",
        "1m" | "min" | "minute" => "m",
        "1h" | "hr" | "hour" => "h",
        other => other,
    }
}

/// Parses `100/s`, `100`, `6000/m` (or `/min`), `1/h` into requests per
/// second.
pub fn parse_rate(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, per) = match t.split_once('/') {
        Some((n, unit)) => match time_unit_seconds(rate_unit(unit.trim())) {
            Some(per) => (n, per),
            None => {
                return Err(format!(
                    "'{s}': write the rate as 100/s, 6000/min, 7200/h or 100"
                ))
            }
        },
        None => (t, 1.0),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a rate; write it as 100/s"))?;
    let r = v / per;
    if r.is_finite() && r > 0.0 && r <= 1e7 {
        Ok(r)
    } else {
        Err(format!(
            "'{s}' is out of range; a rate is above 0 and at most 10000000/s"
        ))
    }
}

/// Parses `2x`, `0.5x`, `150%` or a bare number into a multiplier.
pub fn parse_scale(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, div) = if let Some(n) = t.strip_suffix('%') {
        (n, 100.0)
    } else if let Some(n) = t.strip_suffix(['x', 'X', '×']) {
        (n, 1.0)
    } else {
        (t, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a scale; write 2x, 0.5x or 150%"))?;
    let v = v / div;
    if !(v.is_finite() && v > 0.0 && v <= 1e6) {
        return Err(format!(
            "'{s}' is out of range; the scale must be above 0 (e.g. 0.5x) and at most 1000000x"
        ));
    }
    Ok(v)
}

/// A wall-clock time: RFC 3339 (`2026-12-07T10:00:00Z`, offsets and
/// fractions allowed) or Unix seconds (`1796637600`, `1796637600.5`).
pub fn parse_wall_time(s: &str) -> Result<std::time::SystemTime, String> {
    let t = s.trim();
    let bad = || {
        format!(
            "{s:?} is not a time: give RFC 3339 (2026-12-07T10:00:00Z) or Unix seconds (1796637600)"
        )
    };
    if let Ok(secs) = t.parse::<f64>() {
        if !(0.0..1e11).contains(&secs) {
            return Err(bad());
        }
        return Ok(std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(secs));
    }
    let dt = chrono::DateTime::parse_from_rfc3339(t).map_err(|_| bad())?;
    let nanos = dt.timestamp_nanos_opt().ok_or_else(bad)?;
    let nanos = u64::try_from(nanos).map_err(|_| bad())?;
    Ok(std::time::UNIX_EPOCH + std::time::Duration::from_nanos(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        for micro in ["250us", "250µs", "250μs"] {
            assert_eq!(
                parse_duration(micro),
                Ok(Duration::from_micros(250)),
                "{micro}"
            );
        }
        for bad in ["5 parsecs", "m", "", "5s3", "1d", "-1s", "1e9"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rates_and_scales() {
        assert_eq!(parse_rate("100/s"), Ok(100.0));
        assert_eq!(parse_rate("600/m"), Ok(10.0));
        assert_eq!(parse_rate("7200/h"), Ok(2.0));
        assert_eq!(parse_rate("600/min"), Ok(10.0));
        assert_eq!(parse_rate("100/1s"), Ok(100.0));
        assert_eq!(parse_rate("3600/hour"), Ok(1.0));
        assert_eq!(parse_rate("50"), Ok(50.0));
        assert!(parse_rate("0/s").is_err());
        assert!(parse_rate("10/d").is_err());
        assert_eq!(parse_scale("2x"), Ok(2.0));
        assert_eq!(parse_scale("0.5x"), Ok(0.5));
        assert_eq!(parse_scale("150%"), Ok(1.5));
        assert_eq!(parse_scale("3"), Ok(3.0));
        assert!(parse_scale("0x").is_err());
        assert!(parse_scale("-1x").is_err());
        assert!(parse_scale("fast").is_err());
    }

    #[test]
    fn threshold_values_share_the_time_units() {
        assert_eq!(to_millis(1.5, "s", "ms"), Some(1500.0));
        assert_eq!(to_millis(300.0, "", "ms"), Some(300.0));
        assert_eq!(to_millis(1.0, "h", "ms"), Some(3_600_000.0));
        assert_eq!(to_millis(500.0, "μs", "ms"), Some(0.5));
        assert_eq!(to_millis(10.0, "us", "ms"), Some(0.01));
        assert_eq!(to_millis(1.0, "d", "ms"), None);
    }

    #[test]
    fn wall_times_in_rfc3339_or_unix_seconds() {
        let t = parse_wall_time("2026-12-07T10:00:00Z").unwrap();
        let u = parse_wall_time("1796637600").unwrap();
        assert_eq!(t, u);
        assert_eq!(
            parse_wall_time("2026-12-07T11:00:00.5+01:00").unwrap(),
            u + std::time::Duration::from_millis(500)
        );
        assert_eq!(
            parse_wall_time("1796637600.25").unwrap(),
            u + std::time::Duration::from_millis(250)
        );
        for bad in ["tomorrow", "-5", "2026-13-01T00:00:00Z", "inf", ""] {
            assert!(
                parse_wall_time(bad).unwrap_err().contains("RFC 3339"),
                "{bad}"
            );
        }
    }
}
