//! A fault-injecting HTTP/1.1 server for the integration tests, on raw
//! tokio sockets (hyper cannot misbehave enough), bound to 127.0.0.1:0.
//!
//! It reads a request head, picks the behaviour from the path, and counts
//! what it did. `/ok` answers 200 with keep-alive, like a healthy server;
//! every other route is one fault (see [`Fault`]). The same server can be
//! taken down (listener closed, open connections reset) and brought back on
//! the same port, for outage tests. Tests wait on the requests it has
//! seen ([`FaultServer::wait_for_requests`]) rather than sleeping.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::Log;

/// What a route does once it has read the request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `/ok`: 200, small JSON body, keep-alive.
    Ok,
    /// `/reset-request`: resets the connection (RST) after the request
    /// head, before reading the body.
    ResetRequest,
    /// `/reset-response`: sends the head and part of the body, then RST.
    ResetResponse,
    /// `/hang`: never answers; keeps the connection open.
    Hang,
    /// `/slow`: answers one byte per second.
    Slow,
    /// `/bad-status`: an invalid status line.
    BadStatus,
    /// `/short-body`: `Content-Length: 100`, 10 bytes of body, then a
    /// clean close (FIN).
    ShortBody,
    /// `/infinite`: a chunked body that never ends.
    Infinite,
    /// `/5xx`: 503 with keep-alive.
    ServerError,
    /// `/close`: 200 and then closes the connection (FIN) without saying so
    /// (no `Connection: close`): keep-alive clients must reconnect.
    Close,
    /// `/huge-headers`: 200 with 1 MiB of response headers.
    HugeHeaders,
    /// `/redirect?to=URL`: 302 to `URL`.
    Redirect,
}

impl Fault {
    pub const ALL: &'static [Fault] = &[
        Fault::Ok,
        Fault::ResetRequest,
        Fault::ResetResponse,
        Fault::Hang,
        Fault::Slow,
        Fault::BadStatus,
        Fault::ShortBody,
        Fault::Infinite,
        Fault::ServerError,
        Fault::Close,
        Fault::HugeHeaders,
        Fault::Redirect,
    ];

    pub fn path(self) -> &'static str {
        match self {
            Fault::Ok => "/ok",
            Fault::ResetRequest => "/reset-request",
            Fault::ResetResponse => "/reset-response",
            Fault::Hang => "/hang",
            Fault::Slow => "/slow",
            Fault::BadStatus => "/bad-status",
            Fault::ShortBody => "/short-body",
            Fault::Infinite => "/infinite",
            Fault::ServerError => "/5xx",
            Fault::Close => "/close",
            Fault::HugeHeaders => "/huge-headers",
            Fault::Redirect => "/redirect",
        }
    }

    fn of_path(path: &str) -> Option<Fault> {
        let path = path.split('?').next().unwrap_or(path);
        Fault::ALL.iter().copied().find(|f| f.path() == path)
    }
}

/// What the server saw and did.
#[derive(Default)]
pub struct Stats {
    /// The path (query stripped) of each request head read, in order.
    pub requests: Log<String>,
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Body bytes written by `/infinite`.
    pub infinite_bytes: AtomicU64,
    /// How long each `/infinite` response went on before the client
    /// stopped reading and closed the connection.
    pub infinite_streams: Mutex<Vec<Duration>>,
}

pub struct FaultServer {
    pub addr: SocketAddr,
    pub stats: Arc<Stats>,
    runtime: tokio::runtime::Runtime,
    /// `true` while up; going down closes the listener and resets every
    /// open connection.
    up: watch::Sender<bool>,
    /// The accept loop, which owns the listener.
    accepting: Mutex<Option<JoinHandle<()>>>,
}

const OK_BODY: &[u8] = b"{\"ok\":true}";

