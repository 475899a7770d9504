//! ansible-playbook's `-u`, `-b`, `--become-user` and `--become-method`:
//! defaults for the plays that do not set these keywords themselves (a
//! play's keyword wins over the command line, and the inventory's
//! `ansible_user` over both, as in Ansible).

use super::Playbook;
use crate::diagnostic::{Diagnostic, Source, Span};
use crate::yaml::{Node, Value};

/// The command line's play defaults.
#[derive(Debug, Default, Clone)]
pub struct PlayDefaults {
    /// `-u/--user`: whom to connect as.
    pub user: Option<String>,
    /// `-b/--become`.
    pub escalate: bool,
    /// `--become-user`.
    pub become_user: Option<String>,
    /// `--become-method`: only `sudo`, which is how ferry escalates.
    pub become_method: Option<String>,
}

impl PlayDefaults {
    /// Sets each default on the plays that leave it unset.
    pub(crate) fn apply(&self, playbook: &mut Playbook) -> Result<(), Diagnostic> {
        if let Some(method) = self.become_method.as_deref().filter(|m| *m != "sudo") {
            return Err(Diagnostic::plain(format!(
                "`--become-method {method}` is not supported: ferry escalates with sudo"
            ))
            .with_help("leave it out, or write `--become-method sudo`"));
        }
        let given = Span::file_start(Source::new("<command line>", ""));
        for play in &mut playbook.plays {
            if play.remote_user.is_none()
                && let Some(user) = &self.user
            {
                play.remote_user = Some(Node {
                    value: Value::Str(user.clone()),
                    span: given.clone(),
                });
            }
            if self.escalate && play.escalate.is_none() {
                play.escalate = Some(true);
            }
            if play.become_user.is_none() {
                play.become_user.clone_from(&self.become_user);
            }
        }
        Ok(())
    }
}
