//! Access logs in, [`Exchange`]s out: Common and Combined (nginx's
//! default, Apache's `combined`), JSON lines with the usual field names
//! (nginx `escape=json`, Caddy, Traefik, generic), Envoy's default format,
//! AWS ALB logs and custom nginx `log_format` layouts (`--log-format`).
//!
//! Layout: [`index`] finds line ends and delimiters in a read buffer in
//! one pass, [`layout`] matches text lines against a `log_format`, [`json`]
//! picks fields out of a JSON line, [`time`] parses timestamps; this file is
//! the line loop and turns fields into an exchange.
//!
//! Memory is bounded: one read buffer, lines longer than [`MAX_LINE`] are
//! skipped without being held. A line that cannot be modelled is counted by
//! reason and its first line numbers are kept as a warning.
//!
//! Timestamps. A log that writes whole seconds gets each line's arrival
//! placed at a deterministic pseudo-random point within its second: since
//! the model sorts arrivals, the requests of one second end up spread as
//! uniform order statistics, so gaps follow the per-second counts (exactly
//! the within-second law of a Poisson process) instead of bursting at whole
//! seconds. Fractional stamps are used as they are. nginx stamps a line when
//! the response completes; when the line carries the request time, the
//! arrival is the stamp minus it.

pub mod index;
pub mod json;
pub mod layout;
pub mod time;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use index::{BufIndex, Line};
use layout::{Layout, Shape, Var};
use time::Stamp;

use super::{Exchange, IngestError, IngestStats, Response};

/// Longest line read; longer ones are skipped ("line too long").
pub const MAX_LINE: usize = 64 << 10;
const BUFFER: usize = 256 << 10;
/// Line numbers kept per skip reason.
const FIRST_LINES: usize = 3;

/// Host given to requests whose log line names none.
pub const UNKNOWN_HOST: &str = "localhost";

/// Why a line was skipped.
pub mod reason {
    pub const TOO_LONG: &str = "log line too long";
    pub const BINARY: &str = "log line not text";
    pub const UNRECOGNISED: &str = "log line not in a known layout";
    pub const NO_REQUEST: &str = "log line without a request";
    pub const BAD_REQUEST: &str = "log line with an invalid request line";
    pub const BAD_TIME: &str = "log line without a readable time";
    pub const BAD_STATUS: &str = "log line with an invalid status";
}

/// The fields of one line that replay uses.
#[derive(Debug, Default)]
pub struct Fields<'a> {
    pub client: Option<Cow<'a, str>>,
    pub stamp: Option<Stamp>,
    /// The stamp is when the request arrived (Traefik `StartUTC`, ALB
    /// `request_creation_time`), not when the line was written.
    pub stamp_is_start: bool,
    pub request: Option<Cow<'a, str>>,
    pub method: Option<Cow<'a, str>>,
    pub target: Option<Cow<'a, str>>,
    pub args: Option<Cow<'a, str>>,
    pub status: Option<Cow<'a, str>>,
    pub bytes: Option<u64>,
    pub request_time_s: Option<f64>,
    pub referer: Option<Cow<'a, str>>,
    pub user_agent: Option<Cow<'a, str>>,
    pub host: Option<Cow<'a, str>>,
    pub scheme: Option<Cow<'a, str>>,
}

/// What a field's absence makes replay invent, as `inspect` lists it.
#[derive(Debug, Default)]
struct Synthesised {
    host: bool,
    subsecond: bool,
    latency: bool,
    size: bool,
}

/// The line loop's state for one file.
struct Reader<'s> {
    path: &'s Path,
    custom: Option<&'s Layout>,
    built_in: Vec<Layout>,
    /// The built-in layout that fitted last, tried first.
    last: std::cell::Cell<usize>,
    /// Field ranges of the current line (kept for its allocation).
    split: Vec<(Var, usize, usize)>,
    stamps: time::Cache,
    stats: IngestStats,
    first_lines: BTreeMap<&'static str, Vec<u64>>,
    first_line: Option<String>,
    synth: Synthesised,
    x: Exchange,
}

