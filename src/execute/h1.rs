//! A lean HTTP/1.1 client connection for plain load.
//!
//! hyper's HTTP/1.1 client hands every request to a connection task over a
//! channel, builds a header map for every response and runs a body stream
//! of frames; at tens of thousands of requests per second on one core
//! those costs are a third of what replay spends per request. Here the
//! request goes out as bytes built once by the generator, the response head
//! is parsed with httparse in a buffer the connection keeps, and the body
//! is counted and discarded as it arrives, all in the connection's own
//! task. Bodies are never held (an endless body only costs its buffer).
//!
//! What it reads: status line and headers (interim 1xx skipped), bodies
//! framed by Content-Length, chunked (extensions and trailers skipped) or
//! the end of the connection; HEAD, 204 and 304 have none. A connection is
//! kept for the next request unless the response says `Connection: close`,
//! is HTTP/1.0 without keep-alive, ends with the connection, or leaves
//! bytes nobody asked for.
//!
//! The framing rules and the chunked decoder are [`crate::http1`]'s, in its
//! strict reading (what RFC 9112 calls an error is a protocol error, as in
//! hyper); this module adds the socket: it reads into its buffer and feeds
//! the decoder.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use super::classify::classify_io;
use crate::http1::{self, Chunked, Fields, Framing, Policy, Progress};
use crate::metrics::ErrorKind;

/// Largest response head accepted (hyper's default limit is about 400 KB);
/// a larger one is a protocol error.
const MAX_HEAD: usize = 256 * 1024;
/// Most headers in one response head.
const MAX_HEADERS: usize = 128;
/// The read buffer to start with; it grows only for a long head.
const BUFFER: usize = 16 * 1024;

/// The transport under the connection.
pub enum Stream {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// One HTTP/1.1 connection, one exchange at a time.
pub struct Conn {
    io: Stream,
    /// Bytes read and not yet consumed are `buf[pos..end]`.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// Whether an exchange has used the connection.
    used: bool,
    /// False once the connection cannot carry another exchange.
    reusable: bool,
    /// Bytes read for the current (or last) exchange, head and body as
    /// they came on the wire; kept when it fails or is cut short.
    received: u64,
    /// Keep the next responses' bodies and `Location` (for produced
    /// values); otherwise bodies are counted and dropped as they come.
    capture: bool,
    captured: Option<Captured>,
}

/// What a capturing exchange kept of its response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    /// The body as it arrived (chunk data only), up to
    /// [`MAX_CAPTURE`](super::produced::MAX_CAPTURE) bytes.
    pub body: Vec<u8>,
    /// `Location` and token-like headers
    /// ([`keeps_header`](super::produced::keeps_header)).
    pub headers: Vec<(String, String)>,
}

/// A complete response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// When the request had been written (flushed to the socket).
    pub written_at: Instant,
    /// When the first byte of the response arrived.
    pub first_byte_at: Instant,
}

/// A failed exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    pub kind: ErrorKind,
    /// The connection had carried an exchange before and the request could
    /// not be written: the server had closed it while it was idle, a race
    /// every keep-alive client meets, and has not seen the request. It is
    /// sent again on a new connection. (A request written and then met by
    /// a close or reset is not sent again: the server may have acted on
    /// it.)
    pub retry: bool,
}

impl Conn {
    pub fn new(io: Stream) -> Conn {
        Conn {
            io,
            buf: vec![0; BUFFER],
            pos: 0,
            end: 0,
            used: false,
            reusable: true,
            received: 0,
            capture: false,
            captured: None,
        }
    }

    /// Whether the next exchanges keep the response body and `Location`.
    pub fn set_capture(&mut self, on: bool) {
        self.capture = on;
    }

    /// What the last capturing exchange kept.
    pub fn take_captured(&mut self) -> Option<Captured> {
        self.captured.take()
    }

