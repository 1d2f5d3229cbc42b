//! replay's pcap/pcapng reader against tshark, on third-party captures.
//!
//! `fixtures/pcap/expected/NAME.tsv` holds the requests tshark finds in
//! `fixtures/pcap/NAME.pcap(ng)` (made once by `expected/regen.sh`, so this
//! test does not need tshark). For every fixture replay must find the same
//! requests: same count, methods and URIs, in the same order per
//! connection, and each request's start time within 1 µs of the request's
//! first packet. Where replay knowingly differs, [`KNOWN`] says by how much
//! and why; an unexpected difference, or a known one that went away, fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A request: (method, URI, start ns).
type Req = (String, String, i64);

/// A documented difference from tshark for one fixture.
struct Known {
    fixture: &'static str,
    /// Requests tshark finds that replay does not.
    only_tshark: usize,
    /// Requests replay finds that tshark does not.
    only_replay: usize,
    /// Matched requests whose start times differ by more than 1 µs.
    time_off: usize,
    why: &'static str,
}

const KNOWN: &[Known] = &[
    Known {
        fixture: "suricata-verify__http-multiple-cl",
        only_tshark: 1,
        only_replay: 1,
        time_off: 0,
        why: "the first POST carries two different Content-Length headers (11 and 93). \
              RFC 9112 6.3 makes such a message invalid, so there is no right framing: \
              tshark uses the last value and swallows `POST /evil.php` as body, replay \
              uses the first and sees `/evil.php` as the second request. Both find 2.",
    },
    Known {
        fixture: "zeek__methods",
        only_tshark: 10,
        only_replay: 0,
        time_off: 0,
        why: "10 probes have no HTTP version (`GET /HTTP/1.1`, `OPTIONS HTTP/1.1`, `OPTIONS`): \
              HTTP/0.9-style lines. tshark accepts any known method; replay requires \
              `HTTP/` in the request line, because it recognises HTTP by content on any \
              port and a bare `WORD SP WORD` line would match many other protocols.",
    },
    Known {
        fixture: "zeek__communityid-tcp",
        only_tshark: 1,
        only_replay: 0,
        time_off: 0,
        why: "snap length 96 cuts the request line at `GET / HTT`: tshark shows the \
              fragment, replay cannot tell a request line from it (no `HTTP/` version) \
              and counts the connection as non-HTTP, with 3 snaplen-truncated packets.",
    },
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pcap")
}

fn parse_ts(s: &str) -> i64 {
    let (sec, frac) = s.split_once('.').unwrap_or((s, "0"));
    let mut frac = frac.to_string();
    frac.truncate(9);
    while frac.len() < 9 {
        frac.push('0');
    }
    sec.parse::<i64>().expect("seconds") * 1_000_000_000 + frac.parse::<i64>().expect("fraction")
}

/// tshark's requests per client, in frame order.
fn expected(tsv: &Path) -> BTreeMap<String, Vec<Req>> {
    let mut m: BTreeMap<String, Vec<Req>> = BTreeMap::new();
    for line in std::fs::read_to_string(tsv).expect("read tsv").lines() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 4, "{}: bad line {line:?}", tsv.display());
        m.entry(f[0].to_string()).or_default().push((
            f[2].to_string(),
            f[3].to_string(),
            parse_ts(f[1]),
        ));
    }
    m
}

/// replay's requests per client, by start time.
fn replay(capture: &Path) -> BTreeMap<String, Vec<Req>> {
    let mut m: BTreeMap<String, Vec<Req>> = BTreeMap::new();
    replay::ingest::pcap::read_pcap(capture, &mut |ex| {
        m.entry(ex.client.clone().unwrap_or_default())
            .or_default()
            .push((ex.method.clone(), ex.target.clone(), ex.started_ns));
    })
    .unwrap_or_else(|e| panic!("{e}"));
    for v in m.values_mut() {
        v.sort_by_key(|r| r.2);
    }
    m
}

