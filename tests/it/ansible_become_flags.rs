//! ansible-playbook's `-u`, `-b`, `--become-user` and `--become-method` on
//! `ferry playbook`: defaults for the plays that do not set them, the
//! play's own keywords winning, as in Ansible.

use crate::support::ferry::Project;

#[test]
fn user_and_become_flags_are_defaults_that_a_play_overrides() {
    let project = Project::new();
    project.file("inventory.ini", "[web]\nh1 ansible_host=127.0.0.1\n");
    project.file(
        "site.yml",
        "- hosts: web\n  tasks:\n    - command: whoami\n- hosts: web\n  remote_user: keep\n  become: false\n  tasks:\n    - command: id\n",
    );
    let plan = ["playbook", "site.yml", "-i", "inventory.ini", "--plan"];
    let out =
        project.ferry(&[&plan[..], &["-u", "deployer", "-b", "--become-user", "app"]].concat());
    assert_eq!(out.status, 0, "{}", out.stderr);
    let (first, second) = out
        .stdout
        .split_once("PLAY web")
        .unwrap()
        .1
        .split_once("PLAY web")
        .unwrap();
    assert!(
        first.contains("h1 (deployer@127.0.0.1)")
            && first.contains("sudo -n -H -u app -- sh -c whoami"),
        "{}",
        out.stdout
    );
    assert!(
        second.contains("h1 (keep@127.0.0.1)")
            && second.contains("run:   id")
            && !second.contains("sudo"),
        "{}",
        out.stdout
    );
    // Without the flags, nobody escalates.
    let out = project.ferry(&plan);
    assert!(!out.stdout.contains("sudo"), "{}", out.stdout);
    let out = project.ferry(&[&plan[..], &["--become-method", "su"]].concat());
    assert_eq!(out.status, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("`--become-method su` is not supported: ferry escalates with sudo"),
        "{}",
        out.stderr
    );
    let out = project.ferry(&[&plan[..], &["--become-method", "sudo", "-b"]].concat());
    assert_eq!(out.status, 0, "{}", out.stderr);
}
