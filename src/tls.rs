//! The TLS client settings of a run, built once before any load starts:
//! which certificate authorities are trusted (the bundled Mozilla roots,
//! the system's store and `--cacert`), the client certificate of mutual
//! TLS (`--cert`, `--key`), or `--insecure`. A file that cannot be used is
//! a usage error naming the file and what is wrong with it, before any
//! server is contacted.
//!
//! [`explain`] turns a failed handshake into one sentence that names the
//! flag that fixes it: the executor notes it as the first message of the
//! `tls` error kind.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::ResolvesClientCert;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{AlertDescription, CertificateError, DigitallySignedStruct, SignatureScheme};

use crate::error::UsageError;

/// What the user asked of TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// `--insecure`: accept any certificate.
    pub insecure: bool,
    /// `--cacert FILE`: more certificate authorities to trust (PEM).
    pub cacert: Option<PathBuf>,
    /// `--cert FILE`: the client certificate chain (PEM).
    pub cert: Option<PathBuf>,
    /// `--key FILE`: the client certificate's private key (PEM).
    pub key: Option<PathBuf>,
}

/// A checked TLS client configuration.
#[derive(Debug, Clone)]
pub struct ClientTls {
    pub config: Arc<rustls::ClientConfig>,
    /// Set when a server asked for a client certificate and none was
    /// configured: what a handshake that fails later is explained by.
    pub asked_for_client_cert: Arc<AtomicBool>,
    /// `--cert` was given.
    pub has_client_cert: bool,
    pub insecure: bool,
}

impl ClientTls {
    /// Whether a server asked this run for a client certificate it had not.
    pub fn missing_client_cert(&self) -> bool {
        !self.has_client_cert && self.asked_for_client_cert.load(Ordering::Relaxed)
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the client configuration, reading and checking every file.
/// `http2` offers h2 by ALPN before http/1.1.
pub fn client_config(o: &TlsOptions, http2: bool) -> Result<ClientTls, UsageError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| UsageError(format!("cannot set up TLS: {e}")))?;
    let builder = if o.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify))
    } else {
        let (roots, pinned) = roots(o.cacert.as_deref())?;
        let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            provider(),
        )
        .build()
        .map_err(|e| UsageError(format!("cannot set up TLS: {e}")))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned { inner, pinned }))
    };
    let asked = Arc::new(AtomicBool::new(false));
    let mut config = match (&o.cert, &o.key) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert, "--cert")?;
            let key_der = read_key(key)?;
            builder.with_client_auth_cert(chain, key_der).map_err(|e| {
                UsageError(format!(
                    "--cert {} / --key {}: {}",
                    cert.display(),
                    key.display(),
                    match e {
                        rustls::Error::InconsistentKeys(_) =>
                            "the private key does not belong to the certificate".to_string(),
                        e => format!("cannot be used as a client certificate: {e}"),
                    }
                ))
            })?
        }
        (Some(_), None) => {
            return Err(UsageError(
                "--cert needs --key FILE, the certificate's private key (PEM)".into(),
            ))
        }
        (None, Some(_)) => {
            return Err(UsageError(
                "--key needs --cert FILE, the client certificate (PEM)".into(),
            ))
        }
        (None, None) => builder.with_client_cert_resolver(Arc::new(NoClientCert {
            asked: asked.clone(),
        })),
    };
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(ClientTls {
        config: Arc::new(config),
        asked_for_client_cert: asked,
        has_client_cert: o.cert.is_some(),
        insecure: o.insecure,
    })
}

/// The bundled Mozilla roots, the system's store (`SSL_CERT_FILE` and
/// `SSL_CERT_DIR` are honoured) and `--cacert`; and `--cacert`'s
/// certificates themselves, which a server may present as they are.
fn roots(
    cacert: Option<&Path>,
) -> Result<(rustls::RootCertStore, Vec<CertificateDer<'static>>), UsageError> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    // A system store that cannot be read leaves the bundled roots: the
    // certificates it did yield are still added.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    let mut pinned = Vec::new();
    if let Some(path) = cacert {
        for (i, cert) in read_certs(path, "--cacert")?.into_iter().enumerate() {
            pinned.push(cert.clone());
            roots.add(cert).map_err(|e| {
                UsageError(format!(
                    "--cacert {}: certificate {} cannot be a trusted authority: {e}",
                    path.display(),
                    i + 1
                ))
            })?;
        }
    }
    Ok((roots, pinned))
}

/// Certificate checks with the roots, and one exception: a server that
/// presents exactly a certificate of `--cacert` is trusted, as curl
/// trusts it. `openssl req -x509` makes a self-signed certificate marked
/// as an authority, which the WebPKI rules refuse as a server's own
/// (`CaUsedAsEndEntity`); a user who gave that very file means it.
#[derive(Debug)]
struct Pinned {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(_)
                if self
                    .pinned
                    .iter()
                    .any(|p| p.as_ref() == end_entity.as_ref()) =>
            {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Every certificate of a PEM file; at least one.
fn read_certs(path: &Path, flag: &str) -> Result<Vec<CertificateDer<'static>>, UsageError> {
    let bad = |why: String| UsageError(format!("{flag} {}: {why}", path.display()));
    let bytes = std::fs::read(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("is not a valid PEM file: {e}")))?;
    if certs.is_empty() {
        return Err(bad(
            "holds no certificate (a PEM block '-----BEGIN CERTIFICATE-----')".into(),
        ));
    }
    Ok(certs)
}

