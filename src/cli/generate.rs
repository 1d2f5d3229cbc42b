//! `replay generate MODEL -n N`: requests as data, nothing sent.

use std::io::Write;

use anyhow::Context;
use base64::Engine as _;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value};

use super::args::{GenerateArgs, GenerateFormat};
use crate::error::UsageError;
use crate::generate::{self, Request};
use crate::model::TrafficModel;
use crate::schedule::ScheduleSpec;
use crate::target::Target;

pub fn run(args: GenerateArgs) -> anyhow::Result<u8> {
    if let Some(out) = &args.output {
        crate::report::file::check_output_path(out, "-o")
            .map_err(|e| UsageError(format!("{e}; choose another path with -o")))?;
    }
    let input = super::input::load_input(&args.inputs, &args.filters)?;
    let model = input.model;
    if model.requests() == 0 {
        return Err(
            UsageError("the model has no endpoints to generate requests from".into()).into(),
        );
    }
    let seed = args.seed.unwrap_or_else(rand::random::<u64>);
    if args.seed.is_none() {
        let _ = writeln!(
            std::io::stderr(),
            "seed {seed} (pass --seed {seed} to draw the same requests again)"
        );
    }
    let mut buf: Vec<u8> = Vec::new();
    let mut out: Box<dyn Write> = match &args.output {
        Some(p) if !crate::report::file::is_stdout(p) => Box::new(&mut buf),
        _ => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let requests = draw(&model, &args, seed);
    let result = match args.format {
        GenerateFormat::Jsonl => write_jsonl(&mut out, &model, args.target.as_ref(), requests),
        GenerateFormat::Har => write_har(&mut out, &model, args.target.as_ref(), requests),
    };
    match result {
        // A closed pipe (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(0),
        other => other.context("cannot write the generated requests")?,
    }
    drop(out);
    if let Some(path) = args
        .output
        .as_ref()
        .filter(|p| !crate::report::file::is_stdout(p))
    {
        crate::report::file::write_atomic(path, &buf)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(0)
}

/// A drawn request: its scheduled offset, its session (`--sessions`) and
/// the request.
type Drawn = (f64, Option<u64>, Request);

/// The requests with their scheduled offsets: the first `count` of the
/// global schedule, this shard's part of them. Two RNG sources from one
/// seed: one for the schedule, and per request its own stream (its number
/// in the schedule), as `run` draws them.
fn draw<'m>(
    model: &'m TrafficModel,
    args: &'m GenerateArgs,
    seed: u64,
) -> Box<dyn Iterator<Item = Drawn> + 'm> {
    let spec = ScheduleSpec {
        scale: args.scale,
        ..Default::default()
    };
    let shard = args.shard.unwrap_or_default();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Box::new(
        generate::schedule(model, spec, args.sessions, seed)
            .take(args.count as usize)
            .filter(move |(i, _, session, _)| shard.takes(session.unwrap_or(*i)))
            .map(move |(i, at, session, e)| {
                (
                    at,
                    session,
                    generate::scheduled_request(model, &mut rng, i, e),
                )
            }),
    )
}

fn body_fields(r: &Request, obj: &mut Map<String, Value>) {
    match &r.body {
        None => {
            obj.insert("body".into(), Value::Null);
        }
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => {
                obj.insert("body".into(), Value::String(s.to_string()));
            }
            Err(_) => {
                obj.insert("body".into(), Value::Null);
                obj.insert(
                    "body_base64".into(),
                    Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
                );
            }
        },
    }
}

