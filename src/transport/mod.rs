//! The transport: the only part of ferry that touches the network.
//!
//! One SSH connection per host ([`Session`], russh underneath), reused for
//! every command the executor runs there. Host keys are checked against
//! OpenSSH known_hosts files ([`known_hosts`]), identities come from key
//! files and ssh-agent ([`keys`]), and `~/.ssh/config` is read by
//! [`ssh_config`] to turn an inventory name into a [`Target`].

mod auth;
mod handler;
pub mod keys;
pub mod known_hosts;
mod quickack;
mod ssh;
pub mod ssh_config;

use std::path::PathBuf;
use std::time::Duration;

pub use ssh::Session;

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

/// Which host keys to trust.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    /// known_hosts files, read in order; missing ones are skipped.
    pub known_hosts: Vec<PathBuf>,
    /// Trust an unknown key on first use and append it to the first writable
    /// file of `known_hosts`. A changed or revoked key is never accepted.
    pub accept_new: bool,
}

impl Trust {
    /// `~/.ssh/known_hosts`, then the project's file if given.
    pub fn user_default(project: Option<PathBuf>) -> Trust {
        let mut known_hosts = Vec::new();
        if let Some(home) = std::env::var_os("HOME") {
            known_hosts.push(PathBuf::from(home).join(".ssh/known_hosts"));
        }
        known_hosts.extend(project);
        Trust {
            known_hosts,
            accept_new: false,
        }
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
}

impl Default for ConnectOptions {
    fn default() -> ConnectOptions {
        ConnectOptions {
            connect_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(5),
            keepalive_max: 3,
            max_channels: 8,
            agent_socket: None,
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
