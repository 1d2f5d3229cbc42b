//! Errors that end a command, and the exit codes they map to.
//!
//! The library's stages return typed errors ([`IngestError`],
//! [`ModelFileError`], [`UsageError`]); orchestration wraps them with
//! `anyhow` context. [`exit_code_for`] walks the chain once, at the top,
//! so no stage has to know about exit codes, and no library module needs
//! the command line to say "this one is the user's to fix".
//!
//! [`IngestError`]: crate::ingest::IngestError
//! [`ModelFileError`]: crate::model::file::ModelFileError

/// Every threshold passed (or the command succeeded).
pub const EXIT_OK: u8 = 0;
/// Any failure that is not the user's to fix.
pub const EXIT_FAILURE: u8 = 1;
/// Bad usage or unusable input.
pub const EXIT_USAGE: u8 = 2;
/// A threshold was crossed (as k6).
pub const EXIT_THRESHOLD: u8 = 99;
/// Ended by Ctrl-C or SIGTERM (128 + SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;

/// An error that is the user's to fix (a bad flag value, unusable input):
/// exit code 2. The message names the flag or file that fixes it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl UsageError {
    /// A usage error about one flag: `--target: 'x' has no host`.
    pub fn flag(flag: &str, message: impl std::fmt::Display) -> UsageError {
        UsageError(format!("{flag}: {message}"))
    }
}

/// Maps an error to the exit code: 2 for bad usage or unusable input, 1
/// for anything else.
pub fn exit_code_for(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if cause.is::<UsageError>()
            || cause.is::<crate::ingest::IngestError>()
            || cause.is::<crate::model::file::ModelFileError>()
        {
            return EXIT_USAGE;
        }
    }
    EXIT_FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_exit_2_wherever_they_sit_in_the_chain() {
        let e = anyhow::Error::from(UsageError::flag("--target", "no host"));
        assert_eq!(exit_code_for(&e), EXIT_USAGE);
        assert_eq!(e.to_string(), "--target: no host");
        let wrapped = e.context("cannot plan the run");
        assert_eq!(exit_code_for(&wrapped), EXIT_USAGE);
        assert_eq!(exit_code_for(&anyhow::anyhow!("disk full")), EXIT_FAILURE);
    }
}
