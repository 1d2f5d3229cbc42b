//! A small demo API to try `replay --target` against: a real hyper server
//! with a few JSON endpoints, a tunable latency and error rate.
//!
//! ```text
//! cargo run --release --example demo_api -- --listen 127.0.0.1:8081 --latency-ms 20 --error-rate 0.01
//! replay examples/demo.har --target http://127.0.0.1:8081
//! ```
//!
//! Endpoints (what examples/demo.har recorded):
//!
//! - `GET /health` → `ok`
//! - `GET /posts?page=N` → a page of posts
//! - `GET /posts/{id}` → one post (`id` 1..=10000, else 404)
//! - `POST /posts` with a JSON object that has a `title` → 201 with the new post
//! - `GET /users/me` → the signed-in user
//! - `GET /search?q=TEXT` → matching posts (400 without `q`)
//!
//! Every answer waits `--latency-ms` ± 50% (uniform), and `--error-rate`
//! of the requests get a 503 instead. Flags can also come from the
//! environment: `DEMO_LISTEN`, `DEMO_LATENCY_MS`, `DEMO_ERROR_RATE`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rand::Rng;
use serde_json::{json, Value};

/// A demo JSON API with tunable latency and error rate.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on [env: DEMO_LISTEN].
    #[arg(long, default_value_t = env_or("DEMO_LISTEN", "127.0.0.1:8081".parse().unwrap()))]
    listen: SocketAddr,
    /// Mean response delay in milliseconds; each answer waits ±50% of it
    /// [env: DEMO_LATENCY_MS].
    #[arg(long, default_value_t = env_or("DEMO_LATENCY_MS", 20.0))]
    latency_ms: f64,
    /// Share of requests answered with 503, 0..1 [env: DEMO_ERROR_RATE].
    #[arg(long, default_value_t = env_or("DEMO_ERROR_RATE", 0.0))]
    error_rate: f64,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct State {
    latency_ms: f64,
    error_rate: f64,
    next_id: AtomicU64,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let valid = (0.0..=1.0).contains(&args.error_rate)
        && args.latency_ms.is_finite()
        && args.latency_ms >= 0.0;
    if !valid {
        eprintln!("--error-rate must be within 0..1 and --latency-ms at least 0");
        std::process::exit(2);
    }
    let state = Arc::new(State {
        latency_ms: args.latency_ms,
        error_rate: args.error_rate,
        next_id: AtomicU64::new(10_001),
    });
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    eprintln!(
        "demo API listening on http://{} (latency {} ms ± 50%, error rate {})",
        listener.local_addr()?,
        args.latency_ms,
        args.error_rate
    );
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(_) => continue,
            },
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        let (state, builder) = (state.clone(), builder.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(state.clone(), req));
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (delay, fail) = {
        let mut rng = rand::rng();
        let ms = state.latency_ms * rng.random_range(0.5..1.5);
        (
            Duration::from_secs_f64(ms / 1e3),
            rng.random_bool(state.error_rate),
        )
    };
    let (parts, body) = req.into_parts();
    // Bodies up to 64 KiB; larger ones are refused.
    let body = match Limited::new(body, 64 << 10).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Ok(json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"error": "body too large"}),
            ))
        }
    };
    tokio::time::sleep(delay).await;
    if fail {
        return Ok(json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "injected failure (--error-rate)"}),
        ));
    }
    let query = parts.uri.query().unwrap_or("");
    let segments: Vec<&str> = parts
        .uri
        .path()
        .trim_start_matches('/')
        .split('/')
        .collect();
    let (status, value) = match (&parts.method, segments.as_slice()) {
        (&Method::GET, ["health"]) => {
            let mut r = Response::new(Full::new(Bytes::from_static(b"ok\n")));
            r.headers_mut()
                .insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
            return Ok(r);
        }
        (&Method::GET, ["posts"]) => {
            let page: u64 = param(query, "page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(1);
            let posts: Vec<Value> = (1..=10)
                .map(|i| post((page - 1).min(999) * 10 + i))
                .collect();
            (StatusCode::OK, json!({"page": page, "posts": posts}))
        }
        (&Method::GET, ["posts", id]) => match id.parse::<u64>() {
            Ok(id @ 1..=10_000) => (StatusCode::OK, post(id)),
            _ => (
                StatusCode::NOT_FOUND,
                json!({"error": format!("no post {id}")}),
            ),
        },
        (&Method::POST, ["posts"]) => match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(mut o)) if o.get("title").is_some_and(Value::is_string) => {
                let id = state.next_id.fetch_add(1, Ordering::Relaxed);
                o.insert("id".into(), json!(id));
                o.insert("author".into(), json!("me"));
                (StatusCode::CREATED, Value::Object(o))
            }
            _ => (
                StatusCode::BAD_REQUEST,
                json!({"error": "send a JSON object with a string \"title\""}),
            ),
        },
        (&Method::GET, ["users", "me"]) => (
            StatusCode::OK,
            json!({"id": 1, "name": "Demo User", "email": "demo@example.com", "posts": 42}),
        ),
        (&Method::GET, ["search"]) => match param(query, "q").filter(|q| !q.is_empty()) {
            Some(q) => {
                let n = q.len() as u64 % 7 + 1;
                let hits: Vec<Value> = (1..=n).map(|i| post(i * 37 % 10_000 + 1)).collect();
                (StatusCode::OK, json!({"q": q, "results": hits}))
            }
            None => (StatusCode::BAD_REQUEST, json!({"error": "missing q"})),
        },
        _ => (
            StatusCode::NOT_FOUND,
            json!({"error": format!("no route {} {}", parts.method, parts.uri.path())}),
        ),
    };
    Ok(json_response(status, value))
}

fn post(id: u64) -> Value {
    json!({
        "id": id,
        "title": format!("Post number {id}"),
        "body": "Lorem ipsum dolor sit amet. ".repeat((id % 5 + 1) as usize),
        "author": id % 97 + 1,
    })
}

/// The first value of `name` in a query string (no percent-decoding: the
/// demo does not need it).
fn param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

fn json_response(status: StatusCode, value: Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(value.to_string())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
    r
}
