//! A recorded login's token (issue 17: "a token-like header" as a source):
//! a client logs in (`POST /login` answers `{"token": …}` and an
//! `X-Subject-Token` header) and sends the tokens in `Authorization:
//! Bearer …` and `X-Auth-Token` afterwards. The model scrubs both
//! credentials and links them to the login; the replay needs no
//! `--secret` for them (only the login's password), logs in first where
//! it has no token, and every request
//! carries a token the live service issued.

mod support;

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use support::bin::replay;
use support::har::{write_har, Entry};
use support::read_json;

#[derive(Default)]
struct State {
    next: u64,
    bearer: BTreeSet<String>,
    subject: BTreeSet<String>,
    logins: u64,
    ok: u64,
    refused: u64,
}

/// Answers a request: `POST /login` issues two fresh tokens; `GET /me`
/// wants a Bearer token it issued, `GET /projects` an `X-Auth-Token`.
fn answer(
    state: &Mutex<State>,
    req: &hyper::Request<hyper::body::Incoming>,
) -> (u16, String, Option<String>) {
    let mut s = state.lock().unwrap();
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    match (req.method().as_str(), req.uri().path()) {
        ("POST", "/login") => {
            s.next += 1;
            s.logins += 1;
            let (bearer, subject) = (
                format!("eyJ{:040x}.live", s.next * 7919),
                format!("gAAAA{:030}", s.next),
            );
            s.bearer.insert(bearer.clone());
            s.subject.insert(subject.clone());
            (200, format!(r#"{{"token":"{bearer}"}}"#), Some(subject))
        }
        ("GET", "/me") => match header("authorization").strip_prefix("Bearer ") {
            Some(t) if s.bearer.contains(t) => {
                s.ok += 1;
                (200, r#"{"name":"me"}"#.into(), None)
            }
            _ => {
                s.refused += 1;
                (401, "{}".into(), None)
            }
        },
        ("GET", "/projects") => {
            if s.subject.contains(&header("x-auth-token")) {
                s.ok += 1;
                (200, "[]".into(), None)
            } else {
                s.refused += 1;
                (401, "{}".into(), None)
            }
        }
        _ => (404, "{}".into(), None),
    }
}

struct Service {
    url: String,
    state: Arc<Mutex<State>>,
    _runtime: tokio::runtime::Runtime,
}

impl Service {
    fn start() -> Service {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (status, body, subject) = answer(&state, &req);
                        async move {
                            let mut resp =
                                hyper::Response::new(http_body_util::Full::new(Bytes::from(body)));
                            *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                            let h = resp.headers_mut();
                            h.insert(
                                "content-type",
                                hyper::header::HeaderValue::from_static("application/json"),
                            );
                            if let Some(s) = subject {
                                h.insert("x-subject-token", s.parse().unwrap());
                            }
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Service {
            url,
            state,
            _runtime: runtime,
        }
    }
}

/// 20 s of a client that logs in every 2 s and reads `/me` and
/// `/projects` with the tokens of its latest login, ~10 req/s.
fn recording() -> Vec<Entry> {
    let mut entries = Vec::new();
    for round in 0..10u64 {
        let t = round * 2000;
        let bearer = format!("eyJ{:040x}.rec", round + 1000);
        let subject = format!("gAAAA{:030}", round + 1000);
        let mut login =
            Entry::post_json("http://api.test/login", t, r#"{"user":"u","password":"p"}"#);
        login.response = Some(format!(r#"{{"token":"{bearer}"}}"#));
        login.response_headers = vec![("X-Subject-Token".into(), subject.clone())];
        entries.push(login);
        for k in 1..20u64 {
            let at = t + 10 + k * 95;
            let mut e = if k % 2 == 0 {
                let mut e = Entry::get("http://api.test/me", at);
                e.headers
                    .push(("Authorization".into(), format!("Bearer {bearer}")));
                e
            } else {
                let mut e = Entry::get("http://api.test/projects", at);
                e.headers.push(("X-Auth-Token".into(), subject.clone()));
                e
            };
            e.status = 200;
            entries.push(e);
        }
    }
    entries
}

#[test]
fn a_recorded_login_supplies_the_tokens_of_the_replay() {
    let dir = tempfile::tempdir().unwrap();
    let har = write_har(dir.path(), "login.har", &recording());
    let model = dir.path().join("login.model.gz");
    let rec = replay([
        "record".as_ref(),
        har.as_os_str(),
        "-o".as_ref(),
        model.as_os_str(),
    ]);
    assert_eq!(rec.code, Some(0), "{}", rec.output());
    let text = std::fs::read(&model).unwrap();
    let mut plain = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&text[..]), &mut plain)
        .unwrap();
    assert!(
        !plain.contains(".rec") && !plain.contains("gAAAA"),
        "a recorded token reached the model file"
    );
    let inspected = replay(["inspect".as_ref(), model.as_os_str()]);
    for link in [
        "POST /login $.token → GET /me authorization: Bearer …",
        "POST /login x-subject-token header → GET /projects x-auth-token: …",
    ] {
        assert!(
            inspected.stdout.contains(link),
            "{link}: {}",
            inspected.output()
        );
    }
    // generate shows where the token goes.
    let generated = replay([
        "generate".as_ref(),
        model.as_os_str(),
        "-n".as_ref(),
        "40".as_ref(),
        "--seed".as_ref(),
        "1".as_ref(),
    ]);
    assert!(
        generated.stdout.contains("Bearer {{produced:"),
        "{}",
        generated.output()
    );

    let service = Service::start();
    let summary = dir.path().join("summary.json");
    let run = replay([
        "run".as_ref(),
        model.as_os_str(),
        "--target".as_ref(),
        service.url.as_ref(),
        "--duration".as_ref(),
        "5s".as_ref(),
        "--seed".as_ref(),
        "4".as_ref(),
        // The login's password is the user's to give; the tokens are not.
        "--secret".as_ref(),
        "password=p".as_ref(),
        "--quiet".as_ref(),
        "--summary-export".as_ref(),
        summary.as_os_str(),
    ]);
    assert_eq!(
        run.code,
        Some(0),
        "no --secret for the tokens: {}",
        run.output()
    );
    let s = read_json(&summary);
    let sent = s["requests"]["sent"].as_u64().unwrap();
    let failed = s["requests"]["failed"].as_u64().unwrap();
    let state = service.state.lock().unwrap();
    eprintln!(
        "STATS sent {sent} failed {failed} dropped {} logins {} ok {} refused {}",
        s["requests"]["dropped"], state.logins, state.ok, state.refused
    );
    assert!(
        state.logins >= 1 && state.ok > 20,
        "logins {} ok {}: {s}",
        state.logins,
        state.ok
    );
    assert_eq!(state.refused, 0, "requests without a live token: {s}");
    assert_eq!(failed, 0, "{s}");
    // Nothing was left waiting for a token it never got.
    assert!(
        s["requests"]["dropped"].as_u64().unwrap() * 100 <= sent,
        "{s}"
    );
}
