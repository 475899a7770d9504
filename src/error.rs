//! ferry's errors as the command line reports them, each with its exit status.
//!
//! How a run on hosts ended becomes one of these in one place only,
//! [`Verdict::error`](crate::report::Verdict::error), which the recap's
//! last line and the JSON recap's `exit_code` are derived from too.

use crate::diagnostic::Diagnostic;

/// Why a command did not succeed. `main` prints it once and exits with
/// [`Error::exit_code`], as DESIGN.md's exit statuses say.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: playbook, inventory, arguments (exit 2).
    #[error("{0}")]
    Input(#[from] Diagnostic),
    /// One or more hosts failed (exit 1).
    #[error("{0}")]
    Failed(String),
    /// Could not start: lock held, no host reachable (exit 3).
    #[error("{0}")]
    CannotStart(String),
    /// Ctrl-C stopped the run (exit 130, as for any command killed by SIGINT).
    #[error("{0}")]
    Interrupted(String),
}

impl Error {
    /// The process's exit status for this error (DESIGN.md: 1 a host
    /// failed, 2 bad input, 3 could not start).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input(_) => 2,
            Error::Failed(_) => 1,
            Error::CannotStart(_) => 3,
            Error::Interrupted(_) => 130,
        }
    }
}
