//! The command line that reproduces a run: what the user typed, with the
//! seed and thread count the plan chose, and secret values redacted —
//! it goes into the text report and the summary file (CI logs and
//! artifacts), where a secret must not.

use super::options::RunOptions;

/// The command line that reproduces this run, seed included.
/// Values of `--secret` and of credential headers (`-H 'Authorization: …'`)
/// are replaced by [`REDACTED`]: the command goes into the text report and
/// the summary file (CI logs and artifacts), where a secret must not.
pub fn reproduce(options: &RunOptions, seed: u64, threads: usize) -> String {
    let mut parts: Vec<String> = redact_secrets(options.command_line.iter().cloned())
        .iter()
        .map(|a| shell_quote(a))
        .collect();
    if options.seed.is_none() {
        parts.push(format!("--seed {seed}"));
    }
    // Each request draws from its own stream, but produced values are
    // kept per load thread: a stateful run depends on the split.
    if options.threads.is_none() && threads > 1 {
        parts.push(format!("--threads {threads}"));
    }
    parts.join(" ")
}

/// What stands for a secret value in the reproduce command.
const REDACTED: &str = "REDACTED";

fn redact_secrets(args: impl IntoIterator<Item = String>) -> Vec<String> {
    fn secret(v: &str) -> String {
        match v.split_once('=') {
            Some((name, _)) => format!("{name}={REDACTED}"),
            None => REDACTED.to_string(),
        }
    }
    fn header(v: &str) -> String {
        match v.split_once(':') {
            Some((name, _)) if crate::model::scrub::is_secret_header(name.trim()) => {
                format!("{name}: {REDACTED}")
            }
            _ => v.to_string(),
        }
    }
    let mut out = Vec::new();
    let mut next: Option<fn(&str) -> String> = None;
    for a in args {
        if let Some(f) = next.take() {
            out.push(f(&a));
            continue;
        }
        let redacted = if let Some(v) = a.strip_prefix("--secret=") {
            format!("--secret={}", secret(v))
        } else if let Some(v) = a.strip_prefix("--header=") {
            format!("--header={}", header(v))
        } else if let Some(v) = a.strip_prefix("-H").filter(|v| !v.is_empty()) {
            format!("-H{}", header(v))
        } else {
            match a.as_str() {
                "--secret" => next = Some(secret),
                "-H" | "--header" => next = Some(header),
                _ => {}
            }
            a
        };
        out.push(redacted);
    }
    out
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_from_the_reproduce_command() {
        let args = [
            "replay",
            "m.gz",
            "--secret",
            "token=s3cr3t",
            "--secret=api_key=k3y",
            "-H",
            "Authorization: Bearer t0k",
            "-HX-Api-Key: xk",
            "--header=Cookie: sid=c00kie",
            "-H",
            "Accept: text/plain",
            "--target",
            "http://127.0.0.1:1",
        ];
        let out = redact_secrets(args.iter().map(|s| s.to_string()));
        assert_eq!(
            out,
            [
                "replay",
                "m.gz",
                "--secret",
                "token=REDACTED",
                "--secret=api_key=REDACTED",
                "-H",
                "Authorization: REDACTED",
                "-HX-Api-Key: REDACTED",
                "--header=Cookie: REDACTED",
                "-H",
                "Accept: text/plain",
                "--target",
                "http://127.0.0.1:1",
            ]
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
