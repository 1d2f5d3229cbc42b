//! HTTP/1.x over one reassembled TCP connection, both directions.
//!
//! The TCP layer hands in contiguous bytes per direction (with the capture
//! time of the packet that carried them), gaps (bytes the capture lost) and
//! FINs. This module frames messages (Content-Length, chunked with trailers,
//! close-delimited, HEAD/204/304/1xx without body), pairs responses with
//! requests in FIFO order (so pipelining works) and builds [`Exchange`]s.
//!
//! Request heads are parsed with a lenient request line (tshark also accepts
//! versions like `HTTP/1.0.8`) and `httparse::parse_headers`; responses with
//! `httparse::Response`. A connection is recognised as HTTP by content, on
//! any port; TLS, HTTP/2 prior knowledge and other protocols are detected
//! from the client's first bytes and counted, not parsed.
//!
//! Framing itself (token checks, `Content-Length`, `Transfer-Encoding`,
//! the chunked decoder) is [`crate::http1`]'s, in its lenient reading: a
//! message that cannot be framed ends and the reader resynchronises,
//! rather than failing the capture.
//!
//! Memory per connection is bounded: heads are capped at [`MAX_HEAD`],
//! kept bodies at [`BODY_CAP`], resync scanning at `MAX_SCAN`; body bytes
//! beyond the kept prefix are only counted.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::net::SocketAddr;

use super::Out;
use crate::http1::{self, Chunked, Fields, Policy, Progress};
use crate::ingest::{Body, BodyKind, Exchange, Response};

/// Largest request or response head we buffer before calling it damaged.
pub const MAX_HEAD: usize = 64 * 1024;
/// Request body text and response bodies are kept up to this size.
pub const BODY_CAP: usize = 64 * 1024;
/// Bytes scanned for a message start (after a gap or mid-stream pickup)
/// before a connection that never showed HTTP is called non-HTTP.
const MAX_SCAN: u64 = 256 * 1024;
/// Bytes of a partial line kept while scanning for a message start.
const SCAN_KEEP: usize = 8 * 1024;
/// Client bytes gathered to classify a connection seen from its start.
const PROBE: usize = 4096;
const MAX_HEADERS: usize = 96;
// Response headers are marked in a u128 bitmask (see response_head).
const _: () = assert!(MAX_HEADERS <= 128);

/// What a response header's name means here. Kept for the model: all but
/// the framing ones (Transfer-Encoding, Content-Length), Set-Cookie by
/// cookie name only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResponseName {
    TransferEncoding,
    ContentLength,
    /// Framing-relevant and kept.
    ContentType,
    /// Content-Encoding, Cache-Control, Location, token headers.
    Kept,
    /// Kept, by name only.
    SetCookie,
    Other,
}

impl ResponseName {
    /// By length first, then one case-insensitive comparison.
    fn of(name: &[u8]) -> ResponseName {
        match name.len() {
            17 if eq_lower(name, b"transfer-encoding") => ResponseName::TransferEncoding,
            14 if eq_lower(name, b"content-length") => ResponseName::ContentLength,
            12 if eq_lower(name, b"content-type") => ResponseName::ContentType,
            16 if eq_lower(name, b"content-encoding") => ResponseName::Kept,
            13 if eq_lower(name, b"cache-control") => ResponseName::Kept,
            8 if eq_lower(name, b"location") => ResponseName::Kept,
            10 if eq_lower(name, b"set-cookie") => ResponseName::SetCookie,
            // A login's token (`X-Subject-Token`), for the correlation.
            _ if crate::credential::token_header_bytes(name) => ResponseName::Kept,
            _ => ResponseName::Other,
        }
    }
}

/// `name.eq_ignore_ascii_case(lower)` for a lower-case ASCII `lower`,
/// eight bytes at a time.
fn eq_lower(name: &[u8], lower: &[u8]) -> bool {
    if name.len() != lower.len() {
        return false;
    }
    let (mut a, mut b) = (name.chunks_exact(8), lower.chunks_exact(8));
    for (x, y) in a.by_ref().zip(b.by_ref()) {
        if ascii_lower8(word(x)) != word(y) {
            return false;
        }
    }
    a.remainder().eq_ignore_ascii_case(b.remainder())
}

fn word(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(b);
    u64::from_le_bytes(w)
}

/// ASCII lower-casing of eight bytes at once; other bytes are unchanged.
fn ascii_lower8(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let low7 = x & (0x7f * ONES);
    // Top bit set in each byte that is at least 'A' / greater than 'Z'
    // (no carries: every sum stays below 0x100).
    let ge_a = low7 + (0x80 - u64::from(b'A')) * ONES;
    let gt_z = low7 + (0x7f - u64::from(b'Z')) * ONES;
    let upper = ge_a & !gt_z & !x & (0x80 * ONES);
    x | (upper >> 2)
}

/// What the connection turned out to carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// No client bytes classified yet.
    Unknown,
    Http,
    /// Not parsed any further (TLS, HTTP/2, other protocol, upgraded).
    Opaque,
}

/// Where a body being read stands.
#[derive(Debug)]
enum Framing {
    /// Bytes left (0: no body).
    Length(u64),
    /// An incomplete chunk-size or trailer line is carried in the side's
    /// `buf`.
    Chunked(Chunked),
    /// Until the connection closes (responses only).
    Close,
}

impl Framing {
    /// Starts reading a body framed as `f` says. (The lenient reading
    /// refuses nothing; were it to, the message would be read as
    /// body-less.)
    fn start(f: Result<http1::Framing, http1::Invalid>) -> Framing {
        match f.unwrap_or(http1::Framing::None) {
            http1::Framing::None => Framing::Length(0),
            http1::Framing::Length(n) => Framing::Length(n),
            http1::Framing::Chunked => Framing::Chunked(Chunked::new(Policy::Lenient)),
            http1::Framing::UntilClose => Framing::Close,
        }
    }
}

