use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// A plain successful sample.
pub(crate) fn sample(endpoint: usize, status: u16, duration_ms: u64) -> Sample {
    Sample {
        endpoint,
        status: Some(status),
        error: None,
        duration: ms(duration_ms),
        service_time: ms(duration_ms / 2),
        waiting: ms(duration_ms / 4),
        connecting: None,
        schedule_lag: Duration::from_micros(duration_ms),
        tls_handshaking: None,
        blocked: Duration::ZERO,
        sending: Duration::ZERO,
        receiving: Duration::ZERO,
        bytes_sent: 100,
        bytes_received: 1000,
        at: ms(duration_ms),
        warmup: false,
    }
}

fn random_sample(rng: &mut ChaCha8Rng) -> Sample {
    let endpoint = rng.random_range(0..4);
    let duration = Duration::from_micros(rng.random_range(0..5_000_000));
    let (status, error) = match rng.random_range(0..20) {
        0 => (
            None,
            Some(ErrorKind::ALL[rng.random_range(0..ErrorKind::ALL.len())]),
        ),
        1 => (Some(503), None),
        2 => (Some(404), None),
        3 => (Some(301), None),
        _ => (Some(200), None),
    };
    Sample {
        endpoint,
        status,
        error,
        duration,
        service_time: duration / 3,
        waiting: duration / 5,
        connecting: rng
            .random_bool(0.1)
            .then(|| Duration::from_micros(rng.random_range(50..5000))),
        schedule_lag: Duration::from_micros(rng.random_range(0..2000)),
        tls_handshaking: None,
        blocked: Duration::ZERO,
        sending: Duration::ZERO,
        receiving: Duration::ZERO,
        bytes_sent: rng.random_range(0..500),
        bytes_received: rng.random_range(0..50_000),
        at: Duration::from_millis(rng.random_range(0..60_000)),
        warmup: rng.random_bool(0.05),
    }
}

fn assert_same(a: &Recorder, b: &Recorder) {
    let ka: Vec<_> = a.histograms().map(|(k, _)| k).collect();
    let kb: Vec<_> = b.histograms().map(|(k, _)| k).collect();
    assert_eq!(ka, kb);
    for ((_, ha), (_, hb)) in a.histograms().zip(b.histograms()) {
        assert_eq!(ha, hb);
    }
    assert_eq!(a.endpoints(), b.endpoints());
    assert_eq!(a.warmup(), b.warmup());
}

#[test]
fn merge_of_parts_equals_recording_everything_in_one() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let samples: Vec<_> = (0..30_000).map(|_| random_sample(&mut rng)).collect();
    let mut whole = Recorder::new();
    let mut parts = vec![Recorder::new(), Recorder::new(), Recorder::new()];
    for (i, s) in samples.iter().enumerate() {
        whole.record(s);
        parts[i % 3].record(s);
        if i % 97 == 0 {
            let d = Dropped {
                endpoint: i % 5,
                reason: DropReason::ALL[i % 3],
                at: s.at,
                warmup: i % 2 == 0,
            };
            whole.record_dropped(&d);
            parts[(i + 1) % 3].record_dropped(&d);
        }
    }
    let mut merged = Recorder::new();
    for p in &parts {
        merged.merge(p);
    }
    assert_same(&merged, &whole);
    for &m in TrendMetric::ALL {
        let (a, b) = (merged.trend(m), whole.trend(m));
        assert_eq!(a.len(), b.len(), "{m}");
        for q in [0.0, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            assert_eq!(a.value_at_quantile(q), b.value_at_quantile(q), "{m} q={q}");
        }
        assert_eq!(a.mean(), b.mean());
    }
    // The pending interval windows merged too.
    let sa = merged.take_interval(Duration::from_secs(60));
    let sb = whole.take_interval(Duration::from_secs(60));
    assert_eq!(sa, sb);
}

