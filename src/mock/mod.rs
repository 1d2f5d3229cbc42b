//! The built-in mock: a hyper server that answers every modelled endpoint
//! the way the recorded service did.
//!
//! A request is routed by method and path template within the recorded
//! origins its listener serves ([`router`]); the endpoint's recorded
//! responses then give the answer ([`respond`]): the response recorded for
//! the same path and query or slot values, with its recorded headers and
//! body; for values never recorded, the recorded 404 where the recording
//! shows one; else a status from the recorded mix with a recorded body of
//! the template (or filler of a recorded size). With
//! [`LatencyMode::Recorded`] a delay is drawn from the recorded time to
//! first byte. A CORS preflight (`OPTIONS` with
//! `Access-Control-Request-Method`) nobody recorded is answered from the
//! CORS headers recorded on the endpoint it asks about. Unknown routes get
//! a 404 naming the route.
//!
//! It is `replay mock MODEL` and the default target of `replay run` without
//! `--target`, so it must be cheap: routing and drawing allocate nothing
//! but the recorded headers' copy (and a JSON body rewritten for another
//! slot value), filler bodies are slices of one shared buffer, and each
//! connection draws from its own seeded RNG (ChaCha8, stream = connection
//! number), so
//! a seeded run answers the same request sequence on a connection the same
//! way. HTTP/1.1 with keep-alive and h2c (prior knowledge) on one port.
//!
//! Callers supply the listener and the shutdown signal ([`serve`]);
//! [`spawn`] binds `127.0.0.1:0` and returns a [`MockHandle`]. One
//! recorded origin per listener: [`Mock::for_origins`].

pub mod respond;
pub mod router;

use std::cell::RefCell;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

pub use respond::{Asked, LatencyMode, Responder, MAX_BODY, MAX_DELAY};
pub use router::{Origin, Router};

use crate::model::TrafficModel;

/// How long open connections get to finish after shutdown is signalled
/// before they are dropped.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How the mock answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MockOptions {
    /// Delay before answering; recorded by default.
    pub latency: LatencyMode,
    /// Seed of the per-connection RNGs.
    pub seed: u64,
}

/// Requests the mock answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MockStats {
    /// Per endpoint, indexed like `TrafficModel::endpoints`.
    pub requests: Vec<u64>,
    /// Requests that matched no endpoint (answered 404).
    pub not_found: u64,
    /// Connections accepted.
    pub connections: u64,
}

impl MockStats {
    /// All requests answered, routed or not.
    pub fn total(&self) -> u64 {
        self.requests.iter().sum::<u64>() + self.not_found
    }
}

struct Shared {
    router: Router,
    responders: Vec<Responder>,
    filler: Bytes,
    options: MockOptions,
    requests: Box<[AtomicU64]>,
    not_found: AtomicU64,
    connections: AtomicU64,
}

/// A mock of one model, ready to serve; cheap to clone (the tables are
/// shared), and its counters are shared by all clones.
#[derive(Clone)]
pub struct Mock {
    shared: Arc<Shared>,
    /// The recorded origins this one serves (numbers of
    /// [`Router::origins`]); `None`: all, by `Host`.
    served: Option<Arc<[u32]>>,
}

impl Mock {
    /// Prepares the routing table and the responses of every endpoint.
    pub fn new(model: &TrafficModel, options: MockOptions) -> Mock {
        let responders: Vec<Responder> = model.endpoints.iter().map(Responder::new).collect();
        let filler_len = responders
            .iter()
            .map(Responder::max_filler)
            .max()
            .unwrap_or(0);
        Mock {
            shared: Arc::new(Shared {
                router: Router::new(&model.endpoints),
                filler: respond::filler(filler_len),
                options,
                requests: model.endpoints.iter().map(|_| AtomicU64::new(0)).collect(),
                not_found: AtomicU64::new(0),
                connections: AtomicU64::new(0),
                responders,
            }),
            served: None,
        }
    }

    /// The recorded origins.
    pub fn origins(&self) -> &[Origin] {
        self.shared.router.origins()
    }

    /// The origins `spec` names (`http://host:port` or `host:port`); see
    /// [`Router::find_origins`].
    pub fn find_origins(&self, spec: &str) -> Vec<u32> {
        self.shared.router.find_origins(spec)
    }

