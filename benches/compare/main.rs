//! ferry side by side with Ansible, pyinfra and the OpenSSH floor.
//!
//! `bench/run` (which installs the peers, then runs this with
//! `cargo bench --bench compare -- ARGS`) starts real sshd hosts on
//! 127.x.y.z (the test support code), generates one app in a git
//! repository, and measures in one run, so that ratios compare:
//!
//! 1. the same Capistrano-style deploy with every tool at 1 to 500 hosts,
//!    checking after every run that each host's `current` is a complete
//!    release of the right commit;
//! 2. ferry's and the floor's redeploys (unchanged, one file changed);
//! 3. 20 trivial steps on 10 hosts: the marginal cost of a step;
//! 4. deploy and steps again through a relay adding 0, 20 and 80 ms of
//!    round-trip time in front of every host;
//! 5. with `--fleet N`: the full deploy again, to N real Debian servers
//!    (systemd-nspawn containers booted with systemd: `tests/fleet/fleet`).
//!
//! Each row: wall time (median [min–max] of the runs), controller CPU and
//! peak memory (the tool's whole process tree), host CPU (every sshd and
//! session). A markdown report and the raw figures (JSON, for the plot) go
//! to `--out`. Every address is on 127.0.0.0/8; only the processes this
//! starts are stopped.

#[path = "../../tests/it/support/sshd.rs"]
#[allow(dead_code)]
mod sshd;

#[path = "../../tests/it/support/fleet.rs"]
#[allow(dead_code)]
mod fleet;

mod app;
mod measure;
mod relay;
mod report;
mod tools;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use app::App;
use measure::Meter;
use relay::Relays;
use report::{Report, Row};
use sshd::TestHosts;
use tools::{Endpoint, Tool, Tools};

/// What to run, from the command line.
struct Options {
    runs: usize,
    hosts: Vec<usize>,
    rtts: Vec<u64>,
    tools: Vec<Tool>,
    /// Which parts to run: deploy, redeploy, steps, latency.
    phases: Vec<String>,
    /// A tool is not run at a host count where one run would take longer
    /// (predicted linearly from its largest measured count).
    cap: Duration,
    out: PathBuf,
    venv: PathBuf,
    /// Debian servers to deploy to as well (0: none).
    fleet: usize,
}

impl Options {
    fn parse() -> Options {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let quick = args.iter().any(|a| a == "--quick");
        let value = |name: &str| {
            args.iter()
                .position(|a| a == name)
                .and_then(|i| args.get(i + 1))
                .cloned()
        };
        let list = |name: &str, default: &str| -> Vec<u64> {
            value(name)
                .unwrap_or_else(|| default.to_string())
                .split(',')
                .map(|n| n.trim().parse().expect("a number"))
                .collect()
        };
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
        let tools = value("--tools").map_or(Tool::ALL.to_vec(), |names| {
            names
                .split(',')
                .map(|n| Tool::parse(n).unwrap_or_else(|| panic!("unknown tool `{n}`")))
                .collect()
        });
        Options {
            runs: value("--runs").map_or(if quick { 1 } else { 3 }, |n| n.parse().unwrap()),
            hosts: list("--hosts", if quick { "1,10" } else { "1,10,50,200,500" })
                .into_iter()
                .map(|n| n as usize)
                .collect(),
            rtts: list("--rtts", if quick { "0,20" } else { "0,20,80" }),
            tools,
            phases: value("--phases")
                .unwrap_or_else(|| "deploy,redeploy,steps,latency".into())
                .split(',')
                .map(str::to_string)
                .collect(),
            cap: Duration::from_secs(value("--cap").map_or(240, |n| n.parse().unwrap())),
            out: value("--out").map_or(target.join("bench-results"), PathBuf::from),
            venv: value("--venv").map_or(target.join("bench-venv"), PathBuf::from),
            fleet: value("--fleet").map_or(0, |n| n.parse().expect("a number of servers")),
        }
    }
}

/// A tool with a prepared set of hosts and one place to record results.
struct Bench {
    opts: Options,
    hosts: TestHosts,
    tools: Tools,
    app: App,
    meter: Meter,
    report: Report,
    runs_made: usize,
}

