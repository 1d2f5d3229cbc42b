//! Connections to the target: TCP — to a `--resolve` address, to what the
//! name resolves to, or to a proxy (a CONNECT tunnel) —, optionally TLS
//! (rustls, ALPN for h2), then an HTTP/1.1 or HTTP/2 handshake. Where a
//! connection goes is decided once per run; a connection that cannot be
//! made notes why, in one sentence naming the flag that fixes it
//! ([`Diagnosis`]).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

use super::classify::{classify_hyper, classify_io};
use super::diagnosis::{self, Diagnosis};
use super::h1;
use super::plan::Plan;
use super::proxy::{self, Proxy};
use crate::human;
use crate::metrics::ErrorKind;
use crate::target::Scheme;
use crate::tls::{self, ClientTls, TlsOptions};

/// How to reach the target: decided once per run ([`Connector::new`]),
/// followed per connection.
pub struct Connector {
    /// The target's host name: SNI, and what a CONNECT tunnel asks for.
    name: String,
    port: u16,
    /// Where TCP connects: the proxy, a `--resolve` address, the target.
    dial: Dial,
    /// Through this proxy (`tunnel`: with CONNECT; otherwise the requests
    /// carry absolute-form targets).
    proxy: Option<Proxy>,
    tunnel: bool,
    /// Where a tunnel goes: the target's host, or its address before
    /// `--host` renamed it.
    tunnel_host: String,
    tls: Option<(
        tokio_rustls::TlsConnector,
        rustls::pki_types::ServerName<'static>,
        ClientTls,
    )>,
    http2: bool,
    connect_timeout: Duration,
    timeout: Duration,
    /// `host:port` for messages.
    shown: String,
    diagnosis: Arc<Diagnosis>,
}

/// Where TCP connects.
enum Dial {
    /// These addresses, in turn (an IP target, `--resolve`).
    Addrs(Vec<SocketAddr>),
    /// A name to resolve per connection.
    Name(String, u16),
}

impl Dial {
    fn to(host: &str, port: u16, resolve: &[crate::target::Resolve]) -> Dial {
        if let Some(r) = resolve.iter().find(|r| r.matches(host, port)) {
            return Dial::Addrs(r.addrs.iter().map(|a| SocketAddr::new(*a, port)).collect());
        }
        match host.parse::<IpAddr>() {
            Ok(ip) => Dial::Addrs(vec![SocketAddr::new(ip, port)]),
            Err(_) => Dial::Name(host.to_string(), port),
        }
    }
}

/// A ready connection.
pub enum Sender {
    /// HTTP/1.1 through hyper: `--http2` when ALPN picks HTTP/1.1.
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
    /// HTTP/1.1 through replay's own lean client (the default).
    Raw(Box<super::h1::Conn>),
}

impl Connector {
    pub fn new(plan: &Plan) -> anyhow::Result<Connector> {
        let target = &plan.target;
        let name = target.host().to_string();
        let port = target.port();
        let tunnel_host = plan.connect_host.clone().unwrap_or_else(|| name.clone());
        let tls = if target.scheme() == Scheme::Https {
            let client = match &plan.tls {
                Some(t) => t.clone(),
                None => tls::client_config(
                    &TlsOptions {
                        insecure: plan.insecure,
                        ..TlsOptions::default()
                    },
                    plan.http2,
                )?,
            };
            // Target parsing checked that the host is a valid server name.
            let server = rustls::pki_types::ServerName::try_from(name.clone()).map_err(|_| {
                anyhow::anyhow!("--target: '{name}' is not a valid TLS server name")
            })?;
            let connector = tokio_rustls::TlsConnector::from(client.config.clone());
            Some((connector, server, client))
        } else {
            None
        };
        let dial = match &plan.proxy {
            Some(p) => Dial::to(&p.host, p.port, &plan.resolve),
            None if plan.connect_host.is_some() => Dial::to(&tunnel_host, port, &plan.resolve),
            None => Dial::to(&name, port, &plan.resolve),
        };
        Ok(Connector {
            shown: proxy::authority_of(&name, port),
            name,
            port,
            dial,
            tunnel: plan.proxy.is_some() && !plan.absolute_form(),
            proxy: plan.proxy.clone(),
            tunnel_host,
            tls,
            http2: plan.http2,
            connect_timeout: plan.connect_timeout,
            timeout: plan.timeout,
            diagnosis: plan.diagnosis.clone(),
        })
    }

