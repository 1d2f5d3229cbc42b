//! Pointed at a real environment: certificates signed by an authority made
//! here (trusted only with `--cacert`), mutual TLS, `--resolve` and
//! `--host` for names that resolve nowhere (`.invalid`, RFC 2606), a tiny
//! proxy (CONNECT tunnels and absolute-form requests) taken from
//! `HTTPS_PROXY`/`HTTP_PROXY`, and the one sentence a run that cannot work
//! stops with (exit 1) — naming the flag that fixes it.
//!
//! Every server and the proxy listen on 127.0.0.1:0; no traffic leaves the
//! machine (an `.invalid` name is never looked up).

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use support::bin::{Replay, Run};
use support::har::{write_har, Entry};
use support::server::{Behaviour, Server};

/// Killed as hung after this.
const HANG_LIMIT: Duration = Duration::from_secs(90);

/// How long a run that cannot work may take to say so (it stops after its
/// first second; a loaded 2-core machine is slow to start).
const FAIL_FAST_BOUND: Duration = Duration::from_secs(25);

/// A made-up name: `.invalid` never resolves (RFC 2606).
const NAME: &str = "api.staging.invalid";

/// A certificate authority made for the test, and certificates it signs.
struct Ca {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pem: String,
    der: rustls::pki_types::CertificateDer<'static>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        Ca {
            pem: pem("CERTIFICATE", cert.der()),
            der: cert.der().clone(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// A certificate for `names`: (chain, key) in DER, and both in PEM.
    fn issue(
        &self,
        names: &[&str],
    ) -> (
        Vec<rustls::pki_types::CertificateDer<'static>>,
        rustls::pki_types::PrivateKeyDer<'static>,
        String,
        String,
    ) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
        let (cert_pem, key_pem) = (
            pem("CERTIFICATE", cert.der()),
            pem("PRIVATE KEY", &key.serialize_der()),
        );
        (vec![cert.der().clone()], der, cert_pem, key_pem)
    }

    fn write(&self, dir: &Path) -> PathBuf {
        let p = dir.join("ca.pem");
        std::fs::write(&p, &self.pem).unwrap();
        p
    }
}

/// DER as a PEM block (rcgen is built without its PEM feature).
fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// An HTTPS server whose certificate (for 127.0.0.1, localhost and
/// [`NAME`]) `ca` signed; with `clients`, it requires a client
/// certificate that authority signed.
fn https_server(ca: &Ca, clients: Option<&Ca>) -> Server {
    let (chain, key, _, _) = ca.issue(&["127.0.0.1", "localhost", NAME]);
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match clients {
        None => builder.with_no_client_auth(),
        Some(c) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(c.der.clone()).unwrap();
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider(),
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key).unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Server::start(Behaviour {
        tls: Some(Arc::new(config)),
        ..Behaviour::default()
    })
}

/// `replay CAPTURE --summary-export S --quiet --seed 7 --arrival constant
/// ARGS…` with the environment `env`: the run and its summary (Null when
/// none was written). The capture is `GET /ok` at 10 requests/s.
fn replay(args: &[&str], env: &[(&str, &str)]) -> (Run, Value) {
    let dir = tempfile::tempdir().unwrap();
    let entries: Vec<Entry> = (0..20u64)
        .map(|i| Entry::get("http://shop.test/ok", i * 100))
        .collect();
    let har = write_har(dir.path(), "capture.har", &entries);
    let summary = dir.path().join("summary.json");
    let mut all: Vec<&str> = vec![
        har.to_str().unwrap(),
        "--summary-export",
        summary.to_str().unwrap(),
        "--quiet",
        "--seed",
        "7",
        "--arrival",
        "constant",
    ];
    all.extend_from_slice(args);
    let mut r = Replay::new(&all).deadline(HANG_LIMIT);
    for (k, v) in env {
        r = r.env(k, v);
    }
    let run = r.run();
    let json = std::fs::read_to_string(&summary)
        .map(|s| serde_json::from_str(&s).unwrap())
        .unwrap_or(Value::Null);
    (run, json)
}

fn u(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("{v} is not an unsigned integer"))
}

