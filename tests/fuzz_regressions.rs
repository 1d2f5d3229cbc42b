//! Every crash the fuzz targets (fuzz/) found, replayed with the target's
//! own check. Files in tests/fuzz_regressions/, by extension:
//! `.har` and `.pcap`: read, build the model, it must load back;
//! `.model`: the loader must not panic; `.threshold`: the parser must not
//! panic.

use std::path::Path;

use replay::model::{BuildOptions, ModelBuilder};

fn reloads(what: &str, builder: ModelBuilder) {
    let model = builder.finish();
    let bytes = replay::model::file::to_bytes(&model);
    if let Err(e) = replay::model::file::from_reader(Path::new("m.gz"), &bytes[..]) {
        panic!("{what}: a recorded model does not load back: {e}");
    }
}

#[test]
fn fuzz_crashes_stay_fixed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let what = path.display().to_string();
        let mut builder = ModelBuilder::new(BuildOptions {
            scrub: true,
            ..Default::default()
        });
        match path.extension().and_then(|e| e.to_str()) {
            Some("har") => {
                if replay::ingest::har::read_har(&path, &data[..], &mut |x| builder.observe(x))
                    .is_ok()
                {
                    reloads(&what, builder);
                }
            }
            Some("pcap") => {
                if replay::ingest::pcap::read_pcap_from(&path, &data[..], &mut |x| {
                    builder.observe(x)
                })
                .is_ok()
                {
                    reloads(&what, builder);
                }
            }
            Some("model") => {
                let _ = replay::model::file::from_reader(&path, &data[..]);
            }
            Some("threshold") => {
                let _ = replay::threshold::parse(&String::from_utf8_lossy(&data));
            }
            _ => continue,
        }
        n += 1;
    }
    assert!(n >= 2);
}

/// The HAR crash, as a user sees it: an entry whose method is "GET?" is
/// skipped as "invalid method" (it was recorded, and the model could not
/// be loaded).
#[test]
fn har_method_that_is_not_a_token_is_skipped() {
    let json = r#"{"log":{"entries":[
      {"startedDateTime":"2020-01-01T00:00:00Z","request":{"method":"GET?","url":"http://h/"},"response":{"status":200}},
      {"startedDateTime":"2020-01-01T00:00:01Z","request":{"method":"POS#","url":"http://h/"},"response":{"status":200}}]}}"#;
    let mut builder = ModelBuilder::new(BuildOptions {
        scrub: true,
        ..Default::default()
    });
    let stats = replay::ingest::har::read_har(Path::new("m.har"), json.as_bytes(), &mut |x| {
        builder.observe(x)
    })
    .unwrap();
    assert_eq!(stats.skipped.get("invalid method"), Some(&1));
    assert_eq!(stats.kept, 1, "POS# is an RFC 9110 token");
    reloads("POS#", builder);
}