/// Reads an access log and hands each request to `sink`. `custom` is the
/// `--log-format` layout, tried before the built-in ones.
pub fn read_log(
    path: &Path,
    mut input: impl Read,
    custom: Option<&Layout>,
    sink: &mut dyn FnMut(&Exchange),
) -> Result<IngestStats, IngestError> {
    let io = |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let built_in = built_in();
    let delimiters = custom
        .into_iter()
        .chain(&built_in)
        .flat_map(Layout::delimiters);
    let mut index = BufIndex::new(delimiters);
    let mut r = Reader {
        path,
        custom,
        built_in,
        last: std::cell::Cell::new(0),
        split: Vec::with_capacity(16),
        stamps: time::Cache::default(),
        stats: IngestStats::default(),
        first_lines: BTreeMap::new(),
        first_line: None,
        synth: Synthesised::default(),
        x: Exchange {
            scheme: "http".into(),
            body_unknown: true,
            ..Default::default()
        },
    };
    let mut buf = vec![0u8; BUFFER];
    let (mut start, mut end, mut eof) = (0usize, 0usize, false);
    let mut line_no = 0u64;
    // Set while skipping the rest of a line longer than MAX_LINE.
    let mut discarding = false;
    // `index` covers `buf[..end]` (rebuilt after each read).
    index.build(&[]);
    loop {
        if let Some(i) = index.newline(start) {
            let line = &buf[start..i];
            let at = start;
            start = i + 1;
            if discarding {
                discarding = false;
                continue;
            }
            line_no += 1;
            if line.len() > MAX_LINE {
                r.skip(reason::TOO_LONG, line_no);
            } else {
                r.line(line, Some((&index, at)), line_no, sink);
            }
            continue;
        }
        if end - start > MAX_LINE {
            if !discarding {
                line_no += 1;
                r.skip(reason::TOO_LONG, line_no);
                discarding = true;
            }
            start = end;
        }
        if eof {
            if start < end && !discarding {
                line_no += 1;
                let line = buf[start..end].to_vec();
                r.line(&line, None, line_no, sink);
            }
            break;
        }
        buf.copy_within(start..end, 0);
        end -= start;
        start = 0;
        let n = loop {
            match input.read(&mut buf[end..]) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => break other.map_err(io)?,
            }
        };
        end += n;
        eof = n == 0;
        index.build(&buf[..end]);
    }
    r.finish()
}

