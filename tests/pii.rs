//! Personal data in captures (issue 14): card numbers, e-mail addresses,
//! phone numbers, IP addresses, IBANs and named personal fields, in URLs,
//! query strings, form and JSON bodies (nested, in arrays), headers and
//! response bodies, recorded from a HAR and from a pcap. None of the
//! originals reaches the model file, `generate`'s output, the mock's
//! answers or a report; the same original has the same look-alike
//! everywhere; ordinary ids, timestamps, UUIDs and prices stay as they are.

mod support;

use std::path::Path;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use replay::mock::{self, LatencyMode, MockOptions};
use replay::model::pii::luhn_valid;
use support::bin::{inspect_json, replay, Replay};
use support::gunzip_text;
use support::har::{write_har, Entry};

/// Every original the captures carry, as written and as the encodings the
/// captures use write it.
const ORIGINALS: &[&str] = &[
    "alice@corp.example",
    "alice%40corp.example",
    "bob@corp.example",
    "carol@corp.example",
    "dave@corp.example",
    "erin@corp.example",
    "4111111111111111",
    "4111-1111-1111-1111",
    "5555 5555 5555 4444",
    "5555555555554444",
    "378282246310005",
    "+14155552671",
    "14155552671",
    "(415) 555-2671",
    "4155552671",
    "+44 20 7946 0958",
    "203.0.113.7",
    "198.51.100.23",
    "2a00:1450:4001:82b::200e",
    "DE89370400440532013000",
    "GB82 WEST 1234 5698 7654 32",
    "GB82WEST12345698765432",
    "Alice",
    "Smith",
    "219-09-9999",
    "1984-07-02",
    "Rue de Rivoli",
];

/// The response that hands Alice's data back (kept for the mock).
const PROFILE: &str = r#"{"id":77,"email":"alice@corp.example","card":"5555 5555 5555 4444","phone":"+44 20 7946 0958","created":1700000000000}"#;

const CUSTOMERS: &str = r#"{"customers":[{"email":"alice@corp.example","contacts":[{"phone":"(415) 555-2671"},{"phone":"4155552671"}],"address":"12 Rue de Rivoli, Paris","ip":"2a00:1450:4001:82b::200e","iban":"GB82 WEST 1234 5698 7654 32","dob":"1984-07-02","cards":[378282246310005]}],"id":42,"created":1700000000000,"uuid":"550e8400-e29b-41d4-a716-446655440000","price":19.99,"at":"2024-03-01T12:00:00Z","notes":{"bob@corp.example":"vip"}}"#;

const PAYMENT: &str = "card=4111-1111-1111-1111&first_name=Alice&last_name=Smith&ssn=219-09-9999&iban=DE89370400440532013000&amount=19.99";