/// A run that cannot work stopped within seconds with exit 1, its summary
/// written, saying `says` on stderr in its first line.
fn assert_failed_fast(run: &Run, s: &Value, kind: &str, says: &[&str]) {
    let out = run.output();
    assert_eq!(run.code, Some(1), "{out}");
    assert!(
        run.elapsed < FAIL_FAST_BOUND,
        "took {:?}: {out}",
        run.elapsed
    );
    let first = run
        .stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line: {out}"));
    for w in says {
        assert!(first.contains(w), "'{w}' not in: {first}");
    }
    assert!(run.stderr.contains("--no-fail-fast"), "{out}");
    assert_eq!(s["ended"], "failed_fast", "{s}");
    let sent = u(&s["requests"]["sent"]);
    assert!(sent >= 3, "{out}");
    assert_eq!(s["errors"][kind], sent, "{out}");
    // The report's first message of the kind is the same sentence.
    let detail = s["errors_detail"][kind].as_str().unwrap_or_default();
    assert!(
        first.ends_with(detail) && !detail.is_empty(),
        "{detail} / {first}"
    );
    assert!(
        run.stdout.contains(&format!("    {kind}: {detail}")),
        "{out}"
    );
}

#[test]
fn an_untrusted_certificate_stops_within_seconds_and_cacert_fixes_it() {
    let ca = Ca::new("replay test CA");
    let server = https_server(&ca, None);
    let target = server.https_url();
    let (run, s) = replay(&["--target", &target, "--duration", "60s"], &[]);
    assert_failed_fast(
        &run,
        &s,
        "tls",
        &[
            "signed by an unknown authority",
            "--cacert FILE",
            "--insecure",
        ],
    );
    assert!(server.seen().is_empty());

    let dir = tempfile::tempdir().unwrap();
    let ca_file = ca.write(dir.path());
    let ca_arg = ca_file.to_str().unwrap();
    for http2 in [false, true] {
        let mut args = vec![
            "--target",
            &target,
            "--duration",
            "2s",
            "--cacert",
            ca_arg,
            "--threshold",
            "http_req_duration{status:200}: p(95)<10s",
        ];
        if http2 {
            args.push("--http2");
        }
        let (run, s) = replay(&args, &[]);
        let out = run.output();
        assert_eq!(run.code, Some(0), "{out}");
        assert_eq!(u(&s["requests"]["failed"]), 0, "{out}");
        let sent = u(&s["requests"]["sent"]);
        assert!(sent >= 15, "{out}");
        // k6's phases, measured: every request has a blocked, sending,
        // waiting and receiving time; each new connection a TCP and a TLS
        // setup time, which are not zero.
        let m = &s["metrics"];
        for phase in [
            "http_req_blocked",
            "http_req_sending",
            "http_req_waiting",
            "http_req_receiving",
        ] {
            assert_eq!(u(&m[phase]["count"]), sent, "{phase}: {out}");
        }
        let handshakes = u(&m["http_req_tls_handshaking"]["count"]);
        assert!(handshakes >= 1, "{out}");
        assert_eq!(handshakes, u(&m["http_req_connecting"]["count"]), "{out}");
        assert!(
            m["http_req_tls_handshaking"]["max"].as_f64().unwrap() > 0.0,
            "{out}"
        );
        // A TLS handshake takes longer than the loopback service's answer
        // to a request on an open connection.
        assert!(
            m["http_req_tls_handshaking"]["max"].as_f64().unwrap()
                > m["http_req_sending"]["med"].as_f64().unwrap(),
            "{out}"
        );
        // The exact-code threshold saw the 200s (all of them here).
        let code = &m["http_req_duration{status:200}"];
        assert_eq!(u(&code["count"]), sent, "{out}");
        assert_eq!(code["thresholds"]["p(95)<10s"]["ok"], true, "{out}");
        assert!(!s["status_histograms"].as_array().unwrap().is_empty());
        assert!(
            run.stdout
                .contains("via: trusting the authorities of --cacert"),
            "{out}"
        );
    }
}