    /// This mock serving only the given recorded origins (and counting
    /// into the same counters), for a listener of their own.
    pub fn for_origins(&self, origins: Vec<u32>) -> Mock {
        Mock {
            shared: self.shared.clone(),
            served: Some(origins.into()),
        }
    }

    /// Number of endpoints served.
    pub fn endpoints(&self) -> usize {
        self.shared.responders.len()
    }

    /// The counters so far.
    pub fn stats(&self) -> MockStats {
        let s = &self.shared;
        MockStats {
            requests: s
                .requests
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
            not_found: s.not_found.load(Ordering::Relaxed),
            connections: s.connections.load(Ordering::Relaxed),
        }
    }

    /// Serves connections from `listener` until `shutdown` completes, then
    /// stops accepting, lets open connections finish their in-flight
    /// requests (closing idle keep-alive connections at once) for up to
    /// [`SHUTDOWN_GRACE`], and returns the counts.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<MockStats> {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new()).keep_alive(true);
        builder.http2().timer(TokioTimer::new());
        let builder = Arc::new(builder);
        let (stop_tx, stop_rx) = watch::channel(());
        let mut conns = JoinSet::new();
        let mut number = 0u64;
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
                accepted = listener.accept() => {
                    let stream = match accepted {
                        Ok((stream, _)) => stream,
                        Err(e) => {
                            // Out of descriptors or a connection reset
                            // before accept: not the mock's end.
                            if !is_connection_error(&e) {
                                tokio::time::sleep(Duration::from_millis(10)).await;
                            }
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    self.shared.connections.fetch_add(1, Ordering::Relaxed);
                    let service = self.service(number);
                    number += 1;
                    let builder = builder.clone();
                    let mut stop = stop_rx.clone();
                    conns.spawn(async move {
                        let conn = builder.serve_connection(TokioIo::new(stream), service);
                        tokio::pin!(conn);
                        tokio::select! {
                            _ = conn.as_mut() => {}
                            _ = stop.changed() => {
                                conn.as_mut().graceful_shutdown();
                                let _ = conn.await;
                            }
                        }
                    });
                }
            }
        }
        drop(listener);
        let _ = stop_tx.send(());
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while conns.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            conns.abort_all();
        }
        Ok(self.stats())
    }

    /// The service of connection number `n`: routing and drawing happen
    /// synchronously when hyper hands over a request; the returned future
    /// only drains the request body and waits out the delay.
    fn service(
        &self,
        n: u64,
    ) -> impl hyper::service::Service<
        Request<Incoming>,
        Response = Response<Full<Bytes>>,
        Error = Infallible,
        Future = impl Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send,
    > + Send {
        let shared = self.shared.clone();
        let served = self.served.clone();
        let mut rng = ChaCha8Rng::seed_from_u64(shared.options.seed);
        rng.set_stream(n);
        let rng = RefCell::new(rng);
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let (parts, body) = req.into_parts();
            let (response, delay) = answer(&shared, served.as_deref(), &rng, &parts);
            async move {
                if !body.is_end_stream() {
                    drain(body).await;
                }
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                Ok(response)
            }
        })
    }
}