/// Requests carrying each kind, five rounds of them.
fn entries() -> Vec<Entry> {
    let mut out = Vec::new();
    for round in 0..5u64 {
        let at = round * 1000;
        let mut profile = Entry::get(
            "http://shop.test/users/alice%40corp.example/profile?email=bob@corp.example&phone=%2B14155552671",
            at,
        );
        profile
            .headers
            .push(("X-Forwarded-For".into(), "203.0.113.7".into()));
        profile
            .headers
            .push(("X-User-Email".into(), "dave@corp.example".into()));
        profile.response = Some(PROFILE.into());
        out.push(profile);
        let mut pay = Entry::get("http://shop.test/payments", at + 100);
        pay.method = "POST";
        pay.post = Some(("application/x-www-form-urlencoded".into(), PAYMENT.into()));
        out.push(pay);
        let mut customers = Entry::post_json("http://shop.test/customers", at + 200, CUSTOMERS);
        customers
            .headers
            .push(("From".into(), "erin@corp.example".into()));
        customers.response = Some(r#"{"contact":"carol@corp.example"}"#.into());
        out.push(customers);
        out.push(Entry::get(
            "http://shop.test/cards/4111111111111111",
            at + 300,
        ));
        out.push(Entry::get(
            "http://shop.test/accounts/GB82WEST12345698765432?ip=203.0.113.7&host=198.51.100.23",
            at + 400,
        ));
    }
    out
}

fn assert_clean(what: &str, text: &str) {
    for o in ORIGINALS {
        assert!(!text.contains(o), "{what} carries {o}:\n{text}");
    }
}

/// `userNNNNNNNN` of the look-alike of alice@corp.example, from the
/// model's JSON body of POST /customers.
fn alice(model: &serde_json::Value) -> String {
    let e = model["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["template"] == "/customers")
        .unwrap();
    let email = e["body"]["skeleton"]["customers"][0]["email"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", e["body"]));
    assert!(email.ends_with("@example.test"), "{email}");
    email.trim_end_matches("@example.test").to_string()
}

/// Card-like runs (13–19 digits, spaces or dashes between, not inside a
/// word or an IBAN) in `text`.
fn card_runs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev = ' ';
    let mut word = false;
    for c in text.chars().chain(std::iter::once('x')) {
        if cur.is_empty() && c.is_ascii_digit() {
            word = prev.is_ascii_alphanumeric() || prev == ' ';
        }
        prev = c;
        if c.is_ascii_digit() || ((c == ' ' || c == '-') && !cur.is_empty()) {
            cur.push(c);
        } else if word {
            cur.clear();
        } else {
            let t = cur.trim_end_matches([' ', '-']).to_string();
            let digits = t.chars().filter(char::is_ascii_digit).count();
            if (13..=19).contains(&digits) && t.starts_with(['3', '4', '5']) {
                out.push(t);
            }
            cur.clear();
        }
    }
    out
}

async fn mock_bodies(model_path: &Path) -> Vec<String> {
    let model = replay::model::file::load(model_path).unwrap();
    let opts = MockOptions {
        latency: LatencyMode::None,
        seed: 1,
    };
    let handle = mock::spawn(&model, opts).await.unwrap();
    let c = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut bodies = Vec::new();
    for e in &model.endpoints {
        let path: String = e
            .segments
            .iter()
            .map(|s| match s {
                replay::model::Segment::Literal(l) => format!("/{l}"),
                replay::model::Segment::Slot { .. } => "/x".to_string(),
            })
            .collect();
        let req = hyper::Request::builder()
            .method(e.method.as_str())
            .uri(format!("{}{path}", handle.url()))
            .body(Empty::new())
            .unwrap();
        let resp = c.request(req).await.unwrap();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        bodies.push(String::from_utf8_lossy(&body).into_owned());
    }
    handle.shutdown().await.unwrap();
    bodies
}

/// Records `capture`, then checks the model, `inspect`, `generate`, the
/// mock and a run's summary.
async fn check_capture(dir: &Path, capture: &Path) {
    let model = dir.join("m.model.gz");
    let r = replay([
        "record",
        capture.to_str().unwrap(),
        "-o",
        model.to_str().unwrap(),
    ]);
    assert_eq!(r.code, Some(0), "{}", r.output());
    assert_clean("record's summary", &r.output());
    assert!(
        r.stderr.contains("replaced personal data with look-alikes"),
        "{}",
        r.stderr
    );
    let text = gunzip_text(&model);
    assert_clean("the model file", &text);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let counts = &v["source"]["pii"];
    for kind in ["card", "email", "phone", "ip", "iban", "field"] {
        assert!(counts[kind].as_u64().unwrap_or(0) > 0, "{kind}: {counts}");
    }
    // One look-alike for Alice's address: the path (percent-encoded), the
    // JSON body of another endpoint and the response the mock serves.
    let user = alice(&v);
    assert!(text.contains(&format!("{user}%40example.test")), "{text}");

    let inspect = replay(["inspect", model.to_str().unwrap()]);
    assert_eq!(inspect.code, Some(0), "{}", inspect.output());
    assert_clean("inspect", &inspect.output());
    assert!(
        inspect.stdout.contains("e-mail addresses"),
        "{}",
        inspect.stdout
    );
    let j = inspect_json(&model, &[]);
    assert_clean("inspect --json", &j.to_string());
    assert_eq!(&j["pii"], counts);
    assert_clean(
        "inspect of the capture",
        &inspect_json(capture, &["--top", "50"]).to_string(),
    );

    let generated = replay([
        "generate",
        model.to_str().unwrap(),
        "-n",
        "300",
        "--seed",
        "3",
    ]);
    assert_eq!(generated.code, Some(0), "{}", generated.output());
    assert_clean("generate", &generated.output());
    let cards = card_runs(&generated.stdout);
    assert!(!cards.is_empty(), "{}", generated.stdout);
    for c in &cards {
        let line = generated.stdout.lines().find(|l| l.contains(c.as_str()));
        assert!(luhn_valid(c), "{c} fails Luhn: {line:?}");
    }

    let bodies = mock_bodies(&model).await;
    let all = bodies.join("\n");
    assert_clean("the mock's answers", &all);
    assert!(all.contains(&format!("{user}@example.test")), "{all}");

    let summary = dir.join("s.json");
    let run = Replay::new([
        model.to_str().unwrap(),
        "--duration",
        "1s",
        "--mock-latency",
        "none",
        "--summary-export",
        summary.to_str().unwrap(),
    ])
    .run();
    assert_eq!(run.code, Some(0), "{}", run.output());
    assert_clean("the run's output", &run.output());
    assert_clean(
        "the run's summary",
        &std::fs::read_to_string(&summary).unwrap(),
    );
}

#[tokio::test]
async fn a_har_with_personal_data_leaves_none_of_it_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let har = write_har(dir.path(), "pii.har", &entries());
    check_capture(dir.path(), &har).await;
}

#[tokio::test]
async fn a_pcap_with_personal_data_leaves_none_of_it_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("pii.pcap");
    std::fs::write(&pcap, support::pcap::http_pcap(&entries())).unwrap();
    check_capture(dir.path(), &pcap).await;
}

