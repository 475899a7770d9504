//! Host key verification against OpenSSH `known_hosts` files.
//!
//! Our own reader rather than `russh::keys::known_hosts`, which accepts a
//! `@revoked` key, misreads `@cert-authority` lines as host keys, does not
//! understand wildcard patterns or tab separators, and reports line numbers
//! that skip comments. Here every line counts, so a `file:line` in a message
//! is the line an editor shows.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use hmac::{KeyInit as _, Mac as _};
use russh::keys::ssh_key::PublicKey;

/// What the known_hosts files say about a host's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A line for this host lists exactly this key.
    Trusted,
    /// No line names this host.
    Unknown,
    /// Lines name this host, but none with this key; `file:line` is the first
    /// of them with the same key type (or the first at all).
    Changed { file: PathBuf, line: usize },
    /// The key is marked `@revoked`.
    Revoked { file: PathBuf, line: usize },
    /// A host certificate that an authority listed for the host did not
    /// validly issue for it (why, in a sentence).
    BadCertificate { reason: String },
}

/// The marker at the start of a line, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    None,
    Revoked,
    CertAuthority,
}

/// One parsed key line.
#[derive(Debug)]
struct Entry<'a> {
    marker: Marker,
    patterns: &'a str,
    /// `type base64`, parsed only for lines that concern the host.
    key_text: (&'a str, &'a str),
    line: usize,
}

impl Entry<'_> {
    fn key(&self) -> Option<PublicKey> {
        PublicKey::from_openssh(&format!("{} {}", self.key_text.0, self.key_text.1)).ok()
    }
}

/// The name a host has in known_hosts: `host` on port 22, else `[host]:port`.
pub fn host_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// Parses one line; `None` for blanks, comments and lines too short to be keys.
fn parse_line(text: &str, line: usize) -> Option<Entry<'_>> {
    let text = text.trim();
    if text.is_empty() || text.starts_with('#') {
        return None;
    }
    let mut fields = text.split([' ', '\t']).filter(|f| !f.is_empty());
    let mut first = fields.next()?;
    let marker = match first {
        "@revoked" => Marker::Revoked,
        "@cert-authority" => Marker::CertAuthority,
        _ => Marker::None,
    };
    if marker != Marker::None {
        first = fields.next()?;
    } else if first.starts_with('@') {
        return None;
    }
    let key_type = fields.next()?;
    let key_data = fields.next()?;
    Some(Entry {
        marker,
        patterns: first,
        key_text: (key_type, key_data),
        line,
    })
}

/// Matches `text` against an OpenSSH wildcard pattern (`*` and `?`).
fn wildcard(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            wildcard(&pattern[1..], text) || (!text.is_empty() && wildcard(pattern, &text[1..]))
        }
        (Some(b'?'), Some(_)) => wildcard(&pattern[1..], &text[1..]),
        (Some(p), Some(t)) => p.eq_ignore_ascii_case(t) && wildcard(&pattern[1..], &text[1..]),
        _ => false,
    }
}