#[derive(Debug)]
enum State {
    /// Looking for the start of a message at a line start.
    Scan,
    Head,
    Body(Framing),
}

/// One direction's parser state.
#[derive(Debug)]
struct Side {
    state: State,
    /// Head bytes, partial chunk-size/trailer line, or scan carry-over.
    buf: Vec<u8>,
    /// Scanning: whether `buf[0]` is at a line start.
    line_start: bool,
    /// Capture time of the packet that carried the first byte in `buf`.
    first_ts: i64,
    /// Bytes scanned without finding a message (bounded by MAX_SCAN).
    scanned: u64,
    /// A gap hit this side since the last message start.
    lost_sync: bool,
}

impl Side {
    fn new() -> Self {
        Side {
            state: State::Scan,
            buf: Vec::new(),
            line_start: true,
            first_ts: 0,
            scanned: 0,
            lost_sync: false,
        }
    }
}

/// A request seen, waiting for (or receiving) its response.
///
/// Boxed and recycled through [`Spares`]: a finished one keeps its strings
/// and buffers for the next request, so a steady stream of exchanges does
/// not allocate.
#[derive(Debug, Default)]
struct Pending {
    ex: Exchange,
    req_last_ts: i64,
    req_done: bool,
    body: Vec<u8>,
    body_size: u64,
    body_mime: String,
    has_body: bool,
    // Response side.
    resp: Option<Response>,
    resp_first_ts: i64,
    resp_last_ts: i64,
    /// Response body bytes, while `resp_body_kept` (dropped when over
    /// [`BODY_CAP`] or damaged).
    resp_body: Vec<u8>,
    resp_body_kept: bool,
    resp_body_size: u64,
    /// Method is HEAD / CONNECT (framing of the response depends on it).
    head: bool,
    connect: bool,
    /// A previous exchange's response and body, kept for their buffers.
    spare_resp: Option<Response>,
    spare_body: Option<Body>,
}

/// Finished `Pending` records kept for reuse (shared by all connections).
/// Boxed like the connections' queues, so a record moves between them as a
/// pointer, not as a few hundred bytes.
#[derive(Debug, Default)]
#[allow(clippy::vec_box)]
pub struct Spares(Vec<Box<Pending>>);

/// Records kept in [`Spares`].
const SPARES: usize = 64;
/// Buffers larger than this are freed rather than kept in a spare.
const SPARE_BUF: usize = 16 * 1024;

impl Spares {
    fn take(&mut self) -> Box<Pending> {
        self.0.pop().unwrap_or_default()
    }

    /// Keeps `p` (emitted: its exchange was handed to the sink) for reuse.
    fn put(&mut self, mut p: Box<Pending>) {
        if self.0.len() >= SPARES {
            return;
        }
        if let Some(mut r) = p.ex.response.take() {
            if let Some(b) = r.body.take() {
                if p.resp_body.capacity() == 0 {
                    p.resp_body = b;
                }
            }
            p.spare_resp = Some(r);
        }
        if let Some(b) = p.ex.body.take() {
            p.spare_body = Some(b);
        }
        for buf in [&mut p.body, &mut p.resp_body] {
            if buf.capacity() > SPARE_BUF {
                *buf = Vec::new();
            }
        }
        self.0.push(p);
    }
}

/// HTTP state of one TCP connection.
#[derive(Debug)]
pub struct HttpConn {
    mode: Mode,
    /// Index (0 or 1) of the direction that carries requests, when known.
    client: Option<usize>,
    /// Addresses of the sender of direction 0 and direction 1.
    peers: [SocketAddr; 2],
    /// `peers` as text, filled on first use.
    names: [String; 2],
    sides: [Side; 2],
    pending: VecDeque<Box<Pending>>,
    /// The last pending request is still receiving its body.
    req_open: bool,
    /// Bytes seen while `Unknown`, to give up on non-HTTP.
    unknown_bytes: u64,
    /// 101/CONNECT: after the current response the connection is opaque.
    upgrade_after: bool,
}

impl HttpConn {
    pub fn new(peers: [SocketAddr; 2], client: Option<usize>) -> Self {
        HttpConn {
            mode: Mode::Unknown,
            client,
            peers,
            names: [String::new(), String::new()],
            sides: [Side::new(), Side::new()],
            pending: VecDeque::new(),
            req_open: false,
            unknown_bytes: 0,
            upgrade_after: false,
        }
    }

    /// Bytes this connection holds in buffers (for the memory cap).
    pub fn buffered(&self) -> usize {
        self.sides.iter().map(|s| s.buf.capacity()).sum::<usize>()
            + self
                .pending
                .iter()
                .map(|p| p.body.capacity() + p.resp_body.capacity())
                .sum::<usize>()
    }

    /// `ip:port` of the sender of direction `dir`, formatted once.
    fn peer_name(&mut self, dir: usize) -> &str {
        let i = dir & 1;
        if self.names[i].is_empty() {
            self.names[i] = self.peers[i].to_string();
        }
        &self.names[i]
    }

    pub fn peers(&self) -> [SocketAddr; 2] {
        self.peers
    }

    pub fn is_opaque(&self) -> bool {
        self.mode == Mode::Opaque
    }

    /// Contiguous bytes from direction `dir`, carried by a packet at `ts`.
    pub fn data(&mut self, dir: usize, ts: i64, data: &[u8], out: &mut Out<'_>) {
        if data.is_empty() || self.mode == Mode::Opaque {
            return;
        }
        if self.mode == Mode::Unknown && !self.classify(dir, ts, data, out) {
            return;
        }
        if self.client == Some(dir) {
            self.request_bytes(ts, data, out);
        } else {
            self.response_bytes(ts, data, out);
        }
    }

