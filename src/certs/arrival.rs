//! One host at a `certs` step, and how the step runs commands there: over
//! the host's SSH session, through sudo when the task has `become`, with
//! any content (keys, challenge responses) on stdin, never on a command
//! line.

use crate::modules::CertsSpec;
use crate::shell::Command;
use crate::transport::Session;

/// One host at a `certs` step.
pub struct Arrival {
    pub host: String,
    pub session: Session,
    pub spec: CertsSpec,
    /// `become`: the step's commands run through sudo as this user.
    pub become_user: Option<String>,
    /// sudo's password on this host, if it is given one.
    pub become_password: Option<String>,
}

/// Runs a command on an arrival's host (through sudo with `become`),
/// failing with its stderr.
pub(super) async fn run(
    a: &Arrival,
    command: &Command,
    stdin: Option<Vec<u8>>,
) -> Result<String, String> {
    match exec(a, command, stdin).await? {
        (stdout, _, true) => Ok(stdout),
        (_, stderr, false) => Err(stderr.trim().to_string()),
    }
}

/// Runs a command on an arrival's host: its stdout, its stderr and whether
/// it succeeded (certbot's report is in both streams).
pub(super) async fn exec(
    a: &Arrival,
    command: &Command,
    stdin: Option<Vec<u8>>,
) -> Result<(String, String, bool), String> {
    let stdin = stdin.map(crate::transport::stdin_from);
    let (command, stdin) = match (&a.become_user, &a.become_password) {
        (Some(user), Some(password)) => (
            command
                .clone()
                .become_user_asking(user)
                .reading_become_password(),
            Some(crate::transport::with_first_line(password, stdin)),
        ),
        (Some(user), None) => (command.clone().become_user(user), stdin),
        (None, _) => (command.clone(), stdin),
    };
    let out = a
        .session
        .exec(command.as_sent(), stdin, &mut |_, _| {})
        .await
        .map_err(|e| e.to_string())?;
    Ok((
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.success(),
    ))
}
