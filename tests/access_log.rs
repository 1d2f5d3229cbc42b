//! Access logs into the model, on logs a real nginx wrote
//! (`fixtures/accesslog/`, made by `make-nginx.sh`): the same 2,936
//! requests logged at once as `combined`, as a custom format with `$msec`
//! and `$request_time`, and as JSON lines (`escape=json`), plus the
//! client's own send times.

mod support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use replay::ingest::{self, accesslog::layout::Layout, ReadOptions};
use replay::model::{ModelBuilder, TrafficModel};
use support::bin::{inspect_json, replay, replay_ok};

/// The custom layout the fixture's nginx used for `nginx-msec.log.gz`.
const MSEC: &str =
    r#"$remote_addr $msec $request_time "$request" $status $body_bytes_sent "$http_user_agent""#;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/accesslog")
        .join(name)
}

fn model_of(paths: &[PathBuf], log_format: Option<&str>) -> TrafficModel {
    let options = ReadOptions {
        log_format: log_format.map(|f| Layout::parse(f).unwrap()),
    };
    let mut b = ModelBuilder::new(Default::default());
    for p in paths {
        let (kind, stats, _) = ingest::read_capture_with(p, &options, &mut |x| b.observe(x))
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(kind, ingest::CaptureKind::AccessLog);
        assert_eq!(stats.skipped_total(), 0, "{}: {stats:?}", p.display());
    }
    b.finish()
}

/// (method, template, count) of every endpoint, sorted.
fn endpoints(m: &TrafficModel) -> Vec<(String, String, u64)> {
    let mut e: Vec<_> = m
        .endpoints
        .iter()
        .map(|e| (e.method.clone(), e.template.clone(), e.count))
        .collect();
    e.sort();
    e
}

fn gunzip(path: &Path) -> String {
    let mut s = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut s)
        .unwrap();
    s
}

#[test]
fn combined_msec_and_json_logs_of_the_same_traffic_give_the_same_model() {
    let combined = model_of(&[fixture("nginx-combined.log.gz")], None);
    let json = model_of(&[fixture("nginx-json.log.gz")], None);
    let msec = model_of(&[fixture("nginx-msec.log.gz")], Some(MSEC));
    assert_eq!(combined.requests(), 2936);
    assert_eq!(endpoints(&combined).len(), 7, "{:?}", endpoints(&combined));
    for (name, m) in [("json", &json), ("msec", &msec)] {
        assert_eq!(endpoints(m), endpoints(&combined), "{name}");
        let (d, d0) = (m.arrival.duration_s(), combined.arrival.duration_s());
        assert!((d / d0 - 1.0).abs() < 0.01, "{name}: duration {d} vs {d0}");
        let (r, r0) = (m.arrival.mean_rate(), combined.arrival.mean_rate());
        assert!((r / r0 - 1.0).abs() < 0.01, "{name}: rate {r} vs {r0}");
        assert_eq!(
            m.sessions.clients, 4,
            "{name}: one client per source address"
        );
    }
    // The response side: status from every format, the request time only
    // where it was logged.
    let users = |m: &TrafficModel| {
        m.endpoints
            .iter()
            .find(|e| e.template == "/users/{id}")
            .unwrap()
            .clone()
    };
    assert_eq!(users(&msec).response.status.get(&200), Some(&1198));
    assert_eq!(users(&msec).response.size.count, 1198);
    assert!(users(&msec).response.latency_ms.count > 0);
    assert_eq!(users(&combined).response.latency_ms.count, 0);
}