    /// Decides from the first bytes what the connection carries. Returns
    /// whether to go on parsing `data` as HTTP (false: consumed or ignored).
    fn classify(&mut self, dir: usize, ts: i64, data: &[u8], out: &mut Out<'_>) -> bool {
        let Some(client) = self.client else {
            return self.classify_midstream(dir, ts, data, out);
        };
        if client != dir {
            // Servers do not speak first in HTTP; a banner (SSH, SMTP...)
            // is ignored until the client shows what it speaks.
            return false;
        }
        // Gather the client's first line (it may span segments).
        let side = &mut self.sides[dir];
        if side.buf.is_empty() {
            side.first_ts = ts;
        }
        let room = PROBE.saturating_sub(side.buf.len());
        side.buf.extend_from_slice(&data[..data.len().min(room)]);
        let probe = &side.buf;
        if probe.len() >= 3 && probe[0] == 0x16 && probe[1] == 0x03 && probe[2] <= 0x04 {
            return self.opaque(out, "tls");
        }
        if probe.starts_with(b"PRI * HTTP/2.0") {
            return self.opaque(out, "http/2");
        }
        match starts_message(probe, true) {
            Some(true) => {
                self.mode = Mode::Http;
                let probe = std::mem::take(&mut self.sides[dir].buf);
                let first_ts = self.sides[dir].first_ts;
                self.request_bytes(first_ts, &probe, out);
                if let Some(p) = self
                    .pending
                    .back_mut()
                    .filter(|_| self.sides[dir].buf.is_empty())
                {
                    p.req_last_ts = p.req_last_ts.max(ts);
                }
                if data.len() > room {
                    self.request_bytes(ts, &data[room..], out);
                }
                false
            }
            None if probe.len() < PROBE => false,
            _ => self.opaque(out, "non-http tcp"),
        }
    }

    /// Mid-stream pickup with nothing recognised yet: look for a request
    /// line in either direction (which also tells the direction) or a
    /// status line at a segment start; give up after MAX_SCAN bytes.
    fn classify_midstream(&mut self, dir: usize, ts: i64, data: &[u8], out: &mut Out<'_>) -> bool {
        if data.starts_with(b"HTTP/1.") && starts_message(data, false) == Some(true) {
            self.client = Some(1 - dir);
            self.mode = Mode::Http;
            self.sides[1 - dir] = Side::new();
            return true;
        }
        let rest = scan(&mut self.sides[dir], ts, data, true);
        if matches!(self.sides[dir].state, State::Head) {
            self.client = Some(dir);
            self.mode = Mode::Http;
            self.sides[1 - dir] = Side::new();
            self.request_bytes(ts, rest, out);
            return false;
        }
        self.unknown_bytes = self.unknown_bytes.saturating_add(data.len() as u64);
        if self.unknown_bytes > MAX_SCAN {
            self.opaque(out, "non-http tcp");
        }
        false
    }

    fn opaque(&mut self, out: &mut Out<'_>, reason: &str) -> bool {
        self.mode = Mode::Opaque;
        out.stats.skip(reason);
        for s in &mut self.sides {
            s.buf = Vec::new();
        }
        false
    }

    /// `len` bytes of direction `dir` are missing from the capture.
    pub fn gap(&mut self, dir: usize, len: u64, out: &mut Out<'_>) {
        if len == 0 || self.mode == Mode::Opaque {
            return;
        }
        if self.mode == Mode::Unknown {
            // Lost bytes before the first request was recognised: drop the
            // probe and look for a request line as if picked up mid-stream.
            if self.client == Some(dir) && !self.sides[dir].buf.is_empty() {
                out.stats.skip("damaged exchange");
            }
            self.client = None;
            self.sides = [Side::new(), Side::new()];
            return;
        }
        let is_client = self.client == Some(dir);
        let side = &mut self.sides[dir];
        side.lost_sync = true;
        let mut damaged = 0u64;
        let mut ended = false;
        let resync = match &mut side.state {
            State::Scan => true,
            State::Head => {
                if is_client {
                    out.stats.skip("damaged exchange");
                } else if let Some(p) = self.pending.front_mut() {
                    p.ex.damaged = true;
                }
                true
            }
            State::Body(Framing::Length(rem)) => {
                let in_body = len.min(*rem);
                *rem -= in_body;
                damaged = in_body;
                ended = *rem == 0;
                len > in_body
            }
            State::Body(Framing::Close) => {
                damaged = len;
                false
            }
            State::Body(Framing::Chunked(_)) => {
                damaged = len;
                ended = true;
                true
            }
        };
        if damaged > 0 {
            self.mark_damaged(is_client, damaged);
        }
        if ended {
            self.end_message(dir, None, out);
        }
        if resync {
            let side = &mut self.sides[dir];
            side.state = State::Scan;
            side.buf.clear();
            // The bytes right after a gap often start a message (a whole
            // segment was lost); the scanner checks that spot too.
            side.line_start = true;
        }
    }

    fn mark_damaged(&mut self, is_client: bool, bytes: u64) {
        let p = if is_client {
            self.pending.back_mut()
        } else {
            self.pending.front_mut()
        };
        if let Some(p) = p {
            p.ex.damaged = true;
            if is_client {
                p.body_size = p.body_size.saturating_add(bytes);
                p.body.clear();
            } else {
                p.resp_body_size = p.resp_body_size.saturating_add(bytes);
                p.resp_body_kept = false;
                p.resp_body.clear();
            }
        }
    }

    /// Direction `dir` closed (FIN reached in sequence) at `ts`.
    pub fn fin(&mut self, dir: usize, _ts: i64, out: &mut Out<'_>) {
        if self.mode != Mode::Http || self.client == Some(dir) {
            return;
        }
        if let State::Body(Framing::Close) = self.sides[dir].state {
            self.end_message(dir, None, out);
        }
    }

