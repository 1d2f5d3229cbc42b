//! `--out junit=FILE` (issue 10): the JUnit XML that CI test reporters
//! read. It parses, its thresholds suite counts exactly the thresholds
//! that failed (each failure carrying the observed value), and the default
//! guards are a suite of their own.

mod support;

use support::bin::replay;
use support::har::{shop, write_har};
use support::server::{Behaviour, Server};

#[test]
fn junit_counts_exactly_the_failed_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let har = write_har(dir.path(), "shop.har", &shop(200, 10.0, false));
    let server = Server::start(Behaviour::default());
    let xml_path = dir.path().join("report.xml");
    let run = replay([
        "run".as_ref(),
        har.as_os_str(),
        "--target".as_ref(),
        server.url().as_ref(),
        "--duration".as_ref(),
        "2s".as_ref(),
        "--seed".as_ref(),
        "1".as_ref(),
        "--quiet".as_ref(),
        "--threshold".as_ref(),
        "http_req_duration: p(95)<0.001ms".as_ref(),
        "--threshold".as_ref(),
        "http_reqs: count<1".as_ref(),
        "--threshold".as_ref(),
        "http_req_failed: rate<0.5".as_ref(),
        "--out".as_ref(),
        format!("junit={}", xml_path.display()).as_ref(),
    ]);
    assert_eq!(run.code, Some(99), "{}", run.output());
    let text = std::fs::read_to_string(&xml_path).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    let thresholds = suites
        .iter()
        .find(|s| s.attribute("name") == Some("replay thresholds"))
        .expect("a thresholds suite");
    assert_eq!(thresholds.attribute("tests"), Some("3"), "{text}");
    assert_eq!(thresholds.attribute("failures"), Some("2"), "{text}");
    let cases: Vec<_> = thresholds
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 3);
    let failed: Vec<_> = cases
        .iter()
        .filter_map(|c| {
            c.children()
                .find(|n| n.has_tag_name("failure"))
                .map(|f| (c.attribute("name").unwrap(), f))
        })
        .collect();
    let names: Vec<&str> = failed.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        ["http_req_duration: p(95)<0.001ms", "http_reqs: count<1"]
    );
    for (_, f) in &failed {
        assert!(
            f.attribute("message").unwrap().contains("observed"),
            "{text}"
        );
    }
    // The guards held: their own suite, no failure. The threshold on
    // http_req_failed replaces that guard: the dropped one is left.
    let guards = suites
        .iter()
        .find(|s| s.attribute("name") == Some("replay default guards"))
        .expect("a guards suite");
    assert_eq!(guards.attribute("tests"), Some("1"), "{text}");
    assert_eq!(guards.attribute("failures"), Some("0"), "{text}");
    assert_eq!(root.attribute("failures"), Some("2"));
}

#[test]
fn junit_is_refused_twice_and_checked_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let har = write_har(dir.path(), "shop.har", &shop(50, 5.0, false));
    let r = replay([
        "run".as_ref(),
        har.as_os_str(),
        "--out".as_ref(),
        "junit=a.xml".as_ref(),
        "--out".as_ref(),
        "junit=b.xml".as_ref(),
    ]);
    assert_eq!(r.code, Some(2), "{}", r.output());
    assert!(r.stderr.contains("twice"), "{}", r.stderr);
    let r = replay([
        "run".as_ref(),
        har.as_os_str(),
        "--out".as_ref(),
        format!("junit={}/no/such/dir/r.xml", dir.path().display()).as_ref(),
    ]);
    assert_eq!(r.code, Some(2), "{}", r.output());
}

/// `--thresholds-file` reads k6's thresholds object; one flag with two
/// conditions is two thresholds (issue 10's k6 forms, end to end).
#[test]
fn k6_thresholds_file_and_multi_condition_flags() {
    let dir = tempfile::tempdir().unwrap();
    let har = write_har(dir.path(), "shop.har", &shop(100, 5.0, false));
    let server = Server::start(Behaviour::default());
    let file = dir.path().join("thresholds.json");
    std::fs::write(
        &file,
        r#"{"http_reqs": ["count<1"], "http_req_failed{expected_response:true}": [{"threshold": "rate<0.5", "abortOnFail": true, "delayAbortEval": "10s"}]}"#,
    )
    .unwrap();
    let summary = dir.path().join("s.json");
    let run = replay([
        "run".as_ref(),
        har.as_os_str(),
        "--target".as_ref(),
        server.url().as_ref(),
        "--duration".as_ref(),
        "1s".as_ref(),
        "--quiet".as_ref(),
        "--thresholds-file".as_ref(),
        file.as_os_str(),
        "--threshold".as_ref(),
        "http_req_duration: p(95)<60s, max<60s".as_ref(),
        "--summary-export".as_ref(),
        summary.as_os_str(),
    ]);
    assert_eq!(run.code, Some(99), "{}", run.output());
    let s = support::read_json(&summary);
    let results: Vec<(String, bool)> = s["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["expr"].as_str().unwrap().to_string(),
                t["ok"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        results,
        [
            ("http_req_duration: p(95)<60s".to_string(), true),
            ("http_req_duration: max<60s".to_string(), true),
            // The file's series in key order.
            (
                "http_req_failed{expected_response:true}: rate<0.5".to_string(),
                true
            ),
            ("http_reqs: count<1".to_string(), false),
        ]
    );
    std::fs::write(&file, r#"{"http_reqs": ["count<"]}"#).unwrap();
    let bad = replay([
        "run".as_ref(),
        har.as_os_str(),
        "--thresholds-file".as_ref(),
        file.as_os_str(),
    ]);
    assert_eq!(bad.code, Some(2), "{}", bad.output());
    assert!(
        bad.stderr.contains("thresholds.json") && bad.stderr.contains("\"http_reqs\"[0]"),
        "{}",
        bad.stderr
    );
}