/// Routes a request and draws its answer.
fn answer(
    shared: &Shared,
    served: Option<&[u32]>,
    rng: &RefCell<ChaCha8Rng>,
    parts: &http::request::Parts,
) -> (Response<Full<Bytes>>, Duration) {
    let host = parts
        .uri
        .authority()
        .map(|a| a.as_str())
        .or_else(|| parts.headers.get(HOST).and_then(|h| h.to_str().ok()));
    let path = parts.uri.path();
    let method = parts.method.as_str();
    let routed = shared.router.route(method, host, path, served);
    if routed.is_none() && parts.method == Method::OPTIONS {
        if let Some(r) = preflight(shared, served, host, parts) {
            return (r, Duration::ZERO);
        }
    }
    let Some(i) = routed else {
        shared.not_found.fetch_add(1, Ordering::Relaxed);
        let mut r = Response::new(Full::new(Bytes::from(format!(
            "replay mock: no recorded endpoint matches {} {}\n",
            parts.method, path
        ))));
        *r.status_mut() = StatusCode::NOT_FOUND;
        r.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        return (r, Duration::ZERO);
    };
    shared.requests[i].fetch_add(1, Ordering::Relaxed);
    let responder = &shared.responders[i];
    let target = parts.uri.path_and_query().map_or(path, |p| p.as_str());
    let asked = respond::Asked {
        target,
        head: parts.method == Method::HEAD,
        conditional: parts.headers.contains_key(http::header::IF_NONE_MATCH)
            || parts.headers.contains_key(http::header::IF_MODIFIED_SINCE),
    };
    let a = responder.draw(
        &mut *rng.borrow_mut(),
        asked,
        shared.options.latency,
        &shared.filler,
    );
    let mut r = Response::new(Full::new(a.body));
    *r.status_mut() = a.status;
    if let Some(s) = a.sample {
        *r.headers_mut() = responder.headers(s).clone();
    }
    if let Some(mime) = &responder.mime {
        r.headers_mut()
            .entry(CONTENT_TYPE)
            .or_insert_with(|| mime.clone());
    }
    if let Some(n) = a.head_len {
        r.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(n));
    }
    (r, a.delay)
}

/// The answer to a CORS preflight for a route that recorded none: 204 with
/// the endpoint's recorded CORS headers, allowing the method and headers
/// asked for. `None` when the request is no preflight, asks about no
/// recorded endpoint, or the endpoint recorded no CORS headers (a browser
/// would have been refused: so is it here, with the 404).
fn preflight(
    shared: &Shared,
    served: Option<&[u32]>,
    host: Option<&str>,
    parts: &http::request::Parts,
) -> Option<Response<Full<Bytes>>> {
    use http::header::{
        ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_REQUEST_HEADERS,
        ACCESS_CONTROL_REQUEST_METHOD,
    };
    let asked = parts.headers.get(ACCESS_CONTROL_REQUEST_METHOD)?;
    let i = shared
        .router
        .route(asked.to_str().ok()?, host, parts.uri.path(), served)?;
    let mut headers = shared.responders[i].cors()?.clone();
    headers.insert(ACCESS_CONTROL_ALLOW_METHODS, asked.clone());
    if let Some(h) = parts.headers.get(ACCESS_CONTROL_REQUEST_HEADERS) {
        headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, h.clone());
    }
    shared.requests[i].fetch_add(1, Ordering::Relaxed);
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::NO_CONTENT;
    *r.headers_mut() = headers;
    Some(r)
}

/// Reads and drops a request body so the connection can be reused.
async fn drain(mut body: Incoming) {
    while let Some(frame) = body.frame().await {
        if frame.is_err() {
            break;
        }
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves a mock of `model` on `listener` until `shutdown` completes; see
/// [`Mock::serve`]. The tables are built before this returns, so the
/// future does not borrow `model`.
pub fn serve(
    listener: TcpListener,
    model: &TrafficModel,
    options: MockOptions,
    shutdown: impl Future<Output = ()>,
) -> impl Future<Output = io::Result<MockStats>> {
    Mock::new(model, options).serve(listener, shutdown)
}

/// A mock running on its own task; dropping the handle stops it too.
pub struct MockHandle {
    addr: SocketAddr,
    mock: Mock,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<io::Result<MockStats>>,
}

impl MockHandle {
    /// The bound address (`127.0.0.1:PORT`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, for use as a target.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The counts so far.
    pub fn stats(&self) -> MockStats {
        self.mock.stats()
    }

    /// Stops the mock (see [`Mock::serve`]) and returns the final counts.
    pub async fn shutdown(mut self) -> io::Result<MockStats> {
        drop(self.stop.take());
        (&mut self.task).await.map_err(io::Error::other)?
    }
}

/// Starts a mock of `model` on `127.0.0.1` with an OS-chosen port, on a
/// task of the current tokio runtime.
pub async fn spawn(model: &TrafficModel, options: MockOptions) -> io::Result<MockHandle> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let mock = Mock::new(model, options);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(mock.clone().serve(listener, async move {
        let _ = stopped.await;
    }));
    Ok(MockHandle {
        addr,
        mock,
        stop: Some(stop),
        task,
    })
}