    /// The connection is gone (closed, reset, evicted, end of capture):
    /// emits what is pending.
    pub fn finish(&mut self, out: &mut Out<'_>) {
        if let Some(server) = self.client.map(|c| 1 - c) {
            if let State::Body(Framing::Close) = self.sides[server].state {
                self.end_message(server, None, out);
            }
        }
        while let Some(mut p) = self.pending.pop_front() {
            if p.resp.is_some() {
                // A response whose body never completed.
                p.ex.damaged = true;
            }
            emit(p, out);
        }
        if self.mode == Mode::Unknown
            && (self.unknown_bytes > 0 || self.sides.iter().any(|s| !s.buf.is_empty()))
        {
            out.stats.skip("non-http tcp");
        }
    }

    // ---- requests -------------------------------------------------------

    fn request_bytes(&mut self, ts: i64, mut data: &[u8], out: &mut Out<'_>) {
        let dir = self.client.unwrap_or(0);
        while !data.is_empty() && self.mode == Mode::Http {
            let side = &mut self.sides[dir];
            match &mut side.state {
                State::Scan => {
                    data = scan(side, ts, data, true);
                }
                State::Head => {
                    if side.buf.is_empty() {
                        // Stray CRLFs between messages (RFC 9112 2.2).
                        let lead = data
                            .iter()
                            .take_while(|b| **b == b'\r' || **b == b'\n')
                            .count();
                        data = &data[lead..];
                        if data.is_empty() {
                            return;
                        }
                        side.first_ts = ts;
                    }
                    if side.buf.is_empty() {
                        // Whole head in this segment: parse it in place.
                        let first_ts = side.first_ts;
                        let limit = data.len().min(MAX_HEAD);
                        if let Some(end) = self.request_head(&data[..limit], first_ts, ts, out) {
                            data = &data[end..];
                            continue;
                        }
                    }
                    let side = &mut self.sides[dir];
                    let Some(used) = take_head(side, data) else {
                        if side.buf.len() > MAX_HEAD {
                            out.stats.skip("damaged exchange");
                            side.buf.clear();
                            side.state = State::Scan;
                            side.line_start = false;
                        }
                        return;
                    };
                    data = &data[used..];
                    let head = std::mem::take(&mut self.sides[dir].buf);
                    let first_ts = self.sides[dir].first_ts;
                    let done = self.request_head(&head, first_ts, ts, out);
                    debug_assert_eq!(done, Some(head.len()));
                    self.sides[dir].buf = head;
                    self.sides[dir].buf.clear();
                }
                State::Body(framing) => {
                    let pending = &mut self.pending;
                    let req_open = self.req_open;
                    let (used, done) = body_bytes(framing, &mut side.buf, data, &mut |piece| {
                        if let (true, Some(p)) = (req_open, pending.back_mut()) {
                            p.body_size = p.body_size.saturating_add(piece.len() as u64);
                            let room = BODY_CAP.saturating_sub(p.body.len());
                            p.body.extend_from_slice(&piece[..piece.len().min(room)]);
                            p.req_last_ts = ts;
                        }
                    });
                    data = &data[used..];
                    if done {
                        self.end_message(dir, Some(ts), out);
                    }
                }
            }
        }
    }

    /// Handles the request head that starts `data`, which may go on past
    /// the head. Returns the head's length, or `None` (and does nothing)
    /// when `data` does not hold a whole head.
    fn request_head(
        &mut self,
        data: &[u8],
        first_ts: i64,
        ts: i64,
        out: &mut Out<'_>,
    ) -> Option<usize> {
        let dir = self.client.unwrap_or(0);
        // httparse first: it also finds where a well-formed head ends (at
        // the blank line, as head_end would). Heads it refuses are framed by
        // head_end and read with the lenient request line (odd versions
        // such as `HTTP/1.0.8`).
        let mut uninit =
            [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let mut fallback: Vec<httparse::Header<'_>> = Vec::new();
        let mut req = httparse::Request::new(&mut []);
        let parsed = match req.parse_with_uninit_headers(data, &mut uninit) {
            Ok(httparse::Status::Complete(n)) => Some(n),
            _ => None,
        };
        // httparse hands out text; the lenient line's bytes are converted.
        type Parts<'a, 'h> = (
            usize,
            Cow<'a, str>,
            Cow<'a, str>,
            &'h [httparse::Header<'a>],
        );
        let (len, method, target, hs): Parts<'_, '_> = match (parsed, req.method, req.path) {
            (Some(n), Some(m), Some(p)) => (n, Cow::Borrowed(m), Cow::Borrowed(p), &*req.headers),
            _ => {
                let end = head_end(data)?;
                let head = &data[..end];
                let Some(line) = request_line(head) else {
                    out.stats.seen += 1;
                    out.stats.skip("damaged exchange");
                    self.sides[dir].state = State::Scan;
                    return Some(end);
                };
                fallback.resize(MAX_HEADERS, httparse::EMPTY_HEADER);
                let hs = match head
                    .get(line.len..)
                    .map(|h| httparse::parse_headers(h, &mut fallback))
                {
                    Some(Ok(httparse::Status::Complete((_, hs)))) => hs,
                    _ => &[][..],
                };
                (end, lossy(line.method), lossy(line.target), hs)
            }
        };
        out.stats.seen += 1;
        let mut p = out.spares.take();
        // Every field is set: the record may come from an earlier exchange.
        let Pending {
            ex,
            req_last_ts,
            req_done,
            body,
            body_size,
            body_mime,
            has_body,
            resp,
            resp_first_ts,
            resp_last_ts,
            resp_body,
            resp_body_kept,
            resp_body_size,
            head,
            connect,
            spare_resp,
            spare_body: _,
        } = &mut *p;
        if let Some(r) = resp.take() {
            *spare_resp = Some(r);
        }
        let Exchange {
            started_ns,
            method: ex_method,
            scheme,
            authority,
            target: ex_target,
            headers,
            body: ex_body,
            response,
            client,
            resource_type,
            damaged,
            body_unknown: _,
        } = ex;
        *started_ns = first_ts;
        ex_method.clear();
        ex_method.push_str(&method);
        scheme.clear();
        scheme.push_str("http");
        ex_target.clear();
        ex_target.push_str(&target);
        let c = client.get_or_insert_with(String::new);
        c.clear();
        c.push_str(self.peer_name(dir));
        authority.clear();
        body_mime.clear();
        *ex_body = None;
        *response = None;
        *resource_type = None;
        *damaged = false;
        let mut fields = Fields::new(Policy::Lenient);
        let mut n = 0;
        for h in hs.iter() {
            let value = reuse_slot(headers, &mut n, h.name);
            set_text(value, h.value.trim_ascii());
            if h.name.eq_ignore_ascii_case("host") && authority.is_empty() {
                authority.push_str(value);
            } else if h.name.eq_ignore_ascii_case("content-type") {
                body_mime.clear();
                body_mime.push_str(value);
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                fields.transfer_encoding(h.value);
            } else if h.name.eq_ignore_ascii_case("content-length") {
                fields.content_length(h.value);
            }
        }
        let framing = Framing::start(fields.request());
        headers.truncate(n);
        if authority.is_empty() {
            authority.push_str(self.peer_name(1 - dir));
        }
        let with_body = !matches!(framing, Framing::Length(0));
        *req_last_ts = ts;
        *req_done = !with_body;
        body.clear();
        *body_size = 0;
        *has_body = with_body;
        *resp_first_ts = 0;
        *resp_last_ts = 0;
        resp_body.clear();
        *resp_body_kept = false;
        *resp_body_size = 0;
        *head = method == "HEAD";
        *connect = method == "CONNECT";
        self.pending.push_back(p);
        self.req_open = with_body;
        self.sides[dir].state = if with_body {
            State::Body(framing)
        } else {
            State::Head
        };
        Some(len)
    }