#[test]
fn merged_histograms_survive_serialization_exactly() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut a = Recorder::new();
    let mut b = Recorder::new();
    for i in 0..5_000 {
        let s = random_sample(&mut rng);
        if i % 2 == 0 {
            a.record(&s)
        } else {
            b.record(&s)
        }
    }
    // Serialize b's histograms and counters, rebuild, merge into a clone of a.
    let mut rebuilt = Recorder::new();
    for (k, h) in b.histograms() {
        rebuilt.add_histogram(k, &hist::decode(&hist::encode(h).unwrap()).unwrap());
    }
    for (i, c) in b.endpoints().iter().enumerate() {
        rebuilt.add_counters(i, c);
    }
    rebuilt.add_warmup(b.warmup());
    let mut via_wire = a.clone();
    via_wire.merge(&rebuilt);
    let mut direct = a.clone();
    direct.merge(&b);
    assert_same(&via_wire, &direct);
}

#[test]
fn counters_classes_and_k6_failure_semantics() {
    let mut r = Recorder::new();
    r.record(&sample(0, 200, 10));
    r.record(&sample(0, 302, 10));
    r.record(&sample(0, 404, 10));
    r.record(&sample(1, 503, 10));
    let mut err = sample(1, 0, 3000);
    err.status = None;
    err.error = Some(ErrorKind::Timeout);
    r.record(&err);
    let t = r.totals();
    assert_eq!(t.requests, 5);
    assert_eq!(
        t.failed, 3,
        "404, 503 and the timeout fail; 200 and 302 do not"
    );
    assert_eq!(t.errors.get(&ErrorKind::Timeout), Some(&1));
    assert_eq!(t.status.get(&503), Some(&1));
    assert_eq!(
        t.requests,
        t.status.values().sum::<u64>() + t.errors.values().sum::<u64>()
    );
    assert_eq!(t.data_sent, 500);
    assert_eq!(t.status_in(StatusClass::ClientError), 1);
    let classes: Vec<_> = r
        .histograms()
        .filter(|(k, _)| k.metric == TrendMetric::Duration)
        .map(|(k, _)| (k.endpoint, k.class.as_str()))
        .collect();
    assert_eq!(
        classes,
        vec![(0, "2xx"), (0, "3xx"), (0, "4xx"), (1, "5xx"), (1, "error")]
    );
    // connecting only when a connection was opened
    assert_eq!(r.trend(TrendMetric::Connecting).len(), 0);
    assert_eq!(r.trend(TrendMetric::Duration).len(), 5);
}

#[test]
fn warmup_is_counted_but_excluded() {
    let mut r = Recorder::new();
    let mut w = sample(0, 500, 10);
    w.warmup = true;
    r.record(&w);
    r.record_dropped(&Dropped {
        endpoint: 0,
        reason: DropReason::MaxInFlight,
        at: ms(1),
        warmup: true,
    });
    assert_eq!(
        r.warmup(),
        WarmupCounts {
            requests: 1,
            failed: 1,
            dropped: 1
        }
    );
    assert_eq!(r.totals(), EndpointCounters::default());
    assert_eq!(r.histograms().count(), 0);
    assert_eq!(r.take_interval(ms(1000)).requests, 0);
}

#[test]
fn dropped_counted_by_reason_and_endpoint() {
    let mut r = Recorder::new();
    for (ep, reason) in [
        (2, DropReason::ConnectionCap),
        (2, DropReason::ConnectionCap),
        (0, DropReason::GeneratorBehind),
    ] {
        r.record_dropped(&Dropped {
            endpoint: ep,
            reason,
            at: ms(5),
            warmup: false,
        });
    }
    assert_eq!(
        r.endpoint(2).dropped.get(&DropReason::ConnectionCap),
        Some(&2)
    );
    assert_eq!(r.totals().dropped_total(), 3);
    assert_eq!(r.endpoint(1), EndpointCounters::default());
    assert_eq!(r.take_interval(ms(1000)).dropped, 3);
}

