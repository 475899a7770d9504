//! The transport: the only part of ferry that touches the network.
//!
//! One SSH connection per host ([`Session`], russh underneath), reused for
//! every command the executor runs there. Host keys are checked against
//! OpenSSH known_hosts files ([`known_hosts`]), identities come from key
//! files and ssh-agent ([`keys`]), and ssh_config is evaluated as OpenSSH
//! evaluates it by [`ssh_config`] to turn an inventory name (with the
//! inventory's ssh arguments, [`ssh_args`]) into a [`Target`].

mod auth;
mod handler;
pub mod keys;
pub mod known_hosts;
mod quickack;
mod shell;
mod ssh;
pub mod ssh_args;
pub mod ssh_config;

use std::path::PathBuf;
use std::time::Duration;

pub use ssh::Session;
pub use ssh_config::Location;

/// What a command reads as its stdin: a buffered reader, because callers
/// hold the bytes in memory already and a copy through a buffer of its own
/// per host (256 KiB each) took 128 MB at 500 hosts.
pub type Stdin = Box<dyn tokio::io::AsyncBufRead + Send + Unpin>;

/// Bytes in memory as a command's [`Stdin`], read in place.
pub fn stdin_from(bytes: impl AsRef<[u8]> + Send + Unpin + 'static) -> Stdin {
    Box::new(std::io::Cursor::new(bytes))
}

/// `line` and a newline, then `rest`: how sudo's password reaches a
/// command (see [`crate::shell::Command::reading_become_password`]).
pub fn with_first_line(line: &str, rest: Option<Stdin>) -> Stdin {
    use tokio::io::AsyncReadExt as _;
    let first = std::io::Cursor::new(format!("{line}\n").into_bytes());
    match rest {
        Some(rest) => Box::new(first.chain(rest)),
        None => Box::new(first),
    }
}

/// Where and as whom to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The inventory name, used in messages.
    pub name: String,
    /// Host name or IP address to connect to (also the known_hosts name).
    pub address: String,
    pub port: u16,
    pub user: String,
    /// Key files to offer, in order; empty means the OpenSSH defaults
    /// (`~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`).
    pub identity_files: Vec<PathBuf>,
    /// Passphrase for encrypted key files.
    pub passphrase: Option<String>,
    /// Host to tunnel through (`ProxyJump`); it may have its own jump.
    pub jump: Option<Box<Target>>,
    /// ssh_config's `ServerAliveInterval` / `ServerAliveCountMax` for this
    /// host, over [`ConnectOptions`]' defaults.
    pub alive: Alive,
    /// `ProxyCommand`, tokens expanded: run through `sh -c`, its stdin and
    /// stdout are the connection (instead of TCP or `jump`).
    pub proxy_command: Option<String>,
    /// `CertificateFile`: certificates offered with the key files they
    /// certify (a key's own `-cert.pub` is tried too).
    pub certificate_files: Vec<PathBuf>,
    /// `IdentitiesOnly yes`: offer only the key files, and agent keys only
    /// when they are one of those files' keys.
    pub identities_only: bool,
    /// `IdentityAgent`: a socket path, `none` (no agent) or `SSH_AUTH_SOCK`
    /// (the environment's); `None` leaves it to [`ConnectOptions`].
    pub identity_agent: Option<String>,
    /// `UserKnownHostsFile`: in place of [`Trust::known_hosts`]; keys
    /// learnt on first use go to the first.
    pub user_known_hosts: Option<Vec<PathBuf>>,
    /// `GlobalKnownHostsFile`: in place of [`Trust::global`].
    pub global_known_hosts: Option<Vec<PathBuf>>,
    pub strict_host_key_checking: Option<StrictHostKeyChecking>,
    /// `HashKnownHosts yes`: a key learnt on first use is recorded under
    /// a hashed host name.
    pub hash_known_hosts: bool,
    /// `ConnectTimeout`: this host's bound on connect, key exchange and
    /// login, over [`ConnectOptions::connect_timeout`].
    pub connect_timeout: Option<Duration>,
    /// ssh_config options that applied to this host and that ferry does not
    /// act on, with where they are written (reported under `-v`).
    pub ignored: Vec<(String, Option<ssh_config::Location>)>,
}

