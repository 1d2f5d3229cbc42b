//! `replay fidelity`: its figures checked against a straightforward
//! computation over the same requests (`replay generate` gives the
//! schedule `run` would send), on a bursty browser-like recording: page
//! loads of dozens of requests milliseconds apart, then think times.

mod support;

use std::collections::BTreeMap;

use serde_json::Value;
use support::bin::{replay, replay_ok};
use support::har::{write_har, Entry};

/// Page loads: a document, then 10 to 40 assets 0 to 9 ms apart, then a
/// think time of 2 to 20 s; two users overlapping, for ten minutes.
fn page_loads() -> Vec<Entry> {
    page_loads_of(2)
}

/// [`page_loads`] of `users` users, each starting 3 s after the last.
fn page_loads_of(users: u64) -> Vec<Entry> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let assets = [
        "/app.js",
        "/style.css",
        "/logo.png",
        "/api/feed",
        "/font.woff2",
    ];
    let mut out = Vec::new();
    for user in 0..users {
        let mut t = user * 3_000;
        while t < 600_000 {
            out.push(Entry::get("http://shop.test/", t));
            t += 40 + next(60);
            for _ in 0..10 + next(31) {
                t += next(10);
                let a = assets[next(assets.len() as u64) as usize];
                out.push(Entry::get(format!("http://shop.test{a}"), t));
            }
            t += 2_000 + next(18_000);
        }
    }
    out.sort_by_key(|e| e.at_ms);
    out
}

/// Largest difference of the two empirical CDFs, at every value of
/// either sample (the textbook definition, by counting).
fn ks(a: &[f64], b: &[f64]) -> f64 {
    let cdf = |s: &[f64], x: f64| s.iter().filter(|v| **v <= x).count() as f64 / s.len() as f64;
    a.iter()
        .chain(b)
        .map(|x| (cdf(a, *x) - cdf(b, *x)).abs())
        .fold(0.0, f64::max)
}

/// The check named `name` in a `fidelity --json` report.
fn check<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("{name} not judged: {}", v["checks"]))
}

fn gaps(t: &[f64]) -> Vec<f64> {
    t.windows(2).map(|w| w[1] - w[0]).collect()
}

fn shares(labels: &[String]) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    for l in labels {
        *m.entry(l.clone()).or_insert(0.0) += 1.0 / labels.len() as f64;
    }
    m
}

/// Total variation between two label samples' shares (½ Σ |p − q|).
fn total_variation(a: &[String], b: &[String]) -> f64 {
    let (p, q) = (shares(a), shares(b));
    p.keys()
        .chain(q.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|k| (p.get(k).unwrap_or(&0.0) - q.get(k).unwrap_or(&0.0)).abs())
        .sum::<f64>()
        / 2.0
}

