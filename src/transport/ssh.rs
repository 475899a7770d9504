//! [`Session`]: one russh connection to a host, reused for every command.
//!
//! Each setting here answers a measured pitfall: `nodelay` (Nagle added
//! ~44 ms per exchange), acknowledgements sent at once (`quickack`: sshd's
//! own Nagle otherwise held each login's channel confirmation 42 ms), EOF
//! right after exec (else stdin readers hang), every channel drained to its
//! close (an undrained one stalls the whole connection), concurrent
//! channels capped below `MaxSessions`, connect and login under one timeout
//! (a silent server otherwise hangs forever), and curve25519 key exchange
//! first. Login is in `auth`, the host key check
//! in `handler`.
//!
//! Opening a channel costs a round trip before the command can be sent, so
//! a session keeps one channel opened ahead (the *spare*): a command takes
//! it and sends its `exec` at once, and the next spare opens while the
//! command runs. Over 20–80 ms of latency this halves what a step costs.

use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, Handle};
use russh::{ChannelMsg, ChannelWriteHalf, Disconnect, Preferred, kex};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::auth::authenticate;
use super::handler::{Client, ClientError};
use super::known_hosts;
use super::quickack::QuickAck;
use super::shell::{self, Lost, Shell};
use super::{ConnectOptions, ExecOutput, Stdin, Stream, Target, TransportError, Trust};

/// Bytes of a command's stdin per write into its channel: one packet of
/// OpenSSH's (32 KiB), see `exec`.
const STDIN_CHUNK: usize = 32 * 1024;

/// How long a refused channel open is retried (see `open_channel`).
const OPEN_RETRY_LIMIT: Duration = Duration::from_secs(2);

/// Connection attempts when the server drops the handshake. The connect
/// timeout bounds them too; ten were too few on a loaded machine, where 30
/// clients queue for sshd's two unauthenticated slots (the MaxStartups
/// test failed in CI with all ten used).
const CONNECT_ATTEMPTS: u32 = 30;

/// Key exchanges in preference order: curve25519 costs ~5 ms of CPU per
/// connection, OpenSSH 9's default sntrup761 ~70 ms.
const KEX_ORDER: &[kex::Name] = &[
    kex::CURVE25519,
    kex::CURVE25519_PRE_RFC_8731,
    kex::MLKEM768X25519_SHA256,
    kex::DH_GEX_SHA256,
    kex::DH_G16_SHA512,
    kex::DH_G14_SHA256,
    kex::EXTENSION_SUPPORT_AS_CLIENT,
    kex::EXTENSION_OPENSSH_STRICT_KEX_AS_CLIENT,
];

/// A connection to one host. Cloning shares the connection.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

/// The session's shell: none yet (or the last one ended), or one waiting
/// for the next command.
struct ShellSlot {
    shell: Option<Shell>,
    /// It could not start on this host, or the options turned it off:
    /// every command gets a channel of its own.
    unavailable: bool,
}

struct Inner {
    name: String,
    handle: Handle<Client>,
    channels: Arc<Semaphore>,
    /// The host's long-lived shell (see `shell`), busy while a command
    /// runs in it: a command that finds it busy gets a channel of its own.
    shell: tokio::sync::Mutex<ShellSlot>,
    /// A channel being opened (or open) ahead of the next command. It is
    /// one more than `channels` allows, which stays below `MaxSessions`.
    spare: Mutex<Option<JoinHandle<Option<russh::Channel<client::Msg>>>>>,
    /// Kept so the tunnel this connection runs through stays open.
    _jump: Option<Session>,
    /// The `ProxyCommand` carrying the connection, killed with it.
    _proxy: Option<tokio::process::Child>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("name", &self.inner.name)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Connects (through `target.jump` if set), verifies the host key and
    /// logs in, then opens the first spare channel. Each hop gets its own
    /// `connect_timeout`.
    pub async fn connect(
        target: &Target,
        trust: &Trust,
        opts: &ConnectOptions,
    ) -> Result<Session, TransportError> {
        let session = Session::connect_hop(target, trust, opts).await?;
        session.open_spare();
        Ok(session)
    }

