//! OpenSSH certificates, made by `ssh-keygen -s`, against real sshd: host
//! certificates trusted through `@cert-authority` lines, user certificates
//! offered with their keys.

use std::path::Path;

use ferry::transport::ssh_config::SshConfig;
use ferry::transport::{ConnectOptions, Session, Target, TransportError, Trust};

use crate::support::sshd::{TestHosts, new_key};

async fn connect(target: &Target, known_hosts: &Path) -> Result<Session, TransportError> {
    let trust = Trust {
        known_hosts: vec![known_hosts.to_path_buf()],
        ..Trust::default()
    };
    let options = ConnectOptions {
        agent_socket: Some(known_hosts.with_file_name("no-agent")),
        ..ConnectOptions::default()
    };
    Session::connect(target, &trust, &options).await
}

fn public(key: &Path) -> String {
    let text = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    text.split(' ').take(2).collect::<Vec<_>>().join(" ")
}

/// `@cert-authority` host keys were refused: a host known only through
/// the authority that signed its certificate could not be reached.
#[tokio::test]
async fn cert_authority_host_keys_were_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("host_ca");
    new_key(&ca, "ed25519", "");
    let hosts = TestHosts::start_certified(1, "", &ca, None);
    let h = &hosts.hosts[0];
    let kh = dir.path().join("known_hosts");
    let pattern = format!("[{}]:*", h.address);
    std::fs::write(&kh, format!("@cert-authority {pattern} {}\n", public(&ca))).unwrap();
    let session = connect(&h.target(), &kh).await.unwrap();
    let out = session.exec("echo ok", None, &mut |_, _| {}).await.unwrap();
    assert_eq!(out.stdout, b"ok\n");

    // Another authority: refused, saying why.
    let other = dir.path().join("other_ca");
    new_key(&other, "ed25519", "");
    std::fs::write(
        &kh,
        format!("@cert-authority {pattern} {}\n", public(&other)),
    )
    .unwrap();
    let error = connect(&h.target(), &kh).await.unwrap_err();
    assert!(
        matches!(error, TransportError::BadHostCertificate { .. }),
        "{error}"
    );
    // The authority revoked: refused, naming the line.
    std::fs::write(
        &kh,
        format!(
            "@cert-authority {pattern} {ca}\n@revoked * {ca}\n",
            ca = public(&ca)
        ),
    )
    .unwrap();
    let error = connect(&h.target(), &kh).await.unwrap_err();
    assert!(
        matches!(error, TransportError::RevokedHostKey { line: 2, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn a_host_certificate_for_another_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("host_ca");
    new_key(&ca, "ed25519", "");
    let hosts = TestHosts::start_certified(1, "", &ca, Some("elsewhere.example"));
    let h = &hosts.hosts[0];
    let kh = dir.path().join("known_hosts");
    std::fs::write(&kh, format!("@cert-authority * {}\n", public(&ca))).unwrap();
    let error = connect(&h.target(), &kh).await.unwrap_err();
    assert!(
        error.to_string().contains("issued for `elsewhere.example`"),
        "{error}"
    );
}

/// User certificates were refused (and `CertificateFile` ignored): a key
/// that the host accepts only through its CA could not log in.
#[tokio::test]
async fn user_certificates_were_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("user_ca");
    new_key(&ca, "ed25519", "");
    let extra = format!("TrustedUserCAKeys {}", ca.with_extension("pub").display());
    let hosts = TestHosts::start_with(1, &extra);
    let h = &hosts.hosts[0];
    // A key of no authorized_keys: only its certificate lets it in.
    let key = dir.path().join("me");
    new_key(&key, "ed25519", "");
    let mut target = h.target();
    target.identity_files = vec![key.clone()];
    let error = connect(&target, &hosts.known_hosts).await.unwrap_err();
    assert!(
        matches!(error, TransportError::AuthFailed { .. }),
        "{error}"
    );

    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-s"])
        .arg(&ca)
        .args(["-I", "me", "-n", &h.user])
        .arg(key.with_extension("pub"))
        .status()
        .unwrap();
    assert!(status.success());
    // Beside the key, as `me-cert.pub`: found as OpenSSH finds it.
    connect(&target, &hosts.known_hosts).await.unwrap();

    // Elsewhere, named by CertificateFile.
    let moved = dir.path().join("certs/mine.pub");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::rename(dir.path().join("me-cert.pub"), &moved).unwrap();
    let config = dir.path().join("ssh_config");
    std::fs::write(
        &config,
        format!(
            "Host app\n  HostName {}\n  Port {}\n  User {}\n  IdentityFile {}\n  CertificateFile {}\n",
            h.address,
            h.port,
            h.user,
            key.display(),
            moved.display()
        ),
    )
    .unwrap();
    let target = SshConfig::load(&config).unwrap().target("app", "nobody");
    connect(&target, &hosts.known_hosts).await.unwrap();
}
