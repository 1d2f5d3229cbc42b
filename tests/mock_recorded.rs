//! The mock serves recorded responses to a real client over loopback:
//! recorded end-to-end headers (hop-by-hop and per-message ones made
//! afresh, cookies scrubbed), two origins' `/` told apart by `Host`, the
//! recorded 404 for an id never recorded, a CORS preflight nobody recorded,
//! and `record`/`inspect` naming the endpoint whose body did not fit.

mod support;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use replay::mock::{self, LatencyMode, MockOptions};
use support::bin::replay;
use support::har::{write_har, Entry};

fn entries() -> Vec<Entry> {
    let with = |url: &str, at: u64, status: u16, body: &str, headers: &[(&str, &str)]| Entry {
        status,
        response: Some(body.to_string()),
        response_headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        ..Entry::get(url, at)
    };
    let cors = ("Access-Control-Allow-Origin", "http://app.test");
    vec![
        with(
            "http://app.test/",
            0,
            200,
            r#"{"page":"home"}"#,
            &[
                ("Set-Cookie", "sid=recorded-session-9f8e; Path=/; HttpOnly"),
                ("Connection", "keep-alive"),
                ("Keep-Alive", "timeout=5"),
                ("Date", "Tue, 14 Nov 2023 22:13:20 GMT"),
                ("X-Frame-Options", "DENY"),
            ],
        ),
        with(
            "http://api.test/",
            100,
            200,
            r#"{"service":"api"}"#,
            &[cors],
        ),
        with(
            "http://api.test/items?page=1",
            200,
            200,
            r#"[{"id":1},{"id":2}]"#,
            &[
                cors,
                ("X-Total-Count", "42"),
                ("Link", "<http://api.test/items?page=2>; rel=\"next\""),
                ("ETag", "W/\"p1\""),
                ("Cache-Control", "private, max-age=30"),
                ("Transfer-Encoding", "chunked"),
            ],
        ),
        with(
            "http://api.test/items/1",
            300,
            200,
            r#"{"id":1,"name":"one"}"#,
            &[cors],
        ),
        with(
            "http://api.test/items/2",
            400,
            200,
            r#"{"id":2,"name":"two"}"#,
            &[cors],
        ),
        with(
            "http://api.test/items/999",
            500,
            404,
            r#"{"error":"no such item"}"#,
            &[cors],
        ),
        with(
            "http://app.test/big",
            600,
            200,
            &format!(r#"{{"blob":"{}"}}"#, "x".repeat(1_200_000)),
            &[],
        ),
    ]
}

#[tokio::test]
async fn recorded_headers_origins_unknown_ids_and_preflights() {
    let dir = tempfile::tempdir().unwrap();
    let har = write_har(dir.path(), "two-origins.har", &entries());
    let model = dir.path().join("m.model.gz");
    let rec = replay([
        "record".as_ref(),
        har.as_os_str(),
        "-o".as_ref(),
        model.as_os_str(),
    ]);
    assert_eq!(rec.code, Some(0), "{}", rec.output());
    let lost = "response bodies not kept beyond the caps";
    assert!(
        rec.stderr.contains(lost) && rec.stderr.contains("GET app.test/big (1 of 1)"),
        "{}",
        rec.stderr
    );
    let inspect = replay(["inspect".as_ref(), model.as_os_str()]);
    assert!(
        inspect.stdout.contains(lost) || inspect.stderr.contains(lost),
        "{}",
        inspect.output()
    );

    let m = replay::model::file::load(&model).unwrap();
    let handle = mock::spawn(
        &m,
        MockOptions {
            latency: LatencyMode::None,
            seed: 1,
        },
    )
    .await
    .unwrap();
    let c = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let get = |method: Method, host: &'static str, path: &str, extra: &[(&str, &str)]| {
        let mut r = Request::builder()
            .method(method)
            .uri(format!("{}{path}", handle.url()))
            .header("host", host);
        for (n, v) in extra {
            r = r.header(*n, *v);
        }
        let req = r.body(Full::new(Bytes::new())).unwrap();
        let c = c.clone();
        async move {
            let resp = c.request(req).await.unwrap();
            let (parts, body) = resp.into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            (
                parts.status,
                parts.headers,
                String::from_utf8_lossy(&body).into_owned(),
            )
        }
    };
    let header = |h: &HeaderMap, n: &str| h.get(n).map(|v| v.to_str().unwrap().to_string());

    // Two origins' `/`, by Host; the recorded headers, scrubbed, afresh.
    let (status, h, body) = get(Method::GET, "app.test", "/", &[]).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, r#"{"page":"home"}"#)
    );
    assert_eq!(
        header(&h, "set-cookie").as_deref(),
        Some("sid={{secret:sid}}; Path=/; HttpOnly")
    );
    assert_eq!(header(&h, "x-frame-options").as_deref(), Some("DENY"));
    assert_eq!(header(&h, "keep-alive"), None);
    assert_ne!(
        header(&h, "date").as_deref(),
        Some("Tue, 14 Nov 2023 22:13:20 GMT")
    );
    let (_, _, body) = get(Method::GET, "api.test", "/", &[]).await;
    assert_eq!(body, r#"{"service":"api"}"#);

    let (status, h, body) = get(Method::GET, "api.test", "/items?page=1", &[]).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, r#"[{"id":1},{"id":2}]"#)
    );
    assert_eq!(header(&h, "x-total-count").as_deref(), Some("42"));
    assert_eq!(header(&h, "etag").as_deref(), Some("W/\"p1\""));
    assert_eq!(
        header(&h, "cache-control").as_deref(),
        Some("private, max-age=30")
    );
    assert_eq!(
        header(&h, "link").as_deref(),
        Some("<http://api.test/items?page=2>; rel=\"next\"")
    );
    assert_eq!(header(&h, "transfer-encoding"), None);
    assert_eq!(header(&h, "content-length").as_deref(), Some("19"));

    // Recorded ids as recorded; one never recorded gets the recorded 404.
    let (_, _, body) = get(Method::GET, "api.test", "/items/2", &[]).await;
    assert_eq!(body, r#"{"id":2,"name":"two"}"#);
    let (status, h, body) = get(Method::GET, "api.test", "/items/5", &[]).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::NOT_FOUND, r#"{"error":"no such item"}"#)
    );
    assert_eq!(
        header(&h, "access-control-allow-origin").as_deref(),
        Some("http://app.test")
    );

    // A preflight the recording does not have: the recorded CORS headers.
    let (status, h, _) = get(
        Method::OPTIONS,
        "api.test",
        "/items?page=1",
        &[
            ("origin", "http://app.test"),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", "x-client"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        header(&h, "access-control-allow-origin").as_deref(),
        Some("http://app.test")
    );
    assert_eq!(
        header(&h, "access-control-allow-methods").as_deref(),
        Some("GET")
    );
    assert_eq!(
        header(&h, "access-control-allow-headers").as_deref(),
        Some("x-client")
    );
    // Not a preflight, or about nothing recorded: 404.
    let (status, _, _) = get(Method::OPTIONS, "api.test", "/items?page=1", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = get(
        Method::OPTIONS,
        "api.test",
        "/nothing",
        &[("access-control-request-method", "GET")],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The body over the cap: filler of the recorded size.
    let (status, _, body) = get(Method::GET, "app.test", "/big", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.starts_with("replay mock filler"), "{}", &body[..40]);
    handle.shutdown().await.unwrap();
}

/// `--map-all` prints one address per recorded origin, each answering
/// from its origin alone; `--map` of an origin the recording lacks is a
/// usage error naming the recorded ones.
#[tokio::test]
async fn map_all_prints_the_table_and_each_address_serves_its_origin() {
    let dir = tempfile::tempdir().unwrap();
    let har = write_har(dir.path(), "two-origins.har", &entries()[..3]);
    let har = har.to_str().unwrap();
    let bad = replay(["mock", har, "--map", "http://nowhere.test=127.0.0.1:0"]);
    assert_eq!(bad.code, Some(2), "{}", bad.output());
    assert!(
        bad.stderr
            .contains("no recorded origin is http://nowhere.test")
            && bad.stderr.contains("the recording has")
            && bad.stderr.contains("http://app.test")
            && bad.stderr.contains("http://api.test"),
        "{}",
        bad.stderr
    );

    let mut mock =
        support::bin::Replay::new(["mock", har, "--map-all", "--latency", "none"]).spawn();
    let url = |line: String| line.split_whitespace().last().unwrap().to_string();
    let app = url(mock.wait_for_stdout("http://app.test "));
    let api = url(mock.wait_for_stdout("http://api.test "));
    assert_ne!(app, api);
    let c = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    for (base, want) in [(&app, r#"{"page":"home"}"#), (&api, r#"{"service":"api"}"#)] {
        // The Host names the other origin: the address decides.
        let req = Request::get(format!("{base}/"))
            .header("host", "app.test")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let resp = c.request(req).await.unwrap();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(String::from_utf8_lossy(&body), want, "{base}");
    }
    let req = Request::get(format!("{app}/items?page=1"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(
        c.request(req).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    mock.signal(support::bin::Signal::Term);
    let run = mock.finish();
    assert_eq!(run.code, Some(0), "{}", run.output());
    assert!(run.stdout.contains("3 requests on"), "{}", run.stdout);
}
