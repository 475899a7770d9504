//! A Capistrano-style deploy, ferry against a plain OpenSSH script.
//!
//! `cargo bench --bench deploy` generates an app (200 files, ~2 MB) in a git
//! repository, starts real sshd hosts on loopback, and measures in one run:
//!
//! - a full deploy to 1, 10 and 50 fresh hosts: `ferry deploy` against one
//!   `ssh` per host in parallel, each piping `git archive` into a script
//!   that makes the release, switches `current` and cleans up — the floor;
//! - an unchanged redeploy to 50 hosts (ferry's every step `ok`);
//! - a one-file change redeployed to 50 hosts, and the bytes sent per host.
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
use std::time::Duration;

use sshd::TestHosts;
use timing::{measure_after, ratio};

const FILES: usize = 200;
/// Timed runs per row (each full deploy goes to a fresh directory, so no
/// warm-up run).
const RUNS: usize = 3;
const FILE_BYTES: usize = 10_000;

fn main() {
    let ferry = PathBuf::from(env!("CARGO_BIN_EXE_ferry"));
    let hosts = TestHosts::start(50);
    let app = App::new(&hosts);
    println!("# ferry deploy vs a plain OpenSSH script (median of 3 [min–max])\n");
    println!(
        "app: {FILES} files, {:.1} MB, in git; {} cores; {}\n",
        (FILES * FILE_BYTES) as f64 / 1e6,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        ssh_version()
    );
    println!("| hosts | ferry deploy | OpenSSH script | ratio |");
    println!("|---|---|---|---|");
    let mut run = 0;
    for n in [1, 10, 50] {
        let ferry_full = measure_after(
            RUNS,
            || {},
            || {
                run += 1;
                app.ferry(&ferry, n, run, &[]);
            },
        );
        let ssh_full = measure_after(
            RUNS,
            || {},
            || {
                run += 1;
                app.openssh(&hosts, n, run);
            },
        );
        println!(
            "| {n} | {ferry_full} | {ssh_full} | {:.2}× |",
            ratio(ferry_full.median, ssh_full.median)
        );
    }
    // Redeploys of the last ferry run's directory on 50 hosts.
    run += 1;
    app.ferry(&ferry, 50, run, &[]);
    let unchanged = measure_after(
        RUNS,
        || {},
        || {
            app.ferry(&ferry, 50, run, &[]);
        },
    );
    let mut version = 0;
    let mut sent = Vec::new();
    let one_file = measure_after(
        RUNS,
        || {
            version += 1;
            app.change_one_file(version);
        },
        || sent = app.ferry(&ferry, 50, run, &[]),
    );
    let max_sent = sent.iter().copied().max().unwrap_or(0);
    println!();
    println!("| 50 hosts | ferry |");
    println!("|---|---|");
    println!("| unchanged redeploy | {unchanged} |");
    println!("| one file changed | {one_file}, at most {max_sent} bytes sent per host |");
}

/// The generated app, its git repository, and a project to deploy it from.
struct App {
    dir: tempfile::TempDir,
}

impl App {
    fn new(hosts: &TestHosts) -> App {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for i in 0..FILES {
            let path = root.join(format!("app/pkg{}/module{i}.py", i % 10));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let line = format!("# module {i}: {}\n", "x".repeat(60));
            std::fs::write(&path, line.repeat(FILE_BYTES / line.len() + 1)).unwrap();
        }
        std::fs::write(
            root.join("deploy.yml"),
            "- hosts: web\n  vars:\n    deploy_to: \"{{ base_dir }}/run{{ run }}\"\n    keep_releases: 3\n  tasks:\n    - release.upload: {}\n    - release.switch: {}\n    - release.cleanup: {}\n",
        )
        .unwrap();
        std::fs::create_dir_all(root.join("inventory/host_vars")).unwrap();
        std::fs::write(root.join("inventory/bench.ini"), hosts.inventory_ini("web")).unwrap();
        for h in &hosts.hosts {
            let vars = format!("base_dir: {}\n", h.dir.display());
            std::fs::write(
                root.join(format!("inventory/host_vars/{}.yml", h.name)),
                vars,
            )
            .unwrap();
        }
        std::fs::create_dir_all(root.join(".ssh")).unwrap();
        std::fs::copy(&hosts.known_hosts, root.join(".ssh/known_hosts")).unwrap();
        std::fs::write(root.join(".gitignore"), ".ssh/\ninventory/\n").unwrap();
        git(root, &["init", "-q", "-b", "main"]);
        git(root, &["config", "user.email", "bench@example.org"]);
        git(root, &["config", "user.name", "Bench"]);
        git(root, &["add", "-A"]);
        git(root, &["commit", "-q", "-m", "app"]);
        App { dir }
    }

    fn change_one_file(&self, version: usize) {
        let path = self.dir.path().join("app/pkg0/module0.py");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(&format!("VERSION = {version}\n"));
        std::fs::write(path, text).unwrap();
        git(self.dir.path(), &["commit", "-q", "-am", "one file"]);
        // Release ids have one-second resolution.
        std::thread::sleep(Duration::from_millis(1000));
    }

    /// `ferry deploy` to the first `n` hosts into `run<run>`; returns the
    /// bytes sent to each host.
    fn ferry(&self, bin: &Path, n: usize, run: usize, extra: &[&str]) -> Vec<u64> {
        let limit = format!("web[0:{}]", n - 1);
        let run = format!("run={run}");
        let mut args = vec!["deploy", "bench", "--json", "--limit", &limit, "-e", &run];
        args.extend_from_slice(extra);
        let out = Command::new(bin)
            .args(&args)
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "ferry failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["event"] == "step_end" && e["name"] == "release.upload")
            .filter_map(|e| {
                let reason = e["reason"].as_str()?.to_string();
                let bytes = reason.split(", ").nth(1)?.split(' ').next()?.parse().ok();
                bytes.or(Some(0))
            })
            .collect()
    }

    /// The floor: per host, in parallel, `git archive | ssh host script`.
    fn openssh(&self, hosts: &TestHosts, n: usize, run: usize) {
        let id = format!("{}-bench", 20260000000000u64 + run as u64);
        std::thread::scope(|scope| {
            for h in &hosts.hosts[..n] {
                let id = &id;
                scope.spawn(move || {
                    let deploy_to = h.dir.join(format!("ssh{run}"));
                    let script = format!(
                        "set -e; d={dt}; r=$d/releases/{id}; mkdir -p $r $d/shared; tar -x -C $r; \
                         echo HEAD > $r/REVISION; ln -s releases/{id} $d/current.tmp; \
                         mv -T $d/current.tmp $d/current; \
                         ls -1d $d/releases/* | head -n -3 | xargs -r rm -rf",
                        dt = deploy_to.display()
                    );
                    let mut archive = Command::new("git")
                        .args(["archive", "HEAD"])
                        .current_dir(self.dir.path())
                        .stdout(Stdio::piped())
                        .spawn()
                        .unwrap();
                    let status = hosts
                        .ssh(h)
                        .arg(script)
                        .stdin(archive.stdout.take().unwrap())
                        .stdout(Stdio::null())
                        .status()
                        .unwrap();
                    assert!(archive.wait().unwrap().success());
                    assert!(status.success(), "openssh deploy to {}", h.name);
                });
            }
        });
    }
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

fn ssh_version() -> String {
    let out = Command::new("ssh").arg("-V").output().unwrap();
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}
