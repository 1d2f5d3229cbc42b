//! `--shard K/N` (issue 11): every shard draws the same global schedule
//! from the seed and takes a disjoint part; the union over K = 1..N is
//! the unsharded output for that seed — the same offsets and the same
//! requests — with independent arrivals and with `--sessions` (split by
//! session).

mod support;

use serde_json::Value;
use support::bin::{replay, replay_ok};
use support::har::{write_har, Entry};

/// Three clients (one HAR each) reading and writing over 30 s.
fn captures(dir: &tempfile::TempDir) -> Vec<std::path::PathBuf> {
    (0..3u64)
        .map(|c| {
            let entries: Vec<Entry> = (0..150u64)
                .map(|i| {
                    let at = i * 200 + c * 37;
                    match i % 5 {
                        0 => Entry::post_json(
                            "http://api.test/orders",
                            at,
                            format!(r#"{{"sku":"A{}","qty":{}}}"#, i % 7, 1 + i % 3),
                        ),
                        1 | 2 => {
                            Entry::get(format!("http://api.test/items/{}", 1 + (i * 13) % 40), at)
                        }
                        _ => Entry::get(
                            format!("http://api.test/search?q=w{}&page={}", i % 9, 1 + i % 4),
                            at,
                        ),
                    }
                })
                .collect();
            write_har(dir.path(), &format!("client-{c}.har"), &entries)
        })
        .collect()
}

fn lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn sorted(mut v: Vec<Value>) -> Vec<String> {
    v.sort_by(|a, b| {
        a["at_s"]
            .as_f64()
            .unwrap()
            .total_cmp(&b["at_s"].as_f64().unwrap())
    });
    v.iter().map(Value::to_string).collect()
}

#[test]
fn the_union_of_the_shards_is_the_unsharded_output() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.model.gz");
    let mut rec: Vec<std::ffi::OsString> = vec!["record".into()];
    rec.extend(captures(&dir).into_iter().map(Into::into));
    rec.extend(["-o".into(), model.clone().into()]);
    replay_ok(rec);
    for sessions in [false, true] {
        let args = |shard: Option<&str>| {
            let mut a: Vec<String> = [
                "generate",
                model.to_str().unwrap(),
                "-n",
                "300",
                "--seed",
                "11",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            if sessions {
                a.push("--sessions".into());
            }
            if let Some(s) = shard {
                a.extend(["--shard".into(), s.into()]);
            }
            a
        };
        let whole = lines(&replay_ok(args(None)));
        assert_eq!(whole.len(), 300);
        let mut union = Vec::new();
        for k in 1..=3 {
            let part = lines(&replay_ok(args(Some(&format!("{k}/3")))));
            assert!(
                !part.is_empty() && part.len() < 300,
                "shard {k}/3: {}",
                part.len()
            );
            if sessions {
                for r in &part {
                    assert_eq!(r["session"].as_u64().unwrap() % 3, k - 1, "{r}");
                }
            }
            union.extend(part);
        }
        assert_eq!(sorted(union), sorted(whole), "sessions {sessions}");
    }
}

#[test]
fn bad_shards_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let caps = captures(&dir);
    for bad in ["0/3", "4/3", "1/0", "2", "a/b"] {
        let r = replay([
            "generate".as_ref(),
            caps[0].as_os_str(),
            "--shard".as_ref(),
            bad.as_ref(),
        ]);
        assert_eq!(r.code, Some(2), "{bad}: {}", r.output());
        assert!(r.stderr.contains("K/N"), "{bad}: {}", r.stderr);
    }
    // A shard without a seed would draw its own schedule.
    let r = replay([
        "run".as_ref(),
        caps[0].as_os_str(),
        "--shard".as_ref(),
        "1/2".as_ref(),
        "--duration".as_ref(),
        "1s".as_ref(),
    ]);
    assert_eq!(r.code, Some(2), "{}", r.output());
    assert!(r.stderr.contains("--seed"), "{}", r.stderr);
}
