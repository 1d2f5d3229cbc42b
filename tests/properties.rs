//! Property tests (proptest) where they pay: template inference, the model
//! file round trip, histogram merges, the threshold parser.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;
use rand::SeedableRng;
use replay::ingest::{Exchange, Response};
use replay::metrics::{Recorder, Sample};
use replay::model::{BuildOptions, LogHist, ModelBuilder, TrafficModel};

/// A path segment: literals, ids, uuids, hex, odd characters.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "users", "orders", "api", "v1", "items", "search", "a b", "%2F", "é"
        ])
        .prop_map(String::from),
        (0u32..100_000).prop_map(|n| n.to_string()),
        "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        "[0-9a-f]{16}",
        "[a-zA-Z0-9._~-]{0,12}",
    ]
}

fn exchange() -> impl Strategy<Value = Exchange> {
    (
        prop::sample::select(vec!["GET", "POST", "PUT", "DELETE"]),
        prop::sample::select(vec!["api.example", "cdn.example:8080"]),
        prop::collection::vec(segment(), 0..5),
        prop::option::of(("[a-z]{1,3}", "[a-z0-9]{0,5}")),
        0i64..3_600_000,
        prop::sample::select(vec![200u16, 201, 204, 404, 500]),
        0u32..4,
    )
        .prop_map(|(method, host, segs, query, ms, status, client)| {
            let mut target = format!("/{}", segs.join("/"));
            if let Some((k, v)) = query {
                target += &format!("?{k}={v}");
            }
            Exchange {
                started_ns: 1_600_000_000_000_000_000 + ms * 1_000_000,
                method: method.to_string(),
                scheme: "http".into(),
                authority: host.to_string(),
                target,
                headers: vec![("Accept".into(), "*/*".into())],
                body: None,
                response: Some(Response {
                    status,
                    mime: "application/json".into(),
                    body_size: Some(u64::from(client) * 100),
                    wait_ms: Some(ms as f64 / 1000.0),
                    total_ms: Some(ms as f64 / 500.0),
                    headers: vec![],
                    body: None,
                    body_base64: false,
                }),
                client: Some(format!("c{client}")),
                resource_type: None,
                damaged: false,
                body_unknown: false,
            }
        })
}

/// Exchanges whose paths have a name at the second level
/// (`/profiles/alice/avatar`): many rare names lead to the same
/// continuations, so inference makes a `{slug}` slot, beside popular names
/// (`me`) and literals that lead elsewhere.
fn slug_exchange() -> impl Strategy<Value = Exchange> {
    (
        exchange(),
        prop_oneof![4 => Just("profiles"), 1 => Just("a b")],
        prop_oneof![
            3 => "[a-z]{3,8}",
            1 => Just("me".to_string()),
            1 => "[a-zA-Z0-9._~-]{0,12}",
        ],
        prop_oneof![
            4 => Just("/avatar"),
            1 => Just(""),
            1 => Just("/posts"),
            1 => Just("/settings"),
            1 => Just("/"),
        ],
    )
        .prop_map(|(mut x, prefix, name, rest)| {
            x.authority = "api.example".into();
            x.target = format!("/{prefix}/{name}{rest}");
            x
        })
}

/// Exchanges with hostile values: any timestamp a capture can carry
/// (1970 to 2106: the HAR reader refuses other years, pcap counts u32
/// seconds, and the model loader refuses recordings outside that), huge
/// and odd strings, any size and timing.
fn hostile_exchange() -> impl Strategy<Value = Exchange> {
    (
        exchange(),
        0i64..=4_294_967_295_999_999_999,
        prop_oneof![
            Just(String::new()),
            "\\PC{0,40}",
            (300usize..3000).prop_map(|n| "v".repeat(n))
        ],
        prop::option::of(any::<u64>()),
        prop::option::of(any::<f64>()),
        "\\PC{0,30}",
    )
        .prop_map(|(mut x, ts, value, size, ms, path)| {
            x.started_ns = ts;
            x.headers.push(("X-Odd".into(), value.clone()));
            x.target = format!("/{path}?q={value}");
            if let Some(r) = x.response.as_mut() {
                r.body_size = size;
                r.wait_ms = ms;
                r.total_ms = ms.map(|v| v * 3.0);
            }
            x
        })
}

fn build(xs: &[Exchange]) -> TrafficModel {
    let mut b = ModelBuilder::new(BuildOptions {
        scrub: true,
        ..Default::default()
    });
    for x in xs {
        b.observe(x);
    }
    b.finish()
}

