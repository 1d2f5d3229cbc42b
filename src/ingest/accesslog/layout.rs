//! Text log layouts in nginx's `log_format` syntax: literal text and
//! `$variables`. The built-in Common and Combined formats are layouts too
//! (Apache's `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"` writes
//! the same line as nginx's `combined`).
//!
//! A line is matched left to right: each literal must appear where the
//! layout puts it, and a variable's value runs to the next occurrence of the
//! literal after it (a `"` escaped as `\"`, Apache's habit, does not end a
//! quoted value; nginx writes `\x22`).

use memchr::memchr;

use super::index::{find_byte, Line};

/// nginx's `combined`.
pub const COMBINED: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#;
/// The Common Log Format (`combined` without referer and user agent).
pub const COMMON: &str =
    r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent"#;

/// Envoy's default access log format (`%START_TIME%` is the arrival,
/// `%DURATION%` in milliseconds).
pub const ENVOY: &str = r#"[$start_time] "$request" $status $response_flags $bytes_received $body_bytes_sent $duration_ms $upstream_service_time "$http_x_forwarded_for" "$http_user_agent" "$request_id" "$host" "$upstream_host""#;
/// AWS Application Load Balancer access logs: `time` is when the response
/// was sent, `request_creation_time` when the request arrived (used);
/// `client:port` names the client.
pub const ALB: &str = r#"$type $time_iso8601 $elb $client_port $target_port $request_processing_time $request_time $response_processing_time $status $target_status_code $bytes_received $body_bytes_sent "$request" "$http_user_agent" $ssl_cipher $ssl_protocol $target_group_arn "$trace_id" "$domain_name" "$chosen_cert_arn" $matched_rule_priority $start_time ""#;
/// The layouts tried without `--log-format`, most common first.
pub const BUILT_IN: [&str; 4] = [COMBINED, COMMON, ENVOY, ALB];

/// The variables replay uses; any other is matched and ignored. Beyond
/// nginx's names: `$start_time` (a stamp of the request's arrival, ISO
/// 8601 or epoch), `$duration_ms` (request time in milliseconds) and
/// `$client_port` (`address:port`, the port dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    RemoteAddr,
    ClientPort,
    ForwardedFor,
    StartTime,
    DurationMs,
    TimeLocal,
    TimeIso,
    Msec,
    Request,
    Method,
    RequestUri,
    Uri,
    Args,
    Status,
    Bytes,
    RequestTime,
    Referer,
    UserAgent,
    Host,
    Scheme,
    Other,
}

impl Var {
    fn of(name: &str) -> Var {
        match name {
            "remote_addr" | "binary_remote_addr" | "realip_remote_addr" => Var::RemoteAddr,
            "client_port" => Var::ClientPort,
            "start_time" => Var::StartTime,
            "duration_ms" => Var::DurationMs,
            "http_x_forwarded_for" | "proxy_add_x_forwarded_for" => Var::ForwardedFor,
            "time_local" => Var::TimeLocal,
            "time_iso8601" => Var::TimeIso,
            "msec" => Var::Msec,
            "request" => Var::Request,
            "request_method" => Var::Method,
            "request_uri" => Var::RequestUri,
            "uri" | "document_uri" => Var::Uri,
            "args" | "query_string" => Var::Args,
            "status" => Var::Status,
            "body_bytes_sent" | "bytes_sent" => Var::Bytes,
            "request_time" => Var::RequestTime,
            "http_referer" => Var::Referer,
            "http_user_agent" => Var::UserAgent,
            "host" | "http_host" | "server_name" => Var::Host,
            "scheme" => Var::Scheme,
            _ => Var::Other,
        }
    }
}

/// A compiled layout: `(literal before, variable)` pairs, then a trailing
/// literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    fields: Vec<(Vec<u8>, Var)>,
    tail: Vec<u8>,
    /// Which variables the layout has (to say what is synthesised).
    pub has: Vec<Var>,
    /// Whether it is one of the common layouts the reader splits with
    /// code of their own.
    pub shape: Shape,
}

/// The layouts read by a split written for them: the same split, with
/// their literals known in advance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Combined,
    Common,
    Other,
}

impl Layout {
    /// Compiles an nginx `log_format` string: `$name` or `${name}`;
    /// everything else is literal. Two variables with nothing between them
    /// cannot be told apart and are refused.
    pub fn parse(spec: &str) -> Result<Layout, String> {
        let b = spec.as_bytes();
        let mut fields = Vec::new();
        let mut lit = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'$' {
                lit.push(b[i]);
                i += 1;
                continue;
            }
            let (name, next) = if b.get(i + 1) == Some(&b'{') {
                let end = memchr(b'}', &b[i + 2..])
                    .ok_or_else(|| format!("unclosed ${{ at byte {i} of the log format"))?;
                (&spec[i + 2..i + 2 + end], i + 3 + end)
            } else {
                let len = b[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                    .count();
                (&spec[i + 1..i + 1 + len], i + 1 + len)
            };
            if name.is_empty() {
                return Err(format!(
                    "a '$' without a variable name at byte {i} of the log format"
                ));
            }
            if lit.is_empty() && !fields.is_empty() {
                return Err(format!(
                    "${name} follows another variable with nothing between them: the values cannot be told apart"
                ));
            }
            fields.push((std::mem::take(&mut lit), Var::of(name)));
            i = next;
        }
        if fields.is_empty() {
            return Err("the log format has no $variable".into());
        }
        let has = fields.iter().map(|f| f.1).collect();
        let shape = match spec {
            COMBINED => Shape::Combined,
            COMMON => Shape::Common,
            _ => Shape::Other,
        };
        Ok(Layout {
            fields,
            tail: lit,
            has,
            shape,
        })
    }