impl Reader<'_> {
    fn skip(&mut self, why: &'static str, line_no: u64) {
        self.stats.seen += 1;
        self.stats.skip(why);
        let lines = self.first_lines.entry(why).or_default();
        if lines.len() < FIRST_LINES {
            lines.push(line_no);
        }
    }

    /// Reads one line; `at` is where it lies in an indexed buffer, if it
    /// does.
    fn line(
        &mut self,
        line: &[u8],
        at: Option<(&BufIndex, usize)>,
        line_no: u64,
        sink: &mut dyn FnMut(&Exchange),
    ) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let at = at.map(|(index, offset)| index.line(offset, line.len()));
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            return;
        }
        if self.first_line.is_none() {
            let shown = String::from_utf8_lossy(&line[..line.len().min(80)]).into_owned();
            self.first_line = Some(shown);
        }
        let text = if at.as_ref().is_some_and(Line::printable) {
            // SAFETY: every byte is below 0x80, and ASCII is UTF-8.
            Some(unsafe { std::str::from_utf8_unchecked(line) })
        } else {
            text_of(line)
        };
        let Some(text) = text else {
            return self.skip(reason::BINARY, line_no);
        };
        let mut split = std::mem::take(&mut self.split);
        // Filled in place: the fields are a few hundred bytes, and moving
        // them from call to call showed in profiles.
        let mut f = Fields::default();
        let result = match self.fields(text, at.as_ref(), &mut split, &mut f) {
            true => self.exchange(&f, line_no),
            false => Err(reason::UNRECOGNISED),
        };
        self.split = split;
        match result {
            Ok(()) => {
                self.stats.seen += 1;
                self.stats.kept += 1;
                sink(&self.x);
            }
            Err(why) => self.skip(why, line_no),
        }
    }

    /// The line's fields by the first layout it fits, into `f` (left
    /// as it is when none fits).
    fn fields<'l>(
        &mut self,
        text: &'l str,
        at: Option<&Line<'_>>,
        split: &mut Vec<(Var, usize, usize)>,
        f: &mut Fields<'l>,
    ) -> bool {
        if text.trim_start().starts_with('{') {
            return json::fields(text).map(|j| *f = j).is_some();
        }
        let b = text.as_bytes();
        // A custom layout first; a line it does not fit, or fits without a
        // time (a loose layout can swallow another), may be a built-in one.
        if let Some(l) = self.custom {
            if split_line(l, b, at, split) {
                let custom = from_split(text, split, &mut self.stamps);
                if custom.stamp.is_some() {
                    *f = custom;
                    return true;
                }
            }
        }
        let n = self.built_in.len();
        let last = self.last.get();
        for k in (0..n).map(|k| (last + k) % n) {
            let layout = &self.built_in[k];
            let fits = match (layout.shape, at) {
                (Shape::Combined | Shape::Common, Some(at)) => {
                    common_or_combined(text, at, layout.shape, &mut self.stamps, f)
                }
                _ => {
                    split_line(layout, b, at, split) && {
                        *f = from_split(text, split, &mut self.stamps);
                        true
                    }
                }
            };
            if fits {
                self.last.set(k);
                return true;
            }
        }
        false
    }

    /// Fills `self.x` from the fields.
    fn exchange(&mut self, f: &Fields<'_>, line_no: u64) -> Result<(), &'static str> {
        let x = &mut self.x;
        x.method.clear();
        x.target.clear();
        x.authority.clear();
        let (method, target) = match (&f.request, &f.method, &f.target) {
            (_, Some(m), Some(t)) => (m.as_ref(), t.as_ref()),
            (Some(r), _, _) => split_request(r)?,
            _ => return Err(reason::NO_REQUEST),
        };
        if !crate::http1::is_token(method) {
            return Err(reason::BAD_REQUEST);
        }
        let target = match target
            .strip_prefix("http://")
            .or_else(|| target.strip_prefix("https://"))
        {
            // Absolute form (a proxy's log): the authority is in it.
            Some(rest) => {
                let cut = rest.find('/').unwrap_or(rest.len());
                x.authority.push_str(&rest[..cut]);
                if cut == rest.len() {
                    "/"
                } else {
                    &rest[cut..]
                }
            }
            None if target.starts_with('/') => target,
            None => return Err(reason::BAD_REQUEST),
        };
        let status = match f.status.as_deref().map(str::parse::<u16>) {
            Some(Ok(s)) if (100..1000).contains(&s) => s,
            _ => return Err(reason::BAD_STATUS),
        };
        let stamp = f.stamp.ok_or(reason::BAD_TIME)?;
        if !super::PLAUSIBLE_NS.contains(&stamp.ns) {
            return Err(reason::BAD_TIME);
        }
        x.method.push_str(method);
        x.method.make_ascii_uppercase();
        x.target.push_str(target);
        if let Some(a) = f.args.as_deref().filter(|a| !a.is_empty() && *a != "-") {
            if memchr::memchr(b'?', target.as_bytes()).is_none() {
                x.target.push('?');
                x.target.push_str(a);
            }
        }
        if x.authority.is_empty() {
            match f.host.as_deref().filter(|h| !h.is_empty() && *h != "-") {
                Some(h) => x.authority.push_str(h),
                None => {
                    self.synth.host = true;
                    x.authority.push_str(UNKNOWN_HOST);
                }
            }
        }
        x.scheme.clear();
        x.scheme.push_str(match f.scheme.as_deref() {
            Some("https") => "https",
            _ => "http",
        });
        let mut ns = stamp.ns;
        if stamp.whole_second {
            self.synth.subsecond = true;
            let h = super::mix(stamp.ns as u64 ^ line_no.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            // Lemire's multiply-shift onto [0, 1 s): uniform as `%` is,
            // without a 64-bit division per line.
            ns += ((u128::from(h) * 1_000_000_000) >> 64) as i64;
        }
        if !f.stamp_is_start {
            if let Some(rt) = f.request_time_s {
                ns -= (rt * 1e9) as i64;
            }
        }
        x.started_ns = ns;
        // The exchange's strings are reused from line to line.
        let mut n = 0;
        for (name, v) in [("User-Agent", &f.user_agent), ("Referer", &f.referer)] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty() && *v != "-") {
                if n == x.headers.len() {
                    x.headers.push(Default::default());
                }
                let h = &mut x.headers[n];
                h.0.clear();
                h.1.clear();
                h.0.push_str(name);
                h.1.push_str(v);
                n += 1;
            }
        }
        x.headers.truncate(n);
        match (&mut x.client, f.client.as_deref()) {
            (Some(c), Some(new)) => {
                c.clear();
                c.push_str(new);
            }
            (c, new) => *c = new.map(str::to_string),
        }
        self.synth.latency |= f.request_time_s.is_none();
        self.synth.size |= f.bytes.is_none();
        let r = x.response.get_or_insert_with(Response::default);
        r.status = status;
        r.body_size = f.bytes;
        r.total_ms = f.request_time_s.map(|s| s * 1e3);
        Ok(())
    }

    fn finish(mut self) -> Result<IngestStats, IngestError> {
        if self.stats.kept == 0 {
            let first = self.first_line.take();
            return Err(match first {
                None => IngestError::Empty {
                    path: self.path.to_path_buf(),
                },
                Some(line) => IngestError::malformed(
                    self.path,
                    "line 1",
                    format!(
                        "no line is an access log line replay can read (the first reads {line:?}; {}); pass the server's log_format with --log-format '…'",
                        self.stats
                            .skipped
                            .iter()
                            .map(|(k, v)| format!("{v} {k}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
            });
        }
        for (why, lines) in &self.first_lines {
            let n = self.stats.skipped.get(*why).copied().unwrap_or(0);
            let at: Vec<String> = lines.iter().map(u64::to_string).collect();
            self.stats.warn(format!(
                "{}: {n} {why} skipped (first at line {})",
                self.path.display(),
                at.join(", ")
            ));
        }
        let s = &self.synth;
        let mut made = vec![
            "request bodies",
            "request headers other than User-Agent and Referer",
            "response content types",
        ];
        if s.host {
            made.push("host (localhost: the log names none)");
        }
        if s.subsecond {
            made.push("arrival times within each second (whole-second stamps)");
        }
        if s.latency {
            made.push("response times (not logged)");
        }
        if s.size {
            made.push("response sizes (not logged)");
        }
        self.stats.warn(format!(
            "{}: synthesised, not in the access log: {}",
            self.path.display(),
            made.join("; ")
        ));
        Ok(self.stats)
    }
}

fn built_in() -> Vec<Layout> {
    layout::BUILT_IN
        .iter()
        .map(|f| Layout::parse(f).expect("built-in layout"))
        .collect()
}

/// The line as text, or `None` when it holds a control character (other
/// than tab) or is not UTF-8.
fn text_of(line: &[u8]) -> Option<&str> {
    // Most lines are printable ASCII: one branch-free pass that vectorises
    // says so, and ASCII needs no UTF-8 validation.
    let printable = line.iter().fold(true, |ok, &b| {
        ok & ((b.wrapping_sub(0x20) < 0x60) | (b == b'\t'))
    });
    if printable {
        // SAFETY: every byte is below 0x80, and ASCII is UTF-8.
        return Some(unsafe { std::str::from_utf8_unchecked(line) });
    }
    if line.iter().any(|&b| b < 0x20 && b != b'\t') {
        return None;
    }
    std::str::from_utf8(line).ok()
}

/// `layout.split`, through the buffer's index when the line has one.
fn split_line(
    layout: &Layout,
    line: &[u8],
    at: Option<&Line<'_>>,
    split: &mut Vec<(Var, usize, usize)>,
) -> bool {
    match at {
        Some(at) => layout.split_indexed(line, at, split),
        None => layout.split(line, split),
    }
}

/// `GET /path HTTP/1.1` → (method, target).
fn split_request(r: &str) -> Result<(&str, &str), &'static str> {
    if r.is_empty() || r == "-" {
        return Err(reason::NO_REQUEST);
    }
    // Short strings: `find_byte` beats memchr's setup on them.
    let b = r.as_bytes();
    let Some(i) = index::find_byte(b, b' ') else {
        return Err(reason::BAD_REQUEST);
    };
    let rest = r[i + 1..].trim_start_matches(' ');
    let end = index::find_byte(rest.as_bytes(), b' ').unwrap_or(rest.len());
    match (&r[..i], &rest[..end]) {
        (m, t) if !m.is_empty() && !t.is_empty() => Ok((m, t)),
        _ => Err(reason::BAD_REQUEST),
    }
}

/// Fields of a text line matched by a layout.
fn from_split<'l>(
    line: &'l str,
    split: &[(Var, usize, usize)],
    stamps: &mut time::Cache,
) -> Fields<'l> {
    let mut f = Fields::default();
    // Ranges start and end at a layout's ASCII literals: char boundaries.
    let text = |v: &'l [u8]| {
        let start = v.as_ptr() as usize - line.as_ptr() as usize;
        line.get(start..start + v.len()).map(Cow::Borrowed)
    };
    for &(var, s, e) in split {
        let v = &line.as_bytes()[s..e];
        match var {
            Var::RemoteAddr => f.client = f.client.take().or_else(|| text(v)),
            Var::ClientPort => {
                let ip = match v.iter().rposition(|b| *b == b':') {
                    Some(i) if !v.starts_with(b"[") || v[..i].ends_with(b"]") => &v[..i],
                    _ => v,
                };
                f.client = f.client.take().or_else(|| text(ip));
            }
            Var::StartTime => {
                if let Some(s) = stamps.parse(v, time::any) {
                    f.stamp = Some(s);
                    f.stamp_is_start = true;
                }
            }
            Var::DurationMs => f.request_time_s = time::seconds(v).map(|ms| ms / 1e3),
            Var::ForwardedFor => {
                // The first address a proxy added is the real client.
                let first = v.split(|b| *b == b',').next().unwrap_or(v).trim_ascii();
                if !first.is_empty() && first != b"-" {
                    f.client = text(first);
                }
            }
            Var::TimeLocal if !f.stamp_is_start => {
                f.stamp = f.stamp.or_else(|| stamps.parse(v, time::clf))
            }
            Var::TimeIso if !f.stamp_is_start => {
                f.stamp = f.stamp.or_else(|| stamps.parse(v, time::iso))
            }
            // $msec beats a whole-second stamp on the same line.
            Var::Msec if !f.stamp_is_start => f.stamp = time::epoch(v).or(f.stamp),
            Var::TimeLocal | Var::TimeIso | Var::Msec => {}
            Var::Request => f.request = text(v),
            Var::Method => f.method = text(v),
            Var::RequestUri => f.target = text(v),
            Var::Uri => f.target = f.target.take().or_else(|| text(v)),
            Var::Args => f.args = text(v),
            Var::Status => f.status = text(v),
            Var::Bytes => {
                f.bytes = Some(time::digits(v).map_or(0, |n| n as u64));
            }
            Var::RequestTime => f.request_time_s = time::seconds(v),
            Var::Referer => f.referer = text(v),
            Var::UserAgent => f.user_agent = text(v),
            Var::Host => f.host = text(v),
            Var::Scheme => f.scheme = text(v),
            Var::Other => {}
        }
    }
    f
}