/// `t` is `of` with some of its `{slots}` filled by literals.
fn instance_of(t: &str, of: &str) -> bool {
    let a: Vec<&str> = t.split('/').collect();
    let b: Vec<&str> = of.split('/').collect();
    a.len() == b.len()
        && a.iter()
            .zip(&b)
            .all(|(x, y)| x == y || (y.starts_with('{') && y.ends_with('}')))
}

/// One generated request per recorded exchange, with its time and client,
/// as exchanges; `check` sees each request and its path.
fn regenerate(
    m: &TrafficModel,
    xs: &[Exchange],
    seed: u64,
    mut check: impl FnMut(&replay::generate::Request, &str),
) -> Vec<Exchange> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut again = Vec::new();
    for (i, x) in xs.iter().enumerate() {
        let r = replay::generate::generate(m, &mut rng);
        let url = r.url(m, None);
        let (scheme, authority, target) = replay::ingest::har::split_url(&url)
            .unwrap_or_else(|e| panic!("generated url {url:?}: {e}"));
        let path = target.split('?').next().unwrap_or(target);
        check(&r, path);
        again.push(Exchange {
            started_ns: x.started_ns + i as i64,
            method: r.method.clone(),
            scheme: scheme.to_string(),
            authority: authority.to_string(),
            target: target.to_string(),
            headers: r.headers.clone(),
            response: x.response.clone(),
            client: x.client.clone(),
            ..Default::default()
        });
    }
    again
}