    /// Splits `line` into variable values (`(variable, start, end)` byte
    /// ranges), in layout order; false when the line does not have the
    /// layout's shape. Text after the trailing literal is allowed (a layout
    /// that logs fewer fields than the line).
    pub fn split(&self, line: &[u8], out: &mut Vec<(Var, usize, usize)>) -> bool {
        self.split_by(line, out, |from, c| {
            find_byte(&line[from..], c).map(|i| from + i)
        })
    }

    /// [`Layout::split`], with the delimiters looked up in `at`, the
    /// line's place in an indexed buffer.
    pub fn split_indexed(
        &self,
        line: &[u8],
        at: &Line<'_>,
        out: &mut Vec<(Var, usize, usize)>,
    ) -> bool {
        self.split_by(line, out, |from, c| at.find(line, from, c))
    }

    /// The bytes a split searches for: the first of each literal after a
    /// variable.
    pub fn delimiters(&self) -> impl Iterator<Item = u8> + '_ {
        self.fields[1..]
            .iter()
            .map(|(lit, _)| lit.as_slice())
            .chain([self.tail.as_slice()])
            .filter_map(|lit| lit.first().copied())
    }

    /// The split, with `next(from, c)` the first position at or after
    /// `from` where `line` holds `c`.
    #[inline(always)]
    fn split_by(
        &self,
        line: &[u8],
        out: &mut Vec<(Var, usize, usize)>,
        next: impl Fn(usize, u8) -> Option<usize>,
    ) -> bool {
        out.clear();
        let mut pos = 0;
        for (k, (lit, var)) in self.fields.iter().enumerate() {
            if !starts(&line[pos..], lit) {
                return false;
            }
            pos += lit.len();
            let lit = match self.fields.get(k + 1) {
                Some((l, _)) => l.as_slice(),
                None => self.tail.as_slice(),
            };
            let end = if lit.is_empty() {
                line.len()
            } else {
                match find(line, pos, lit, &next) {
                    Some(e) => e,
                    None => return false,
                }
            };
            out.push((*var, pos, end));
            pos = end;
        }
        starts(&line[pos..], &self.tail)
    }
}

/// `hay.starts_with(lit)` for the short literals of a layout, without a
/// call to `memcmp` (which cost more than the comparison).
#[inline]
fn starts(hay: &[u8], lit: &[u8]) -> bool {
    hay.len() >= lit.len() && hay.iter().zip(lit).all(|(a, b)| a == b)
}

/// The first occurrence of `lit` in `line` at or after `pos`, skipping a
/// `"` escaped by a backslash (within `line[pos..]`).
#[inline(always)]
pub(super) fn find(
    line: &[u8],
    pos: usize,
    lit: &[u8],
    next: &impl Fn(usize, u8) -> Option<usize>,
) -> Option<usize> {
    let first = lit[0];
    let mut from = pos;
    while let Some(at) = next(from, first) {
        let escaped = first == b'"' && at > pos && line[at - 1] == b'\\';
        if !escaped && starts(&line[at..], lit) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_combined_with_quotes_inside_values() {
        let l = Layout::parse(COMBINED).unwrap();
        let line = br#"10.0.0.1 - - [06/Dec/2026:23:24:14 +0000] "GET /a?b=1 HTTP/1.1" 200 612 "-" "curl \"x\" 8""#;
        let mut out = Vec::new();
        assert!(l.split(line, &mut out));
        let get = |v| {
            let (_, s, e) = out.iter().find(|(k, _, _)| *k == v).unwrap();
            &line[*s..*e]
        };
        assert_eq!(get(Var::Request), b"GET /a?b=1 HTTP/1.1");
        assert_eq!(get(Var::Status), b"200");
        assert_eq!(get(Var::UserAgent), br#"curl \"x\" 8"#);
        assert!(!l.split(b"garbage line", &mut out));
        // Extra fields after the layout's last one (nginx's `main`).
        let main = br#"10.0.0.1 - - [06/Dec/2026:23:24:14 +0000] "GET / HTTP/1.1" 200 1 "-" "ua" "1.2.3.4""#;
        assert!(l.split(main, &mut out));
    }

    #[test]
    fn parses_braces_and_refuses_adjacent_variables() {
        let l = Layout::parse("${msec} $request_time \"$request\"").unwrap();
        assert_eq!(l.has, vec![Var::Msec, Var::RequestTime, Var::Request]);
        assert!(Layout::parse("$msec$status").is_err());
        assert!(Layout::parse("no variables").is_err());
        assert!(Layout::parse("${msec").is_err());
    }
}