/// What [`Layout::split`] and [`from_split`] give for the Combined or the
/// Common layout (`shape`), in one go: the same searches, with the
/// literals known in advance and no field list in between. False (and `f`
/// untouched) when the line does not fit.
fn common_or_combined<'l>(
    line: &'l str,
    at: &Line<'_>,
    shape: Shape,
    stamps: &mut time::Cache,
    f: &mut Fields<'l>,
) -> bool {
    split_common_or_combined(line, at, shape, stamps, f).is_some()
}

fn split_common_or_combined<'l>(
    line: &'l str,
    at: &Line<'_>,
    shape: Shape,
    stamps: &mut time::Cache,
    f: &mut Fields<'l>,
) -> Option<()> {
    let b = line.as_bytes();
    let next = |from, c| at.find(b, from, c);
    let find = |pos, lit: &[u8]| layout::find(b, pos, lit, &next);
    // $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
    let addr = find(0, b" - ")?;
    let user = addr + 3;
    let time = find(user, b" [")? + 2;
    let request = find(time, b"] \"")? + 3;
    let status = find(request, b"\" ")? + 2;
    let bytes = find(status, b" ")? + 1;
    // Combined goes on: "$http_referer" "$http_user_agent"
    let (bytes_end, referer, agent) = if shape == Shape::Combined {
        let referer = find(bytes, b" \"")? + 2;
        let agent = find(referer, b"\" \"")? + 3;
        let end = find(agent, b"\"")?;
        (referer - 2, Some((referer, agent - 3)), Some((agent, end)))
    } else {
        (b.len(), None, None)
    };
    let text = |(s, e): (usize, usize)| line.get(s..e).map(Cow::Borrowed);
    f.client = text((0, addr));
    f.stamp = stamps.parse(&b[time..request - 3], time::clf);
    f.request = text((request, status - 2));
    f.status = text((status, bytes - 1));
    f.bytes = Some(time::digits(&b[bytes..bytes_end]).map_or(0, |n| n as u64));
    f.referer = referer.and_then(text);
    f.user_agent = agent.and_then(text);
    Some(())
}

