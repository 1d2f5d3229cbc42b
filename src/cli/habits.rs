//! Habits users bring from other load testers, met before clap sees the
//! command line: a mistyped subcommand gets "did you mean", and the flags
//! of k6, oha and vegeta that mean something else here (or nothing) get
//! a sentence naming replay's own flag instead of clap's generic
//! "unexpected argument" and its misleading "use '-- -c'" tip.
//!
//! The aliases themselves (`-c`, `-d`, `-z`) are clap's (`args.rs`); what
//! is here is what an alias cannot say.

use std::ffi::OsString;
use std::path::Path;

use clap::error::{ContextKind, ContextValue, ErrorKind};

use super::SUBCOMMANDS;

/// A flag from another tool that replay does not take, and what to write
/// instead.
const FOREIGN: &[(&[&str], &str)] = &[
    (
        &["--vus", "-u", "--max-vus"],
        "replay is an open-model load tester: it sends at a rate (--rate 100/s or --scale 2x) whatever the response times, not with a number of looping virtual users (k6 --vus). The nearest knob is --connections N, the cap on open connections",
    ),
    (
        &["-n", "--requests", "--iterations", "-i"],
        "replay sends at a rate for a duration, not a fixed number of requests (oha -n, k6 --iterations): for about N requests give --rate R and --duration N/R, e.g. -n 1000 is close to --rate 100/s --duration 10s",
    ),
];

/// The command line with `run` inserted where it is implied, or why it
/// cannot be run: a mistyped subcommand, or another tool's flag.
pub fn prepare(args: impl IntoIterator<Item = OsString>) -> Result<Vec<OsString>, String> {
    let mut v: Vec<OsString> = args.into_iter().collect();
    let Some(first) = v.get(1).map(|a| a.to_string_lossy().into_owned()) else {
        return Ok(v);
    };
    if ["-h", "--help", "-V", "--version"].contains(&first.as_str()) {
        return Ok(v);
    }
    if first.starts_with('-') {
        // Options first, as k6 and oha users type them: still a run.
        v.insert(1, OsString::from("run"));
    } else if !SUBCOMMANDS.contains(&first.as_str()) {
        if let Some(cmd) = mistyped_command(&first) {
            return Err(format!(
                "'{first}' is neither a command nor a file; did you mean 'replay {cmd}'?"
            ));
        }
        v.insert(1, OsString::from("run"));
    }
    if v[1] == "run" {
        check_run_flags(&v[2..])?;
    }
    Ok(v)
}

/// The subcommand `word` looks like a typo of, when it is not a file.
fn mistyped_command(word: &str) -> Option<&'static str> {
    if Path::new(word).exists() || word.contains(['.', '/', '\\']) {
        return None;
    }
    SUBCOMMANDS
        .iter()
        .copied()
        .filter(|c| *c != "help")
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, c)| c)
}

/// The run's flags that another tool's user types with another meaning.
fn check_run_flags(args: &[OsString]) -> Result<(), String> {
    let longs = run_long_options();
    for (i, a) in args.iter().enumerate() {
        let a = a.to_string_lossy();
        if a == "--" {
            break;
        }
        let flag = a.split('=').next().unwrap_or("");
        if let Some((_, hint)) = FOREIGN.iter().find(|(flags, _)| flags.contains(&flag)) {
            return Err(format!("{flag}: {hint}"));
        }
        // vegeta's and Go's single dash: `-rate=100` is not `-r -a -t -e`.
        if let Some(name) = flag.strip_prefix('-').filter(|n| !n.starts_with('-')) {
            if name.len() > 1 && longs.iter().any(|l| l == name) {
                return Err(format!(
                    "{flag}: replay's long options take two dashes: --{name}"
                ));
            }
        }
        let next = args.get(i + 1).map(|n| n.to_string_lossy());
        if a == "-q" {
            if let Some(n) = next.filter(|n| n.parse::<f64>().is_ok() && !Path::new(&**n).exists())
            {
                return Err(format!(
                    "-q is --quiet in replay, and '{n}' is no input file; for a rate of {n} requests per second (oha's -q) write --rate {n}/s"
                ));
            }
        }
    }
    Ok(())
}

/// The long options of `replay run`, without their dashes.
fn run_long_options() -> Vec<String> {
    use clap::CommandFactory;
    let cli = super::Cli::command();
    cli.find_subcommand("run")
        .map(|run| {
            run.get_arguments()
                .filter_map(|a| a.get_long().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A clap error rewritten where clap's own words mislead: an unknown
/// option gets no "use '-- -x'" tip (which makes it a positional input),
/// but the nearest option when there is one. `None`: clap's message
/// stands.
pub fn explain(e: &clap::Error) -> Option<String> {
    if e.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let text = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => v.first().cloned(),
        _ => None,
    };
    let arg = text(ContextKind::InvalidArg)?;
    let flag = arg.split('=').next().unwrap_or(&arg).to_string();
    let mut msg = format!("error: unknown option '{flag}'");
    if let Some(suggested) = text(ContextKind::SuggestedArg).filter(|s| s.starts_with('-')) {
        msg += &format!("; did you mean '{suggested}'?");
    }
    msg += "\n\nFor the options, try 'replay run --help' (or 'replay COMMAND --help').\n";
    Some(msg)
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn run_is_implied_and_typos_get_did_you_mean() {
        assert_eq!(
            prepare(args(&["replay", "x.har", "-c", "2"])).unwrap(),
            args(&["replay", "run", "x.har", "-c", "2"])
        );
        assert_eq!(
            prepare(args(&["replay", "inspect", "x.har"])).unwrap(),
            args(&["replay", "inspect", "x.har"])
        );
        let e = prepare(args(&["replay", "inspcet", "x.har"])).unwrap_err();
        assert!(e.contains("did you mean 'replay inspect'"), "{e}");
        let e = prepare(args(&["replay", "genrate", "m.gz"])).unwrap_err();
        assert!(e.contains("'replay generate'"), "{e}");
        // A file that is not there is the run's to report ("cannot read").
        assert!(prepare(args(&["replay", "capture"])).is_ok());
        assert_eq!(distance("inspcet", "inspect"), 2);
        assert_eq!(distance("", "run"), 3);
    }

    #[test]
    fn other_tools_flags_get_a_sentence() {
        for (a, needle) in [
            (&["replay", "x.har", "--vus", "10"][..], "--connections"),
            (&["replay", "run", "x.har", "--vus=10"], "open-model"),
            (
                &["replay", "x.har", "-n", "1000"],
                "--rate 100/s --duration 10s",
            ),
            (&["replay", "x.har", "-q", "100"], "--rate 100/s"),
            (&["replay", "x.har", "-rate=100/s"], "two dashes: --rate"),
            (
                &["replay", "x.har", "-duration", "5s"],
                "two dashes: --duration",
            ),
        ] {
            let e = prepare(args(a)).unwrap_err();
            assert!(e.contains(needle), "{a:?}: {e}");
        }
        let e = prepare(args(&["replay", "-q", "100", "x.har"])).unwrap_err();
        assert!(e.contains("--rate 100/s"), "{e}");
        assert_eq!(
            prepare(args(&["replay", "-c", "2", "x.har"])).unwrap(),
            args(&["replay", "run", "-c", "2", "x.har"])
        );
        // -q before a file is --quiet; generate keeps its -n.
        assert!(prepare(args(&["replay", "x.har", "-q"])).is_ok());
        assert!(prepare(args(&["replay", "generate", "m.gz", "-n", "5"])).is_ok());
    }
}