/// Two-sample Kolmogorov–Smirnov statistic.
fn ks(mut a: Vec<f64>, mut b: Vec<f64>) -> f64 {
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (mut i, mut j, mut d) = (0, 0, 0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    d
}

fn gaps(mut t: Vec<f64>) -> Vec<f64> {
    t.sort_by(f64::total_cmp);
    t.windows(2).map(|w| w[1] - w[0]).collect()
}

#[test]
fn gaps_generated_from_a_whole_second_log_follow_the_clients_own_gaps() {
    let sends: Vec<f64> = gunzip(&fixture("client-sends.tsv.gz"))
        .lines()
        .map(|l| l.split('\t').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(sends.len(), 2936);
    let true_gaps = gaps(sends);

    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("combined.model.gz");
    let log = fixture("nginx-combined.log.gz");
    replay_ok([
        "record".as_ref(),
        log.as_os_str(),
        "-o".as_ref(),
        model.as_os_str(),
    ]);
    let out = replay_ok([
        "generate".as_ref(),
        model.as_os_str(),
        "-n".as_ref(),
        "2936".as_ref(),
        "--seed".as_ref(),
        "7".as_ref(),
    ]);
    let at: Vec<f64> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["at_s"]
                .as_f64()
                .unwrap()
        })
        .collect();
    let d = ks(gaps(at), true_gaps.clone());
    assert!(d <= 0.08, "KS {d:.3} between generated and sent gaps");

    // The check can fail: the log's own whole-second stamps (what a reader
    // that does not spread them would model) are far from the true gaps.
    let stamped: Vec<f64> = gunzip(&log)
        .lines()
        .map(|l| {
            let t = &l[l.find('[').unwrap() + 1..l.find(']').unwrap()];
            // dd/Mon/yyyy:HH:MM:SS: seconds of the day are enough here.
            let h: f64 = t[12..14].parse().unwrap();
            let m: f64 = t[15..17].parse().unwrap();
            let s: f64 = t[18..20].parse().unwrap();
            h * 3600.0 + m * 60.0 + s
        })
        .collect();
    let naive = ks(gaps(stamped), true_gaps);
    eprintln!("KS generated vs sent gaps {d:.4}; unspread stamps vs sent gaps {naive:.4}");
    assert!(naive > 0.5, "KS of unspread stamps {naive:.3}");
}

#[test]
fn damaged_lines_are_skipped_and_counted_and_random_bytes_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    // The combined fixture with damage: junk, a binary TLS hello, a cut
    // line, a 100 KB line and a bad status.
    let mut text = String::new();
    let mut damaged = Vec::new();
    for (i, line) in gunzip(&fixture("nginx-combined.log.gz"))
        .lines()
        .enumerate()
    {
        text.push_str(&match i {
            10 => "just some words".to_string(),
            20 => line[..line.len() / 2].to_string(),
            30 => "a".repeat(100_000),
            40 => line.replace(" 200 ", " 20x "),
            _ => line.to_string(),
        });
        text.push('\n');
        if i == 50 {
            damaged.extend_from_slice(text.as_bytes());
            damaged.extend_from_slice(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\n");
            text.clear();
        }
    }
    damaged.extend_from_slice(text.as_bytes());
    let path = dir.path().join("access.log");
    std::fs::write(&path, &damaged).unwrap();
    let v = inspect_json(&path, &[]);
    assert_eq!(v["source"]["seen"], 2937, "{}", v["skipped"]);
    assert_eq!(v["source"]["kept"], 2932);
    let skipped = &v["skipped"];
    assert_eq!(skipped["log line not in a known layout"], 2, "{skipped}");
    assert_eq!(skipped["log line too long"], 1);
    assert_eq!(skipped["log line not text"], 1);
    assert_eq!(skipped["log line with an invalid status"], 1);
    let warnings = v["warnings"].to_string();
    assert!(warnings.contains("(first at line 11, 21)"), "{warnings}");
    assert!(
        warnings.contains("log line too long skipped (first at line 31)"),
        "{warnings}"
    );

    // Random bytes: exit 2, one error line naming the file.
    let random = dir.path().join("random.log");
    let mut f = std::fs::File::create(&random).unwrap();
    let mut state = 88172645463325252u64;
    for _ in 0..(1 << 18) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        f.write_all(&state.to_le_bytes()).unwrap();
    }
    drop(f);
    let r = replay([
        "record".as_ref(),
        random.as_os_str(),
        "-o".as_ref(),
        dir.path().join("m.gz").as_os_str(),
    ]);
    assert_eq!(r.code, Some(2), "{}", r.output());
    assert!(
        r.stderr.contains("random.log") && !r.stderr.contains("panick"),
        "{}",
        r.output()
    );
    // With --log-format, the same bytes are read line by line and the
    // error names the first line.
    let r = replay([
        "record".as_ref(),
        random.as_os_str(),
        "--log-format".as_ref(),
        MSEC.as_ref(),
        "-o".as_ref(),
        dir.path().join("m.gz").as_os_str(),
    ]);
    assert_eq!(r.code, Some(2), "{}", r.output());
    assert!(r.stderr.contains("line 1"), "{}", r.output());
}

