//! The built-in mock against a real client over loopback: routing, status
//! mix, bodies, latency, HEAD, h2c, determinism and shutdown. Every server
//! binds 127.0.0.1:0.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use replay::ingest::{Exchange, Response};
use replay::mock::{self, LatencyMode, MockOptions};
use replay::model::{BuildOptions, ModelBuilder, TrafficModel};

fn ex(i: i64, method: &str, target: &str, status: u16, size: u64, wait_ms: f64) -> Exchange {
    Exchange {
        started_ns: 1_700_000_000_000_000_000 + i * 10_000_000,
        method: method.into(),
        scheme: "http".into(),
        authority: "api.example.com".into(),
        target: target.into(),
        response: Some(Response {
            status,
            mime: "application/json".into(),
            body_size: Some(size),
            wait_ms: Some(wait_ms),
            total_ms: Some(wait_ms + 1.0),
            ..Default::default()
        }),
        client: Some("10.0.0.1".into()),
        ..Default::default()
    }
}

/// GET /posts/{id}: 90% 200 (100..2000 bytes) / 10% 404 (50 bytes);
/// GET /users/me with a recorded body; POST /posts 201; GET /slow with a
/// 200 ms time to first byte.
fn model() -> TrafficModel {
    let mut b = ModelBuilder::new(BuildOptions::default());
    let mut i = 0;
    for k in 0..200 {
        let (status, size) = if k % 10 == 9 {
            (404, 50)
        } else {
            (200, 100 + (k as u64 * 97) % 1900)
        };
        b.observe(&ex(
            i,
            "GET",
            &format!("/posts/{}", 1000 + k),
            status,
            size,
            2.0,
        ));
        i += 1;
    }
    for _ in 0..20 {
        let mut x = ex(i, "GET", "/users/me", 200, 21, 1.0);
        x.response.as_mut().unwrap().body = Some(br#"{"id":1,"name":"me"}"#.to_vec());
        b.observe(&x);
        i += 1;
    }
    for _ in 0..10 {
        b.observe(&ex(i, "POST", "/posts", 201, 30, 3.0));
        i += 1;
    }
    for _ in 0..5 {
        b.observe(&ex(i, "GET", "/slow", 200, 10, 200.0));
        i += 1;
    }
    b.finish()
}

fn client(h2: bool) -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new())
        .http2_only(h2)
        .build_http()
}

fn no_latency(seed: u64) -> MockOptions {
    MockOptions {
        latency: LatencyMode::None,
        seed,
    }
}

struct Got {
    status: StatusCode,
    mime: Option<String>,
    length: Option<usize>,
    body: Bytes,
}

