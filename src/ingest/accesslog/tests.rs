use super::*;

fn read(text: &[u8], custom: Option<&Layout>) -> Result<(Vec<Exchange>, IngestStats), IngestError> {
    let mut out = Vec::new();
    let stats = read_log(Path::new("access.log"), text, custom, &mut |x| {
        out.push(x.clone())
    })?;
    Ok((out, stats))
}

const T: i64 = 1_796_599_454_000_000_000;

#[test]
fn reads_combined_common_and_json_lines() {
    let log = br#"10.0.0.1 - - [06/Dec/2026:23:24:14 +0000] "GET /users/7?x=1 HTTP/1.1" 200 612 "http://ref/" "curl/8"
10.0.0.2 - bob [06/Dec/2026:23:24:14 +0000] "POST /orders HTTP/1.1" 201 -
{"time":"2026-12-06T23:24:14.500+00:00","remote_addr":"10.0.0.3","request":"DELETE /users/9 HTTP/1.1","status":"204","body_bytes_sent":"0","request_time":"0.120","host":"api.example"}
{"level":"info","ts":1796599454.75,"logger":"http.log.access","request":{"remote_ip":"10.0.0.4","method":"GET","host":"caddy.example","uri":"/c?q=1","headers":{"User-Agent":["Go-http-client/1.1"]}},"duration":0.25,"size":10,"status":200}
{"StartUTC":"2026-12-06T23:24:14.1Z","ClientHost":"10.0.0.5","RequestMethod":"PUT","RequestPath":"/t/1","RequestHost":"traefik.example","DownstreamStatus":200,"Duration":50000000,"DownstreamContentSize":3}
"#;
    let (xs, stats) = read(log, None).unwrap();
    assert_eq!((stats.seen, stats.kept), (5, 5), "{stats:?}");
    let x = &xs[0];
    assert_eq!(
        (x.method.as_str(), x.target.as_str(), x.authority.as_str()),
        ("GET", "/users/7?x=1", UNKNOWN_HOST)
    );
    assert_eq!(x.client.as_deref(), Some("10.0.0.1"));
    assert_eq!(x.header("user-agent"), Some("curl/8"));
    assert_eq!(x.header("referer"), Some("http://ref/"));
    assert!(x.body_unknown && x.body.is_none());
    let r = x.response.as_ref().unwrap();
    assert_eq!((r.status, r.body_size, r.total_ms), (200, Some(612), None));
    // A whole-second stamp lands within its second.
    assert!((T..T + 1_000_000_000).contains(&x.started_ns));
    // Common: "-" bytes are 0.
    assert_eq!(xs[1].response.as_ref().unwrap().body_size, Some(0));
    // nginx JSON: completion stamp minus the request time.
    assert_eq!(xs[2].started_ns, T + 500_000_000 - 120_000_000);
    assert_eq!(xs[2].authority, "api.example");
    assert_eq!(xs[2].response.as_ref().unwrap().total_ms, Some(120.0));
    // Caddy: nested request, ts is the completion.
    assert_eq!(
        (xs[3].method.as_str(), xs[3].target.as_str()),
        ("GET", "/c?q=1")
    );
    assert_eq!(xs[3].started_ns, T + 500_000_000);
    assert_eq!(xs[3].header("user-agent"), Some("Go-http-client/1.1"));
    assert_eq!(xs[3].client.as_deref(), Some("10.0.0.4"));
    // Traefik: StartUTC is the arrival, not corrected; Duration in ns.
    assert_eq!(xs[4].started_ns, T + 100_000_000);
    assert_eq!(xs[4].response.as_ref().unwrap().total_ms, Some(50.0));
    assert_eq!(xs[4].authority, "traefik.example");
}