#[test]
fn keep_pii_keeps_it_and_pii_field_adds_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = Entry::get("http://shop.test/loyalty?member_code=ZX-9912&q=shoes", 0);
    e.headers
        .push(("X-User-Email".into(), "dave@corp.example".into()));
    let har = write_har(dir.path(), "p.har", &[e.clone(), Entry { at_ms: 100, ..e }]);
    let model = dir.path().join("m.model.gz");
    let m = model.to_str().unwrap();
    let r = replay(["record", har.to_str().unwrap(), "-o", m, "--keep-pii"]);
    assert_eq!(r.code, Some(0), "{}", r.output());
    assert!(r.stderr.contains("--keep-pii"), "{}", r.stderr);
    let text = gunzip_text(&model);
    assert!(text.contains("dave@corp.example") && text.contains("ZX-9912"));
    assert!(!text.contains("\"pii\""), "{text}");

    let r = replay([
        "record",
        har.to_str().unwrap(),
        "-o",
        m,
        "--pii-field",
        "memberCode",
    ]);
    assert_eq!(r.code, Some(0), "{}", r.output());
    let text = gunzip_text(&model);
    assert!(
        !text.contains("dave@corp.example") && !text.contains("ZX-9912"),
        "{text}"
    );
    assert!(text.contains("shoes"), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["source"]["pii"]["field"], 2, "{}", v["source"]);
    assert_eq!(v["source"]["pii"]["email"], 2, "{}", v["source"]);
}

