//! The figures of one run: rows of samples, the markdown tables printed at
//! the end (and kept in `report.md`), and `results.json` for the plot.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::Options;
use crate::measure::Sample;
use crate::tools::{Tool, Tools};

/// The runs of one tool in one configuration, or why they stopped.
pub struct Row {
    pub tool: Tool,
    pub samples: Vec<Sample>,
    pub error: Option<String>,
}

impl Row {
    pub fn new(tool: Tool) -> Row {
        Row {
            tool,
            samples: Vec::new(),
            error: None,
        }
    }

    /// Keeps a run's sample, or its error; false once a run failed.
    pub fn record(&mut self, outcome: Result<Sample, String>) -> bool {
        match outcome {
            Ok(s) => {
                self.samples.push(s);
                true
            }
            Err(e) => {
                eprintln!("FAILED {}: {e}", self.tool.name());
                let first = e.lines().next().unwrap_or_default();
                self.error = Some(match first.char_indices().nth(160) {
                    Some((at, _)) => format!("{}…", &first[..at]),
                    None => first.to_string(),
                });
                false
            }
        }
    }

    fn median(&self, f: impl Fn(&Sample) -> Duration) -> Option<Duration> {
        let mut v: Vec<Duration> = self.samples.iter().map(f).collect();
        v.sort();
        v.get(v.len() / 2).copied()
    }

    pub fn wall(&self) -> Option<Duration> {
        if self.error.is_some() {
            return None;
        }
        self.median(|s| s.wall)
    }

    pub fn max_wall(&self) -> Option<Duration> {
        self.samples.iter().map(|s| s.wall).max()
    }

    /// `1.23 s [1.20–1.31]`, or the failure.
    fn wall_text(&self) -> String {
        if let Some(e) = &self.error {
            return format!("FAILED: {e}");
        }
        let Some(median) = self.wall() else {
            return "—".into();
        };
        let min = self.samples.iter().map(|s| s.wall).min().unwrap();
        let max = self.max_wall().unwrap();
        format!("{} [{}–{}]", secs(median), secs_bare(min), secs_bare(max))
    }

    /// Controller CPU, peak memory, host CPU.
    fn cost_text(&self) -> String {
        if self.samples.is_empty() {
            return "| | |".into();
        }
        let memory = self.samples.iter().map(|s| s.peak_memory).max().unwrap();
        format!(
            "{} | {:.0} MB | {}",
            secs(self.median(|s| s.cpu).unwrap()),
            memory as f64 / 1e6,
            secs(self.median(|s| s.host_cpu).unwrap())
        )
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "tool": self.tool.name(),
            "error": self.error,
            "runs": self.samples.iter().map(|s| json!({
                "wall": s.wall.as_secs_f64(),
                "cpu": s.cpu.as_secs_f64(),
                "peak_memory": s.peak_memory,
                "host_cpu": s.host_cpu.as_secs_f64(),
            })).collect::<Vec<_>>(),
            "median_wall": self.wall().map(|d| d.as_secs_f64()),
        })
    }
}

pub struct Report {
    header: String,
    pub deploy: Vec<(usize, Row)>,
    pub skipped: Vec<(Tool, usize, Duration)>,
    /// Hosts, unchanged, one file changed, most bytes ferry sent a host.
    pub redeploy: Vec<(usize, Row, Row, u64)>,
    /// RTT (None: direct), hosts, 1 step, 21 steps.
    pub steps: Vec<(Option<u64>, usize, Row, Row)>,
    pub latency: Vec<(u64, usize, Row)>,
    /// The full deploy to Debian servers (systemd-nspawn, `--fleet N`).
    pub fleet: Vec<(usize, Row)>,
    pub versions_made: usize,
    pub total: Duration,
    runs: usize,
}

impl Report {
    pub fn new(opts: &Options, files: usize, bytes: u64, tools: &Tools) -> Report {
        let venv = |bin: &str, arg: &str| first_line(&tools.venv.join("bin").join(bin), &[arg]);
        let header = format!(
            "- machine: {} cores ({}), {} GB memory, Linux {}\n\
             - app: {files} files, {:.1} MB, in git\n\
             - ferry {} (git {}); {}; {}; pyinfra {}; {}\n\
             - runs per row: {} (median [min–max]); tools skipped where one run is predicted over {} s\n",
            std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model(),
            memory_gb(),
            first_line(Path::new("uname"), &["-r"]),
            bytes as f64 / 1e6,
            env!("CARGO_PKG_VERSION"),
            first_line(
                Path::new("git"),
                &[
                    "-C",
                    env!("CARGO_MANIFEST_DIR"),
                    "rev-parse",
                    "--short",
                    "HEAD"
                ]
            ),
            first_line(Path::new("ssh"), &["-V"]),
            venv("ansible-playbook", "--version")
                .replace("ansible-playbook [core ", "ansible-core ")
                .replace(']', ""),
            venv("pyinfra", "--version")
                .rsplit(' ')
                .next()
                .unwrap_or_default(),
            first_line(&tools.venv.join("bin/python"), &["--version"]),
            opts.runs,
            opts.cap.as_secs(),
        );
        Report {
            header,
            deploy: Vec::new(),
            skipped: Vec::new(),
            redeploy: Vec::new(),
            steps: Vec::new(),
            latency: Vec::new(),
            fleet: Vec::new(),
            versions_made: 0,
            total: Duration::ZERO,
            runs: opts.runs,
        }
    }

