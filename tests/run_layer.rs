//! The run layer from the library, without the command line: a plan
//! built and checked before anything starts, a session run in-process
//! against a server bound to 127.0.0.1:0, a shutdown the test owns. And
//! the command line's side of the same promise: a target no server can
//! answer is refused (exit 2, naming `--target`) before any output file
//! exists.

mod support;

use std::sync::Arc;
use std::time::Duration;

use replay::error::{EXIT_INTERRUPTED, EXIT_OK, EXIT_THRESHOLD};
use replay::report::Ended;
use replay::run::{Profile, RunOptions, RunPlan, Session};
use replay::shutdown::{self, Shutdown};
use support::bin::replay;
use support::har::{shop, write_har};
use support::model_of;
use support::server::{Behaviour, Server};

fn shop_model(dir: &tempfile::TempDir, n: usize, secs: f64) -> Arc<replay::model::TrafficModel> {
    let har = write_har(dir.path(), "shop.har", &shop(n, secs, false));
    Arc::new(model_of(&[har], &Default::default()))
}

fn options_for(server: &Server) -> RunOptions {
    RunOptions {
        target: Some(server.url().parse().unwrap()),
        seed: Some(7),
        timeout: Duration::from_secs(5),
        ..RunOptions::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_session_runs_a_plan_in_process_and_reports_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let model = shop_model(&dir, 200, 1.0);
    let server = Server::start(Behaviour::default());
    let mut options = options_for(&server);
    options.thresholds = vec!["http_req_failed: rate<0.01".into()];
    let plan = RunPlan::build(&options, model).unwrap();
    assert_eq!((plan.seed, plan.steps.len()), (7, 1));
    let (report, failed) = runtime()
        .block_on(Session::new(&plan, Arc::new(replay::run::Quiet)).run(Shutdown::never()))
        .unwrap();
    assert!(failed.is_empty());
    let summary = report.summary().unwrap();
    assert_eq!(summary.ended, Ended::Completed);
    assert!(summary.requests.sent > 0, "{summary:?}");
    // Every request the report counts reached the server, and no more.
    assert_eq!(
        summary.requests.sent,
        server.total(),
        "{:?}",
        summary.requests
    );
    assert_eq!(summary.requests.failed, 0);
    assert_eq!(report.exit_code(), EXIT_OK);
    assert!(report.text(false).contains("http_req_duration"));
}

#[test]
fn a_shutdown_the_caller_owns_ends_the_run_with_a_partial_report() {
    let dir = tempfile::tempdir().unwrap();
    let model = shop_model(&dir, 400, 2.0);
    let server = Server::start(Behaviour::default());
    let mut options = options_for(&server);
    // Far longer than the test waits: only the shutdown ends it.
    options.duration = Some(Duration::from_secs(600));
    let plan = RunPlan::build(&options, model).unwrap();
    let (trigger, shutdown) = shutdown::channel();
    let rt = runtime();
    let running = rt.spawn({
        let plan = plan.clone();
        async move {
            Session::new(&plan, Arc::new(replay::run::Quiet))
                .run(shutdown)
                .await
        }
    });
    assert!(server.wait_for_requests(1), "no request reached the server");
    trigger.fire();
    let (report, _) = rt.block_on(running).unwrap().unwrap();
    let summary = report.summary().unwrap();
    assert_eq!(summary.ended, Ended::Interrupted);
    assert!(summary.requests.sent >= 1 && summary.duration_s < 600.0);
    assert_eq!(report.exit_code(), EXIT_INTERRUPTED);
}

#[test]
fn a_stress_report_owns_its_steps_and_breaking_point() {
    let dir = tempfile::tempdir().unwrap();
    let model = shop_model(&dir, 100, 1.0);
    let server = Server::start(Behaviour::default());
    let mut options = options_for(&server);
    options.profile = Some(Profile::Stress);
    options.stress_steps = vec![0.5, 1.0];
    options.duration = Some(Duration::from_millis(500));
    // No request can be this fast: the first step already fails.
    options.thresholds = vec!["http_req_duration: max<0.001ms".into()];
    let plan = RunPlan::build(&options, model).unwrap();
    let (report, _) = runtime()
        .block_on(Session::new(&plan, Arc::new(replay::run::Quiet)).run(Shutdown::never()))
        .unwrap();
    let stress = report.summary().unwrap().stress.unwrap();
    assert_eq!(stress.largest_passing_step, None);
    assert_eq!(stress.first_failing_step.as_deref(), Some("0.5x"));
    assert_eq!(
        stress.steps.len(),
        1,
        "a stress run stops at the first failing step"
    );
    assert_eq!(report.exit_code(), EXIT_THRESHOLD);
    let json: serde_json::Value =
        serde_json::from_str(&report.summary().unwrap().to_json()).unwrap();
    assert_eq!(json["stress"]["first_failing_step"], "0.5x");
}

#[test]
fn a_plan_refuses_what_cannot_run_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let model = shop_model(&dir, 50, 1.0);
    let server = Server::start(Behaviour::default());
    let refused = |options: RunOptions| {
        RunPlan::build(&options, model.clone())
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let base = options_for(&server);
    let e = refused(RunOptions {
        thresholds: vec!["http_req_duration{endpoint:GET /nope}: p(95)<1".into()],
        ..base.clone()
    });
    assert!(e.starts_with("--threshold:"), "{e}");
    let e = refused(RunOptions {
        headers: vec![("Bad Name".into(), "x".into())],
        ..base.clone()
    });
    assert!(e.contains("-H 'Bad Name"), "{e}");
    let e = refused(RunOptions {
        summary_export: Some(dir.path().join("no-such-dir/s.json")),
        ..base.clone()
    });
    assert!(e.contains("--summary-export"), "{e}");
    // A spike must rise above the recorded rate: 1x and 0.5x are refused
    // rather than silently peaking at 4x or running flat.
    for scale in [1.0, 0.5] {
        let e = refused(RunOptions {
            profile: Some(Profile::Spike),
            scale: Some(scale),
            ..base.clone()
        });
        assert!(
            e.contains("--profile spike") && e.contains("--scale"),
            "{e}"
        );
    }
    assert_eq!(server.total(), 0, "nothing was sent");
    // Not given, the spike peaks at 4x; given, at the scale asked for.
    let spike = |scale| {
        let plan = RunPlan::build(
            &RunOptions {
                profile: Some(Profile::Spike),
                scale,
                ..base.clone()
            },
            model.clone(),
        )
        .unwrap();
        plan.steps[0].spec.scale
    };
    assert_eq!(spike(None), 4.0);
    assert_eq!(spike(Some(3.0)), 3.0);
}

/// `--target` values no server can answer exit 2 with one line naming
/// `--target`, before the summary or time-series file is created.
#[test]
fn a_target_no_server_can_answer_is_refused_before_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let har = write_har(dir.path(), "shop.har", &shop(20, 1.0, false));
    for bad in [
        "http://127.0.0.1:abc",
        "ftp://127.0.0.1:8080",
        "http://:80",
        "http://127.0.0.1:0",
    ] {
        let summary = dir.path().join("summary.json");
        let series = dir.path().join("series.ndjson");
        let run = replay([
            "run".as_ref(),
            har.as_os_str(),
            "--target".as_ref(),
            bad.as_ref(),
            "--summary-export".as_ref(),
            summary.as_os_str(),
            "--out".as_ref(),
            format!("json={}", series.display()).as_ref(),
        ]);
        assert_eq!(run.code, Some(2), "{bad}: {}", run.output());
        assert!(run.stderr.contains("--target"), "{bad}: {}", run.output());
        assert!(
            !summary.exists() && !series.exists(),
            "{bad}: a file was created"
        );
        assert!(run.stdout.is_empty(), "{bad}: {}", run.output());
    }
}

