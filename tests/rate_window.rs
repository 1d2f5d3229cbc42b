//! `--rate R` is the mean over the run's own window (issue 19): checked on
//! the plan and its schedule in-process, for run lengths from 2 s to the
//! recorded length of a bursty recording (busy start, quiet tail) and
//! several seeds; and once end to end against an in-process server.

mod support;

use std::sync::Arc;
use std::time::Duration;

use replay::model::TrafficModel;
use replay::run::{RunOptions, RunPlan, Session};
use replay::schedule::{schedule_rng, Schedule};
use replay::shutdown::Shutdown;
use support::har::{bursty, write_har};
use support::model_of;
use support::server::{Behaviour, Server};

/// 60 s: 2000 requests in the first 10 s (200/s), 300 over the last 50 s
/// (6/s): the mean is 38/s, the busy start five times that.
fn bursty_model(dir: &tempfile::TempDir) -> Arc<TrafficModel> {
    let har = write_har(dir.path(), "bursty.har", &bursty(2000, 10.0, 300, 50.0));
    Arc::new(model_of(&[har], &Default::default()))
}

/// Requests the plan's first step schedules in its measured window, per
/// second of it.
fn planned_rate(model: &Arc<TrafficModel>, options: &RunOptions) -> (f64, usize) {
    let plan = RunPlan::build(options, model.clone()).unwrap();
    let spec = plan.steps[0].spec.clone();
    let warmup = options.warmup.map_or(0.0, |w| w.as_secs_f64());
    let d = options.duration.unwrap().as_secs_f64();
    let n = Schedule::new(&model.arrival, spec, schedule_rng(plan.seed))
        .filter(|t| *t >= warmup)
        .count();
    (n as f64 / d, n)
}

/// Within 5% when the window holds 500 requests or more, 15% below.
fn tolerance(requests: f64) -> f64 {
    if requests >= 500.0 {
        0.05
    } else {
        0.15
    }
}

/// Issue 19: `--rate 20/s --duration 3s` sent 80 req/s on a recording
/// with a busy start: the rate was applied to the whole recording's mean.
#[test]
fn rate_is_the_mean_over_the_runs_window() {
    let dir = tempfile::tempdir().unwrap();
    let model = bursty_model(&dir);
    let recorded = model.arrival.duration_s();
    let mut worst: f64 = 0.0;
    for (rate, warmup) in [(20.0, 0.0), (100.0, 0.0), (100.0, 5.0)] {
        for d in [2.0, 3.0, 5.0, 10.0, 20.0, recorded] {
            for seed in 1..=5 {
                let options = RunOptions {
                    rate: Some(rate),
                    duration: Some(Duration::from_secs_f64(d)),
                    warmup: (warmup > 0.0).then(|| Duration::from_secs_f64(warmup)),
                    seed: Some(seed),
                    ..RunOptions::default()
                };
                let (got, n) = planned_rate(&model, &options);
                let err = got / rate - 1.0;
                eprintln!(
                    "rate {rate}/s warmup {warmup} s D {d:.1} s seed {seed}: {got:.2}/s ({n} requests, {:+.1}%)",
                    err * 100.0
                );
                assert!(
                    err.abs() <= tolerance(rate * d),
                    "--rate {rate}/s --duration {d}s --warmup {warmup}s --seed {seed}: {got:.2}/s"
                );
                worst = worst.max(err.abs());
            }
        }
    }
    eprintln!("worst: {:.1}%", worst * 100.0);
}

/// The plan says the rate it intends (the banner's label and the
/// progress line): the window's mean, not the recorded curve's.
#[test]
fn the_plan_states_the_window_mean() {
    let dir = tempfile::tempdir().unwrap();
    let model = bursty_model(&dir);
    let options = RunOptions {
        rate: Some(20.0),
        duration: Some(Duration::from_secs(3)),
        seed: Some(1),
        ..RunOptions::default()
    };
    let plan = RunPlan::build(&options, model.clone()).unwrap();
    let step = &plan.steps[0];
    assert!((step.rate - 20.0).abs() < 1e-9, "{}", step.rate);
    assert_eq!(step.label, "20.0 req/s");
    // A 3 s run is all busy start: its peak is its mean.
    assert!(
        step.peak >= step.rate && step.peak < 1.5 * step.rate,
        "{}",
        step.peak
    );
    // 30 s holds the busy start and the quiet tail: the busy bins run
    // at ~200/70.7 of the mean (the window's mean is 70.7 req/s recorded).
    let long = RunOptions {
        duration: Some(Duration::from_secs(30)),
        ..options.clone()
    };
    let plan30 = RunPlan::build(&long, model.clone()).unwrap();
    let (rate, peak) = (plan30.steps[0].rate, plan30.steps[0].peak);
    assert!((rate - 20.0).abs() < 1e-9);
    assert!(peak > 2.2 * rate && peak < 3.6 * rate, "peak {peak}");
    // Flat arrivals: the peak is the mean.
    let flat = RunOptions {
        arrival: replay::schedule::ArrivalMode::Poisson,
        ..long
    };
    let s = &RunPlan::build(&flat, model.clone()).unwrap().steps[0];
    assert_eq!(s.peak, s.rate);
    // Stress steps are multiples of the rate.
    let stress = RunOptions {
        profile: Some(replay::run::Profile::Stress),
        stress_steps: vec![1.0, 2.0, 4.0],
        ..options.clone()
    };
    let plan = RunPlan::build(&stress, model.clone()).unwrap();
    let rates: Vec<f64> = plan.steps.iter().map(|s| s.rate).collect();
    assert_eq!(rates.len(), 3);
    for (r, want) in rates.iter().zip([20.0, 40.0, 80.0]) {
        assert!((r - want).abs() < 1e-6, "{rates:?}");
    }
    // --scale keeps its meaning: a multiple of the recorded curve.
    let scaled = RunOptions {
        rate: None,
        scale: Some(2.0),
        ..options
    };
    let plan = RunPlan::build(&scaled, model).unwrap();
    assert_eq!(plan.steps[0].spec.scale, 2.0);
    assert_eq!(plan.steps[0].spec.curve_speed, None);
}

/// End to end against an in-process server: the summary's intended and
/// achieved rates are the rate asked for.
#[test]
fn a_short_rate_run_sends_the_rate_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let model = bursty_model(&dir);
    let server = Server::start(Behaviour::default());
    let options = RunOptions {
        target: Some(server.url().parse().unwrap()),
        rate: Some(100.0),
        duration: Some(Duration::from_secs(3)),
        seed: Some(3),
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
    let tol = tolerance(300.0);
    assert!(
        (s.intended_rate / 100.0 - 1.0).abs() <= tol,
        "intended {}",
        s.intended_rate
    );
    assert_eq!(s.requests.sent, server.total());
    assert!(
        (s.achieved_rate / 100.0 - 1.0).abs() <= tol,
        "achieved {} over {} s",
        s.achieved_rate,
        s.duration_s
    );
    assert_eq!(s.planned_duration_s, 3.0);
    assert!(
        report
            .text(false)
            .contains(&format!("intended={:.2}/s", s.intended_rate)),
        "{}",
        report.text(false)
    );
}