    // ---- responses ------------------------------------------------------

    fn response_bytes(&mut self, ts: i64, mut data: &[u8], out: &mut Out<'_>) {
        let Some(dir) = self.client.map(|c| 1 - c) else {
            return;
        };
        while !data.is_empty() && self.mode == Mode::Http {
            let side = &mut self.sides[dir];
            match &mut side.state {
                State::Scan => {
                    data = scan(side, ts, data, false);
                }
                State::Head => {
                    if side.buf.is_empty() {
                        // Stray CRLFs between messages (RFC 9112 2.2).
                        let lead = data
                            .iter()
                            .take_while(|b| **b == b'\r' || **b == b'\n')
                            .count();
                        data = &data[lead..];
                        if data.is_empty() {
                            return;
                        }
                        side.first_ts = ts;
                    }
                    if side.buf.is_empty() {
                        // Whole head in this segment: parse it in place.
                        let first_ts = side.first_ts;
                        let limit = data.len().min(MAX_HEAD);
                        if let Some(end) = self.response_head(&data[..limit], first_ts, ts, out) {
                            data = &data[end..];
                            continue;
                        }
                    }
                    let side = &mut self.sides[dir];
                    let Some(used) = take_head(side, data) else {
                        if side.buf.len() > MAX_HEAD {
                            side.buf.clear();
                            side.state = State::Scan;
                            side.line_start = false;
                            if let Some(p) = self.pending.front_mut() {
                                p.ex.damaged = true;
                            }
                        }
                        return;
                    };
                    data = &data[used..];
                    let head = std::mem::take(&mut self.sides[dir].buf);
                    let first_ts = self.sides[dir].first_ts;
                    let done = self.response_head(&head, first_ts, ts, out);
                    debug_assert_eq!(done, Some(head.len()));
                    self.sides[dir].buf = head;
                    self.sides[dir].buf.clear();
                }
                State::Body(framing) => {
                    let pending = &mut self.pending;
                    let (used, done) = body_bytes(framing, &mut side.buf, data, &mut |piece| {
                        let Some(p) = pending.front_mut().filter(|p| p.resp.is_some()) else {
                            return;
                        };
                        if p.resp_body_kept {
                            if p.resp_body.len() + piece.len() > BODY_CAP {
                                p.resp_body_kept = false;
                                p.resp_body.clear();
                            } else {
                                p.resp_body.extend_from_slice(piece);
                            }
                        }
                        p.resp_body_size = p.resp_body_size.saturating_add(piece.len() as u64);
                        p.resp_last_ts = ts;
                    });
                    data = &data[used..];
                    if done {
                        self.end_message(dir, Some(ts), out);
                    }
                }
            }
            if self.upgrade_after && matches!(self.sides[dir].state, State::Head) {
                self.upgrade_after = false;
                self.opaque(out, "upgraded connection");
            }
        }
    }

