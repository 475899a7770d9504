//! ferry's errors as the command line reports them, each with its exit status.

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
    #[error("interrupted: {0}")]
    Interrupted(String),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input(_) => 2,
            Error::Failed(_) => 1,
            Error::CannotStart(_) => 3,
            Error::Interrupted(_) => 130,
        }
    }
}