/// Whether a hashed pattern `|1|salt|hash` is HMAC-SHA1(salt, name).
fn hashed_matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.strip_prefix("|1|").unwrap_or("").split('|');
    let engine = base64::engine::general_purpose::STANDARD;
    let (Some(salt), Some(hash)) = (parts.next(), parts.next()) else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (engine.decode(salt), engine.decode(hash)) else {
        return false;
    };
    let Ok(mut mac) = hmac::Hmac::<sha1::Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(name.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

/// Whether a comma-separated pattern list names `name`: some positive pattern
/// matches and no negated (`!`) one does.
fn patterns_match(patterns: &str, name: &str) -> bool {
    if patterns.starts_with("|1|") {
        return hashed_matches(patterns, name);
    }
    let mut matched = false;
    for pattern in patterns.split(',') {
        if let Some(negated) = pattern.strip_prefix('!') {
            if wildcard(negated.as_bytes(), name.as_bytes()) {
                return false;
            }
        } else if wildcard(pattern.as_bytes(), name.as_bytes()) {
            matched = true;
        }
    }
    matched
}

/// Checks `key` for `host:port` against `files` in order. Missing files are
/// skipped: a fresh machine has no `~/.ssh/known_hosts`.
pub fn check(files: &[PathBuf], host: &str, port: u16, key: &PublicKey) -> Verdict {
    let name = host_name(host, port);
    let mut changed: Option<(PathBuf, usize, bool)> = None;
    let mut trusted = false;
    for file in files {
        let Ok(text) = fs::read_to_string(file) else {
            continue;
        };
        for (index, line) in text.lines().enumerate() {
            let Some(entry) = parse_line(line, index + 1) else {
                continue;
            };
            if entry.marker == Marker::CertAuthority
                || (entry.marker == Marker::None && !patterns_match(entry.patterns, &name))
            {
                continue;
            }
            let Some(entry_key) = entry.key() else {
                continue;
            };
            let same_key = entry_key.key_data() == key.key_data();
            match entry.marker {
                // A revoked key is refused whichever host the line names:
                // stricter than OpenSSH, which applies the line's patterns.
                Marker::Revoked if same_key => {
                    return Verdict::Revoked {
                        file: file.clone(),
                        line: entry.line,
                    };
                }
                // Authorities sign host certificates; their keys are not host keys.
                Marker::Revoked | Marker::CertAuthority => {}
                Marker::None => {
                    if same_key {
                        trusted = true;
                    } else {
                        let same_type = entry_key.algorithm() == key.algorithm();
                        let better = match &changed {
                            None => true,
                            Some((_, _, had_same_type)) => same_type && !had_same_type,
                        };
                        if better {
                            changed = Some((file.clone(), entry.line, same_type));
                        }
                    }
                }
            }
        }
    }
    match (trusted, changed) {
        (true, _) => Verdict::Trusted,
        (false, Some((file, line, _))) => Verdict::Changed { file, line },
        (false, None) => Verdict::Unknown,
    }
}

/// Whether `files` list a certificate authority (`@cert-authority`) for
/// `host:port`: then its host certificate is asked for first, as OpenSSH
/// does.
pub fn has_authority(files: &[PathBuf], host: &str, port: u16) -> bool {
    let name = host_name(host, port);
    files.iter().any(|file| {
        fs::read_to_string(file).is_ok_and(|text| {
            text.lines().enumerate().any(|(index, line)| {
                parse_line(line, index + 1).is_some_and(|entry| {
                    entry.marker == Marker::CertAuthority && patterns_match(entry.patterns, &name)
                })
            })
        })
    })
}

/// Checks a host certificate as OpenSSH does: signed by an authority that
/// an `@cert-authority` line lists for `host:port`, a host certificate,
/// `host` among its principals (wildcards allowed), valid now, without
/// critical options; and neither its key nor its authority `@revoked`.
pub fn check_certificate(
    files: &[PathBuf],
    host: &str,
    port: u16,
    certificate: &russh::keys::Certificate,
) -> Verdict {
    use russh::keys::ssh_key::certificate::CertType;
    let name = host_name(host, port);
    let mut authorities = Vec::new();
    for file in files {
        let Ok(text) = fs::read_to_string(file) else {
            continue;
        };
        for (index, line) in text.lines().enumerate() {
            let Some(entry) = parse_line(line, index + 1) else {
                continue;
            };
            let Some(key) = entry.key() else { continue };
            match entry.marker {
                Marker::Revoked
                    if key.key_data() == certificate.public_key()
                        || key.key_data() == certificate.signature_key() =>
                {
                    return Verdict::Revoked {
                        file: file.clone(),
                        line: entry.line,
                    };
                }
                Marker::CertAuthority if patterns_match(entry.patterns, &name) => {
                    authorities.push(key.fingerprint(russh::keys::HashAlg::Sha256));
                }
                _ => {}
            }
        }
    }
    if authorities.is_empty() {
        return Verdict::Unknown;
    }
    let bad = |reason: String| Verdict::BadCertificate { reason };
    if certificate.validate(&authorities).is_err() {
        return bad(format!(
            "not signed by an authority listed for `{name}`, or not valid now (key id `{}`)",
            certificate.key_id()
        ));
    }
    if certificate.cert_type() != CertType::Host {
        return bad("it is a user certificate".to_string());
    }
    let host = host.to_ascii_lowercase();
    let principals = certificate.valid_principals();
    if !principals
        .iter()
        .any(|p| wildcard(p.as_bytes(), host.as_bytes()))
    {
        return bad(format!(
            "issued for {}, not `{host}`",
            if principals.is_empty() {
                "no principal".to_string()
            } else {
                principals
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ));
    }
    if !certificate.critical_options().is_empty() {
        return bad("it carries critical options".to_string());
    }
    Verdict::Trusted
}

/// Key algorithms that `files` list for `host:port`, so the client can ask
/// the server for a key type it can verify (as OpenSSH does).
pub fn known_algorithms(
    files: &[PathBuf],
    host: &str,
    port: u16,
) -> Vec<russh::keys::ssh_key::Algorithm> {
    let name = host_name(host, port);
    let mut algorithms = Vec::new();
    for file in files {
        let Ok(text) = fs::read_to_string(file) else {
            continue;
        };
        for (index, line) in text.lines().enumerate() {
            let Some(entry) = parse_line(line, index + 1) else {
                continue;
            };
            if entry.marker != Marker::None || !patterns_match(entry.patterns, &name) {
                continue;
            }
            if let Some(key) = entry.key()
                && !algorithms.contains(&key.algorithm())
            {
                algorithms.push(key.algorithm());
            }
        }
    }
    algorithms
}

/// Appends `key` for `host:port` to the first of `files` that can be written
/// (created with its directory if need be, the directory 0700 as OpenSSH
/// makes `~/.ssh`); returns that file. `hashed` (ssh_config's
/// `HashKnownHosts yes`) records the name as `|1|salt|hash`, as ssh does.
pub fn append(
    files: &[PathBuf],
    host: &str,
    port: u16,
    key: &PublicKey,
    hashed: bool,
) -> Option<PathBuf> {
    let openssh = key.to_openssh().ok()?;
    let mut openssh = openssh.split(' ');
    let (key_type, key_data) = (openssh.next()?, openssh.next()?);
    let name = host_name(host, port);
    let name = if hashed { hash_name(&name)? } else { name };
    let record = format!("{name} {key_type} {key_data}\n");
    for file in files {
        if try_append(file, &record).is_ok() {
            return Some(file.clone());
        }
    }
    None
}

/// `|1|salt|HMAC-SHA1(salt, name)`, both base64, with a fresh 20-byte salt.
fn hash_name(name: &str) -> Option<String> {
    use std::io::Read as _;
    let mut salt = [0u8; 20];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut salt))
        .ok()?;
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(&salt).ok()?;
    mac.update(name.as_bytes());
    let engine = base64::engine::general_purpose::STANDARD;
    Some(format!(
        "|1|{}|{}",
        engine.encode(salt),
        engine.encode(mac.finalize().into_bytes())
    ))
}