    /// Handles the response head that starts `data`, which may go on past
    /// the head. Returns the head's length, or `None` (and does nothing)
    /// when `data` does not hold a whole head.
    fn response_head(
        &mut self,
        data: &[u8],
        first_ts: i64,
        ts: i64,
        out: &mut Out<'_>,
    ) -> Option<usize> {
        let dir = self.client.map_or(1, |c| 1 - c);
        // Uninitialised header slots: zeroing 96 of them per response
        // cost more than parsing a typical head.
        let mut uninit =
            [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let mut res = httparse::Response::new(&mut []);
        // httparse also finds where a well-formed head ends (at the blank
        // line, as head_end would); a head it refuses is framed by head_end.
        let parsed = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut res,
            data,
            &mut uninit,
        ) {
            Ok(httparse::Status::Complete(n)) => Some(n),
            _ => None,
        };
        let status = res.code.unwrap_or(0);
        let len = match parsed {
            Some(n) if status >= 100 => n,
            _ => {
                let end = head_end(data)?;
                if let Some(p) = self.pending.front_mut() {
                    p.ex.damaged = true;
                }
                self.sides[dir].state = State::Scan;
                return Some(end);
            }
        };
        if (100..200).contains(&status) && status != 101 {
            // 100 Continue and other interim responses: no body, the final
            // response follows.
            self.sides[dir].state = State::Head;
            return Some(len);
        }
        if std::mem::take(&mut self.sides[dir].lost_sync) {
            self.resync_pending(first_ts, out);
        }
        // One pass names each header once; the headers to keep for the
        // model are marked (at most MAX_HEADERS < 128) for the pass below.
        let mut fields = Fields::new(Policy::Lenient);
        let mut mime: Option<&[u8]> = None;
        let (mut kept, mut cookies) = (0u128, 0u128);
        for (i, h) in res.headers.iter().enumerate() {
            let name = ResponseName::of(h.name.as_bytes());
            match name {
                ResponseName::TransferEncoding => fields.transfer_encoding(h.value),
                ResponseName::ContentLength => fields.content_length(h.value),
                ResponseName::ContentType if mime.is_none() => mime = Some(h.value),
                _ => {}
            }
            if !matches!(
                name,
                ResponseName::TransferEncoding | ResponseName::ContentLength
            ) {
                kept |= 1 << i;
            }
            if name == ResponseName::SetCookie {
                cookies |= 1 << i;
            }
        }
        let Some(p) = self.pending.front_mut() else {
            // A response to a request we did not see (mid-stream pickup or
            // lost request): frame it to skip it, assuming a GET.
            out.stats.skip("response without request");
            let f = Framing::start(fields.response(status, false));
            self.start_body(dir, f, None, out);
            return Some(len);
        };
        // After 101 or a 2xx to CONNECT the connection carries another
        // protocol: no HTTP body, and opaque from then on.
        let upgrade = status == 101 || (p.connect && (200..300).contains(&status));
        if upgrade {
            self.upgrade_after = true;
        }
        let mut r = p
            .resp
            .take()
            .or_else(|| p.spare_resp.take())
            .unwrap_or_default();
        let Response {
            status: r_status,
            mime: r_mime,
            body_size,
            wait_ms,
            total_ms,
            headers,
            body,
            body_base64,
        } = &mut r;
        *body_base64 = false;
        *r_status = status;
        r_mime.clear();
        // The Content-Type as text once, for the mime and the kept header.
        // (Trimming blanks first leaves the first `;`-part, trimmed, as is.)
        let mime_text = mime.map(|v| lossy(v.trim_ascii()));
        if let Some(v) = &mime_text {
            let v = &v[..v.bytes().position(|b| b == b';').unwrap_or(v.len())];
            r_mime.push_str(v.trim());
            r_mime.make_ascii_lowercase();
        }
        (*body_size, *wait_ms, *total_ms, *body) = (None, None, None, None);
        let mut n = 0;
        for (i, h) in res.headers.iter().enumerate() {
            if kept >> i & 1 == 0 {
                continue;
            }
            let value = reuse_slot(headers, &mut n, h.name);
            value.clear();
            let v = match &mime_text {
                Some(t) if mime == Some(h.value) => Cow::Borrowed(&**t),
                _ => lossy(h.value.trim_ascii()),
            };
            if cookies >> i & 1 == 1 {
                // The cookie's name only: values are secrets.
                value.push_str(v.split('=').next().unwrap_or("").trim());
            } else {
                value.push_str(&v);
            }
        }
        headers.truncate(n);
        p.resp = Some(r);
        p.resp_first_ts = first_ts;
        p.resp_last_ts = ts;
        p.resp_body.clear();
        p.resp_body_kept = true;
        let f = if upgrade {
            Framing::Length(0)
        } else {
            Framing::start(fields.response(status, p.head))
        };
        self.start_body(dir, f, Some(ts), out);
        Some(len)
    }

    /// After a gap on the response side, responses may have been lost
    /// entirely: the response starting at `first_ts` pairs with the latest
    /// request that was complete before it began; the earlier ones lost
    /// their responses and are emitted as damaged.
    #[cold]
    fn resync_pending(&mut self, first_ts: i64, out: &mut Out<'_>) {
        while self.pending.len() > 1
            && self
                .pending
                .get(1)
                .is_some_and(|n| n.req_done && n.req_last_ts <= first_ts)
        {
            if let Some(mut p) = self.pending.pop_front() {
                p.ex.damaged = true;
                emit(p, out);
            }
        }
    }

    fn start_body(&mut self, dir: usize, f: Framing, ts: Option<i64>, out: &mut Out<'_>) {
        if let Framing::Length(0) = f {
            self.sides[dir].state = State::Body(Framing::Length(0));
            self.end_message(dir, ts, out);
        } else {
            self.sides[dir].state = State::Body(f);
        }
    }

    /// The message on `dir` ended (body complete, gap, close).
    fn end_message(&mut self, dir: usize, ts: Option<i64>, out: &mut Out<'_>) {
        let is_client = self.client == Some(dir);
        self.sides[dir].state = State::Head;
        self.sides[dir].buf.clear();
        if is_client {
            if self.req_open {
                self.req_open = false;
                if let Some(p) = self.pending.back_mut() {
                    p.req_done = true;
                    if let Some(ts) = ts {
                        p.req_last_ts = ts;
                    }
                }
            }
            return;
        }
        let responded = self.pending.front().is_some_and(|p| p.resp.is_some());
        if !responded {
            return;
        }
        // The request still receiving its body got an early response.
        if self.pending.len() == 1 && self.req_open {
            self.req_open = false;
        }
        if let Some(mut p) = self.pending.pop_front() {
            if let Some(ts) = ts {
                p.resp_last_ts = ts;
            }
            emit(p, out);
        }
    }
}

