//! `replay merge` (issue 11): three shards of one run against a local
//! server, merged. Counts add up overall and per endpoint, the merged
//! histograms are exactly the sum of the shards' (the same count at every
//! value), a threshold crossed only by the whole run fails the merge, and
//! summaries that are not the shards of one run are refused.

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::bin::{replay, Replay};
use support::har::{shop, write_har};
use support::read_json;
use support::server::{Behaviour, Server};

fn shard_runs(dir: &Path, url: &str) -> Vec<PathBuf> {
    let har = write_har(dir, "shop.har", &shop(600, 20.0, false));
    let spawned: Vec<_> = (1..=3)
        .map(|k| {
            let out = dir.join(format!("shard-{k}.json"));
            let args: Vec<String> = [
                "run",
                har.to_str().unwrap(),
                "--target",
                url,
                "--seed",
                "5",
                "--shard",
                &format!("{k}/3"),
                "--duration",
                "3s",
                "--quiet",
                "--summary-export",
                out.to_str().unwrap(),
                // Each shard alone sends ~30 requests; the whole run ~90.
                "--threshold",
                "http_reqs: count<40",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            (out, Replay::new(args).spawn())
        })
        .collect();
    spawned
        .into_iter()
        .map(|(out, child)| {
            let run = child.finish();
            assert_eq!(run.code, Some(0), "{}", run.output());
            out
        })
        .collect()
}

fn decode(h: &Value) -> hdrhistogram::Histogram<u64> {
    replay::metrics::hist::decode(h["data"].as_str().unwrap()).unwrap()
}

/// (metric, endpoint, status class) → histogram.
fn histograms(s: &Value) -> std::collections::BTreeMap<String, hdrhistogram::Histogram<u64>> {
    s["histograms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                format!("{} {} {}", h["metric"], h["endpoint"], h["status"]),
                decode(h),
            )
        })
        .collect()
}

#[test]
fn three_shards_merge_into_one_exact_run() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Behaviour::default());
    let parts = shard_runs(dir.path(), &server.url());
    let shards: Vec<Value> = parts.iter().map(|p| read_json(p)).collect();
    for (k, s) in shards.iter().enumerate() {
        assert_eq!(
            s["shards"],
            serde_json::json!([format!("{}/3", k + 1)]),
            "{s}"
        );
    }
    let merged_path = dir.path().join("merged.json");
    let mut args: Vec<&std::ffi::OsStr> = vec!["merge".as_ref()];
    args.extend(parts.iter().map(|p| p.as_os_str()));
    let junit = dir.path().join("merged.xml");
    let junit_arg = format!("junit={}", junit.display());
    args.extend([
        "-o".as_ref(),
        merged_path.as_os_str(),
        "--out".as_ref(),
        junit_arg.as_ref(),
    ]);
    let merged_run = replay(args);
    // Every shard passed `count<40`; the whole run sent more.
    assert_eq!(merged_run.code, Some(99), "{}", merged_run.output());
    assert!(
        merged_run
            .stdout
            .contains("merged shards 1/3, 2/3, 3/3 of 3"),
        "{}",
        merged_run.stdout
    );
    let m = read_json(&merged_path);
    let sum = |f: &dyn Fn(&Value) -> u64| shards.iter().map(f).sum::<u64>();
    let sent = sum(&|s| s["requests"]["sent"].as_u64().unwrap());
    assert!(sent >= 40, "{sent}");
    assert_eq!(m["requests"]["sent"].as_u64().unwrap(), sent);
    assert_eq!(
        sent,
        server.total(),
        "the shards together sent what the server saw"
    );
    for field in ["intended", "completed", "failed", "dropped"] {
        assert_eq!(
            m["requests"][field].as_u64().unwrap(),
            sum(&|s| s["requests"][field].as_u64().unwrap()),
            "{field}"
        );
    }
    for (i, e) in m["endpoints"].as_array().unwrap().iter().enumerate() {
        assert_eq!(
            e["count"].as_u64().unwrap(),
            sum(&|s| s["endpoints"][i]["count"].as_u64().unwrap()),
            "{e}"
        );
    }
    // Histograms: the merged one at every value is the shards' sum.
    let merged = histograms(&m);
    let mut added: std::collections::BTreeMap<String, hdrhistogram::Histogram<u64>> =
        Default::default();
    for s in &shards {
        for (k, h) in histograms(s) {
            match added.get_mut(&k) {
                Some(a) => a.add(&h).unwrap(),
                None => {
                    added.insert(k, h);
                }
            }
        }
    }
    assert_eq!(
        merged.keys().collect::<Vec<_>>(),
        added.keys().collect::<Vec<_>>()
    );
    for (k, h) in &merged {
        let a = &added[k];
        assert_eq!(h.len(), a.len(), "{k}");
        for v in a.iter_recorded() {
            assert_eq!(
                h.count_at(v.value_iterated_to()),
                a.count_at(v.value_iterated_to()),
                "{k}"
            );
        }
    }
    // Over time: the drift series from the merged blocks, every request
    // in it once, each point's p95 from the added histograms.
    let drift = m["drift"].as_array().unwrap();
    assert!(!drift.is_empty(), "{m}");
    let in_drift: u64 = drift.iter().map(|p| p["requests"].as_u64().unwrap()).sum();
    assert_eq!(in_drift, sent);
    assert!(drift.iter().any(|p| p["p95_ms"].as_f64().is_some()));
    let t = &m["thresholds"][0];
    assert_eq!(t["ok"], false, "{t}");
    // The JUnit report of the merged run fails that threshold.
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("name=\"http_reqs: count&lt;40\" time=\"0\">\n      <failure"),
        "{xml}"
    );

    // Not the shards of one run: refused, exit 2, with the reason.
    for (args, want) in [
        (vec![&parts[0], &parts[1], &parts[1]], "given twice"),
        (vec![&parts[0], &parts[2]], "2/3 of the run is missing"),
    ] {
        let mut a: Vec<&std::ffi::OsStr> = vec!["merge".as_ref()];
        a.extend(args.iter().map(|p| p.as_os_str()));
        let r = replay(a);
        assert_eq!(r.code, Some(2), "{}", r.output());
        assert!(r.stderr.contains(want), "{want}: {}", r.stderr);
    }
    // --allow-partial merges what there is and says what is missing.
    let r = replay([
        "merge".as_ref(),
        parts[0].as_os_str(),
        parts[2].as_os_str(),
        "--allow-partial".as_ref(),
    ]);
    assert!(
        r.stdout.contains("PARTIAL: shards 2/3 missing"),
        "{}",
        r.output()
    );
}
