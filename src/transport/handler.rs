//! The russh client callbacks: the host key check against known_hosts,
//! with accept-new, and the refusal carried out as a typed error.

use std::path::PathBuf;

use russh::client;
use russh::keys::{Certificate, HashAlg, PublicKeyOrCertificate};

use super::known_hosts::{self, Verdict};
use super::{StrictHostKeyChecking, Target, TransportError, Trust};

/// russh callbacks: only the host key check.
pub(super) struct Client {
    pub(super) target: Target,
    pub(super) trust: Trust,
}

#[derive(Debug)]
pub(super) enum ClientError {
    Ssh(russh::Error),
    HostKey(Box<TransportError>),
}

impl From<russh::Error> for ClientError {
    fn from(error: russh::Error) -> ClientError {
        ClientError::Ssh(error)
    }
}

impl client::Handler for Client {
    type Error = ClientError;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, ClientError> {
        let key = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key,
            PublicKeyOrCertificate::Certificate(certificate) => {
                return self.check_certificate(certificate);
            }
        };
        let (files, writable) = self.trust.files_for(&self.target);
        let (address, port) = (&self.target.address, self.target.port);
        let host = self.target.name.clone();
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        let accept_new = self.trust.accept_new
            || self
                .target
                .strict_host_key_checking
                .is_some_and(StrictHostKeyChecking::accepts_new);
        let refusal = match known_hosts::check(&files, address, port, key) {
            Verdict::Trusted => return Ok(true),
            Verdict::Unknown => {
                let hashed = self.target.hash_known_hosts;
                if accept_new
                    && known_hosts::append(&files[..writable], address, port, key, hashed).is_some()
                {
                    return Ok(true);
                }
                TransportError::UnknownHostKey {
                    host,
                    fingerprint,
                    known_hosts_file: files
                        .first()
                        .cloned()
                        .unwrap_or_else(|| PathBuf::from("~/.ssh/known_hosts")),
                }
            }
            Verdict::Changed { file, line } => TransportError::ChangedHostKey {
                host,
                fingerprint,
                file,
                line,
            },
            Verdict::Revoked { file, line } => TransportError::RevokedHostKey {
                host,
                fingerprint,
                file,
                line,
            },
            Verdict::BadCertificate { reason } => {
                TransportError::BadHostCertificate { host, reason }
            }
        };
        Err(ClientError::HostKey(Box::new(refusal)))
    }
}

impl Client {
    /// A host certificate (asked for only when an `@cert-authority` line
    /// names the host): trusted when such an authority signed it for this
    /// host; never learnt on first use.
    fn check_certificate(&self, certificate: &Certificate) -> Result<bool, ClientError> {
        let (files, _) = self.trust.files_for(&self.target);
        let (address, port) = (&self.target.address, self.target.port);
        let host = self.target.name.clone();
        let fingerprint = certificate
            .public_key()
            .fingerprint(HashAlg::Sha256)
            .to_string();
        let refusal = match known_hosts::check_certificate(&files, address, port, certificate) {
            Verdict::Trusted => return Ok(true),
            Verdict::Revoked { file, line } => TransportError::RevokedHostKey {
                host,
                fingerprint,
                file,
                line,
            },
            Verdict::BadCertificate { reason } => {
                TransportError::BadHostCertificate { host, reason }
            }
            Verdict::Unknown | Verdict::Changed { .. } => TransportError::BadHostCertificate {
                host,
                reason: "no `@cert-authority` line for it names its signer".to_string(),
            },
        };
        Err(ClientError::HostKey(Box::new(refusal)))
    }
}
