//! One long-lived remote shell per host: commands run back to back in it,
//! so a login shell whose rc file is slow is paid once per host, while each
//! command keeps its exit status, its own stdout and stderr, its own stdin,
//! and its failures. Real sshd hosts whose bash reads a slow rc file
//! (`.bashrc` in a home of the test's own, which Debian's bash sources for
//! every command sshd runs).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::sshd::{TestHosts, random};
use ferry::transport::{ConnectOptions, ExecOutput, Session, Stream, stdin_from};

/// A host whose login shell sleeps 0.2 s and counts its starts in
/// `rc.count`, before any command.
struct SlowHost {
    hosts: TestHosts,
    rc_dir: PathBuf,
}

impl SlowHost {
    fn start(extra: &str) -> SlowHost {
        let rc_dir = std::env::temp_dir().join(format!("ferry-slow-rc-{:x}", random()));
        std::fs::create_dir_all(&rc_dir).unwrap();
        let rc = rc_dir.join(".bashrc");
        std::fs::write(
            &rc,
            format!(
                "sleep 0.2\necho start >> {}\n",
                rc_dir.join("rc.count").display()
            ),
        )
        .unwrap();
        let hosts = TestHosts::start_with(1, &format!("SetEnv HOME={}\n{extra}", rc_dir.display()));
        SlowHost { hosts, rc_dir }
    }

    fn starts(&self) -> usize {
        std::fs::read_to_string(self.rc_dir.join("rc.count"))
            .unwrap_or_default()
            .lines()
            .count()
    }

    async fn session(&self, shell: bool) -> Session {
        let options = ConnectOptions {
            shell,
            ..ConnectOptions::default()
        };
        Session::connect(&self.hosts.hosts[0].target(), &self.hosts.trust(), &options)
            .await
            .unwrap()
    }
}

impl Drop for SlowHost {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.rc_dir);
    }
}

async fn run(session: &Session, command: &str, stdin: Option<&[u8]>) -> ExecOutput {
    session
        .exec(
            command,
            stdin.map(|b| stdin_from(b.to_vec())),
            &mut |_, _| {},
        )
        .await
        .unwrap_or_else(|e| panic!("`{command}` failed: {e}"))
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

/// Ten commands: without the shell each starts the slow login shell; with
/// it, one start in all, and each command costs what it costs on a host
/// with no rc file at all (within a margin for a loaded machine).
#[tokio::test]
async fn a_slow_login_shell_starts_once_per_host_not_once_per_command() {
    let host = SlowHost::start("");
    let per_step = |session: Session| async move {
        run(&session, "true", None).await;
        let started = Instant::now();
        for i in 0..10 {
            let out = run(&session, &format!("echo {i}"), None).await;
            assert_eq!(text(&out.stdout), format!("{i}\n"));
        }
        started.elapsed() / 10
    };
    let before = host.starts();
    let with_exec = per_step(host.session(false).await).await;
    assert_eq!(host.starts() - before, 11, "one login shell per command");
    let before = host.starts();
    let with_shell = per_step(host.session(true).await).await;
    assert_eq!(host.starts() - before, 1, "one login shell in all");
    assert!(with_exec >= Duration::from_millis(200), "{with_exec:?}");
    assert!(
        with_shell < Duration::from_millis(60),
        "per command: {with_shell:?} in the shell, {with_exec:?} each on its own"
    );
}

#[tokio::test]
async fn each_command_keeps_its_status_streams_and_last_byte() {
    let host = SlowHost::start("");
    let session = host.session(true).await;
    let mut chunks = Vec::new();
    let out = session
        .exec(
            "printf out; printf err >&2; exit 3",
            None,
            &mut |stream, bytes| chunks.push((stream, bytes.to_vec())),
        )
        .await
        .unwrap();
    assert_eq!((out.status, out.signal.as_deref()), (Some(3), None));
    assert_eq!(text(&out.stdout), "out");
    assert_eq!(text(&out.stderr), "err");
    let streamed: Vec<u8> = chunks
        .iter()
        .filter(|(s, _)| *s == Stream::Stdout)
        .flat_map(|(_, b)| b.clone())
        .collect();
    assert_eq!(text(&streamed), "out");

    // A command that prints what looks like the protocol's lines.
    let out = run(
        &session,
        "echo 'ferry-00 0'; echo 'ferry-00' >&2; echo ok",
        None,
    )
    .await;
    assert_eq!(text(&out.stdout), "ferry-00 0\nok\n");
    assert_eq!(text(&out.stderr), "ferry-00\n");

    // Killed by a signal, named as sshd names it.
    let out = run(&session, "kill -TERM $$", None).await;
    assert_eq!((out.status, out.signal.as_deref()), (None, Some("TERM")));

    // No variable or directory leaks from one command to the next.
    let home = run(&session, "pwd", None).await.stdout;
    run(&session, "x=1; export Y=2; cd /tmp", None).await;
    let out = run(&session, "echo \"[$x][$Y]\"; pwd", None).await;
    assert_eq!(text(&out.stdout), format!("[][]\n{}", text(&home)));
    assert_eq!(host.starts(), 1);
}

#[tokio::test]
async fn a_command_reading_stdin_gets_its_own_bytes_and_never_the_next_command() {
    let host = SlowHost::start("");
    let session = host.session(true).await;
    // No stdin: EOF at once, not the next request.
    let out = run(&session, "cat; echo done", None).await;
    assert_eq!(text(&out.stdout), "done\n");

    // Binary bytes, with NULs, newlines and lines that look like requests.
    let mut blob = b"ferry-x 1 -\necho pwned\n\0\xff".to_vec();
    let mut state = random();
    while blob.len() < 200_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        blob.extend_from_slice(&state.to_le_bytes());
    }
    let out = run(&session, "od -An -tx1 | tr -d ' \\n'", Some(&blob)).await;
    let hex: String = blob.iter().map(|b| format!("{b:02x}")).collect();
    assert!(text(&out.stdout) == hex, "the bytes differ");

    // A command that reads part of its stdin, or none of it: the rest is
    // dropped, not run as the next command.
    let out = run(&session, "head -c 4", Some(b"abcdef\necho pwned\n")).await;
    assert_eq!(text(&out.stdout), "abcd");
    let out = run(&session, "exit 0", Some(b"echo pwned\n")).await;
    assert_eq!(out.status, Some(0));
    let out = run(&session, "echo next", None).await;
    assert_eq!(text(&out.stdout), "next\n");

    // More than the shell takes at once: a channel of its own, streamed.
    let big = vec![b'x'; 600_000];
    let out = run(&session, "wc -c", Some(&big)).await;
    assert_eq!(text(&out.stdout).trim(), "600000");
    assert_eq!(host.starts(), 2, "the big upload had its own login shell");
}

