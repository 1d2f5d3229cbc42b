//! HTTP/1 message framing, shared by the capture reader and the load client.
//!
//! Two parts of replay read HTTP/1 bytes: the pcap reader
//! (`ingest::pcap::http`, fed reassembled TCP segments of recorded traffic)
//! and the lean load client (`execute::h1`, fed by its socket). Both need
//! the same pieces, kept here once so that a fix reaches both:
//!
//! - [`is_tchar`] / [`is_token`]: the RFC 9110 token (methods, header names);
//! - [`parse_content_length`]: a `Content-Length` value;
//! - [`is_chunked`]: whether `Transfer-Encoding` ends in `chunked`;
//! - [`Fields`]: a message's framing fields gathered header by header, then
//!   the body's [`Framing`] (RFC 9112 section 6.3) and whether the
//!   connection persists (section 9.3);
//! - [`Chunked`]: a sans-IO chunked-body decoder, fed byte slices.
//!
//! Everything here is sans-IO and allocation-free (except the carried line
//! of [`Chunked::feed_carried`]), so the capture reader, which runs at
//! hundreds of MB/s, pays nothing for the sharing.
//!
//! # Two readings of the edge cases
//!
//! The two callers want different things from a broken or odd message. The
//! capture reader must never fail: recorded traffic is what it is, and a
//! message it cannot frame is ended and the reader resynchronises. The load
//! client must treat what RFC 9112 calls an error as one, as hyper does, so
//! that replay's error counts mean what hyper's would. Where the two
//! readings differ a [`Policy`] picks one; each caller keeps the behaviour
//! it had before this module existed:
//!
//! | case | [`Policy::Lenient`] (capture reader) | [`Policy::Strict`] (load client) |
//! |---|---|---|
//! | `Transfer-Encoding` whose last coding is not chunked | ignored: `Content-Length` or the close frames the body | the body runs until the close (RFC 9112 6.3 item 4) |
//! | several `Transfer-Encoding` fields | chunked if any of them ends in chunked | the last field decides |
//! | empty list elements (`chunked,`) | skipped: `chunked` is last | the empty element is last: not chunked |
//! | unparseable or differing `Content-Length` values | the first valid value counts (for a request, the first valid non-zero one) | an error, even on HEAD, 204 and 304 |
//! | chunk-size line | CRLF or a bare LF; blanks around; anything after `;`; at most 15 hex digits (`u64::from_str_radix`, so a leading `+` passes) | `httparse::parse_chunk_size`: CRLF; at most 16 hex digits; blanks only before `;`; an empty size reads as 0 |
//! | after chunk data | any line | exactly CRLF |
//! | trailer section | LF-ended lines, ended by a blank one | CRLF-ended lines, ended by an empty one |
//! | longest incomplete chunk-size or trailer line | 4 KiB | 8 KiB |
//! | broken chunk syntax | [`Progress::Broken`]: the reader ends the message there | [`Progress::Broken`]: a protocol error |
//!
//! What each caller does beyond this module: the capture reader frames 101
//! and a 2xx answer to CONNECT as body-less (the connection is opaque
//! after them) and ignores `Connection`; the load client refuses 101 (it
//! never asks to switch protocols) and skips other 1xx responses.

/// Which reading of an edge case a caller keeps (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Recorded traffic: frame what can be framed, never fail.
    Lenient,
    /// A client's own connection: RFC 9112 errors are errors.
    Strict,
}

impl Policy {
    /// Longest chunk-size or trailer line held while waiting for its end.
    const fn max_line(self) -> usize {
        match self {
            Policy::Lenient => 4 * 1024,
            Policy::Strict => 8 * 1024,
        }
    }
}

/// `tchar` of RFC 9110 section 5.6.2, one table lookup per byte.
const TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        i += 1;
    }
    t
};

