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
