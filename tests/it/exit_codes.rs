//! One verdict per run, end to end: the exit status, the recap's last line,
//! the JSON recap's `exit_code` and the error agree, for a clean run, a
//! host failing, and each run that could not start (real sshd hosts, the
//! real binary, plain output and `--json`).

use std::path::Path;
use std::process::{Child, Command};

use crate::support::ferry::{Output, Project};
use crate::support::git::commit_all;
use crate::support::sshd::TestHosts;
use crate::support::succeed;
use ferry::release::lock::{self, LockOwner};

const PLAYBOOK: &str = r#"- hosts: web
  tasks:
    - release.upload: {}
    - name: Build
      shell: "true"
      args: { chdir: "{{ release_path }}" }
    - release.switch: {}
    - release.cleanup: {}
"#;

/// A git project deploying [`PLAYBOOK`] to `hosts`.
fn app(hosts: &TestHosts) -> Project {
    let project = Project::with_hosts(hosts);
    project.file("deploy.yml", PLAYBOOK);
    project.file(".gitignore", ".ssh/\ninventory/\n");
    project.file("app.py", "print('hello')\n");
    commit_all(project.path(), "v1");
    project
}

/// The last line a run printed on stdout.
fn last_line(out: &Output) -> &str {
    out.stdout.lines().last().unwrap_or_default()
}

/// The JSON recap, the last line of a `--json` run.
fn json_recap(out: &Output) -> serde_json::Value {
    let line = last_line(out);
    let recap: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}\n{}", out.stderr));
    assert_eq!(recap["event"], "recap", "{line}");
    recap
}

/// The run in plain and in JSON agree with each other and with the exit
/// status: same status, the recap's last line is the JSON summary, and
/// the JSON `exit_code` is the status.
fn assert_one_verdict(plain: &Output, json: &Output, status: i32) -> serde_json::Value {
    assert_eq!(plain.status, status, "{}\n{}", plain.stdout, plain.stderr);
    assert_eq!(json.status, status, "{}\n{}", json.stdout, json.stderr);
    let recap = json_recap(json);
    assert_eq!(recap["exit_code"], status, "{recap}");
    // The plain line ends with the time the run took, which the JSON
    // summary leaves to `elapsed_ms`; and a lock's age grows between runs.
    let summary = recap["summary"].as_str().unwrap();
    let took = regex::Regex::new(r" \([0-9.]+s\)$").unwrap();
    assert!(took.is_match(last_line(plain)), "{}", plain.stdout);
    let untimed = |line: &str| {
        let line = took.replace(line, "");
        let age = regex::Regex::new(r"for [0-9]+[smh][0-9ms]*").unwrap();
        age.replace_all(&line, "for AGE").into_owned()
    };
    assert_eq!(
        untimed(last_line(plain)),
        untimed(summary),
        "{}",
        plain.stdout
    );
    recap
}

/// A process standing for another deploy that holds a host's lock; killed
/// (by its own pid) when the test ends.
struct OtherDeploy(Child);

impl Drop for OtherDeploy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Takes the deploy lock at `deploy_to` on `host` exactly as a deploy does
/// (`lock::acquire` run over ssh), for a live process on this machine.
fn hold_lock(hosts: &TestHosts, host: usize, deploy_to: &Path) -> OtherDeploy {
    let other = Command::new("sleep").arg("600").spawn().expect("sleep");
    let mut owner = LockOwner::this_process(Some("0123456789abcdef"), "20260101000000-0123456");
    owner.pid = other.id();
    assert!(lock::pid_running(owner.pid));
    let command = lock::acquire(&deploy_to.display().to_string(), &owner);
    succeed(hosts.ssh(&hosts.hosts[host]).arg(command.as_sent()));
    assert!(deploy_to.join(".ferry/lock/owner").is_file());
    OtherDeploy(other)
}

