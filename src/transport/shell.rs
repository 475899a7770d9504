//! [`Shell`]: one long-lived remote shell per host, which runs the commands
//! ferry sends back to back, so that the login shell — and the rc files it
//! reads for every command sshd runs (Debian's bash sources `.bashrc`:
//! pyenv, nvm, conda, 0.1–0.3 s each) — starts once per host, not once per
//! step.
//!
//! The protocol is in `sh/driver.sh`. Each command is framed by a token
//! drawn fresh from the OS's random source and never shown to the command,
//! so nothing it prints can end it early; output without a trailing
//! newline keeps its last byte. The command's stdin is /dev/null, or
//! exactly its own bytes (sent with their length, so a command that reads
//! stdin cannot eat the next request). A command that kills or replaces the
//! shell ends the shell's channel: that command fails, and the session
//! opens a new shell for the next one.

use std::sync::Arc;
use std::time::Duration;

use russh::client::Msg;
use russh::{ChannelMsg, ChannelWriteHalf};
use tokio::io::AsyncWriteExt as _;
use tokio::sync::{OwnedSemaphorePermit, mpsc};

use super::{ExecOutput, Stream};

/// The driver, read by the launcher from the channel's stdin.
const DRIVER: &str = include_str!("sh/driver.sh");

/// Bytes of stdin a command may send through the shell: the shell needs
/// them counted before it starts the command, so they are held in memory
/// (per host, for the command's length). Bigger uploads (a release archive
/// of a large app) get a channel of their own, streamed.
pub(crate) const STDIN_LIMIT: usize = 256 * 1024;

/// How long the shell may take to start (the login shell and its rc files)
/// before the session gives up on it and runs each command on its own
/// channel.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes per write into the channel: one packet of OpenSSH's.
const CHUNK: usize = 32 * 1024;

/// Why a command sent to the shell has no result.
#[derive(Debug)]
pub(crate) enum Lost {
    /// The shell's channel ended before the command's end marker: the
    /// command killed or replaced the shell, or the connection dropped.
    Ended,
    /// Writing the request failed.
    Write(String),
}

/// A running remote shell on its own channel.
pub(crate) struct Shell {
    write: Arc<ChannelWriteHalf<Msg>>,
    /// Every message of the channel, drained at once by a task of its own:
    /// an undrained channel stalls the whole connection, and a step's
    /// background process may write between steps.
    messages: mpsc::UnboundedReceiver<ChannelMsg>,
    /// A command is between its request and its end marker: dropping the
    /// shell then abandons it (see `Drop`).
    busy: bool,
    /// The shell holds one of the session's channel slots for its life.
    _permit: OwnedSemaphorePermit,
}