    /// Counts a request that failed with `kind`, noting a first message
    /// for the kind when the connection did not note a more precise one.
    pub fn failed(&self, kind: ErrorKind) {
        self.diagnosis.note(kind, || {
            let client_cert = self.tls.as_ref().is_some_and(|t| t.2.missing_client_cert());
            match kind {
                ErrorKind::Tls | ErrorKind::Reset if client_cert => {
                    tls::missing_client_cert(&self.shown)
                }
                _ => diagnosis::generic(kind, &self.shown, self.timeout),
            }
        });
        self.diagnosis.count(kind);
    }

    /// Notes why a connection could not be made; returns its kind.
    fn refuse(&self, kind: ErrorKind, message: impl FnOnce() -> String) -> ErrorKind {
        self.diagnosis.note(kind, message);
        kind
    }

    /// The proxy's name for messages: `the proxy http://p:3128 (HTTPS_PROXY)`.
    fn via(&self) -> Option<String> {
        self.proxy
            .as_ref()
            .map(|p| format!("the proxy {} ({})", p.url, p.variable))
    }

    /// `name:port`, with the address when the name is not one.
    fn at(&self, addr: SocketAddr) -> String {
        if self.proxy.is_none() && self.name == addr.ip().to_string() {
            addr.to_string()
        } else if let Some(via) = self.via() {
            format!("{via} at {addr}")
        } else {
            format!("{} ({addr})", self.shown)
        }
    }

    /// The TCP connection: to a `--resolve` or literal address, or to the
    /// addresses the name resolves to, each in turn within the connect
    /// timeout.
    async fn dial(&self) -> Result<TcpStream, ErrorKind> {
        let looked_up;
        let addrs: &[SocketAddr] = match &self.dial {
            Dial::Addrs(a) => a,
            Dial::Name(host, port) => {
                looked_up = self.lookup(host, *port).await?;
                &looked_up
            }
        };
        let mut last = None;
        let attempt = async {
            for &addr in addrs {
                match TcpStream::connect(addr).await {
                    Ok(s) => return Ok(s),
                    Err(e) => last = Some((addr, e)),
                }
            }
            Err(())
        };
        match tokio::time::timeout(self.connect_timeout, attempt).await {
            Ok(Ok(s)) => Ok(s),
            Err(_) => Err(self.refuse(ErrorKind::ConnectTimeout, || {
                let to = addrs.first().map_or(self.shown.clone(), |a| self.at(*a));
                format!(
                    "no connection to {to} within {}: a firewall, or an address reachable only through a proxy? (check --target, --resolve, HTTPS_PROXY)",
                    human::seconds(self.connect_timeout.as_secs_f64())
                )
            })),
            Ok(Err(())) => {
                let Some((addr, e)) = last else {
                    return Err(ErrorKind::ConnectRefused);
                };
                let kind = classify_io(&e, true);
                Err(self.refuse(kind, || match (e.kind(), self.via()) {
                    (std::io::ErrorKind::ConnectionRefused, Some(via)) => format!(
                        "{via} refused the connection at {addr}: check the variable, or pass --no-proxy"
                    ),
                    (std::io::ErrorKind::ConnectionRefused, None) => format!(
                        "nothing listens on {}: check the port of --target, or start the service",
                        self.at(addr)
                    ),
                    _ => format!("cannot connect to {}: {e}", self.at(addr)),
                }))
            }
        }
    }

