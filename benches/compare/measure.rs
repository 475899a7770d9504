//! Runs one tool invocation and measures what it cost.
//!
//! - wall time, from spawn to exit;
//! - controller CPU: user + system time of the tool and every process under
//!   it — the ones it waited for (through `wait4`'s rusage) and the ones it
//!   left running (Ansible's ControlPersist masters daemonize: this process
//!   is a child subreaper, so they become its children, and are stopped and
//!   reaped after the run, their rusage added);
//! - controller peak memory: the largest sum, over the tool's process tree,
//!   of each process's proportional set size (pages shared between forked
//!   workers count once), sampled every 100 ms, and never less than the
//!   largest single process's peak RSS (a run shorter than a sample);
//! - host CPU: how much the sshd listeners and every session under them
//!   used (their own and their reaped children's times in /proc).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What one run cost.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub wall: Duration,
    pub cpu: Duration,
    /// Bytes.
    pub peak_memory: u64,
    pub host_cpu: Duration,
}

/// Measures runs of tools against a set of sshd listeners.
pub struct Meter {
    listeners: HashSet<u32>,
    /// This process's own children that belong to the setup, not to a
    /// tool (the Debian servers' systemd-nspawn): never taken for a tool's
    /// leftovers.
    kept: HashSet<u32>,
    me: u32,
    tick: f64,
}

impl Meter {
    pub fn new(listeners: impl IntoIterator<Item = u32>) -> Meter {
        // SAFETY: prctl with these arguments only sets a flag on this process.
        let ok = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        assert_eq!(ok, 0, "prctl(PR_SET_CHILD_SUBREAPER)");
        // SAFETY: sysconf has no preconditions.
        let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        Meter {
            listeners: listeners.into_iter().collect(),
            kept: HashSet::new(),
            me: std::process::id(),
            tick,
        }
    }

    /// Leaves `pids` (children of this process that outlive every run)
    /// alone.
    pub fn keeping(mut self, pids: impl IntoIterator<Item = u32>) -> Meter {
        self.kept.extend(pids);
        self
    }

    /// Runs `cmd` with stdout and stderr in `log` (stderr appended after
    /// stdout's file as `log.err`); `Err` carries the output when it fails.
    pub fn run(&self, cmd: &mut Command, log: &Path) -> Result<Sample, String> {
        let out = File::create(log).map_err(|e| e.to_string())?;
        let err = File::create(log.with_extension("err")).map_err(|e| e.to_string())?;
        cmd.stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err);
        let host_before = self.host_cpu();
        let start = Instant::now();
        let child = cmd.spawn().map_err(|e| format!("spawn {cmd:?}: {e}"))?;
        let pid = child.id();
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let orphans = Arc::new(Mutex::new(HashSet::new()));
        let sampler = {
            let (stop, peak, orphans) = (stop.clone(), peak.clone(), orphans.clone());
            let (listeners, me) = (
                self.listeners
                    .union(&self.kept)
                    .copied()
                    .collect::<HashSet<u32>>(),
                self.me,
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let table = processes();
                    let mut roots = vec![pid];
                    for (&p, info) in &table {
                        if info.ppid == me && p != pid && !listeners.contains(&p) {
                            roots.push(p);
                            orphans.lock().unwrap().insert(p);
                        }
                    }
                    let total: u64 = tree(&table, &roots).into_iter().map(pss).sum();
                    peak.fetch_max(total, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        let (status, usage) = wait(pid);
        let wall = start.elapsed();
        stop.store(true, Ordering::Relaxed);
        sampler.join().unwrap();
        let mut cpu = rusage_time(&usage);
        let mut max_rss = usage.ru_maxrss as u64 * 1024;
        // Processes the tool left behind (and any it orphaned that exited
        // before the sampler saw them): stop, reap, count.
        let mut left: HashSet<u32> = orphans.lock().unwrap().clone();
        for (p, info) in processes() {
            if info.ppid == self.me && !self.listeners.contains(&p) && !self.kept.contains(&p) {
                left.insert(p);
            }
        }
        for p in left {
            // SAFETY: `p` is this process's own child (reparented to it as a
            // subreaper); signalling and reaping it touches nothing else.
            unsafe { libc::kill(p as i32, libc::SIGTERM) };
            let (_, usage) = wait(p);
            cpu += rusage_time(&usage);
            max_rss = max_rss.max(usage.ru_maxrss as u64 * 1024);
        }
        let host_cpu = self.host_cpu_settled().saturating_sub(host_before);
        if status != 0 {
            let stdout = std::fs::read_to_string(log).unwrap_or_default();
            let stderr = std::fs::read_to_string(log.with_extension("err")).unwrap_or_default();
            let tail = |s: &str| {
                s.lines()
                    .rev()
                    .take(30)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            let last_line = |s: &str| {
                s.lines()
                    .rfind(|l| !l.trim().is_empty())
                    .map(str::to_string)
            };
            let last = last_line(&stderr)
                .or_else(|| last_line(&stdout))
                .unwrap_or_default();
            return Err(format!(
                "exit {status}: {last}\n{cmd:?}\n{}\n{}",
                tail(&stdout),
                tail(&stderr)
            ));
        }
        Ok(Sample {
            wall,
            cpu,
            peak_memory: peak.load(Ordering::Relaxed).max(max_rss),
            host_cpu,
        })
    }

    /// The sshd listeners' CPU time so far, their reaped sessions included.
    fn host_cpu(&self) -> Duration {
        let ticks: u64 = self
            .listeners
            .iter()
            .filter_map(|&p| stat(p))
            .map(|s| s.utime + s.stime + s.cutime + s.cstime)
            .sum();
        Duration::from_secs_f64(ticks as f64 / self.tick)
    }

    /// [`Meter::host_cpu`] once every session has ended (sshd counts a
    /// session's time when it reaps it), or after 5 s.
    fn host_cpu_settled(&self) -> Duration {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let busy = processes()
                .values()
                .any(|info| self.listeners.contains(&info.ppid));
            if !busy {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.host_cpu()
    }
}

/// Waits for `pid` and returns its exit status (or 128 + signal) and rusage.
fn wait(pid: u32) -> (i32, libc::rusage) {
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: waits for this process's own child `pid`.
        let r = unsafe { libc::wait4(pid as i32, &mut status, 0, &mut usage) };
        if r >= 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            break;
        }
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    (code, usage)
}

fn rusage_time(usage: &libc::rusage) -> Duration {
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

struct Stat {
    ppid: u32,
    utime: u64,
    stime: u64,
    cutime: u64,
    cstime: u64,
}

/// Fields of `/proc/PID/stat` (after the command name, which may hold spaces).
fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    Some(Stat {
        ppid: n(1)? as u32,
        utime: n(11)?,
        stime: n(12)?,
        cutime: n(13)?,
        cstime: n(14)?,
    })
}

/// Every process's parent.
fn processes() -> HashMap<u32, Stat> {
    let mut table = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            if let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok())
                && let Some(s) = stat(pid)
            {
                table.insert(pid, s);
            }
        }
    }
    table
}

/// `roots` and all their descendants.
fn tree(table: &HashMap<u32, Stat>, roots: &[u32]) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (&p, s) in table {
        children.entry(s.ppid).or_default().push(p);
    }
    let mut all = Vec::new();
    let mut todo = roots.to_vec();
    while let Some(p) = todo.pop() {
        all.push(p);
        if let Some(c) = children.get(&p) {
            todo.extend(c);
        }
    }
    all
}

/// A process's proportional set size in bytes (0 once it is gone).
fn pss(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