fn templates(m: &TrafficModel) -> BTreeSet<(String, String, String)> {
    m.endpoints
        .iter()
        .map(|e| (e.method.clone(), e.host.clone(), e.template.clone()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Inference never panics; every request a model generates has a path
    /// that is its endpoint's template with the slots filled; recording
    /// the generated requests never panics either.
    #[test]
    fn generated_paths_fit_their_templates(xs in prop::collection::vec(exchange(), 1..120), seed: u64) {
        let m1 = build(&xs);
        prop_assert!(m1.requests() > 0);
        let again = regenerate(&m1, &xs, seed, |r, path| {
            let template = &m1.endpoints[r.endpoint].template;
            assert!(instance_of(path, template), "{path:?} does not fit {template:?}");
        });
        let m2 = build(&again);
        prop_assert!(m2.requests() > 0);
    }

    /// Idempotence: recording the requests a model generates finds no
    /// structure the model did not have (each new template is one of the
    /// model's, or an instance of one: a slot filled with too few distinct
    /// values in the sample to be slotted again stays a literal).
    ///
    /// Half the exchanges have a name at the second level
    /// (`slug_exchange`), so most cases make `{slug}` slots. The first
    /// counterexample (the first seed in properties.proptest-regressions):
    /// the model had the literal `DELETE /a b/2nTNN~-ve` beside `/{id}` and
    /// `/{id}/B.6W9_g_L`, and re-recording folded "a b" into a slot with
    /// them; inference then folded every rare literal once a slot was
    /// started, whatever followed it. The second: seven rare names and a
    /// popular `me`, all followed by `/avatar`, made no slot (seven is under
    /// the minimum of rare siblings), but in the re-recording `me` was rare
    /// too. See `PathTrie::like_ids` in src/model/template.rs for the rule
    /// and why it holds; checked with 20,000 cases.
    #[test]
    fn template_inference_is_idempotent(xs in prop::collection::vec(prop_oneof![exchange(), slug_exchange()], 1..120), seed: u64) {
        let m1 = build(&xs);
        let m2 = build(&regenerate(&m1, &xs, seed, |_, _| {}));
        let t1 = templates(&m1);
        for t in &templates(&m2) {
            prop_assert!(
                t1.iter().any(|o| o.0 == t.0 && o.1 == t.1 && instance_of(&t.2, &o.2)),
                "{t:?} matches no template of the model: {t1:?}"
            );
        }
    }

    /// Any model the builder makes survives save → load unchanged.
    #[test]
    fn model_file_round_trip(xs in prop::collection::vec(exchange(), 0..80)) {
        let m = build(&xs);
        let bytes = replay::model::file::to_bytes(&m);
        let back = replay::model::file::from_reader(Path::new("p.model.gz"), &bytes[..])
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, m);
    }

    /// Hostile exchanges never make the builder panic, and the model it
    /// makes still loads back unchanged. (This is the property the
    /// bad-input corpus found broken three ways: i64 span overflow, an
    /// infinite sum of squares, a pool min_len above max_len.)
    #[test]
    fn hostile_exchanges_still_give_a_loadable_model(xs in prop::collection::vec(hostile_exchange(), 1..40)) {
        let m = build(&xs);
        let bytes = replay::model::file::to_bytes(&m);
        let back = replay::model::file::from_reader(Path::new("p.model.gz"), &bytes[..])
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, m);
    }

    /// LogHist: recording into two and merging equals recording into one
    /// (bins, counts, min and max exactly; sums up to rounding).
    #[test]
    fn loghist_merge_equals_one(a in prop::collection::vec(prop_oneof![0.0f64..1e6, Just(0.0), 1e-9f64..1e-3, any::<f64>()], 0..200),
                                b in prop::collection::vec(prop_oneof![0.0f64..1e6, any::<f64>()], 0..200)) {
        let mut one = LogHist::new();
        let (mut ha, mut hb) = (LogHist::new(), LogHist::new());
        for v in &a { one.record(*v); ha.record(*v); }
        for v in &b { one.record(*v); hb.record(*v); }
        ha.merge(&hb);
        prop_assert_eq!(&ha.bins, &one.bins);
        prop_assert_eq!(ha.count, one.count);
        prop_assert_eq!(ha.zeros, one.zeros);
        if one.count > 0 {
            prop_assert_eq!(ha.min, one.min);
            prop_assert_eq!(ha.max, one.max);
        }
        prop_assert!(ha.sum.is_finite() && ha.sum_sq.is_finite());
        let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0);
        prop_assert!(close(ha.sum, one.sum), "{} vs {}", ha.sum, one.sum);
        prop_assert!(close(ha.sum_sq, one.sum_sq), "{} vs {}", ha.sum_sq, one.sum_sq);
    }

    /// metrics::Recorder: the same samples split over two recorders and
    /// merged give exactly the histograms and counters of one.
    #[test]
    fn recorder_merge_equals_one(samples in prop::collection::vec(
        (0usize..3, prop::option::of(prop::sample::select(vec![200u16, 302, 404, 503])),
         0u64..5_000_000, 0u64..100_000, any::<bool>(), any::<bool>()), 0..150),
        split in any::<prop::sample::Index>()) {
        let samples: Vec<Sample> = samples.into_iter().enumerate().map(|(i, (endpoint, status, us, bytes, conn, warmup))| Sample {
            endpoint,
            status,
            error: if status.is_none() { Some(replay::metrics::ErrorKind::Timeout) } else { None },
            duration: Duration::from_micros(us),
            service_time: Duration::from_micros(us / 2),
            waiting: Duration::from_micros(us / 3),
            connecting: conn.then(|| Duration::from_micros(us / 10)),
            schedule_lag: Duration::from_micros(us / 4),
            tls_handshaking: None,
            blocked: Duration::ZERO,
            sending: Duration::ZERO,
            receiving: Duration::ZERO,
            bytes_sent: bytes,
            bytes_received: bytes * 2,
            at: Duration::from_millis(i as u64 * 10),
            warmup,
        }).collect();
        let cut = split.index(samples.len() + 1);
        let mut one = Recorder::new();
        let (mut a, mut b) = (Recorder::new(), Recorder::new());
        for (i, s) in samples.iter().enumerate() {
            one.record(s);
            if i < cut { a.record(s) } else { b.record(s) }
        }
        a.merge(&b);
        let hists = |r: &Recorder| r.histograms().map(|(k, h)| (k, h.clone())).collect::<Vec<_>>();
        prop_assert_eq!(hists(&a), hists(&one));
        prop_assert_eq!(a.totals(), one.totals());
        prop_assert_eq!(a.endpoints(), one.endpoints());
        prop_assert_eq!(a.warmup(), one.warmup());
    }

    /// The threshold parser returns an error, never panics, on any text,
    /// and on near-misses of the grammar.
    #[test]
    fn threshold_parser_never_panics(s in "\\PC{0,80}") {
        if let Err(e) = replay::threshold::parse(&s) {
            let _ = e.to_string();
            let _ = e.caret();
        }
    }

    #[test]
    fn threshold_parser_near_misses(metric in prop::sample::select(vec!["http_req_duration", "http_req_failed", "http_reqs", "x", ""]),
                                    tag in prop::option::of("[{}:a-zA-Z /]{0,12}"),
                                    agg in "(p\\(|avg|min|max|med|rate|count|p\\(9[0-9.]*\\)?|[(){}])?",
                                    op in "(<|<=|>|>=|==|!=|=|)",
                                    value in "-?[0-9.e]{0,6}(ms|s|m|h|us|µs|%|)",
                                    noise in "[ :\\t]{0,2}") {
        let s = format!("{metric}{}{noise}:{noise}{agg}{op}{value}", tag.map(|t| format!("{{{t}}}")).unwrap_or_default());
        if let Err(e) = replay::threshold::parse(&s) {
            let _ = e.to_string();
            let _ = e.caret();
        }
    }
}