#[test]
fn a_server_that_requires_a_client_certificate_says_so_and_cert_key_pass() {
    let server_ca = Ca::new("server CA");
    let client_ca = Ca::new("client CA");
    let server = https_server(&server_ca, Some(&client_ca));
    let dir = tempfile::tempdir().unwrap();
    let ca_file = server_ca.write(dir.path());
    let target = server.https_url();
    let ca_arg = ca_file.to_str().unwrap();
    let (run, s) = replay(
        &["--target", &target, "--duration", "60s", "--cacert", ca_arg],
        &[],
    );
    assert_failed_fast(
        &run,
        &s,
        "tls",
        &["requires a client certificate", "--cert FILE --key FILE"],
    );
    assert!(server.seen().is_empty());

    let (_, _, cert_pem, key_pem) = client_ca.issue(&["load-tester"]);
    let cert = dir.path().join("client.pem");
    let key = dir.path().join("client.key");
    std::fs::write(&cert, cert_pem).unwrap();
    std::fs::write(&key, key_pem).unwrap();
    let (run, s) = replay(
        &[
            "--target",
            &target,
            "--duration",
            "2s",
            "--cacert",
            ca_arg,
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
        &[],
    );
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    assert_eq!(u(&s["requests"]["failed"]), 0, "{out}");
    assert_eq!(
        server.seen().len() as u64,
        u(&s["requests"]["sent"]),
        "{out}"
    );
    assert!(
        run.stdout.contains("via: client certificate --cert"),
        "{out}"
    );
}

#[test]
fn resolve_and_host_reach_a_made_up_name_with_its_sni_and_host() {
    let ca = Ca::new("replay test CA");
    let server = https_server(&ca, None);
    let dir = tempfile::tempdir().unwrap();
    let ca_file = ca.write(dir.path());
    let port = server.addr.port();
    let by_name = format!("https://{NAME}:{port}");
    let resolve = format!("{NAME}:{port}:127.0.0.1");
    let by_addr = server.https_url();
    for args in [
        vec!["--target", by_name.as_str(), "--resolve", resolve.as_str()],
        vec!["--target", by_addr.as_str(), "--host", NAME],
    ] {
        let mut all = args.clone();
        all.extend(["--duration", "2s", "--cacert", ca_file.to_str().unwrap()]);
        let before = server.seen().len();
        let (run, s) = replay(&all, &[]);
        let out = run.output();
        assert_eq!(run.code, Some(0), "{args:?}: {out}");
        assert_eq!(u(&s["requests"]["failed"]), 0, "{out}");
        let seen = server.seen();
        assert!(seen.len() > before, "{out}");
        for r in &seen[before..] {
            assert_eq!(r.sni.as_deref(), Some(NAME), "{r:?}");
            assert_eq!(r.host, Some(format!("{NAME}:{port}")), "{r:?}");
        }
    }
}

/// A proxy on 127.0.0.1:0 that, like a proxy inside a network, reaches
/// names the client cannot resolve: every connection goes to `upstream`,
/// whatever it asks for. It logs each connection's first line.
struct TinyProxy {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
}

impl TinyProxy {
    fn start(upstream: SocketAddr) -> TinyProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let log = seen.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let log = log.clone();
                std::thread::spawn(move || TinyProxy::serve(client, upstream, &log));
            }
        });
        TinyProxy { addr, seen }
    }

    fn serve(mut client: TcpStream, upstream: SocketAddr, log: &Mutex<Vec<String>>) {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if client.read(&mut byte).unwrap_or(0) == 0 {
                return;
            }
            head.push(byte[0]);
        }
        let text = String::from_utf8_lossy(&head).to_string();
        log.lock()
            .unwrap()
            .push(text.lines().next().unwrap_or_default().to_string());
        let Ok(mut server) = TcpStream::connect(upstream) else {
            return;
        };
        if text.starts_with("CONNECT ") {
            let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
        } else {
            // Absolute-form: the server takes it as is.
            let _ = server.write_all(&head);
        }
        let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        let up = std::thread::spawn(move || {
            let _ = std::io::copy(&mut c2, &mut s2);
            let _ = s2.shutdown(std::net::Shutdown::Write);
        });
        let _ = std::io::copy(&mut server, &mut client);
        let _ = client.shutdown(std::net::Shutdown::Write);
        let _ = up.join();
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

#[test]
fn https_proxy_carries_a_tunnel_and_no_proxy_goes_direct() {
    let ca = Ca::new("replay test CA");
    let server = https_server(&ca, None);
    let proxy = TinyProxy::start(server.addr);
    let dir = tempfile::tempdir().unwrap();
    let ca_file = ca.write(dir.path());
    let port = server.addr.port();
    let target = format!("https://{NAME}:{port}");
    let proxy_url = proxy.url();
    let args = [
        "--target",
        target.as_str(),
        "--cacert",
        ca_file.to_str().unwrap(),
    ];
    let mut through = args.to_vec();
    through.extend(["--duration", "2s"]);
    let (run, s) = replay(&through, &[("HTTPS_PROXY", &proxy_url)]);
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    assert_eq!(u(&s["requests"]["failed"]), 0, "{out}");
    let tunnels = proxy.seen();
    assert!(!tunnels.is_empty(), "{out}");
    assert!(
        tunnels
            .iter()
            .all(|l| l == &format!("CONNECT {NAME}:{port} HTTP/1.1")),
        "{tunnels:?}"
    );
    assert!(server.seen().iter().all(|r| r.sni.as_deref() == Some(NAME)));
    assert!(
        run.stdout.contains(&format!(
            "via: through the proxy {proxy_url} (from HTTPS_PROXY"
        )),
        "{out}"
    );
    let network = s["network"].as_array().unwrap();
    assert!(
        network
            .iter()
            .any(|n| n.as_str().unwrap().contains(&proxy_url)),
        "{s}"
    );

    // --no-proxy: the name is looked up here, and .invalid never resolves.
    let mut direct = args.to_vec();
    direct.extend(["--duration", "60s", "--no-proxy"]);
    let (run, s) = replay(&direct, &[("HTTPS_PROXY", &proxy_url)]);
    assert_failed_fast(
        &run,
        &s,
        "dns",
        &[&format!("'{NAME}' does not resolve"), "--resolve"],
    );
    assert_eq!(proxy.seen().len(), tunnels.len(), "the proxy was not used");
}

