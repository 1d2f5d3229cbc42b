//! Properties of the learned model: template inference on real and
//! synthetic URL families, weights, bounded pools, secret scrubbing and the
//! model file round trip.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;

use replay::cli::FilterArgs;
use replay::model::{file, TailType, TrafficModel};
use support::bin::{inspect_json, replay, replay_ok};
use support::har::{write_har, Entry};
use support::{fixture, gunzip_text, model_of};

fn keys(m: &TrafficModel) -> BTreeSet<String> {
    m.endpoints
        .iter()
        .map(|e| format!("{} {}{}", e.method, e.host, e.template))
        .collect()
}

#[test]
fn loremflickr_family_in_304_har_is_one_template() {
    let dir = tempfile::tempdir().unwrap();
    let m = model_of(
        &[fixture(dir.path(), "pagexray__304.har")],
        &FilterArgs::default(),
    );
    let lorem: Vec<_> = m
        .endpoints
        .iter()
        .filter(|e| e.host == "loremflickr.com")
        .collect();
    assert_eq!(lorem.len(), 1, "{:?}", keys(&m));
    let e = lorem[0];
    assert_eq!(
        (e.method.as_str(), e.template.as_str()),
        ("GET", "/{id}/{id2}/weather")
    );
    assert_eq!(e.count, 94);
    // The recorded widths/heights are the pool, with their popularity.
    let widths: Vec<&str> = e.path_params[0]
        .pool
        .values
        .iter()
        .map(|v| v.0.as_str())
        .collect();
    assert_eq!(widths, ["672", "444", "330"]);
    assert_eq!(
        e.path_params[0].pool.values[0].1, 61,
        "672 is the most common width"
    );
    assert_eq!(e.path_params[0].pool.total(), 94);
    // The query became slots, not part of the template.
    let q: BTreeSet<&str> = e.query.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(q, BTreeSet::from(["odnBg", "odnHeight", "odnWidth"]));
    // Static, distinct resources stay literal.
    assert!(keys(&m).contains("GET dev.walmart.com:3000/js/cp_ny.bundle.e69dbbeec06f7920555b.js"));
    assert!(keys(&m).contains("POST dev.walmart.com:3000/cp/api/logger"));
}

fn synthetic_families(dir: &std::path::Path) -> PathBuf {
    let mut es = Vec::new();
    let mut t = 0;
    let mut push = |es: &mut Vec<Entry>, url: String| {
        t += 37;
        es.push(Entry::get(url, t));
    };
    let base = "https://api.example.com";
    for id in [17, 4242, 9, 123456, 77, 31, 500, 1, 2, 3] {
        push(&mut es, format!("{base}/posts/{id}?page=2"));
    }
    for _ in 0..50 {
        push(&mut es, format!("{base}/api/v1/users/me"));
    }
    for i in 0..40 {
        push(&mut es, format!("{base}/api/v1/users/{}", 1000 + i * 13));
    }
    for u in [
        "550e8400-e29b-41d4-a716-446655440000",
        "6fa459ea-ee8a-3ca4-894e-db77e160355e",
        "16fd2706-8baf-433b-82eb-8c7fada847da",
    ] {
        push(&mut es, format!("{base}/files/{u}"));
    }
    for h in [
        "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "5f2b9c1e8a7d4e3f",
        "0a1b2c3d4e5f6789",
    ] {
        push(&mut es, format!("{base}/commits/{h}/diff"));
    }
    for d in ["2024-01-31", "2024-02-29", "2023-12-01"] {
        push(&mut es, format!("{base}/reports/{d}/summary"));
    }
    for name in [
        "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
        "mallory", "niaj",
    ] {
        push(&mut es, format!("{base}/profiles/{name}/avatar"));
    }
    for res in ["users", "posts", "tags", "comments", "likes", "feeds"] {
        for _ in 0..10 {
            push(&mut es, format!("{base}/api/v2/{res}"));
        }
    }
    write_har(dir, "families.har", &es)
}

