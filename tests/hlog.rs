//! `--out hdr=FILE.hlog` (issue 10): an HdrHistogram interval log that
//! reads back through the hdrhistogram crate's reader, with one tag per
//! endpoint and an untagged total per interval.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use support::bin::replay;
use support::har::{shop, write_har};
use support::server::{Behaviour, Server};

#[test]
fn the_interval_log_reads_back_with_one_tag_per_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let har = write_har(dir.path(), "shop.har", &shop(300, 10.0, false));
    let server = Server::start(Behaviour::default());
    let (log, summary) = (dir.path().join("r.hlog"), dir.path().join("s.json"));
    let run = replay([
        "run".as_ref(),
        har.as_os_str(),
        "--target".as_ref(),
        server.url().as_ref(),
        "--duration".as_ref(),
        "3s".as_ref(),
        "--seed".as_ref(),
        "4".as_ref(),
        "--quiet".as_ref(),
        "--summary-export".as_ref(),
        summary.as_os_str(),
        "--out".as_ref(),
        format!("hdr={}", log.display()).as_ref(),
    ]);
    assert_eq!(run.code, Some(0), "{}", run.output());
    let bytes = std::fs::read(&log).unwrap();
    let mut per_tag: BTreeMap<Option<String>, u64> = BTreeMap::new();
    let mut starts = BTreeSet::new();
    let mut deserializer = Deserializer::new();
    for entry in IntervalLogIterator::new(&bytes) {
        let LogEntry::Interval(i) = entry.unwrap_or_else(|e| panic!("{e:?}")) else {
            continue;
        };
        let raw = base64::engine::general_purpose::STANDARD
            .decode(i.encoded_histogram())
            .unwrap();
        let h: Histogram<u64> = deserializer.deserialize(&mut raw.as_slice()).unwrap();
        *per_tag
            .entry(i.tag().map(|t| t.as_str().to_string()))
            .or_default() += h.len();
        starts.insert(i.start_timestamp());
    }
    let tags: Vec<Option<String>> = per_tag.keys().cloned().collect();
    assert_eq!(
        tags,
        [
            None,
            Some("GET_/posts/{id}".into()),
            Some("GET_/users/me".into()),
            Some("POST_/orders".into())
        ]
    );
    let tagged: u64 = per_tag
        .iter()
        .filter(|(t, _)| t.is_some())
        .map(|(_, n)| n)
        .sum();
    assert_eq!(per_tag[&None], tagged, "the total is the endpoints' sum");
    let s = support::read_json(&summary);
    assert_eq!(tagged, s["requests"]["sent"].as_u64().unwrap());
    assert!(starts.len() >= 4, "intervals over the run: {starts:?}");
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains("#tag GET_/posts/{id} = GET /posts/{id}"),
        "{text}"
    );
}