/// Finishes an exchange, hands it to the sink and keeps the record for
/// reuse.
fn emit(mut p: Box<Pending>, out: &mut Out<'_>) {
    if p.has_body {
        let mut b = p.spare_body.take().unwrap_or_default();
        let size = p.body_size;
        let text = match std::str::from_utf8(&p.body) {
            Ok(t) => Some(t),
            // Cut at the cap inside a multi-byte character: keep the prefix.
            Err(e) if e.error_len().is_none() && e.valid_up_to() > 0 => {
                std::str::from_utf8(&p.body[..e.valid_up_to()]).ok()
            }
            Err(_) => None,
        };
        b.text = text.map(|t| {
            let mut s = b.text.take().unwrap_or_default();
            s.clear();
            s.push_str(t);
            s
        });
        let mime = &p.body_mime;
        b.kind = if b.text.is_none() && size > 0 {
            BodyKind::Binary
        } else if contains_ignore_case(mime, "json") {
            BodyKind::Json
        } else if contains_ignore_case(mime, "x-www-form-urlencoded")
            || contains_ignore_case(mime, "multipart/form-data")
        {
            BodyKind::Form
        } else {
            BodyKind::Text
        };
        b.mime.clear();
        b.mime.push_str(mime);
        b.params.clear();
        b.size = size;
        p.ex.body = Some(b);
    }
    if let Some(mut r) = p.resp.take() {
        r.body_size = Some(p.resp_body_size);
        r.body =
            (p.resp_body_kept && !p.resp_body.is_empty()).then(|| std::mem::take(&mut p.resp_body));
        r.wait_ms = Some(ms(p.resp_first_ts.saturating_sub(p.req_last_ts)));
        r.total_ms = Some(ms(p.resp_last_ts.saturating_sub(p.ex.started_ns)));
        p.ex.response = Some(r);
    } else {
        out.no_response += 1;
    }
    if p.ex.damaged {
        out.damaged += 1;
    }
    out.stats.kept += 1;
    (out.sink)(&p.ex);
    out.spares.put(p);
}

/// `hay.to_ascii_lowercase().contains(needle)` for a lower-case ASCII
/// needle, without the copy.
fn contains_ignore_case(hay: &str, needle: &str) -> bool {
    hay.as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn ms(ns: i64) -> f64 {
    ns.max(0) as f64 / 1e6
}

/// Appends head bytes to `side.buf` until the blank line. Returns how many
/// bytes of `data` belong to the head once it is complete.
fn take_head(side: &mut Side, data: &[u8]) -> Option<usize> {
    let old = side.buf.len();
    // Search from just before the old end, so a CRLFCRLF split across
    // packets is found.
    let from = old.saturating_sub(3);
    let limit = data
        .len()
        .min(MAX_HEAD.saturating_sub(old).saturating_add(4));
    side.buf.extend_from_slice(&data[..limit]);
    let hay = &side.buf[from..];
    let end = head_end(hay).map(|e| e + from);
    match end {
        Some(end) => {
            side.buf.truncate(end);
            Some(end - old)
        }
        None => {
            if limit < data.len() {
                // Over the cap.
                side.buf.resize(MAX_HEAD + 1, 0);
            }
            None
        }
    }
}

/// Position just after the blank line ending a head (CRLFCRLF or LFLF).
fn head_end(hay: &[u8]) -> Option<usize> {
    for nl in memchr::memchr_iter(b'\n', hay) {
        match hay.get(nl + 1) {
            Some(b'\n') => return Some(nl + 2),
            Some(b'\r') if hay.get(nl + 2) == Some(&b'\n') => return Some(nl + 3),
            _ => {}
        }
    }
    None
}

/// Bytes as text, invalid UTF-8 replaced; `from_utf8_lossy` without its
/// chunk iterator when the bytes are valid (the usual case).
fn lossy(b: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

/// Replaces `s` by `b` as text, invalid UTF-8 replaced (the fast check
/// first), keeping the String's buffer.
fn set_text(s: &mut String, b: &[u8]) {
    s.clear();
    match std::str::from_utf8(b) {
        Ok(t) => s.push_str(t),
        Err(_) => s.push_str(&String::from_utf8_lossy(b)),
    }
}

/// Scans for a message start (request line, or status line when
/// `!request`). Returns the rest of `data` not yet consumed; on a match the
/// side is in `Head` with the matched bytes in `buf`.
fn scan<'d>(side: &mut Side, ts: i64, data: &'d [u8], request: bool) -> &'d [u8] {
    // Fast path: the side expects a message and data starts one.
    if side.buf.is_empty() && side.line_start && starts_message(data, request) == Some(true) {
        side.state = State::Head;
        side.first_ts = ts;
        side.scanned = 0;
        return data;
    }
    let carry = side.buf.len();
    let mut joined = std::mem::take(&mut side.buf);
    joined.extend_from_slice(data);
    let mut candidates = if side.line_start { vec![0] } else { Vec::new() };
    candidates.extend(memchr::memchr_iter(b'\n', &joined).map(|i| i + 1));
    for &pos in &candidates {
        let Some(rest) = joined.get(pos..) else {
            continue;
        };
        match starts_message(rest, request) {
            Some(true) => {
                side.state = State::Head;
                side.scanned = 0;
                side.line_start = true;
                side.first_ts = ts;
                side.buf.clear();
                if pos >= carry {
                    return &data[pos - carry..];
                }
                // The message started in the carried bytes.
                side.buf.extend_from_slice(&joined[pos..carry]);
                return data;
            }
            Some(false) => {}
            None => {
                // Undecided (too short): keep from here.
                let keep = &joined[pos..];
                if keep.len() <= SCAN_KEEP {
                    side.buf.extend_from_slice(keep);
                    side.line_start = true;
                    return &[];
                }
            }
        }
    }
    side.scanned = side.scanned.saturating_add(data.len() as u64);
    side.line_start = joined.last() == Some(&b'\n');
    &[]
}