async fn send(c: &Client<HttpConnector, Full<Bytes>>, method: Method, url: String) -> Got {
    let body = if method == Method::POST {
        Full::new(Bytes::from_static(br#"{"title":"hello"}"#))
    } else {
        Full::new(Bytes::new())
    };
    let req = Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .body(body)
        .unwrap();
    let resp = c.request(req).await.expect("request");
    let status = resp.status();
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let mime = header("content-type");
    let length = header("content-length").map(|v| v.parse().unwrap());
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Got {
        status,
        mime,
        length,
        body,
    }
}

#[tokio::test]
async fn answers_with_the_recorded_mix_sizes_and_bodies() {
    let m = model();
    let keys: Vec<String> = m.endpoints.iter().map(|e| e.key()).collect();
    let posts = keys.iter().position(|k| k == "GET /posts/{id}").unwrap();
    let me = keys.iter().position(|k| k == "GET /users/me").unwrap();
    let handle = mock::spawn(&m, no_latency(42)).await.unwrap();
    let c = client(false);
    let base = handle.url();

    let n = 2000;
    let mut not_found = 0;
    for k in 0..n {
        let g = send(&c, Method::GET, format!("{base}/posts/{}", k * 7)).await;
        assert_eq!(g.mime.as_deref(), Some("application/json"));
        // The model keeps one size distribution per endpoint (not per
        // status): every body lies in the recorded range, 50..=1999.
        assert!(
            (50..=1999).contains(&g.body.len()),
            "{} body of {} bytes",
            g.status,
            g.body.len()
        );
        match g.status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => not_found += 1,
            s => panic!("unexpected {s}"),
        }
    }
    let share = not_found as f64 / n as f64;
    assert!((share - 0.1).abs() < 0.025, "404 share {share}");

    // A literal template wins over the slot at the same place.
    let g = send(&c, Method::GET, format!("{base}/users/me")).await;
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(&g.body[..], br#"{"id":1,"name":"me"}"#);

    let g = send(&c, Method::POST, format!("{base}/posts")).await;
    assert_eq!(g.status, StatusCode::CREATED);
    assert!((27..=33).contains(&g.body.len()), "{}", g.body.len());

    // Unknown routes and methods: 404 naming the route.
    for (method, path) in [(Method::GET, "/nope/1"), (Method::DELETE, "/posts/1")] {
        let g = send(&c, method.clone(), format!("{base}{path}")).await;
        assert_eq!(g.status, StatusCode::NOT_FOUND);
        let text = String::from_utf8(g.body.to_vec()).unwrap();
        assert!(text.contains(&format!("{method} {path}")), "{text}");
        assert_eq!(g.mime.as_deref(), Some("text/plain; charset=utf-8"));
    }

    // HEAD: no body, the length the GET would have had.
    let g = send(&c, Method::HEAD, format!("{base}/users/me")).await;
    assert_eq!(g.status, StatusCode::OK);
    assert!(g.body.is_empty());
    assert_eq!(g.length, Some(20));

    let stats = handle.shutdown().await.unwrap();
    assert_eq!(stats.requests[posts], n);
    assert_eq!(stats.requests[me], 2, "GET and HEAD");
    assert_eq!(stats.not_found, 2);
    assert_eq!(stats.total(), n + 5);
    assert!(stats.connections >= 1);
}

#[tokio::test]
async fn recorded_latency_is_applied_and_none_answers_at_once() {
    let m = model();
    let recorded = mock::spawn(
        &m,
        MockOptions {
            latency: LatencyMode::Recorded,
            seed: 1,
        },
    )
    .await
    .unwrap();
    let instant = mock::spawn(&m, no_latency(1)).await.unwrap();
    let c = client(false);
    // Warm the connections so connecting is not timed.
    send(&c, Method::GET, format!("{}/users/me", recorded.url())).await;
    send(&c, Method::GET, format!("{}/users/me", instant.url())).await;

    let t = Instant::now();
    let g = send(&c, Method::GET, format!("{}/slow", recorded.url())).await;
    let slow = t.elapsed();
    assert_eq!(g.status, StatusCode::OK);
    // Every recorded TTFB was 200 ms, so the drawn delay is 200 ms.
    assert!(
        slow >= Duration::from_millis(195) && slow < Duration::from_secs(5),
        "{slow:?}"
    );

    // The median of five, so that one stall of a loaded machine does not
    // fail the test.
    let mut fast = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        send(&c, Method::GET, format!("{}/slow", instant.url())).await;
        fast.push(t.elapsed());
    }
    fast.sort();
    assert!(fast[2] < Duration::from_millis(150), "{fast:?}");
    recorded.shutdown().await.unwrap();
    instant.shutdown().await.unwrap();
}

#[tokio::test]
async fn h2c_is_served_on_the_same_port() {
    let m = model();
    let handle = mock::spawn(&m, no_latency(5)).await.unwrap();
    let c = client(true);
    let g = send(&c, Method::GET, format!("{}/users/me", handle.url())).await;
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(&g.body[..], br#"{"id":1,"name":"me"}"#);
    let g = send(&c, Method::POST, format!("{}/posts", handle.url())).await;
    assert_eq!(g.status, StatusCode::CREATED);
    handle.shutdown().await.unwrap();
}

/// The same seed answers the same request sequence on one connection the
/// same way; another seed does not.
#[tokio::test]
async fn answers_are_reproducible_from_the_seed() {
    let m = model();
    async fn run(m: &TrafficModel, seed: u64) -> Vec<(u16, usize)> {
        let handle = mock::spawn(m, no_latency(seed)).await.unwrap();
        let c = client(false);
        let mut out = Vec::new();
        for k in 0..100 {
            let g = send(&c, Method::GET, format!("{}/posts/{k}", handle.url())).await;
            out.push((g.status.as_u16(), g.body.len()));
        }
        handle.shutdown().await.unwrap();
        out
    }
    let a = run(&m, 7).await;
    assert_eq!(a, run(&m, 7).await);
    assert_ne!(a, run(&m, 8).await);
}

#[tokio::test]
async fn shutdown_closes_idle_connections_and_the_port() {
    let m = model();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(mock::serve(listener, &m, no_latency(0), async move {
        let _ = stopped.await;
    }));
    let c = client(false);
    // Leaves an idle keep-alive connection in the client's pool.
    let g = send(&c, Method::GET, format!("http://{addr}/users/me")).await;
    assert_eq!(g.status, StatusCode::OK);

    let t = Instant::now();
    stop.send(()).unwrap();
    let stats = server.await.unwrap().unwrap();
    // Idle connections are closed, not waited for: well before the grace
    // period for busy ones ends.
    assert!(t.elapsed() < mock::SHUTDOWN_GRACE / 2, "{:?}", t.elapsed());
    assert_eq!(stats.total(), 1);
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

/// The example recording (examples/demo.har) models and mocks as the
/// examples README says.
#[tokio::test]
async fn the_example_recording_is_served() {
    let input = replay::cli::load_input(
        &[std::path::PathBuf::from("examples/demo.har")],
        &Default::default(),
    )
    .unwrap();
    let keys: Vec<String> = input.model.endpoints.iter().map(|e| e.key()).collect();
    for k in [
        "GET /posts/{id}",
        "GET /users/me",
        "GET /search",
        "GET /posts",
        "POST /posts",
        "GET /health",
    ] {
        assert!(keys.contains(&k.to_string()), "{k} in {keys:?}");
    }
    let handle = mock::spawn(&input.model, no_latency(3)).await.unwrap();
    let c = client(false);
    let g = send(&c, Method::GET, format!("{}/posts/123", handle.url())).await;
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(g.mime.as_deref(), Some("application/json"));
    let g = send(&c, Method::GET, format!("{}/users/me", handle.url())).await;
    let v: serde_json::Value = serde_json::from_slice(&g.body).unwrap();
    assert_eq!(v["name"], "Demo User");
    let g = send(&c, Method::POST, format!("{}/posts", handle.url())).await;
    assert_eq!(g.status, StatusCode::CREATED);
    handle.shutdown().await.unwrap();
}
