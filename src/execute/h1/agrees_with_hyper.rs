//! The lean client against hyper: the same response bytes, served over
//! loopback TCP to each, must be framed alike.
//!
//! The lean client exists to be cheaper than hyper's HTTP/1.1 client, not
//! different from it: a response hyper reads as 200 with 12 body bytes on
//! a reusable connection must read the same here, or replay's counts
//! would depend on which client ran.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use proptest::prelude::*;
use proptest::sample::Index;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{Conn, Stream};
use crate::execute::classify::classify_hyper;
use crate::metrics::ErrorKind;

/// How a generated response delimits its body.
#[derive(Debug, Clone)]
enum Wire {
    Length,
    /// Chunk sizes cut the body at `cuts`; each chunk-size line may carry
    /// an extension; `trailers` fields follow the last chunk.
    Chunked {
        cuts: Vec<Index>,
        extensions: Vec<u8>,
        upper_hex: bool,
        trailers: usize,
    },
    /// Neither Content-Length nor Transfer-Encoding.
    Close,
}

#[derive(Debug, Clone)]
struct Case {
    status: u16,
    body_len: usize,
    wire: Wire,
    /// `Connection: close` / an explicit `Connection: keep-alive`.
    close: bool,
    keep_alive: bool,
    lower_names: bool,
    /// The request is HEAD (no body follows, whatever the head says).
    head: bool,
    /// Where the bytes are cut into separately written pieces.
    pieces: Vec<Index>,
    /// The server stops after this many of the response's bytes and
    /// closes (only for responses not delimited by the close).
    truncate: Option<Index>,
}

/// A response's bytes, built from a case.
struct Response {
    bytes: Vec<u8>,
    /// Bytes of the body as the reader should deliver them.
    body_len: usize,
    /// Whether the server closes after sending (the response says so, its
    /// body runs to the close, or it was truncated).
    closes: bool,
    /// Cut short: the reader must fail.
    truncated: bool,
}

fn case() -> impl Strategy<Value = Case> {
    let wire = prop_oneof![
        Just(Wire::Length),
        (
            proptest::collection::vec(any::<Index>(), 0..5),
            proptest::collection::vec(0u8..4, 0..6),
            any::<bool>(),
            0usize..3,
        )
            .prop_map(|(cuts, extensions, upper_hex, trailers)| Wire::Chunked {
                cuts,
                extensions,
                upper_hex,
                trailers,
            }),
        Just(Wire::Close),
    ];
    let status = prop::sample::select(vec![200u16, 201, 204, 206, 301, 304, 404, 500, 503]);
    (
        status,
        prop_oneof![Just(0usize), 1usize..64, 64usize..3000],
        wire,
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        proptest::collection::vec(any::<Index>(), 0..6),
        prop::option::weighted(0.2, any::<Index>()),
    )
        .prop_map(
            |(status, body_len, wire, (close, keep_alive, lower_names, head), pieces, truncate)| {
                Case {
                    status,
                    body_len,
                    wire,
                    close,
                    keep_alive,
                    lower_names,
                    head,
                    pieces,
                    truncate,
                }
            },
        )
}

impl Case {
    fn has_body(&self) -> bool {
        !self.head && self.status != 204 && self.status != 304
    }

