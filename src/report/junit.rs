//! `--out junit=FILE`: the run's verdicts as JUnit XML, the test report
//! Jenkins, GitLab and GitHub's test reporters read. One test case per
//! threshold (failing with the observed value), and the default guards in
//! a suite of their own, so the thresholds suite counts exactly the
//! thresholds that failed.

use std::fmt::Write as _;

use super::Summary;

/// A named verdict outside the thresholds (a default guard, a comparison
/// with a baseline): `None` when it held, else why it failed.
pub type Case = (String, Option<String>);

/// The JUnit document: a `thresholds` suite, then one suite per
/// `(name, cases)` in `extra` (empty suites left out).
pub fn render(s: &Summary, extra: &[(&str, Vec<Case>)]) -> String {
    let time = format!("{:.3}", s.duration_s.max(0.0));
    let thresholds: Vec<Case> = s
        .thresholds
        .iter()
        .map(|t| {
            let failure = (!t.ok).then(|| {
                let observed = t
                    .observed
                    .map_or_else(|| "no data".to_string(), |v| format!("{v:.3}"));
                format!("{}: observed {observed}, limit {}", t.series, t.condition)
            });
            (t.expr.clone(), failure)
        })
        .collect();
    let mut suites: Vec<(&str, &[Case])> = vec![("replay thresholds", &thresholds)];
    for (name, cases) in extra {
        if !cases.is_empty() {
            suites.push((name, cases));
        }
    }
    let total: usize = suites.iter().map(|(_, c)| c.len()).sum();
    let failed: usize = suites
        .iter()
        .map(|(_, c)| c.iter().filter(|c| c.1.is_some()).count())
        .sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"replay\" tests=\"{total}\" failures=\"{failed}\" errors=\"0\" time=\"{time}\">"
    );
    for (name, cases) in suites {
        suite(&mut x, s, name, cases, &time);
    }
    x.push_str("</testsuites>\n");
    x
}

fn suite(x: &mut String, s: &Summary, name: &str, cases: &[Case], time: &str) {
    let failed = cases.iter().filter(|c| c.1.is_some()).count();
    let _ = writeln!(
        x,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" skipped=\"0\" time=\"{time}\">",
        esc(name),
        cases.len()
    );
    x.push_str("    <properties>\n");
    for (k, v) in [
        ("seed", s.seed.to_string()),
        ("target", s.target.clone()),
        ("command", s.command.clone()),
        ("requests_sent", s.requests.sent.to_string()),
        ("requests_failed", s.requests.failed.to_string()),
    ] {
        let _ = writeln!(x, "      <property name=\"{k}\" value=\"{}\"/>", esc(&v));
    }
    x.push_str("    </properties>\n");
    for (case, failure) in cases {
        let _ = write!(
            x,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
            esc(name),
            esc(case)
        );
        match failure {
            None => x.push_str("/>\n"),
            Some(f) => {
                let _ = writeln!(
                    x,
                    ">\n      <failure message=\"{}\" type=\"threshold\">{}</failure>\n    </testcase>",
                    esc(f),
                    esc(f)
                );
            }
        }
    }
    x.push_str("  </testsuite>\n");
}

/// XML-escaped text for attributes and content; characters XML 1.0
/// cannot carry (control characters other than tab and newlines) become
/// U+FFFD.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_xml_cannot_carry() {
        assert_eq!(
            esc("p(95)<500 & \"x\" 'y' >"),
            "p(95)&lt;500 &amp; &quot;x&quot; &apos;y&apos; &gt;"
        );
        assert_eq!(esc("a\u{1}b\tc"), "a\u{FFFD}b\tc");
    }
}