#[test]
fn names_are_stable_snake_case() {
    assert_eq!(
        serde_json::to_string(&ErrorKind::ConnectRefused).unwrap(),
        "\"connect_refused\""
    );
    assert_eq!(ErrorKind::ConnectTimeout.as_str(), "connect_timeout");
    assert_eq!(DropReason::MaxInFlight.as_str(), "max_in_flight");
    assert_eq!(
        "generator_behind".parse::<DropReason>().unwrap(),
        DropReason::GeneratorBehind
    );
    assert!("nope"
        .parse::<ErrorKind>()
        .unwrap_err()
        .contains("connect_refused"));
    for k in ErrorKind::ALL {
        assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
    }
    for k in StatusClass::ALL {
        assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
    }
    for k in TrendMetric::ALL {
        assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
    }
}

#[test]
fn interval_snapshot_and_reset() {
    let mut r = Recorder::new();
    for i in 1..=100 {
        r.record(&sample(i % 2, if i == 100 { 500 } else { 200 }, i as u64));
    }
    r.record_dropped(&Dropped {
        endpoint: 0,
        reason: DropReason::ConnectionCap,
        at: ms(1),
        warmup: false,
    });
    let s = r.take_interval(ms(2000));
    assert_eq!(s.requests, 100);
    assert_eq!(s.rate, 50.0);
    assert_eq!(s.failed, 1);
    assert_eq!(s.error_rate, 0.01);
    assert_eq!(s.dropped, 1);
    assert_eq!(s.at_s, 2.0);
    // 3 significant digits: within 0.1%.
    let p50 = s.p50_ms.unwrap();
    assert!((p50 - 50.0).abs() <= 0.05, "{p50}");
    assert!((s.p99_ms.unwrap() - 99.0).abs() <= 0.1);
    assert_eq!(s.endpoints.len(), 2);
    assert_eq!(s.endpoints[0].count, 50);
    assert_eq!(s.endpoints[0].errors, 1);
    // Next interval starts empty and measures its own span.
    r.record(&sample(0, 200, 5));
    let s2 = r.take_interval(ms(2500));
    assert_eq!(s2.requests, 1);
    assert_eq!(s2.interval_s, 0.5);
    assert_eq!(s2.rate, 2.0);
    let empty = r.take_interval(ms(3500));
    assert_eq!(empty.p95_ms, None);
    assert!(empty.endpoints.is_empty());
    // Totals are unaffected by taking intervals.
    assert_eq!(r.totals().requests, 101);
    assert_eq!(r.drift().points().len(), 3);
}

#[test]
fn per_worker_windows_merge_into_one_interval() {
    let mut collector = Recorder::new();
    let mut w1 = Recorder::new();
    let mut w2 = Recorder::new();
    let mut one = Recorder::new();
    for i in 0..1000u64 {
        let s = sample((i % 3) as usize, 200, i % 300);
        if i % 2 == 0 {
            w1.record(&s)
        } else {
            w2.record(&s)
        }
        one.record(&s);
    }
    let mut win = w1.take_window();
    win.merge(&w2.take_window());
    assert_eq!(
        collector.close_interval(win, ms(1000)),
        one.take_interval(ms(1000))
    );
}

#[test]
fn merging_into_a_fresh_recorder_keeps_the_drift_series() {
    // The executor closes intervals on worker 0's recorder and merges every
    // worker into a fresh one for the summary: the series must survive.
    let mut w0 = Recorder::new();
    let mut w1 = Recorder::new();
    for i in 1..=3u64 {
        w0.record(&sample(0, 200, 10));
        w1.record(&sample(0, 200, 10));
        w0.take_interval(Duration::from_secs(i));
    }
    let mut merged = Recorder::new();
    merged.merge(&w0);
    merged.merge(&w1);
    assert_eq!(merged.drift(), w0.drift());
    assert_eq!(merged.drift().points().len(), 3);
    // A recorder with a series of its own keeps it.
    let mut other = Recorder::new();
    other.take_interval(Duration::from_secs(1));
    other.merge(&w0);
    assert_eq!(other.drift().points().len(), 1);
}

