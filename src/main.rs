//! The `replay` binary: parse, run, map the outcome to an exit code.

use std::io::Write;
use std::process::ExitCode;

use replay::cli::ParseError;

fn main() -> ExitCode {
    let cli = match replay::cli::parse(std::env::args_os()) {
        Ok(cli) => cli,
        Err(ParseError::Clap(e)) => {
            // Help and version go to stdout with exit 0; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
        Err(ParseError::Usage(message)) => {
            let _ = write!(std::io::stderr(), "{message}");
            return ExitCode::from(replay::error::EXIT_USAGE);
        }
    };
    match replay::cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // Not eprintln!: it panics when stderr cannot be written (a
            // closed pipe, a full disk), which would turn the exit code
            // into 101.
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            ExitCode::from(replay::error::exit_code_for(&e))
        }
    }
}
