//! `replay fidelity CAPTURE... [--against REPLAY_CAPTURE]`: the recording
//! against the model's generated schedule (a dry run: nothing is sent) or
//! against a capture of a real replay, beside the recording's own
//! split-half noise (see [`crate::fidelity`]).

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::args::{FidelityArgs, FilterArgs};
use crate::error::{UsageError, EXIT_OK, EXIT_THRESHOLD};
use crate::fidelity::{self, Report, Traffic};
use crate::ingest::{self, CaptureKind};
use crate::mock::router::Router;
use crate::model::arrival::span_s;
use crate::model::client::Clients;
use crate::model::TrafficModel;
use crate::schedule::ScheduleSpec;

pub fn run(args: FidelityArgs) -> anyhow::Result<u8> {
    let report = match model_input(&args)? {
        Some(model) => against_model(&args, &model)?,
        None => against_captures(&args)?,
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let mut v = serde_json::to_value(&report)?;
        v["input"] = args
            .inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .into();
        v["against"] = match &args.against {
            Some(p) => p.display().to_string().into(),
            None => serde_json::json!({"generated": {"seed": args.seed}}),
        };
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        out.write_all(text(&report, &args).as_bytes())?;
    }
    Ok(if report.pass { EXIT_OK } else { EXIT_THRESHOLD })
}

/// The model file among the inputs, loaded; `None` when they are all
/// captures. A model stands alone, and `--against` is a capture.
fn model_input(args: &FidelityArgs) -> anyhow::Result<Option<TrafficModel>> {
    let options = ingest::ReadOptions::default();
    let is_model = |p: &PathBuf| -> anyhow::Result<bool> {
        Ok(ingest::detect_with(p, &options)?.0 == CaptureKind::Model)
    };
    if let Some(p) = &args.against {
        if is_model(p)? {
            return Err(UsageError(format!(
                "--against {}: is a model file; --against takes a capture of a replay (tcpdump on the target, a HAR)",
                p.display()
            ))
            .into());
        }
    }
    let mut models = Vec::new();
    for p in &args.inputs {
        if is_model(p)? {
            models.push(p);
        }
    }
    match (models.as_slice(), args.inputs.len()) {
        ([], _) => Ok(None),
        ([m], 1) => Ok(Some(crate::model::file::load(m)?)),
        ([m, ..], _) => Err(UsageError(format!(
            "{} is a model file: give it alone (it is compared at its own resolution), or the captures it was recorded from",
            m.display()
        ))
        .into()),
    }
}

/// A model file against its generated schedule or a replay's capture.
fn against_model(args: &FidelityArgs, model: &TrafficModel) -> anyhow::Result<Report> {
    let other = match &args.against {
        Some(p) => {
            let router = Router::new(&model.endpoints);
            read(std::slice::from_ref(p), &router, model)?.0
        }
        None => generated(model, args.seed, model.arrival.duration_s(), args.sessions),
    };
    Ok(fidelity::compare_model(model, &other))
}

/// Captures against their model's generated schedule or a replay's
/// capture.
fn against_captures(args: &FidelityArgs) -> anyhow::Result<Report> {
    // Values are compared as recorded: the model is kept in memory only.
    let filters = FilterArgs {
        keep_pii: true,
        keep_secrets: true,
        ..Default::default()
    };
    let model = super::input::record(&args.inputs, &filters)?;
    let router = Router::new(&model.endpoints);
    let (recorded, ticks) = read(&args.inputs, &router, &model)?;
    let mut other = match &args.against {
        Some(p) => read(std::slice::from_ref(p), &router, &model)?.0,
        None => generated(
            &model,
            args.seed,
            recorded.times.last().copied().unwrap_or(0.0),
            args.sessions,
        ),
    };
    // As a recorder with the recording's clock would have seen them: a
    // HAR's times are whole milliseconds, and a continuous schedule
    // against millisecond steps would differ by the steps alone.
    // (A hair up: 0.123 s can be a hair under 123 ms.)
    other
        .times
        .iter_mut()
        .for_each(|t| *t = (*t * ticks + 1e-6).floor() / ticks);
    Ok(fidelity::compare(&recorded, &other))
}

fn hash(s: &str) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    s.hash(&mut h);
    h.finish()
}

/// The captures' requests that the model's endpoints match, on the
/// model's timeline (idle gaps compressed as the model compressed them),
/// and the resolution of their times in ticks per second (1000 when every
/// one is a whole millisecond, 10^6, or 10^9).
fn read(
    paths: &[PathBuf],
    router: &Router,
    model: &TrafficModel,
) -> anyhow::Result<(Traffic, f64)> {
    let mut rows: Vec<(i64, u32, u64, u64)> = Vec::new();
    // Users as the model tells them apart.
    let mut users = Clients::default();
    for p in paths {
        ingest::read_capture_with(p, &Default::default(), &mut |x| {
            if let Some(e) = router.route(&x.method, Some(&x.authority), x.path(), None) {
                rows.push((x.started_ns, e as u32, hash(&x.target), users.id(x)));
            }
        })?;
    }
    if rows.len() < 2 {
        return Err(UsageError(format!(
            "{}: {} request(s) match the model's endpoints; fidelity needs two or more",
            names(paths),
            rows.len()
        ))
        .into());
    }
    rows.sort_unstable();
    let tick_ns = [1_000_000i64, 1_000, 1]
        .into_iter()
        .find(|r| rows.iter().all(|(ts, ..)| ts % r == 0))
        .unwrap_or(1);
    let max_gap_ns = match model.arrival.compressed.gaps {
        0 => i128::MAX,
        _ => (model.arrival.compressed.max_gap_s * 1e9) as i128,
    };
    let mut t = Traffic::default();
    let rows_start = rows[0].0;
    // Whole nanoseconds, so equal gaps stay equal (KS counts ties).
    let (mut at_ns, mut prev) = (0i128, rows[0].0);
    let mut real_s = Vec::with_capacity(rows.len());
    let mut who = Vec::with_capacity(rows.len());
    for (ts, e, target, user) in rows {
        at_ns += (i128::from(ts) - i128::from(prev)).min(max_gap_ns);
        prev = ts;
        t.times.push(at_ns as f64 / 1e9);
        t.endpoints.push(e);
        t.targets.push(target);
        real_s.push(span_s(rows_start, ts));
        who.push(user);
    }
    // Sessions on the real times, as the model split them.
    t.sessions = fidelity::split_sessions(&real_s, &who, model.sessions.idle_split_s);
    Ok((t, 1e9 / tick_ns as f64))
}