    /// The addresses of `host` (the target's or the proxy's name).
    async fn lookup(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, ErrorKind> {
        let fix = || match &self.proxy {
            Some(p) => format!(
                "the proxy's name '{host}' ({}) does not resolve",
                p.variable
            ),
            None => format!("'{host}' does not resolve"),
        };
        let hint = || match &self.proxy {
            Some(_) => "fix the variable, or pass --no-proxy".to_string(),
            None => format!("check the name, or pass --resolve {host}:{port}:ADDR"),
        };
        // RFC 6761: .invalid names never resolve; they are not asked for.
        let host_lc = host.trim_end_matches('.').to_ascii_lowercase();
        if host_lc == "invalid" || host_lc.ends_with(".invalid") {
            return Err(self.refuse(ErrorKind::Dns, || {
                format!("{} (.invalid names never do): {}", fix(), hint())
            }));
        }
        match tokio::net::lookup_host((host, port)).await {
            Ok(addrs) => {
                let addrs: Vec<SocketAddr> = addrs.collect();
                if addrs.is_empty() {
                    return Err(self.refuse(ErrorKind::Dns, || {
                        format!("{} (no address): {}", fix(), hint())
                    }));
                }
                Ok(addrs)
            }
            Err(e) => Err(self.refuse(ErrorKind::Dns, || format!("{} ({e}): {}", fix(), hint()))),
        }
    }

    /// Opens a connection and performs the HTTP handshake; the connection
    /// driver is spawned on the runtime. Also says how long the TLS
    /// handshake took, when there was one.
    pub async fn connect(&self) -> Result<(Sender, Option<Duration>), ErrorKind> {
        let mut tcp = self.dial().await?;
        let _ = tcp.set_nodelay(true);
        if let (Some(p), true) = (&self.proxy, self.tunnel) {
            let t = proxy::tunnel(&mut tcp, p, &self.tunnel_host, self.port);
            match tokio::time::timeout(self.connect_timeout, t).await {
                Err(_) => {
                    return Err(self.refuse(ErrorKind::ConnectTimeout, || {
                        format!(
                            "the proxy {} ({}) did not answer CONNECT within {}",
                            p.url,
                            p.variable,
                            human::seconds(self.connect_timeout.as_secs_f64())
                        )
                    }))
                }
                Ok(Err(why)) => return Err(self.refuse(ErrorKind::ConnectRefused, || why)),
                Ok(Ok(())) => {}
            }
        }
        match &self.tls {
            None if !self.http2 => Ok((
                Sender::Raw(Box::new(h1::Conn::new(h1::Stream::Tcp(tcp)))),
                None,
            )),
            None => Ok((self.handshake(tcp, self.http2).await?, None)),
            Some((tls, name, client)) => {
                let began = Instant::now();
                let stream = match tokio::time::timeout(
                    self.connect_timeout,
                    tls.connect(name.clone(), tcp),
                )
                .await
                {
                    Err(_) => return Err(ErrorKind::ConnectTimeout),
                    Ok(Err(e)) => {
                        return Err(self.refuse(ErrorKind::Tls, || {
                            match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                                Some(r) => tls::explain(r, &self.name, &self.shown, client),
                                None => format!(
                                    "{} closed the connection during the TLS handshake ({e}): is it a TLS service? check the scheme of --target",
                                    self.shown
                                ),
                            }
                        }))
                    }
                    Ok(Ok(s)) => s,
                };
                let handshaking = Some(began.elapsed());
                let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                if !self.http2 {
                    return Ok((
                        Sender::Raw(Box::new(h1::Conn::new(h1::Stream::Tls(Box::new(stream))))),
                        handshaking,
                    ));
                }
                Ok((self.handshake(stream, h2).await?, handshaking))
            }
        }
    }

    async fn handshake<S>(&self, io: S, h2: bool) -> Result<Sender, ErrorKind>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let io = TokioIo::new(io);
        if h2 {
            let (send, conn) = http2::handshake(TokioExecutor::new(), io)
                .await
                .map_err(|e| classify_hyper(&e))?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Ok(Sender::H2(send))
        } else {
            let (send, conn) = http1::handshake(io).await.map_err(|e| classify_hyper(&e))?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Ok(Sender::H1(send))
        }
    }
}
