//! `replay mock` as a real client uses it: headless Chromium records a
//! session of a small app of the test's own through the DevTools protocol
//! (an HTML page and a 6 KiB script on one origin, a JSON API with paging
//! headers, ETag and CORS, preflighted, on another), the session becomes a
//! HAR, the app's servers stop, and `replay mock` serves the HAR, once with
//! `--map` (one address per origin) and once on one address routing by
//! `Host`. Chromium loads the page again: the DOM must show what it showed
//! during the recording, and an item never recorded answers 404 as the
//! recording did for one.
//!
//! Chromium keeps the recorded origin names (`http://app.test`,
//! `http://api.test`) throughout; `--host-resolver-rules` points them at
//! the test's servers, then at the mock's addresses. Every server binds
//! 127.0.0.1:0 and nothing leaves loopback. Without Chromium the test says
//! so and skips.

mod support;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use support::bin::Replay;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

const TEST: &str = "chromium_shows_the_recorded_app_served_by_the_mock";

#[test]
fn chromium_shows_the_recorded_app_served_by_the_mock() {
    let Some(browser) = chromium() else {
        support::skip(TEST, "no chromium installed (apt install chromium)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();

    // Record.
    let (app, api) = runtime.block_on(async { (serve(app_origin).await, serve(api_origin).await) });
    let mut b = Browser::launch(&browser, dir.path(), &rules(app.0, api.0));
    let recorded = b.load_app();
    let har = b.har();
    drop(b);
    runtime.block_on(async {
        let _ = app.1.send(());
        let _ = api.1.send(());
    });
    assert!(
        recorded.contains("Bellows") && recorded.contains("total=42"),
        "the app did not start during the recording: {recorded}"
    );
    let har_path = dir.path().join("session.har");
    std::fs::write(&har_path, serde_json::to_vec_pretty(&har).unwrap()).unwrap();
    let urls: Vec<&str> = har["log"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["request"]["url"].as_str().unwrap())
        .collect();
    assert!(urls.contains(&"http://app.test/app.js"), "{urls:?}");

    // Replay: one address per recorded origin.
    let har_arg = har_path.to_str().unwrap();
    let mut mock = Replay::new([
        "mock",
        har_arg,
        "--latency",
        "none",
        "--map",
        "http://app.test=127.0.0.1:0",
        "--map",
        "api.test=127.0.0.1:0",
    ])
    .spawn();
    let app_at = port_of(&mock.wait_for_stdout("http://app.test "));
    let api_at = port_of(&mock.wait_for_stdout("http://api.test "));
    let mut b = Browser::launch(&browser, dir.path(), &rules(app_at, api_at));
    let replayed = b.load_app();
    let unknown = b.evaluate("fetch('http://api.test/items/12345').then(r => r.status + ' ' + r.headers.get('content-type'))");
    drop(b);
    mock.signal(support::bin::Signal::Term);
    let run = mock.finish();
    assert_eq!(run.code, Some(0), "{}", run.output());
    assert_eq!(
        replayed, recorded,
        "the page differs when served by the mock"
    );
    assert_eq!(unknown, "404 application/json; charset=utf-8");

    // Replay: every origin on one address, told apart by Host.
    let mut mock = Replay::new([
        "mock",
        har_arg,
        "--latency",
        "none",
        "--listen",
        "127.0.0.1:0",
    ])
    .spawn();
    let line = mock.wait_for_stderr("listening on http://");
    let at = port_of(
        line.split("listening on ")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap(),
    );
    let mut b = Browser::launch(&browser, dir.path(), &rules(at, at));
    let one_address = b.load_app();
    drop(b);
    mock.signal(support::bin::Signal::Term);
    let run = mock.finish();
    assert_eq!(run.code, Some(0), "{}", run.output());
    assert_eq!(one_address, recorded, "one address, routed by Host");
}

fn chromium() -> Option<String> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new("sh")
                .args(["-c", &format!("command -v {b}")])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(str::to_string)
}

/// The port at the end of a table line `ORIGIN  http://127.0.0.1:PORT`.
fn port_of(line: &str) -> u16 {
    line.trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"))
}

/// Chromium's resolver rules sending the recorded names to our ports,
/// and every other name nowhere.
fn rules(app: u16, api: u16) -> String {
    format!("MAP app.test:80 127.0.0.1:{app}, MAP api.test:80 127.0.0.1:{api}, MAP * ~NOTFOUND")
}

// ---------------------------------------------------------------------------
// The app.

const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Items</title></head>
<body><div id="app"><h1 id="service">loading</h1><ul id="items"></ul>
<p id="meta"></p><p id="detail"></p><p id="missing"></p></div>
<script src="/app.js"></script></body></html>
"#;

/// The app: reads the service name, the first page of items with its
/// `X-Total-Count`, `Link` and `ETag` (a custom request header makes the
/// browser send a CORS preflight), one item, and one that does not exist.
/// `window.appDone` resolves to the rendered text.
const SCRIPT: &str = r#"(function () {
  'use strict';
  var api = 'http://api.test';
  function text(id, value) { document.getElementById(id).textContent = value; }
  window.appDone = (async function () {
    var svc = await fetch(api + '/').then(function (r) { return r.json(); });
    var list = await fetch(api + '/items?page=1', { headers: { 'X-Client': 'replay-test' } });
    var items = await list.json();
    var next = (list.headers.get('Link') || '').replace(/^<([^>]*)>.*$/, '$1');
    text('service', svc.service + ' v' + svc.version);
    document.getElementById('items').innerHTML = items.map(function (i) {
      return '<li data-id="' + i.id + '">' + i.name + ' (' + i.sku + ')</li>';
    }).join('');
    text('meta', 'total=' + list.headers.get('X-Total-Count') + ' etag=' + list.headers.get('ETag') +
      ' next=' + next + ' cache=' + list.headers.get('Cache-Control'));
    var detail = await fetch(api + '/items/' + items[1].id).then(function (r) { return r.json(); });
    text('detail', detail.name + ': ' + detail.description);
    var missing = await fetch(api + '/items/999');
    text('missing', 'item 999: ' + missing.status + ' ' + (await missing.json()).error);
    return document.getElementById('app').innerText;
  })().catch(function (e) { return 'error: ' + e; });
})();
"#;