#[test]
fn log_format_reads_a_custom_layout_and_rotated_gzip_logs_make_one_model() {
    let msec = fixture("nginx-msec.log.gz");
    let r = replay(["inspect".as_ref(), msec.as_os_str()]);
    assert_eq!(
        r.code,
        Some(2),
        "a custom layout needs --log-format: {}",
        r.output()
    );
    let v = inspect_json(&msec, &["--log-format", MSEC]);
    assert_eq!(v["source"]["kept"], 2936);
    let warnings = v["warnings"].to_string();
    assert!(
        !warnings.contains("within each second"),
        "$msec is used as it is: {warnings}"
    );
    assert!(warnings.contains("request bodies"), "{warnings}");
    assert!(warnings.contains("sent without a body"), "{warnings}");

    // access.log.2.gz (oldest), access.log.1, access.log (newest).
    let dir = tempfile::tempdir().unwrap();
    let text = gunzip(&fixture("nginx-combined.log.gz"));
    let lines: Vec<&str> = text.lines().collect();
    let thirds: Vec<String> = lines
        .chunks(lines.len() / 3 + 1)
        .map(|c| c.join("\n") + "\n")
        .collect();
    let names = ["access.log.2.gz", "access.log.1", "access.log"];
    let paths: Vec<PathBuf> = names.iter().map(|n| dir.path().join(n)).collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(thirds[0].as_bytes()).unwrap();
    std::fs::write(&paths[0], gz.finish().unwrap()).unwrap();
    std::fs::write(&paths[1], &thirds[1]).unwrap();
    std::fs::write(&paths[2], &thirds[2]).unwrap();
    let whole = model_of(&[fixture("nginx-combined.log.gz")], None);
    let rotated = model_of(
        &[paths[2].clone(), paths[1].clone(), paths[0].clone()],
        None,
    );
    assert_eq!(endpoints(&rotated), endpoints(&whole));
    // Whole-second stamps are spread by line number within each file, so
    // the times agree to within the second the log names.
    assert!((rotated.arrival.start_ns - whole.arrival.start_ns).abs() < 1_000_000_000);
    assert!((rotated.arrival.end_ns - whole.arrival.end_ns).abs() < 1_000_000_000);
    let (d, d0) = (rotated.arrival.duration_s(), whole.arrival.duration_s());
    assert!((d / d0 - 1.0).abs() < 0.01, "duration {d} vs {d0}");
}

#[test]
fn apache_httpd_combined_reads_like_nginx_combined() {
    let m = model_of(&[fixture("apache-combined.log.gz")], None);
    assert_eq!(m.requests(), 396);
    assert_eq!(m.sessions.clients, 4);
    let find = |t: &str| m.endpoints.iter().find(|e| e.template == t);
    let users = find("/users/{id}").expect("a /users/{id} template");
    assert_eq!(users.response.status.keys().collect::<Vec<_>>(), vec![&200]);
    let missing = find("/missing/{id}").expect("a /missing/{id} template");
    assert_eq!(
        missing.response.status.keys().collect::<Vec<_>>(),
        vec![&404]
    );
    assert!(
        users.headers.iter().any(|h| h.name == "Referer"),
        "{:?}",
        users.headers
    );
}

#[test]
fn run_says_once_which_endpoints_go_without_the_body_they_had() {
    let said = "sent without the request body they had";
    let log = fixture("nginx-combined.log.gz");
    for quiet in [false, true] {
        let mut args = vec![
            log.to_str().unwrap(),
            "--duration",
            "1s",
            "--scale",
            "0.2x",
            "--seed",
            "1",
        ];
        if quiet {
            args.push("--quiet");
        }
        let r = replay(&args);
        assert_eq!(r.code, Some(0), "{}", r.output());
        let lines: Vec<&str> = r.stderr.lines().filter(|l| l.contains(said)).collect();
        assert_eq!(lines.len(), 1, "{}", r.output());
        // The POSTs, by template and how many of them the log had.
        assert!(
            lines[0].contains("POST ") && lines[0].contains(" of "),
            "{}",
            lines[0]
        );
        assert!(!lines[0].contains("GET "), "{}", lines[0]);
    }
    // A capture that keeps bodies says nothing of the kind.
    let har = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/har/haralyzer__cnn.har");
    let r = replay([har.to_str().unwrap(), "--duration", "1s", "--seed", "1"]);
    assert_eq!(r.code, Some(0), "{}", r.output());
    assert!(
        r.stderr.contains("endpoints") && !r.stderr.contains(said),
        "{}",
        r.output()
    );
}