    /// [`Session::connect`] without a spare: a jump host only forwards.
    async fn connect_hop(
        target: &Target,
        trust: &Trust,
        opts: &ConnectOptions,
    ) -> Result<Session, TransportError> {
        let jump = match &target.jump {
            Some(jump) => Some(Box::pin(Session::connect_hop(jump, trust, opts)).await?),
            None => None,
        };
        let timeout = target.connect_timeout.unwrap_or(opts.connect_timeout);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut attempt = 1;
        loop {
            let result =
                tokio::time::timeout_at(deadline, establish(target, trust, opts, jump.clone()))
                    .await;
            match result {
                Ok(Ok(session)) => return Ok(session),
                Ok(Err(Failure::Dropped(error))) if attempt < CONNECT_ATTEMPTS => {
                    let delay = retry_delay(attempt);
                    if tokio::time::Instant::now() + delay >= deadline {
                        return Err(error);
                    }
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Ok(Err(Failure::Dropped(error) | Failure::Final(error))) => return Err(error),
                Err(_) => {
                    return Err(TransportError::Timeout {
                        host: target.name.clone(),
                        address: target.socket_address(),
                        after: timeout,
                    });
                }
            }
        }
    }

    /// Whether the connection is gone (keepalives unanswered, the server
    /// closed it): a host waiting at a barrier is then lost, with no round
    /// trip to find out.
    pub fn is_closed(&self) -> bool {
        self.inner.handle.is_closed()
    }

    /// The inventory name of the host.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Runs `command` in the host's long-lived shell (`/bin/sh`, started
    /// once through the remote user's login shell), or, when that is busy
    /// or cannot run there, through the login shell on a channel of its
    /// own. With `stdin`, its bytes reach the command and EOF follows;
    /// without, the command reads EOF at once. Output chunks go to
    /// `on_output` as they arrive and are collected too. Errors never quote
    /// `command`: it may hold secrets, and the caller has a masked form to
    /// show. If this future is dropped (a task timeout, Ctrl-C), the remote
    /// command is told to stop.
    pub async fn exec(
        &self,
        command: &str,
        stdin: Option<Stdin>,
        on_output: &mut (dyn FnMut(Stream, &[u8]) + Send),
    ) -> Result<ExecOutput, TransportError> {
        match self.exec_in_shell(command, stdin, on_output).await {
            Ok(result) => result,
            Err(stdin) => self.exec_on_channel(command, stdin, on_output).await,
        }
    }

    /// [`Session::exec`] through the shell; `Err` gives `stdin` back when
    /// the command must get a channel of its own (the shell is busy or
    /// unavailable, or stdin is over [`shell::STDIN_LIMIT`]).
    async fn exec_in_shell(
        &self,
        command: &str,
        stdin: Option<Stdin>,
        on_output: &mut (dyn FnMut(Stream, &[u8]) + Send),
    ) -> Result<Result<ExecOutput, TransportError>, Option<Stdin>> {
        let Ok(mut slot) = self.inner.shell.try_lock() else {
            return Err(stdin);
        };
        if slot.unavailable {
            return Err(stdin);
        }
        let bytes = match stdin {
            None => None,
            Some(stdin) => Some(read_up_to(stdin, shell::STDIN_LIMIT).await.map_err(Some)?),
        };
        let mut shell = match slot.shell.take() {
            Some(shell) => shell,
            None => match self.open_shell().await {
                Some(shell) => shell,
                None => {
                    slot.unavailable = true;
                    return Err(bytes.map(crate::transport::stdin_from));
                }
            },
        };
        // If this future is dropped here, so is `shell`: it stops the
        // command, and the next command opens a new shell.
        match shell.run(command, bytes.as_deref(), on_output).await {
            Ok(output) => {
                slot.shell = Some(shell);
                Ok(Ok(output))
            }
            Err(lost) => {
                drop(shell);
                Ok(Err(if self.inner.handle.is_closed() {
                    TransportError::Disconnected {
                        host: self.inner.name.clone(),
                        reason: "while a command was running".to_string(),
                    }
                } else {
                    self.channel_error(match lost {
                        Lost::Ended => "the remote shell ended before the command did (did the command kill or replace its shell?)".to_string(),
                        Lost::Write(error) => format!("sending the command to the remote shell: {error}"),
                    })
                }))
            }
        }
    }

    /// Opens the host's shell on a channel of its own (it keeps a channel
    /// slot while it lives); `None` when it cannot run there.
    async fn open_shell(&self) -> Option<Shell> {
        let permit = Arc::clone(&self.inner.channels)
            .acquire_owned()
            .await
            .ok()?;
        let channel = match self.take_spare().await {
            Some(channel) => channel,
            None => self.open_channel().await.ok()?,
        };
        self.open_spare();
        Shell::open(channel, permit).await
    }

    /// [`Session::exec`] on a channel of its own, through the login shell.
    async fn exec_on_channel(
        &self,
        command: &str,
        stdin: Option<Stdin>,
        on_output: &mut (dyn FnMut(Stream, &[u8]) + Send),
    ) -> Result<ExecOutput, TransportError> {
        let _permit = self
            .inner
            .channels
            .acquire()
            .await
            .map_err(|_| self.channel_error("session closed".to_string()))?;
        let channel = match self.take_spare().await {
            Some(channel) => channel,
            None => self.open_channel().await?,
        };
        self.open_spare();
        channel
            .exec(true, command)
            .await
            .map_err(|e| self.lost_or_channel(e))?;
        let (mut read, write) = channel.split();
        let write = Arc::new(write);
        // If this future is dropped (a task timeout, Ctrl-C), the remote
        // command is told to stop and its channel closed, freeing the slot.
        let mut abandon = AbandonGuard(Some(Arc::clone(&write)));

        let feed = async {
            if let Some(mut stdin) = stdin {
                let mut writer = write.make_writer();
                // A packet at a time: the writer takes as much as the
                // server's window allows (2 MB from OpenSSH) in one message,
                // and the session keeps the capacity of the largest batch it
                // ever encrypted, so one big write costs each host's session
                // that much memory for the rest of the run.
                loop {
                    let chunk = stdin.fill_buf().await?;
                    if chunk.is_empty() {
                        break;
                    }
                    let n = chunk.len().min(STDIN_CHUNK);
                    writer.write_all(&chunk[..n]).await?;
                    stdin.consume(n);
                }
                writer.flush().await?;
            }
            write.eof().await.map_err(std::io::Error::other)
        };
        let drain = async {
            let mut output = ExecOutput::default();
            let mut refused = false;
            while let Some(message) = read.wait().await {
                match message {
                    ChannelMsg::Data { data } => {
                        on_output(Stream::Stdout, &data);
                        output.stdout.extend_from_slice(&data);
                    }
                    ChannelMsg::ExtendedData { data, ext: 1 } => {
                        on_output(Stream::Stderr, &data);
                        output.stderr.extend_from_slice(&data);
                    }
                    ChannelMsg::ExitStatus { exit_status } => output.status = Some(exit_status),
                    ChannelMsg::ExitSignal { signal_name, .. } => {
                        output.signal = Some(signal_text(signal_name));
                    }
                    ChannelMsg::Failure => refused = true,
                    ChannelMsg::Close => break,
                    _ => {}
                }
            }
            (output, refused)
        };

        // The command may exit without reading all of stdin: once the
        // channel closes, stop feeding it.
        let mut feed = pin!(feed);
        let mut drain = pin!(drain);
        let mut fed: Option<std::io::Result<()>> = None;
        let (output, refused) = loop {
            tokio::select! {
                result = &mut feed, if fed.is_none() => fed = Some(result),
                done = &mut drain => break done,
            }
        };
        abandon.0 = None;
        if refused {
            return Err(self.channel_error("the server refused to run the command".to_string()));
        }
        if output.status.is_none() && output.signal.is_none() {
            if self.inner.handle.is_closed() {
                return Err(TransportError::Disconnected {
                    host: self.inner.name.clone(),
                    reason: "while a command was running".to_string(),
                });
            }
            let reason = match fed {
                Some(Err(error)) => format!("sending stdin to the command: {error}"),
                _ => "the command ended without an exit status".to_string(),
            };
            return Err(self.channel_error(reason));
        }
        Ok(output)
    }

    /// Says goodbye to the server. Other clones of this session stop working.
    pub async fn close(self) {
        let _ = self
            .inner
            .handle
            .disconnect(Disconnect::ByApplication, "", "en")
            .await;
    }

    /// The spare channel, if one was opened (or is about to be): `None`
    /// when there is none or the server refused it.
    async fn take_spare(&self) -> Option<russh::Channel<client::Msg>> {
        let pending = self.inner.spare.lock().ok()?.take()?;
        pending.await.ok().flatten()
    }

    /// Starts opening the next spare channel, unless one is on its way. A
    /// single attempt: a refusal (a server with a low `MaxSessions`) only
    /// means the next command opens its own channel.
    fn open_spare(&self) {
        let Ok(mut spare) = self.inner.spare.lock() else {
            return;
        };
        if spare.is_some() || self.inner.handle.is_closed() {
            return;
        }
        let inner = Arc::clone(&self.inner);
        *spare = Some(tokio::spawn(async move {
            inner.handle.channel_open_session().await.ok()
        }));
    }

    /// Opens a session channel, retrying a refusal for a while: sshd frees
    /// a closed channel's session slot only on its next poll loop, so a new
    /// channel that arrives in the same read as the last one's close is
    /// refused ("no more sessions") even below `MaxSessions`.
    async fn open_channel(&self) -> Result<russh::Channel<client::Msg>, TransportError> {
        let mut delay = Duration::from_millis(2);
        let mut waited = Duration::ZERO;
        loop {
            match self.inner.handle.channel_open_session().await {
                Ok(channel) => return Ok(channel),
                Err(russh::Error::ChannelOpenFailure(_)) if waited < OPEN_RETRY_LIMIT => {
                    tokio::time::sleep(delay).await;
                    waited += delay;
                    delay = (delay * 2).min(Duration::from_millis(100));
                }
                Err(error) => return Err(self.lost_or_channel(error)),
            }
        }
    }

    fn channel_error(&self, reason: String) -> TransportError {
        TransportError::Channel {
            host: self.inner.name.clone(),
            reason,
        }
    }

    fn lost_or_channel(&self, error: russh::Error) -> TransportError {
        if self.inner.handle.is_closed() {
            TransportError::Disconnected {
                host: self.inner.name.clone(),
                reason: error.to_string(),
            }
        } else {
            self.channel_error(error.to_string())
        }
    }
}

/// All of `stdin` if it holds at most `limit` bytes; else what was read,
/// then the rest, as one reader again.
async fn read_up_to(mut stdin: Stdin, limit: usize) -> Result<Vec<u8>, Stdin> {
    let mut bytes = Vec::new();
    while let Ok(chunk) = stdin.fill_buf().await {
        if chunk.is_empty() {
            return Ok(bytes);
        }
        if bytes.len() + chunk.len() > limit {
            break;
        }
        bytes.extend_from_slice(chunk);
        let n = chunk.len();
        stdin.consume(n);
    }
    use tokio::io::AsyncReadExt as _;
    Err(Box::new(std::io::Cursor::new(bytes).chain(stdin)))
}

/// Sends TERM and closes the channel when an exec is abandoned midway.
struct AbandonGuard(Option<Arc<ChannelWriteHalf<client::Msg>>>);

impl Drop for AbandonGuard {
    fn drop(&mut self) {
        let Some(write) = self.0.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = write.signal(russh::Sig::TERM).await;
                let _ = write.eof().await;
                let _ = write.close().await;
            });
        }
    }
}

