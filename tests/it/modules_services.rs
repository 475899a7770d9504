//! `supervisorctl` on a real supervisord (one per test host, with its own
//! socket and config) through `ferry playbook`: a program added, started,
//! stopped, restarted and removed; each `--check` predicts the run, and
//! each second run is `ok`.

use crate::modules_copy::checked;
use crate::support::apps::Supervisors;
use crate::support::ferry::Project;
use crate::support::sshd::TestHosts;

#[test]
fn supervisorctl_adds_starts_stops_restarts_and_removes_a_program_as_predicted() {
    let hosts = TestHosts::start(1);
    let supervisors = Supervisors::start(&hosts);
    let (conf, conf_d) = &supervisors.configs[0];
    let project = Project::with_hosts(&hosts);
    let ctl = format!("supervisorctl -c {}", conf.display());
    let status = || {
        let out = std::process::Command::new("sh")
            .args([
                "-c",
                &format!("{ctl} status sleeper 2>&1 | awk '{{print $2}}'"),
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let play = |tasks: &str| {
        format!(
            "- hosts: web\n  vars:\n    conf: {}\n  tasks:\n{tasks}",
            conf.display()
        )
    };

    let start = format!(
        "    - name: program\n      copy: {{ dest: {}/sleeper.conf, content: \"[program:sleeper]\\ncommand=/bin/sleep 1000\\nautostart=false\\n\" }}\n\
         \x20   - name: add\n      supervisorctl: {{ name: sleeper, state: present, config: \"{{{{ conf }}}}\" }}\n\
         \x20   - name: start\n      community.general.supervisorctl: {{ name: sleeper, state: started, config: \"{{{{ conf }}}}\" }}\n",
        conf_d.display()
    );
    let (did, _) = checked(&project, "start.yml", &play(&start));
    assert_eq!(did, ["program", "add", "start"]);
    assert_eq!(status(), "RUNNING");

    let stop = "    - name: stop\n      supervisorctl: { name: sleeper, state: stopped, config: \"{{ conf }}\" }\n";
    let (did, _) = checked(&project, "stop.yml", &play(stop));
    assert_eq!(did, ["stop"]);
    assert_eq!(status(), "STOPPED");

    // `restarted` always acts, and `--check` says it would.
    project.file(
        "restart.yml",
        &play("    - name: restart\n      supervisorctl: { name: sleeper, state: restarted, config: \"{{ conf }}\" }\n"),
    );
    for extra in [&["--check"][..], &[]] {
        let args = [
            &["playbook", "restart.yml", "-i", "inventory/test.ini"][..],
            extra,
        ]
        .concat();
        let (out, events) = project.ferry_json(&args);
        assert_eq!(crate::servers::changed(&out, &events).len(), 1, "{extra:?}");
    }
    assert_eq!(status(), "RUNNING");

    let remove = "    - name: remove\n      supervisorctl: { name: sleeper, state: absent, config: \"{{ conf }}\" }\n";
    let (did, _) = checked(&project, "remove.yml", &play(remove));
    assert_eq!(did, ["remove"]);
    assert!(
        status().contains("ERROR") || status().is_empty(),
        "{}",
        status()
    );

    // Stopping a program supervisord does not know fails, in the run; the
    // check mode says it would stop it (only the run finds out).
    std::fs::remove_file(conf_d.join("sleeper.conf")).unwrap();
    project.file("ghost.yml", &play("    - name: ghost\n      supervisorctl: { name: ghost, state: stopped, config: \"{{ conf }}\" }\n"));
    let out = project.ferry(&["playbook", "ghost.yml", "-i", "inventory/test.ini"]);
    assert_eq!(out.status, 1, "{}", out.stdout);
    assert!(
        out.stdout.contains("supervisord runs no `ghost`")
            || out.stderr.contains("supervisord runs no `ghost`"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
}