/// Issue 19: `duration_s` was the planned duration (3 s here) though the
/// traffic ended after ~1 s; it is the measured time, the plan is
/// `planned_duration_s`, and the rates are over the measured time.
#[test]
fn duration_s_is_measured_when_the_schedule_ends_in_a_quiet_stretch() {
    let dir = tempfile::tempdir().unwrap();
    // 200 requests in the first second, one more at 5 s: a 3 s run
    // replays the busy second, then two quiet ones.
    let mut entries = shop(200, 1.0, false);
    entries.push(support::har::Entry::get("http://shop.test/users/me", 5_000));
    let har = write_har(dir.path(), "quiet-tail.har", &entries);
    let model = Arc::new(model_of(&[har], &Default::default()));
    let server = Server::start(Behaviour::default());
    let mut options = options_for(&server);
    options.duration = Some(Duration::from_secs(3));
    let plan = RunPlan::build(&options, model).unwrap();
    let (report, _) = runtime()
        .block_on(Session::new(&plan, Arc::new(replay::run::Quiet)).run(Shutdown::never()))
        .unwrap();
    let s = report.summary().unwrap();
    assert_eq!(s.ended, Ended::Completed);
    assert!(s.requests.sent > 20, "{:?}", s.requests);
    assert_eq!(s.planned_duration_s, 3.0);
    assert!(
        s.duration_s > 0.5 && s.duration_s < 1.6,
        "measured {} s, planned {} s",
        s.duration_s,
        s.planned_duration_s
    );
    let achieved = s.requests.sent as f64 / s.duration_s;
    assert!((s.achieved_rate - achieved).abs() < 1e-6);
    let http_reqs = s.metrics["http_reqs"].rate.unwrap();
    assert!(
        (http_reqs - achieved).abs() < 1e-6,
        "{http_reqs} vs {achieved}"
    );
    // The intended rate is the window's: over the planned 3 s.
    let intended = s.requests.intended as f64 / 3.0;
    assert!(
        (s.intended_rate - intended).abs() < 1e-6,
        "{}",
        s.intended_rate
    );
}