/// An RFC 9110 `tchar`: ALPHA / DIGIT / one of `` !#$%&'*+-.^_`|~ ``.
pub fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// An RFC 9110 token (what a method or a header name must be): one or
/// more [`tchar`](is_tchar)s. Takes text or bytes.
pub fn is_token(s: impl AsRef<[u8]>) -> bool {
    let s = s.as_ref();
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// A `Content-Length` value: 1 to 19 digits, blanks around allowed. Signs,
/// lists (`5, 5`) and 20 digits or more are refused, the last because they
/// could overflow.
pub fn parse_content_length(value: &[u8]) -> Option<u64> {
    let v = value.trim_ascii();
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // At most 19 digits: below u64::MAX, no overflow.
    Some(v.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

/// Whether a `Transfer-Encoding` value's last coding is `chunked`
/// (`gzip, chunked`). `policy` decides what an empty last element
/// (`chunked,`) means: skipped (lenient) or the last coding (strict).
pub fn is_chunked(value: &[u8], policy: Policy) -> bool {
    let mut codings = value.split(|&b| b == b',').map(<[u8]>::trim_ascii);
    let last = match policy {
        Policy::Lenient => codings.rfind(|c| !c.is_empty()),
        Policy::Strict => codings.next_back(),
    };
    last.is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"))
}

/// How a message body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (HEAD, 204, 304; a request without length fields).
    None,
    /// `Content-Length` bytes.
    Length(u64),
    /// Chunked transfer coding: decode with [`Chunked`].
    Chunked,
    /// Until the server closes the connection (responses only).
    UntilClose,
}

/// The framing fields refuse the message (strict policy only): an
/// unparseable or ambiguous `Content-Length`, or a request whose
/// `Transfer-Encoding` does not end in chunked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalid;

/// A message's framing fields, gathered header by header.
///
/// The caller matches header names its own way (the capture reader has a
/// fast classifier for the names it keeps) and hands the values of
/// `Transfer-Encoding`, `Content-Length` and `Connection` here; then asks
/// for the body's [`Framing`] and, for a client, whether the connection
/// persists.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    policy: Policy,
    /// A `Transfer-Encoding` field was seen: whether it ends in chunked.
    /// Lenient: set only by a field that does (others are ignored).
    chunked: Option<bool>,
    /// The first valid `Content-Length`.
    length: Option<u64>,
    /// The first valid non-zero `Content-Length` (the lenient reading of a
    /// request).
    nonzero_length: Option<u64>,
    /// An unparseable `Content-Length`, or one differing from the first.
    bad_length: bool,
    /// `Connection: close` / `Connection: keep-alive`.
    close: bool,
    keep_alive: bool,
}

impl Fields {
    pub fn new(policy: Policy) -> Fields {
        Fields {
            policy,
            chunked: None,
            length: None,
            nonzero_length: None,
            bad_length: false,
            close: false,
            keep_alive: false,
        }
    }

    /// A `Transfer-Encoding` field's value.
    pub fn transfer_encoding(&mut self, value: &[u8]) {
        let chunked = is_chunked(value, self.policy);
        match self.policy {
            Policy::Lenient => {
                if chunked {
                    self.chunked = Some(true);
                }
            }
            Policy::Strict => self.chunked = Some(chunked),
        }
    }

    /// A `Content-Length` field's value.
    pub fn content_length(&mut self, value: &[u8]) {
        let Some(n) = parse_content_length(value) else {
            self.bad_length = true;
            return;
        };
        match self.length {
            None => self.length = Some(n),
            Some(first) => self.bad_length |= first != n,
        }
        if n > 0 && self.nonzero_length.is_none() {
            self.nonzero_length = Some(n);
        }
    }

    /// A `Connection` field's value (its `close` and `keep-alive` options).
    pub fn connection(&mut self, value: &[u8]) {
        for option in value.split(|&b| b == b',') {
            let option = option.trim_ascii();
            self.close |= option.eq_ignore_ascii_case(b"close");
            self.keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
        }
    }

    /// Whether the connection may carry another message after this one
    /// (RFC 9112 section 9.3): no `close` option, and HTTP/1.1 or an
    /// HTTP/1.0 `keep-alive`. A body delimited by the close ends it anyway.
    pub fn persistent(&self, http10: bool) -> bool {
        !self.close && (!http10 || self.keep_alive)
    }

    /// The body of a final (not 1xx) response with `status`; `head`: the
    /// request was HEAD. RFC 9112 section 6.3: HEAD, 204 and 304 have none;
    /// chunked wins over `Content-Length`; without either the body runs
    /// until the close. `Err` only under [`Policy::Strict`].
    pub fn response(&self, status: u16, head: bool) -> Result<Framing, Invalid> {
        if self.policy == Policy::Strict && self.bad_length {
            return Err(Invalid);
        }
        if head || status == 204 || status == 304 {
            return Ok(Framing::None);
        }
        Ok(match (self.chunked, self.length) {
            (Some(true), _) => Framing::Chunked,
            // Strict only: lenient never records a non-chunked coding.
            (Some(false), _) => Framing::UntilClose,
            (None, Some(n)) => Framing::Length(n),
            (None, None) => Framing::UntilClose,
        })
    }

    /// The body of a request: chunked, a `Content-Length`, or none (RFC
    /// 9112 section 6.3 items 4 to 6). The lenient reading takes the first
    /// valid non-zero `Content-Length`, so a `Content-Length: 0` before
    /// another one does not hide a body. `Err` only under
    /// [`Policy::Strict`], which also refuses a `Transfer-Encoding` that
    /// does not end in chunked (the server would answer 400).
    pub fn request(&self) -> Result<Framing, Invalid> {
        let length = match self.policy {
            Policy::Lenient => self.nonzero_length,
            Policy::Strict if self.bad_length || self.chunked == Some(false) => {
                return Err(Invalid)
            }
            Policy::Strict => self.length,
        };
        Ok(match (self.chunked, length) {
            (Some(true), _) => Framing::Chunked,
            (_, Some(n)) if n > 0 => Framing::Length(n),
            _ => Framing::None,
        })
    }
}

/// Where a [`Chunked`] decoder stands after a slice was fed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Everything up to `used` is consumed; the body goes on. Bytes from
    /// `used` on are the start of a line not yet ended: feed them again
    /// with what follows (or use [`Chunked::feed_carried`]).
    More,
    /// The body ended (after the trailer section) at `used`; what follows
    /// is the next message.
    Done,
    /// The chunk syntax is broken. `used` runs to the end of the broken
    /// line when the lenient reading found one, else to the end of the
    /// slice.
    Broken,
}