/// The first private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, UsageError> {
    let bad = |why: String| UsageError(format!("--key {}: {why}", path.display()));
    let bytes = std::fs::read(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => bad(
            "holds no private key (a PEM block '-----BEGIN PRIVATE KEY-----', RSA or EC)".into(),
        ),
        e => bad(format!("is not a valid PEM file: {e}")),
    })
}

/// The one sentence that explains a failed TLS handshake with `name`
/// (reached at `at`), naming the flag that fixes it.
pub fn explain(e: &rustls::Error, name: &str, at: &str, tls: &ClientTls) -> String {
    use rustls::Error as E;
    match e {
        E::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => format!(
                "the certificate of {at} is signed by an unknown authority: pass --cacert FILE (the authority's certificate, PEM) or --insecure"
            ),
            CertificateError::NotValidForName => format!(
                "the certificate of {at} is not valid for the name '{name}': pass --host NAME with a name it carries, or --insecure"
            ),
            CertificateError::NotValidForNameContext { presented, .. } => format!(
                "the certificate of {at} is not valid for the name '{name}' (it names {}): pass --host NAME with a name it carries, or --insecure",
                presented.join(", ")
            ),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => format!(
                "the certificate of {at} has expired: renew it, or pass --insecure"
            ),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => format!(
                "the certificate of {at} is not valid yet (check this machine's clock), or pass --insecure"
            ),
            other => format!(
                "the certificate of {at} was refused ({other:?}): pass --cacert FILE with the authority that signed it, or --insecure"
            ),
        },
        E::AlertReceived(alert) => explain_alert(*alert, at, tls),
        E::InvalidMessage(_) | E::InappropriateMessage { .. } => format!(
            "{at} does not answer TLS ({e}): is it a plain http:// service? check the scheme of --target"
        ),
        e => format!("the TLS handshake with {at} failed: {e}"),
    }
}

fn explain_alert(alert: AlertDescription, at: &str, tls: &ClientTls) -> String {
    use AlertDescription as A;
    match alert {
        A::CertificateRequired => format!(
            "the server at {at} requires a client certificate: pass --cert FILE --key FILE"
        ),
        _ if tls.missing_client_cert() => format!(
            "the server at {at} asked for a client certificate and ended the handshake without one ({alert:?}): pass --cert FILE --key FILE"
        ),
        A::BadCertificate | A::UnknownCA | A::CertificateUnknown | A::AccessDenied
            if tls.has_client_cert =>
        {
            format!(
                "the server at {at} refused the client certificate ({alert:?}): check that --cert is signed by an authority the server trusts"
            )
        }
        A::ProtocolVersion | A::HandshakeFailure | A::InsufficientSecurity => format!(
            "the server at {at} found no TLS version or cipher in common ({alert:?})"
        ),
        _ => format!("the server at {at} ended the TLS handshake ({alert:?})"),
    }
}

/// The sentence for a connection that failed after its handshake while the
/// server had asked for a client certificate none was given for (TLS 1.3
/// servers refuse it only then).
pub fn missing_client_cert(at: &str) -> String {
    format!("the server at {at} requires a client certificate (it asked for one and closed the connection without): pass --cert FILE --key FILE")
}

/// Without `--cert`: notes that a server asked for a client certificate,
/// and offers none.
#[derive(Debug)]
struct NoClientCert {
    asked: Arc<AtomicBool>,
}

impl ResolvesClientCert for NoClientCert {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        self.asked.store(true, Ordering::Relaxed);
        None
    }

    fn has_certs(&self) -> bool {
        false
    }
}

/// `--insecure`: accept any certificate.
#[derive(Debug)]
struct NoVerify;

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem(label: &str, der: &[u8]) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN {label}-----\n{b64}\n-----END {label}-----\n")
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn bad_files_are_named_with_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let check = |o: TlsOptions, says: &[&str]| {
            let e = client_config(&o, false).unwrap_err().to_string();
            for s in says {
                assert!(e.contains(s), "{e}");
            }
        };
        let missing = d.join("nope.pem");
        check(
            TlsOptions {
                cacert: Some(missing.clone()),
                ..TlsOptions::default()
            },
            &["--cacert", "nope.pem", "cannot read"],
        );
        let empty = write(d, "empty.pem", "just text\n");
        check(
            TlsOptions {
                cacert: Some(empty.clone()),
                ..TlsOptions::default()
            },
            &["--cacert", "empty.pem", "holds no certificate"],
        );
        let broken = write(d, "broken.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n");
        check(
            TlsOptions {
                cacert: Some(broken),
                ..TlsOptions::default()
            },
            &["broken.pem", "not a valid PEM"],
        );
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["client".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let cert_pem = write(d, "client.pem", &pem("CERTIFICATE", cert.der()));
        check(
            TlsOptions {
                cert: Some(cert_pem.clone()),
                key: Some(empty),
                ..TlsOptions::default()
            },
            &["--key", "empty.pem", "holds no private key"],
        );
        let other = write(
            d,
            "other.key",
            &pem(
                "PRIVATE KEY",
                &rcgen::KeyPair::generate().unwrap().serialize_der(),
            ),
        );
        check(
            TlsOptions {
                cert: Some(cert_pem.clone()),
                key: Some(other),
                ..TlsOptions::default()
            },
            &["other.key", "does not belong"],
        );
        let good_key = write(d, "client.key", &pem("PRIVATE KEY", &key.serialize_der()));
        let ok = client_config(
            &TlsOptions {
                cacert: Some(cert_pem.clone()),
                cert: Some(cert_pem),
                key: Some(good_key),
                ..TlsOptions::default()
            },
            true,
        )
        .unwrap();
        assert!(ok.has_client_cert);
        assert_eq!(ok.config.alpn_protocols[0], b"h2");
    }
}