#[test]
fn figures_match_an_independent_computation() {
    let dir = tempfile::tempdir().unwrap();
    let entries = page_loads();
    let har = write_har(dir.path(), "pages.har", &entries);
    let har_s = har.to_str().unwrap();
    let recorded: Vec<f64> = entries.iter().map(|e| e.at_ms as f64 / 1000.0).collect();
    let duration = recorded.last().unwrap() - recorded[0];
    let rec_labels: Vec<String> = entries
        .iter()
        .map(|e| e.url.trim_start_matches("http://shop.test").to_string())
        .collect();
    let r = replay(["fidelity", har_s, "--json", "--seed", "3"]);
    let v: Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.output()));

    let out = replay_ok(["generate", har_s, "-n", "100000", "--seed", "3"]);
    let mut gen_t = Vec::new();
    let mut gen_labels = Vec::new();
    for line in out.lines() {
        let x: Value = serde_json::from_str(line).unwrap();
        let at = x["at_s"].as_f64().unwrap();
        if at <= duration + 1e-6 {
            // As a HAR (whole milliseconds) would have recorded it.
            gen_t.push((at * 1000.0 + 1e-6).floor() / 1000.0);
            let ep = x["endpoint"].as_str().unwrap();
            gen_labels.push(ep.trim_start_matches("GET ").to_string());
        }
    }
    assert!(
        out.lines().count() > gen_t.len(),
        "generate went past the duration"
    );

    let count_ratio = gen_t.len() as f64 / recorded.len() as f64;
    assert!(
        (v["count_ratio"].as_f64().unwrap() - count_ratio).abs() < 1e-9,
        "{v}"
    );
    let gap_ks = ks(&gaps(&recorded), &gaps(&gen_t));
    let cli_ks = v["gap_ks"].as_f64().unwrap();
    // at_s is printed to the microsecond: a gap can land a millisecond off.
    assert!((cli_ks - gap_ks).abs() < 0.01, "cli {cli_ks} vs {gap_ks}");
    let tv = total_variation(&rec_labels, &gen_labels);
    assert!((v["mix_tv"].as_f64().unwrap() - tv).abs() < 1e-9, "{v}");
    // The split-half KS: the first half in time against the second.
    let mid = recorded[0] + duration / 2.0;
    let first: Vec<f64> = recorded.iter().copied().filter(|t| *t < mid).collect();
    let second: Vec<f64> = recorded.iter().copied().filter(|t| *t >= mid).collect();
    let split = ks(&gaps(&first), &gaps(&second));
    assert!((v["split_half"]["gap_ks"].as_f64().unwrap() - split).abs() < 1e-9);

    // What issue 12 asks of a bursty recording: the count within ±5%
    // (here exact: the recorded count per bin), the mix at the split-half
    // level, and the gap KS within max(0.05, 1.5 × split-half) = 0.087
    // here (0.03–0.04 over seeds 1–8 since the chain goes on from the gap
    // into each bin's train; 0.090 before, docs/replay.md "Fidelity").
    assert!(
        (count_ratio - 1.0).abs() <= 0.05,
        "count ratio {count_ratio}"
    );
    assert!(
        gap_ks <= f64::max(0.05, 1.5 * split),
        "gap KS {gap_ks}, split-half {split}"
    );
    for name in ["mix_tv", "gap_ks", "count_ratio_error"] {
        let c = check(&v, name);
        assert_eq!(c["pass"], true, "{c}");
    }
    // The text report says the same.
    let text = replay(["fidelity", har_s, "--seed", "3"]).stdout;
    assert!(
        text.contains("gap_ks") && text.contains("split-half"),
        "{text}"
    );
}

/// The recording against itself: no difference at all.
#[test]
fn a_capture_against_itself_is_identical() {
    let dir = tempfile::tempdir().unwrap();
    let har = write_har(dir.path(), "pages.har", &page_loads());
    let h = har.to_str().unwrap();
    let r = replay(["fidelity", h, "--against", h, "--json"]);
    let v: Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.output()));
    assert_eq!(v["count_ratio"], 1.0);
    assert_eq!(v["gap_ks"], 0.0);
    assert_eq!(v["mix_tv"], 0.0);
    assert_eq!(v["rate_error"]["1s"], 0.0);
    assert_eq!(v["pool"]["novel_share"], 0.0);
    assert_eq!(r.code, Some(0), "{}", r.output());
}

/// The bin of a gap as the model's histogram keeps it: 20 a decade,
/// zero on its own.
fn bin(g: f64) -> Option<i64> {
    (g > 0.0).then(|| (g.log10() * 20.0).floor() as i64)
}

/// KS distance between two samples binned as the model bins them.
fn binned_ks(a: &[f64], b: &[f64]) -> f64 {
    let (ba, bb): (Vec<_>, Vec<_>) = (
        a.iter().map(|g| bin(*g)).collect(),
        b.iter().map(|g| bin(*g)).collect(),
    );
    let cdf = |s: &[Option<i64>], x: Option<i64>| {
        s.iter().filter(|v| **v <= x).count() as f64 / s.len() as f64
    };
    ba.iter()
        .chain(&bb)
        .map(|x| (cdf(&ba, *x) - cdf(&bb, *x)).abs())
        .fold(0.0, f64::max)
}