fn try_append(file: &Path, record: &str) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let needs_newline = fs::read(file)
        .map(|bytes| bytes.last().is_some_and(|b| *b != b'\n'))
        .unwrap_or(false);
    let mut out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?;
    if needs_newline {
        out.write_all(b"\n")?;
    }
    out.write_all(record.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED_A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGE+zGpb3tAoZMkfGF51wL9rX8LIec/MptQ3G4siGyHI";
    const ED_B: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE6c5Avgi6jSqskzVTRVo5g+2JdjFZZ2kvPUvbcQtVYI";

    fn key(text: &str) -> PublicKey {
        PublicKey::from_openssh(text).unwrap()
    }

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn plain_with_port_and_tabs() {
        let (_d, path) = write(&format!(
            "# comment\n\n[web1]:2222\t{}\n",
            ED_A.replace(' ', "\t")
        ));
        assert_eq!(
            check(std::slice::from_ref(&path), "web1", 2222, &key(ED_A)),
            Verdict::Trusted
        );
        assert_eq!(check(&[path], "web1", 22, &key(ED_A)), Verdict::Unknown);
    }

    #[test]
    fn changed_key_names_line_counting_comments() {
        let (_d, path) = write(&format!("# one\n# two\nother {ED_B}\nweb1 {ED_A}\n"));
        assert_eq!(
            check(std::slice::from_ref(&path), "web1", 22, &key(ED_B)),
            Verdict::Changed {
                file: path,
                line: 4
            }
        );
    }

    #[test]
    fn revoked_key_is_refused_even_when_listed() {
        let (_d, path) = write(&format!("web1 {ED_A}\n@revoked * {ED_A}\n"));
        assert_eq!(
            check(std::slice::from_ref(&path), "web1", 22, &key(ED_A)),
            Verdict::Revoked {
                file: path,
                line: 2
            }
        );
    }

    #[test]
    fn cert_authority_is_not_a_host_key() {
        let (_d, path) = write(&format!("@cert-authority *.example.com {ED_B}\n"));
        assert_eq!(
            check(&[path], "a.example.com", 22, &key(ED_A)),
            Verdict::Unknown
        );
    }

    #[test]
    fn wildcards_and_negation() {
        let (_d, path) = write(&format!("web?.example.com,!web9.example.com {ED_A}\n"));
        let files = [path];
        assert_eq!(
            check(&files, "web1.example.com", 22, &key(ED_A)),
            Verdict::Trusted
        );
        assert_eq!(
            check(&files, "web9.example.com", 22, &key(ED_A)),
            Verdict::Unknown
        );
        assert_eq!(
            check(&files, "web10.example.com", 22, &key(ED_A)),
            Verdict::Unknown
        );
        assert!(patterns_match("*", "anything"));
        assert!(patterns_match("10.0.*", "10.0.3.4"));
    }

    #[test]
    fn crlf_lines_and_unknown_markers() {
        let (_d, path) = write(&format!("@future * {ED_B}\r\nweb1 {ED_A} comment\r\n"));
        let files = [path];
        assert_eq!(check(&files, "web1", 22, &key(ED_A)), Verdict::Trusted);
        assert_eq!(
            check(&files, "web1", 22, &key(ED_B)),
            Verdict::Changed {
                file: files[0].clone(),
                line: 2
            }
        );
    }

    #[test]
    fn hashed_entry() {
        // `ssh-keygen -H` output for `[127.0.0.1]:2222`, salt fixed.
        let salt = [7u8; 20];
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(&salt).unwrap();
        mac.update(b"[127.0.0.1]:2222");
        let engine = base64::engine::general_purpose::STANDARD;
        let hash = engine.encode(mac.finalize().into_bytes());
        let (_d, path) = write(&format!("|1|{}|{hash} {ED_A}\n", engine.encode(salt)));
        assert_eq!(
            check(std::slice::from_ref(&path), "127.0.0.1", 2222, &key(ED_A)),
            Verdict::Trusted
        );
        assert_eq!(
            check(&[path], "127.0.0.2", 2222, &key(ED_A)),
            Verdict::Unknown
        );
    }

    #[test]
    fn append_creates_and_adds_newline() {
        let (dir, path) = write("web1 ssh-ed25519 AAAA");
        let written = append(std::slice::from_ref(&path), "web2", 2200, &key(ED_A), false).unwrap();
        assert_eq!(written, path);
        assert_eq!(
            check(std::slice::from_ref(&path), "web2", 2200, &key(ED_A)),
            Verdict::Trusted
        );
        let fresh = dir.path().join("sub/known_hosts");
        assert_eq!(
            append(std::slice::from_ref(&fresh), "web3", 22, &key(ED_A), false),
            Some(fresh)
        );
    }

    /// `--accept-new-host-keys` wrote plain names under `HashKnownHosts
    /// yes`, and made `~/.ssh` 0755 where OpenSSH makes it 0700.
    #[test]
    fn accept_new_wrote_unhashed_lines_and_an_open_ssh_dir() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".ssh/known_hosts");
        append(std::slice::from_ref(&path), "web2", 2200, &key(ED_A), true).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("|1|"), "{text}");
        assert!(!text.contains("web2"), "{text}");
        assert_eq!(
            check(std::slice::from_ref(&path), "web2", 2200, &key(ED_A)),
            Verdict::Trusted
        );
        assert_eq!(
            check(std::slice::from_ref(&path), "web3", 2200, &key(ED_A)),
            Verdict::Unknown
        );
        // ssh-keygen -F finds the hashed line: the hash is OpenSSH's.
        let found = std::process::Command::new("ssh-keygen")
            .arg("-f")
            .arg(&path)
            .args(["-F", "[web2]:2200"])
            .output()
            .unwrap();
        assert!(
            found.status.success(),
            "{}",
            String::from_utf8_lossy(&found.stderr)
        );
        let mode = fs::metadata(dir.path().join(".ssh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