#[derive(Debug, Default, PartialEq)]
struct Diff {
    only_tshark: usize,
    only_replay: usize,
    time_off: usize,
    order: Vec<String>,
    notes: Vec<String>,
}

/// Compares one connection: requests matched in order (a request missing
/// on one side is skipped over), then timestamps of the matched pairs.
fn compare(client: &str, want: &[Req], got: &[Req], d: &mut Diff) {
    let key = |r: &Req| (r.0.clone(), r.1.clone());
    // Longest common subsequence on (method, uri): small inputs.
    let (n, m) = (want.len(), got.len());
    let mut l = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            l[i][j] = if key(&want[i]) == key(&got[j]) {
                l[i + 1][j + 1] + 1
            } else {
                l[i + 1][j].max(l[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && key(&want[i]) == key(&got[j]) {
            let dt = (want[i].2 - got[j].2).abs();
            if dt > 1_000 {
                d.time_off += 1;
                d.notes.push(format!(
                    "{client} {} {}: tshark {} replay {} ({dt} ns)",
                    want[i].0, want[i].1, want[i].2, got[j].2
                ));
            }
            i += 1;
            j += 1;
        } else if j >= m || (i < n && l[i + 1][j] >= l[i][j + 1]) {
            d.only_tshark += 1;
            d.notes.push(format!(
                "{client}: only tshark: {} {}",
                want[i].0, want[i].1
            ));
            i += 1;
        } else {
            d.only_replay += 1;
            d.notes
                .push(format!("{client}: only replay: {} {}", got[j].0, got[j].1));
            j += 1;
        }
    }
    // Same multiset but a different order shows up as missing on both sides.
    let mut a: Vec<_> = want.iter().map(key).collect();
    let mut b: Vec<_> = got.iter().map(key).collect();
    a.sort();
    b.sort();
    if a == b && want.iter().map(key).ne(got.iter().map(key)) {
        d.order.push(client.to_string());
    }
}

#[test]
fn replay_finds_the_requests_tshark_finds() {
    let dir = fixtures();
    let mut tsvs: Vec<PathBuf> = std::fs::read_dir(dir.join("expected"))
        .expect("fixtures/pcap/expected")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "tsv"))
        .collect();
    tsvs.sort();
    assert!(tsvs.len() >= 40, "expected files missing: {}", tsvs.len());
    let mut failures = Vec::new();
    let mut compared = 0;
    for tsv in &tsvs {
        let stem = tsv.file_stem().and_then(|s| s.to_str()).expect("stem");
        let capture = ["pcap", "pcapng"]
            .iter()
            .map(|ext| dir.join(format!("{stem}.{ext}")))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("no capture for {}", tsv.display()));
        let want = expected(tsv);
        let got = replay(&capture);
        let mut d = Diff::default();
        let clients: std::collections::BTreeSet<&String> = want.keys().chain(got.keys()).collect();
        for c in clients {
            compare(
                c,
                want.get(c).map_or(&[][..], Vec::as_slice),
                got.get(c).map_or(&[][..], Vec::as_slice),
                &mut d,
            );
        }
        compared += 1;
        let known = KNOWN.iter().find(|k| k.fixture == stem);
        let allowed = known.map_or((0, 0, 0), |k| (k.only_tshark, k.only_replay, k.time_off));
        if (d.only_tshark, d.only_replay, d.time_off) != allowed || !d.order.is_empty() {
            failures.push(format!(
                "{stem}: tshark-only {}, replay-only {}, time off {}, order differs for {:?} \
                 (documented: {allowed:?}{})\n    {}",
                d.only_tshark,
                d.only_replay,
                d.time_off,
                d.order,
                known.map_or(String::new(), |k| format!(": {}", k.why)),
                d.notes.join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {compared} fixtures differ from tshark:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_known_difference_names_a_fixture_and_a_reason() {
    for k in KNOWN {
        let tsv = fixtures()
            .join("expected")
            .join(format!("{}.tsv", k.fixture));
        assert!(tsv.exists(), "{} has no expected file", k.fixture);
        assert!(k.why.len() > 40, "{}: say why", k.fixture);
    }
}