impl Shell {
    /// Starts the driver on `channel` and waits until it says it is ready.
    /// `None` when it cannot run there (no `setsid` or `head`, a login shell
    /// that runs no commands, a forced command): the session then runs
    /// every command on a channel of its own.
    pub(crate) async fn open(
        channel: russh::Channel<Msg>,
        permit: OwnedSemaphorePermit,
    ) -> Option<Shell> {
        let ready = token();
        let launcher = format!(
            "exec /bin/sh -c 'eval \"$(head -c {})\"' sh {ready}",
            DRIVER.len()
        );
        channel.exec(true, launcher).await.ok()?;
        let (mut read, write) = channel.split();
        let (tx, messages) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(message) = read.wait().await {
                let close = matches!(message, ChannelMsg::Close);
                if tx.send(message).is_err() || close {
                    break;
                }
            }
        });
        let mut shell = Shell {
            write: Arc::new(write),
            messages,
            busy: true,
            _permit: permit,
        };
        shell.send(DRIVER.as_bytes()).await.ok()?;
        // What the rc files print comes before the ready line, on either
        // stream: it is dropped with it.
        let mut out = Marker::new(&ready);
        let mut err = Marker::new(&ready);
        let started = async {
            while !(out.found() && err.found()) {
                match shell.messages.recv().await? {
                    ChannelMsg::Data { data } => drop(out.push(&data)),
                    ChannelMsg::ExtendedData { data, ext: 1 } => drop(err.push(&data)),
                    ChannelMsg::Eof | ChannelMsg::Close | ChannelMsg::ExitStatus { .. } => {
                        return None;
                    }
                    _ => {}
                }
            }
            Some(())
        };
        tokio::time::timeout(READY_TIMEOUT, started).await.ok()??;
        shell.busy = false;
        Some(shell)
    }

    /// Runs `command` with `stdin` (at most [`STDIN_LIMIT`] bytes) and
    /// waits for its end marker.
    pub(crate) async fn run(
        &mut self,
        command: &str,
        stdin: Option<&[u8]>,
        on_output: &mut (dyn FnMut(Stream, &[u8]) + Send),
    ) -> Result<ExecOutput, Lost> {
        self.busy = true;
        let token = token();
        let request = request(&token, command, stdin);
        self.send(&request).await.map_err(Lost::Write)?;
        if let Some(stdin) = stdin {
            self.send(stdin).await.map_err(Lost::Write)?;
        }
        let mut output = ExecOutput::default();
        let mut out = Marker::new(&token);
        let mut err = Marker::new(&token);
        while !(out.found() && err.found()) {
            let Some(message) = self.messages.recv().await else {
                return Err(Lost::Ended);
            };
            let (stream, bytes) = match message {
                ChannelMsg::Data { data } => (Stream::Stdout, out.push(&data)),
                ChannelMsg::ExtendedData { data, ext: 1 } => (Stream::Stderr, err.push(&data)),
                ChannelMsg::Eof | ChannelMsg::Close | ChannelMsg::ExitStatus { .. } => {
                    return Err(Lost::Ended);
                }
                _ => continue,
            };
            if !bytes.is_empty() {
                on_output(stream, &bytes);
                match stream {
                    Stream::Stdout => output.stdout.extend_from_slice(&bytes),
                    Stream::Stderr => output.stderr.extend_from_slice(&bytes),
                }
            }
        }
        let status = out.status().ok_or(Lost::Ended)?;
        match signal_of(status) {
            Some(signal) => output.signal = Some(signal.to_string()),
            None => output.status = Some(status),
        }
        self.busy = false;
        Ok(output)
    }

    async fn send(&self, bytes: &[u8]) -> Result<(), String> {
        let mut writer = self.write.make_writer();
        for chunk in bytes.chunks(CHUNK) {
            writer.write_all(chunk).await.map_err(|e| e.to_string())?;
        }
        writer.flush().await.map_err(|e| e.to_string())
    }
}

impl Drop for Shell {
    /// A shell dropped in the middle of a command (a step's timeout,
    /// Ctrl-C) is told to stop: TERM makes the driver stop the command's
    /// process group and exit (sshd refuses signals to root's sessions; a
    /// step's timeout stops it by its pid, as for a command on its own
    /// channel). An idle shell just ends with its channel.
    fn drop(&mut self) {
        let write = Arc::clone(&self.write);
        let busy = self.busy;
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if busy {
                    let _ = write.signal(russh::Sig::TERM).await;
                }
                let _ = write.eof().await;
                let _ = write.close().await;
            });
        }
    }
}

/// The request line and the command's lines, newline-terminated.
fn request(token: &str, command: &str, stdin: Option<&[u8]>) -> Vec<u8> {
    let mut script = command.to_string();
    if !script.ends_with('\n') {
        script.push('\n');
    }
    let lines = script.matches('\n').count();
    let stdin = stdin.map_or_else(|| "-".to_string(), |bytes| bytes.len().to_string());
    format!("{token} {lines} {stdin}\n{script}").into_bytes()
}

/// 128 random bits in hex, from the OS (`/dev/urandom`); the process's
/// hash keys and the clock when it cannot be read.
fn token() -> String {
    use std::io::Read as _;
    let mut bytes = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        use std::hash::{BuildHasher as _, Hasher as _};
        for (i, half) in bytes.chunks_mut(8).enumerate() {
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_usize(i);
            hasher.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default(),
            );
            half.copy_from_slice(&hasher.finish().to_le_bytes());
        }
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("ferry-{hex}")
}

/// A shell's exit status 128 + N is what it reports for a command killed by
/// signal N: named as sshd names a signal that ended a command on its own
/// channel. Only the signals whose numbers every Linux architecture shares.
fn signal_of(status: u32) -> Option<&'static str> {
    Some(match status.checked_sub(128)? {
        1 => "HUP",
        2 => "INT",
        3 => "QUIT",
        4 => "ILL",
        6 => "ABRT",
        8 => "FPE",
        9 => "KILL",
        11 => "SEGV",
        13 => "PIPE",
        14 => "ALRM",
        15 => "TERM",
        _ => return None,
    })
}