#[test]
fn http_proxy_gets_absolute_form_requests_and_loopback_goes_direct() {
    let server = Server::start(Behaviour::default());
    let proxy = TinyProxy::start(server.addr);
    let port = server.addr.port();
    let target = format!("http://shop.invalid:{port}");
    let (run, s) = replay(
        &["--target", &target, "--duration", "2s"],
        &[("http_proxy", &proxy.url())],
    );
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    assert_eq!(u(&s["requests"]["failed"]), 0, "{out}");
    let first = proxy.seen();
    assert!(!first.is_empty(), "{out}");
    assert!(
        first
            .iter()
            .all(|l| l == &format!("GET http://shop.invalid:{port}/ok HTTP/1.1")),
        "{first:?}"
    );
    // A loopback target never goes through the proxy.
    let (run, _) = replay(
        &["--target", &server.url(), "--duration", "1s"],
        &[("http_proxy", &proxy.url()), ("HTTP_PROXY", &proxy.url())],
    );
    assert_eq!(run.code, Some(0), "{}", run.output());
    assert_eq!(proxy.seen().len(), first.len());
}

#[test]
fn connection_refused_stops_with_its_sentence_unless_no_fail_fast() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let target = format!("http://{addr}");
    let (run, s) = replay(&["--target", &target, "--duration", "60s"], &[]);
    assert_failed_fast(
        &run,
        &s,
        "connect_refused",
        &[&format!("nothing listens on {addr}"), "--target"],
    );

    let (run, s) = replay(
        &["--target", &target, "--duration", "2s", "--no-fail-fast"],
        &[],
    );
    let out = run.output();
    assert_ne!(run.code, Some(1), "{out}");
    assert_eq!(s["ended"], "completed", "{out}");
    assert!(u(&s["requests"]["sent"]) >= 15, "{out}");
    let detail = s["errors_detail"]["connect_refused"].as_str().unwrap();
    assert!(detail.contains("nothing listens"), "{detail}");
}

#[test]
fn unusable_certificate_files_are_refused_before_any_load() {
    let ca = Ca::new("replay test CA");
    let server = https_server(&ca, None);
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("ca.txt");
    std::fs::write(&not_pem, "not a certificate\n").unwrap();
    let target = server.https_url();
    for (args, says) in [
        (
            vec!["--cacert", not_pem.to_str().unwrap()],
            vec!["--cacert", "ca.txt", "holds no certificate"],
        ),
        (
            vec!["--cacert", "/nonexistent/ca.pem"],
            vec!["/nonexistent/ca.pem", "cannot read"],
        ),
        (
            vec![
                "--cert",
                not_pem.to_str().unwrap(),
                "--key",
                not_pem.to_str().unwrap(),
            ],
            vec!["--cert", "ca.txt", "holds no certificate"],
        ),
    ] {
        let mut all = vec!["--target", target.as_str(), "--duration", "2s"];
        all.extend(args);
        let (run, s) = replay(&all, &[]);
        let out = run.output();
        assert_eq!(run.code, Some(2), "{out}");
        for w in says {
            assert!(run.stderr.contains(w), "'{w}': {out}");
        }
        assert_eq!(s, Value::Null, "nothing ran");
    }
    assert!(server.seen().is_empty() && server.tls_failures() == 0);
}

/// `openssl req -x509` makes a self-signed certificate marked as an
/// authority; the WebPKI rules refuse such a certificate as a server's own
/// (`CaUsedAsEndEntity`), and a real nginx with one failed every request
/// even with `--cacert` naming that very file. Given with `--cacert`, the
/// exact certificate is trusted, as curl trusts it.
#[test]
fn a_self_signed_authority_certificate_given_with_cacert_is_trusted() {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key_der)
        .unwrap();
    let server = Server::start(Behaviour {
        tls: Some(Arc::new(config)),
        ..Behaviour::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("self-signed.pem");
    std::fs::write(&file, pem("CERTIFICATE", cert.der())).unwrap();
    let target = server.https_url();
    let (run, s) = replay(
        &[
            "--target",
            &target,
            "--duration",
            "2s",
            "--cacert",
            file.to_str().unwrap(),
        ],
        &[],
    );
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    assert_eq!(u(&s["requests"]["failed"]), 0, "{out}");
    assert!(u(&s["requests"]["sent"]) >= 15, "{out}");
}
