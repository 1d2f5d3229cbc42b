//! A configurable in-process HTTP server on 127.0.0.1:0 (hyper-util's
//! auto builder: HTTP/1.1, h2c by prior knowledge, and h2 or http/1.1 by
//! ALPN over TLS). It logs every request — arrival time, HTTP version,
//! method and path, `Authorization` — and can stall, slow down, or fail
//! with a status, or answer some paths slower than others, to every
//! request or to chosen paths ([`Behaviour`]).
//! Tests wait on what it saw ([`Server::wait_for_requests`]) rather than
//! sleeping.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

use super::Log;

/// Which status the server answers.
#[derive(Clone, Copy, Default)]
pub enum Fail {
    /// 200 to everything.
    #[default]
    Never,
    /// 503 while more than this many requests arrived in the last second.
    AboveRate(usize),
    /// 500 to everything.
    Always,
    /// 404 to the requests whose `METHOD /path` (query stripped) the
    /// function accepts, 200 to the rest: a service that lacks part of
    /// the recorded data.
    NotFound(fn(&str) -> bool),
}

/// How the server answers.
#[derive(Clone, Default)]
pub struct Behaviour {
    pub fail: Fail,
    /// Requests arriving in `[at, at + for)` after the server started wait
    /// until the end of the stall.
    pub stall: Option<(Duration, Duration)>,
    /// Requests arriving this long after the first one wait this much
    /// before the answer.
    pub slow_after: Option<(Duration, Duration)>,
    /// Per-path delays: a request whose `METHOD /path` (query stripped)
    /// starts with the first element waits the second before the answer;
    /// the first match applies (`""` matches every request).
    pub delays: Vec<(&'static str, Duration)>,
    /// Serve TLS (see [`self_signed`]) instead of cleartext.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Request {
    /// Since the server started.
    pub at: Duration,
    pub version: http::Version,
    /// "METHOD /path" (query stripped).
    pub key: String,
    pub authorization: Option<String>,
    /// The TLS server name the client asked for (SNI).
    pub sni: Option<String>,
    /// `Host` (HTTP/1.1) or the `:authority` (HTTP/2).
    pub host: Option<String>,
}

/// A connection's byte stream, cleartext or TLS.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

pub struct Server {
    pub addr: SocketAddr,
    log: Arc<Log<Request>>,
    /// TLS handshakes that failed (the client rejected the certificate).
    tls_failures: Arc<Mutex<u64>>,
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    pub fn start(b: Behaviour) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let log: Arc<Log<Request>> = Arc::default();
        let tls_failures: Arc<Mutex<u64>> = Arc::default();
        let start = Instant::now();
        let (log2, tls_failures2) = (log.clone(), tls_failures.clone());
        runtime.spawn(async move {
            let acceptor = b.tls.clone().map(tokio_rustls::TlsAcceptor::from);
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let (log, b, acceptor) = (log2.clone(), b.clone(), acceptor.clone());
                let tls_failures = tls_failures2.clone();
                tokio::spawn(async move {
                    let (io, sni): (Box<dyn Io>, Option<String>) = match acceptor {
                        None => (Box::new(stream), None),
                        Some(a) => match a.accept(stream).await {
                            Ok(tls) => {
                                let sni = tls.get_ref().1.server_name().map(str::to_string);
                                (Box::new(tls), sni)
                            }
                            Err(_) => {
                                *tls_failures.lock().unwrap() += 1;
                                return;
                            }
                        },
                    };
                    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (log, b, sni) = (log.clone(), b.clone(), sni.clone());
                        async move {
                            let at = start.elapsed();
                            let version = req.version();
                            let key = format!("{} {}", req.method(), req.uri().path());
                            let not_found = matches!(b.fail, Fail::NotFound(f) if f(&key));
                            let delay = b
                                .delays
                                .iter()
                                .find(|(prefix, _)| key.starts_with(prefix))
                                .map(|(_, d)| *d);
                            let authorization = req
                                .headers()
                                .get("authorization")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_string);
                            let host = req
                                .headers()
                                .get("host")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_string)
                                .or_else(|| req.uri().authority().map(|a| a.to_string()));
                            let _ = req.into_body().collect().await;
                            let seen = Request {
                                at,
                                version,
                                key,
                                authorization,
                                sni,
                                host,
                            };
                            let (recent, first) = log.push_then(seen, |l| {
                                let recent = l
                                    .iter()
                                    .rev()
                                    .take_while(|s| {
                                        at.saturating_sub(s.at) < Duration::from_secs(1)
                                    })
                                    .count();
                                (recent, l[0].at)
                            });
                            if let Some((from, len)) = b.stall {
                                let now = start.elapsed();
                                if now >= from && now < from + len {
                                    tokio::time::sleep(from + len - now).await;
                                }
                            }
                            if let Some((after, delay)) = b.slow_after {
                                if at.saturating_sub(first) >= after {
                                    tokio::time::sleep(delay).await;
                                }
                            }
                            if let Some(d) = delay {
                                tokio::time::sleep(d).await;
                            }
                            let status = match b.fail {
                                Fail::Never => 200,
                                Fail::AboveRate(n) if recent <= n => 200,
                                Fail::AboveRate(_) => 503,
                                Fail::Always => 500,
                                Fail::NotFound(_) if not_found => 404,
                                Fail::NotFound(_) => 200,
                            };
                            let mut resp = hyper::Response::new(Full::new(Bytes::from_static(
                                b"{\"ok\":true}",
                            )));
                            *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let builder = auto::Builder::new(TokioExecutor::new());
                    let _ = builder.serve_connection(TokioIo::new(io), svc).await;
                });
            }
        });
        Server {
            addr,
            log,
            tls_failures,
            _runtime: runtime,
        }
    }

    /// `http://ADDR` (see [`Server::https_url`] for a TLS server).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn https_url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Every request so far, in arrival order.
    pub fn seen(&self) -> Vec<Request> {
        self.log.snapshot()
    }

    pub fn total(&self) -> u64 {
        self.log.with(|l| l.len() as u64)
    }

    /// "METHOD /path" → count.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.log.with(|l| {
            let mut m = BTreeMap::new();
            for r in l {
                *m.entry(r.key.clone()).or_insert(0) += 1;
            }
            m
        })
    }

    /// The `Authorization` values seen, in order.
    pub fn authorizations(&self) -> Vec<String> {
        self.log
            .with(|l| l.iter().filter_map(|r| r.authorization.clone()).collect())
    }

    pub fn tls_failures(&self) -> u64 {
        *self.tls_failures.lock().unwrap()
    }

    /// Waits until the server has seen `n` requests (at most
    /// [`super::WAIT`]); false if it has not.
    pub fn wait_for_requests(&self, n: usize) -> bool {
        self.log.wait_until(|l| l.len() >= n)
    }
}

/// A TLS server config with a fresh self-signed certificate for 127.0.0.1
/// and localhost, offering h2 and http/1.1 by ALPN.
pub fn self_signed() -> Arc<rustls::ServerConfig> {
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    let certs = vec![cert.der().clone()];
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}
