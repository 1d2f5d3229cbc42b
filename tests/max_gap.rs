//! `record --max-gap` (issue 19): idle gaps between captures, or inside a
//! month-long one, are compressed so the captures make one continuous
//! recording at their combined rate; the model, `inspect` and `record`
//! say what was compressed.

mod support;

use replay::cli::FilterArgs;
use support::bin::replay;
use support::har::{shop, write_har_at};
use support::model_of;

const MAY_2015_MS: i64 = 1_431_000_000_000;
const MARCH_2026_MS: i64 = 1_773_000_000_000;

#[test]
fn two_captures_years_apart_record_one_continuous_model() {
    let dir = tempfile::tempdir().unwrap();
    // 300 requests over 30 s in 2015; 200 over 20 s in 2026.
    let a = write_har_at(dir.path(), "a.har", &shop(300, 30.0, false), MAY_2015_MS);
    let b = write_har_at(dir.path(), "b.har", &shop(200, 20.0, false), MARCH_2026_MS);
    let m = model_of(&[a.clone(), b.clone()], &FilterArgs::default());
    let span_a = 299.0 * 30.0 / 300.0;
    let span_b = 199.0 * 20.0 / 200.0;
    let expected = span_a + span_b + 300.0;
    let d = m.arrival.duration_s();
    assert!((d - expected).abs() < 0.01, "{d} s, expected {expected} s");
    assert!((m.arrival.mean_rate() - 500.0 / expected).abs() < 1e-3);
    assert_eq!(m.arrival.compressed.gaps, 1);
    let real = (MARCH_2026_MS - MAY_2015_MS) as f64 / 1e3 + span_b;
    assert!((m.arrival.compressed.removed_s - (real - expected)).abs() < 0.01);

    // A shorter --max-gap: the same, with a 10 s gap.
    let filters = FilterArgs {
        max_gap: Some(std::time::Duration::from_secs(10)),
        ..FilterArgs::default()
    };
    let short = model_of(&[a.clone(), b.clone()], &filters);
    assert!((short.arrival.duration_s() - (span_a + span_b + 10.0)).abs() < 0.01);

    // The model file keeps it; record and inspect say it.
    let model = dir.path().join("m.model.gz");
    let out = replay([
        "record",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "-o",
        model.to_str().unwrap(),
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("1 idle gap over 5m00s compressed to it"),
        "{}",
        out.stderr
    );
    let loaded = replay::model::file::load(&model).unwrap();
    assert_eq!(loaded.arrival.compressed, m.arrival.compressed);
    assert!((loaded.arrival.duration_s() - expected).abs() < 0.01);
    let inspect = replay(["inspect", model.to_str().unwrap()]);
    assert!(
        inspect.stdout.contains("compressed to it"),
        "{}",
        inspect.stdout
    );
    let json = replay(["inspect", "--json", model.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["compressed_gaps"]["gaps"], 1);
}
