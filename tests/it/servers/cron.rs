//! The `cron` module on a real Debian server's cron, as `deploy` through
//! sudo: jobs added to a user's crontab beside a line written by hand,
//! under Ansible's `#Ansible: NAME` markers, and a job in a file of
//! /etc/cron.d; then changed, disabled and removed. Each playbook's
//! `--check` predicts the run, and its second run is `ok`.

use super::{checked_run, project_on};
use crate::support::fleet::Fleet;

#[test]
fn cron_adds_updates_disables_and_removes_jobs_beside_hand_written_lines() {
    let fleet = Fleet::spec().server("web1", &["cron"]).start();
    fleet.root("web1", "echo MAILTO=ops | crontab -u deploy -");
    let project = project_on(&fleet, &["web1"]);
    let play = |tasks: &str| format!("- hosts: web\n  become: true\n  tasks:\n{tasks}");
    let crontab = || fleet.root("web1", "crontab -u deploy -l");
    let sweep = || fleet.root("web1", "cat /etc/cron.d/ferry-sweep");

    let add = "    - name: backup\n      cron: { name: backup, user: deploy, minute: \"0\", hour: \"3\", job: /usr/bin/true backup }\n\
               \x20   - name: boot\n      ansible.builtin.cron: { name: at boot, user: deploy, special_time: reboot, job: /usr/bin/true boot }\n\
               \x20   - name: sweep\n      cron: { name: sweep, cron_file: ferry-sweep, user: root, minute: \"*/5\", job: /usr/bin/true sweep }\n";
    let did = checked_run(&project, "add.yml", &play(add));
    assert_eq!(did.len(), 3, "{did:?}");
    assert_eq!(
        crontab(),
        "MAILTO=ops\n#Ansible: backup\n0 3 * * * /usr/bin/true backup\n#Ansible: at boot\n@reboot /usr/bin/true boot\n"
    );
    assert_eq!(
        sweep(),
        "#Ansible: sweep\n*/5 * * * * root /usr/bin/true sweep\n"
    );

    let change = "    - name: backup\n      cron: { name: backup, user: deploy, minute: \"0\", hour: \"4\", job: /usr/bin/true backup }\n\
                  \x20   - name: boot\n      cron: { name: at boot, user: deploy, state: absent }\n\
                  \x20   - name: sweep\n      cron: { name: sweep, cron_file: ferry-sweep, user: root, minute: \"*/5\", job: /usr/bin/true sweep, disabled: true }\n";
    let did = checked_run(&project, "change.yml", &play(change));
    assert_eq!(did.len(), 3, "{did:?}");
    assert_eq!(
        crontab(),
        "MAILTO=ops\n#Ansible: backup\n0 4 * * * /usr/bin/true backup\n"
    );
    assert_eq!(
        sweep(),
        "#Ansible: sweep\n#*/5 * * * * root /usr/bin/true sweep\n"
    );
}
