//! `block` with `rescue` and `always`, run as Ansible runs it: the same
//! playbook through a real `ansible-playbook` (local connection) and
//! through `ferry playbook` on sshd hosts leaves the same trace of the
//! tasks that ran; a rescued host is not failed; a deploy whose block fails
//! before `release.switch` switches no host.

use std::path::Path;

use serde_json::Value;

use crate::support::ferry::{Project, step_ends};
use crate::support::git::{commit_all, git};
use crate::support::sshd::TestHosts;

/// Every task appends its name to `{{ deploy_to }}/trace`. The first block
/// fails and is rescued; in the second, an inner block without rescue
/// fails, its `always` runs, the outer rescue runs and exits
/// `{{ rescue_rc }}`: 0 rescues the host, anything else fails it after the
/// outer `always`.
const TRACE: &str = r#"- hosts: web
  gather_facts: false
  tasks:
    - file: path={{ deploy_to }} state=directory
    - name: start
      shell: echo start >> {{ deploy_to }}/trace
    - block:
        - name: b1
          shell: echo b1 >> {{ deploy_to }}/trace
        - name: boom
          command: "false"
        - set_fact: not_set=1
        - name: not reached
          shell: echo b3 >> {{ deploy_to }}/trace
      rescue:
        - name: r1
          shell: echo "r1 {{ ansible_failed_task.name }} rc={{ ansible_failed_result.rc }}" >> {{ deploy_to }}/trace
        - set_fact: caught=yes
      always:
        - name: a1
          shell: echo a1 >> {{ deploy_to }}/trace
    - block:
        - block:
            - name: inner fails
              shell: echo i1 >> {{ deploy_to }}/trace; exit 3
            - name: inner not reached
              shell: echo i1b >> {{ deploy_to }}/trace
          always:
            - name: inner always
              shell: echo i2 >> {{ deploy_to }}/trace
        - name: after inner
          shell: echo i3 >> {{ deploy_to }}/trace
      rescue:
        - name: outer rescue
          shell: echo o1 >> {{ deploy_to }}/trace; exit {{ rescue_rc }}
        - name: outer rescue 2
          shell: echo o2 >> {{ deploy_to }}/trace
      always:
        - name: outer always
          shell: echo o3 >> {{ deploy_to }}/trace
        - name: outer always 2
          shell: echo o4 >> {{ deploy_to }}/trace
    - name: last
      shell: echo last {{ caught }} {{ not_set | default('unset') }} >> {{ deploy_to }}/trace
"#;

pub(crate) fn trace(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("trace")).unwrap_or_default()
}

/// Runs `playbook` with ansible-playbook on the local machine, with
/// `deploy_to` set to `dir`: its exit status.
pub(crate) fn ansible_run(project: &Project, playbook: &str, dir: &Path, extra: &[&str]) -> i32 {
    let ansible = crate::inventory_ansible::Ansible::get();
    let inventory = project.path().join("ansible.ini");
    std::fs::write(
        &inventory,
        "[web]\nweb1 ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n",
    )
    .unwrap();
    let deploy_to = format!("deploy_to={}", dir.display());
    let mut args = vec!["-i", inventory.to_str().unwrap(), "-e", deploy_to.as_str()];
    for e in extra {
        args.extend(["-e", e]);
    }
    let path = project.path().join(playbook);
    args.push(path.to_str().unwrap());
    let output = ansible
        .command("ansible-playbook", &args)
        .output()
        .expect("run ansible-playbook");
    output.status.code().unwrap_or(-1)
}

/// The same playbook leaves the same trace under ansible-playbook and
/// ferry, rescued (exit 0) and not (Ansible's 2 is ferry's 1), and a
/// second run changes nothing but the trace (its `shell` steps append).
#[test]
fn rescue_and_always_run_the_tasks_ansible_runs() {
    let hosts = TestHosts::start(2);
    let project = Project::with_hosts(&hosts);
    project.file("site.yml", TRACE);
    for (rc, ansible_status, ferry_status) in [("0", 0, 0), ("1", 2, 1)] {
        let extra = format!("rescue_rc={rc}");
        let local = tempfile::tempdir().unwrap();
        let status = ansible_run(&project, "site.yml", local.path(), &[&extra]);
        assert_eq!(status, ansible_status, "ansible-playbook with {extra}");
        let expected = trace(local.path());
        assert!(
            expected.starts_with("start\nb1\nr1 boom rc=1\na1\n"),
            "{expected}"
        );
        // A fact set in a rescue is seen later; one after the failure is not.
        if rc == "0" {
            assert!(expected.ends_with("o4\nlast yes unset\n"), "{expected}");
        }

        for h in &hosts.hosts {
            let _ = std::fs::remove_file(h.dir.join("app/trace"));
        }
        let args = [
            "playbook",
            "site.yml",
            "-i",
            "inventory/test.ini",
            "-e",
            &extra,
        ];
        let (out, events) = project.ferry_json(&args);
        assert_eq!(out.status, ferry_status, "{}\n{}", out.stdout, out.stderr);
        for h in &hosts.hosts {
            assert_eq!(trace(&h.dir.join("app")), expected, "{}", out.stdout);
        }
        // The failures a rescue took over are marked so; an unrescued one is not.
        let boom = events
            .iter()
            .find(|e| e["event"] == "step_end" && e["name"] == "boom")
            .unwrap();
        assert_eq!(boom["status"], "failed");
        assert_eq!(boom["rescued"], true, "{boom}");
        let rescue = events
            .iter()
            .find(|e| e["event"] == "step_end" && e["name"] == "outer rescue")
            .unwrap();
        assert_eq!(
            rescue["status"],
            if rc == "0" { "changed" } else { "failed" }
        );
        assert!(rescue.get("rescued").is_none(), "{rescue}");
    }
}