/// The script as served: the app and a changelog comment, about 6 KiB
/// like a small bundle (over the 4 KiB older models kept).
fn script() -> String {
    let mut s = SCRIPT.to_string();
    for k in 0..60 {
        s += &format!(
            "// changelog {k:02}: the list renders items with their stock keeping units.\n"
        );
    }
    s
}

type Answer = Response<Full<Bytes>>;

fn answer(status: StatusCode, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Answer {
    let mut r = Response::builder().status(status);
    for (n, v) in headers {
        r = r.header(*n, *v);
    }
    r.body(Full::new(body.into())).unwrap()
}

fn app_origin(req: &Request<Incoming>) -> Answer {
    match req.uri().path() {
        "/" => answer(
            StatusCode::OK,
            &[
                ("Content-Type", "text/html; charset=utf-8"),
                ("Set-Cookie", "session=s3cr3t-session-id; Path=/; HttpOnly"),
                ("Cache-Control", "no-cache"),
            ],
            PAGE,
        ),
        "/app.js" => answer(
            StatusCode::OK,
            &[
                ("Content-Type", "text/javascript; charset=utf-8"),
                ("Cache-Control", "public, max-age=600"),
            ],
            script(),
        ),
        _ => answer(
            StatusCode::NOT_FOUND,
            &[("Content-Type", "text/plain")],
            "not found",
        ),
    }
}

const CORS: [(&str, &str); 2] = [
    ("Access-Control-Allow-Origin", "http://app.test"),
    ("Vary", "Origin"),
];

fn api_origin(req: &Request<Incoming>) -> Answer {
    let json = |status, extra: &[(&str, &str)], v: Value| {
        let mut h = vec![("Content-Type", "application/json; charset=utf-8")];
        h.extend(CORS);
        h.extend(extra);
        answer(status, &h, v.to_string())
    };
    if req.method() == http::Method::OPTIONS {
        let mut h = CORS.to_vec();
        h.push(("Access-Control-Allow-Methods", "GET"));
        h.push(("Access-Control-Allow-Headers", "X-Client"));
        return answer(StatusCode::NO_CONTENT, &h, "");
    }
    let items = [
        (1, "Anvil", "AN-100", "cast iron, 50 kg"),
        (2, "Bellows", "BE-220", "leather and oak"),
        (3, "Crucible", "CR-310", "clay graphite, 2 l"),
    ];
    match (req.uri().path(), req.uri().query()) {
        ("/", _) => json(
            StatusCode::OK,
            &[],
            json!({"service": "forge-api", "version": 3}),
        ),
        ("/items", Some("page=1")) => json(
            StatusCode::OK,
            &[
                ("X-Total-Count", "42"),
                ("Link", "<http://api.test/items?page=2>; rel=\"next\""),
                ("ETag", "W/\"items-p1-v7\""),
                ("Cache-Control", "private, max-age=30"),
                ("Access-Control-Expose-Headers", "X-Total-Count, Link, ETag"),
            ],
            json!(items
                .iter()
                .map(|(id, name, sku, _)| json!({"id": id, "name": name, "sku": sku}))
                .collect::<Vec<_>>()),
        ),
        (p, _) => {
            let found = p
                .strip_prefix("/items/")
                .and_then(|id| id.parse::<i64>().ok())
                .and_then(|id| items.iter().find(|i| i.0 == id));
            match found {
                Some((id, name, sku, description)) => json(
                    StatusCode::OK,
                    &[],
                    json!({"id": id, "name": name, "sku": sku, "description": description}),
                ),
                None => json(StatusCode::NOT_FOUND, &[], json!({"error": "no such item"})),
            }
        }
    }
}

/// Serves `route` on 127.0.0.1:0 until the sender is used or dropped.
async fn serve(route: fn(&Request<Incoming>) -> Answer) -> (u16, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                _ = &mut stopped => break,
                a = listener.accept() => match a {
                    Ok((s, _)) => s,
                    Err(_) => continue,
                },
            };
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: Request<Incoming>| async move {
                        Ok::<_, Infallible>(route(&req))
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (port, stop)
}

// ---------------------------------------------------------------------------
// Chromium through the DevTools protocol.

/// A headless Chromium with its own profile, driven over the DevTools
/// websocket; killed when dropped.
struct Browser {
    child: Child,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
    /// Network events by request id, in arrival order.
    events: BTreeMap<String, Vec<Value>>,
    order: Vec<String>,
    /// Page events (`Page.loadEventFired`...) not yet waited for.
    page: Vec<String>,
}

impl Browser {
    fn launch(browser: &str, dir: &Path, rules: &str) -> Browser {
        let profile = tempfile::tempdir_in(dir).unwrap().keep();
        let mut child = Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--host-resolver-rules={rules}"))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        // Chromium names its websocket on stderr; the rest is drained.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in stderr.lines().map_while(Result::ok) {
                if let Some(at) = line.find("ws://") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(line[at..].trim().to_string());
                    }
                }
            }
        });
        let url = rx
            .recv_timeout(support::WAIT)
            .expect("chromium did not print its DevTools websocket");
        let (ws, _) = tungstenite::connect(url.as_str()).unwrap();
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(support::WAIT)).unwrap();
        }
        let mut b = Browser {
            child,
            ws,
            session: String::new(),
            next_id: 0,
            events: BTreeMap::new(),
            order: Vec::new(),
            page: Vec::new(),
        };
        let targets = b.call("Target.getTargets", json!({}));
        let page = targets["targetInfos"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "page")
            .expect("a page target")["targetId"]
            .clone();
        let attached = b.call(
            "Target.attachToTarget",
            json!({"targetId": page, "flatten": true}),
        );
        b.session = attached["sessionId"].as_str().unwrap().to_string();
        b.call("Network.enable", json!({}));
        b.call("Page.enable", json!({}));
        b
    }

    /// Sends a command (to the page once attached) and returns its result,
    /// keeping the events that arrive meanwhile.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.try_call(method, params)
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    fn try_call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        self.ws.send(Message::text(msg.to_string())).unwrap();
        loop {
            let m = self.receive();
            if m["id"] == id {
                return match m.get("error") {
                    Some(e) => Err(e.clone()),
                    None => Ok(m["result"].clone()),
                };
            }
        }
    }

    fn receive(&mut self) -> Value {
        loop {
            let msg = self
                .ws
                .read()
                .unwrap_or_else(|e| panic!("DevTools websocket: {e}"));
            let Message::Text(t) = msg else { continue };
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if let Some(method) = v["method"].as_str() {
                if method.starts_with("Page.") {
                    self.page.push(method.to_string());
                }
                if method.starts_with("Network.") {
                    if let Some(id) = v["params"]["requestId"].as_str() {
                        if !self.events.contains_key(id) {
                            self.order.push(id.to_string());
                        }
                        self.events
                            .entry(id.to_string())
                            .or_default()
                            .push(v.clone());
                    }
                }
            }
            return v;
        }
    }

    /// Evaluates `expression` in the page, awaiting a promise; its value
    /// as a string.
    fn evaluate(&mut self, expression: &str) -> String {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
        );
        match &r["result"]["value"] {
            Value::String(s) => s.clone(),
            other => panic!("{expression}: {other} ({r})"),
        }
    }

    /// Opens the app and waits until it has rendered; the page's text,
    /// or why the app did not start.
    fn load_app(&mut self) -> String {
        self.page.clear();
        let nav = self.call("Page.navigate", json!({"url": "http://app.test/"}));
        assert!(nav.get("errorText").is_none(), "navigation failed: {nav}");
        // The script has run by the load event.
        while !self.page.iter().any(|m| m == "Page.loadEventFired") {
            self.receive();
        }
        self.evaluate("window.appDone || ('the app did not start: ' + document.body.innerText)")
    }

    /// The session so far as a HAR 1.2 document: every request that
    /// finished, with response headers and bodies.
    fn har(&mut self) -> Value {
        // Every request seen has finished or failed (events, not time).
        let done = |evs: &Vec<Value>| {
            evs.iter().any(|e| {
                e["method"] == "Network.loadingFinished" || e["method"] == "Network.loadingFailed"
            })
        };
        while !self.events.values().all(done) {
            self.receive();
        }
        let mut entries = Vec::new();
        for id in self.order.clone() {
            let evs = self.events[&id].clone();
            let find = |m: &str| evs.iter().find(|e| e["method"] == m).map(|e| &e["params"]);
            let (Some(sent), Some(got), Some(fin)) = (
                find("Network.requestWillBeSent"),
                find("Network.responseReceived"),
                find("Network.loadingFinished"),
            ) else {
                continue;
            };
            // A preflight or a 204 has no body to fetch.
            let body = self
                .try_call("Network.getResponseBody", json!({"requestId": id}))
                .unwrap_or_else(|_| json!({"body": ""}));
            eprintln!(
                "recorded {} {} {} ({})",
                sent["request"]["method"],
                sent["request"]["url"],
                got["response"]["status"],
                sent["type"]
            );
            entries.push(entry(sent, got, fin, &body));
        }
        json!({"log": {"version": "1.2", "creator": {"name": TEST, "version": "1"}, "entries": entries}})
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A HAR entry from the DevTools events of one request.
fn entry(sent: &Value, got: &Value, fin: &Value, body: &Value) -> Value {
    let pairs = |h: &Value| -> Vec<Value> {
        let mut out = Vec::new();
        for (name, value) in h.as_object().into_iter().flatten() {
            // Repeated headers come joined by newlines.
            for v in value.as_str().unwrap_or_default().split('\n') {
                out.push(json!({"name": name, "value": v}));
            }
        }
        out
    };
    let request = &sent["request"];
    let response = &got["response"];
    let started_ms = (sent["wallTime"].as_f64().unwrap() * 1e3) as i64;
    let started = chrono::DateTime::from_timestamp_millis(started_ms).unwrap();
    let took = (fin["timestamp"].as_f64().unwrap() - sent["timestamp"].as_f64().unwrap()) * 1e3;
    let timing = &response["timing"];
    let wait = match (
        timing["receiveHeadersEnd"].as_f64(),
        timing["sendEnd"].as_f64(),
    ) {
        (Some(end), Some(sent)) => (end - sent).max(0.0),
        _ => took,
    };
    let text = body["body"].as_str().unwrap_or_default();
    let mut content = json!({
        "size": text.len(),
        "mimeType": response["mimeType"],
        "text": text,
    });
    if body["base64Encoded"] == true {
        content["encoding"] = json!("base64");
    }
    json!({
        "startedDateTime": started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "time": took,
        "request": {
            "method": request["method"],
            "url": request["url"],
            "httpVersion": "HTTP/1.1",
            "headers": pairs(&request["headers"]),
            "queryString": [],
            "cookies": [],
            "headersSize": -1,
            "bodySize": 0,
        },
        "response": {
            "status": response["status"],
            "statusText": response["statusText"],
            "httpVersion": "HTTP/1.1",
            "headers": pairs(&response["headers"]),
            "cookies": [],
            "content": content,
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
        },
        "cache": {},
        "timings": {"send": 0, "wait": wait, "receive": (took - wait).max(0.0)},
        "_resourceType": sent["type"].as_str().unwrap_or_default().to_ascii_lowercase(),
    })
}