/// A model file alone: the generated schedule against what the model
/// keeps (endpoint counts, the gap histogram, the curve), each figure
/// beside the sampling noise of its size.
#[test]
fn a_model_file_is_compared_at_its_own_resolution() {
    let dir = tempfile::tempdir().unwrap();
    let entries = page_loads();
    let har = write_har(dir.path(), "pages.har", &entries);
    let model = dir.path().join("m.model.gz");
    let m = model.to_str().unwrap();
    replay_ok(["record", har.to_str().unwrap(), "-o", m]);
    let r = replay(["fidelity", m, "--json", "--seed", "4"]);
    let v: Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.output()));
    assert_eq!(v["split_half"], Value::Null, "{v}");

    let recorded: Vec<f64> = entries.iter().map(|e| e.at_ms as f64 / 1000.0).collect();
    let duration = recorded.last().unwrap() - recorded[0];
    let out = replay_ok(["generate", m, "-n", "100000", "--seed", "4"]);
    let (mut gen_t, mut gen_labels) = (Vec::new(), Vec::new());
    for line in out.lines() {
        let x: Value = serde_json::from_str(line).unwrap();
        let at = x["at_s"].as_f64().unwrap();
        if at <= duration + 1e-6 {
            gen_t.push(at);
            gen_labels.push(
                x["endpoint"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("GET ")
                    .to_string(),
            );
        }
    }
    let count_ratio = gen_t.len() as f64 / recorded.len() as f64;
    assert!(
        (v["count_ratio"].as_f64().unwrap() - count_ratio).abs() < 1e-9,
        "{v}"
    );
    let rec_labels: Vec<String> = entries
        .iter()
        .map(|e| e.url.trim_start_matches("http://shop.test").to_string())
        .collect();
    let tv = total_variation(&rec_labels, &gen_labels);
    assert!((v["mix_tv"].as_f64().unwrap() - tv).abs() < 1e-9, "{v}");
    let ks = binned_ks(&gaps(&recorded), &gaps(&gen_t));
    let cli = v["gap_ks"].as_f64().unwrap();
    // at_s is printed to the microsecond: a gap on a bin edge can move.
    assert!((cli - ks).abs() < 0.01, "cli {cli} vs {ks}");
    for c in v["checks"].as_array().unwrap() {
        assert_eq!(c["split_half"], Value::Null, "{c}");
        let floor = match c["name"].as_str().unwrap() {
            "mix_tv" => 0.02,
            "gap_ks" => 0.05,
            _ => continue,
        };
        // Noise of a sample of 2,718 requests: a few hundredths.
        let noise = c["noise"].as_f64().unwrap();
        assert!(noise > 0.005 && noise < 0.1, "{c}");
        assert_eq!(
            c["limit"].as_f64().unwrap(),
            (1.5 * noise).max(floor),
            "{c}"
        );
    }
    assert_eq!(r.code, Some(if v["pass"] == true { 0 } else { 99 }));
    let text = replay(["fidelity", m, "--seed", "4"]).stdout;
    assert!(
        text.contains("noise p95") && text.contains("model"),
        "{text}"
    );

    // A model is given alone, and --against takes a capture.
    let h = har.to_str().unwrap();
    let r = replay(["fidelity", m, h]);
    assert_eq!(r.code, Some(2), "{}", r.output());
    assert!(r.stderr.contains("give it alone"), "{}", r.stderr);
    let r = replay(["fidelity", h, "--against", m]);
    assert_eq!(r.code, Some(2), "{}", r.output());
    assert!(
        r.stderr.contains("--against takes a capture"),
        "{}",
        r.stderr
    );
    // The model against a capture of its own recording: the recording is
    // the model's at the model's resolution.
    let r = replay(["fidelity", m, "--against", h, "--json"]);
    let v: Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.output()));
    assert_eq!(v["mix_tv"], 0.0, "{v}");
    assert_eq!(v["gap_ks"], 0.0, "{v}");
    assert_eq!(v["count_ratio"], 1.0, "{v}");
}

/// Users (told apart by their session cookie, all in one HAR) who visit
/// a shop a few times over six hours: each visit 3 to 15 page loads (a
/// document and 2 to 6 assets a few ms apart) 3 to 60 s apart, visits 20
/// to 40 minutes apart.
fn visitors(users: u64) -> Vec<Entry> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let pages = ["/", "/search", "/item/1", "/item/2", "/cart"];
    let mut out = Vec::new();
    for user in 0..users {
        let cookie = (
            "Cookie".to_string(),
            format!("_ga=x{}; sid=u{user}", next(9)),
        );
        let mut t = user * 61_000;
        while t < 6 * 3_600_000 {
            for _ in 0..3 + next(13) {
                let page = pages[next(pages.len() as u64) as usize];
                let mut doc = Entry::get(format!("http://shop.test{page}"), t);
                doc.headers.push(cookie.clone());
                out.push(doc);
                for _ in 0..2 + next(5) {
                    t += 1 + next(8);
                    let mut a = Entry::get("http://shop.test/app.js", t);
                    a.headers.push(cookie.clone());
                    out.push(a);
                }
                t += 3_000 + next(57_000);
            }
            t += 20 * 60_000 + next(20 * 60_000);
        }
    }
    out.sort_by_key(|e| e.at_ms);
    out
}

