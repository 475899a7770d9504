//! The `--json` event stream (docs/events.md): every subcommand that takes
//! `--json` run for real, each line held to docs/events.schema.json (by
//! `support::ferry::run_ferry`, as every `--json` run of the suite is).

use serde_json::{Value, json};

use crate::support::events;
use crate::support::ferry::{Output, Project};
use crate::support::git::commit_all;
use crate::support::sshd::TestHosts;

const PLAYBOOK: &str = r#"- hosts: web
  tasks:
    - release.upload: {}
    - name: Build
      shell: "echo built {{ inventory_hostname }}"
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
    project.file(
        "site.yml",
        "- hosts: all\n  tasks:\n    - name: Say\n      command: echo said\n    - name: Fail\n      shell: echo broke >&2; exit 3\n      ignore_errors: true\n",
    );
    commit_all(project.path(), "v1");
    project
}

fn events(out: &Output) -> Vec<Value> {
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("checked JSON"))
        .collect()
}

/// A run's stream: every line has the schema's version, and it ends with
/// the recap, whose exit code is the process's.
fn run_stream(project: &Project, args: &[&str]) -> Vec<Value> {
    let out = project.ferry(args);
    let events = events(&out);
    let last = events
        .last()
        .unwrap_or_else(|| panic!("no events: {}", out.stderr));
    assert_eq!(last["event"], "recap", "{}", out.stdout);
    assert_eq!(last["exit_code"], out.status, "{}", out.stderr);
    assert!(events.iter().all(|e| e["schema"] == 1));
    events
}

fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

#[test]
fn every_json_subcommand_emits_events_of_the_schema() {
    let hosts = TestHosts::start(2);
    let project = app(&hosts);

    let out = project.ferry(&["plan", "test", "--offline", "--json"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let plan = events(&out);
    assert_eq!(plan.len(), 1, "one line: {}", out.stdout);
    assert_eq!(plan[0]["event"], "plan");
    assert_eq!(plan[0]["plays"][0]["hosts"].as_array().unwrap().len(), 2);

    let deploy = run_stream(&project, &["deploy", "test", "--json"]);
    assert_eq!(deploy.last().unwrap()["verdict"], "success");
    // The step's output is in the stream without -v.
    let said: Vec<&str> = of_kind(&deploy, "output")
        .iter()
        .filter_map(|e| e["text"].as_str())
        .collect();
    for h in &hosts.hosts {
        assert!(
            said.contains(&format!("built {}\n", h.name).as_str()),
            "{said:?}"
        );
    }
    for kind in [
        "play_start",
        "connected",
        "step_start",
        "step_end",
        "host_done",
        "run_end",
    ] {
        assert!(!of_kind(&deploy, kind).is_empty(), "no {kind} event");
    }
    for event in of_kind(&deploy, "step_end") {
        assert!(event["elapsed_ms"].is_u64(), "{event}");
    }

    run_stream(&project, &["plan", "test", "--json"]);
    std::thread::sleep(std::time::Duration::from_millis(1100)); // a new release id
    run_stream(&project, &["deploy", "test", "--json", "--force"]);
    let rollback = run_stream(&project, &["rollback", "test", "--json"]);
    assert_eq!(rollback.last().unwrap()["verdict"], "success");
    run_stream(&project, &["check", "test", "--json"]);

    // `ferry run --json` carries each host's output, without -v.
    let run = run_stream(
        &project,
        &[
            "run",
            "test",
            "--json",
            "--",
            "echo hi from {{ inventory_hostname }}",
        ],
    );
    let outputs: Vec<(&str, &str)> = of_kind(&run, "output")
        .iter()
        .map(|e| (e["host"].as_str().unwrap(), e["text"].as_str().unwrap()))
        .collect();
    for h in &hosts.hosts {
        let line = format!("hi from {}\n", h.name);
        assert!(
            outputs.contains(&(h.name.as_str(), line.as_str())),
            "{outputs:?}"
        );
    }

    let out = project.ferry(&[
        "playbook",
        "site.yml",
        "-i",
        "inventory/test.ini",
        "--plan",
        "--json",
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(events(&out)[0]["event"], "plan");
    run_stream(
        &project,
        &[
            "playbook",
            "site.yml",
            "-i",
            "inventory/test.ini",
            "--check",
            "--json",
        ],
    );
    let playbook = run_stream(
        &project,
        &["playbook", "site.yml", "-i", "inventory/test.ini", "--json"],
    );
    let recap = playbook.last().unwrap();
    let failure = &recap["failures"][0];
    assert_eq!(failure["ignored"], true, "{recap}");
    assert_eq!(failure["stderr"], json!(["broke"]), "{recap}");

    // A failed run and an unreachable host.
    let failed = run_stream(&project, &["run", "test", "--json", "--", "exit 4"]);
    assert_eq!(failed.last().unwrap()["verdict"], "failed");
    let unreachable = Project::with_hosts(&hosts);
    unreachable.file(
        "inventory/test.ini",
        &format!(
            "[web]\nnowhere ansible_host={} ansible_port=9\n",
            hosts.spare_address()
        ),
    );
    let gone = run_stream(&unreachable, &["run", "test", "--json", "--", "true"]);
    assert_eq!(of_kind(&gone, "unreachable").len(), 1);
    assert_eq!(gone.last().unwrap()["failures"][0]["kind"], "unreachable");
}

/// The check is a real one: the shape ferry had before (`elapsed`, no
/// `schema`) is refused.
#[test]
fn the_schema_refuses_the_old_shape() {
    let now = "2026-12-07T23:00:00.000Z";
    let good =
        json!({"schema": 1, "event": "host_done", "host": "web1", "elapsed_ms": 3, "time": now});
    assert_eq!(events::errors(&good), Vec::<String>::new());
    let old = json!({"event": "host_done", "host": "web1", "elapsed": 3, "time": now});
    assert!(!events::errors(&old).is_empty());
    let unknown = json!({"schema": 1, "event": "teleport", "time": now});
    assert!(!events::errors(&unknown).is_empty());
}