    pub fn markdown(&self) -> String {
        let mut md = format!(
            "# ferry, Ansible, pyinfra and the OpenSSH floor\n\n{}",
            self.header
        );
        md.push_str(&format!(
            "- whole run: {:.0} s\n\n",
            self.total.as_secs_f64()
        ));

        md.push_str("## Full deploy\n\n");
        md.push_str(
            "| hosts | tool | wall | × floor | controller CPU | peak memory | host CPU |\n",
        );
        md.push_str("|---|---|---|---|---|---|---|\n");
        let floor = |n: usize| {
            self.deploy
                .iter()
                .find(|(m, r)| *m == n && r.tool == Tool::OpenSsh)
                .and_then(|(_, r)| r.wall())
        };
        for (n, row) in &self.deploy {
            let times = times_floor(row, floor(*n));
            md.push_str(&format!(
                "| {n} | {} | {} | {times} | {} |\n",
                row.tool.name(),
                row.wall_text(),
                row.cost_text()
            ));
        }
        for (tool, n, predicted) in &self.skipped {
            md.push_str(&format!(
                "| {n} | {} | not run: one run predicted at {:.0} s | | | | |\n",
                tool.name(),
                predicted.as_secs_f64()
            ));
        }
        md.push('\n');
        let at = |n: usize, tool: Tool| {
            self.deploy
                .iter()
                .find(|(m, r)| *m == n && r.tool == tool)
                .and_then(|(_, r)| r.wall())
        };
        let sizes: Vec<usize> = {
            let mut v: Vec<usize> = self.deploy.iter().map(|(n, _)| *n).collect();
            v.dedup();
            v
        };
        for n in sizes {
            if let Some(ferry) = at(n, Tool::Ferry) {
                let parts: Vec<String> = [
                    Tool::OpenSsh,
                    Tool::Pyinfra,
                    Tool::AnsiblePipelining,
                    Tool::Ansible,
                ]
                .into_iter()
                .filter_map(|t| at(n, t).map(|w| format!("{:.3}× {}", ratio(ferry, w), t.name())))
                .collect();
                md.push_str(&format!("- {n} hosts, ferry / : {}\n", parts.join(", ")));
            }
        }

        md.push_str("\n## Redeploys (ferry and the floor)\n\n");
        md.push_str(
            "| hosts | tool | unchanged | one file changed | bytes sent per host (at most) |\n",
        );
        md.push_str("|---|---|---|---|---|\n");
        for (n, unchanged, one, sent) in &self.redeploy {
            md.push_str(&format!(
                "| {n} | {} | {} | {} | {} |\n",
                unchanged.tool.name(),
                unchanged.wall_text(),
                one.wall_text(),
                if unchanged.tool == Tool::Ferry {
                    sent.to_string()
                } else {
                    "whole archive".into()
                }
            ));
        }

        md.push_str("\n## Trivial steps\n\n");
        md.push_str(
            "| RTT | hosts | tool | 1 step | 21 steps | per extra step | per step per host | RTTs per step |\n",
        );
        md.push_str("|---|---|---|---|---|---|---|---|\n");
        // A step's cost through the relay at 0 ms: what is not latency.
        let per_step = |one: &Row, twenty_one: &Row| match (one.wall(), twenty_one.wall()) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a) / 20),
            _ => None,
        };
        let at_zero = |tool: Tool| {
            self.steps
                .iter()
                .find(|(r, _, one, _)| *r == Some(0) && one.tool == tool)
                .and_then(|(_, _, one, twenty_one)| per_step(one, twenty_one))
        };
        for (rtt, n, one, twenty_one) in &self.steps {
            let (per_step_text, per_host, in_rtts) = match per_step(one, twenty_one) {
                Some(step) => (
                    ms(step),
                    ms(step / *n as u32),
                    match (rtt, at_zero(one.tool)) {
                        (Some(r), Some(zero)) if *r > 0 => format!(
                            "{:.2}",
                            step.saturating_sub(zero).as_secs_f64() * 1000.0 / *r as f64
                        ),
                        _ => "—".into(),
                    },
                ),
                None => ("—".into(), "—".into(), "—".into()),
            };
            md.push_str(&format!(
                "| {} | {n} | {} | {} | {} | {per_step_text} | {per_host} | {in_rtts} |\n",
                rtt.map_or("direct".into(), |r| format!("{r} ms")),
                one.tool.name(),
                one.wall_text(),
                twenty_one.wall_text(),
            ));
        }
        md.push_str(
            "\nRTTs per step: (per extra step at this RTT − per extra step at 0 ms through \
             the relay) / RTT, the round trips a step waits for beyond its work.\n",
        );

        md.push_str("\n## Full deploy through the relay\n\n");
        md.push_str(
            "| RTT | hosts | tool | wall | × floor | controller CPU | peak memory | host CPU |\n",
        );
        md.push_str("|---|---|---|---|---|---|---|---|\n");
        for (rtt, n, row) in &self.latency {
            let floor = self
                .latency
                .iter()
                .find(|(r, _, x)| r == rtt && x.tool == Tool::OpenSsh)
                .and_then(|(_, _, x)| x.wall());
            let times = times_floor(row, floor);
            md.push_str(&format!(
                "| {rtt} ms | {n} | {} | {} | {times} | {} |\n",
                row.tool.name(),
                row.wall_text(),
                row.cost_text()
            ));
        }
        if !self.fleet.is_empty() {
            md.push_str(
                "\n## Full deploy to Debian servers\n\n\
                 Each host a Debian 12 server booted with systemd (systemd-nspawn, \
                 `tests/fleet/fleet`), logged in to as root on port 22; host CPU is \
                 every process of the server.\n\n",
            );
            md.push_str(
                "| hosts | tool | wall | × floor | controller CPU | peak memory | host CPU |\n",
            );
            md.push_str("|---|---|---|---|---|---|---|\n");
            for (n, row) in &self.fleet {
                let floor = self
                    .fleet
                    .iter()
                    .find(|(m, r)| m == n && r.tool == Tool::OpenSsh)
                    .and_then(|(_, r)| r.wall());
                md.push_str(&format!(
                    "| {n} | {} | {} | {} | {} |\n",
                    row.tool.name(),
                    row.wall_text(),
                    times_floor(row, floor),
                    row.cost_text()
                ));
            }
        }
        md
    }

    /// `report.md` and `results.json` in `dir`.
    pub fn write(&self, dir: &Path) {
        std::fs::write(dir.join("report.md"), self.markdown()).unwrap();
        let value = json!({
            "runs": self.runs,
            "deploy": self.deploy.iter().map(|(n, r)| json!({"hosts": n, "row": r.json()})).collect::<Vec<_>>(),
            "skipped": self.skipped.iter().map(|(t, n, p)| json!({"tool": t.name(), "hosts": n, "predicted": p.as_secs_f64()})).collect::<Vec<_>>(),
            "redeploy": self.redeploy.iter().map(|(n, u, o, s)| json!({"hosts": n, "unchanged": u.json(), "one_file": o.json(), "bytes_sent": s})).collect::<Vec<_>>(),
            "steps": self.steps.iter().map(|(r, n, a, b)| json!({"rtt_ms": r, "hosts": n, "one": a.json(), "twenty_one": b.json()})).collect::<Vec<_>>(),
            "latency": self.latency.iter().map(|(r, n, row)| json!({"rtt_ms": r, "hosts": n, "row": row.json()})).collect::<Vec<_>>(),
            "fleet": self.fleet.iter().map(|(n, r)| json!({"hosts": n, "row": r.json()})).collect::<Vec<_>>(),
        });
        std::fs::write(
            dir.join("results.json"),
            serde_json::to_string_pretty(&value).unwrap(),
        )
        .unwrap();
    }
}

/// The most bytes ferry's `release.upload` sent one host, from its JSON log.
pub fn bytes_sent(log: &Path) -> u64 {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "step_end" && e["name"] == "release.upload")
        .filter_map(|e| {
            let reason = e["reason"].as_str()?.to_string();
            reason.split(", ").nth(1)?.split(' ').next()?.parse().ok()
        })
        .max()
        .unwrap_or(0)
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

fn secs(d: Duration) -> String {
    if d < Duration::from_secs(10) {
        format!("{:.3} s", d.as_secs_f64())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

fn secs_bare(d: Duration) -> String {
    secs(d).trim_end_matches(" s").to_string()
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn first_line(program: &Path, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_string()
        })
        .unwrap_or_else(|_| "?".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "?".into())
}

fn memory_gb() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1_000_000)
}

/// A row's wall time as a multiple of the floor's (`—` when either is missing).
fn times_floor(row: &Row, floor: Option<Duration>) -> String {
    match (row.wall(), floor) {
        (Some(a), Some(b)) => format!("{:.2}×", ratio(a, b)),
        _ => "—".into(),
    }
}