/// ssh_config's `StrictHostKeyChecking`. ferry cannot ask, so `ask` (the
/// default) refuses an unknown key like `yes`; `no` trusts an unknown key
/// like `accept-new`, but a changed key is refused whatever it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrictHostKeyChecking {
    Yes,
    Ask,
    AcceptNew,
    No,
}

impl StrictHostKeyChecking {
    /// OpenSSH's spellings (`yes`/`true`, `ask`, `accept-new`, `no`/`off`/`false`).
    pub fn parse(value: &str) -> Option<StrictHostKeyChecking> {
        match value.to_ascii_lowercase().as_str() {
            "yes" | "true" => Some(StrictHostKeyChecking::Yes),
            "ask" => Some(StrictHostKeyChecking::Ask),
            "accept-new" => Some(StrictHostKeyChecking::AcceptNew),
            "no" | "off" | "false" => Some(StrictHostKeyChecking::No),
            _ => None,
        }
    }

    /// Whether an unknown key is trusted and recorded.
    pub fn accepts_new(self) -> bool {
        matches!(
            self,
            StrictHostKeyChecking::AcceptNew | StrictHostKeyChecking::No
        )
    }
}

/// How a dead or frozen server is noticed: a keepalive after `interval`
/// without a byte from it, and the connection dropped after `count_max`
/// of them go unanswered (OpenSSH's `ServerAliveInterval`,
/// `ServerAliveCountMax`). `None` keeps the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Alive {
    pub interval: Option<Duration>,
    pub count_max: Option<usize>,
}

impl Target {
    /// A target with no keys, passphrase or jump.
    pub fn new(name: &str, address: &str, port: u16, user: &str) -> Target {
        Target {
            name: name.to_string(),
            address: address.to_string(),
            port,
            user: user.to_string(),
            identity_files: Vec::new(),
            passphrase: None,
            jump: None,
            alive: Alive::default(),
            proxy_command: None,
            certificate_files: Vec::new(),
            identities_only: false,
            identity_agent: None,
            user_known_hosts: None,
            global_known_hosts: None,
            strict_host_key_checking: None,
            hash_known_hosts: false,
            connect_timeout: None,
            ignored: Vec::new(),
        }
    }

    /// `address:port`, with brackets around an IPv6 address.
    pub fn socket_address(&self) -> String {
        if self.address.contains(':') {
            format!("[{}]:{}", self.address, self.port)
        } else {
            format!("{}:{}", self.address, self.port)
        }
    }
}

/// Which host keys to trust. A host's ssh_config may name other user and
/// global files ([`Target::user_known_hosts`]); the project's file is read
/// whatever it says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    /// The user's known_hosts files, read in order; missing ones are
    /// skipped. A key learnt on first use goes to the first writable one.
    pub known_hosts: Vec<PathBuf>,
    /// The project's own known_hosts, read after the user's.
    pub project: Option<PathBuf>,
    /// System-wide files, read last.
    pub global: Vec<PathBuf>,
    /// Trust an unknown key on first use and append it to the first writable
    /// file of `known_hosts`. A changed or revoked key is never accepted.
    pub accept_new: bool,
}

impl Trust {
    /// OpenSSH's defaults (`~/.ssh/known_hosts`, `~/.ssh/known_hosts2`,
    /// then `/etc/ssh/ssh_known_hosts`, `/etc/ssh/ssh_known_hosts2`), with
    /// the project's file between them if given.
    pub fn user_default(project: Option<PathBuf>) -> Trust {
        let mut known_hosts = Vec::new();
        if let Some(home) = std::env::var_os("HOME") {
            let ssh = PathBuf::from(home).join(".ssh");
            known_hosts.push(ssh.join("known_hosts"));
            known_hosts.push(ssh.join("known_hosts2"));
        }
        Trust {
            known_hosts,
            project,
            global: vec![
                PathBuf::from("/etc/ssh/ssh_known_hosts"),
                PathBuf::from("/etc/ssh/ssh_known_hosts2"),
            ],
            accept_new: false,
        }
    }

    /// The files to check `target`'s key against, in order, and how many
    /// of them are the user's (where a learnt key may be written).
    pub fn files_for(&self, target: &Target) -> (Vec<PathBuf>, usize) {
        let user = target
            .user_known_hosts
            .clone()
            .unwrap_or_else(|| self.known_hosts.clone());
        let writable = user.len();
        let mut files = user;
        files.extend(self.project.clone());
        files.extend(
            target
                .global_known_hosts
                .clone()
                .unwrap_or_else(|| self.global.clone()),
        );
        (files, writable)
    }
}