fn main() {
    let opts = Options::parse();
    let max_hosts = *opts.hosts.iter().max().unwrap();
    std::fs::create_dir_all(&opts.out).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    if std::env::args().any(|a| a == "--keep") {
        eprintln!("keeping {}", scratch.path().display());
    }
    eprintln!("starting {max_hosts} sshd hosts…");
    // pyinfra uploads over SFTP, as any Debian sshd offers it.
    let hosts = TestHosts::start_with(
        max_hosts,
        "MaxStartups 1000:30:1000\nSubsystem sftp internal-sftp",
    );
    let peers = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/peers");
    let app = App::new(&scratch.path().join("app"), &peers);
    // One known_hosts for every way in: direct, and through the relays.
    let side = max_hosts.min(10);
    let relays = Relays::start(
        &hosts.hosts[..side]
            .iter()
            .map(|h| (h.address.clone(), h.port))
            .collect::<Vec<_>>(),
    );
    let mut known = std::fs::read_to_string(&hosts.known_hosts).unwrap();
    for (h, port) in hosts.hosts.iter().zip(&relays.ports) {
        known.push_str(&format!("[{}]:{port} {}\n", h.address, h.host_key));
    }
    std::fs::create_dir_all(app.dir.join(".ssh")).unwrap();
    let known_hosts = app.dir.join(".ssh/known_hosts");
    std::fs::write(&known_hosts, known).unwrap();
    // Hundreds of sshd on 2 cores can go 20 s without a byte while they
    // unpack: the keepalive a user with starved servers would set (ferry's
    // default notices a dead host in 15–20 s), as OpenSSH's own 15 × 3.
    std::fs::write(
        app.dir.join(".ssh/config"),
        "Host *\n  ServerAliveInterval 15\n  ServerAliveCountMax 3\n",
    )
    .unwrap();
    let tools = Tools {
        ferry: PathBuf::from(env!("CARGO_BIN_EXE_ferry")),
        venv: opts.venv.clone(),
        peers,
        app: app.dir.clone(),
        key: hosts.key.clone(),
        known_hosts,
        user: hosts.hosts[0].user.clone(),
        scratch: scratch.path().join("scratch"),
    };
    std::fs::create_dir_all(&tools.scratch).unwrap();
    let endpoint = |h: &sshd::TestHost, port: u16| Endpoint {
        name: h.name.clone(),
        address: h.address.clone(),
        port,
        base_dir: h.dir.clone(),
    };
    for n in opts.hosts.iter().copied().chain([1]) {
        let list: Vec<Endpoint> = hosts.hosts[..n]
            .iter()
            .map(|h| endpoint(h, h.port))
            .collect();
        tools.write_stage(&format!("n{n}"), &list);
    }
    let relayed: Vec<Endpoint> = hosts.hosts[..side]
        .iter()
        .zip(&relays.ports)
        .map(|(h, &port)| endpoint(h, port))
        .collect();
    tools.write_stage("relayed", &relayed);

    // Debian servers beside the sshd hosts, logged in to with the same key
    // (as root: the user the bench runs as, which booting them needs).
    let servers = (opts.fleet > 0).then(|| {
        eprintln!("booting {} Debian servers…", opts.fleet);
        let mut spec = fleet::Fleet::spec().key(&hosts.key);
        for i in 1..=opts.fleet {
            spec = spec.server(&format!("srv{i}"), &[]);
        }
        let servers = spec.start();
        let mut known = std::fs::read_to_string(&tools.known_hosts).unwrap();
        known.push_str(&std::fs::read_to_string(&servers.known_hosts).unwrap());
        std::fs::write(&tools.known_hosts, known).unwrap();
        let list: Vec<Endpoint> = servers
            .servers
            .iter()
            .map(|s| Endpoint {
                name: s.name.clone(),
                address: s.address.clone(),
                port: 22,
                base_dir: PathBuf::from(FLEET_BASE),
            })
            .collect();
        tools.write_stage(&format!("fleet{}", opts.fleet), &list);
        servers
    });

    let (files, bytes) = app.size();
    let meter = Meter::new(
        hosts.hosts.iter().map(|h| h.pid()).chain(
            servers
                .iter()
                .flat_map(|f| f.servers.iter().map(|s| s.sshd_pid())),
        ),
    )
    .keeping(
        servers
            .iter()
            .flat_map(|f| f.servers.iter().map(|s| s.pid())),
    );
    let report = Report::new(&opts, files, bytes, &tools);
    let mut bench = Bench {
        opts,
        hosts,
        tools,
        app,
        meter,
        report,
        runs_made: 0,
    };
    let started = Instant::now();
    let phase = |name: &str| bench.opts.phases.iter().any(|p| p == name);
    let (deploy, redeploy, steps, latency) = (
        phase("deploy"),
        phase("redeploy"),
        phase("steps"),
        phase("latency"),
    );
    bench.warm_up();
    if deploy {
        bench.deploys();
    }
    if redeploy {
        bench.redeploys();
    }
    if steps {
        bench.steps("n", side, None);
    }
    for rtt in bench.opts.rtts.clone() {
        relays.set_rtt(Duration::from_millis(rtt));
        if latency {
            bench.latency_deploy(side, rtt);
        }
        if steps {
            bench.steps("relayed", side, Some(rtt));
        }
    }
    if let Some(servers) = &servers {
        bench.fleet_deploys(servers);
    }
    bench.report.total = started.elapsed();
    bench.report.write(&bench.opts.out);
    println!("{}", bench.report.markdown());
    if std::env::args().any(|a| a == "--keep") {
        let _ = scratch.keep();
    }
}