fn signal_text(signal: russh::Sig) -> String {
    match signal {
        russh::Sig::Custom(name) => name,
        other => format!("{other:?}"),
    }
}

/// Why one connection attempt failed.
enum Failure {
    /// The server dropped the connection during the handshake, as sshd does
    /// beyond `MaxStartups` unauthenticated connections (10 by default: many
    /// inventory hosts on one machine reach it): worth another attempt.
    Dropped(TransportError),
    Final(TransportError),
}

impl From<TransportError> for Failure {
    fn from(error: TransportError) -> Failure {
        Failure::Final(error)
    }
}

/// 50–150 ms times the attempt number, at most 1 s, spread so that the
/// retries of many clients do not collide again.
fn retry_delay(attempt: u32) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let millis = (50 + u64::from(nanos % 100)) * u64::from(attempt);
    Duration::from_millis(millis.min(1000))
}

/// TCP (or tunnel), SSH handshake with host key check, then login.
async fn establish(
    target: &Target,
    trust: &Trust,
    opts: &ConnectOptions,
    jump: Option<Session>,
) -> Result<Session, Failure> {
    let config = Arc::new(client_config(target, trust, opts));
    let client = Client {
        target: target.clone(),
        trust: trust.clone(),
    };
    let mut proxy = None;
    let handshake = match (&jump, &target.proxy_command) {
        (None, Some(command)) => {
            let unreachable = |reason: String| TransportError::Unreachable {
                host: target.name.clone(),
                address: target.socket_address(),
                reason,
            };
            let mut child = tokio::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(command)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| unreachable(format!("cannot run ProxyCommand `{command}`: {e}")))?;
            let (Some(stdout), Some(stdin)) = (child.stdout.take(), child.stdin.take()) else {
                return Err(Failure::Final(unreachable(
                    "ProxyCommand has no pipes".into(),
                )));
            };
            proxy = Some(child);
            client::connect_stream(config, tokio::io::join(stdout, stdin), client)
                .await
                .map_err(|error| match error {
                    ClientError::HostKey(error) => ClientError::HostKey(error),
                    ClientError::Ssh(error) => ClientError::Ssh(russh::Error::IO(
                        std::io::Error::other(format!("through ProxyCommand `{command}`: {error}")),
                    )),
                })
        }
        (Some(jump), _) => {
            let tunnel = jump
                .inner
                .handle
                .channel_open_direct_tcpip(&target.address, target.port.into(), "127.0.0.1", 0)
                .await
                .map_err(|e| TransportError::Unreachable {
                    host: target.name.clone(),
                    address: target.socket_address(),
                    reason: format!("through `{}`: {e}", jump.inner.name),
                })?;
            client::connect_stream(config, tunnel.into_stream(), client).await
        }
        (None, None) => {
            let socket = tokio::net::TcpStream::connect(target.socket_address())
                .await
                .map_err(|e| TransportError::Unreachable {
                    host: target.name.clone(),
                    address: target.socket_address(),
                    reason: e.to_string(),
                })?;
            socket
                .set_nodelay(true)
                .map_err(|e| TransportError::Unreachable {
                    host: target.name.clone(),
                    address: target.socket_address(),
                    reason: e.to_string(),
                })?;
            client::connect_stream(config, QuickAck(socket), client).await
        }
    };
    let mut handle = handshake.map_err(|error| match error {
        ClientError::HostKey(error) => Failure::Final(*error),
        ClientError::Ssh(error) => {
            let error = TransportError::Unreachable {
                host: target.name.clone(),
                address: target.socket_address(),
                reason: format!("the SSH handshake failed: {error}"),
            };
            // A ProxyCommand that ended is not a server busy with others.
            if proxy.is_some() {
                Failure::Final(error)
            } else {
                Failure::Dropped(error)
            }
        }
    })?;
    authenticate(&mut handle, target, opts).await?;
    Ok(Session {
        inner: Arc::new(Inner {
            name: target.name.clone(),
            handle,
            channels: Arc::new(Semaphore::new(opts.max_channels.max(1))),
            shell: tokio::sync::Mutex::new(ShellSlot {
                shell: None,
                unavailable: !opts.shell,
            }),
            spare: Mutex::new(None),
            _jump: jump,
            _proxy: proxy,
        }),
    })
}