/// A sans-IO decoder of a chunked body (RFC 9112 section 7.1): feed it
/// byte slices as they come; chunk data goes to a callback, extensions and
/// trailers are skipped.
///
/// State is two words: a body costs no allocation (a caller that cannot
/// keep unconsumed bytes lends a line buffer to [`Chunked::feed_carried`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunked {
    policy: Policy,
    state: ChunkState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Inside chunk data, this many bytes left.
    Data(u64),
    /// At the start of a line.
    Line(Line),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// A chunk-size line.
    Size,
    /// The line ending chunk data.
    DataEnd,
    /// A trailer field, or the empty line ending the body.
    Trailer,
}

/// What one step of the decoder did.
enum Step {
    /// Used this many bytes; go on.
    Go(usize),
    /// Stop after this many bytes.
    Stop(usize, Progress),
    /// Broken, and the rest of the slice goes with it.
    Abandon,
}

impl Chunked {
    /// A decoder at the start of a chunked body.
    pub fn new(policy: Policy) -> Chunked {
        Chunked {
            policy,
            state: ChunkState::Line(Line::Size),
        }
    }

    /// Decodes what it can of `data`, handing chunk data to `content`.
    /// Returns the bytes used and where the body stands.
    pub fn feed(&mut self, data: &[u8], mut content: impl FnMut(&[u8])) -> (usize, Progress) {
        let mut used = 0;
        while used < data.len() {
            let rest = &data[used..];
            let step = match (self.state, self.policy) {
                (ChunkState::Data(left), _) => {
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(rest.len());
                    content(&rest[..n]);
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        ChunkState::Line(Line::DataEnd)
                    } else {
                        ChunkState::Data(left)
                    };
                    Step::Go(n)
                }
                (ChunkState::Line(at), Policy::Lenient) => self.lenient_line(at, rest),
                (ChunkState::Line(at), Policy::Strict) => self.strict_line(at, rest),
            };
            match step {
                Step::Go(n) => used += n,
                Step::Stop(n, progress) => return (used + n, progress),
                Step::Abandon => return (data.len(), Progress::Broken),
            }
        }
        (used, Progress::More)
    }

    /// [`feed`](Self::feed) for a caller that cannot present unconsumed
    /// bytes again (a capture hands over each segment once): an incomplete
    /// line is kept in `carry` (empty between bodies) and joined with the
    /// next slice. Returns the bytes of `data` used: all of it unless the
    /// body ended or broke inside it.
    pub fn feed_carried(
        &mut self,
        carry: &mut Vec<u8>,
        data: &[u8],
        mut content: impl FnMut(&[u8]),
    ) -> (usize, Progress) {
        let mut used = 0;
        // A carried line is finished first, joined one '\n' at a time
        // (every line ends in one), so the copy stays about a line long.
        while !carry.is_empty() {
            if used == data.len() {
                return (used, Progress::More);
            }
            let take = memchr::memchr(b'\n', &data[used..]).map_or(data.len() - used, |i| i + 1);
            carry.extend_from_slice(&data[used..used + take]);
            used += take;
            let (n, progress) = self.feed(carry, &mut content);
            if progress == Progress::More {
                carry.drain(..n);
                continue;
            }
            // What the decoder left in `carry` came from `data`.
            let unused = carry.len() - n;
            carry.clear();
            return (used.saturating_sub(unused), progress);
        }
        let (n, progress) = self.feed(&data[used..], &mut content);
        if progress == Progress::More {
            carry.extend_from_slice(&data[used + n..]);
            return (data.len(), progress);
        }
        (used + n, progress)
    }

    /// One line of the lenient reading at the start of `rest`.
    fn lenient_line(&mut self, at: Line, rest: &[u8]) -> Step {
        let Some(nl) = memchr::memchr(b'\n', rest) else {
            if rest.len() > self.policy.max_line() {
                return Step::Abandon;
            }
            return Step::Stop(0, Progress::More);
        };
        let used = nl + 1;
        let line = rest[..nl].trim_ascii();
        match at {
            Line::Size => {
                let hex = line
                    .split(|&b| b == b';')
                    .next()
                    .unwrap_or(b"")
                    .trim_ascii();
                let size = if hex.is_empty() || hex.len() > 15 {
                    None
                } else {
                    std::str::from_utf8(hex)
                        .ok()
                        .and_then(|s| u64::from_str_radix(s, 16).ok())
                };
                self.state = match size {
                    Some(0) => ChunkState::Line(Line::Trailer),
                    Some(n) => ChunkState::Data(n),
                    None => return Step::Stop(used, Progress::Broken),
                };
            }
            Line::DataEnd => self.state = ChunkState::Line(Line::Size),
            Line::Trailer if line.is_empty() => return Step::Stop(used, Progress::Done),
            Line::Trailer => {}
        }
        Step::Go(used)
    }

    /// One line (or what there is of it) of the strict reading at the
    /// start of `rest`.
    fn strict_line(&mut self, at: Line, rest: &[u8]) -> Step {
        let more = Step::Stop(0, Progress::More);
        let too_long = rest.len() > self.policy.max_line();
        match at {
            Line::Size => match httparse::parse_chunk_size(rest) {
                Ok(httparse::Status::Complete((n, size))) => {
                    self.state = if size == 0 {
                        ChunkState::Line(Line::Trailer)
                    } else {
                        ChunkState::Data(size)
                    };
                    Step::Go(n)
                }
                Ok(httparse::Status::Partial) if too_long => Step::Abandon,
                Ok(httparse::Status::Partial) => more,
                Err(_) => Step::Abandon,
            },
            Line::DataEnd => match rest {
                [b'\r', b'\n', ..] => {
                    self.state = ChunkState::Line(Line::Size);
                    Step::Go(2)
                }
                [_] => more,
                _ => Step::Abandon,
            },
            Line::Trailer => match memchr::memmem::find(rest, b"\r\n") {
                // The empty line ends the body.
                Some(0) => Step::Stop(2, Progress::Done),
                // A trailer field: skipped.
                Some(i) => Step::Go(i + 2),
                None if too_long => Step::Abandon,
                None => more,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        for b in 0..=255u8 {
            let old = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            assert_eq!(is_tchar(b), old, "{b:#x}");
        }
        assert!(is_token("GET") && is_token(b"X-Api-Key") && is_token("M-SEARCH"));
        assert!(!is_token("") && !is_token(b"a b") && !is_token("a:b") && !is_token("GET?"));
    }

    /// The cases of the capture reader's old `parse_len` and the load
    /// client's old `parse_length`, which this replaces.
    #[test]
    fn content_length_values() {
        assert_eq!(parse_content_length(b"0"), Some(0));
        assert_eq!(parse_content_length(b" 42 "), Some(42));
        assert_eq!(parse_content_length(b" 209 "), Some(209));
        assert_eq!(parse_content_length(b"0012"), Some(12));
        assert_eq!(
            parse_content_length(b"9999999999999999999"),
            Some(9_999_999_999_999_999_999)
        );
        for bad in [
            &b""[..],
            b"-1",
            b"1a",
            b"+1",
            b"99999999999999999999",
            b"18446744073709551615",
            b"1 2",
            b"  ",
        ] {
            assert_eq!(
                parse_content_length(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn chunked_is_the_last_coding() {
        use Policy::{Lenient, Strict};
        for (value, lenient, strict) in [
            (&b"chunked"[..], true, true),
            (b"gzip, chunked", true, true),
            (b"  CHUNKED ", true, true),
            (b",\tchunked,", true, false),
            (b"chunked,", true, false),
            (b"chunked, gzip", false, false),
            (b"gzip", false, false),
            (b"", false, false),
        ] {
            let v = String::from_utf8_lossy(value);
            assert_eq!(is_chunked(value, Lenient), lenient, "{v:?}");
            assert_eq!(is_chunked(value, Strict), strict, "{v:?}");
        }
    }

    fn fields(policy: Policy, headers: &[(&str, &str)]) -> Fields {
        let mut f = Fields::new(policy);
        for (name, value) in headers {
            match *name {
                "te" => f.transfer_encoding(value.as_bytes()),
                "cl" => f.content_length(value.as_bytes()),
                "conn" => f.connection(value.as_bytes()),
                _ => unreachable!(),
            }
        }
        f
    }

    #[test]
    fn response_framing_where_the_readings_agree() {
        for policy in [Policy::Lenient, Policy::Strict] {
            let at = |headers: &[(&str, &str)], status, head| {
                fields(policy, headers).response(status, head)
            };
            assert_eq!(at(&[("cl", "5")], 200, false), Ok(Framing::Length(5)));
            assert_eq!(at(&[("cl", "0")], 200, false), Ok(Framing::Length(0)));
            assert_eq!(at(&[], 200, false), Ok(Framing::UntilClose));
            let both = [("cl", "5"), ("te", "gzip, chunked")];
            assert_eq!(at(&both, 200, false), Ok(Framing::Chunked));
            for (status, head) in [(200, true), (204, false), (304, false)] {
                assert_eq!(at(&both, status, head), Ok(Framing::None));
                assert_eq!(at(&[], status, head), Ok(Framing::None));
            }
        }
    }

    #[test]
    fn response_framing_where_the_readings_differ() {
        let at = |policy, headers: &[(&str, &str)], status, head| {
            fields(policy, headers).response(status, head)
        };
        use Policy::{Lenient, Strict};
        // A last coding other than chunked.
        let gzip = [("te", "gzip"), ("cl", "5")];
        assert_eq!(at(Lenient, &gzip, 200, false), Ok(Framing::Length(5)));
        assert_eq!(at(Strict, &gzip, 200, false), Ok(Framing::UntilClose));
        // Several fields.
        let two = [("te", "chunked"), ("te", "gzip")];
        assert_eq!(at(Lenient, &two, 200, false), Ok(Framing::Chunked));
        assert_eq!(at(Strict, &two, 200, false), Ok(Framing::UntilClose));
        // Content-Length values: bad, differing, repeated.
        for cls in [&[("cl", "x"), ("cl", "3")][..], &[("cl", "3"), ("cl", "4")]] {
            assert_eq!(at(Lenient, cls, 200, false), Ok(Framing::Length(3)));
            assert_eq!(at(Strict, cls, 200, false), Err(Invalid));
            assert_eq!(at(Strict, cls, 204, false), Err(Invalid));
        }
        let same = [("cl", "3"), ("cl", "3")];
        assert_eq!(at(Strict, &same, 200, false), Ok(Framing::Length(3)));
        let zero_first = [("cl", "0"), ("cl", "5")];
        assert_eq!(at(Lenient, &zero_first, 200, false), Ok(Framing::Length(0)));
    }

    #[test]
    fn request_framing() {
        let at = |policy, headers: &[(&str, &str)]| fields(policy, headers).request();
        use Policy::{Lenient, Strict};
        for policy in [Lenient, Strict] {
            assert_eq!(at(policy, &[]), Ok(Framing::None));
            assert_eq!(at(policy, &[("cl", "0")]), Ok(Framing::None));
            assert_eq!(at(policy, &[("cl", "7")]), Ok(Framing::Length(7)));
            let both = [("cl", "7"), ("te", "chunked")];
            assert_eq!(at(policy, &both), Ok(Framing::Chunked));
        }
        // The first valid non-zero length, leniently.
        let zero_first = [("cl", "0"), ("cl", "5"), ("cl", "6")];
        assert_eq!(at(Lenient, &zero_first), Ok(Framing::Length(5)));
        assert_eq!(at(Strict, &zero_first), Err(Invalid));
        let gzip = [("te", "gzip"), ("cl", "5")];
        assert_eq!(at(Lenient, &gzip), Ok(Framing::Length(5)));
        assert_eq!(at(Strict, &gzip), Err(Invalid));
    }

    #[test]
    fn connection_persistence() {
        let at =
            |headers: &[(&str, &str)], http10| fields(Policy::Strict, headers).persistent(http10);
        assert!(at(&[], false));
        assert!(!at(&[], true));
        assert!(at(&[("conn", "Keep-Alive")], true));
        assert!(!at(&[("conn", "keep-alive, close")], false));
        assert!(!at(&[("conn", "upgrade"), ("conn", " CLOSE ")], false));
    }

    /// `body` fed whole: (content, bytes used, progress).
    fn decode(policy: Policy, body: &[u8]) -> (Vec<u8>, usize, Progress) {
        let mut content = Vec::new();
        let (used, progress) = Chunked::new(policy).feed(body, |c| content.extend_from_slice(c));
        (content, used, progress)
    }

    /// `feed` presenting the unconsumed rest again, as the load client
    /// does, with `data` split at `cut`.
    fn decode_split(policy: Policy, data: &[u8], cut: usize) -> (Vec<u8>, usize, Progress) {
        let mut content = Vec::new();
        let mut d = Chunked::new(policy);
        let (n, p) = d.feed(&data[..cut], |c| content.extend_from_slice(c));
        if p != Progress::More {
            return (content, n, p);
        }
        let (m, p) = d.feed(&data[n..], |c| content.extend_from_slice(c));
        (content, n + m, p)
    }

    /// `feed_carried` with `data` split at `cut`.
    fn decode_carried(policy: Policy, data: &[u8], cut: usize) -> (Vec<u8>, usize, Progress) {
        let mut content = Vec::new();
        let mut carry = Vec::new();
        let mut d = Chunked::new(policy);
        let (n, p) = d.feed_carried(&mut carry, &data[..cut], |c| content.extend_from_slice(c));
        if p != Progress::More {
            return (content, n, p);
        }
        assert_eq!(n, cut, "all of a slice is used while the body goes on");
        let (m, p) = d.feed_carried(&mut carry, &data[cut..], |c| content.extend_from_slice(c));
        (content, n + m, p)
    }

    #[test]
    fn chunked_bodies_decode_alike_in_any_two_pieces() {
        let bodies: &[&[u8]] = &[
            b"5;x=y\r\nhello\r\n1\r\n!\r\n0\r\nTrailer: t\r\n\r\nNEXT",
            b"A\r\n0123456789\r\n0\r\n\r\n",
            b"3 ; ext\r\nabc\r\n0\r\nA: 1\r\nB: 2\r\n\r\n",
        ];
        for policy in [Policy::Lenient, Policy::Strict] {
            for body in bodies {
                let whole = decode(policy, body);
                assert_eq!(whole.2, Progress::Done, "{policy:?}");
                let end = body.len() - if body.ends_with(b"NEXT") { 4 } else { 0 };
                assert_eq!(whole.1, end);
                for cut in 0..=body.len() {
                    assert_eq!(decode_split(policy, body, cut), whole, "{policy:?} {cut}");
                    assert_eq!(decode_carried(policy, body, cut), whole, "{policy:?} {cut}");
                }
            }
        }
        let (content, _, _) = decode(Policy::Strict, bodies[0]);
        assert_eq!(content, b"hello!");
    }

    #[test]
    fn chunked_syntax_the_readings_differ_on() {
        use Policy::{Lenient, Strict};
        let at = |policy, body: &[u8]| {
            let (_, used, progress) = decode(policy, body);
            (used, progress)
        };
        // Bare LFs, blanks and a '+' pass leniently only.
        let lf = b"5\nhello\n0\n\n";
        assert_eq!(at(Lenient, lf), (lf.len(), Progress::Done));
        assert_eq!(at(Strict, lf).1, Progress::Broken);
        let plus = b" +5 \r\nhello\r\n0\r\n\r\n";
        assert_eq!(at(Lenient, plus), (plus.len(), Progress::Done));
        assert_eq!(at(Strict, plus).1, Progress::Broken);
        // Anything after chunk data up to the line end, leniently.
        let junk = b"1\r\naxx\r\n0\r\n\r\n";
        assert_eq!(at(Lenient, junk), (junk.len(), Progress::Done));
        assert_eq!(at(Strict, junk).1, Progress::Broken);
        // Hex digits: 16 strictly, 15 leniently; an empty size.
        let sixteen = b"0000000000000001\r\na\r\n0\r\n\r\n";
        assert_eq!(at(Strict, sixteen), (sixteen.len(), Progress::Done));
        assert_eq!(at(Lenient, sixteen), (18, Progress::Broken));
        let empty = b"\r\n\r\n";
        assert_eq!(at(Strict, empty), (4, Progress::Done));
        assert_eq!(at(Lenient, empty), (2, Progress::Broken));
        // A broken size line: the lenient reading used it up.
        assert_eq!(at(Lenient, b"zz\r\nmore"), (4, Progress::Broken));
        assert_eq!(at(Strict, b"zz\r\nmore"), (8, Progress::Broken));
        // A blank-only trailer line ends the body leniently.
        let blank = b"0\r\n \r\n\r\n";
        assert_eq!(at(Lenient, blank), (6, Progress::Done));
        assert_eq!(at(Strict, blank), (blank.len(), Progress::Done));
    }

    #[test]
    fn incomplete_lines_are_held_up_to_a_limit() {
        for policy in [Policy::Lenient, Policy::Strict] {
            let max = policy.max_line();
            for (state, done) in [("size", &b""[..]), ("trailer", b"0\r\n")] {
                // `done` is used; then an incomplete line of `max` bytes.
                let mut body = done.to_vec();
                body.extend_from_slice(b"1;");
                body.resize(done.len() + max, b'a');
                let (_, used, p) = decode(policy, &body);
                assert_eq!(
                    (used, p),
                    (done.len(), Progress::More),
                    "{policy:?} {state}"
                );
                body.push(b'a');
                let (_, used, p) = decode(policy, &body);
                assert_eq!(
                    (used, p),
                    (body.len(), Progress::Broken),
                    "{policy:?} {state}"
                );
                // Carried: the same limit over two slices.
                let mut carry = Vec::new();
                let mut d = Chunked::new(policy);
                let half = body.len() / 2;
                let first = d.feed_carried(&mut carry, &body[..half], |_| {});
                assert_eq!(first, (half, Progress::More));
                assert_eq!(
                    d.feed_carried(&mut carry, &body[half..], |_| {}),
                    (body.len() - half, Progress::Broken),
                    "{policy:?} {state}"
                );
            }
        }
    }
}
