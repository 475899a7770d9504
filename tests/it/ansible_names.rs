//! Every filter and test a task names is known when the playbook compiles,
//! as Jinja knows them when Ansible compiles a template: an unknown one —
//! even in a `when:` or an argument that waits for a registered result and
//! so is rendered on the host — stops the run at its file:line:col before
//! any host is touched, never after earlier steps ran.

use crate::support::ferry::Project;
use crate::support::sshd::TestHosts;

#[test]
fn an_unknown_filter_or_test_in_a_run_time_template_fails_the_plan_before_connecting() {
    let hosts = TestHosts::start(1);
    let project = Project::with_hosts(&hosts);
    let play = |when: &str, msg: &str| {
        format!(
            "- hosts: web\n  tasks:\n    - file: path={{{{ deploy_to }}}} state=directory\n    - command: echo hi\n      register: r\n    - debug:\n        msg: \"{msg}\"\n      when: {when}\n"
        )
    };
    let cases = [
        // A test in a `when:` that reads a registered result.
        (
            play("r is sucess", "ok"),
            "site.yml:8:18",
            "unknown test `sucess`",
            "did you mean `success`?",
        ),
        // A filter in a module argument rendered on the host.
        (
            play("r is success", "{{ r.stdout | uper }}"),
            "site.yml:7:29",
            "unknown filter `uper`",
            "did you mean `upper`?",
        ),
        // Ansible 2.9's removed result filters: refused with the rewrite.
        (
            play("r|changed", "ok"),
            "site.yml:8:15",
            "`changed` is no filter",
            "write `RESULT is changed`",
        ),
        // A branch that rendering would not reach.
        (
            play("r is success", "{{ 'a' if true else (r | nonesuch) }}"),
            "site.yml:7:",
            "unknown filter `nonesuch`",
            "",
        ),
    ];
    for (site, at, message, help) in cases {
        project.file("site.yml", &site);
        let out = project.ferry(&["playbook", "site.yml", "-i", "inventory/test.ini"]);
        assert_eq!(out.status, 2, "{site}\n{}", out.stderr);
        assert!(
            out.stderr.contains(message) && out.stderr.contains(at) && out.stderr.contains(help),
            "{site}\n{}",
            out.stderr
        );
    }
    assert!(
        !hosts.hosts[0].log().contains("Accepted"),
        "an unknown name touched a host"
    );
    assert!(
        !hosts.hosts[0].dir.join("app").exists(),
        "an earlier step ran"
    );
    // Spelled right, the same playbook runs.
    project.file("site.yml", &play("r is success", "{{ r.stdout | upper }}"));
    let out = project.ferry(&["playbook", "site.yml", "-i", "inventory/test.ini"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
}
