//! The CI examples (issue 10): they parse as YAML and run what the docs
//! say — thresholds, `--baseline` when a baseline exists, the JUnit report
//! handed to the CI system's test reporter. (Whether the flags they use
//! exist is the README's test: every flag there is checked against
//! `--help`; these files use only flags the README names.)

use std::path::Path;

use yaml_rust2::YamlLoader;

fn example(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/ci")
            .join(name),
    )
    .unwrap()
}

#[test]
fn the_ci_examples_gate_on_thresholds_baseline_and_junit() {
    for name in ["github-actions.yml", "gitlab-ci.yml"] {
        let text = example(name);
        let docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(docs.len(), 1, "{name}");
        for needle in [
            "--baseline",
            "--out junit=replay-junit.xml",
            "--threshold",
            "--summary-export",
        ] {
            assert!(text.contains(needle), "{name} lacks {needle}");
        }
    }
    let gitlab = &YamlLoader::load_from_str(&example("gitlab-ci.yml")).unwrap()[0];
    assert_eq!(
        gitlab["replay"]["artifacts"]["reports"]["junit"].as_str(),
        Some("replay-junit.xml")
    );
    let github = &YamlLoader::load_from_str(&example("github-actions.yml")).unwrap()[0];
    let steps = github["jobs"]["replay"]["steps"].as_vec().unwrap();
    assert!(steps
        .iter()
        .any(|s| s["with"]["report_paths"].as_str() == Some("replay-junit.xml")));
}
