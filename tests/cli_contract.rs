//! The command-line contracts scripts depend on: `inspect --json`'s fields,
//! `record`'s filters, and `generate` (deterministic per seed, endpoint mix
//! matching the model's weights).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rand::SeedableRng;
use replay::cli::FilterArgs;
use serde_json::Value;
use support::bin::{inspect_json, replay, replay_ok};
use support::har::{write_har, Entry};
use support::{chi_square, fixture, fixtures_dir, model_of};

#[test]
fn inspect_json_has_the_documented_fields() {
    let dir = tempfile::tempdir().unwrap();
    let har = fixture(dir.path(), "pagexray__304.har");
    let doc = inspect_json(&har, &[]);
    assert_eq!(doc["requests"], 270);
    let dur = doc["duration_s"].as_f64().unwrap();
    let rate = doc["mean_rate_rps"].as_f64().unwrap();
    assert!(dur > 100.0 && dur < 130.0, "{dur}");
    assert!((rate - 270.0 / dur).abs() < 1e-9, "{rate}");
    assert!(doc["skipped"].is_object());
    let eps = doc["endpoints"].as_array().unwrap();
    let mut weight = 0.0;
    let mut count = 0;
    for e in eps {
        for f in ["method", "host", "template"] {
            assert!(e[f].is_string(), "{f}: {e}");
        }
        let t = e["template"].as_str().unwrap();
        let host = e["host"].as_str().unwrap();
        assert!(
            t.starts_with('/') && !t.contains('?') && !t.contains(host),
            "{t}"
        );
        count += e["count"].as_u64().unwrap();
        weight += e["weight"].as_f64().unwrap();
    }
    assert_eq!(count, 270);
    assert!((weight - 1.0).abs() < 1e-9);
    assert!(eps.iter().any(|e| e["template"] == "/{id}/{id2}/weather"
        && e["host"] == "loremflickr.com"
        && e["count"] == 94));

    // Skips by reason, and the same document whether from the capture or
    // from the recorded model.
    let chrome = fixtures_dir().join("harviewer__issue-49-chrome51.har");
    let doc = inspect_json(&chrome, &[]);
    assert_eq!(doc["skipped"], serde_json::json!({"no response": 3}));
    let model = dir.path().join("c.model.gz");
    replay_ok([
        "record".as_ref(),
        chrome.as_os_str(),
        "-o".as_ref(),
        model.as_os_str(),
        "-q".as_ref(),
    ]);
    assert_eq!(inspect_json(&model, &[]), doc);
}