/// Per session (in order of first request): requests, seconds, and all
/// think times, by grouping and counting.
fn shapes(rows: &[(f64, u64)]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut by: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    for (t, s) in rows {
        by.entry(*s).or_default().push(*t);
    }
    let (mut len, mut dur, mut think) = (Vec::new(), Vec::new(), Vec::new());
    for ts in by.values() {
        len.push(ts.len() as f64);
        dur.push(ts[ts.len() - 1] - ts[0]);
        think.extend(gaps(ts));
    }
    (len, dur, think)
}

#[test]
fn session_figures_match_an_independent_computation() {
    let dir = tempfile::tempdir().unwrap();
    let entries = visitors(24);
    let har = write_har(dir.path(), "visits.har", &entries);
    let har_s = har.to_str().unwrap();
    // Precondition: no gap long enough for the timeline to be compressed
    // (the session figures are on real times either way; the test's
    // recomputation is simpler without).
    let max_gap = entries
        .windows(2)
        .map(|w| w[1].at_ms - w[0].at_ms)
        .max()
        .unwrap();
    assert!(max_gap < 300_000, "{max_gap}");
    let model: Value = serde_json::from_str(&replay_ok(["inspect", har_s, "--json"])).unwrap();
    let idle = model["sessions"]["idle_split_s"].as_f64().unwrap();
    // The learned timeout falls between the think times and the absences.
    assert!((60.0..=1200.0).contains(&idle), "{idle}");
    assert_eq!(model["sessions"]["clients"], 24, "{}", model["sessions"]);

    // Recorded sessions: each user's requests split at the timeout.
    let t0 = entries[0].at_ms as f64 / 1000.0;
    let mut last: BTreeMap<String, (f64, u64)> = BTreeMap::new();
    let mut n = 0;
    let recorded: Vec<(f64, u64)> = entries
        .iter()
        .map(|e| {
            let t = e.at_ms as f64 / 1000.0 - t0;
            let user = e
                .headers
                .last()
                .unwrap()
                .1
                .split("sid=")
                .nth(1)
                .unwrap()
                .to_string();
            let s = match last.get(&user) {
                Some((prev, s)) if t - prev <= idle => *s,
                _ => {
                    n += 1;
                    n - 1
                }
            };
            last.insert(user, (t, s));
            (t, s)
        })
        .collect();
    assert_eq!(n, model["sessions"]["sessions"].as_u64().unwrap());
    let duration = recorded.last().unwrap().0;

    let r = replay(["fidelity", har_s, "--sessions", "--json", "--seed", "3"]);
    let v: Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.output()));
    let out = replay_ok([
        "generate",
        har_s,
        "--sessions",
        "-n",
        "200000",
        "--seed",
        "3",
    ]);
    let generated: Vec<(f64, u64)> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|x| (x["at_s"].as_f64().unwrap(), x["session"].as_u64().unwrap()))
        .filter(|(at, _)| *at <= duration + 1e-6)
        .map(|(at, s)| ((at * 1000.0 + 1e-6).floor() / 1000.0, s))
        .collect();
    assert!(
        out.lines().count() > generated.len(),
        "generate went past the duration"
    );
    let (rl, rd, rt) = shapes(&recorded);
    let (gl, gd, gt) = shapes(&generated);
    let s = &v["sessions"];
    assert_eq!(
        s["recorded_sessions"].as_u64().unwrap() as usize,
        rl.len(),
        "{s}"
    );
    assert_eq!(s["sessions"].as_u64().unwrap() as usize, gl.len(), "{s}");
    for (name, want) in [
        ("length_ks", ks(&rl, &gl)),
        ("duration_ks", ks(&rd, &gd)),
        ("think_ks", ks(&rt, &gt)),
    ] {
        let got = s[name].as_f64().unwrap();
        // at_s is printed to the microsecond: a time can land a ms off.
        assert!((got - want).abs() < 0.01, "{name}: cli {got} vs {want}");
    }
    // The split-half: even against odd sessions of the recording.
    let half = |p: u64| -> Vec<(f64, u64)> {
        recorded
            .iter()
            .copied()
            .filter(|(_, s)| s % 2 == p)
            .collect()
    };
    let ((el, ed, et), (ol, od, ot)) = (shapes(&half(0)), shapes(&half(1)));
    let h = &v["split_half"]["sessions"];
    for (name, want) in [
        ("length_ks", ks(&el, &ol)),
        ("duration_ks", ks(&ed, &od)),
        ("think_ks", ks(&et, &ot)),
    ] {
        assert!(
            (h[name].as_f64().unwrap() - want).abs() < 1e-9,
            "{name}: {h}"
        );
    }
    // What issue 12 asks of `--sessions`: requests per session, session
    // lengths and think times at the recording's noise floor.
    for n in ["session_length_ks", "session_duration_ks", "think_time_ks"] {
        let c = check(&v, n);
        assert_eq!(c["pass"], true, "{c}");
    }
    let text = replay(["fidelity", har_s, "--sessions", "--seed", "3"]).stdout;
    assert!(
        text.contains("sessions: ") && text.contains("think_time_ks"),
        "{text}"
    );
}