    /// Keeps body bytes of a capturing exchange, up to the limit.
    fn keep(&mut self, from: usize, to: usize) {
        if let Some(c) = self.captured.as_mut() {
            let room = super::produced::MAX_CAPTURE.saturating_sub(c.body.len());
            let to = to.min(from + room);
            c.body.extend_from_slice(&self.buf[from..to]);
        }
    }

    /// Whether the connection can no longer carry a request: a response
    /// said so, or the server has closed it (or sent bytes unasked) while
    /// it was idle. Checked without waiting.
    pub fn is_stale(&mut self) -> bool {
        if !self.reusable || self.pos < self.end {
            return true;
        }
        if !self.used {
            return false;
        }
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut rb = ReadBuf::new(&mut self.buf);
        match Pin::new(&mut self.io).poll_read(&mut cx, &mut rb) {
            Poll::Pending => false,
            // End of stream, unsolicited bytes, or an error.
            Poll::Ready(_) => {
                self.reusable = false;
                true
            }
        }
    }

    /// Bytes read for the current or last exchange.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Sends `request` (a complete HTTP/1.1 request) and reads the whole
    /// response. `head`: the request's method is HEAD (no body follows).
    /// The caller bounds it in time and drops the connection when it fails
    /// or is cut short.
    pub async fn exchange(&mut self, request: &[u8], head: bool) -> Result<Response, Failure> {
        let reused = self.used;
        self.used = true;
        self.pos = 0;
        self.end = 0;
        self.received = 0;
        self.captured = self.capture.then(Captured::default);
        let fail = |kind, retry| Failure { kind, retry };
        let written = match self.io.write_all(request).await {
            Ok(()) => self.io.flush().await,
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            self.reusable = false;
            let kind = classify_io(&e, false);
            return Err(fail(kind, reused && kind == ErrorKind::Reset));
        }
        let written_at = Instant::now();
        let mut first_byte_at = None;
        let (status, framing, keep_alive) = loop {
            if self.end > self.pos {
                match self.parse_head(head) {
                    Ok(Some(parsed)) => break parsed,
                    Ok(None) => {}
                    Err(kind) => {
                        self.reusable = false;
                        return Err(fail(kind, false));
                    }
                }
            }
            match self.read_more(MAX_HEAD).await {
                Ok(0) => {
                    // Ended before a whole head: hyper calls it an
                    // incomplete message; counted as a reset.
                    self.reusable = false;
                    return Err(fail(ErrorKind::Reset, false));
                }
                Ok(_) => {
                    first_byte_at.get_or_insert_with(Instant::now);
                }
                Err(kind) => {
                    self.reusable = false;
                    return Err(fail(kind, false));
                }
            }
        };
        let first_byte_at = first_byte_at.unwrap_or(written_at);
        if !keep_alive {
            self.reusable = false;
        }
        let body = match framing {
            Framing::None => Ok(()),
            Framing::Length(n) => self.length_body(n).await,
            Framing::Chunked => self.chunked_body().await,
            Framing::UntilClose => {
                self.reusable = false;
                self.body_until_close().await
            }
        };
        if let Err(kind) = body {
            self.reusable = false;
            return Err(fail(kind, false));
        }
        if self.pos < self.end {
            // Bytes after the response that no request asked for.
            self.reusable = false;
        }
        Ok(Response {
            status,
            written_at,
            first_byte_at,
        })
    }