/// Where deploys go on a Debian server (logged in as root).
const FLEET_BASE: &str = "/root/bench";

impl Bench {
    /// The full deploy to every Debian server, every tool: each run checked
    /// as on the sshd hosts, through the servers' own filesystems.
    fn fleet_deploys(&mut self, servers: &fleet::Fleet) {
        let n = servers.servers.len();
        let stage = format!("fleet{n}");
        let rev = self.app.head();
        for tool in self.opts.tools.clone() {
            let mut row = Row::new(tool);
            for _ in 0..self.opts.runs {
                let run = self.fresh_run(tool, "fleet");
                eprintln!("fleet deploy: {} to {n} servers ({run})", tool.name());
                let mut cmd = self.tools.deploy(tool, &stage, n, &run);
                let log = self.log(&run);
                let dirs: Vec<PathBuf> = servers
                    .servers
                    .iter()
                    .map(|s| s.view(FLEET_BASE).join(&run))
                    .collect();
                let outcome = self.meter.run(&mut cmd, &log).and_then(|sample| {
                    for (server, dir) in servers.servers.iter().zip(&dirs) {
                        app::verify_in(&server.view("/"), dir, &rev, None)
                            .map_err(|e| format!("{}: {e}", server.name))?;
                    }
                    let migrated = dirs.iter().filter(|d| app::migrated(d)).count();
                    if migrated != 1 {
                        return Err(format!("migrate ran on {migrated} servers, not 1"));
                    }
                    Ok(sample)
                });
                for dir in &dirs {
                    let _ = std::fs::remove_dir_all(dir);
                }
                if !row.record(outcome) {
                    break;
                }
            }
            self.report.fleet.push((n, row));
        }
    }

    fn has(&self, tool: Tool) -> bool {
        self.opts.tools.contains(&tool)
    }

    /// One untimed deploy per tool to one host: byte-compiled Python,
    /// page cache, the first fork of sshd.
    fn warm_up(&mut self) {
        for tool in self.opts.tools.clone() {
            eprintln!("warm-up: {}", tool.name());
            let run = self.fresh_run(tool, "warm");
            let mut cmd = self.tools.deploy(tool, "n1", 1, &run);
            if let Err(e) = self.meter.run(&mut cmd, &self.log(&run)) {
                eprintln!("warm-up of {} failed: {e}", tool.name());
            }
            self.clean(1, &run);
        }
    }

    /// The full deploy at every host count, every tool.
    fn deploys(&mut self) {
        let mut largest: Vec<(Tool, usize, Duration)> = Vec::new();
        for n in self.opts.hosts.clone() {
            for tool in self.opts.tools.clone() {
                if let Some((_, m, t)) = largest.iter().find(|(t, _, _)| *t == tool) {
                    let predicted = t.mul_f64(n as f64 / *m as f64);
                    if predicted > self.opts.cap {
                        eprintln!(
                            "skip {} at {n} hosts: one run predicted at {:.0} s",
                            tool.name(),
                            predicted.as_secs_f64()
                        );
                        self.report.skipped.push((tool, n, predicted));
                        continue;
                    }
                }
                let row = self.deploy_row(tool, &format!("n{n}"), n, "deploy");
                if let Some(t) = row.max_wall() {
                    largest.retain(|(t2, _, _)| *t2 != tool);
                    largest.push((tool, n, t));
                }
                self.report.deploy.push((n, row));
            }
        }
    }

    /// `runs` fresh deploys of HEAD to `n` hosts of `stage`, each verified.
    fn deploy_row(&mut self, tool: Tool, stage: &str, n: usize, what: &str) -> Row {
        let mut row = Row::new(tool);
        let rev = self.app.head();
        for _ in 0..self.opts.runs {
            let run = self.fresh_run(tool, what);
            eprintln!("{what}: {} to {n} hosts ({run})", tool.name());
            let mut cmd = self.tools.deploy(tool, stage, n, &run);
            let log = self.log(&run);
            let outcome = self.meter.run(&mut cmd, &log).and_then(|sample| {
                self.verify(n, &run, &rev, None)?;
                let migrated = self.hosts.hosts[..n]
                    .iter()
                    .filter(|h| app::migrated(&h.dir.join(&run)))
                    .count();
                if migrated != 1 {
                    return Err(format!("migrate ran on {migrated} hosts, not 1"));
                }
                Ok(sample)
            });
            self.clean(n, &run);
            if !row.record(outcome) {
                break;
            }
        }
        row
    }

