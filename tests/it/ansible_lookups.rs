//! `lookup()` and `query()` run on the controller while the playbook
//! compiles: their results are in the plan, and a lookup that fails (a
//! missing file) is an error at its file:line:col before any host is touched.

use crate::support::ferry::Project;

#[test]
fn lookups_are_evaluated_when_the_playbook_compiles() {
    let project = Project::new();
    project.file("inventory.ini", "[web]\nh1 ansible_host=127.0.0.1\n");
    project.file(
        "files/deploy_key.pub",
        "ssh-ed25519 AAAAC3 deploy@example\n",
    );
    project.file("files/conf.d/a.conf", "");
    project.file("files/conf.d/b.conf", "");
    project.file(
        "site.yml",
        "- hosts: web\n  tasks:\n    - debug: msg=\"key {{ lookup('file', 'deploy_key.pub') }}\"\n    - debug: msg=\"pipe {{ lookup('pipe', 'echo from-the-controller') }}\"\n    - debug: msg=\"{{ item | basename }}\"\n      loop: \"{{ query('fileglob', 'conf.d/*.conf') }}\"\n",
    );
    let plan = ["playbook", "site.yml", "-i", "inventory.ini", "--plan"];
    let out = project.ferry(&plan);
    assert_eq!(out.status, 0, "{}", out.stderr);
    for shown in [
        "msg: key ssh-ed25519 AAAAC3 deploy@example",
        "msg: pipe from-the-controller",
        "msg: a.conf",
        "msg: b.conf",
    ] {
        assert!(out.stdout.contains(shown), "{shown}:\n{}", out.stdout);
    }
    // A missing file: located, nothing connected (the host does not exist).
    project.file(
        "site.yml",
        "- hosts: web\n  tasks:\n    - debug: msg=ok\n    - debug:\n        msg: \"{{ lookup('file', 'missing.pub') }}\"\n",
    );
    let out = project.ferry(&["playbook", "site.yml", "-i", "inventory.ini"]);
    assert_eq!(out.status, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("lookup `file`: no file `missing.pub`")
            && out.stderr.contains("site.yml:5:"),
        "{}",
        out.stderr
    );
}