    /// Parses a response head from the buffer: `None` until it is whole.
    /// Interim (1xx) responses are consumed and skipped.
    fn parse_head(&mut self, head: bool) -> Result<Option<(u16, Framing, bool)>, ErrorKind> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut r = httparse::Response::new(&mut headers);
            let n = match r.parse(&self.buf[self.pos..self.end]) {
                Ok(httparse::Status::Complete(n)) => n,
                Ok(httparse::Status::Partial) => return Ok(None),
                Err(_) => return Err(ErrorKind::Protocol),
            };
            let status = r.code.unwrap_or(0);
            if (100..200).contains(&status) {
                // 101 would switch protocols, which no request asked for.
                if status == 101 {
                    return Err(ErrorKind::Protocol);
                }
                self.pos += n;
                if self.pos == self.end {
                    return Ok(None);
                }
                continue;
            }
            let (framing, keep_alive) = framing(&r, head)?;
            if let Some(c) = self.captured.as_mut() {
                c.headers = r
                    .headers
                    .iter()
                    .filter(|h| super::produced::keeps_header(h.name))
                    .filter_map(|h| {
                        let v = std::str::from_utf8(h.value).ok()?;
                        Some((h.name.to_string(), v.trim().to_string()))
                    })
                    .collect();
            }
            self.pos += n;
            return Ok(Some((status, framing, keep_alive)));
        }
    }

    /// Reads more bytes into the buffer, making room first (compacting,
    /// or growing up to `limit`). Ok(0) at the end of the stream.
    async fn read_more(&mut self, limit: usize) -> Result<usize, ErrorKind> {
        if self.pos == self.end {
            self.pos = 0;
            self.end = 0;
        }
        if self.end == self.buf.len() {
            if self.pos > 0 {
                self.buf.copy_within(self.pos..self.end, 0);
                self.end -= self.pos;
                self.pos = 0;
            } else if self.buf.len() < limit {
                let len = (self.buf.len() * 2).min(limit);
                self.buf.resize(len, 0);
            } else {
                return Err(ErrorKind::Protocol);
            }
        }
        match self.io.read(&mut self.buf[self.end..]).await {
            Ok(n) => {
                self.end += n;
                self.received += n as u64;
                Ok(n)
            }
            Err(e) => Err(classify_io(&e, false)),
        }
    }

    async fn length_body(&mut self, mut left: u64) -> Result<(), ErrorKind> {
        loop {
            let take = left.min((self.end - self.pos) as u64);
            self.keep(self.pos, self.pos + take as usize);
            self.pos += take as usize;
            left -= take;
            if left == 0 {
                return Ok(());
            }
            if self.read_more(BUFFER).await? == 0 {
                // Shorter than its Content-Length.
                return Err(ErrorKind::Protocol);
            }
        }
    }

    async fn body_until_close(&mut self) -> Result<(), ErrorKind> {
        loop {
            self.keep(self.pos, self.end);
            self.pos = self.end;
            match self.read_more(BUFFER).await {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                // A TLS peer that closes without close_notify: the body
                // ends with the connection either way.
                Err(ErrorKind::Protocol) => return Ok(()),
                Err(kind) => return Err(kind),
            }
        }
    }

    /// Reads a chunked body: what is buffered goes to the decoder; a line
    /// it cannot finish yet stays in the buffer until more bytes come.
    async fn chunked_body(&mut self) -> Result<(), ErrorKind> {
        let mut decoder = Chunked::new(Policy::Strict);
        loop {
            let mut kept = self.captured.take();
            let (used, progress) = decoder.feed(&self.buf[self.pos..self.end], |data| {
                if let Some(c) = kept.as_mut() {
                    let room = super::produced::MAX_CAPTURE.saturating_sub(c.body.len());
                    c.body.extend_from_slice(&data[..data.len().min(room)]);
                }
            });
            self.captured = kept;
            self.pos += used;
            match progress {
                Progress::Done => return Ok(()),
                Progress::Broken => return Err(ErrorKind::Protocol),
                Progress::More => {
                    if self.read_more(BUFFER).await? == 0 {
                        // Ended inside the body.
                        return Err(ErrorKind::Protocol);
                    }
                }
            }
        }
    }
}