/// "3 hosts succeeded" was once printed before `error:` when a host's lock
/// was held, and the JSON recap said `"exit_code": 0` while ferry exited 3.
#[test]
fn a_held_lock_exits_3_with_no_success_line() {
    let hosts = TestHosts::start(3);
    let project = app(&hosts);
    let deploy_to = hosts.hosts[1].dir.join("app");
    let _other = hold_lock(&hosts, 1, &deploy_to);

    let plain = project.ferry(&["deploy", "test"]);
    let json = project.ferry(&["deploy", "test", "--json"]);
    let recap = assert_one_verdict(&plain, &json, 3);
    assert_eq!(recap["verdict"], "cannot_start");
    for out in [&plain, &json] {
        assert!(!out.stdout.contains("succeeded"), "{}", out.stdout);
        assert!(!out.stderr.contains("succeeded"), "{}", out.stderr);
    }
    assert!(
        last_line(&plain).starts_with("could not start"),
        "{}",
        plain.stdout
    );
    assert!(last_line(&plain).contains("host2: deploy lock held by"));
    assert!(
        plain
            .stderr
            .starts_with("error: could not start:\n  host2: deploy lock held by"),
        "{}",
        plain.stderr
    );
    for i in [0, 2] {
        let other = hosts.hosts[i].dir.join("app");
        assert!(
            !other.join("current").exists(),
            "host{}: nothing deployed",
            i + 1
        );
        assert!(
            !other.join(".ferry/lock").exists(),
            "host{}: lock given back",
            i + 1
        );
    }
    assert!(
        deploy_to.join(".ferry/lock").exists(),
        "the other lock stays"
    );
}

#[test]
fn no_host_reachable_exits_3_with_no_success_line() {
    let hosts = TestHosts::start(2);
    let project = app(&hosts);
    // Nothing listens on port 1 of these addresses.
    let inventory = std::fs::read_to_string(project.path().join("inventory/test.ini")).unwrap();
    let closed = regex::Regex::new(r"ansible_port=\d+").unwrap();
    project.file(
        "inventory/test.ini",
        &closed.replace_all(&inventory, "ansible_port=1"),
    );

    let plain = project.ferry(&["deploy", "test"]);
    let json = project.ferry(&["deploy", "test", "--json"]);
    let recap = assert_one_verdict(&plain, &json, 3);
    assert_eq!(recap["verdict"], "cannot_start");
    assert!(!plain.stdout.contains("succeeded"), "{}", plain.stdout);
    assert!(
        last_line(&plain).starts_with("could not start")
            && last_line(&plain).contains("host1: unreachable")
            && last_line(&plain).contains("host2: unreachable"),
        "{}",
        plain.stdout
    );
    assert!(
        plain
            .stderr
            .starts_with("error: could not start:\n  host1: unreachable: "),
        "{}",
        plain.stderr
    );
}

/// "1 of 3 hosts failed: h3" was once followed by "error: 3 of 3 hosts did
/// not succeed".
#[test]
fn one_host_failing_of_three_is_1_of_3_everywhere() {
    let hosts = TestHosts::start(3);
    let project = Project::with_hosts(&hosts);
    let script = "test {{ inventory_hostname }} != host3";
    let plain = project.ferry(&["run", "test", "--", script]);
    let json = project.ferry(&["run", "test", "--json", "--", script]);
    let recap = assert_one_verdict(&plain, &json, 1);
    assert_eq!(recap["verdict"], "failed");
    let said = "1 of 3 hosts did not succeed: host3 failed";
    assert!(
        last_line(&plain).starts_with(&format!("{said} (")),
        "{}",
        plain.stdout
    );
    assert_eq!(recap["summary"], said);
    assert_eq!(plain.stderr.trim_end(), format!("error: {said}"));
    let count = regex::Regex::new(r"\d+ of \d+").unwrap();
    for out in [&plain, &json] {
        let all = format!("{}{}", out.stdout, out.stderr);
        let counts: Vec<&str> = count.find_iter(&all).map(|m| m.as_str()).collect();
        assert!(
            !counts.is_empty() && counts.iter().all(|c| *c == "1 of 3"),
            "{all}"
        );
    }
}

#[test]
fn a_clean_run_exits_0_everywhere() {
    let hosts = TestHosts::start(3);
    let project = app(&hosts);
    let plain = project.ferry(&["deploy", "test"]);
    assert!(plain.stderr.is_empty(), "{}", plain.stderr);
    // The second deploy finds every host current; it succeeds just the same.
    let json = project.ferry(&["deploy", "test", "--json"]);
    let recap = assert_one_verdict(&plain, &json, 0);
    assert_eq!(recap["verdict"], "success");
    assert!(
        regex::Regex::new(r"^3 hosts succeeded \([0-9.]+s\)$")
            .unwrap()
            .is_match(last_line(&plain)),
        "{}",
        plain.stdout
    );
    assert!(!json.stderr.contains("error"), "{}", json.stderr);
}