    fn response(&self) -> Response {
        let name = |n: &str| {
            if self.lower_names {
                n.to_ascii_lowercase()
            } else {
                n.to_string()
            }
        };
        let mut b = format!("HTTP/1.1 {} Whatever\r\n", self.status).into_bytes();
        let mut header = |n: &str, v: &str| {
            b.extend_from_slice(format!("{}: {v}\r\n", name(n)).as_bytes());
        };
        header("Server", "proptest");
        match &self.wire {
            Wire::Length => header("Content-Length", &self.body_len.to_string()),
            Wire::Chunked { .. } => header("Transfer-Encoding", "chunked"),
            Wire::Close => {}
        }
        if self.close {
            header("Connection", "close");
        } else if self.keep_alive {
            header("Connection", "keep-alive");
        }
        b.extend_from_slice(b"\r\n");
        // Body bytes with line ends in them, to catch a reader that looks
        // for lines inside chunk data.
        let content: Vec<u8> = b"0123456789\r\nabcdef\n"
            .iter()
            .copied()
            .cycle()
            .take(self.body_len)
            .collect();
        let has_body = self.has_body();
        if has_body {
            match &self.wire {
                Wire::Length | Wire::Close => b.extend_from_slice(&content),
                Wire::Chunked {
                    cuts,
                    extensions,
                    upper_hex,
                    trailers,
                } => {
                    let mut at: Vec<usize> =
                        cuts.iter().map(|c| c.index(content.len() + 1)).collect();
                    at.extend([0, content.len()]);
                    at.sort_unstable();
                    at.dedup();
                    for (i, w) in at.windows(2).enumerate() {
                        let chunk = &content[w[0]..w[1]];
                        chunk_size_line(&mut b, chunk.len(), *upper_hex, extensions.get(i));
                        b.extend_from_slice(chunk);
                        b.extend_from_slice(b"\r\n");
                    }
                    chunk_size_line(&mut b, 0, *upper_hex, extensions.last());
                    for t in 0..*trailers {
                        b.extend_from_slice(format!("X-Trailer-{t}: {t}\r\n").as_bytes());
                    }
                    b.extend_from_slice(b"\r\n");
                }
            }
        }
        let delimited_by_close = has_body && matches!(self.wire, Wire::Close);
        let mut r = Response {
            body_len: if has_body { content.len() } else { 0 },
            closes: self.close || delimited_by_close,
            truncated: false,
            bytes: b,
        };
        if let (Some(at), false) = (self.truncate, delimited_by_close) {
            r.bytes.truncate(at.index(r.bytes.len()));
            r.closes = true;
            r.truncated = true;
        }
        r
    }
}

fn chunk_size_line(b: &mut Vec<u8>, size: usize, upper_hex: bool, extension: Option<&u8>) {
    let size = if upper_hex {
        format!("{size:X}")
    } else {
        format!("{size:x}")
    };
    b.extend_from_slice(size.as_bytes());
    b.extend_from_slice(match extension {
        Some(1) => b";a",
        Some(2) => b";name=value",
        Some(3) => b";q=\"quoted; string\"",
        _ => b"",
    });
    b.extend_from_slice(b"\r\n");
}

/// What a client made of the response.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Status, body bytes, and whether the connection can carry another
    /// exchange.
    Response(u16, usize, bool),
    Failed(ErrorKind),
}

/// The reply to a second request on a connection both clients kept.
const SECOND: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/// Serves one connection: waits for a request head, writes `bytes` in
/// pieces, then closes, or (when `!closes`) answers a second request with
/// [`SECOND`].
async fn serve(listener: TcpListener, bytes: Vec<u8>, pieces: Vec<usize>, closes: bool) {
    let Ok((mut s, _)) = listener.accept().await else {
        return;
    };
    if !read_head(&mut s).await {
        return;
    }
    let mut at = pieces;
    at.extend([0, bytes.len()]);
    at.sort_unstable();
    at.dedup();
    for w in at.windows(2) {
        if s.write_all(&bytes[w[0]..w[1]]).await.is_err() || s.flush().await.is_err() {
            return;
        }
        tokio::task::yield_now().await;
    }
    if !closes && read_head(&mut s).await {
        let _ = s.write_all(SECOND).await;
    }
}

/// Reads up to the end of a request head; false at the end of the stream.
async fn read_head(s: &mut TcpStream) -> bool {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    true
}

/// Binds a loopback listener and serves `r` on it.
async fn server(r: &Response, pieces: Vec<usize>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, r.bytes.clone(), pieces, r.closes));
    addr
}