/// Four users browsing at once: a page load every 2.75 s on average,
/// each of a few hundred ms. The rate curve's bins were 5 s (240 at most
/// over ten minutes) and each bin's requests one train from its first
/// request, so a bin's second and third page loads landed wherever the
/// gap chain put them: 1 s rate error 0.49–0.55 over seeds 1–4 against a
/// limit of 0.45. Bins of at most half the time between page loads (1 s
/// here) keep each where it was recorded.
#[test]
fn overlapping_users_keep_the_rate_over_one_second_windows() {
    let dir = tempfile::tempdir().unwrap();
    let har = write_har(dir.path(), "four.har", &page_loads_of(4));
    let h = har.to_str().unwrap();
    let runs: Vec<(Value, Option<i32>)> = ["1", "2", "3", "4"]
        .into_iter()
        .map(|seed| {
            let r = replay(["fidelity", h, "--json", "--seed", seed]);
            let v: Value =
                serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.output()));
            (check(&v, "rate_error_1s").clone(), r.code)
        })
        .collect();
    // Every seed's figure in the message, not only the first that fails.
    let all: Vec<String> = runs
        .iter()
        .map(|(c, code)| format!("{} (limit {}, exit {code:?})", c["value"], c["limit"]))
        .collect();
    assert!(
        runs.iter()
            .all(|(c, code)| c["pass"] == true && *code == Some(0)),
        "1 s rate error for seeds 1-4: {all:?}"
    );
}

/// Chromium walking 12 pages (fixtures/browser, a real capture): for
/// every one of 8 seeds the schedule keeps the recorded count and passes
/// every check, the gap KS within max(0.05, 1.5 × split-half). Seed 4 was
/// past it (0.142 against 0.125) while each bin's gaps went on from the
/// previous bin's last drawn gap instead of the think time leading in.
#[test]
fn a_real_browser_capture_passes_for_eight_seeds() {
    let pcap = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/browser/chromium-browse.pcap");
    let p = pcap.to_str().unwrap();
    for seed in 1..=8 {
        let seed = seed.to_string();
        let r = replay(["fidelity", p, "--json", "--seed", &seed]);
        let v: Value =
            serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.output()));
        assert_eq!(v["count_ratio"], 1.0, "seed {seed}: {v}");
        let limit = f64::max(0.05, 1.5 * v["split_half"]["gap_ks"].as_f64().unwrap());
        let ks = v["gap_ks"].as_f64().unwrap();
        assert!(ks <= limit, "seed {seed}: gap KS {ks} > {limit}");
        assert_eq!(r.code, Some(0), "seed {seed}: {}", r.output());
    }
}