impl FaultServer {
    pub fn start() -> FaultServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let (up, _) = watch::channel(true);
        let server = FaultServer {
            addr,
            stats: Arc::new(Stats::default()),
            runtime,
            up,
            accepting: Mutex::new(None),
        };
        server.serve(listener);
        server
    }

    fn serve(&self, listener: TcpListener) {
        let stats = self.stats.clone();
        let mut up = self.up.subscribe();
        let accepting = self.runtime.spawn(async move {
            loop {
                let stream = tokio::select! {
                    r = listener.accept() => match r {
                        Ok((s, _)) => s,
                        Err(_) => continue,
                    },
                    _ = up.wait_for(|u| !*u) => return,
                };
                stats.connections.fetch_add(1, Ordering::SeqCst);
                let stats = stats.clone();
                let mut up = up.clone();
                tokio::spawn(async move {
                    let _ = stream.set_nodelay(true);
                    tokio::select! {
                        _ = connection(&stream, &stats) => {}
                        _ = up.wait_for(|u| !*u) => {
                            // Taken down: reset, as a crashed server's
                            // kernel would.
                            let _ = stream.set_zero_linger();
                        }
                    }
                    drop(stream);
                });
            }
        });
        *self.accepting.lock().unwrap() = Some(accepting);
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Closes the listener (new connections are refused) and resets every
    /// open connection.
    pub fn go_down(&self) {
        self.up.send_replace(false);
        // Closed once the accept loop has returned (and dropped it).
        if let Some(accepting) = self.accepting.lock().unwrap().take() {
            self.runtime.block_on(accepting).unwrap();
        }
    }

    /// Listens again on the same port.
    pub fn come_back(&self) {
        let listener = self.runtime.block_on(async {
            let start = Instant::now();
            loop {
                match TcpListener::bind(self.addr).await {
                    Ok(l) => return l,
                    Err(e) if start.elapsed() > Duration::from_secs(10) => {
                        panic!("cannot listen on {} again: {e}", self.addr)
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        });
        self.up.send_replace(true);
        self.serve(listener);
    }

    /// Requests seen for `path`.
    pub fn requests(&self, path: &str) -> u64 {
        self.stats.requests.with(|r| count(r, path))
    }

    /// Waits until the server has seen at least `n` requests for each
    /// `(path, n)` (at most [`super::WAIT`]); false if it has not.
    pub fn wait_for_requests(&self, want: &[(&str, u64)]) -> bool {
        self.stats
            .requests
            .wait_until(|r| want.iter().all(|(path, n)| count(r, path) >= *n))
    }
}

fn count(requests: &[String], path: &str) -> u64 {
    requests.iter().filter(|p| *p == path).count() as u64
}

/// Serves requests on one connection until it closes or a fault ends it.
async fn connection(stream: &TcpStream, stats: &Stats) {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    loop {
        // Read one request head.
        let head_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > 64 * 1024 {
                return;
            }
            let mut chunk = [0u8; 4096];
            match read(stream, &mut chunk).await {
                Some(0) | None => return,
                Some(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let target = head.split_whitespace().nth(1).unwrap_or("/").to_string();
        let path = target.split('?').next().unwrap_or("/").to_string();
        stats.requests.push(path.clone());
        let fault = Fault::of_path(&path);
        if fault == Some(Fault::ResetRequest) {
            let _ = stream.set_zero_linger();
            return;
        }
        // Read (and drop) the request body.
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim()
                    .eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buf.len() < head_end + length {
            let mut chunk = [0u8; 4096];
            match read(stream, &mut chunk).await {
                Some(0) | None => return,
                Some(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + length);
        let keep_alive = match fault {
            None => write(stream, &response(404, b"not found")).await,
            Some(Fault::Ok) => write(stream, &response(200, OK_BODY)).await,
            Some(Fault::ServerError) => write(stream, &response(503, b"busy")).await,
            Some(Fault::ResetRequest) => unreachable!(),
            Some(Fault::ResetResponse) => {
                let mut r = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec();
                r.extend_from_slice(&[b'x'; 100]);
                let _ = write(stream, &r).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = stream.set_zero_linger();
                false
            }
            Some(Fault::Hang) => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                false
            }
            Some(Fault::Slow) => {
                let r = response(200, OK_BODY);
                for b in r.chunks(1) {
                    if !write(stream, b).await {
                        return;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                true
            }
            Some(Fault::BadStatus) => {
                write(stream, b"HTTP/1.1 2OO SURE\r\nContent-Length: 2\r\n\r\nok").await;
                false
            }
            Some(Fault::ShortBody) => {
                let mut r = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".to_vec();
                r.extend_from_slice(&[b'x'; 10]);
                write(stream, &r).await;
                false
            }
            Some(Fault::Infinite) => {
                if !write(
                    stream,
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n",
                )
                .await
                {
                    return;
                }
                // 64 KiB chunks, at most one a millisecond (about 60 MiB/s:
                // far more than the client may hold, without taking the
                // machine's CPU from the rest of the test).
                let data = vec![b'y'; 64 * 1024];
                let mut chunk = format!("{:x}\r\n", data.len()).into_bytes();
                chunk.extend_from_slice(&data);
                chunk.extend_from_slice(b"\r\n");
                let started = Instant::now();
                while write(stream, &chunk).await {
                    stats
                        .infinite_bytes
                        .fetch_add(data.len() as u64, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                stats
                    .infinite_streams
                    .lock()
                    .unwrap()
                    .push(started.elapsed());
                return;
            }
            Some(Fault::Close) => {
                write(stream, &response(200, OK_BODY)).await;
                false
            }
            Some(Fault::Redirect) => {
                let to = target
                    .split_once("?to=")
                    .map(|(_, v)| v.split('&').next().unwrap_or(v))
                    .unwrap_or("/");
                let r =
                    format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n");
                write(stream, r.as_bytes()).await
            }
            Some(Fault::HugeHeaders) => {
                let mut r = b"HTTP/1.1 200 OK\r\n".to_vec();
                for i in 0..1024 {
                    r.extend_from_slice(format!("X-Big-{i}: ").as_bytes());
                    r.extend_from_slice(&[b'h'; 1000]);
                    r.extend_from_slice(b"\r\n");
                }
                r.extend_from_slice(b"Content-Length: 2\r\n\r\nok");
                write(stream, &r).await
            }
        };
        if !keep_alive {
            // A clean close: FIN after the response.
            return;
        }
    }
}

fn response(status: u16, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        if status == 200 { "OK" } else { "Oops" },
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `Some(n)` bytes read (0 at end of stream), `None` on error.
async fn read(stream: &TcpStream, buf: &mut [u8]) -> Option<usize> {
    loop {
        if stream.readable().await.is_err() {
            return None;
        }
        match stream.try_read(buf) {
            Ok(n) => return Some(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return None,
        }
    }
}

/// Writes all of `bytes`; false on error.
async fn write(stream: &TcpStream, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        if stream.writable().await.is_err() {
            return false;
        }
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return false,
        }
    }
    true
}