#[test]
fn drift_series_stays_bounded_and_covers_the_run() {
    let mut r = Recorder::new();
    // Enough 1 s intervals for three compactions; the bound does not depend
    // on n (each point merges 2^k intervals).
    let n = 3_000u64;
    for i in 1..=n {
        // latency slowly degrading: p95 ~ i/30 ms
        r.record(&sample(0, if i % 100 == 0 { 500 } else { 200 }, 1 + i / 30));
        r.take_interval(Duration::from_secs(i));
    }
    let d = r.drift();
    assert!(d.points().len() <= interval::DRIFT_CAPACITY);
    assert!(d.points().len() >= interval::DRIFT_CAPACITY / 2);
    assert_eq!(d.points()[0].start_s, 0.0);
    assert_eq!(d.points().last().unwrap().end_s, n as f64);
    assert_eq!(d.points().iter().map(|p| p.requests).sum::<u64>(), n);
    assert_eq!(
        d.points().iter().map(|p| p.intervals as u64).sum::<u64>(),
        n
    );
    let sum = d.summary().unwrap();
    assert!(sum.last_p95_ms.unwrap() > 10.0 * sum.first_p95_ms.unwrap());
    assert!((sum.last_error_rate - 0.01).abs() < 0.002);
}

/// Recording 10 million samples keeps memory at a small fixed bound: the
/// histograms' counts arrays stop growing once the value range is covered.
#[test]
fn memory_is_independent_of_run_length() {
    let mut r = Recorder::new();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        // xorshift64: cheap, deterministic, spans the full range
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut s = sample(0, 200, 1);
    let mut record = |r: &mut Recorder, n: u64| {
        for _ in 0..n {
            let v = next();
            s.endpoint = (v % 3) as usize;
            s.status = Some(if v % 50 == 0 { 503 } else { 200 });
            // up to 2 hours: beyond the 1 h clamp
            s.duration = Duration::from_micros(v % 7_200_000_000);
            s.service_time = Duration::from_micros((v >> 8) % 60_000_000);
            s.waiting = s.service_time / 2;
            s.schedule_lag = Duration::from_micros((v >> 16) % 1_000_000);
            r.record(&s);
        }
    };
    record(&mut r, 100_000);
    // The blocks hold the distinct latencies seen (bounded by the value
    // range, see below), which rare values still add to.
    let early = r.heap_bytes() - r.blocks().heap_bytes();
    record(&mut r, 9_900_000);
    let late = r.heap_bytes() - r.blocks().heap_bytes();
    assert_eq!(r.totals().requests, 10_000_000);
    assert_eq!(early, late, "histograms grew with run length");
    // One block (every sample has the same `at`) of 3 endpoints, each at
    // most ~3,300 distinct values over the clamped range.
    let blocks = r.blocks().heap_bytes();
    assert!(blocks < 3 * 3_400 * 48, "{blocks} bytes");
    // 3 endpoints × 2 classes × 4 metrics + the interval window, each at
    // most ~185 KiB for the full clamped range.
    assert!(late < 6 * 1024 * 1024, "{late} bytes");
    let max = r.trend(TrendMetric::Duration).max();
    assert!(
        (3_599_000_000..=3_601_000_000).contains(&max),
        "clamped at 1 h, got {max}"
    );
}

#[test]
fn endpoint_names_carry_the_host_only_where_two_would_read_the_same() {
    let names = distinct_names([
        ("GET", "cnn.com", "/"),
        ("GET", "www.cnn.com", "/"),
        ("POST", "cnn.com", "/"),
        ("GET", "cnn.com", "/a/{id}"),
    ]);
    assert_eq!(
        names,
        ["GET cnn.com/", "GET www.cnn.com/", "POST /", "GET /a/{id}"]
    );
}
