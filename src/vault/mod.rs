//! Ansible Vault: `!vault` values and vault-encrypted files, opened with the
//! passwords given by `--vault-password-file`, `--ask-vault-pass`,
//! `--vault-id`, `$ANSIBLE_VAULT_PASSWORD_FILE` or `ansible.cfg`.
//!
//! Every text that vault opens is a secret: it is recorded ([`revealed`])
//! for the masker, which masks it in every output and refuses it on a
//! command line, and a variable whose value holds one is a secret variable
//! (so what is rendered from it is masked too). The passwords are read once,
//! before anything is parsed, and installed for the process ([`install`]):
//! YAML values and files are opened wherever they are read, so a wrong
//! password is an error at the value's file:line:col before any host is
//! touched.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

mod envelope;
mod password;

pub(crate) use envelope::is_vaulted;
pub use password::{Keyring, Sources};

use crate::diagnostic::{Diagnostic, Span};
use envelope::{Envelope, EnvelopeError};

/// The passwords of this run, once read.
static KEYRING: OnceLock<Keyring> = OnceLock::new();

/// Every text a vault password opened in this run.
static REVEALED: Mutex<Vec<String>> = Mutex::new(Vec::new());
static REVEALED_SET: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();

/// Reads the passwords `sources` name (asking on the terminal for
/// `--ask-vault-pass`), once per process: a command that compiles twice
/// asks once.
pub fn install(sources: &Sources) -> Result<(), Diagnostic> {
    if KEYRING.get().is_some() {
        return Ok(());
    }
    let keyring = sources.read()?;
    let _ = KEYRING.set(keyring);
    Ok(())
}

fn keyring() -> Option<&'static Keyring> {
    KEYRING.get().filter(|k| !k.is_empty())
}

/// The plaintext of a `!vault` value written at `span`.
pub(crate) fn open_value(ciphertext: &str, span: &Span) -> Result<String, Diagnostic> {
    let plain = open(ciphertext.as_bytes(), "this `!vault` value")
        .map_err(|(message, help)| with_help(Diagnostic::new(message, span.clone()), help))?;
    let text = String::from_utf8(plain).map_err(|_| {
        Diagnostic::new(
            "this `!vault` value does not decrypt to UTF-8 text",
            span.clone(),
        )
    })?;
    reveal(&text);
    Ok(text)
}

/// The plaintext of a file read from disk at `path`, if it is vaulted (else
/// `bytes` as they are). Its whole text is revealed, and a YAML document
/// parsed from it reveals each of its values (see [`is_revealed`]). An error
/// names the file (it has no line: the whole file is the ciphertext).
pub(crate) fn open_file(bytes: Vec<u8>, path: &std::path::Path) -> Result<Vec<u8>, Diagnostic> {
    if !is_vaulted(&bytes) {
        return Ok(bytes);
    }
    let what = format!("`{}`", path.display());
    let plain = open(&bytes, &what)
        .map_err(|(message, help)| with_help(Diagnostic::plain(message), help))?;
    match std::str::from_utf8(&plain) {
        Ok(text) => reveal(text),
        // A binary file (a `copy` source): masked as the text it is shown as.
        Err(_) => reveal(&String::from_utf8_lossy(&plain)),
    }
    Ok(plain)
}

/// Records the strings of a vaulted YAML document's values as secrets.
pub(crate) fn reveal(text: &str) {
    let set = REVEALED_SET.get_or_init(Mutex::default);
    let mut set = set.lock().unwrap_or_else(|e| e.into_inner());
    if set.insert(text.to_string()) {
        REVEALED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(text.to_string());
    }
}

/// Every text vault opened so far, for the masker.
pub(crate) fn revealed() -> Vec<String> {
    REVEALED.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Whether vault opened anything in this run (cheap: no lock).
pub(crate) fn any_revealed() -> bool {
    REVEALED_SET.get().is_some()
}

/// Whether `text` is a text that vault opened.
pub(crate) fn is_revealed(text: &str) -> bool {
    let Some(set) = REVEALED_SET.get() else {
        return false;
    };
    set.lock().unwrap_or_else(|e| e.into_inner()).contains(text)
}

/// Opens vaulted `bytes` (`what` names them in errors); an error is its
/// message and help.
fn open(bytes: &[u8], what: &str) -> Result<Vec<u8>, (String, String)> {
    let Some(keyring) = keyring() else {
        return Err((
            format!("{what} is encrypted with Ansible Vault, and no vault password was given"),
            GIVE_PASSWORD.to_string(),
        ));
    };
    let text = String::from_utf8_lossy(bytes);
    let envelope = Envelope::parse(&text)
        .map_err(|e| (format!("cannot decrypt {what}: {e}"), String::new()))?;
    keyring.open(&envelope).map_err(|tried| {
        let help = match &envelope.id {
            Some(id) => format!("it was encrypted with vault id `{id}`: {GIVE_PASSWORD}"),
            None => GIVE_PASSWORD.to_string(),
        };
        (
            format!("cannot decrypt {what}: no vault password given opens it (tried {tried})"),
            help,
        )
    })
}

fn with_help(err: Diagnostic, help: String) -> Diagnostic {
    if help.is_empty() {
        err
    } else {
        err.with_help(help)
    }
}

const GIVE_PASSWORD: &str = "give its password with `--vault-password-file FILE`, \
    `--ask-vault-pass` or `--vault-id ID@SOURCE` (or `vault_password_file` in ansible.cfg)";

impl Keyring {
    /// Opens `envelope` with the password of its vault id first, then with
    /// every other, as Ansible does; on failure, which passwords were tried.
    fn open(&self, envelope: &Envelope) -> Result<Vec<u8>, String> {
        for key in self.in_order(envelope.id.as_deref()) {
            match envelope.open(key.password.as_bytes()) {
                Ok(plain) => return Ok(plain),
                Err(EnvelopeError::WrongPassword) => continue,
                Err(other) => return Err(other.to_string()),
            }
        }
        Err(self.describe())
    }
}