/// Ids, timestamps, UUIDs, prices, versions and dates are not personal:
/// the model keeps them as recorded and finds nothing to replace.
#[test]
fn ordinary_values_are_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let values = [
        "42",
        "987654",
        "1700000000000",
        "1700000000123456",
        "550e8400-e29b-41d4-a716-446655440000",
        "19.99",
        "1299.5",
        "2024-03-01T12:00:00Z",
        "A-1001",
        "4111111111111112",
    ];
    let body = r#"{"items":[{"id":987654,"sku":"A-1001","price":1299.5,"uuid":"550e8400-e29b-41d4-a716-446655440000"}],"created":1700000000000,"at":"2024-03-01T12:00:00Z","ref":"4111111111111112"}"#;
    let entries: Vec<Entry> = (0..4u64)
        .flat_map(|i| {
            let mut get = Entry::get(
                "http://shop.test/orders/42?since=1700000000123456&ref=550e8400-e29b-41d4-a716-446655440000&price=19.99",
                i * 100,
            );
            get.headers.push((
                "User-Agent".into(),
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0.0.0 Safari/537.36".into(),
            ));
            [get, Entry::post_json("http://shop.test/orders", i * 100 + 50, body)]
        })
        .collect();
    let har = write_har(dir.path(), "plain.har", &entries);
    let model = dir.path().join("m.model.gz");
    let r = replay([
        "record",
        har.to_str().unwrap(),
        "-o",
        model.to_str().unwrap(),
    ]);
    assert_eq!(r.code, Some(0), "{}", r.output());
    assert!(r.stderr.contains("no personal data found"), "{}", r.stderr);
    let text = gunzip_text(&model);
    for v in values {
        assert!(text.contains(v), "{v} was replaced:\n{text}");
    }
    assert!(text.contains("Chrome/120.0.0.0"), "{text}");
    let j: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(j["source"]["pii"], serde_json::json!({}));
}

/// The look-alikes' key comes from the capture's bytes: recording the same
/// capture twice (or a copy of it) gives the same endpoints where paths
/// held personal data — so a re-recorded capture's runs compare with
/// `--baseline` and shards that each record it merge — while another
/// capture gets other look-alikes.
#[test]
fn recording_the_same_capture_again_gives_the_same_look_alikes() {
    let dir = tempfile::tempdir().unwrap();
    // An address as a path literal (a mirror's file, as cnn.com's player
    // path carries a version that reads as an IPv4 address): the template
    // itself holds the look-alike.
    let mut mine = entries();
    for round in 0..5u64 {
        mine.push(Entry::get(
            "http://shop.test/mirror/203.0.113.7/app.js",
            round * 1000 + 500,
        ));
    }
    let har = write_har(dir.path(), "pii.har", &mine);
    let copy = dir.path().join("copy.har");
    std::fs::copy(&har, &copy).unwrap();
    let mut other_entries = mine.clone();
    other_entries.push(Entry::get("http://shop.test/health", 5000));
    let other = write_har(dir.path(), "other.har", &other_entries);
    let templates = |capture: &Path, name: &str| -> Vec<String> {
        let model = dir.path().join(name);
        let r = replay([
            "record",
            capture.to_str().unwrap(),
            "-o",
            model.to_str().unwrap(),
        ]);
        assert_eq!(r.code, Some(0), "{}", r.output());
        let m: serde_json::Value = serde_json::from_str(&gunzip_text(&model)).unwrap();
        let mut t: Vec<String> = m["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| format!("{} {}", e["method"], e["template"]))
            .collect();
        t.sort();
        t
    };
    let first = templates(&har, "a.model.gz");
    let card = |t: &[String]| -> String {
        t.iter()
            .find(|e| e.contains("/mirror/"))
            .unwrap_or_else(|| panic!("{t:?}"))
            .clone()
    };
    assert!(
        card(&first).contains("/mirror/10.") && !card(&first).contains("203.0.113.7"),
        "{first:?}"
    );
    assert_eq!(templates(&har, "b.model.gz"), first);
    assert_eq!(templates(&copy, "c.model.gz"), first);
    let third = templates(&other, "d.model.gz");
    assert_ne!(card(&third), card(&first), "another capture, another key");
}
