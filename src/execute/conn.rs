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

use super::classify::{classify_hyper, classify_io};
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