fn names(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p: &PathBuf| Path::display(p).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The schedule `run --seed SEED` (with `--sessions`: `run --sessions
/// --seed SEED`) would send at 1x over the recorded duration, and its
/// requests.
pub fn generated(model: &TrafficModel, seed: u64, duration_s: f64, sessions: bool) -> Traffic {
    let spec = ScheduleSpec {
        // A hair past the last recorded request, which sits at the end.
        duration_s: Some(duration_s * (1.0 + 1e-9) + 1e-9),
        ..Default::default()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut t = Traffic::default();
    for (i, at, session, e) in crate::generate::schedule(model, spec, sessions, seed) {
        let r = crate::generate::scheduled_request(model, &mut rng, i, e);
        if let Some(s) = session {
            t.sessions.push(s);
        }
        t.times.push(at);
        t.endpoints.push(r.endpoint as u32);
        t.targets.push(hash(&r.path));
    }
    t
}

/// A line for each check whose limit its sampling noise set (above the
/// split-half): the mix of a small capture whose halves agree closely.
fn noise_notes(r: &Report) -> String {
    let mut s = String::new();
    for c in &r.checks {
        if let (Some(split), Some(noise)) = (c.split_half, c.noise) {
            if noise > split && c.limit <= 1.5 * noise {
                s.push_str(&format!(
                    "  ({}: its limit is 1.5 × the sampling noise of {} requests, {noise:.4}: the 95th percentile of the distance when that many are drawn from the recording itself, above the split-half)\n",
                    c.name, r.other_requests
                ));
            }
        }
    }
    s
}

fn text(r: &Report, args: &FidelityArgs) -> String {
    let against = match &args.against {
        Some(p) => format!("the replay captured in {}", p.display()),
        None => format!(
            "the generated schedule (seed {}, 1x{}, nothing sent)",
            args.seed,
            if args.sessions { ", --sessions" } else { "" }
        ),
    };
    let of_model = r.split_half.is_none();
    let mut s = format!(
        "fidelity of {against}\n  {}: {} requests over {:.1} s ({})\n  compared:  {} requests within the recorded duration (count ratio {:.3})\n",
        if of_model { "model    " } else { "recording" },
        r.recorded_requests,
        r.recorded_duration_s,
        names(&args.inputs),
        r.other_requests,
        r.figures.count_ratio,
    );
    if of_model {
        s.push_str("  (against the model's histograms and curve bins, at their resolution; no split-half: each distance against 1.5 × its sampling noise, the 95th percentile over samples of the same size drawn from the model, or its floor)\n");
    }
    s.push_str(&format!(
        "\n  {:<20} {:>9} {:>11} {:>9}  verdict\n",
        "figure",
        "value",
        if of_model { "noise p95" } else { "split-half" },
        "limit"
    ));
    for c in &r.checks {
        s.push_str(&format!(
            "  {:<20} {:>9.4} {:>11} {:>9.4}  {}\n",
            c.name,
            c.value,
            c.split_half
                .or(c.noise)
                .map_or("-".into(), |v| format!("{v:.4}")),
            c.limit,
            if c.pass { "pass" } else { "FAIL" }
        ));
    }
    s.push_str(&noise_notes(r));
    let p = &r.figures.pool;
    if p.novel_share.is_finite() {
        s.push_str(&format!(
            "\n  pool: {:.1}% of targets never recorded, {:.1}% among the 10 most frequent (recording: {:.1}%)\n",
            100.0 * p.novel_share,
            100.0 * p.top10_share,
            100.0 * p.recorded_top10_share
        ));
    }
    if let Some(f) = r.figures.sessions {
        let judged = r.checks.iter().any(|c| c.name == "session_length_ks");
        let seconds = if f.duration_ks.is_finite() {
            format!(", seconds per session {:.4}", f.duration_ks)
        } else {
            String::new()
        };
        s.push_str(&format!(
            "  sessions: {} recorded, {} compared; KS requests per session {:.4}{seconds}, think times {:.4}{}\n",
            f.recorded_sessions,
            f.sessions,
            f.length_ks,
            f.think_ks,
            if judged { "" } else { " (too few sessions to judge)" }
        ));
    }
    s.push_str(if r.pass {
        "  every figure within its limit\n"
    } else if of_model {
        "  FAILED: a figure is past its limit\n"
    } else {
        "  FAILED: a figure is past its limit (the larger of 1.5 × split-half and a floor)\n"
    });
    s
}
