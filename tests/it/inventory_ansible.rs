//! ferry's inventory against real Ansible: for every fixture under
//! `tests/fixtures/inventory/`, `Inventory::to_ansible_list()` must equal
//! `ansible-inventory -i FILE --list`, and `Inventory::select()` must equal
//! `ansible -i FILE PATTERN --list-hosts` for a set of patterns.
//!
//! Ansible (ansible-core from PyPI) lives in a venv at
//! `$CARGO_TARGET_DIR/ansible-venv` (else `target/ansible-venv`), created on
//! first use. The test never skips: without Ansible it fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use ferry::inventory::Inventory;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inventory")
}

/// The inventory files and the patterns checked against each.
///
/// A pattern marked `any order: ` is compared as a set. Ansible orders the
/// hosts of a group's grandchildren by iterating a Python `set` of group
/// objects (hashed by address), so for a group two or more levels deep the
/// order changes from one run of `ansible` to the next (seen here: `world`
/// gave `nyc1 par1 par2 ber1 ber2` and `par1 par2 ber1 ber2 nyc1` in two
/// runs). ferry always takes the declaration order, one of Ansible's.
fn cases() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        (
            "ini_basic/hosts.ini",
            vec![
                "all",
                "*",
                "web",
                "bastion",
                "web01",
                "web*",
                "web-?.example.com",
                "~web\\d+",
                "~node[0-9]x",
                "db:cache",
                "db,web01",
                "prod:&staging",
                "prod:!web",
                "all:!prod",
                "!web",
                "&staging:web",
                "web[0]",
                "web[-1]",
                "web[1:3]",
                "prod[2:]",
                "ungrouped",
                "empty:db",
                "staging:!web03:db2",
            ],
        ),
        ("ini_vars_dirs/inventory", vec!["app", "app:!db", "~.*1"]),
        (
            "yaml_basic/inventory.yml",
            vec![
                "all",
                "prod",
                "db",
                "replica-*",
                "web:&prod",
                "all:!prod",
                "ungrouped",
                "solo_group:solo2",
                "web0[1-3]*",
            ],
        ),
        (
            "yaml_vars_dirs/hosts.yaml",
            vec!["frontend", "canary", "frontend:!canary"],
        ),
        ("json_inventory/inventory.json", vec!["all", "web:db"]),
        ("ini_values/hosts.ini", vec!["odd,numbers"]),
        ("format_detection/ini_content.yml", vec!["all", "db, web2"]),
        (
            "ini_special_sections/hosts.ini",
            vec!["all", "ungrouped", "web:tail", "a*:w?"],
        ),
        ("format_detection/plain", vec!["web*"]),
        ("format_detection/empty.yml", vec![]),
        (
            "ini_nesting/hosts.ini",
            vec![
                "capitals",
                "europe:&capitals",
                "~(par|ber)",
                "capitals[1:3]",
                "capitals:!paris",
                "any order: world",
                "any order: all",
                "any order: world:!nyc",
            ],
        ),
        (
            "yaml_edges/inventory.yaml",
            vec![
                "all",
                "apps",
                "123",
                "203.0.113.*",
                "nothing:apps",
                "ungrouped:workers",
            ],
        ),
    ]
}

