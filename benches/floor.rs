//! The SSH floor: ferry against plain OpenSSH on real sshd hosts on loopback.
//!
//! `cargo bench --bench floor` starts the hosts itself (test support code),
//! then measures, in one run so that ratios are comparable on a noisy
//! machine:
//!
//! - 20 trivial steps on 10 hosts: ferry (one playbook) against OpenSSH with
//!   a reused connection (ControlMaster, one `ssh` per command), and the
//!   marginal cost of one step per host against a raw russh round trip;
//! - one command on 50 hosts: `ferry run` against 50 `ssh` in parallel.
//!
//! Every address is on 127.0.0.0/8. Only the processes it starts are stopped.

#[path = "support/timing.rs"]
#[allow(dead_code)]
mod timing;

#[path = "../tests/it/support/sshd.rs"]
#[allow(dead_code)]
mod sshd;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferry::transport::{ConnectOptions, Session};
use sshd::TestHosts;
use timing::{measure, ms, ratio};

const RUNS: usize = 5;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(RUNS);
    let ferry = PathBuf::from(env!("CARGO_BIN_EXE_ferry"));
    println!("# ferry vs the OpenSSH floor ({runs} runs each, median [min–max])\n");
    println!("machine: {} cores; {}", cores(), ssh_version());
    println!();

    let ten = TestHosts::start(10);
    let project = Project::new(&ten);
    project.playbook("one.yml", 1);
    project.playbook("twenty.yml", 21);
    let ferry_one = measure(runs, || {
        project.ferry(
            &ferry,
            &["playbook", "one.yml", "-i", "inventory/bench.ini"],
        )
    });
    let ferry_twenty = measure(runs, || {
        project.ferry(
            &ferry,
            &["playbook", "twenty.yml", "-i", "inventory/bench.ini"],
        )
    });
    let masters = Masters::start(&ten);
    let ssh_one = measure(runs, || masters.commands(1));
    let ssh_twenty = measure(runs, || masters.commands(21));
    drop(masters);
    let russh = russh_round_trip(&ten);
    let raw_one = measure(runs, || russh_all(&ten, 1));
    let raw_twenty = measure(runs, || russh_all(&ten, 21));

    let ferry_step = (ferry_twenty.median - ferry_one.median) / 20;
    let ssh_step = (ssh_twenty.median - ssh_one.median) / 20;
    let raw_step = (raw_twenty.median - raw_one.median) / 20;
    println!("## 20 trivial steps on 10 hosts\n");
    println!("| | wall | per extra step per host |");
    println!("|---|---|---|");
    println!(
        "| ferry (one playbook, 21 steps) | {} | {} |",
        ferry_twenty,
        ms(ferry_step)
    );
    println!(
        "| OpenSSH, ControlMaster (21 `ssh` per host) | {} | {} |",
        ssh_twenty,
        ms(ssh_step)
    );
    println!(
        "| raw russh, same 21 `true` per host, all hosts at once | {} | {} |",
        raw_twenty,
        ms(raw_step)
    );
    println!(
        "| raw russh round trip, one host alone (`true`, p50 of 200) | — | {} |",
        ms(russh)
    );
    println!();
    println!(
        "ratios: ferry/OpenSSH wall {:.2}×; ferry per step / raw russh per step under the same load {:.2}×\n",
        ratio(ferry_twenty.median, ssh_twenty.median),
        ratio(ferry_step, raw_step)
    );
    drop(project);
    drop(ten);

    let fifty = TestHosts::start(50);
    let project = Project::new(&fifty);
    let ferry_fifty = measure(runs, || {
        project.ferry(&ferry, &["run", "bench", "--", "true"])
    });
    let ssh_fifty = measure(runs, || fresh_ssh_all(&fifty));
    println!("## one command on 50 hosts (new connections)\n");
    println!("| | wall |");
    println!("|---|---|");
    println!("| `ferry run bench -- true` | {ferry_fifty} |");
    println!("| 50 × `ssh host true` in parallel | {ssh_fifty} |");
    println!();
    println!(
        "ratio: ferry/OpenSSH {:.2}×",
        ratio(ferry_fifty.median, ssh_fifty.median)
    );
}

