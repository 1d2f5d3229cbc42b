//! Connections to the target: TCP, optionally TLS (rustls, ALPN for h2),
//! then an HTTP/1.1 or HTTP/2 handshake with hyper.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

use anyhow::Context;

use super::h1;
use crate::metrics::ErrorKind;
use crate::target::{Scheme, Target};

/// How to reach the target.
#[derive(Clone)]
pub struct Connector {
    pub host: String,
    pub port: u16,
    pub tls: Option<(
        tokio_rustls::TlsConnector,
        rustls::pki_types::ServerName<'static>,
    )>,
    pub http2: bool,
    pub connect_timeout: Duration,
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
    pub fn new(
        target: &Target,
        http2: bool,
        insecure: bool,
        connect_timeout: Duration,
    ) -> anyhow::Result<Connector> {
        let host = target.host().to_string();
        let port = target.port();
        let tls = if target.scheme() == Scheme::Https {
            let mut config = if insecure {
                rustls::ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .context("cannot set up TLS")?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerify))
                .with_no_client_auth()
            } else {
                let roots = rustls::RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                };
                rustls::ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .context("cannot set up TLS")?
                .with_root_certificates(roots)
                .with_no_client_auth()
            };
            config.alpn_protocols = if http2 {
                vec![b"h2".to_vec(), b"http/1.1".to_vec()]
            } else {
                vec![b"http/1.1".to_vec()]
            };
            // Target parsing checked that the host is a valid server name.
            let name = rustls::pki_types::ServerName::try_from(host.clone())
                .with_context(|| format!("--target: '{host}' is not a valid TLS server name"))?;
            Some((tokio_rustls::TlsConnector::from(Arc::new(config)), name))
        } else {
            None
        };
        Ok(Connector {
            host,
            port,
            tls,
            http2,
            connect_timeout,
        })
    }

    /// Opens a connection and performs the HTTP handshake; the connection
    /// driver is spawned on the runtime.
    pub async fn connect(&self) -> Result<Sender, ErrorKind> {
        let addr = (self.host.as_str(), self.port);
        let tcp = match tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr)).await {
            Err(_) => return Err(ErrorKind::ConnectTimeout),
            Ok(Err(e)) => return Err(classify_io(&e, true)),
            Ok(Ok(s)) => s,
        };
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None if !self.http2 => Ok(Sender::Raw(Box::new(h1::Conn::new(h1::Stream::Tcp(tcp))))),
            None => self.handshake(tcp, self.http2).await,
            Some((tls, name)) => {
                let stream = match tokio::time::timeout(
                    self.connect_timeout,
                    tls.connect(name.clone(), tcp),
                )
                .await
                {
                    Err(_) => return Err(ErrorKind::ConnectTimeout),
                    Ok(Err(_)) => return Err(ErrorKind::Tls),
                    Ok(Ok(s)) => s,
                };
                let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                if !self.http2 {
                    return Ok(Sender::Raw(Box::new(h1::Conn::new(h1::Stream::Tls(
                        Box::new(stream),
                    )))));
                }
                self.handshake(stream, h2).await
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

/// Names an I/O error the way the summary counts it.
pub fn classify_io(e: &std::io::Error, connecting: bool) -> ErrorKind {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => ErrorKind::ConnectRefused,
        K::TimedOut if connecting => ErrorKind::ConnectTimeout,
        K::TimedOut => ErrorKind::Timeout,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => ErrorKind::Reset,
        // The peer ended the stream inside a message: a body shorter than
        // its Content-Length, a chunked body without its last chunk (hyper's
        // body decoder), TLS without close_notify. A framing fault, not a
        // reset: nothing reset the connection.
        K::UnexpectedEof | K::InvalidData => ErrorKind::Protocol,
        _ if connecting => ErrorKind::ConnectRefused,
        _ => ErrorKind::Other,
    }
}

/// Names a hyper error the way the summary counts it.
pub fn classify_hyper(e: &hyper::Error) -> ErrorKind {
    if e.is_parse() || e.is_parse_status() || e.is_user() {
        return ErrorKind::Protocol;
    }
    if e.is_timeout() {
        return ErrorKind::Timeout;
    }
    if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
        return ErrorKind::Reset;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return classify_io(io, false);
        }
        if let Some(h2) = s.downcast_ref::<h2::Error>() {
            return classify_h2(h2);
        }
        source = s.source();
    }
    ErrorKind::Other
}

/// Names an HTTP/2 error: the peer broke the protocol (h2 detected it, or
/// the peer says so), or it reset the stream or went away.
fn classify_h2(e: &h2::Error) -> ErrorKind {
    use h2::Reason as R;
    if let Some(io) = e.get_io() {
        return classify_io(io, false);
    }
    match e.reason() {
        // Detected here: what came in is not valid HTTP/2 (an HTTP/1.1-only
        // server answering --http2 gets FRAME_SIZE_ERROR).
        Some(_) if e.is_library() => ErrorKind::Protocol,
        // The server refused, cancelled or gave up on the stream, or closed
        // the connection.
        Some(
            R::NO_ERROR | R::REFUSED_STREAM | R::CANCEL | R::INTERNAL_ERROR | R::ENHANCE_YOUR_CALM,
        ) => ErrorKind::Reset,
        Some(R::INADEQUATE_SECURITY) => ErrorKind::Tls,
        Some(_) => ErrorKind::Protocol,
        None => ErrorKind::Other,
    }
}

/// `--insecure`: accept any certificate.
#[derive(Debug)]
struct NoVerify;

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &rustls::pki_types::CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &rustls::pki_types::CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error, ErrorKind as K};

    #[test]
    fn io_errors_are_named() {
        let kind = |k: K, connecting| classify_io(&Error::from(k), connecting);
        assert_eq!(kind(K::ConnectionRefused, true), ErrorKind::ConnectRefused);
        assert_eq!(kind(K::TimedOut, true), ErrorKind::ConnectTimeout);
        assert_eq!(kind(K::TimedOut, false), ErrorKind::Timeout);
        assert_eq!(kind(K::ConnectionReset, false), ErrorKind::Reset);
        assert_eq!(kind(K::BrokenPipe, false), ErrorKind::Reset);
        // hyper's body decoder: the stream ended before Content-Length.
        assert_eq!(kind(K::UnexpectedEof, false), ErrorKind::Protocol);
        assert_eq!(kind(K::InvalidData, false), ErrorKind::Protocol);
        assert_eq!(kind(K::PermissionDenied, true), ErrorKind::ConnectRefused);
        assert_eq!(kind(K::PermissionDenied, false), ErrorKind::Other);
    }

    #[test]
    fn http2_errors_are_named() {
        use h2::Reason as R;
        assert_eq!(classify_h2(&R::PROTOCOL_ERROR.into()), ErrorKind::Protocol);
        assert_eq!(
            classify_h2(&R::FRAME_SIZE_ERROR.into()),
            ErrorKind::Protocol
        );
        assert_eq!(classify_h2(&R::REFUSED_STREAM.into()), ErrorKind::Reset);
        assert_eq!(classify_h2(&R::CANCEL.into()), ErrorKind::Reset);
        assert_eq!(classify_h2(&R::INADEQUATE_SECURITY.into()), ErrorKind::Tls);
    }
}