/// Connection tuning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Bound on TCP connect, key exchange and authentication together.
    pub connect_timeout: Duration,
    /// Keepalive interval; after `keepalive_max` more without a byte from
    /// the server the connection is dropped. 5 s × 3: a dead or frozen
    /// server is noticed within 15–20 s, while the fleet waits for it at the
    /// barrier. A controller that starves its servers of CPU (500 sshd on 2
    /// cores went 20 s without a byte in the benchmark) sets a longer
    /// `ServerAliveInterval` in ssh_config, which overrides this per host.
    pub keepalive: Duration,
    pub keepalive_max: usize,
    /// Channels open at once on one connection; keep it below the server's
    /// `MaxSessions` (10 by default in OpenSSH).
    pub max_channels: usize,
    /// ssh-agent socket to offer keys from after the key files; `None`
    /// means `$SSH_AUTH_SOCK` (no agent if unset).
    pub agent_socket: Option<PathBuf>,
    /// Run commands one after another in one long-lived shell per host
    /// (the login shell's rc files start once, not per command). On by
    /// default; `FERRY_NO_SHELL=1` in the environment turns it off, so that
    /// every command gets a channel of its own as before.
    pub shell: bool,
}

impl Default for ConnectOptions {
    fn default() -> ConnectOptions {
        ConnectOptions {
            connect_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(5),
            keepalive_max: 3,
            max_channels: 8,
            agent_socket: None,
            shell: std::env::var_os("FERRY_NO_SHELL").is_none_or(|v| v.is_empty() || v == "0"),
        }
    }
}

/// What a command left behind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit status, if the command exited.
    pub status: Option<u32>,
    /// Signal name without `SIG` (`TERM`), if a signal killed the command.
    pub signal: Option<String>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    /// Exited with status 0.
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }
}

/// Which output stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Why talking to a host failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot reach `{host}` at `{address}`: {reason}")]
    Unreachable {
        host: String,
        address: String,
        reason: String,
    },
    #[error(
        "`{host}` at `{address}` did not complete the SSH handshake and login within {}s",
        after.as_secs_f64()
    )]
    Timeout {
        host: String,
        address: String,
        after: Duration,
    },
    #[error(
        "host key of `{host}` is not known (fingerprint `{fingerprint}`): pass \
         --accept-new-host-keys to trust it, or add it to `{}`",
        known_hosts_file.display()
    )]
    UnknownHostKey {
        host: String,
        fingerprint: String,
        known_hosts_file: PathBuf,
    },
    #[error(
        "host key of `{host}` has changed (now `{fingerprint}`): if the change is expected, \
         remove the old key at `{}:{line}`; otherwise someone may be intercepting the connection",
        file.display()
    )]
    ChangedHostKey {
        host: String,
        fingerprint: String,
        file: PathBuf,
        line: usize,
    },
    #[error(
        "host key of `{host}` (`{fingerprint}`) is revoked at `{}:{line}`: refusing to connect",
        file.display()
    )]
    RevokedHostKey {
        host: String,
        fingerprint: String,
        file: PathBuf,
        line: usize,
    },
    #[error("host certificate of `{host}` is not trusted: {reason}")]
    BadHostCertificate { host: String, reason: String },
    #[error(
        "`{user}@{host}` refused every identity offered (tried: {})",
        tried_list(tried)
    )]
    AuthFailed {
        host: String,
        user: String,
        tried: Vec<String>,
    },
    #[error("wrong passphrase for key `{}`", path.display())]
    WrongPassphrase { path: PathBuf },
    #[error("key `{}` is encrypted: give its passphrase", path.display())]
    KeyIsEncrypted { path: PathBuf },
    #[error("cannot read key `{}`: {reason}", path.display())]
    KeyUnreadable { path: PathBuf, reason: String },
    #[error("cannot read ssh config `{}`: {reason}", path.display())]
    SshConfig { path: PathBuf, reason: String },
    #[error("connection to `{host}` lost: {reason}")]
    Disconnected { host: String, reason: String },
    #[error("command channel on `{host}` failed: {reason}")]
    Channel { host: String, reason: String },
}

fn tried_list(tried: &[String]) -> String {
    if tried.is_empty() {
        "no identity found: give a key file or start ssh-agent".to_string()
    } else {
        tried.join(", ")
    }
}