#[test]
fn synthetic_url_families_get_the_expected_templates() {
    let dir = tempfile::tempdir().unwrap();
    let m = model_of(&[synthetic_families(dir.path())], &FilterArgs::default());
    let got: BTreeSet<(String, u64)> = m
        .endpoints
        .iter()
        .map(|e| (e.template.clone(), e.count))
        .collect();
    let want: BTreeSet<(String, u64)> = [
        ("/posts/{id}", 10),
        ("/api/v1/users/me", 50),
        ("/api/v1/users/{id}", 40),
        ("/files/{id}", 3),
        ("/commits/{id}/diff", 3),
        ("/reports/{date}/summary", 3),
        ("/profiles/{slug}/avatar", 12),
        ("/api/v2/users", 10),
        ("/api/v2/posts", 10),
        ("/api/v2/tags", 10),
        ("/api/v2/comments", 10),
        ("/api/v2/likes", 10),
        ("/api/v2/feeds", 10),
    ]
    .iter()
    .map(|(t, c)| (t.to_string(), *c))
    .collect();
    assert_eq!(got, want);
    for e in &m.endpoints {
        assert_eq!(e.host, "api.example.com");
        assert!(
            !e.template.contains('?') && !e.template.contains("example"),
            "{}",
            e.template
        );
    }
    let files = m
        .endpoints
        .iter()
        .find(|e| e.template == "/files/{id}")
        .unwrap();
    assert_eq!(files.path_params[0].pool.values.len(), 3);
    let posts = m
        .endpoints
        .iter()
        .find(|e| e.template == "/posts/{id}")
        .unwrap();
    assert_eq!(posts.query[0].name, "page");
    assert_eq!(posts.query[0].presence, 1.0);
}

fn fixture_names() -> Vec<&'static str> {
    vec![
        "haralyzer__cnn.har",
        "harviewer__ie11.fiddler.har",
        "harviewer__issue-49-chrome51.har",
        "harviewer__jsonp.har",
        "harviewer__multiple-pages.har",
        "mitmproxy__charles.har",
        "mitmproxy__chrome.har",
        "mitmproxy__firefox.har",
        "mitmproxy__insomnia.har",
        "mitmproxy__postdata.har",
        "mitmproxy__safari.har",
        "mitmproxy__successful_log.har",
        "mitmproxy__with-bom.har",
        "pagexray__304.har",
        "pagexray__http1.1-firefox.har",
        "pagexray__www.etat.lu.har",
        "playwright__har-redirect.har",
        "playwright__har-sha1.har",
    ]
}

#[test]
fn weights_sum_to_one_and_counts_add_up_on_every_fixture() {
    let dir = tempfile::tempdir().unwrap();
    for name in fixture_names() {
        let m = model_of(&[fixture(dir.path(), name)], &FilterArgs::default());
        let sum: f64 = m.endpoints.iter().map(|e| e.weight).sum();
        assert!((sum - 1.0).abs() < 1e-9, "{name}: weights sum to {sum}");
        let counts: u64 = m.endpoints.iter().map(|e| e.count).sum();
        assert_eq!(counts, m.requests(), "{name}");
        assert_eq!(m.source.kept, m.requests(), "{name}");
        assert!(
            m.endpoints.windows(2).all(|w| w[0].count >= w[1].count),
            "{name}: endpoints sorted by count"
        );
        for e in &m.endpoints {
            assert!(
                (e.weight - e.count as f64 / counts as f64).abs() < 1e-12,
                "{name}"
            );
            assert!(e.template.starts_with('/'), "{name}: {}", e.template);
        }
    }
}

#[test]
fn several_captures_merge_into_one_model() {
    let dir = tempfile::tempdir().unwrap();
    let a = fixture(dir.path(), "pagexray__www.etat.lu.har");
    let b = fixture(dir.path(), "mitmproxy__firefox.har");
    let ma = model_of(std::slice::from_ref(&a), &FilterArgs::default());
    let mb = model_of(std::slice::from_ref(&b), &FilterArgs::default());
    let m = model_of(&[a, b], &FilterArgs::default());
    assert_eq!(m.requests(), ma.requests() + mb.requests());
    assert_eq!(m.source.files.len(), 2);
    let both: BTreeSet<String> = keys(&ma).union(&keys(&mb)).cloned().collect();
    assert_eq!(keys(&m), both);
    let sum: f64 = m.endpoints.iter().map(|e| e.weight).sum();
    assert!((sum - 1.0).abs() < 1e-9);
}

