//! `async`/`poll` on sshd hosts: with `poll` above 0 the task runs in the
//! foreground with `async` as its timeout (the plan shows it); `poll: 0`
//! is refused at its line (tests/corpus/async-poll-zero.case).

use serde_json::Value;

use crate::support::ferry::{Project, assert_changed_nothing, step_ends};
use crate::support::sshd::TestHosts;

const PLAYBOOK: &str = r#"- hosts: web
  gather_facts: false
  tasks:
    - name: a long install
      shell: sleep 1 && touch {{ deploy_to }}/installed
      args: {creates: "{{ deploy_to }}/installed"}
      async: 60
      poll: 5
    - name: bounded by the smaller of timeout and async
      command: "true"
      async: 600
      timeout: 30
      changed_when: false
"#;

#[test]
fn async_with_poll_runs_the_task_with_async_as_its_timeout_and_twice_changes_nothing() {
    let hosts = TestHosts::start(2);
    let project = Project::with_hosts(&hosts);
    for h in &hosts.hosts {
        std::fs::create_dir_all(h.dir.join("app")).unwrap();
    }
    project.file("site.yml", PLAYBOOK);
    let args = ["playbook", "site.yml", "-i", "inventory/test.ini"];
    let out = project.ferry(&[&args[..], &["--plan", "--json"]].concat());
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let plan: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let timeouts: Vec<_> = plan["plays"][0]["hosts"][0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["timeout"].clone())
        .collect();
    assert_eq!(timeouts, [Value::from(60), Value::from(30)]);

    let (out, events) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let changed = step_ends(&events)
        .into_iter()
        .filter(|(_, _, s)| s == "changed")
        .count();
    assert_eq!(changed, 2);
    for h in &hosts.hosts {
        assert!(h.dir.join("app/installed").exists());
    }
    let (out, events) = project.ferry_json(&args);
    assert_changed_nothing(&out, &events);
}

#[test]
fn a_task_running_longer_than_async_fails() {
    let hosts = TestHosts::start(1);
    let project = Project::with_hosts(&hosts);
    project.file(
        "site.yml",
        "- hosts: web\n  gather_facts: false\n  tasks:\n    - command: sleep 30\n      async: 1\n      poll: 1\n",
    );
    let started = std::time::Instant::now();
    let (out, events) = project.ferry_json(&["playbook", "site.yml", "-i", "inventory/test.ini"]);
    assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(started.elapsed().as_secs() < 20, "the task was not stopped");
    let ends = step_ends(&events);
    assert_eq!(ends[0].2, "failed", "{ends:?}");
}
