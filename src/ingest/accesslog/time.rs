//! Timestamps as access logs write them: `[06/Dec/2026:23:24:14 +0000]`
//! (`$time_local`, Apache `%t`), ISO 8601 with or without a fraction
//! (`$time_iso8601`, JSON loggers), and epoch numbers (`$msec`, Caddy's
//! `ts`, in seconds, milliseconds, microseconds or nanoseconds).

/// A parsed timestamp: Unix nanoseconds, and whether the log wrote only
/// whole seconds (arrivals are then spread within the second).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub ns: i64,
    pub whole_second: bool,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A decimal number of up to 18 digits.
pub fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 18 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0i64, |a, d| a * 10 + i64::from(d - b'0')))
}

fn month(b: &[u8]) -> Option<i64> {
    const M: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    M.iter()
        .position(|m| m.eq_ignore_ascii_case(b))
        .map(|i| i as i64 + 1)
}

/// `+0100`, `-07:00`, `Z`: seconds east of UTC.
fn zone(b: &[u8]) -> Option<i64> {
    if b == b"Z" || b == b"z" || b.is_empty() {
        return Some(0);
    }
    let sign = match b[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = match &b[1..] {
        [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => ([*h1, *h2], [*m1, *m2]),
        _ => return None,
    };
    Some(sign * (digits(&h)? * 3600 + digits(&m)? * 60))
}

fn civil(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64, east: i64) -> Option<i64> {
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some((days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - east) * 1_000_000_000)
}

/// `06/Dec/2026:23:24:14 +0000` (brackets already removed).
pub fn clf(b: &[u8]) -> Option<Stamp> {
    if b.len() < 26 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[20] != b' ' {
        return None;
    }
    let ns = civil(
        digits(&b[7..11])?,
        month(&b[3..6])?,
        digits(&b[0..2])?,
        digits(&b[12..14])?,
        digits(&b[15..17])?,
        digits(&b[18..20])?,
        zone(&b[21..])?,
    )?;
    Some(Stamp {
        ns,
        whole_second: true,
    })
}

/// `2026-12-06T23:24:14+00:00`, `2026-12-06T23:24:14.123456Z`,
/// `2026-12-06 23:24:14`.
pub fn iso(b: &[u8]) -> Option<Stamp> {
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') {
        return None;
    }
    let mut ns = civil(
        digits(&b[0..4])?,
        digits(&b[5..7])?,
        digits(&b[8..10])?,
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
        0,
    )?;
    let mut rest = &b[19..];
    let mut whole_second = true;
    if let Some(f) = rest.strip_prefix(b".") {
        let n = f.iter().take_while(|c| c.is_ascii_digit()).count();
        let frac = &f[..n.min(9)];
        ns += digits(frac)? * 10i64.pow(9 - frac.len() as u32);
        rest = &f[n..];
        whole_second = false;
    }
    ns -= zone(rest)? * 1_000_000_000;
    Some(Stamp { ns, whole_second })
}

/// An epoch number: `1765063454.123` or an integer in s, ms, µs or ns
/// (told apart by size: any date from 1973 to 2286 is unambiguous).
pub fn epoch(b: &[u8]) -> Option<Stamp> {
    let (int, frac) = match memchr::memchr(b'.', b) {
        Some(i) => (&b[..i], Some(&b[i + 1..])),
        None => (b, None),
    };
    let whole = digits(int)?;
    if let Some(f) = frac {
        let f = &f[..f.len().min(9)];
        let sub = if f.is_empty() {
            0
        } else {
            digits(f)? * 10i64.pow(9 - f.len() as u32)
        };
        if whole >= 100_000_000_000 {
            return None;
        }
        return Some(Stamp {
            ns: whole * 1_000_000_000 + sub,
            whole_second: false,
        });
    }
    let (ns, whole_second) = match whole {
        w if w < 100_000_000_000 => (w * 1_000_000_000, true),
        w if w < 100_000_000_000_000 => (w * 1_000_000, false),
        w if w < 100_000_000_000_000_000 => (w * 1_000, false),
        w => (w, false),
    };
    Some(Stamp { ns, whole_second })
}

/// One of the stamp parsers above.
pub type Parser = fn(&[u8]) -> Option<Stamp>;

/// The last timestamp text parsed and what it gave: neighbouring lines of
/// a log share their second (or their whole stamp), so most lines compare
/// a few bytes instead of parsing a date.
#[derive(Debug, Default)]
pub struct Cache {
    text: Vec<u8>,
    parser: Option<Parser>,
    stamp: Option<Stamp>,
}

impl Cache {
    /// `parse(b)`, from the cache when `b` and `parse` are the last ones
    /// (a function compared unequal to itself only parses again).
    pub fn parse(&mut self, b: &[u8], parse: Parser) -> Option<Stamp> {
        if self.parser.is_some_and(|p| std::ptr::fn_addr_eq(p, parse)) && self.text == b {
            return self.stamp;
        }
        self.text.clear();
        self.text.extend_from_slice(b);
        self.parser = Some(parse);
        self.stamp = parse(b);
        self.stamp
    }
}

/// Any of the above.
pub fn any(b: &[u8]) -> Option<Stamp> {
    let b = b.strip_prefix(b"[").unwrap_or(b);
    let b = b.strip_suffix(b"]").unwrap_or(b);
    iso(b).or_else(|| clf(b)).or_else(|| epoch(b))
}

/// A duration in seconds: `0.123` (nginx `$request_time`), or with a unit
/// (`12ms`, `1.5s`, `250µs`, `3us`, `40ns`).
pub fn seconds(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let v: f64 = s[..split].parse().ok()?;
    let unit = match &s[split..] {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        "ns" => 1e-9,
        _ => return None,
    };
    let v = v * unit;
    (0.0..86_400.0 * 365.0).contains(&v).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_formats_logs_write() {
        // 2026-12-06T23:24:14Z = 1796599454.
        let t = 1_796_599_454 * 1_000_000_000;
        assert_eq!(clf(b"06/Dec/2026:23:24:14 +0000").unwrap().ns, t);
        assert_eq!(clf(b"07/Dec/2026:00:24:14 +0100").unwrap().ns, t);
        assert_eq!(iso(b"2026-12-06T23:24:14+00:00").unwrap().ns, t);
        let f = iso(b"2026-12-06T23:24:14.25Z").unwrap();
        assert_eq!((f.ns, f.whole_second), (t + 250_000_000, false));
        assert_eq!(epoch(b"1796599454.123").unwrap().ns, t + 123_000_000);
        assert_eq!(epoch(b"1796599454123").unwrap().ns, t + 123_000_000);
        assert!(epoch(b"1796599454").unwrap().whole_second);
        assert_eq!(any(b"[06/Dec/2026:23:24:14 +0000]").unwrap().ns, t);
        assert!(any(b"yesterday").is_none());
        assert!(clf(b"06/Foo/2026:23:24:14 +0000").is_none());
        assert_eq!(seconds(b"0.250"), Some(0.25));
        assert_eq!(seconds(b"12ms"), Some(0.012));
        assert_eq!(seconds(b"-"), None);
        assert_eq!(clf(b"07/Dec/2026:01:54:14 +02:30").unwrap().ns, t);
        assert_eq!(iso(b"2026-12-06T18:24:14-05:00").unwrap().ns, t);
        assert!(zone(b"+1").is_none() && zone(b"+01:0x").is_none());
    }

    #[test]
    fn the_cache_gives_what_parsing_gives() {
        let mut c = Cache::default();
        let a = b"06/Dec/2026:23:24:14 +0000";
        let b = b"06/Dec/2026:23:24:15 +0000";
        for text in [&a[..], a, b, a, b"junk", b"junk"] {
            assert_eq!(c.parse(text, clf), clf(text));
        }
        // The same text under another parser is parsed again.
        assert_eq!(c.parse(b"1796599454", epoch), epoch(b"1796599454"));
        assert_eq!(c.parse(b"1796599454", clf), None);
    }
}