/// The body's framing and whether the connection stays open, from a
/// response head (RFC 9112 sections 6.3 and 9.3).
fn framing(r: &httparse::Response<'_, '_>, head: bool) -> Result<(Framing, bool), ErrorKind> {
    let mut fields = Fields::new(Policy::Strict);
    for h in r.headers.iter() {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            fields.content_length(h.value);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            fields.transfer_encoding(h.value);
        } else if name.eq_ignore_ascii_case(b"connection") {
            fields.connection(h.value);
        }
    }
    let framing = fields
        .response(r.code.unwrap_or(0), head)
        .map_err(|http1::Invalid| ErrorKind::Protocol)?;
    let keep = fields.persistent(r.version == Some(0));
    Ok((framing, keep && framing != Framing::UntilClose))
}

#[cfg(test)]
mod agrees_with_hyper;

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    /// A server that answers each request read with the next of `replies`
    /// (raw bytes, written in pieces of `piece` bytes), then closes.
    async fn server(
        replies: Vec<Vec<u8>>,
        piece: usize,
    ) -> (Conn, tokio::task::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            for (i, reply) in replies.into_iter().enumerate() {
                // Wait for the (i+1)-th request head.
                while seen.windows(4).filter(|w| w == b"\r\n\r\n").count() <= i {
                    let mut buf = [0u8; 4096];
                    let n = s.read(&mut buf).await.unwrap();
                    if n == 0 {
                        return seen;
                    }
                    seen.extend_from_slice(&buf[..n]);
                }
                for part in reply.chunks(piece.max(1)) {
                    s.write_all(part).await.unwrap();
                    s.flush().await.unwrap();
                    tokio::task::yield_now().await;
                }
            }
            seen
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        (Conn::new(Stream::Tcp(tcp)), task)
    }

    const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

    /// The outcome, the bytes read and whether the connection is kept.
    async fn one(reply: &[u8], piece: usize) -> (Result<Response, Failure>, u64, bool) {
        let (mut c, _t) = server(vec![reply.to_vec()], piece).await;
        let r = c.exchange(GET, false).await;
        (r, c.received(), c.reusable)
    }

    #[tokio::test]
    async fn reads_each_framing_in_pieces() {
        let cases: &[(&[u8], u16, bool)] = &[
            (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, true),
            (b"HTTP/1.1 204 No Content\r\n\r\n", 204, true),
            (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok", 201, true),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n1\r\n!\r\n0\r\nTrailer: t\r\n\r\n", 200, true),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", 200, false),
            (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, false),
            (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok", 200, true),
            (b"HTTP/1.1 200 OK\r\n\r\nuntil the end", 200, false),
        ];
        for piece in [1, 3, 4096] {
            for (reply, status, reusable) in cases {
                let (r, received, kept) = one(reply, piece).await;
                let r =
                    r.unwrap_or_else(|f| panic!("{f:?} for {:?}", String::from_utf8_lossy(reply)));
                assert_eq!(r.status, *status);
                assert_eq!(
                    received,
                    reply.len() as u64,
                    "{}",
                    String::from_utf8_lossy(reply)
                );
                assert_eq!(kept, *reusable, "{}", String::from_utf8_lossy(reply));
            }
        }
    }

    #[tokio::test]
    async fn broken_responses_are_named() {
        let cases: &[(&[u8], ErrorKind)] = &[
            (b"HTTP/1.1 2x0 OK\r\n\r\n", ErrorKind::Protocol),
            (b"NONSENSE\r\n\r\n", ErrorKind::Protocol),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
                ErrorKind::Protocol,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                ErrorKind::Protocol,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                ErrorKind::Protocol,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                ErrorKind::Protocol,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
                ErrorKind::Protocol,
            ),
            (
                b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
                ErrorKind::Protocol,
            ),
            (b"HTTP/1.1 200 OK\r\nContent-", ErrorKind::Reset),
            (b"", ErrorKind::Reset),
        ];
        for (reply, kind) in cases {
            let (r, _, kept) = one(reply, 7).await;
            let f = r.expect_err(&String::from_utf8_lossy(reply));
            assert_eq!(f.kind, *kind, "{}", String::from_utf8_lossy(reply));
            assert!(!f.retry, "a first exchange is never retried");
            assert!(!kept);
        }
    }

    #[tokio::test]
    async fn a_head_larger_than_the_limit_is_refused() {
        let mut reply = b"HTTP/1.1 200 OK\r\n".to_vec();
        while reply.len() < MAX_HEAD + 10 {
            reply.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        reply.extend_from_slice(b"\r\n");
        let (r, _, _) = one(&reply, 65536).await;
        assert_eq!(r.unwrap_err().kind, ErrorKind::Protocol);
    }

    #[tokio::test]
    async fn keep_alive_carries_several_exchanges_and_head_has_no_body() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc".to_vec();
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n".to_vec();
        let (mut c, t) = server(vec![ok.clone(), head.clone(), ok.clone()], 4096).await;
        for (i, is_head) in [false, true, false].into_iter().enumerate() {
            assert!(!c.is_stale(), "exchange {i}");
            let r = c.exchange(GET, is_head).await.unwrap();
            assert_eq!(r.status, 200);
        }
        // The server closes after the third: an idle check notices.
        let seen = t.await.unwrap();
        assert_eq!(seen.len(), GET.len() * 3);
        assert!(c.is_stale());
    }

    #[tokio::test]
    async fn a_closed_connection_is_retried_only_when_the_request_was_not_written() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc".to_vec();
        let (mut c, t) = server(vec![ok.clone()], 4096).await;
        c.exchange(GET, false).await.unwrap();
        t.await.unwrap();
        // Written into a connection the server has closed (its FIN not yet
        // noticed): the server may have seen it, so it is not sent again.
        let f = c.exchange(GET, false).await.unwrap_err();
        assert_eq!(
            (f.kind, f.retry, c.received()),
            (ErrorKind::Reset, false, 0)
        );
        // The reset that answered it is in: now the write itself fails,
        // nothing reached the server, and the request may go again.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let f = c.exchange(GET, false).await.unwrap_err();
        assert_eq!((f.kind, f.retry), (ErrorKind::Reset, true), "{f:?}");
    }

    /// Whatever a server sends — valid framing cut anywhere, with bytes
    /// changed, or noise — the reader ends (the server closes after
    /// sending) with a response or a named failure, never a panic, and
    /// counts exactly the bytes it read.
    #[test]
    fn any_response_bytes_end_in_a_response_or_a_named_failure() {
        use proptest::prelude::*;
        let valid: &[&[u8]] = &[
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nT: 1\r\n\r\n",
            b"HTTP/1.0 200 OK\r\n\r\nto the end",
        ];
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let config = ProptestConfig {
            cases: 400,
            failure_persistence: None,
            ..ProptestConfig::default()
        };
        proptest!(config, |(
            which in 0..valid.len() + 1,
            noise in proptest::collection::vec(any::<u8>(), 0..300),
            cut in any::<prop::sample::Index>(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
            piece in 1usize..40,
        )| {
            let mut reply = match valid.get(which) {
                Some(v) => v.to_vec(),
                None => noise.clone(),
            };
            if !reply.is_empty() {
                reply.truncate(cut.index(reply.len()) + 1);
                for (at, b) in &edits {
                    let i = at.index(reply.len());
                    reply[i] = *b;
                }
            }
            let sent = reply.len() as u64;
            let (outcome, received) = rt.block_on(async {
                let (mut c, _t) = server(vec![reply], piece).await;
                let r = tokio::time::timeout(
                    std::time::Duration::from_secs(10),
                    c.exchange(GET, false),
                )
                .await;
                (r, c.received())
            });
            prop_assert!(received <= sent);
            match outcome.expect("the reader ends when the server closes") {
                Ok(_) => {}
                Err(f) => prop_assert!(!f.retry),
            }
        });
    }
}
