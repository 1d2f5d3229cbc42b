//! `--sessions` at the recorded rate (issue 19): a steady population of
//! client sessions, already under way when the run starts, so any run
//! length carries the recorded request rate. Before, sessions started as a
//! Poisson process from an empty system at the recorded session rate: on
//! an API mix recorded from 4 clients at 49.7 req/s, a 30 s run sent
//! 2.6 req/s and a 10 s run sent nothing, and exited 0.

mod support;

use std::sync::Arc;
use std::time::Duration;

use replay::model::TrafficModel;
use replay::run::{RunOptions, RunPlan, Session};
use replay::schedule::{schedule_rng, SessionSchedule};
use replay::shutdown::Shutdown;
use support::har::{write_har, Entry};
use support::model_of;
use support::server::{Behaviour, Server};

/// Four clients (one HAR file each), each sending through the same
/// 120 s with exponential gaps of 80 ms on average: ~50 req/s in all, one
/// long session per client.
fn four_clients(dir: &tempfile::TempDir) -> Arc<TrafficModel> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let paths = ["/feed", "/items/1", "/items/2", "/cart", "/items/3"];
    let hars: Vec<_> = (0..4)
        .map(|c| {
            let mut t = uniform() * 100.0;
            let mut entries = Vec::new();
            while t < 120_000.0 {
                let path = paths[(uniform() * paths.len() as f64) as usize];
                entries.push(Entry::get(format!("http://api.test{path}"), t as u64));
                t += -uniform().ln() * 80.0;
            }
            write_har(dir.path(), &format!("client-{c}.har"), &entries)
        })
        .collect();
    Arc::new(model_of(&hars, &Default::default()))
}

/// Requests the plan's first step schedules per second of its window.
fn planned_rate(model: &Arc<TrafficModel>, options: &RunOptions) -> f64 {
    let plan = RunPlan::build(options, model.clone()).unwrap();
    let d = options.duration.unwrap().as_secs_f64();
    let n = SessionSchedule::new(model, &plan.steps[0].spec, schedule_rng(plan.seed))
        .expect("the model has sessions")
        .count();
    n as f64 / d
}

#[test]
fn sessions_keep_the_recorded_rate_over_10_and_60_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let model = four_clients(&dir);
    assert_eq!(model.sessions.clients, 4);
    let recorded = model.arrival.mean_rate();
    assert!((45.0..55.0).contains(&recorded), "{recorded}");
    for d in [10, 60] {
        for seed in 1..=5 {
            let options = RunOptions {
                sessions: true,
                duration: Some(Duration::from_secs(d)),
                seed: Some(seed),
                ..RunOptions::default()
            };
            let got = planned_rate(&model, &options);
            eprintln!(
                "--sessions --duration {d}s --seed {seed}: {got:.2}/s (recorded {recorded:.2}/s)"
            );
            assert!(
                (got / recorded - 1.0).abs() <= 0.10,
                "--sessions --duration {d}s --seed {seed}: {got:.2}/s, recorded {recorded:.2}/s"
            );
            // The plan states the same rate.
            let plan = RunPlan::build(&options, model.clone()).unwrap();
            assert!((plan.steps[0].rate / recorded - 1.0).abs() < 1e-9);
        }
    }
    // --rate and --scale set the sessions' rate too. Over 10 s at 30/s
    // (two users) a seed's count has a spread of about ±6%: each seed
    // within 15%, their mean within 4%.
    for (rate, scale, want) in [(Some(30.0), None, 30.0), (None, Some(2.0), 2.0 * recorded)] {
        let mut sum = 0.0;
        for seed in 1..=10 {
            let options = RunOptions {
                sessions: true,
                rate,
                scale,
                duration: Some(Duration::from_secs(10)),
                seed: Some(seed),
                ..RunOptions::default()
            };
            let got = planned_rate(&model, &options);
            assert!(
                (got / want - 1.0).abs() <= 0.15,
                "{rate:?} {scale:?} seed {seed}: {got:.2}/s, want {want:.2}/s"
            );
            sum += got / want / 10.0;
        }
        assert!(
            (sum - 1.0).abs() <= 0.04,
            "{rate:?} {scale:?}: mean {sum:.3} of want"
        );
    }
}

/// End to end: a 3 s `--sessions` run sends at the recorded rate (it sent
/// nothing before).
#[test]
fn a_short_sessions_run_sends_at_the_recorded_rate() {
    let dir = tempfile::tempdir().unwrap();
    let model = four_clients(&dir);
    let recorded = model.arrival.mean_rate();
    let server = Server::start(Behaviour::default());
    let options = RunOptions {
        target: Some(server.url().parse().unwrap()),
        sessions: true,
        duration: Some(Duration::from_secs(3)),
        seed: Some(2),
        timeout: Duration::from_secs(5),
        ..RunOptions::default()
    };
    let plan = RunPlan::build(&options, model).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (report, _) = runtime
        .block_on(Session::new(&plan, Arc::new(replay::run::Quiet)).run(Shutdown::never()))
        .unwrap();
    let s = report.summary().unwrap();
    assert_eq!(s.requests.sent, server.total());
    // ~150 requests: within 15% (the rate issue's bound below 500).
    assert!(
        (s.achieved_rate / recorded - 1.0).abs() <= 0.15,
        "achieved {:.2}/s, recorded {recorded:.2}/s ({} sent)",
        s.achieved_rate,
        s.requests.sent
    );
}

/// Sessions hold a steady population: a ramp or a spike is refused with
/// the reason, not silently played flat.
#[test]
fn sessions_with_a_ramp_or_a_spike_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = four_clients(&dir);
    for options in [
        RunOptions {
            sessions: true,
            ramp_up: Some(Duration::from_secs(5)),
            ..RunOptions::default()
        },
        RunOptions {
            sessions: true,
            profile: Some(replay::run::Profile::Spike),
            duration: Some(Duration::from_secs(30)),
            ..RunOptions::default()
        },
    ] {
        let Err(e) = RunPlan::build(&options, model.clone()) else {
            panic!("--sessions with a ramp or a spike was accepted");
        };
        assert!(e.to_string().contains("--sessions"), "{e}");
    }
}

/// A browser opens many connections; a user is the address, the agent and
/// the credentials, not a connection. The zeek capture is one browser
/// (one address, one agent) over six connections: one user, one session
/// (the model counted six before).
#[test]
fn a_browsers_connections_are_one_user() {
    let pcap = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/pcap/zeek__workshop_2011_browse.pcap");
    let model = model_of(&[pcap], &Default::default());
    assert_eq!(model.sessions.clients, 1, "{:?}", model.sessions);
    assert_eq!(model.sessions.sessions, 1);
    assert_eq!(model.sessions.length.count, 1);
    assert_eq!(model.sessions.length.max, 17.0);
    assert_eq!(model.sessions.think_time_s.count, 16);

    // Chromium walking 12 pages over the connections it chose to open
    // (fixtures/browser): one user, one session of 114 requests.
    let pcap = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/browser/chromium-browse.pcap");
    let mut connections = std::collections::BTreeSet::new();
    replay::ingest::read_capture_with(&pcap, &Default::default(), &mut |x| {
        connections.insert(x.client.clone());
    })
    .unwrap();
    assert!(connections.len() >= 3, "{connections:?}");
    let model = model_of(&[pcap], &Default::default());
    assert_eq!(model.sessions.clients, 1, "{:?}", model.sessions);
    assert_eq!(model.sessions.sessions, 1);
    assert_eq!(model.sessions.length.max, 114.0);
}
