//! The HTML report (issue 10): one self-contained file — no script,
//! stylesheet, font or image fetched from anywhere — made from the
//! summary, so `replay report SUMMARY --html` gives the same page as
//! `run --out html=`; and it renders in a real browser (headless
//! Chromium, where installed; the test says so when it is not).

mod support;

use std::process::Command;

use support::bin::replay;
use support::har::{shop, write_har};
use support::server::{Behaviour, Server};

#[test]
fn the_html_report_is_self_contained_and_renders() {
    let dir = tempfile::tempdir().unwrap();
    let har = write_har(dir.path(), "shop.har", &shop(300, 10.0, false));
    let server = Server::start(Behaviour::default());
    let (html, summary) = (dir.path().join("r.html"), dir.path().join("s.json"));
    let run = replay([
        "run".as_ref(),
        har.as_os_str(),
        "--target".as_ref(),
        server.url().as_ref(),
        "--duration".as_ref(),
        "3s".as_ref(),
        "--seed".as_ref(),
        "2".as_ref(),
        "--quiet".as_ref(),
        "--threshold".as_ref(),
        "http_req_duration: p(95)<5s".as_ref(),
        "--summary-export".as_ref(),
        summary.as_os_str(),
        "--out".as_ref(),
        format!("html={}", html.display()).as_ref(),
    ]);
    assert_eq!(run.code, Some(0), "{}", run.output());
    let page = std::fs::read_to_string(&html).unwrap();
    for section in [
        "<h2>Thresholds</h2>",
        "<h2>Over time</h2>",
        "<h2>Latency distribution</h2>",
        "<h2>Endpoints</h2>",
        "GET /posts/{id}",
    ] {
        assert!(page.contains(section), "{section}");
    }
    assert!(page.matches("<svg").count() >= 4, "charts");
    // Nothing is fetched: no script, stylesheet link, image, frame, CSS
    // import or url(), and no attribute pointing anywhere.
    let lower = page.to_ascii_lowercase();
    for fetches in [
        "<script", "<link", "<img", "<iframe", "@import", "url(", " src=", " href=",
    ] {
        assert!(
            !lower.contains(fetches),
            "the report fetches something: {fetches}"
        );
    }
    // The same page from the saved summary.
    let again = dir.path().join("again.html");
    let r = replay([
        "report".as_ref(),
        summary.as_os_str(),
        "--html".as_ref(),
        again.as_os_str(),
    ]);
    assert_eq!(r.code, Some(0), "{}", r.output());
    assert_eq!(std::fs::read_to_string(&again).unwrap(), page);

    // In a real browser.
    let browser = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new("sh")
                .args(["-c", &format!("command -v {b}")])
                .output()
                .is_ok_and(|o| o.status.success())
        });
    let Some(browser) = browser else {
        support::skip(
            "the_html_report_is_self_contained_and_renders (browser part)",
            "no chromium installed (apt install chromium)",
        );
        return;
    };
    let shot = dir.path().join("shot.png");
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1200,2000",
        ])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    let png = std::fs::read(&shot).unwrap_or_else(|e| {
        panic!(
            "no screenshot ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    let dom = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("Latency distribution") && dom.contains("<polyline"),
        "{dom}"
    );
}
