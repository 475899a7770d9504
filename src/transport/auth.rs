//! Logging in: the target's key files (or OpenSSH's default ones), then
//! ssh-agent keys, each RSA key signed with a hash the server accepts.
//! ssh_config's `IdentityAgent` picks the agent (or none), and
//! `IdentitiesOnly yes` offers only agent keys that are the key files'.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use russh::client::Handle;
use russh::keys::agent::client::AgentClient;
use russh::keys::{Certificate, HashAlg, PrivateKey, PrivateKeyWithHashAlg};

use super::handler::Client;
use super::{ConnectOptions, Target, TransportError, keys};

/// Offers the target's key files (or the default ones), then ssh-agent keys.
/// A key that cannot be decrypted is reported as such when nothing else
/// worked, rather than as a vague login failure.
pub(super) async fn authenticate(
    handle: &mut Handle<Client>,
    target: &Target,
    opts: &ConnectOptions,
) -> Result<(), TransportError> {
    let lost = |e: russh::Error| TransportError::Disconnected {
        host: target.name.clone(),
        reason: format!("during login: {e}"),
    };
    let explicit = !target.identity_files.is_empty();
    let files: Vec<PathBuf> = if explicit {
        target.identity_files.clone()
    } else {
        keys::default_identity_files()
    };
    let mut tried = Vec::new();
    let mut key_error = None;
    // The files' public keys: with IdentitiesOnly, the agent keys allowed.
    let mut file_keys = Vec::new();
    for path in files {
        if !explicit && !path.exists() {
            continue;
        }
        let mut public_file = path.clone().into_os_string();
        public_file.push(".pub");
        if let Ok(public) =
            russh::keys::ssh_key::PublicKey::read_openssh_file(Path::new(&public_file))
        {
            file_keys.push(public.key_data().clone());
        }
        let key = match keys::load_identity(&path, target.passphrase.as_deref()) {
            Ok(key) => {
                file_keys.push(key.public_key().key_data().clone());
                key
            }
            Err(error) => {
                key_error.get_or_insert(error);
                continue;
            }
        };
        let key = Arc::new(key);
        // A certificate for this key (`CertificateFile`, or the key's own
        // `-cert.pub` beside it) is offered before the bare key.
        for certificate in certificates_for(target, &path, &key) {
            let result = handle
                .authenticate_openssh_cert(&target.user, Arc::clone(&key), certificate)
                .await
                .map_err(lost)?;
            if result.success() {
                return Ok(());
            }
        }
        let hash = rsa_hash(handle, key.algorithm().is_rsa()).await;
        let key = PrivateKeyWithHashAlg::new(key, hash);
        let result = handle
            .authenticate_publickey(&target.user, key)
            .await
            .map_err(lost)?;
        if result.success() {
            return Ok(());
        }
        tried.push(format!("key `{}`", path.display()));
    }
    let from_env = || std::env::var_os("SSH_AUTH_SOCK").map(PathBuf::from);
    let agent_socket = match target.identity_agent.as_deref() {
        Some(none) if none.eq_ignore_ascii_case("none") => None,
        Some("SSH_AUTH_SOCK") => from_env(),
        Some(path) => Some(PathBuf::from(path)),
        None => opts.agent_socket.clone().or_else(from_env),
    };
    if let Some(socket) = agent_socket
        && let Ok(mut agent) = AgentClient::connect_uds(&socket).await
    {
        let identities = agent.request_identities().await.unwrap_or_default();
        for identity in identities {
            let public = identity.public_key().into_owned();
            if target.identities_only && !file_keys.contains(public.key_data()) {
                continue;
            }
            let hash = rsa_hash(handle, public.algorithm().is_rsa()).await;
            let result = handle
                .authenticate_publickey_with(&target.user, public, hash, &mut agent)
                .await;
            if matches!(result, Ok(ref r) if r.success()) {
                return Ok(());
            }
            tried.push(format!("agent key `{}`", identity.comment()));
        }
    }
    match key_error {
        Some(error) if tried.is_empty() || explicit => Err(error),
        _ => Err(TransportError::AuthFailed {
            host: target.name.clone(),
            user: target.user.clone(),
            tried,
        }),
    }
}

/// The certificates of `key` among the target's `CertificateFile`s and
/// the key file's `-cert.pub`, as OpenSSH pairs them (by public key).
fn certificates_for(target: &Target, path: &Path, key: &PrivateKey) -> Vec<Certificate> {
    let mut beside = path.as_os_str().to_owned();
    beside.push("-cert.pub");
    let mut found: Vec<Certificate> = Vec::new();
    for file in target
        .certificate_files
        .iter()
        .map(PathBuf::as_path)
        .chain([Path::new(&beside)])
    {
        if let Ok(certificate) = Certificate::read_file(file)
            && certificate.public_key() == key.public_key().key_data()
            && !found.contains(&certificate)
        {
            found.push(certificate);
        }
    }
    found
}

/// The RSA signature hash the server accepts (SHA-1 is refused by OpenSSH 9).
async fn rsa_hash(handle: &Handle<Client>, is_rsa: bool) -> Option<HashAlg> {
    if !is_rsa {
        return None;
    }
    match handle.best_supported_rsa_hash().await {
        Ok(Some(hash)) => hash,
        _ => Some(HashAlg::Sha512),
    }
}
