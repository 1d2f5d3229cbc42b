//! The command line: what the user typed (clap-derive structs, whose `///`
//! comments are the help text), and `run`, which reads like a table of
//! contents of the commands.
//!
//! Exit codes: 0 success (all thresholds pass), 99 a threshold was crossed,
//! 2 bad usage or unusable input, 1 any other failure.

mod args;
mod compare;
mod fidelity;
mod generate;
mod habits;
mod input;
mod inspect;
mod merge;
mod mock;
mod progress;
mod record;
mod report;
pub mod run;
mod terminal;

use std::ffi::OsString;

pub use crate::error::UsageError;
pub use args::{
    Cli, Command, FilterArgs, GenerateArgs, GenerateFormat, InspectArgs, MockArgs, RecordArgs,
    ReportFormat, RunArgs,
};
pub use input::{load_input, Input};

/// The subcommands; any other first argument is an input of the implied
/// `run` (`replay capture.har --scale 2x` is `replay run capture.har …`).
const SUBCOMMANDS: &[&str] = &[
    "record", "inspect", "generate", "run", "mock", "merge", "compare", "report", "fidelity",
    "help",
];

/// Why a command line was not parsed.
pub enum ParseError {
    /// clap's own: help and version (exit 0, stdout) and usage errors.
    Clap(clap::Error),
    /// A usage error in replay's words (exit 2).
    Usage(String),
}

/// Parses the process's arguments: `run` implied, other tools' habits
/// answered (`habits`), then clap.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Cli, ParseError> {
    use clap::Parser;
    let args = habits::prepare(args).map_err(|e| ParseError::Usage(format!("error: {e}\n")))?;
    Cli::try_parse_from(args).map_err(|e| match habits::explain(&e) {
        Some(msg) => ParseError::Usage(msg),
        None => ParseError::Clap(e),
    })
}

/// Runs a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Record(args) => record::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Run(args) => run::run(*args),
        Command::Mock(args) => mock::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Report(args) => report::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Fidelity(args) => fidelity::run(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// The implied `run` must know every subcommand, or a new one is
    /// taken for an input file.
    #[test]
    fn every_subcommand_is_known_to_the_implied_run() {
        let mut names: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .chain(["help".to_string()])
            .collect();
        let mut known: Vec<String> = SUBCOMMANDS.iter().map(|s| s.to_string()).collect();
        names.sort();
        known.sort();
        assert_eq!(names, known);
    }

    #[test]
    fn record_flags_parse() {
        let cli = Cli::try_parse_from([
            "replay",
            "record",
            "a.har",
            "b.pcap",
            "-o",
            "m.gz",
            "--include-host",
            "api.x",
            "--method",
            "GET",
            "--api-only",
            "--keep-secrets",
            "--keep-pii",
            "--pii-field",
            "member_code",
            "--pii-field",
            "nickname",
        ])
        .unwrap();
        match cli.command {
            Command::Record(r) => {
                assert_eq!(r.captures.len(), 2);
                assert!(r.filters.api_only && r.filters.keep_secrets && r.filters.keep_pii);
                assert_eq!(r.filters.pii_field, vec!["member_code", "nickname"]);
                assert_eq!(r.filters.method, vec!["GET"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            Cli::try_parse_from(["replay", "record", "a.har"]).is_err(),
            "-o is required"
        );
        assert!(
            Cli::try_parse_from(["replay", "generate", "m.gz", "--target", "ftp://x"]).is_err()
        );
    }

    #[test]
    fn mock_flags_parse() {
        let cli = Cli::try_parse_from(["replay", "mock", "m.gz"]).unwrap();
        match cli.command {
            Command::Mock(m) => {
                assert_eq!(m.listen, None);
                assert!(m.map.is_empty() && !m.map_all);
                assert_eq!(m.latency, crate::mock::LatencyMode::Recorded);
            }
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from([
            "replay",
            "mock",
            "m.gz",
            "--listen",
            "0.0.0.0:0",
            "--latency",
            "none",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Mock(m) if m.latency == crate::mock::LatencyMode::None
        ));
        assert!(Cli::try_parse_from(["replay", "mock", "m.gz", "--latency", "fast"]).is_err());
        assert!(Cli::try_parse_from(["replay", "mock", "m.gz", "--listen", "localhost"]).is_err());
        let cli = Cli::try_parse_from([
            "replay",
            "mock",
            "m.gz",
            "--map",
            "http://api.test=127.0.0.1:0",
            "--map",
            "app.test=9001",
            "--map-all",
        ])
        .unwrap();
        match cli.command {
            Command::Mock(m) => {
                let maps: Vec<String> = m.map.iter().map(|(o, a)| format!("{o} {a}")).collect();
                assert_eq!(
                    maps,
                    ["http://api.test 127.0.0.1:0", "app.test 127.0.0.1:9001"]
                );
                assert!(m.map_all);
            }
            other => panic!("{other:?}"),
        }
        for bad in ["http://api.test", "=127.0.0.1:1", "api.test=nowhere"] {
            assert!(
                Cli::try_parse_from(["replay", "mock", "m.gz", "--map", bad]).is_err(),
                "{bad}"
            );
        }
        for (typed, addr) in [
            ("9000", "127.0.0.1:9000"),
            (":9000", "127.0.0.1:9000"),
            ("localhost:9000", "127.0.0.1:9000"),
            ("[::1]:9000", "[::1]:9000"),
        ] {
            assert_eq!(args::parse_listen(typed).unwrap().to_string(), addr);
        }
    }
}