/// A command that replaces or kills the shell it runs in fails on its own;
/// the next command gets a new shell. Replacing its own process is fine.
#[tokio::test]
async fn a_command_that_kills_its_shell_fails_and_the_next_gets_a_new_one() {
    let host = SlowHost::start("");
    let session = host.session(true).await;
    let out = run(&session, "exec echo replaced", None).await;
    assert_eq!(text(&out.stdout), "replaced\n");
    for kill in ["kill -KILL $PPID", "kill -TERM $PPID", "kill -HUP $PPID"] {
        let ended = tokio::time::timeout(
            Duration::from_secs(10),
            session.exec(kill, None, &mut |_, _| {}),
        )
        .await
        .expect("does not hang");
        let error = ended.unwrap_err().to_string();
        assert!(error.contains("remote shell ended"), "{kill}: {error}");
        let out = run(&session, "echo again", None).await;
        assert_eq!(text(&out.stdout), "again\n");
    }
    assert_eq!(host.starts(), 4);
}

/// Abandoned midway (a step's timeout): the next command runs at once in
/// a new shell, and the abandoned one can be stopped by the pid it gave, as
/// the executor stops it — with its children (its own process group).
#[tokio::test]
async fn an_abandoned_command_is_stoppable_by_its_pid_and_the_next_runs() {
    let host = SlowHost::start("");
    let session = host.session(true).await;
    let pid_file = host.rc_dir.join("sleeper.pid");
    let command = format!("echo $$ > {}; sleep 30 & sleep 30", pid_file.display());
    let abandoned = tokio::time::timeout(
        Duration::from_millis(700),
        session.exec(&command, None, &mut |_, _| {}),
    )
    .await;
    assert!(abandoned.is_err(), "sleep 30 finished early");
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_string();
    let started = Instant::now();
    let out = run(
        &session,
        &format!("kill -TERM -- -{pid}; echo stopped"),
        None,
    )
    .await;
    assert_eq!(text(&out.stdout), "stopped\n");
    assert!(started.elapsed() < Duration::from_secs(2));
    let gone = format!(
        "for i in $(seq 30); do pgrep -g {pid} >/dev/null || exit 0; sleep 0.1; done; exit 1"
    );
    assert_eq!(run(&session, &gone, None).await.status, Some(0));
}

/// Where the shell cannot run (here: no `setsid` on the PATH), each
/// command gets a channel of its own, as before.
#[tokio::test]
async fn without_setsid_each_command_gets_its_own_channel() {
    let bin = std::env::temp_dir().join(format!("ferry-nosetsid-{:x}", random()));
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["sh", "bash", "head", "cat", "sleep", "echo"] {
        link(&which(tool), &bin.join(tool));
    }
    let rc_dir = std::env::temp_dir().join(format!("ferry-slow-rc-{:x}", random()));
    std::fs::create_dir_all(&rc_dir).unwrap();
    let rc = rc_dir.join(".bashrc");
    std::fs::write(
        &rc,
        format!("echo start >> {}\n", rc_dir.join("rc.count").display()),
    )
    .unwrap();
    let hosts = TestHosts::start_with(
        1,
        &format!("SetEnv HOME={} PATH={}", rc_dir.display(), bin.display()),
    );
    let session = Session::connect(
        &hosts.hosts[0].target(),
        &hosts.trust(),
        &ConnectOptions::default(),
    )
    .await
    .unwrap();
    for i in 0..3 {
        let out = run(&session, &format!("echo {i}; exit {i}"), None).await;
        assert_eq!(
            (text(&out.stdout), out.status),
            (&*format!("{i}\n"), Some(i))
        );
    }
    let starts = std::fs::read_to_string(rc_dir.join("rc.count")).unwrap();
    // The shell's one failed start, then one per command.
    assert_eq!(starts.lines().count(), 4, "{starts}");
    let _ = std::fs::remove_dir_all(&rc_dir);
    let _ = std::fs::remove_dir_all(&bin);
}

fn which(tool: &str) -> PathBuf {
    ["/usr/bin", "/bin"]
        .iter()
        .map(|dir| Path::new(dir).join(tool))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("no {tool}"))
}

fn link(from: &Path, to: &Path) {
    std::os::unix::fs::symlink(from, to).unwrap();
}