#[test]
fn inventories_read_as_ansible_reads_them() {
    let ansible = Ansible::get();
    let mut failures = Vec::new();
    let results: Vec<Vec<String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = cases()
            .into_iter()
            .map(|(file, patterns)| {
                let ansible = &ansible;
                scope.spawn(move || check_fixture(ansible, file, &patterns))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for result in results {
        failures.extend(result);
    }
    assert!(
        failures.is_empty(),
        "ferry differs from Ansible:\n\n{}",
        failures.join("\n\n")
    );
}

/// Inventories both Ansible and ferry reject, and (under `stricter/`) ones
/// Ansible reads with at most a warning — a range that yields no host, an
/// unknown key or a malformed group in YAML (whose hosts Ansible drops),
/// a duplicate YAML key (Ansible keeps the last), an inventory plugin
/// configuration — which ferry rejects on purpose. ferry's errors must
/// point at a line.
#[test]
fn invalid_inventories_are_errors() {
    let ansible = Ansible::get();
    let dir = fixtures().join("invalid");
    let mut files: Vec<PathBuf> = Vec::new();
    for sub in [dir.clone(), dir.join("stricter")] {
        for entry in std::fs::read_dir(&sub).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                files.push(path);
            }
        }
    }
    files.push(dir.join("bad_group_vars/hosts.ini"));
    files.sort();
    assert!(files.len() >= 20, "fixtures missing: {files:?}");
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .iter()
            .map(|path| {
                let (ansible, dir) = (&ansible, &dir);
                scope.spawn(move || {
                    let name = path.strip_prefix(dir).unwrap().display().to_string();
                    let stricter = name.starts_with("stricter/");
                    let mut failures = Vec::new();
                    if ansible.rejects(path) == stricter {
                        failures.push(format!(
                            "{name}: Ansible {} it",
                            if stricter { "rejects" } else { "accepts" }
                        ));
                    }
                    match Inventory::load(path) {
                        Ok(_) => failures.push(format!("{name}: ferry accepts it")),
                        Err(err) if err.span.is_none() => {
                            failures.push(format!("{name}: ferry's error has no location: {err}"))
                        }
                        Err(_) => {}
                    }
                    failures
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn check_fixture(ansible: &Ansible, file: &str, patterns: &[&str]) -> Vec<String> {
    let path = fixtures().join(file);
    let mut failures = Vec::new();
    let inventory = match Inventory::load(&path) {
        Ok(inventory) => inventory,
        Err(err) => return vec![format!("{file}: ferry cannot load it:\n{err}")],
    };
    let expected = ansible.list(&path);
    let actual = inventory.to_ansible_list();
    if expected != actual {
        let mut diffs = Vec::new();
        diff("$", &expected, &actual, &mut diffs);
        failures.push(format!(
            "{file}: --list differs (ansible vs ferry):\n  {}",
            diffs.join("\n  ")
        ));
    }
    let group_names = ansible.group_names(&path);
    if group_names.len() != inventory.hosts().count() {
        failures.push(format!(
            "{file}: ansible shows group_names for {} hosts, ferry has {}",
            group_names.len(),
            inventory.hosts().count()
        ));
    }
    for (host, expected) in group_names {
        let actual = inventory.group_names(&host);
        if actual != expected {
            failures.push(format!(
                "{file}: group_names of `{host}`:\n  ansible: {expected:?}\n  ferry:   {actual:?}"
            ));
        }
    }
    for pattern in patterns {
        let (pattern, any_order) = match pattern.strip_prefix("any order: ") {
            Some(pattern) => (pattern, true),
            None => (*pattern, false),
        };
        let sorted = |mut hosts: Vec<String>| {
            if any_order {
                hosts.sort();
            }
            hosts
        };
        let expected = ansible.list_hosts(&path, pattern);
        match inventory.select(pattern, None) {
            Ok(actual) if sorted(actual.clone()) == sorted(expected.clone()) => {}
            Ok(actual) => failures.push(format!(
                "{file}: pattern `{pattern}`:\n  ansible: {expected:?}\n  ferry:   {actual:?}"
            )),
            Err(err) => failures.push(format!(
                "{file}: pattern `{pattern}`: ansible gives {expected:?}, ferry fails: {err}"
            )),
        }
    }
    failures
}

/// Paths where two JSON values differ, with both sides.
fn diff(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                match a.get(k) {
                    Some(av) => diff(&format!("{path}.{k}"), ev, av, out),
                    None => out.push(format!("{path}.{k}: ansible {ev}, ferry has none")),
                }
            }
            for (k, av) in a {
                if !e.contains_key(k) {
                    out.push(format!("{path}.{k}: ansible has none, ferry {av}"));
                }
            }
        }
        _ if expected != actual => out.push(format!("{path}: ansible {expected}, ferry {actual}")),
        _ => {}
    }
}

/// A venv with ansible-core, and a scratch directory for Ansible's state.
pub(crate) struct Ansible {
    venv: PathBuf,
    home: tempfile::TempDir,
}

impl Ansible {
    pub(crate) fn get() -> Ansible {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
        let venv = target.join("ansible-venv");
        ensure_venv(&target, &venv);
        Ansible {
            venv,
            home: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    /// Runs a venv script through the venv's python (the scripts' `#!`
    /// lines name the path the venv was built at, before its rename).
    fn run(&self, script: &str, args: &[&str]) -> String {
        let output = self
            .command(script, args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success()
                && !stderr.contains("Unable to parse")
                && !stderr.contains("Failed to parse"),
            "{script} {args:?} failed:\n{stderr}\n{stdout}"
        );
        stdout
    }

    pub(crate) fn command(&self, script: &str, args: &[&str]) -> Command {
        let mut command = Command::new(self.venv.join("bin/python"));
        command.arg(self.venv.join("bin").join(script)).args(args);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ANSIBLE_") {
                command.env_remove(key);
            }
        }
        command
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_HOME", self.home.path())
            .env("ANSIBLE_LOCAL_TEMP", self.home.path().join("tmp"))
            .env("ANSIBLE_REMOTE_TEMP", self.home.path().join("remote"))
            // No ansible.cfg or group_vars/ of the working directory may leak in.
            .current_dir(self.home.path());
        command
    }

    /// Whether Ansible fails to read an inventory (it often carries on with
    /// an empty one and only warns).
    fn rejects(&self, inventory: &Path) -> bool {
        let output = self
            .command(
                "ansible-inventory",
                &["-i", &inventory.to_string_lossy(), "--list"],
            )
            .output()
            .expect("run ansible-inventory");
        let stderr = String::from_utf8_lossy(&output.stderr);
        !output.status.success()
            || stderr.contains("Unable to parse")
            || stderr.contains("Failed to parse")
    }

    fn list(&self, inventory: &Path) -> Value {
        let out = self.run(
            "ansible-inventory",
            &["-i", &inventory.to_string_lossy(), "--list"],
        );
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON from ansible ({e}):\n{out}"))
    }

    /// `group_names` of every host, from `ansible all -m debug` (an action
    /// that runs on the controller: no host is contacted).
    fn group_names(&self, inventory: &Path) -> Vec<(String, Vec<String>)> {
        let out = self.run(
            "ansible",
            &[
                "-i",
                &inventory.to_string_lossy(),
                "all",
                "-m",
                "debug",
                "-a",
                "var=group_names",
            ],
        );
        // "web1 | SUCCESS => {\n    \"group_names\": [...]\n}\n"
        let mut hosts = Vec::new();
        let mut lines = out.lines();
        while let Some(line) = lines.next() {
            let Some(host) = line.strip_suffix(" | SUCCESS => {") else {
                continue;
            };
            let mut body = String::from("{");
            for line in lines.by_ref() {
                body.push_str(line);
                if line == "}" {
                    break;
                }
            }
            let value: Value = serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("cannot read ansible's output ({e}):\n{out}"));
            let names = value["group_names"]
                .as_array()
                .unwrap_or_else(|| panic!("no group_names in:\n{out}"))
                .iter()
                .map(|n| n.as_str().unwrap().to_string())
                .collect();
            hosts.push((host.to_string(), names));
        }
        hosts
    }

    fn list_hosts(&self, inventory: &Path, pattern: &str) -> Vec<String> {
        let out = self.run(
            "ansible",
            &["-i", &inventory.to_string_lossy(), pattern, "--list-hosts"],
        );
        // "  hosts (2):\n    web1\n    web2\n"
        let mut lines = out
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("hosts ("));
        let header = lines
            .next()
            .unwrap_or_else(|| panic!("no host list in:\n{out}"));
        let hosts: Vec<String> = lines
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        assert!(
            header.contains(&format!("({})", hosts.len())),
            "cannot read:\n{out}"
        );
        hosts
    }
}

