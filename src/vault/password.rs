//! Where vault passwords come from, as ansible-playbook reads them.
//!
//! A source is a file whose text (stripped) is the password, an executable
//! whose stdout is (a "client" script, named `*-client` or `*-client.EXT`,
//! is given `--vault-id ID` as Ansible gives it), or `prompt`: the terminal,
//! without echo. `--vault-id` writes `[ID@]SOURCE`; the others' id is
//! `default`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::diagnostic::Diagnostic;

/// The password sources of a run, from the command line, the environment
/// and `ansible.cfg`.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `--vault-id [ID@]SOURCE`, and `vault_identity_list` of ansible.cfg.
    pub ids: Vec<String>,
    /// `--vault-password-file`, `$ANSIBLE_VAULT_PASSWORD_FILE`, or
    /// `vault_password_file` of ansible.cfg.
    pub files: Vec<PathBuf>,
    /// `--ask-vault-pass`.
    pub ask: bool,
}

/// One password and the vault id it was given for.
pub(crate) struct Key {
    pub(crate) id: String,
    pub(crate) password: String,
    /// Where it came from, for errors (never the password).
    from: String,
}

/// Every vault password of this run.
#[derive(Default)]
pub struct Keyring {
    keys: Vec<Key>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Sources {
    /// Reads every password the sources name.
    pub(crate) fn read(&self) -> Result<Keyring, Diagnostic> {
        let mut keys = Vec::new();
        let given = self.ids.iter().map(|id| match id.split_once('@') {
            Some((id, source)) => (id.to_string(), source.to_string()),
            None => ("default".to_string(), id.clone()),
        });
        let files = self
            .files
            .iter()
            .map(|f| ("default".to_string(), f.display().to_string()));
        let asked = self
            .ask
            .then(|| ("default".to_string(), "prompt".to_string()));
        for (id, source) in given.chain(files).chain(asked) {
            if keys.iter().any(|k: &Key| k.id == id && k.from == source) {
                continue;
            }
            let password = match source.as_str() {
                "prompt" | "prompt_ask_vault_pass" => ask(&id)?,
                path => from_file(Path::new(path), &id)?,
            };
            let from = match source.as_str() {
                "prompt" | "prompt_ask_vault_pass" => "the terminal".to_string(),
                path => path.to_string(),
            };
            keys.push(Key { id, password, from });
        }
        Ok(Keyring { keys })
    }
}

impl Keyring {
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys to try on an envelope of vault id `id`: that id's first.
    pub(crate) fn in_order(&self, id: Option<&str>) -> impl Iterator<Item = &Key> {
        let matching = self.keys.iter().filter(move |k| Some(k.id.as_str()) == id);
        let others = self.keys.iter().filter(move |k| Some(k.id.as_str()) != id);
        matching.chain(others)
    }

    /// Which passwords there are, by id and source (never the password).
    pub(crate) fn describe(&self) -> String {
        let keys: Vec<String> = self
            .keys
            .iter()
            .map(|k| format!("`{}` from `{}`", k.id, k.from))
            .collect();
        keys.join(", ")
    }
}

fn ask(id: &str) -> Result<String, Diagnostic> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err(Diagnostic::plain(
            "`--ask-vault-pass` needs a terminal to ask on: off one, give \
             `--vault-password-file FILE`",
        ));
    }
    let prompt = match id {
        "default" => "Vault password: ".to_string(),
        id => format!("Vault password ({id}): "),
    };
    let answer = rpassword::prompt_password(prompt)
        .map_err(|e| Diagnostic::plain(format!("cannot read the vault password: {e}")))?;
    Ok(answer)
}

/// The password in `path`: its text, or an executable's output, stripped
/// of surrounding whitespace as Ansible strips it.
fn from_file(path: &Path, id: &str) -> Result<String, Diagnostic> {
    let shown = path.display();
    let text = if is_executable(path) {
        // A bare name is a file here, not a program on PATH.
        let mut command = Command::new(Path::new(".").join(path));
        if is_client(path) {
            command.args(["--vault-id", id]);
        }
        let output = command.output().map_err(|e| {
            Diagnostic::plain(format!("cannot run vault password script `{shown}`: {e}"))
        })?;
        if !output.status.success() {
            return Err(Diagnostic::plain(format!(
                "vault password script `{shown}` failed ({})",
                output.status
            )));
        }
        String::from_utf8_lossy(&output.stdout).into_owned()
    } else {
        std::fs::read_to_string(path).map_err(|e| {
            Diagnostic::plain(format!("cannot read vault password file `{shown}`: {e}"))
        })?
    };
    let password = text.trim();
    if password.is_empty() {
        return Err(Diagnostic::plain(format!(
            "vault password file `{shown}` gives an empty password"
        )));
    }
    Ok(password.to_string())
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Ansible's vault client scripts: `NAME-client` or `NAME-client.EXT`.
fn is_client(path: &Path) -> bool {
    path.file_stem()
        .is_some_and(|stem| stem.to_string_lossy().ends_with("-client"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_scripts_and_ids_give_passwords() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("pw");
        std::fs::write(&plain, "  correct horse \n").unwrap();
        let script = dir.path().join("pw.sh");
        std::fs::write(&script, "#!/bin/sh\necho from-script\n").unwrap();
        let client = dir.path().join("vault-client.sh");
        std::fs::write(&client, "#!/bin/sh\necho \"$1 $2\"\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        for s in [&script, &client] {
            std::fs::set_permissions(s, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let sources = Sources {
            ids: vec![
                format!("prod@{}", script.display()),
                format!("stage@{}", client.display()),
            ],
            files: vec![plain.clone()],
            ask: false,
        };
        let keyring = sources.read().unwrap();
        let pairs: Vec<(&str, &str)> = keyring
            .keys
            .iter()
            .map(|k| (k.id.as_str(), k.password.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("prod", "from-script"),
                ("stage", "--vault-id stage"),
                ("default", "correct horse")
            ]
        );
        let order: Vec<&str> = keyring
            .in_order(Some("stage"))
            .map(|k| k.id.as_str())
            .collect();
        assert_eq!(order, ["stage", "prod", "default"]);
        assert!(!keyring.describe().contains("horse"));
    }

    #[test]
    fn an_empty_or_missing_password_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        for file in [empty, dir.path().join("missing")] {
            let sources = Sources {
                files: vec![file],
                ..Sources::default()
            };
            assert!(sources.read().is_err());
        }
    }
}
