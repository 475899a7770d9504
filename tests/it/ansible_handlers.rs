//! When handlers run: `meta: flush_handlers`, and the flushes Ansible
//! makes after `pre_tasks` and after the roles and `tasks`. The same
//! playbook through ansible-playbook and through `ferry playbook` on sshd
//! hosts leaves the same trace.

use crate::ansible_blocks::{ansible_run, trace};
use crate::support::ferry::Project;
use crate::support::sshd::TestHosts;

const FLUSHES: &str = r#"- hosts: web
  gather_facts: false
  pre_tasks:
    - file: path={{ deploy_to }} state=directory
    - shell: echo pre >> {{ deploy_to }}/trace
      notify: h1
  roles:
    - r
  tasks:
    - shell: echo task1 >> {{ deploy_to }}/trace
      notify: [h2]
    - meta: flush_handlers
    - shell: echo task2 >> {{ deploy_to }}/trace
      notify: [h1, h2]
    - meta: noop
  post_tasks:
    - shell: echo post >> {{ deploy_to }}/trace
      notify: h1
  handlers:
    - name: h1
      shell: echo h1 >> {{ deploy_to }}/trace
    - name: h2
      shell: echo h2 >> {{ deploy_to }}/trace
"#;

#[test]
fn handlers_are_flushed_where_ansible_flushes_them() {
    let hosts = TestHosts::start(1);
    let project = Project::with_hosts(&hosts);
    project.file("site.yml", FLUSHES);
    project.file(
        "roles/r/tasks/main.yml",
        "- shell: echo role >> {{ deploy_to }}/trace\n  notify: h2\n",
    );
    let local = tempfile::tempdir().unwrap();
    assert_eq!(ansible_run(&project, "site.yml", local.path(), &[]), 0);
    let expected = trace(local.path());
    assert_eq!(
        expected,
        "pre\nh1\nrole\ntask1\nh2\ntask2\nh1\nh2\npost\nh1\n"
    );
    let out = project.ferry(&["playbook", "site.yml", "-i", "inventory/test.ini"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        trace(&hosts.hosts[0].dir.join("app")),
        expected,
        "{}",
        out.stdout
    );

    let plan = project.ferry(&["playbook", "site.yml", "-i", "inventory/test.ini", "--plan"]);
    assert_eq!(
        plan.stdout
            .matches("the handlers notified so far run here")
            .count(),
        3,
        "{}",
        plan.stdout
    );
}

#[test]
fn meta_actions_ferry_does_not_run_are_refused_with_their_location() {
    let project = Project::new();
    project.file("inventory/test.ini", "[web]\nweb1 ansible_host=127.0.0.1\n");
    for (task, at, says) in [
        (
            "    - meta: end_play\n",
            "site.yml:3:13",
            "`meta: end_play` is not supported",
        ),
        (
            "    - meta: flush_handlers\n      when: x\n",
            "site.yml:4:7",
            "when",
        ),
    ] {
        project.file("site.yml", &format!("- hosts: web\n  tasks:\n{task}"));
        let out = project.ferry(&["playbook", "site.yml", "-i", "inventory/test.ini", "--plan"]);
        assert_eq!(out.status, 2, "{task}\n{}\n{}", out.stdout, out.stderr);
        assert!(out.stderr.contains(at), "{at}\n{}", out.stderr);
        assert!(out.stderr.contains(says), "{says}\n{}", out.stderr);
    }
}

/// A host that stops after a change notified a handler, or whose handler
/// fails before the next one, says which handlers did not run: what they
/// apply (a reload, a restart) is not applied, and a second run, finding
/// the change made, would not notify them again.
#[test]
fn handlers_a_change_notified_that_did_not_run_are_named_in_the_recap() {
    let hosts = TestHosts::start(2);
    let project = Project::with_hosts(&hosts);
    project.file(
        "site.yml",
        r#"- hosts: web
  tasks:
    - file: path={{ deploy_to }} state=directory
    - copy: {content: "v2\n", dest: "{{ deploy_to }}/site.conf"}
      notify: [Reload web, Restart app]
    - shell: "test {{ inventory_hostname }} != host1"
  handlers:
    - name: Reload web
      shell: "test {{ inventory_hostname }} != host2"
    - name: Restart app
      shell: echo restarted >> {{ deploy_to }}/restarts
"#,
    );
    let out = project.ferry(&["playbook", "site.yml", "-i", "inventory/test.ini"]);
    assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
    for line in [
        r#"host1: notified, not run: "Reload web", "Restart app""#,
        r#"host2: notified, not run: "Restart app""#,
    ] {
        assert!(out.stdout.contains(line), "{}", out.stdout);
    }

    // The same, as events, from the same start.
    for host in &hosts.hosts {
        std::fs::remove_file(host.dir.join("app/site.conf")).unwrap();
    }
    let (out, events) = project.ferry_json(&["playbook", "site.yml", "-i", "inventory/test.ini"]);
    assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
    let not_run = |host: &str| {
        events
            .iter()
            .find(|e| e["event"] == "host_done" && e["host"] == host)
            .map(|e| e["handlers_not_run"].clone())
            .unwrap()
    };
    // host1 stopped at the step after the change; host2's first handler
    // failed before the second.
    assert_eq!(
        not_run("host1"),
        serde_json::json!(["Reload web", "Restart app"])
    );
    assert_eq!(not_run("host2"), serde_json::json!(["Restart app"]));
    assert!(!hosts.hosts[1].dir.join("app/restarts").exists());
    let recap = events.last().unwrap();
    let kinds: Vec<_> = recap["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["kind"].as_str().unwrap(), f["host"].as_str().unwrap()))
        .collect();
    assert!(kinds.contains(&("handlers_not_run", "host1")), "{kinds:?}");
    assert!(kinds.contains(&("handlers_not_run", "host2")), "{kinds:?}");
}