#[test]
fn pools_stay_bounded_with_100k_distinct_ids() {
    let dir = tempfile::tempdir().unwrap();
    // Written compactly by hand: 100k entries of the smallest HAR shape.
    let mut doc = String::with_capacity(20 << 20);
    doc.push_str(r#"{"log":{"version":"1.2","entries":["#);
    for i in 0..100_000u64 {
        let url = if i % 2 == 0 {
            format!(
                "http://shop.example/items/{}?ref=r{i}&page={}",
                10_000_000 + i,
                i % 7
            )
        } else {
            format!("http://shop.example/u/user-{i}/profile")
        };
        if i > 0 {
            doc.push(',');
        }
        doc.push_str(&format!(
            r#"{{"startedDateTime":"2024-01-01T00:00:{:02}.{:03}Z","request":{{"method":"GET","url":"{url}","headers":[{{"name":"X-Request-Id","value":"req-{i}"}}]}},"response":{{"status":200}}}}"#,
            i / 2000,
            (i % 2000) / 2
        ));
    }
    doc.push_str("]}}");
    let har = dir.path().join("big.har");
    std::fs::write(&har, doc).unwrap();
    let out = dir.path().join("big.model.gz");
    replay_ok([
        "record".as_ref(),
        har.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
        "-q".as_ref(),
    ]);
    let size = std::fs::metadata(&out).unwrap().len();
    assert!(size < 64 * 1024, "model of 100k requests is {size} bytes");
    let m = file::load(&out).unwrap();
    assert_eq!(m.requests(), 100_000);
    let keys = keys(&m);
    assert_eq!(
        keys,
        BTreeSet::from([
            "GET shop.example/items/{id}".to_string(),
            "GET shop.example/u/{slug}/profile".to_string()
        ])
    );
    for e in &m.endpoints {
        let pools = e
            .path_params
            .iter()
            .chain(&e.query)
            .chain(&e.headers)
            .map(|p| &p.pool);
        for p in pools {
            assert!(p.values.len() <= 64, "{} values kept", p.values.len());
            assert_eq!(
                p.total(),
                e.count,
                "every observation is counted (listed + tail)"
            );
        }
    }
    let items = m
        .endpoints
        .iter()
        .find(|e| e.template == "/items/{id}")
        .unwrap();
    assert_eq!(
        items.path_params[0].pool.tail,
        TailType::IntRange {
            min: 10_000_000,
            max: 10_099_998
        }
    );
    let page = items.query.iter().find(|q| q.name == "page").unwrap();
    assert_eq!(
        page.pool.values.len(),
        7,
        "low-cardinality values are all kept"
    );
    // Drawn together: the ids, `ref` and `X-Request-Id` are open ranges,
    // left to their pools; the page is closed, so its seven values are the
    // seven recorded combinations, which cover every request.
    let joint = items.joint.as_ref().expect("recorded combinations");
    assert_eq!(joint.open.path, vec![true]);
    assert_eq!(joint.open.query, vec!["ref".to_string()]);
    assert_eq!(joint.open.headers, vec!["x-request-id".to_string()]);
    assert_eq!(joint.tuples.len(), 7, "{:?}", joint.tuples);
    assert_eq!(
        joint.tuples.iter().map(|t| t.count).sum::<u64>() + joint.tail_count,
        items.count
    );
}

/// A model file written by main before model format 3 (no recorded
/// combinations; fixtures/models/README): it loads, generates from its
/// pools as before, and is written again in the current version.
#[test]
fn a_version_2_model_from_main_still_loads_and_generates() {
    let dir = tempfile::tempdir().unwrap();
    let old = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/models/main-v2.model.gz");
    let doc: serde_json::Value = serde_json::from_str(&gunzip_text(&old)).unwrap();
    assert_eq!(doc["version"], 2);
    let m = file::load(&old).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.endpoints.len(), 12);
    assert_eq!(m.requests(), 26);
    assert!(m.endpoints.iter().all(|e| e.joint.is_none()));
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(2);
    for _ in 0..200 {
        let r = replay::generate::generate(&m, &mut rng);
        let e = &m.endpoints[r.endpoint];
        assert_eq!(r.method, e.method);
        assert!(r.path.starts_with('/'), "{}", r.path);
    }
    let out = replay_ok([
        "generate".as_ref(),
        old.as_os_str(),
        "-n".as_ref(),
        "20".as_ref(),
        "--seed".as_ref(),
        "1".as_ref(),
    ]);
    assert_eq!(out.lines().count(), 20);
    // inspect reads it; without combinations every slot is drawn alone.
    let doc = inspect_json(&old, &[]);
    let slug = doc["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["template"] == "/{slug}")
        .expect("main merged the Firefox files into /{slug}");
    assert_eq!(slug["path_params"][0]["open"], true);
    assert_eq!(slug["joint"], serde_json::Value::Null);
    // Saved again in the current version, equal once loaded.
    let p = dir.path().join("again.model.gz");
    file::save(&m, &p).unwrap();
    let again: serde_json::Value = serde_json::from_str(&gunzip_text(&p)).unwrap();
    assert_eq!(again["version"], file::VERSION);
    assert_eq!(file::load(&p).unwrap(), m);
}

const SECRETS: &[&str] = &[
    "Bearer-s3cr3t-TOKEN-9f8e7d",
    "sid=c00kie-VALUE-1234",
    "qs-tok-ABCDEF123",
    "k3y-QUERY-5678",
    "hunter2-FORM-pw",
    "hunter3-JSON-pw",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "xapikey-HEADER-4242",
];

fn secret_har(dir: &std::path::Path) -> PathBuf {
    let mut es = Vec::new();
    for i in 0..20u64 {
        let mut e = Entry::get(
            format!(
                "https://api.example.com/orders/{}?access_token={}&api_key={}&page={}",
                100 + i,
                SECRETS[2],
                SECRETS[3],
                i % 3
            ),
            i * 100,
        );
        e.headers.push(("Authorization".into(), SECRETS[0].into()));
        e.headers.push(("Cookie".into(), SECRETS[1].into()));
        e.headers.push(("X-Api-Key".into(), SECRETS[7].into()));
        es.push(e);
        let mut login = Entry::get("https://api.example.com/login", i * 100 + 10);
        login.method = "POST";
        login.post = Some((
            "application/x-www-form-urlencoded".into(),
            format!("user=bob&password={}", SECRETS[4]),
        ));
        es.push(login);
        let mut json = Entry::get("https://api.example.com/api/session", i * 100 + 20);
        json.method = "POST";
        json.post = Some((
            "application/json".into(),
            format!(
                r#"{{"user":"bob","password":"{}","note":"{}","n":{i}}}"#,
                SECRETS[5], SECRETS[6]
            ),
        ));
        es.push(json);
    }
    write_har(dir, "secrets.har", &es)
}

#[test]
fn secrets_are_scrubbed_everywhere_unless_kept() {
    let dir = tempfile::tempdir().unwrap();
    let har = secret_har(dir.path());
    let model = dir.path().join("m.model.gz");
    replay_ok([
        "record".as_ref(),
        har.as_os_str(),
        "-o".as_ref(),
        model.as_os_str(),
    ]);
    let model_text = gunzip_text(&model);
    let generated = replay_ok([
        "generate".as_ref(),
        model.as_os_str(),
        "-n".as_ref(),
        "300".as_ref(),
        "--seed".as_ref(),
        "3".as_ref(),
    ]);
    let inspected = replay_ok(["inspect".as_ref(), "--json".as_ref(), model.as_os_str()]);
    let table = replay_ok(["inspect".as_ref(), model.as_os_str()]);
    for s in SECRETS {
        for (what, text) in [
            ("model file", &model_text),
            ("generate output", &generated),
            ("inspect --json", &inspected),
            ("inspect table", &table),
        ] {
            assert!(!text.contains(s), "{s} leaked into the {what}");
        }
    }
    // Placeholders are listed by inspect and used by generate.
    let doc: serde_json::Value = serde_json::from_str(&inspected).unwrap();
    let names: BTreeSet<&str> = doc["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for n in [
        "authorization",
        "cookie",
        "x_api_key",
        "access_token",
        "api_key",
        "password",
    ] {
        assert!(names.contains(n), "{n} missing from {names:?}");
        assert!(
            table.contains(&format!("{{{{secret:{n}}}}}")),
            "{n} not in the table"
        );
    }
    assert!(doc["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["placeholder"].as_str().unwrap().starts_with("{{secret:")));
    assert_eq!(doc["scrubbed"], true);
    assert!(
        generated.contains("{{secret:authorization}}"),
        "{generated}"
    );
    assert!(generated.contains("access_token={{secret:access_token}}"));

    // --keep-secrets keeps them (so the scrub above is what removed them).
    let kept = dir.path().join("kept.model.gz");
    replay_ok([
        "record".as_ref(),
        har.as_os_str(),
        "-o".as_ref(),
        kept.as_os_str(),
        "--keep-secrets".as_ref(),
    ]);
    let kept_text = gunzip_text(&kept);
    let kept_gen = replay_ok([
        "generate".as_ref(),
        kept.as_os_str(),
        "-n".as_ref(),
        "300".as_ref(),
        "--seed".as_ref(),
        "3".as_ref(),
    ]);
    for s in [SECRETS[0], SECRETS[2], SECRETS[4], SECRETS[7]] {
        assert!(kept_text.contains(s), "--keep-secrets lost {s}");
        assert!(
            kept_gen.contains(s) || kept_gen.contains(&s.replace('=', "%3D")),
            "--keep-secrets: {s} not generated"
        );
    }
    let kept_doc = inspect_json(&kept, &[]);
    assert_eq!(kept_doc["scrubbed"], false);
    assert_eq!(kept_doc["secrets"].as_array().unwrap().len(), 0);
}

#[test]
fn real_cookies_and_authorization_never_reach_the_model() {
    // The fixtures carry real (old) cookies and tokens.
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for name in fixture_names() {
        let path = fixture(dir.path(), name);
        let raw = std::fs::read_to_string(&path).unwrap();
        let start = raw.find('{').unwrap();
        let mut de = serde_json::Deserializer::from_str(&raw[start..]);
        let doc: serde_json::Value = serde::Deserialize::deserialize(&mut de).unwrap();
        let mut values = BTreeSet::new();
        for e in doc["log"]["entries"].as_array().unwrap() {
            for h in e["request"]["headers"].as_array().into_iter().flatten() {
                let n = h["name"].as_str().unwrap_or("").to_ascii_lowercase();
                let v = h["value"].as_str().unwrap_or("");
                if (n == "cookie" || n == "authorization") && v.len() >= 12 {
                    values.insert(v.to_string());
                }
            }
        }
        if values.is_empty() {
            continue;
        }
        let out = dir.path().join(format!("{name}.model.gz"));
        replay_ok([
            "record".as_ref(),
            path.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
            "-q".as_ref(),
        ]);
        let text = gunzip_text(&out);
        for v in &values {
            checked += 1;
            assert!(
                !text.contains(v.as_str()),
                "{name}: a recorded Cookie/Authorization value is in the model"
            );
        }
    }
    assert!(
        checked >= 4,
        "only {checked} real secret values were checked"
    );
}

#[test]
fn model_file_round_trips_equal_and_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let inputs: Vec<Vec<PathBuf>> = vec![
        vec![fixture(dir.path(), "pagexray__304.har")],
        vec![fixture(dir.path(), "harviewer__multiple-pages.har")],
        vec![secret_har(dir.path())],
        vec![
            synthetic_families(dir.path()),
            fixture(dir.path(), "mitmproxy__safari.har"),
        ],
    ];
    for (i, captures) in inputs.iter().enumerate() {
        let m = model_of(captures, &FilterArgs::default());
        let p = dir.path().join(format!("rt{i}.model.gz"));
        file::save(&m, &p).unwrap();
        let loaded = file::load(&p).unwrap_or_else(|e| panic!("{captures:?}: {e}"));
        assert_eq!(loaded, m, "{captures:?}: load(save(m)) == m");
        let again = file::to_bytes(&loaded);
        assert_eq!(
            again,
            std::fs::read(&p).unwrap(),
            "{captures:?}: re-save is byte-identical"
        );
        // The header names the format and version.
        let doc: serde_json::Value = serde_json::from_str(&gunzip_text(&p)).unwrap();
        assert_eq!(doc["format"], file::FORMAT);
        assert_eq!(doc["version"], file::VERSION);
    }
}

#[test]
fn a_model_from_another_version_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let m = model_of(
        &[fixture(dir.path(), "mitmproxy__charles.har")],
        &FilterArgs::default(),
    );
    let text = String::from_utf8({
        let mut v = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&file::to_bytes(&m)[..]),
            &mut v,
        )
        .unwrap();
        v
    })
    .unwrap();
    // The version after this build's.
    let next = file::VERSION + 1;
    let v2 = text.replacen(
        &format!("\"version\":{}", file::VERSION),
        &format!("\"version\":{next}"),
        1,
    );
    assert_ne!(v2, text);
    let p = dir.path().join("v2.model.gz");
    std::fs::write(&p, file::gzip(v2.as_bytes())).unwrap();
    let o = replay(["inspect".as_ref(), p.as_os_str()]);
    assert_eq!(o.code, Some(2));
    let err = o.stderr.clone();
    assert!(
        err.contains("v2.model.gz") && err.contains(&format!("version {next}")),
        "{err}"
    );
}
