//! Runs the real `ferry` binary in a directory of files written by the test,
//! with the user's environment stripped so that nothing on this machine
//! (an ~/.ssh/config, a FERRY_ variable) changes the outcome.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A scratch project directory.
pub struct Project {
    dir: tempfile::TempDir,
}

/// What a run of `ferry` did.
#[derive(Debug)]
pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Project {
    pub fn new() -> Project {
        Project {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `text` to `relative` (creating directories).
    pub fn file(&self, relative: &str, text: &str) -> &Project {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    /// Runs `ferry ARGS` in the project directory.
    pub fn ferry(&self, args: &[&str]) -> Output {
        run_ferry(self.dir.path(), args)
    }
}

/// Runs `ferry ARGS` in `dir`.
pub fn run_ferry(dir: &Path, args: &[&str]) -> Output {
    let output = Command::new(ferry_bin())
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .output()
        .expect("run ferry");
    let output = Output {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    // Every `--json` run of the suite is held to the documented schema.
    if super::events::wants_json(args) {
        super::events::check_stream(args, &output.stdout);
    }
    output
}

pub fn ferry_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ferry"))
}

/// The repository's root (for examples/ and fixtures).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

impl Project {
    /// A copy of `examples/NAME` without the secrets files of this checkout,
    /// with `secrets/STAGE.yml` (mode 0600) holding `secrets` instead.
    pub fn example(name: &str, stage: &str, secrets: &str) -> Project {
        use std::os::unix::fs::PermissionsExt;
        let project = Project::new();
        copy_dir(&repo_root().join("examples").join(name), project.path());
        let _ = std::fs::remove_dir_all(project.path().join("secrets"));
        let file = format!("secrets/{stage}.yml");
        project.file(&file, secrets);
        let mode = std::fs::Permissions::from_mode(0o600);
        std::fs::set_permissions(project.path().join(file), mode).unwrap();
        project
    }

    /// A project whose `inventory/test.ini` lists `hosts` in group `web`,
    /// each with its own directory as `deploy_to`, and whose HOME trusts
    /// their host keys.
    pub fn with_hosts(hosts: &super::sshd::TestHosts) -> Project {
        let project = Project::new();
        let inventory = hosts.inventory_ini("web");
        for h in &hosts.hosts {
            let deploy_to = h.dir.join("app");
            project.file(
                &format!("inventory/host_vars/{}.yml", h.name),
                &format!("deploy_to: {}\n", deploy_to.display()),
            );
        }
        project.file("inventory/test.ini", &inventory);
        let known = std::fs::read_to_string(&hosts.known_hosts).unwrap();
        project.file(".ssh/known_hosts", &known);
        project
    }

    /// Runs `ferry ARGS --json` and returns the events, one per line.
    pub fn ferry_json(&self, args: &[&str]) -> (Output, Vec<serde_json::Value>) {
        let mut all: Vec<&str> = args.to_vec();
        all.push("--json");
        let out = self.ferry(&all);
        let events = out
            .stdout
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}")))
            .collect();
        (out, events)
    }
}

/// `(host, step name, status)` of every step that ended, in order.
/// The reason of the first `step_end` event of the step named `name`.
pub fn step_reason<'a>(events: &'a [serde_json::Value], name: &str) -> &'a str {
    events
        .iter()
        .find(|e| e["event"] == "step_end" && e["name"] == name)
        .and_then(|e| e["reason"].as_str())
        .unwrap_or_else(|| panic!("no step `{name}` with a reason in the events"))
}

pub fn step_ends(events: &[serde_json::Value]) -> Vec<(String, String, String)> {
    events
        .iter()
        .filter(|e| e["event"] == "step_end")
        .map(|e| {
            (
                e["host"].as_str().unwrap_or_default().to_string(),
                e["name"].as_str().unwrap_or_default().to_string(),
                e["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// A run that must have succeeded without changing anything (a second
/// run, a redeploy): a failure shows each step that changed, whole.
pub fn assert_changed_nothing(out: &Output, events: &[serde_json::Value]) {
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let changed: Vec<String> = events
        .iter()
        .filter(|e| e["event"] == "step_end" && e["status"] == "changed")
        .map(|e| e.to_string())
        .collect();
    assert!(
        changed.is_empty(),
        "a run that should change nothing changed:\n{}",
        changed.join("\n")
    );
}

/// `diff` of every `step_end` that has one, by step name.
pub fn step_diffs(events: &[serde_json::Value]) -> Vec<(String, String)> {
    events
        .iter()
        .filter(|e| e["event"] == "step_end")
        .filter_map(|e| {
            Some((
                e["name"].as_str()?.to_string(),
                e["diff"].as_str()?.to_string(),
            ))
        })
        .collect()
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// How many lines a file has (0 when it does not exist): how often a test's
/// logging command ran.
pub fn line_count(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// Starts `ferry ARGS` in `dir` as [`run_ferry`] would, without waiting:
/// for a test that stops it part-way.
pub fn spawn_ferry(dir: &Path, args: &[&str]) -> std::process::Child {
    Command::new(ferry_bin())
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run ferry")
}