#[test]
fn caddy_json_lines_read_with_their_nested_request_fields() {
    let path = fixture("caddy-json.log.gz");
    let text = gunzip(&path);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let m = model_of(&[path], None);
    assert_eq!(m.requests(), lines.len() as u64);
    assert_eq!(m.sessions.clients, 4);
    // Every (method, status) pair as Caddy logged it.
    let mut logged = std::collections::BTreeMap::new();
    for l in &lines {
        let key = (
            l["request"]["method"].as_str().unwrap().to_string(),
            l["status"].as_u64().unwrap() as u16,
        );
        *logged.entry(key).or_insert(0u64) += 1;
    }
    let mut modelled = std::collections::BTreeMap::new();
    for e in &m.endpoints {
        for (status, n) in &e.response.status {
            *modelled.entry((e.method.clone(), *status)).or_insert(0u64) += n;
        }
    }
    assert_eq!(modelled, logged);
    let find = |t: &str| m.endpoints.iter().find(|e| e.template == t);
    let users = find("/users/{id}").expect("a /users/{id} template");
    assert!(users.host.starts_with("127.0.0.1:"), "{}", users.host);
    assert!(find("/api/items").is_some_and(|e| e.query.iter().any(|q| q.name == "page")));
    assert!(
        users.headers.iter().any(|h| h.name == "User-Agent"),
        "{:?}",
        users.headers
    );
    // `ts` is the completion: the arrival is `ts - duration`, so the first
    // arrival is the smallest of those.
    let first = lines
        .iter()
        .map(|l| l["ts"].as_f64().unwrap() - l["duration"].as_f64().unwrap())
        .fold(f64::INFINITY, f64::min);
    let t0 = m.arrival.start_ns as f64 / 1e9;
    assert!((t0 - first).abs() < 1e-3, "{t0} vs {first}");
    assert!(m
        .source
        .warnings
        .iter()
        .any(|w| w.contains("POST") && w.contains("/api/orders")));
}

/// A gzipped log in a layout replay does not know on its own (nginx's
/// `$msec` fixture) is not "a model file": the error says to pass
/// `--log-format` (the same-model test reads it with its format).
#[test]
fn a_gzipped_log_in_a_custom_layout_asks_for_its_log_format() {
    let dir = tempfile::tempdir().unwrap();
    let log = fixture("nginx-msec.log.gz");
    let out = dir.path().join("m.json");
    let r = replay(["record", log.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(r.code, Some(2), "{}", r.output());
    assert!(r.stderr.contains("--log-format"), "{}", r.stderr);
    assert!(!r.stderr.contains("is a model file"), "{}", r.stderr);
    assert!(!out.exists());
    // A real model still gets the model message.
    let model = dir.path().join("real.model.gz");
    replay_ok([
        "record",
        fixture("nginx-combined.log.gz").to_str().unwrap(),
        "-o",
        model.to_str().unwrap(),
    ]);
    let r = replay([
        "record",
        model.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, Some(2), "{}", r.output());
    assert!(r.stderr.contains("is a model file"), "{}", r.stderr);
}

/// A log of more clients than `record` follows at once (120,000
/// addresses in 20 minutes, three requests each): the sessions are
/// learned from a sample of them, and `record`, `inspect` and the model
/// say so; the user count is an estimate close to the true one.
#[test]
fn a_log_of_too_many_clients_is_learned_from_a_sample_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.log");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let clients = 120_000u32;
    for round in 0..3u32 {
        for c in 0..clients {
            // Spread over 20 minutes, each client back every ~7 minutes.
            let s = round * 400 + c / 300;
            writeln!(
                f,
                r#"10.{}.{}.{} - - [06/Dec/2025:10:{:02}:{:02} +0000] "GET /items/{} HTTP/1.1" 200 512 "-" "curl/8.5.0""#,
                c >> 16,
                (c >> 8) & 255,
                c & 255,
                s / 60,
                s % 60,
                c % 97
            )
            .unwrap();
        }
    }
    drop(f);
    let model = dir.path().join("busy.model.gz");
    let r = replay([
        "record".as_ref(),
        path.as_os_str(),
        "-o".as_ref(),
        model.as_os_str(),
    ]);
    assert_eq!(r.code, Some(0), "{}", r.output());
    assert!(
        r.stderr.contains("sessions were learned from one user in"),
        "{}",
        r.stderr
    );
    let v = inspect_json(&model, &[]);
    let s = &v["sessions"];
    let sample = s["client_sample"].as_u64().unwrap();
    assert!(sample >= 2, "{s}");
    let users = s["clients"].as_f64().unwrap();
    assert!(
        (users / f64::from(clients) - 1.0).abs() < 0.05,
        "~{users} users of {clients}"
    );
    // One session each (back within 7 minutes): as many sessions.
    let sessions = s["sessions"].as_f64().unwrap();
    assert!((sessions / users - 1.0).abs() < 0.05, "{s}");
    let text = replay_ok(["inspect".as_ref(), model.as_os_str()]);
    assert!(text.contains("learned from one user in"), "{text}");
}