/// The lean client's outcome, and whether a second exchange succeeded on
/// a connection it kept.
async fn lean(case: &Case, r: &Response, pieces: Vec<usize>) -> (Outcome, bool) {
    let addr = server(r, pieces).await;
    let mut c = Conn::new(Stream::Tcp(TcpStream::connect(addr).await.unwrap()));
    let request: &[u8] = if case.head {
        b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
    } else {
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    };
    let outcome = match c.exchange(request, case.head).await {
        Err(f) => return (Outcome::Failed(f.kind), false),
        Ok(resp) => {
            // The lean client keeps no body; what it read beyond the
            // response's head and chunk framing is the body it framed.
            let framing = r.bytes.len() - r.body_len;
            let body = (c.received() as usize).checked_sub(framing);
            Outcome::Response(resp.status, body.unwrap_or(usize::MAX), c.reusable)
        }
    };
    let again = c.reusable
        && matches!(
            c.exchange(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", false).await,
            Ok(resp) if resp.status == 200
        );
    (outcome, again)
}

/// hyper's outcome, and whether a second exchange succeeded on a
/// connection it kept.
async fn hyper(case: &Case, r: &Response, pieces: Vec<usize>) -> (Outcome, bool) {
    let addr = server(r, pieces).await;
    let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
    let (mut send, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
    tokio::spawn(conn);
    let request = |method: &str| {
        http::Request::builder()
            .method(method)
            .uri("/")
            .header("host", "x")
            .body(Empty::<Bytes>::new())
            .unwrap()
    };
    let method = if case.head { "HEAD" } else { "GET" };
    let resp = match send.send_request(request(method)).await {
        Ok(resp) => resp,
        Err(e) => return (Outcome::Failed(classify_hyper(&e)), false),
    };
    let status = resp.status().as_u16();
    let mut body = resp.into_body();
    let mut len = 0;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => len += f.data_ref().map_or(0, Bytes::len),
            Err(e) => return (Outcome::Failed(classify_hyper(&e)), false),
        }
    }
    // Ready for another request once the connection task has finished
    // the response; an error once it closed the connection.
    let reusable = send.ready().await.is_ok();
    let again = reusable
        && match send.send_request(request("GET")).await {
            Ok(resp) => resp.status() == 200 && resp.into_body().collect().await.is_ok(),
            Err(_) => false,
        };
    (Outcome::Response(status, len, reusable), again)
}

/// Valid and truncated HTTP/1.1 responses (Content-Length, chunked with
/// extensions and trailers, or delimited by the close; keep-alive or
/// `Connection: close`; to GET or HEAD; 204 and 304 among the statuses),
/// written in pieces: the lean client and hyper agree on the status, the
/// body's length, whether the connection can be reused (and a second
/// exchange on it works), or on the kind of failure.
#[test]
fn lean_client_and_hyper_frame_responses_alike() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(case in case())| {
        let r = case.response();
        let pieces: Vec<usize> = case.pieces.iter().map(|p| p.index(r.bytes.len() + 1)).collect();
        let (lean, hyper) = rt.block_on(async {
            let limit = Duration::from_secs(5);
            let lean = tokio::time::timeout(limit, lean(&case, &r, pieces.clone())).await;
            let hyper = tokio::time::timeout(limit, hyper(&case, &r, pieces)).await;
            (lean.expect("the lean client ends"), hyper.expect("hyper ends"))
        });
        let text = String::from_utf8_lossy(&r.bytes);
        prop_assert_eq!(&lean, &hyper, "lean vs hyper for {:?}", text);
        // And both read what was sent.
        if r.truncated {
            prop_assert!(matches!(lean.0, Outcome::Failed(_)), "{:?}", lean.0);
        } else {
            prop_assert_eq!(&lean.0, &Outcome::Response(case.status, r.body_len, !r.closes));
        }
        prop_assert_eq!(lean.1, !r.closes, "second exchange");
    });
}
