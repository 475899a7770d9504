//! The `systemd` module on a real server's systemd, as `deploy` through
//! sudo: a unit file written, loaded, started and enabled; changed and
//! reloaded; stopped, disabled and masked. Each playbook's second run is
//! `ok`, and `--check` predicts exactly what the run changes.

use super::{checked_run, project_on};
use crate::support::fleet::Fleet;

fn unit(message: &str) -> String {
    format!(
        "    - name: unit\n      copy:\n        dest: /usr/lib/systemd/system/hello.service\n        content: |\n          [Unit]\n          Description={message}\n          [Service]\n          ExecStart=/bin/sleep infinity\n          [Install]\n          WantedBy=multi-user.target\n"
    )
}

#[test]
fn systemd_loads_starts_enables_and_masks_a_unit_and_check_mode_predicts_it() {
    let fleet = Fleet::spec().server("web1", &[]).start();
    let project = project_on(&fleet, &["web1"]);
    let play = |tasks: &str| format!("- hosts: web\n  become: true\n  tasks:\n{tasks}");
    let state = || {
        fleet.root(
            "web1",
            "systemctl is-active hello; systemctl is-enabled hello; systemctl show -p Description --value hello; true",
        )
    };

    let start = "    - name: hello\n      ansible.builtin.systemd: { name: hello, state: started, enabled: true, daemon_reload: true }\n";
    let did = checked_run(&project, "start.yml", &play(&(unit("hello v1") + start)));
    assert_eq!(did.len(), 2, "{did:?}");
    assert_eq!(
        state().split_whitespace().collect::<Vec<_>>(),
        ["active", "enabled", "hello", "v1"]
    );

    // A changed unit file, the Ansible way: the copy notifies a handler
    // that reloads systemd and restarts the unit. (A `daemon_reload` on a
    // later task would notice too, but `--check` cannot: the file has not
    // changed yet when it looks.)
    let change = format!(
        "{}      notify: reload hello\n  handlers:\n    - name: reload hello\n      systemd: {{ name: hello, state: restarted, daemon_reload: true }}\n",
        unit("hello v2")
    );
    let did = checked_run(&project, "change.yml", &play(&change));
    assert_eq!(did.len(), 2, "{did:?}");
    assert!(state().ends_with("hello v2\n"), "{}", state());

    // Masked, as a vendor unit (in /usr/lib) is: `/etc` gets a link to
    // /dev/null in its place.
    let stop = "    - name: hello\n      systemd_service: { name: hello, state: stopped, enabled: no, masked: yes }\n";
    let did = checked_run(&project, "stop.yml", &play(stop));
    assert_eq!(did.len(), 1, "{did:?}");
    let now = state();
    assert!(now.starts_with("inactive\nmasked"), "{now}");

    // `restarted` always acts, as in Ansible, and `--check` says it would.
    fleet.root("web1", "systemctl unmask hello");
    project.file(
        "restart.yml",
        &play("    - name: hello\n      systemd: { name: hello, state: restarted }\n"),
    );
    for extra in [&["--check"][..], &[]] {
        let args = [
            &["playbook", "restart.yml", "-i", "inventory/test.yml"][..],
            extra,
        ]
        .concat();
        let (out, events) = project.ferry_json(&args);
        assert_eq!(super::changed(&out, &events).len(), 1, "{extra:?}");
    }
    assert!(state().starts_with("active\n"), "{}", state());
}
