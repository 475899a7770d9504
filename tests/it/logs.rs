//! `ferry logs`: the app's process logs from every host — supervisor's log
//! files on plain sshd hosts here, journald on systemd servers in
//! servers/flask_systemd.rs — and `-f` following until Ctrl-C.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::apps::{App, Supervisors};
use crate::support::ferry::{Project, ferry_bin};
use crate::support::sshd::TestHosts;

/// `ferry ARGS` in `dir`, its stdout read line by line as it comes.
pub fn spawn_reading(dir: &Path, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(ferry_bin())
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run ferry");
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Reads lines until one satisfies `found`, for up to `within`.
pub fn wait_for_line(
    rx: &mpsc::Receiver<String>,
    within: Duration,
    found: impl Fn(&str) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => {
                let done = found(&line);
                seen.push(line);
                if done {
                    return seen;
                }
            }
            Err(_) => break,
        }
    }
    panic!("no such line within {within:?}; saw:\n{}", seen.join("\n"));
}

/// SIGINT, as Ctrl-C sends it, then the exit status within `within`.
pub fn interrupt(child: &mut Child, within: Duration) -> i32 {
    // SAFETY: a plain kill(2) of the child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        assert!(Instant::now() < deadline, "ferry did not end after Ctrl-C");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn append(path: &Path, line: &str) {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    writeln!(file, "{line}").unwrap();
}

/// Processes on this machine whose command line mentions `needle`.
fn running(needle: &str) -> Vec<String> {
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    String::from_utf8_lossy(&ps.stdout)
        .lines()
        .filter(|l| l.contains(needle) && !l.contains("ps -eo"))
        .map(str::to_string)
        .collect()
}

#[test]
fn logs_of_supervisor_programs_from_every_host_then_follow_until_ctrl_c() {
    let hosts = TestHosts::start(2);
    let supervisors = Supervisors::start(&hosts);
    let app = App::new("flask-hello", &hosts, &supervisors, "");
    let (out, _) = app.project.ferry_json(&["deploy", "test"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let log = |i: usize, name: &str| {
        hosts.hosts[i]
            .dir
            .join(format!("app/shared/log/{name}.log"))
    };
    // gunicorn's own start lines, as supervisor wrote them, from both hosts.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(0..2).all(|i| {
        std::fs::read_to_string(log(i, "web-1"))
            .unwrap_or_default()
            .contains("Booting worker")
    }) {
        assert!(Instant::now() < deadline, "gunicorn never logged its start");
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = app.project.ferry(&["logs", "test", "web"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    for h in &hosts.hosts {
        for process in ["web-1", "web-2"] {
            let prefix = format!("{}  {process} | ", h.name);
            assert!(
                out.stdout
                    .lines()
                    .any(|l| l.starts_with(&prefix) && l.contains("Booting worker")),
                "no `{prefix}…Booting worker`:\n{}",
                out.stdout
            );
        }
    }
    assert!(
        !out.stdout.contains("worker-1 |"),
        "only `web`:\n{}",
        out.stdout
    );

    // -n: the latest lines of each file.
    append(&log(0, "worker-1"), "one");
    append(&log(0, "worker-1"), "two");
    let out = app.project.ferry(&[
        "logs",
        "test",
        "worker",
        "-n",
        "1",
        "-l",
        &hosts.hosts[0].name,
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        format!("{}  worker-1 | two\n", hosts.hosts[0].name)
    );

    // -f: history, then what is written from then on, until Ctrl-C.
    let (mut child, rx) = spawn_reading(
        app.project.path(),
        &["logs", "test", "worker", "-f", "-n", "1"],
    );
    let host2 = &hosts.hosts[1].name;
    wait_for_line(&rx, Duration::from_secs(20), |l| {
        l == format!("{}  worker-1 | two", hosts.hosts[0].name)
    });
    // The followers are up once the history is printed and they have
    // started; a line written now is new.
    std::thread::sleep(Duration::from_millis(1500));
    append(&log(1, "worker-1"), "three, written while following");
    wait_for_line(&rx, Duration::from_secs(20), |l| {
        l == format!("{host2}  worker-1 | three, written while following")
    });
    let status = interrupt(&mut child, Duration::from_secs(10));
    assert_eq!(status, 0, "Ctrl-C ends a follow cleanly");
    // Nothing is left following on the hosts.
    let deadline = Instant::now() + Duration::from_secs(5);
    let needle = log(1, "worker-1").display().to_string();
    while !running(&needle).is_empty() {
        assert!(
            Instant::now() < deadline,
            "left on the host: {:?}",
            running(&needle)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn logs_of_a_stage_without_releases_is_refused_before_connecting() {
    let project = Project::new();
    project.file(
        "deploy.yml",
        "- hosts: all\n  tasks:\n    - command: \"true\"\n",
    );
    project.file(
        "inventory/test.ini",
        "[web]\nweb1 ansible_host=127.0.0.1 ansible_port=9\n",
    );
    let out = project.ferry(&["logs", "test"]);
    assert_eq!(out.status, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("no host with release steps"),
        "{}",
        out.stderr
    );
}
