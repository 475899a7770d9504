//! Runs the real `ferry` binary on a real terminal: a pane of a tmux server
//! of the test's own, whose screen and scrollback are what a person at the
//! terminal would see (indicatif's live lines drawn and erased, the output
//! printed above them), not the bytes ferry wrote.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::ferry::ferry_bin;
use super::sshd::random;

/// A tmux server on a socket of its own; dropping it stops that server.
pub struct Tty {
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tty {
    /// Runs `ferry ARGS` in `dir` (HOME=`dir`, as [`super::ferry::run_ferry`])
    /// on a `cols`×`rows` terminal and waits up to `timeout` for it to exit.
    /// Returns its exit status and every line of the screen and scrollback.
    pub fn run_ferry(
        dir: &Path,
        args: &[&str],
        cols: u16,
        rows: u16,
        timeout: Duration,
    ) -> (i32, String) {
        let tty = Tty::start_ferry(dir, args, cols, rows);
        let code = tty.wait(timeout);
        (code, tty.screen())
    }

    /// Starts `ferry ARGS` as [`Tty::run_ferry`] does, without waiting:
    /// for a test that types into it ([`Tty::send`]).
    pub fn start_ferry(dir: &Path, args: &[&str], cols: u16, rows: u16) -> Tty {
        let tmp = tempfile::tempdir().expect("temp dir");
        let tty = Tty {
            socket: tmp.path().join(format!("tmux-{:x}", random() & 0xffff)),
            _dir: tmp,
        };
        // A history long enough for every line ferry prints (set before
        // the pane exists: a pane keeps the limit it was made with).
        std::fs::write(tty.config(), "set-option -g history-limit 100000\n").expect("tmux.conf");
        let mut command = shlex::try_join(
            std::iter::once(ferry_bin().to_str().expect("utf-8 path")).chain(args.iter().copied()),
        )
        .expect("quotable arguments");
        // The status goes to a file, so that the screen holds only ferry's
        // output; the pane stays open for capture-pane.
        let status = tty._dir.path().join("status");
        command.push_str(&format!(
            "; echo $? > {}; sleep 600",
            shlex::try_quote(status.to_str().expect("utf-8 path")).expect("quotable")
        ));
        let mut start = tty.tmux();
        start
            .current_dir(dir)
            .args([
                "new-session",
                "-d",
                "-x",
                &cols.to_string(),
                "-y",
                &rows.to_string(),
            ])
            .args(["-e", &format!("HOME={}", dir.display())])
            .arg(command);
        super::succeed(&mut start);
        tty
    }

    /// Waits up to `timeout` for ferry to exit; its exit status.
    pub fn wait(&self, timeout: Duration) -> i32 {
        let status = self._dir.path().join("status");
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(text) = std::fs::read_to_string(&status)
                && let Ok(code) = text.trim().parse::<i32>()
            {
                return code;
            }
            assert!(
                Instant::now() < deadline,
                "ferry did not end within {timeout:?}:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Types `text` and Enter into the pane, as a person would.
    pub fn send_line(&self, text: &str) {
        super::succeed(self.tmux().args(["send-keys", "-l", text]));
        super::succeed(self.tmux().args(["send-keys", "Enter"]));
    }

    /// Waits up to `timeout` for `text` to be on the screen; the screen.
    pub fn wait_for(&self, text: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "no `{text}` on the screen within {timeout:?}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The pane's scrollback and screen, trailing blanks trimmed.
    pub fn screen(&self) -> String {
        super::succeed(
            self.tmux()
                .args(["capture-pane", "-p", "-J", "-S", "-", "-E", "-"]),
        )
    }

    fn config(&self) -> PathBuf {
        self._dir.path().join("tmux.conf")
    }

    /// tmux on this server's socket, with its own config, not the user's.
    fn tmux(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("TERM", "xterm-256color")
            .arg("-S")
            .arg(&self.socket)
            .arg("-f")
            .arg(self.config());
        cmd
    }
}

impl Drop for Tty {
    fn drop(&mut self) {
        let _ = self
            .tmux()
            .arg("kill-server")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}