fn write_jsonl(
    out: &mut dyn Write,
    model: &TrafficModel,
    target: Option<&Target>,
    requests: impl Iterator<Item = Drawn>,
) -> std::io::Result<()> {
    let names = endpoint_names(model);
    for (at, session, r) in requests {
        let mut headers = Map::new();
        for (n, v) in &r.headers {
            headers.insert(n.clone(), Value::String(v.clone()));
        }
        let mut obj = Map::new();
        obj.insert("at_s".into(), json!((at * 1e6).round() / 1e6));
        if let Some(s) = session {
            obj.insert("session".into(), json!(s));
        }
        obj.insert("endpoint".into(), Value::String(names[r.endpoint].clone()));
        obj.insert("method".into(), Value::String(r.method.clone()));
        obj.insert("url".into(), Value::String(r.url(model, target)));
        obj.insert("headers".into(), Value::Object(headers));
        body_fields(&r, &mut obj);
        serde_json::to_writer(&mut *out, &Value::Object(obj))?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

fn write_har(
    out: &mut dyn Write,
    model: &TrafficModel,
    target: Option<&Target>,
    requests: impl Iterator<Item = Drawn>,
) -> std::io::Result<()> {
    let start_ns = model.arrival.start_ns;
    let names = endpoint_names(model);
    let entries: Vec<Value> = requests
        .map(|(at, session, r)| {
            let ts = start_ns + (at * 1e9) as i64;
            let started = chrono::DateTime::from_timestamp_nanos(ts).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let url = r.url(model, target);
            let query: Vec<Value> = match r.path.split_once('?') {
                Some((_, q)) => crate::model::builder::form_pairs(q)
                    .into_iter()
                    .map(|(n, v)| json!({"name": n, "value": v}))
                    .collect(),
                None => vec![],
            };
            let mut request = json!({
                "method": r.method,
                "url": url,
                "httpVersion": "HTTP/1.1",
                "cookies": [],
                "headers": r.headers.iter().map(|(n, v)| json!({"name": n, "value": v})).collect::<Vec<_>>(),
                "queryString": query,
                "headersSize": -1,
                "bodySize": r.body.as_ref().map(|b| b.len() as i64).unwrap_or(0),
            });
            if let Some(b) = &r.body {
                let mime = r
                    .headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                request["postData"] = match std::str::from_utf8(b) {
                    Ok(s) => json!({"mimeType": mime, "text": s}),
                    Err(_) => json!({"mimeType": mime, "text": base64::engine::general_purpose::STANDARD.encode(b), "encoding": "base64"}),
                };
            }
            let mut entry = json!({
                "startedDateTime": started,
                "time": 0,
                "request": request,
                // The recorded answer most often seen, so the file reads
                // back as a capture (status 0 would mean "no response").
                "response": {
                    "status": top_status(&model.endpoints[r.endpoint]), "statusText": "", "httpVersion": "HTTP/1.1", "cookies": [], "headers": [],
                    "content": {"size": model.endpoints[r.endpoint].response.size.mean().round() as i64, "mimeType": model.endpoints[r.endpoint].response.mime},
                    "redirectURL": "", "headersSize": -1, "bodySize": -1,
                    "comment": "generated by replay from the model: not sent; status and size are the recorded ones",
                },
                "cache": {},
                "timings": {"send": 0, "wait": 0, "receive": 0},
                "_endpoint": names[r.endpoint],
            });
            if let Some(s) = session {
                entry["_session"] = json!(s);
            }
            entry
        })
        .collect();
    let doc = json!({
        "log": {
            "version": "1.2",
            "creator": {"name": "replay", "version": env!("CARGO_PKG_VERSION")},
            "entries": entries,
        }
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// The endpoints' names as the run's report and thresholds write them:
/// `GET /posts/{id}`, with the host where two would read the same.
fn endpoint_names(model: &TrafficModel) -> Vec<String> {
    crate::metrics::distinct_names(
        model
            .endpoints
            .iter()
            .map(|e| (e.method.as_str(), e.host.as_str(), e.template.as_str())),
    )
}

/// The most frequent recorded status of an endpoint (200 if none).
fn top_status(e: &crate::model::Endpoint) -> u16 {
    e.response
        .status
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(s, _)| *s)
        .unwrap_or(200)
}