fn client_config(target: &Target, trust: &Trust, opts: &ConnectOptions) -> client::Config {
    // Ask first for the key types known_hosts lists for this host, so a host
    // known by its RSA key is not reported as changed when it offers ed25519.
    let (files, _) = trust.files_for(target);
    let known = known_hosts::known_algorithms(&files, &target.address, target.port);
    let mut key_order: Vec<_> = Preferred::DEFAULT
        .key
        .iter()
        .filter(|a| known.iter().any(|k| same_family(k, a)))
        .cloned()
        .collect();
    for algorithm in Preferred::DEFAULT.key.iter() {
        if !key_order.contains(algorithm) {
            key_order.push(algorithm.clone());
        }
    }
    client::Config {
        nodelay: true,
        // `ServerAliveInterval 0` turns keepalives off, as in OpenSSH.
        keepalive_interval: Some(target.alive.interval.unwrap_or(opts.keepalive))
            .filter(|interval| !interval.is_zero()),
        keepalive_max: target.alive.count_max.unwrap_or(opts.keepalive_max),
        inactivity_timeout: None,
        preferred: Preferred {
            kex: KEX_ORDER.into(),
            host_key_certificates: if known_hosts::has_authority(
                &files,
                &target.address,
                target.port,
            ) {
                key_order.clone().into()
            } else {
                Vec::new().into()
            },
            key: key_order.into(),
            ..Preferred::DEFAULT
        },
        ..Default::default()
    }
}

/// RSA keys sign with any of the RSA algorithms.
fn same_family(a: &russh::keys::Algorithm, b: &russh::keys::Algorithm) -> bool {
    use russh::keys::Algorithm::Rsa;
    a == b || (matches!(a, Rsa { .. }) && matches!(b, Rsa { .. }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve25519_is_offered_first() {
        let config = client_config(
            &Target::new("h", "127.0.0.1", 22, "u"),
            &Trust::default(),
            &ConnectOptions::default(),
        );
        assert_eq!(config.preferred.kex[0], kex::CURVE25519);
        assert!(config.nodelay);
        assert_eq!(config.keepalive_interval, Some(Duration::from_secs(5)));
    }
}