/// Whether the first lines of a file look like an access log replay reads
/// without `--log-format`: a Common/Combined line or a JSON object with a
/// request in it.
pub fn sniff(head: &[u8]) -> bool {
    let layouts = built_in();
    let mut split = Vec::new();
    // Whole lines only: the last piece of the head may be cut.
    let mut lines: Vec<&[u8]> = head.split(|b| *b == b'\n').collect();
    if lines.len() > 1 {
        lines.pop();
    }
    lines
        .into_iter()
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.trim_ascii().is_empty())
        .take(16)
        .any(|l| {
            if l.trim_ascii_start().starts_with(b"{") {
                return std::str::from_utf8(l)
                    .ok()
                    .and_then(json::fields)
                    .is_some_and(|f| {
                        // A date too: a bare HAR entry has a request, and a
                        // `time` that is a duration (a date in 1970).
                        const Y2000_NS: i64 = 946_684_800_000_000_000;
                        f.stamp.is_some_and(|t| t.ns >= Y2000_NS)
                            && (f.request.is_some() || f.target.is_some())
                    });
            }
            layouts.iter().any(|layout| {
                layout.split(l, &mut split)
                    && std::str::from_utf8(l).is_ok_and(|t| {
                        from_split(t, &split, &mut time::Cache::default())
                            .stamp
                            .is_some()
                    })
            })
        })
}

#[cfg(test)]
mod tests;