    fn verify(&self, n: usize, run: &str, rev: &str, version: Option<usize>) -> Result<(), String> {
        for h in &self.hosts.hosts[..n] {
            app::verify(&h.dir.join(run), rev, version).map_err(|e| format!("{}: {e}", h.name))?;
        }
        Ok(())
    }

    /// ferry's and the floor's redeploys at 50 hosts (or the most measured
    /// below that): unchanged, then one file changed.
    fn redeploys(&mut self) {
        let n = self
            .opts
            .hosts
            .iter()
            .copied()
            .filter(|&n| n <= 50)
            .max()
            .unwrap_or(1);
        let stage = format!("n{n}");
        for tool in [Tool::Ferry, Tool::OpenSsh] {
            if !self.has(tool) {
                continue;
            }
            let run = self.fresh_run(tool, "redeploy");
            let mut cmd = self.tools.deploy(tool, &stage, n, &run);
            if let Err(e) = self.meter.run(&mut cmd, &self.log(&run)) {
                eprintln!("first deploy for redeploys failed: {e}");
                continue;
            }
            let rev = self.app.head();
            let mut unchanged = Row::new(tool);
            for _ in 0..self.opts.runs {
                eprintln!("unchanged redeploy: {} to {n} hosts", tool.name());
                let mut cmd = self.tools.deploy(tool, &stage, n, &run);
                let log = self.log(&format!("{run}-unchanged"));
                let outcome = self
                    .meter
                    .run(&mut cmd, &log)
                    .and_then(|s| self.verify(n, &run, &rev, None).map(|()| s));
                unchanged.record(outcome);
            }
            let mut one_file = Row::new(tool);
            let mut sent = 0;
            for _ in 0..self.opts.runs {
                self.report.versions_made += 1;
                let version = self.report.versions_made;
                self.app.change_one_file(version);
                let rev = self.app.head();
                // Release ids have one-second resolution.
                std::thread::sleep(Duration::from_millis(1100));
                eprintln!("one-file redeploy: {} to {n} hosts", tool.name());
                let mut cmd = self.tools.deploy(tool, &stage, n, &run);
                let log = self.log(&format!("{run}-v{version}"));
                let outcome = self
                    .meter
                    .run(&mut cmd, &log)
                    .and_then(|s| self.verify(n, &run, &rev, Some(version)).map(|()| s));
                if tool == Tool::Ferry {
                    sent = sent.max(report::bytes_sent(&log));
                }
                one_file.record(outcome);
            }
            self.clean(n, &run);
            self.report.redeploy.push((n, unchanged, one_file, sent));
        }
    }

    /// 1 and 21 trivial steps on `n` hosts of stage `n{n}` (or the relays).
    fn steps(&mut self, stage: &str, n: usize, rtt: Option<u64>) {
        let stage = if stage == "n" {
            format!("n{n}")
        } else {
            stage.to_string()
        };
        for tool in self.opts.tools.clone() {
            if rtt.is_some() && tool == Tool::Ansible {
                continue;
            }
            let mut rows = Vec::new();
            for steps in [1, 21] {
                let mut row = Row::new(tool);
                for _ in 0..self.opts.runs {
                    eprintln!(
                        "{steps} steps: {} on {n} hosts{}",
                        tool.name(),
                        rtt.map_or(String::new(), |r| format!(", {r} ms RTT"))
                    );
                    let tag = self.fresh_run(tool, "steps");
                    let mut cmd = self.tools.steps(tool, &stage, n, steps, &tag);
                    let outcome = self.meter.run(&mut cmd, &self.log(&tag));
                    if !row.record(outcome) {
                        break;
                    }
                }
                rows.push(row);
            }
            let twenty_one = rows.pop().unwrap();
            let one = rows.pop().unwrap();
            self.report.steps.push((rtt, n, one, twenty_one));
        }
    }

    /// The full deploy to the hosts behind the relays.
    fn latency_deploy(&mut self, n: usize, rtt: u64) {
        for tool in self.opts.tools.clone() {
            if tool == Tool::Ansible {
                continue;
            }
            let row = self.deploy_row(tool, "relayed", n, &format!("rtt{rtt}"));
            self.report.latency.push((rtt, n, row));
        }
    }

    /// A new directory name for one run of `tool`.
    fn fresh_run(&mut self, tool: Tool, what: &str) -> String {
        self.runs_made += 1;
        format!("{what}-{}-{}", tool.name(), self.runs_made)
    }

    fn log(&self, run: &str) -> PathBuf {
        self.tools.scratch.join(format!("{run}.log"))
    }

    /// Removes run `run` from the first `n` hosts.
    fn clean(&self, n: usize, run: &str) {
        for h in &self.hosts.hosts[..n] {
            let _ = std::fs::remove_dir_all(h.dir.join(run));
        }
        let _ = std::fs::remove_file(self.tools.scratch.join(format!("{run}.tar.gz")));
    }
}