/// Finds the end marker (`TOKEN`, then up to a newline) in a stream that
/// arrives in chunks, passing on the bytes before it. Bytes that could be
/// the start of a marker split across chunks are held back until the next
/// chunk tells.
#[derive(Debug)]
struct Marker {
    token: Vec<u8>,
    held: Vec<u8>,
    /// What followed the token up to its newline, once the newline came.
    rest: Option<Vec<u8>>,
}

impl Marker {
    fn new(token: &str) -> Marker {
        Marker {
            token: token.as_bytes().to_vec(),
            held: Vec::new(),
            rest: None,
        }
    }

    fn found(&self) -> bool {
        self.rest.is_some()
    }

    /// The status after the token (`TOKEN 3`).
    fn status(&self) -> Option<u32> {
        let rest = std::str::from_utf8(self.rest.as_deref()?).ok()?;
        rest.trim().parse().ok()
    }

    /// Takes `bytes`; returns those now known to come before the marker.
    fn push(&mut self, bytes: &[u8]) -> Vec<u8> {
        if self.rest.is_some() {
            return Vec::new();
        }
        self.held.extend_from_slice(bytes);
        if let Some(at) = find(&self.held, &self.token) {
            let after = &self.held[at + self.token.len()..];
            let Some(newline) = after.iter().position(|&b| b == b'\n') else {
                // The marker's line is not complete yet: pass on what is
                // before it and hold the rest.
                let before = self.held[..at].to_vec();
                self.held.drain(..at);
                return before;
            };
            self.rest = Some(after[..newline].to_vec());
            let before = self.held[..at].to_vec();
            self.held.clear();
            return before;
        }
        // Keep the longest tail that may begin the token.
        let keep = (1..self.token.len().min(self.held.len() + 1))
            .rev()
            .find(|&n| self.token.starts_with(&self.held[self.held.len() - n..]))
            .unwrap_or(0);
        let pass = self.held.len() - keep;
        self.held.drain(..pass).collect()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(marker: &mut Marker, chunks: &[&str]) -> String {
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend(marker.push(chunk.as_bytes()));
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn output_before_the_marker_passes_with_or_without_a_newline() {
        let mut m = Marker::new("ferry-ab");
        assert_eq!(feed(&mut m, &["hello", "ferry-ab 0\n"]), "hello");
        assert_eq!(m.status(), Some(0));
        let mut m = Marker::new("ferry-ab");
        assert_eq!(feed(&mut m, &["a\nb\n", "ferry-ab 3\n"]), "a\nb\n");
        assert_eq!(m.status(), Some(3));
    }

    #[test]
    fn a_marker_split_across_chunks_is_found_and_lookalikes_pass() {
        let mut m = Marker::new("ferry-ab");
        assert_eq!(feed(&mut m, &["x fer", "ry-a", "b 1", "7\n"]), "x ");
        assert_eq!(m.status(), Some(17));
        let mut m = Marker::new("ferry-ab");
        assert_eq!(feed(&mut m, &["ferry-ac ferr"]), "ferry-ac ");
        assert!(!m.found());
        assert_eq!(feed(&mut m, &["y\n"]), "ferry\n");
    }

    #[test]
    fn a_bare_marker_ends_stderr() {
        let mut m = Marker::new("ferry-ab");
        assert_eq!(feed(&mut m, &["oops", "ferry-ab\n"]), "oops");
        assert!(m.found());
        assert_eq!(m.status(), None);
    }

    #[test]
    fn the_request_counts_lines_and_stdin_bytes() {
        assert_eq!(request("t", "a\nb", None), b"t 2 -\na\nb\n".to_vec());
        assert_eq!(request("t", "a\n", Some(b"xyz")), b"t 1 3\na\n".to_vec());
    }

    #[test]
    fn tokens_differ_and_a_shell_status_names_its_signal() {
        assert_ne!(token(), token());
        assert_eq!(token().len(), "ferry-".len() + 32);
        assert_eq!(signal_of(143), Some("TERM"));
        assert_eq!(signal_of(137), Some("KILL"));
        assert_eq!(signal_of(3), None);
        assert_eq!(signal_of(200), None);
    }
}