fn endpoints(model: &Path) -> Vec<(String, String, String, u64)> {
    let doc = inspect_json(model, &[]);
    doc["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap().to_string(),
                e["host"].as_str().unwrap().to_string(),
                e["template"].as_str().unwrap().to_string(),
                e["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn record_filters_change_the_endpoint_set_and_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let har = fixture(dir.path(), "pagexray__304.har");
    let all = model_of(std::slice::from_ref(&har), &FilterArgs::default());
    let walmart: u64 = all
        .endpoints
        .iter()
        .filter(|e| e.host.ends_with("walmart.com") || e.host.contains("walmart.com:"))
        .map(|e| e.count)
        .sum();
    let js: u64 = all
        .endpoints
        .iter()
        .filter(|e| e.template.starts_with("/js/"))
        .map(|e| e.count)
        .sum();
    assert!(walmart > 0 && js > 0);

    type Check = Box<dyn Fn(&[(String, String, String, u64)]) -> bool>;
    let cases: Vec<(&[&str], &str, u64, Check)> = vec![
        (
            &["--include-host", "loremflickr.com"],
            "filtered: host (--include-host)",
            270 - 94,
            Box::new(|es| es.iter().all(|e| e.1 == "loremflickr.com")),
        ),
        (
            &["--exclude-host", "walmart.com"],
            "filtered: host (--exclude-host)",
            walmart,
            Box::new(|es| es.iter().all(|e| !e.1.contains("walmart.com"))),
        ),
        (
            &["--include-path", "/cp/**"],
            "filtered: path (--include-path)",
            270 - 23,
            Box::new(|es| es.iter().all(|e| e.2.starts_with("/cp/"))),
        ),
        (
            &["--exclude-path", "/js/**"],
            "filtered: path (--exclude-path)",
            js,
            Box::new(|es| es.iter().all(|e| !e.2.starts_with("/js/"))),
        ),
        (
            &["--method", "post"],
            "filtered: method (--method)",
            256,
            Box::new(|es| {
                es.iter().all(|e| e.0 == "POST") && es.iter().map(|e| e.3).sum::<u64>() == 14
            }),
        ),
        (
            &["--api-only"],
            "filtered: static asset (--api-only)",
            0,
            Box::new(|es| {
                es.iter().all(|e| {
                    ![".js", ".css", ".woff2", ".gif"]
                        .iter()
                        .any(|x| e.2.ends_with(x))
                }) && es.iter().any(|e| e.2 == "/cp/api/logger")
            }),
        ),
    ];
    for (args, reason, skipped, check) in cases {
        let out = dir.path().join("f.model.gz");
        let mut cmd: Vec<&std::ffi::OsStr> = vec![
            "record".as_ref(),
            har.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
            "-q".as_ref(),
        ];
        cmd.extend(args.iter().map(std::ffi::OsStr::new));
        replay_ok(cmd);
        let es = endpoints(&out);
        assert!(check(&es), "{args:?}: {es:?}");
        let doc = inspect_json(&out, &[]);
        let n = doc["skipped"][reason].as_u64().unwrap_or(0);
        if skipped > 0 {
            assert_eq!(n, skipped, "{args:?}");
        } else {
            assert!(n > 0, "{args:?}: {}", doc["skipped"]);
        }
        assert_eq!(
            doc["requests"].as_u64().unwrap() + n,
            270,
            "{args:?}: kept + filtered = all"
        );
    }
}

#[test]
fn generate_is_deterministic_per_seed() {
    let dir = tempfile::tempdir().unwrap();
    let har = fixture(dir.path(), "pagexray__304.har");
    let model = dir.path().join("m.model.gz");
    replay_ok([
        "record".as_ref(),
        har.as_os_str(),
        "-o".as_ref(),
        model.as_os_str(),
        "-q".as_ref(),
    ]);
    let run = |seed: &str| {
        replay_ok([
            "generate".as_ref(),
            model.as_os_str(),
            "-n".as_ref(),
            "200".as_ref(),
            "--seed".as_ref(),
            seed.as_ref(),
        ])
    };
    let a = run("7");
    assert_eq!(a, run("7"), "same seed, same requests");
    assert_ne!(a, run("8"), "another seed, other requests");
    // Endpoints are named as the run's report names them: method and
    // template (no two of this model's read the same without the host).
    let templates: BTreeSet<String> = endpoints(&model)
        .into_iter()
        .map(|e| format!("{} {}", e.0, e.2))
        .collect();
    let mut last = 0.0;
    let lines: Vec<&str> = a.lines().collect();
    assert_eq!(lines.len(), 200);
    for line in lines {
        let v: Value = serde_json::from_str(line).unwrap();
        let url = v["url"].as_str().unwrap();
        assert!(
            url.starts_with("http://") || url.starts_with("https://"),
            "{url}"
        );
        assert!(v["method"].is_string() && v["headers"].is_object(), "{v}");
        assert!(v.get("body").is_some());
        assert!(templates.contains(v["endpoint"].as_str().unwrap()), "{v}");
        let at = v["at_s"].as_f64().unwrap();
        assert!(at >= last, "at_s is non-decreasing");
        last = at;
    }
    // --target replaces the origin.
    let t = replay_ok([
        "generate".as_ref(),
        model.as_os_str(),
        "-n".as_ref(),
        "20".as_ref(),
        "--seed".as_ref(),
        "1".as_ref(),
        "--target".as_ref(),
        "http://127.0.0.1:9".as_ref(),
    ]);
    assert!(
        t.lines()
            .all(|l| l.contains("\"url\":\"http://127.0.0.1:9/")),
        "{t}"
    );
}

/// Chi-square critical value for 12 degrees of freedom at p = 0.001.
const CHI2_12_P001: f64 = 32.909;

#[test]
fn generated_endpoint_mix_matches_the_weights() {
    let dir = tempfile::tempdir().unwrap();
    let m = model_of(
        &[fixture(dir.path(), "pagexray__304.har")],
        &FilterArgs::default(),
    );
    assert_eq!(m.endpoints.len(), 13, "df = 12 below");
    let weights: Vec<f64> = m.endpoints.iter().map(|e| e.weight).collect();
    let n = 20_000;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2024);
    let mut counts = vec![0u64; weights.len()];
    for _ in 0..n {
        counts[replay::generate::generate(&m, &mut rng).endpoint] += 1;
    }
    let chi2 = chi_square(&counts, &weights);
    assert!(chi2 < CHI2_12_P001, "chi-square {chi2:.1} for {counts:?}");

    // The test has teeth: samplers that are subtly wrong fail it.
    // Uniform over endpoints:
    let mut uniform = vec![0u64; weights.len()];
    for i in 0..n {
        uniform[i % weights.len()] += 1;
    }
    assert!(chi_square(&uniform, &weights) > 10.0 * CHI2_12_P001);
    // The two heaviest endpoints' weights swapped (34.8% vs 30.0%):
    let mut swapped_w = weights.clone();
    swapped_w.swap(0, 1);
    let mut swapped = vec![0u64; weights.len()];
    let cum: Vec<f64> = swapped_w
        .iter()
        .scan(0.0, |a, w| {
            *a += w;
            Some(*a)
        })
        .collect();
    for _ in 0..n {
        let u: f64 = rand::Rng::random(&mut rng);
        swapped[cum.iter().position(|c| u < *c).unwrap_or(cum.len() - 1)] += 1;
    }
    assert!(
        chi_square(&swapped, &weights) > CHI2_12_P001,
        "a swapped sampler passes: {swapped:?}"
    );
    let by_template: BTreeMap<&str, u64> = m
        .endpoints
        .iter()
        .zip(&counts)
        .map(|(e, c)| (e.template.as_str(), *c))
        .collect();
    assert!(by_template["/{id}/{id2}/weather"] > by_template["/rum.gif"]);
}

/// A recording that spans days (here a request every 4 minutes for 3
/// days: no idle gap over `--max-gap` to compress) is not replayed for
/// days by default: without --duration the run is refused with the span
/// and the flag to use; with it, it runs.
#[test]
fn a_recording_longer_than_an_hour_needs_a_duration() {
    let dir = tempfile::tempdir().unwrap();
    let entries: Vec<Entry> = (0..=3 * 24 * 15)
        .map(|i| Entry::get("http://shop.test/a", i * 4 * 60 * 1000))
        .collect();
    let har = write_har(dir.path(), "sparse.har", &entries);
    let out = replay(["run".as_ref(), har.as_os_str(), "--quiet".as_ref()]);
    let err = &out.stderr;
    assert_eq!(out.code, Some(2), "{err}");
    assert!(
        err.contains("spans 72h00m") && err.contains("--duration"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    // The spike profile also runs for the recorded length by default.
    let out = replay([
        "run".as_ref(),
        har.as_os_str(),
        "--profile".as_ref(),
        "spike".as_ref(),
    ]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);

    let out = replay([
        "run".as_ref(),
        har.as_os_str(),
        "--quiet".as_ref(),
        "--duration".as_ref(),
        "1s".as_ref(),
    ]);
    let err = &out.stderr;
    assert_eq!(out.code, Some(0), "{err}");
}

/// k6, oha and vegeta habits: `-c`, `-d`/`-z` are aliases; `--vus`,
/// `-n` and oha's `-q 100` get a sentence naming replay's flag (not
/// clap's "use '-- -c'" tip); a mistyped subcommand gets "did you
/// mean"; `N/min` is a rate; zero lengths and counts are refused.
#[test]
fn other_tools_habits_are_met() {
    let dir = tempfile::tempdir().unwrap();
    let har = write_har(dir.path(), "a.har", &support::har::shop(40, 2.0, false));
    let h = har.to_str().unwrap();
    let summary = dir.path().join("s.json");
    let s = summary.to_str().unwrap();
    for flags in [
        &["-c", "2", "-z", "1s"][..],
        &["-c", "2", "-d", "1s"],
        &["--connections", "2", "--duration", "1s"],
    ] {
        let mut a = vec![
            h,
            "--rate",
            "600/min",
            "--mock-latency",
            "none",
            "-q",
            "--no-color",
        ];
        a.extend(flags);
        a.extend(["--summary-export", s]);
        let r = replay(&a);
        assert_eq!(r.code, Some(0), "{flags:?}: {}", r.output());
        let v = support::read_json(&summary);
        assert_eq!(v["planned_duration_s"], 1.0, "{flags:?}: {v}");
        let rate = v["intended_rate"].as_f64().unwrap();
        assert!((rate - 10.0).abs() < 3.0, "600/min is 10/s: {rate}");
    }
    for (a, needle) in [
        (&[h, "--vus", "10"][..], "--connections N"),
        (&[h, "-n", "1000"], "--rate 100/s --duration 10s"),
        (&["-q", "100", h], "--rate 100/s"),
        (&[h, "-q", "100"], "--rate 100/s"),
        (&["inspcet", h], "did you mean 'replay inspect'?"),
        (&[h, "-rate=10/s"], "two dashes: --rate"),
        (&[h, "--duraton", "1s"], "did you mean '--duration'?"),
        (&[h, "--duration", "0s"], "'0s' is zero"),
        (&[h, "--timeout", "0s"], "'0s' is zero"),
        (&[h, "--connections", "0"], "'0' is zero"),
        (&[h, "--threads", "0"], "'0' is zero"),
    ] {
        let r = replay(a);
        assert_eq!(r.code, Some(2), "{a:?}: {}", r.output());
        assert!(r.stderr.contains(needle), "{a:?}: {}", r.stderr);
        assert!(
            !r.stderr.contains("'-- "),
            "{a:?}: clap's tip: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("cannot read"), "{a:?}: {}", r.stderr);
    }
}

/// Every option `--help` lists, for every command, is named in the
/// README (where the options are listed; docs/replay.md explains them),
/// so the documentation cannot fall behind the flags.
#[test]
fn every_option_is_documented() {
    use clap::CommandFactory;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = std::fs::read_to_string(root.join("README.md")).unwrap();
    let cli = replay::cli::Cli::command();
    let mut missing = Vec::new();
    for cmd in cli.get_subcommands() {
        for arg in cmd.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if ["help", "version"].contains(&long) {
                continue;
            }
            if !docs.contains(&format!("--{long}")) {
                missing.push(format!("{} --{long}", cmd.get_name()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "options in --help that README.md does not name: {missing:?}"
    );
}

/// `-o -` writes the model to standard output (here redirected to a
/// file, which then loads as the same model), and no file named `-`.
#[test]
fn record_writes_the_model_to_stdout_with_a_dash() {
    let dir = tempfile::tempdir().unwrap();
    let chrome = fixtures_dir().join("harviewer__issue-49-chrome51.har");
    let model = dir.path().join("piped.model.gz");
    let r = support::bin::Replay::new([
        "record".as_ref(),
        chrome.as_os_str(),
        "-o".as_ref(),
        "-".as_ref(),
        "-q".as_ref(),
    ])
    .current_dir(dir.path())
    .stdout(std::fs::File::create(&model).unwrap().into())
    .run();
    assert_eq!(r.code, Some(0), "{}", r.output());
    assert!(!dir.path().join("-").exists());
    assert_eq!(inspect_json(&model, &[]), inspect_json(&chrome, &[]));
}