/// Creates the venv once, even with several test processes racing: the
/// first takes a lock file, builds in a scratch directory and renames it
/// into place; the others wait for the result.
fn ensure_venv(target: &Path, venv: &Path) {
    let ready = |venv: &Path| {
        venv.join("bin/python").exists()
            && Command::new(venv.join("bin/python"))
                .args(["-c", "import ansible.cli.inventory"])
                .output()
                .is_ok_and(|o| o.status.success())
    };
    if ready(venv) {
        return;
    }
    std::fs::create_dir_all(target).expect("create the target directory");
    let lock = target.join("ansible-venv.lock");
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock)
        {
            Ok(_) => break,
            Err(_) => {
                if ready(venv) {
                    return;
                }
                // A lock older than 15 minutes belongs to a process that died.
                let stale = std::fs::metadata(&lock)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| SystemTime::now().duration_since(t).ok())
                    .is_some_and(|age| age > Duration::from_secs(900));
                if stale {
                    let _ = std::fs::remove_file(&lock);
                }
                assert!(
                    Instant::now() < deadline,
                    "timed out waiting for {}",
                    lock.display()
                );
                std::thread::sleep(Duration::from_secs(2));
            }
        }
    }
    let result = std::panic::catch_unwind(|| {
        if ready(venv) {
            return;
        }
        let scratch = target.join(format!("ansible-venv.tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&scratch);
        let run = |command: &mut Command| {
            let status = command
                .status()
                .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
            assert!(status.success(), "{command:?} failed: {status}");
        };
        run(Command::new("python3").arg("-m").arg("venv").arg(&scratch));
        run(Command::new(scratch.join("bin/python")).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "ansible-core",
        ]));
        let _ = std::fs::remove_dir_all(venv);
        std::fs::rename(&scratch, venv).expect("move the venv into place");
        assert!(
            ready(venv),
            "ansible-core is not importable in {}",
            venv.display()
        );
    });
    let _ = std::fs::remove_file(&lock);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
