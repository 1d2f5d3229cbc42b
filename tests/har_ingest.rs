//! HAR ingest against the real fixtures: what each exporter's file yields
//! (kept, skipped by reason), and the errors for broken, truncated and
//! non-HAR files (exit code 2, one line naming the file and the position,
//! no panic, no output left behind).

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use replay::ingest::{self, har::reason};
use support::bin::{inspect_json, replay, replay_ok};
use support::{fixture, fixtures_dir};

/// (fixture, seen, kept, skipped by reason). The expectations come from
/// fixtures/README.md (and SOURCES.md): status-0 entries are "no
/// response", 101 upgrades are "websocket", data: URLs are "data: url".
/// (fixture, seen, kept, skipped by reason)
type Expected = (&'static str, u64, u64, &'static [(&'static str, u64)]);

const EXPECTED: &[Expected] = &[
    ("haralyzer__cnn.har", 145, 144, &[(reason::NO_RESPONSE, 1)]),
    (
        "haralyzer__missing_page.har",
        1,
        0,
        &[(reason::INCOMPLETE, 1)],
    ),
    ("harviewer__data-url.har", 1, 0, &[(reason::DATA_URL, 1)]),
    ("harviewer__ie11.fiddler.har", 11, 11, &[]),
    (
        "harviewer__issue-49-chrome51.har",
        4,
        1,
        &[(reason::NO_RESPONSE, 3)],
    ),
    ("harviewer__jsonp.har", 1, 1, &[]),
    ("harviewer__multiple-pages.har", 9, 9, &[]),
    ("mitmproxy__charles.har", 1, 1, &[]),
    ("mitmproxy__chrome.har", 3, 2, &[(reason::NO_RESPONSE, 1)]),
    ("mitmproxy__firefox.har", 14, 14, &[]),
    ("mitmproxy__insomnia.har", 1, 1, &[]),
    ("mitmproxy__postdata.har", 1, 1, &[]),
    ("mitmproxy__safari.har", 19, 19, &[]),
    ("mitmproxy__successful_log.har", 2, 2, &[]),
    ("mitmproxy__websocket.har", 3, 0, &[(reason::WEBSOCKET, 3)]),
    ("mitmproxy__with-bom.har", 1, 1, &[]),
    ("pagexray__304.har", 270, 270, &[]),
    ("pagexray__http1.1-firefox.har", 12, 12, &[]),
    ("pagexray__www.etat.lu.har", 22, 22, &[]),
    ("playwright__har-redirect.har", 3, 3, &[]),
    ("playwright__har-sha1.har", 1, 1, &[]),
];

#[test]
fn every_fixture_ingests_with_the_expected_skip_counts() {
    let dir = tempfile::tempdir().unwrap();
    for (name, seen, kept, skipped) in EXPECTED {
        let path = fixture(dir.path(), name);
        let mut n = 0u64;
        let mut times = Vec::new();
        let (kind, stats) = ingest::read_capture(&path, &mut |x| {
            n += 1;
            assert!(x.target.starts_with('/'), "{name}: target {:?}", x.target);
            assert!(!x.authority.is_empty(), "{name}");
            assert!(x.scheme == "http" || x.scheme == "https", "{name}");
            assert!(!x.method.is_empty(), "{name}");
            times.push(x.started_ns);
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(kind, ingest::CaptureKind::Har, "{name}");
        let want: BTreeMap<String, u64> =
            skipped.iter().map(|(r, c)| (r.to_string(), *c)).collect();
        assert_eq!(
            (stats.seen, stats.kept, &stats.skipped),
            (*seen, *kept, &want),
            "{name}: seen, kept, skipped"
        );
        assert_eq!(n, *kept, "{name}: exchanges handed to the sink");
        // Every exporter's timestamps parse (Fiddler's 7-digit fractions,
        // mitmproxy's +00:00, Chrome's Z): no "no usable startedDateTime".
        if *kept > 0 {
            assert!(stats.warnings.is_empty(), "{name}: {:?}", stats.warnings);
            assert!(
                times.iter().all(|t| *t > 1_000_000_000_000_000_000),
                "{name}: {times:?}"
            );
        }
    }
}

#[test]
fn fiddler_seven_digit_fractions_keep_sub_millisecond_order() {
    // ie11.fiddler.har: "2016-..T..:..:..1234567+01:00"-style stamps.
    let path = fixtures_dir().join("harviewer__ie11.fiddler.har");
    let raw = std::fs::read_to_string(&path).unwrap();
    let doc: serde_json::Value = serde_json::from_str(raw.trim_start_matches('\u{feff}')).unwrap();
    let first = doc["log"]["entries"][0]["startedDateTime"]
        .as_str()
        .unwrap();
    let frac = first.split('.').nth(1).unwrap();
    assert_eq!(
        frac.bytes().take_while(u8::is_ascii_digit).count(),
        7,
        "{first}"
    );
    let mut got = Vec::new();
    ingest::read_capture(&path, &mut |x| got.push(x.started_ns)).unwrap();
    assert_eq!(got[0], ingest::har::parse_timestamp(first).unwrap());
    assert_eq!(got[0] % 100, 0, "7 digits = 100 ns resolution");
}

#[test]
fn record_succeeds_or_fails_cleanly_on_every_fixture() {
    let dir = tempfile::tempdir().unwrap();
    for (name, _, kept, _) in EXPECTED {
        let path = fixture(dir.path(), name);
        let out = dir.path().join(format!("{name}.model.gz"));
        let o = replay([
            "record".as_ref(),
            path.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
        ]);
        let err = o.stderr.clone();
        assert!(!err.contains("panicked"), "{name}: {err}");
        if *kept > 0 {
            assert!(o.code == Some(0), "{name}: {err}");
            assert!(
                err.contains(&format!("recorded {kept} requests")),
                "{name}: {err}"
            );
            assert!(out.exists(), "{name}");
        } else {
            // Nothing replayable: a usage error naming the file and why.
            assert_eq!(o.code, Some(2), "{name}: {err}");
            assert_eq!(err.trim_end().lines().count(), 1, "{name}: {err}");
            assert!(err.contains(name), "{name}: {err}");
            assert!(err.contains("could be modelled"), "{name}: {err}");
            assert!(!out.exists(), "{name}: no model is written");
        }
    }
}

/// Runs `record` on a bad file and checks the error contract: exit 2, one
/// line, names the file and (when given) a position, no panic, nothing
/// written.
fn assert_clean_error(path: &Path, position: &[&str]) -> String {
    let dir = path.parent().unwrap();
    let out = dir.join("out.model.gz");
    let before: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let o = replay([
        "record".as_ref(),
        path.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    let err = o.stderr.clone();
    let name = path.file_name().unwrap().to_string_lossy();
    assert_eq!(o.code, Some(2), "{name}: {err}");
    assert!(!err.contains("panicked"), "{name}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{name}: one line: {err}");
    assert!(err.starts_with("error: "), "{name}: {err}");
    assert!(err.contains(&*name), "{name}: names the file: {err}");
    assert!(
        position.is_empty() || position.iter().any(|p| err.contains(p)),
        "{name}: names the position ({position:?}): {err}"
    );
    assert!(!out.exists(), "{name}: no model is left behind");
    let after: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after, "{name}: no temporary file left behind");
    assert!(o.stdout.is_empty(), "{name}: errors go to stderr");
    err
}

#[test]
fn broken_fixtures_fail_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    for (name, position) in [
        ("mitmproxy__brokenfile.har", "line 2"),
        ("haralyzer__single_entry.har", "top level"),
    ] {
        let p = dir.path().join(name);
        std::fs::copy(fixtures_dir().join(name), &p).unwrap();
        assert_clean_error(&p, &[position]);
    }
}

#[test]
fn truncated_real_har_names_the_entry() {
    let src = std::fs::read(fixtures_dir().join("pagexray__www.etat.lu.har")).unwrap();
    let entries_at = memfind(&src, b"\"entries\"").unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Before the entries, inside several of them, and just before the end.
    let len = src.len();
    for cut in [
        1,
        300,
        entries_at + 30,
        len / 3,
        len / 2,
        2 * len / 3,
        len - 40,
        len - 1,
    ] {
        let p = dir.path().join(format!("etat-cut-{cut}.har"));
        std::fs::write(&p, &src[..cut]).unwrap();
        let err = assert_clean_error(&p, &["entry ", "line "]);
        assert!(err.contains("truncated"), "cut at {cut}: {err}");
        if cut > entries_at + 30 && cut < len - 200 {
            assert!(
                err.contains("entry "),
                "cut at {cut} is inside an entry: {err}"
            );
        }
        std::fs::remove_file(&p).unwrap();
    }
    // Cutting mid-way really lands in a numbered entry, past the first.
    let p = dir.path().join("etat-half.har");
    std::fs::write(&p, &src[..len / 2]).unwrap();
    let err = assert_clean_error(&p, &["entry "]);
    let idx: u64 = err
        .split("entry ")
        .nth(1)
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(idx > 0 && idx < 22, "{err}");
}

#[test]
fn wrong_types_and_non_json_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[u8], &[&str])] = &[
        (
            "headers-number.har",
            br#"{"log":{"entries":[{"request":{"method":"GET","url":"http://h/"},"response":{"status":200}},{"request":{"method":"GET","url":"http://h/"},"response":{"status":200,"headers":5}}]}}"#,
            &["entry 1"],
        ),
        ("entries-number.har", br#"{"log":{"entries":5}}"#, &["line 1"]),
        ("log-array.har", br#"{"log":[]}"#, &["line 1"]),
        ("no-entries.har", br#"{"log":{"version":"1.2"}}"#, &["log"]),
        ("array.har", b"[1,2,3]", &[]),
        ("text.har", b"hello, this is not JSON at all\n", &[]),
        ("empty.har", b"", &[]),
        (
            "image.har",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00",
            &[],
        ),
    ];
    for (name, bytes, position) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        assert_clean_error(&p, position);
        std::fs::remove_file(&p).unwrap();
    }
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Gzip-compressed captures are read as they are (a `.har.gz` export,
/// `tcpdump -w - | gzip`): the same exchanges as the decompressed file, the
/// file's own size and digest in the model; a stream cut short keeps what
/// it held and says so; a gzip model is still a model.
#[test]
fn gzip_compressed_captures_read_like_the_plain_ones() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let exchanges = |p: &Path| {
        let mut got = Vec::new();
        let (kind, stats) = ingest::read_capture(p, &mut |x| {
            got.push((x.started_ns, x.method.clone(), x.target.clone()))
        })
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        (kind, stats, got)
    };
    // Committed compressed: read directly, and through `fixture`'s copy.
    let gz = fixtures_dir().join("pagexray__304.har.gz");
    let plain = fixture(dir.path(), "pagexray__304.har");
    let (kind, stats, got) = exchanges(&gz);
    assert_eq!(kind, ingest::CaptureKind::Har);
    assert_eq!((stats.seen, stats.kept), (270, 270));
    assert!(stats.warnings.is_empty(), "{:?}", stats.warnings);
    assert_eq!(got, exchanges(&plain).2);

    // A pcap compressed here.
    let pcap = fixtures_dir()
        .parent()
        .unwrap()
        .join("pcap/zeek__workshop_2011_browse.pcap");
    let raw = std::fs::read(&pcap).unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&raw).unwrap();
    let compressed = enc.finish().unwrap();
    let pgz = dir.path().join("browse.pcap.gz");
    std::fs::write(&pgz, &compressed).unwrap();
    let (kind, stats, got) = exchanges(&pgz);
    assert_eq!(kind, ingest::CaptureKind::Pcap);
    assert!(stats.warnings.is_empty(), "{:?}", stats.warnings);
    let (_, _, want) = exchanges(&pcap);
    assert_eq!(got, want);
    assert!(!got.is_empty());

    // The model names the compressed file, its size and digest.
    let model = dir.path().join("m.model.gz");
    replay_ok([
        "record".as_ref(),
        pgz.as_os_str(),
        "-o".as_ref(),
        model.as_os_str(),
    ]);
    let doc = inspect_json(&model, &[]);
    let file = &doc["source"]["files"][0];
    assert_eq!(file["bytes"], compressed.len() as u64, "{file}");
    assert_eq!(file["kind"], "pcap", "{file}");

    // Cut short: the requests before the cut, and a warning.
    let cut = dir.path().join("cut.pcap.gz");
    std::fs::write(&cut, &compressed[..compressed.len() / 2]).unwrap();
    let (kind, stats, got) = exchanges(&cut);
    assert_eq!(kind, ingest::CaptureKind::Pcap);
    assert!(!got.is_empty() && got.len() < want.len(), "{}", got.len());
    // (Exchanges still open at the cut are handed over at the end, so the
    // order differs: compare as sets.)
    assert!(got.iter().all(|x| want.contains(x)), "{got:?}");
    assert!(
        stats
            .warnings
            .iter()
            .any(|w| w.contains("gzip stream ends early")),
        "{:?}",
        stats.warnings
    );

    // A model file is still a model, not a compressed HAR.
    assert_eq!(ingest::detect(&model).unwrap(), ingest::CaptureKind::Model);
}