#[test]
fn a_rescued_host_is_not_failed_and_the_second_run_changes_nothing() {
    let hosts = TestHosts::start(2);
    let project = Project::with_hosts(&hosts);
    project.file(
        "site.yml",
        "- hosts: web\n  tasks:\n    - file: path={{ deploy_to }} state=directory\n    - block:\n        - copy: content=one dest={{ deploy_to }}/a\n        - fail: msg=missing\n          when: inventory_hostname == 'host1'\n        - copy: content=skipped dest={{ deploy_to }}/b\n      rescue:\n        - copy: content=rescued dest={{ deploy_to }}/b\n      always:\n        - copy: content=always dest={{ deploy_to }}/c\n    - copy: content=after dest={{ deploy_to }}/d\n",
    );
    let args = ["playbook", "site.yml", "-i", "inventory/test.ini"];
    for run in 0..2 {
        let (out, events) = project.ferry_json(&args);
        assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
        let read = |i: usize, f: &str| {
            std::fs::read_to_string(hosts.hosts[i].dir.join("app").join(f)).ok()
        };
        // host1 failed in the block and was rescued; host2 did not fail.
        assert_eq!(read(0, "b").as_deref(), Some("rescued"));
        assert_eq!(read(1, "b").as_deref(), Some("skipped"));
        for i in 0..2 {
            assert_eq!(read(i, "c").as_deref(), Some("always"));
            assert_eq!(read(i, "d").as_deref(), Some("after"));
        }
        let recap = events.iter().find(|e| e["event"] == "recap").unwrap();
        assert_eq!(recap["hosts"]["host1"]["failed"], 0, "{recap}");
        assert_eq!(recap["hosts"]["host1"]["rescued"], 1, "{recap}");
        if run == 1 {
            let changed: Vec<_> = step_ends(&events)
                .into_iter()
                .filter(|(_, _, s)| s == "changed")
                .collect();
            assert!(changed.is_empty(), "second run changed {changed:?}");
        }
    }
    // Check mode runs the same blocks: host1's `fail` fails, its rescue is
    // predicted, nothing is written.
    std::fs::remove_file(hosts.hosts[0].dir.join("app/b")).unwrap();
    let (out, events) = project.ferry_json(&[&args[..], &["--check"]].concat());
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(!hosts.hosts[0].dir.join("app/b").exists());
    let ends = step_ends(&events);
    assert!(
        ends.iter()
            .any(|(h, n, s)| h == "host1" && n == "copy" && s == "changed"),
        "{ends:?}"
    );
}

