//! The Kubernetes recipe (examples/k8s, issue 11). No cluster here: the
//! manifests are checked structurally (they parse; an Indexed Job whose
//! pods run the shard script with the fields a Job needs, a merge Job, a
//! shared volume), and simulate.sh — the Job's pods as local processes
//! with JOB_COMPLETION_INDEX set, then the merge — runs for real.

mod support;

use std::path::Path;
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

fn docs(name: &str) -> Vec<Yaml> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/k8s")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn kind<'a>(docs: &'a [Yaml], kind: &str) -> &'a Yaml {
    docs.iter()
        .find(|d| d["kind"].as_str() == Some(kind))
        .unwrap_or_else(|| panic!("no {kind}"))
}

fn env<'a>(container: &'a Yaml, name: &str) -> &'a str {
    container["env"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|e| e["name"].as_str() == Some(name))
        .and_then(|e| e["value"].as_str())
        .unwrap_or_else(|| panic!("no env {name}"))
}

#[test]
fn the_manifests_are_an_indexed_job_of_shards_and_a_merge_job() {
    let shards = docs("job.yaml");
    let job = kind(&shards, "Job");
    assert_eq!(job["apiVersion"].as_str(), Some("batch/v1"));
    assert!(job["metadata"]["name"].as_str().is_some());
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    let n = spec["completions"].as_i64().unwrap();
    assert_eq!(spec["parallelism"].as_i64(), Some(n), "all shards at once");
    let pod = &spec["template"]["spec"];
    assert!(matches!(
        pod["restartPolicy"].as_str(),
        Some("Never" | "OnFailure")
    ));
    let c = &pod["containers"][0];
    assert!(c["image"].as_str().is_some() && c["name"].as_str().is_some());
    assert_eq!(
        c["command"][0].as_str(),
        Some("/usr/local/bin/replay-shard")
    );
    assert_eq!(env(c, "SHARDS"), n.to_string(), "SHARDS is the Job's N");
    for var in ["SEED", "START_AT", "TARGET", "MODEL", "RESULTS"] {
        assert!(!env(c, var).is_empty(), "{var}");
    }
    // Every mount names a volume of the pod, and the results are shared.
    let volumes: Vec<&str> = pod["volumes"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    for m in c["volumeMounts"].as_vec().unwrap() {
        assert!(volumes.contains(&m["name"].as_str().unwrap()), "{m:?}");
    }
    let claim = kind(&shards, "PersistentVolumeClaim");
    assert!(claim["spec"]["accessModes"]
        .as_vec()
        .unwrap()
        .iter()
        .any(|m| m.as_str() == Some("ReadWriteMany")));

    let merge = docs("merge-job.yaml");
    let job = kind(&merge, "Job");
    assert_eq!(job["apiVersion"].as_str(), Some("batch/v1"));
    let args = job["spec"]["template"]["spec"]["containers"][0]["args"][0]
        .as_str()
        .unwrap();
    assert!(
        args.contains("replay merge") && args.contains(&format!("-of-{n}.json")),
        "{args}"
    );
    // The image has what the Job runs.
    let containerfile = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/k8s/Containerfile"),
    )
    .unwrap();
    assert!(
        containerfile.contains("/usr/local/bin/replay-shard")
            && containerfile.contains("/usr/local/bin/replay")
    );
}

#[test]
fn simulate_runs_the_shards_locally_and_merges_them() {
    let out = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/k8s/simulate.sh");
    for tool in ["bash", "date", "grep", "seq"] {
        if Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map_or(true, |o| !o.status.success())
        {
            support::skip(
                "simulate_runs_the_shards_locally_and_merges_them",
                &format!("{tool} is not installed"),
            );
            return;
        }
    }
    let run = Command::new("bash")
        .arg(&script)
        .env("REPLAY", env!("CARGO_BIN_EXE_replay"))
        .env("SHARDS", "3")
        .env("DURATION", "2s")
        .env("OUT", out.path())
        .env_remove("HTTPS_PROXY")
        .env_remove("HTTP_PROXY")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.status.success(), "{text}");
    let merged = support::read_json(&out.path().join("merged.json"));
    assert_eq!(
        merged["shards"],
        serde_json::json!(["1/3", "2/3", "3/3"]),
        "{text}"
    );
    let sent: u64 = (1..=3)
        .map(|k| {
            support::read_json(&out.path().join(format!("shard-{k}-of-3.json")))["requests"]["sent"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert!(sent > 0);
    assert_eq!(merged["requests"]["sent"].as_u64(), Some(sent));
}