/// Whether `data` starts an HTTP message: Some(true/false), or None when
/// too few bytes to tell.
fn starts_message(data: &[u8], request: bool) -> Option<bool> {
    let line_end = memchr::memchr(b'\n', data);
    if request {
        match request_line(data) {
            Some(_) => Some(true),
            None if line_end.is_none() && data.len() < 2048 && could_be_method(data) => None,
            None => Some(false),
        }
    } else {
        let p = b"HTTP/1.";
        let n = data.len().min(p.len());
        if data[..n] != p[..n] {
            return Some(false);
        }
        if data.len() < 12 {
            return None;
        }
        Some(data[8] == b' ' && data[9..12].iter().all(u8::is_ascii_digit))
    }
}

fn could_be_method(data: &[u8]) -> bool {
    data.iter()
        .take_while(|b| **b != b' ')
        .all(|b| http1::is_tchar(*b))
        && !data.is_empty()
}

/// A parsed request line: method, target and the line's length with CRLF.
pub struct RequestLine<'a> {
    pub method: &'a [u8],
    pub target: &'a [u8],
    pub len: usize,
}

/// Lenient request line: `METHOD SP target SP HTTP/version CRLF`, where the
/// version need only start with `HTTP/` (as tshark accepts).
pub fn request_line(data: &[u8]) -> Option<RequestLine<'_>> {
    let end = memchr::memchr(b'\n', &data[..data.len().min(16 * 1024)])?;
    let line = &data[..end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let sp = memchr::memchr(b' ', line)?;
    let method = &line[..sp];
    if method.is_empty() || method.len() > 32 || !method.iter().all(|b| http1::is_tchar(*b)) {
        return None;
    }
    let rest = &line[sp + 1..];
    let sp2 = memchr::memrchr(b' ', rest)?;
    let target = &rest[..sp2];
    let version = &rest[sp2 + 1..];
    if target.is_empty() || target.iter().any(|b| *b <= b' ' || *b == 0x7f) {
        return None;
    }
    if !version.starts_with(b"HTTP/") || version.len() > 12 {
        return None;
    }
    Some(RequestLine {
        method,
        target,
        len: end + 1,
    })
}

/// The `n`-th of the header slots kept from the previous exchange (a new
/// one past their end), named `name`; `n` moves on. The value is left for
/// the caller. Callers truncate `headers` to `n` when done.
fn reuse_slot<'a>(
    headers: &'a mut Vec<(String, String)>,
    n: &mut usize,
    name: &str,
) -> &'a mut String {
    if *n == headers.len() {
        headers.push(Default::default());
    }
    let (slot_name, value) = &mut headers[*n];
    *n += 1;
    slot_name.clear();
    slot_name.push_str(name);
    value
}

/// Consumes body bytes per `framing`. Returns (bytes of `data` used, done).
/// `line` carries an incomplete chunk-size or trailer line; `content`
/// receives the body (chunk data only, for chunked bodies). Broken chunk
/// syntax ends the message (the scanner then resynchronises).
fn body_bytes(
    framing: &mut Framing,
    line: &mut Vec<u8>,
    data: &[u8],
    content: &mut dyn FnMut(&[u8]),
) -> (usize, bool) {
    match framing {
        Framing::Length(rem) => {
            let n = usize::try_from(*rem).unwrap_or(usize::MAX).min(data.len());
            *rem -= n as u64;
            content(&data[..n]);
            (n, *rem == 0)
        }
        Framing::Close => {
            content(data);
            (data.len(), false)
        }
        Framing::Chunked(decoder) => {
            let (used, progress) = decoder.feed_carried(line, data, content);
            (used, progress != Progress::More)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Response headers kept for the model.
    const KEPT_RESPONSE_HEADERS: &[&str] = &[
        "content-type",
        "content-encoding",
        "cache-control",
        "location",
        "set-cookie",
    ];

    #[test]
    fn names_response_headers_like_eq_ignore_ascii_case() {
        let names = [
            "Content-Type",
            "content-type",
            "CONTENT-TYPE",
            "Content-Typf",
            "Content-Length",
            "Transfer-Encoding",
            "transfer-encodinG",
            "Content-Encoding",
            "Cache-Control",
            "Location",
            "LOCATION",
            "Set-Cookie",
            "set-cookie",
            "Set-Cookie2",
            "Server",
            "Date",
            "ETag",
            "Last-Modified",
            "Accept-Ranges",
            "Connection",
            "",
            "x",
        ];
        for n in names {
            let n = n.as_bytes();
            let want = if n.eq_ignore_ascii_case(b"transfer-encoding") {
                ResponseName::TransferEncoding
            } else if n.eq_ignore_ascii_case(b"content-length") {
                ResponseName::ContentLength
            } else if n.eq_ignore_ascii_case(b"content-type") {
                ResponseName::ContentType
            } else if n.eq_ignore_ascii_case(b"set-cookie") {
                ResponseName::SetCookie
            } else if KEPT_RESPONSE_HEADERS
                .iter()
                .any(|k| n.eq_ignore_ascii_case(k.as_bytes()))
            {
                ResponseName::Kept
            } else {
                ResponseName::Other
            };
            assert_eq!(ResponseName::of(n), want, "{}", String::from_utf8_lossy(n));
        }
        // Every byte value, in every position of a word.
        let lower = b"abcdefghijklmnop";
        for pos in 0..lower.len() {
            for b in 0..=255u8 {
                let mut n = *lower;
                n[pos] = b;
                assert_eq!(
                    eq_lower(&n, lower),
                    n.eq_ignore_ascii_case(lower),
                    "{b:#x} at {pos}"
                );
                let w = word(&n[..8]);
                let want: Vec<u8> = n[..8].iter().map(u8::to_ascii_lowercase).collect();
                assert_eq!(
                    ascii_lower8(w).to_le_bytes().to_vec(),
                    want,
                    "{b:#x} at {pos}"
                );
            }
        }
    }
}