/// The plan shows which steps run only on a failure, and JSON carries the
/// blocks each step is in.
#[test]
fn the_plan_says_when_rescue_and_always_steps_run() {
    let project = Project::new();
    project.file("inventory/test.ini", "[web]\nweb1 ansible_host=127.0.0.1\n");
    project.file(
        "site.yml",
        "- hosts: web\n  tasks:\n    - block:\n        - command: 'true'\n      rescue:\n        - debug: msg=rescued\n      always:\n        - debug: msg=always\n    - block:\n        - command: 'false'\n      always:\n        - debug: msg=after\n",
    );
    let out = project.ferry(&["playbook", "site.yml", "-i", "inventory/test.ini", "--plan"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    for line in [
        "in a block: a failure here runs the block's rescue",
        "rescue: runs only when a step of its block fails",
        "always: runs after its block, failed or not",
        "in a block: a failure here runs the block's always first",
    ] {
        assert!(out.stdout.contains(line), "{line}\n{}", out.stdout);
    }
    let out = project.ferry(&[
        "playbook",
        "site.yml",
        "-i",
        "inventory/test.ini",
        "--plan",
        "--json",
    ]);
    let plan: Value = serde_json::from_str(&out.stdout).unwrap();
    let steps = &plan["plays"][0]["hosts"][0]["steps"];
    assert_eq!(
        steps[0]["blocks"],
        serde_json::json!([{"block": 0, "part": "block", "rescue": true}])
    );
    assert_eq!(steps[1]["blocks"][0]["part"], "rescue");
    assert_eq!(
        steps[4]["blocks"],
        serde_json::json!([{"block": 1, "part": "always"}])
    );
}

#[test]
fn release_steps_and_handlers_in_a_block_with_rescue_are_refused_with_their_location() {
    let project = Project::new();
    project.file("inventory/test.ini", "[web]\nweb1 ansible_host=127.0.0.1\n");
    for (playbook, at, says) in [
        (
            "- hosts: web\n  tasks:\n    - block:\n        - release.upload: {}\n      always:\n        - debug: msg=x\n",
            "site.yml:4:11",
            "`release.upload` cannot be in a block with `rescue` or `always`",
        ),
        (
            "- hosts: web\n  tasks:\n    - block:\n        - debug: msg=x\n      rescue:\n        - block:\n            - certs: {}\n",
            "site.yml:7:15",
            "`certs` cannot be in a block with `rescue` or `always`",
        ),
        (
            "- hosts: web\n  tasks:\n    - command: 'true'\n      notify: h\n  handlers:\n    - block:\n        - name: h\n          command: 'true'\n      rescue:\n        - debug: msg=x\n",
            "site.yml:8:11",
            "a handler cannot be in a block with `rescue` or `always`",
        ),
        (
            "- hosts: web\n  tasks:\n    - block:\n        - debug: msg=x\n      recsue:\n        - debug: msg=y\n",
            "site.yml:5:7",
            "recsue",
        ),
    ] {
        project.file("site.yml", playbook);
        let out = project.ferry(&["playbook", "site.yml", "-i", "inventory/test.ini", "--plan"]);
        assert_eq!(out.status, 2, "{}\n{}", out.stdout, out.stderr);
        assert!(out.stderr.contains(at), "{at}\n{}", out.stderr);
        assert!(out.stderr.contains(says), "{says}\n{}", out.stderr);
    }
}

/// A deploy whose block fails before the switch on one host runs that
/// host's `always` and switches no host; with a `rescue`, the host is
/// prepared and every host switches.
#[test]
fn a_block_failing_before_the_switch_switches_no_host_unless_rescued() {
    let hosts = TestHosts::start(2);
    let project = Project::with_hosts(&hosts);
    let playbook = |rescue: &str| {
        format!(
            "- hosts: web\n  tasks:\n    - release.upload: {{}}\n    - block:\n        - name: Build\n          shell: test ! -e {{{{ deploy_to }}}}/FAIL && until [ -e {{{{ gate }}}} ]; do sleep 0.1; done && sleep 0.5\n{rescue}      always:\n        - name: Note\n          shell: echo noted >> {{{{ deploy_to }}}}/NOTES\n    - release.switch: {{}}\n"
        )
    };
    project.file("deploy.yml", &playbook(""));
    project.file(".gitignore", ".ssh/\ninventory/\n");
    project.file("app.py", "VERSION = 1\n");
    commit_all(project.path(), "v1");
    let app = |i: usize| hosts.hosts[i].dir.join("app");
    // host1 builds only once host2 has failed and run its `always`: the
    // barrier is doomed by then, and host1's `always` still runs.
    for (i, gate) in [(0, app(1).join("NOTES")), (1, "/".into())] {
        project.file(
            &format!("inventory/host_vars/{}.yml", hosts.hosts[i].name),
            &format!(
                "deploy_to: {}\ngate: {}\n",
                app(i).display(),
                gate.display()
            ),
        );
    }
    std::fs::create_dir_all(app(1)).unwrap();
    std::fs::write(app(1).join("FAIL"), "").unwrap();
    let out = project.ferry(&["deploy", "test"]);
    assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
    for i in 0..2 {
        assert!(
            !app(i).join("current").exists(),
            "host {i} switched:\n{}",
            out.stdout
        );
        assert_eq!(
            std::fs::read_to_string(app(i).join("NOTES")).unwrap(),
            "noted\n"
        );
    }

    project.file(
        "deploy.yml",
        &playbook("      rescue:\n        - name: Fallback\n          command: 'true'\n"),
    );
    git(project.path(), &["commit", "-q", "-am", "rescued"]);
    let out = project.ferry(&["deploy", "test"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    for i in 0..2 {
        assert!(
            app(i).join("current/REVISION").exists(),
            "host {i}:\n{}",
            out.stdout
        );
    }
}