/// One page of 20 resources loaded twice (like harviewer's
/// softwareishard.com.har): the halves have the same mix (split-half TV
/// 0), but a schedule of 40 requests drawn from the mix cannot match it
/// that closely. The mix is judged against 1.5 × its sampling noise,
/// which the test computes on its own; a replay of another mix still
/// fails.
#[test]
fn a_page_loaded_twice_is_judged_against_the_mix_sampling_noise() {
    let dir = tempfile::tempdir().unwrap();
    let mut entries = Vec::new();
    for load in 0..2u64 {
        for k in 0..20u64 {
            // Paths of 1 to 20 segments: 20 endpoints, none merged.
            let path = "/p".repeat(k as usize + 1);
            entries.push(Entry::get(
                format!("http://page.test{path}"),
                load * 6_000 + k * 7,
            ));
        }
    }
    let har = write_har(dir.path(), "twice.har", &entries);
    let h = har.to_str().unwrap();
    let r = replay(["fidelity", h, "--json", "--seed", "1"]);
    let v: Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.output()));
    let c = check(&v, "mix_tv").clone();
    assert_eq!(c["split_half"], 0.0, "{c}");
    // The 95th percentile of the TV between 20 equal shares and 40 draws
    // from them, by simulation (xorshift, 4,000 samples).
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut tvs: Vec<f64> = (0..4_000)
        .map(|_| {
            let mut counts = [0u32; 20];
            for _ in 0..40 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                counts[(state % 20) as usize] += 1;
            }
            counts
                .iter()
                .map(|n| (*n as f64 / 40.0 - 0.05).abs())
                .sum::<f64>()
                / 2.0
        })
        .collect();
    tvs.sort_by(f64::total_cmp);
    let p95 = tvs[3_800];
    let noise = c["noise"].as_f64().unwrap();
    assert!((noise - p95).abs() < 0.08, "noise {noise}, simulated {p95}");
    let limit = c["limit"].as_f64().unwrap();
    assert!((limit - 1.5 * noise).abs() < 1e-9, "{c}");
    assert_eq!(c["pass"], true, "{c}");
    // The ten most frequent targets' share in 40 requests: a binomial
    // sample of the recorded share, within 1.96 σ 95% of the time.
    let top = check(&v, "pool_top10_error");
    let p = v["pool"]["recorded_top10_share"].as_f64().unwrap();
    let sigma = (p * (1.0 - p) / 40.0).sqrt();
    assert!(
        (top["noise"].as_f64().unwrap() - 1.96 * sigma).abs() < 1e-9,
        "{top}"
    );
    assert!(top["limit"].as_f64().unwrap() >= 1.5 * 1.96 * sigma - 1e-9);
    let text = replay(["fidelity", h, "--seed", "1"]).stdout;
    assert!(
        text.contains("1.5 × the sampling noise of 40 requests"),
        "{text}"
    );

    // A "replay" that asked for one resource 40 times.
    let one: Vec<Entry> = (0..40u64)
        .map(|k| Entry::get("http://page.test/p", k * 300))
        .collect();
    let other = write_har(dir.path(), "one.har", &one);
    let r = replay([
        "fidelity",
        h,
        "--against",
        other.to_str().unwrap(),
        "--json",
    ]);
    let v: Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.output()));
    let c = check(&v, "mix_tv");
    assert_eq!(c["pass"], false, "{c}");
    assert_ne!(r.code, Some(0), "{}", r.output());
}

/// An API mix: Poisson arrivals whose rate drifts ±50% over five minutes
/// (20 req/s on average, whole milliseconds), ten minutes of them. The
/// schedule keeps its gaps as well as its counts: every figure passes for
/// three seeds, the gap Wasserstein distance included (0.12–0.13 of the
/// mean gap when the longest gaps of slow bins were stretched, against
/// the limit of 0.10).
#[test]
fn a_drifting_poisson_mix_passes_every_figure() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let paths = ["/api/users/1", "/api/orders", "/api/items/7", "/health"];
    let (mut t, mut entries) = (0.0f64, Vec::new());
    while t < 600.0 {
        let rate = 20.0 * (1.0 + 0.5 * (t / 300.0 * std::f64::consts::TAU).sin());
        t += -(1.0 - uniform()).ln() / rate;
        let path = paths[(uniform() * paths.len() as f64) as usize];
        entries.push(Entry::get(
            format!("http://api.test{path}"),
            (t * 1000.0) as u64,
        ));
    }
    let har = write_har(dir.path(), "api.har", &entries);
    let h = har.to_str().unwrap();
    for seed in ["1", "2", "3"] {
        let r = replay(["fidelity", h, "--json", "--seed", seed]);
        let v: Value =
            serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.output()));
        let w = check(&v, "gap_wasserstein");
        assert_eq!(w["pass"], true, "seed {seed}: {w}");
        assert_eq!(r.code, Some(0), "seed {seed}: {}", r.output());
    }
}
