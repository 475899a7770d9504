//! Identities: private key files (ed25519, ECDSA, RSA; encrypted ones with a
//! passphrase) and the OpenSSH default key paths. ssh-agent keys are offered
//! by the session itself, straight from `SSH_AUTH_SOCK`.

use std::path::{Path, PathBuf};

use russh::keys::PrivateKey;

use super::TransportError;

/// `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`: tried when a target names no
/// key, as OpenSSH does (missing ones are skipped).
pub fn default_identity_files() -> Vec<PathBuf> {
    let Some(home) = std::env::var_os("HOME") else {
        return Vec::new();
    };
    let ssh = PathBuf::from(home).join(".ssh");
    ["id_ed25519", "id_ecdsa", "id_rsa"]
        .iter()
        .map(|name| ssh.join(name))
        .collect()
}

/// Loads a private key, telling a missing passphrase from a wrong one (the
/// underlying crate reports the latter as a vague decoding error).
pub fn load_identity(path: &Path, passphrase: Option<&str>) -> Result<PrivateKey, TransportError> {
    let text = std::fs::read_to_string(path).map_err(|error| TransportError::KeyUnreadable {
        path: path.to_path_buf(),
        reason: error.to_string(),
    })?;
    match russh::keys::decode_secret_key(&text, passphrase) {
        Ok(key) => Ok(key),
        Err(russh::keys::Error::KeyIsEncrypted) => Err(TransportError::KeyIsEncrypted {
            path: path.to_path_buf(),
        }),
        Err(error) => {
            let encrypted = matches!(
                russh::keys::decode_secret_key(&text, None),
                Err(russh::keys::Error::KeyIsEncrypted)
            );
            if passphrase.is_some() && encrypted {
                Err(TransportError::WrongPassphrase {
                    path: path.to_path_buf(),
                })
            } else {
                Err(TransportError::KeyUnreadable {
                    path: path.to_path_buf(),
                    reason: error.to_string(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn keygen(dir: &Path, name: &str, kind: &str, passphrase: &str) -> PathBuf {
        let path = dir.join(name);
        let status = Command::new("ssh-keygen")
            .args(["-q", "-t", kind, "-N", passphrase, "-f"])
            .arg(&path)
            .status()
            .expect("ssh-keygen runs");
        assert!(status.success());
        path
    }

    #[test]
    fn loads_each_key_type_and_reports_passphrase_problems() {
        let dir = tempfile::tempdir().unwrap();
        for kind in ["ed25519", "ecdsa", "rsa"] {
            let path = keygen(dir.path(), kind, kind, "");
            load_identity(&path, None).unwrap();
        }
        let locked = keygen(dir.path(), "locked", "ed25519", "sesame");
        load_identity(&locked, Some("sesame")).unwrap();
        let wrong = load_identity(&locked, Some("nope")).unwrap_err();
        assert_eq!(
            wrong.to_string(),
            format!("wrong passphrase for key `{}`", locked.display())
        );
        assert!(matches!(
            load_identity(&locked, None),
            Err(TransportError::KeyIsEncrypted { .. })
        ));
        assert!(matches!(
            load_identity(&dir.path().join("missing"), None),
            Err(TransportError::KeyUnreadable { .. })
        ));
    }
}