/// A scratch project whose inventory lists the hosts and whose HOME trusts them.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(hosts: &TestHosts) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("inventory")).unwrap();
        std::fs::create_dir_all(dir.path().join(".ssh")).unwrap();
        std::fs::write(
            dir.path().join("inventory/bench.ini"),
            hosts.inventory_ini("web"),
        )
        .unwrap();
        std::fs::copy(&hosts.known_hosts, dir.path().join(".ssh/known_hosts")).unwrap();
        Project { dir }
    }

    fn playbook(&self, name: &str, steps: usize) {
        let tasks: String = (0..steps)
            .map(|i| format!("    - name: step {i}\n      command: 'true'\n"))
            .collect();
        std::fs::write(
            self.dir.path().join(name),
            format!("- hosts: web\n  tasks:\n{tasks}"),
        )
        .unwrap();
    }

    fn ferry(&self, bin: &Path, args: &[&str]) {
        let out = Command::new(bin)
            .args(args)
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ferry failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn ssh_base(hosts: &TestHosts, host: &sshd::TestHost) -> Command {
    let mut cmd = hosts.ssh(host);
    cmd.stdin(Stdio::null()).stdout(Stdio::null());
    cmd
}

/// One ControlMaster per host, stopped on drop (`ssh -O exit`).
struct Masters<'a> {
    hosts: &'a TestHosts,
    sockets: Vec<PathBuf>,
}

impl<'a> Masters<'a> {
    fn start(hosts: &'a TestHosts) -> Masters<'a> {
        let sockets: Vec<PathBuf> = hosts.hosts.iter().map(|h| h.dir.join("ctl.sock")).collect();
        for (h, sock) in hosts.hosts.iter().zip(&sockets) {
            let mut cmd = ssh_base(hosts, h);
            cmd.args(["-M", "-N", "-f", "-o", "ControlPersist=120", "-S"])
                .arg(sock);
            assert!(
                cmd.status().unwrap().success(),
                "ControlMaster for {}",
                h.name
            );
        }
        Masters { hosts, sockets }
    }

    /// `count` sequential `ssh true` per host, all hosts in parallel.
    fn commands(&self, count: usize) {
        std::thread::scope(|scope| {
            for (h, sock) in self.hosts.hosts.iter().zip(&self.sockets) {
                scope.spawn(move || {
                    for _ in 0..count {
                        let mut cmd = ssh_base(self.hosts, h);
                        cmd.arg("-S").arg(sock).arg("true");
                        assert!(cmd.status().unwrap().success());
                    }
                });
            }
        });
    }
}

impl Drop for Masters<'_> {
    fn drop(&mut self) {
        for (h, sock) in self.hosts.hosts.iter().zip(&self.sockets) {
            let mut cmd = ssh_base(self.hosts, h);
            cmd.arg("-S")
                .arg(sock)
                .args(["-O", "exit"])
                .stderr(Stdio::null());
            let _ = cmd.status();
        }
    }
}

fn fresh_ssh_all(hosts: &TestHosts) {
    let mut children: Vec<_> = hosts
        .hosts
        .iter()
        .map(|h| ssh_base(hosts, h).arg("true").spawn().unwrap())
        .collect();
    for child in &mut children {
        assert!(child.wait().unwrap().success());
    }
}

/// `count` sequential `true` execs per host on established sessions, all
/// hosts at once: the transport's floor under the same load as ferry's.
fn russh_all(hosts: &TestHosts, count: usize) {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Runtime::new().unwrap();
    }
    RUNTIME.with(|runtime| {
        runtime.block_on(async {
            let sessions = futures::future::join_all(hosts.hosts.iter().map(|h| async {
                Session::connect(&h.target(), &hosts.trust(), &ConnectOptions::default())
                    .await
                    .unwrap()
            }))
            .await;
            futures::future::join_all(sessions.iter().map(|s| async move {
                for _ in 0..count {
                    s.exec("true", None, &mut |_, _| {}).await.unwrap();
                }
            }))
            .await;
            for s in sessions {
                s.close().await;
            }
        })
    });
}

/// p50 of 200 sequential `true` execs on one established russh session.
fn russh_round_trip(hosts: &TestHosts) -> Duration {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let session = Session::connect(
            &hosts.hosts[0].target(),
            &hosts.trust(),
            &ConnectOptions::default(),
        )
        .await
        .unwrap();
        let mut times = Vec::new();
        for _ in 0..200 {
            let start = Instant::now();
            session.exec("true", None, &mut |_, _| {}).await.unwrap();
            times.push(start.elapsed());
        }
        times.sort();
        times[times.len() / 2]
    })
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn ssh_version() -> String {
    let out = Command::new("ssh").arg("-V").output().unwrap();
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}