#[test]
fn a_custom_layout_reads_msec_and_corrects_by_request_time() {
    let l =
        Layout::parse(r#"$remote_addr $msec $request_time "$request" $status $body_bytes_sent"#)
            .unwrap();
    let log = b"127.0.0.2 1796599454.250 0.050 \"GET /a HTTP/1.1\" 200 5\n";
    let (xs, _) = read(log, Some(&l)).unwrap();
    assert_eq!(xs[0].started_ns, T + 200_000_000);
    // Without the layout the same line is not recognised.
    let err = read(log, None).unwrap_err().to_string();
    assert!(
        err.contains("line 1") && err.contains("--log-format"),
        "{err}"
    );
}

#[test]
fn damaged_lines_are_counted_by_reason_with_their_first_line_numbers() {
    let good = br#"10.0.0.1 - - [06/Dec/2026:23:24:14 +0000] "GET / HTTP/1.1" 200 1 "-" "ua""#;
    let mut log = Vec::new();
    for i in 0..20 {
        match i {
            3 | 9 => log.extend_from_slice(b"this is not a log line"),
            5 => log.extend_from_slice(
                br#"10.0.0.1 - - [06/Dec/2026:23:24:14 +0000] "-" 400 0 "-" "-""#,
            ),
            6 => log.extend_from_slice(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
            7 => log.extend_from_slice(
                br#"10.0.0.1 - - [06/Dec/2026:23:24:14 +0000] "GET / HTTP/1.1" 2x0 1 "-" "ua""#,
            ),
            8 => log.extend(std::iter::repeat_n(b'a', MAX_LINE * 3)),
            11 => log.extend_from_slice(
                br#"10.0.0.1 - - [99/Dec/2026:23:24:14 +0000] "GET / HTTP/1.1" 200 1 "-" "ua""#,
            ),
            _ => log.extend_from_slice(good),
        }
        log.push(b'\n');
    }
    let (xs, stats) = read(&log, None).unwrap();
    assert_eq!(xs.len(), 13);
    assert_eq!(stats.seen, 20);
    let n = |r: &str| stats.skipped.get(r).copied().unwrap_or(0);
    assert_eq!(n(reason::UNRECOGNISED), 2, "{stats:?}");
    assert_eq!(n(reason::BAD_TIME), 1);
    assert_eq!(n(reason::NO_REQUEST), 1);
    assert_eq!(n(reason::BINARY), 1);
    assert_eq!(n(reason::BAD_STATUS), 1, "{stats:?}");
    assert_eq!(n(reason::TOO_LONG), 1);
    let w = stats.warnings.join("\n");
    assert!(
        w.contains("2 log line not in a known layout skipped (first at line 4, 10)"),
        "{w}"
    );
    assert!(
        w.contains("1 log line too long skipped (first at line 9)"),
        "{w}"
    );
}

#[test]
fn a_file_of_random_bytes_names_its_first_line() {
    let mut state = 0x1234_5678u64;
    let bytes: Vec<u8> = (0..100_000)
        .map(|_| {
            state = crate::ingest::mix(state);
            state as u8
        })
        .collect();
    let err = read(&bytes, None).unwrap_err();
    assert!(
        matches!(err, IngestError::Malformed { ref position, .. } if position == "line 1"),
        "{err}"
    );
    assert!(!sniff(&bytes[..4096]));
}

#[test]
fn whole_seconds_are_spread_within_the_second_and_reproducibly() {
    let mut log = Vec::new();
    for _ in 0..1000 {
        log.extend_from_slice(
            b"10.0.0.1 - - [06/Dec/2026:23:24:14 +0000] \"GET / HTTP/1.1\" 200 1\n",
        );
    }
    let (a, _) = read(&log, None).unwrap();
    let (b, _) = read(&log, None).unwrap();
    assert_eq!(a, b);
    let mut t: Vec<i64> = a.iter().map(|x| x.started_ns - T).collect();
    t.sort_unstable();
    assert!(t[0] >= 0 && t[999] < 1_000_000_000);
    // Uniform within the second: each tenth holds about a tenth.
    for k in 0..10 {
        let n = t.iter().filter(|v| **v / 100_000_000 == k).count();
        assert!((60..140).contains(&n), "tenth {k}: {n}");
    }
}

#[test]
fn sniffs_logs_but_not_har_or_text() {
    assert!(sniff(
        br#"1.2.3.4 - - [06/Dec/2026:23:24:14 +0000] "GET / HTTP/1.1" 200 1 "-" "ua"
"#
    ));
    assert!(sniff(
        b"{\"ts\":1796599454.1,\"request\":{\"method\":\"GET\",\"uri\":\"/\"},\"status\":200}\n"
    ));
    assert!(!sniff(b"{\"log\":{\"version\":\"1.2\",\"entries\":[]}}\n"));
    assert!(!sniff(b"{\n  \"log\": {\n"));
    // A bare HAR entry (haralyzer's single_entry.har) is not a log line.
    assert!(!sniff(b"{\"startedDateTime\": \"2015-02-24T10:00:00Z\", \"time\": 123.4, \"request\": {\"method\": \"GET\", \"url\": \"http://a/\"}, \"response\": {\"status\": 200}}\n"));
    assert!(!sniff(b"hello world\nsecond line\n"));
}

#[test]
fn reads_envoy_default_and_aws_alb_lines() {
    // The examples in Envoy's and AWS's documentation.
    let log = br#"[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" "nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "tcp://10.0.2.1:80"
http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-"
"#;
    assert!(sniff(&log[..200]));
    let (xs, stats) = read(log, None).unwrap();
    assert_eq!(stats.kept, 2, "{stats:?}");
    let envoy = &xs[0];
    assert_eq!(
        (envoy.method.as_str(), envoy.target.as_str()),
        ("POST", "/api/v1/locations")
    );
    assert_eq!(envoy.authority, "locations");
    assert_eq!(envoy.client.as_deref(), Some("10.0.35.28"));
    // START_TIME is the arrival: not corrected by the 226 ms duration.
    assert_eq!(envoy.started_ns, 1_460_751_420_310_000_000);
    let r = envoy.response.as_ref().unwrap();
    assert_eq!(
        (r.status, r.body_size, r.total_ms),
        (204, Some(0), Some(226.0))
    );
    let alb = &xs[1];
    assert_eq!((alb.method.as_str(), alb.target.as_str()), ("GET", "/"));
    assert_eq!(alb.authority, "www.example.com:80");
    assert_eq!(alb.client.as_deref(), Some("192.168.131.39"));
    // request_creation_time, not the response's time.
    assert_eq!(alb.started_ns, 1_530_570_168_364_000_000);
    assert_eq!(alb.response.as_ref().unwrap().body_size, Some(366));
}
