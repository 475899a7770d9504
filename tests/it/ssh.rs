//! `ferry ssh`: an interactive shell on a host, in `current`, on a real
//! terminal (a tmux pane), through the system's ssh with ferry's view of
//! the connection — and the same host key checks as every other command.

use std::time::Duration;

use crate::support::ferry::Project;
use crate::support::git::commit_all;
use crate::support::sshd::TestHosts;
use crate::support::tty::Tty;

const PLAYBOOK: &str =
    "- hosts: web\n  tasks:\n    - release.upload: {}\n    - release.switch: {}\n";

/// A deployed project on `hosts`.
fn deployed(hosts: &TestHosts) -> Project {
    let project = Project::with_hosts(hosts);
    project.file("deploy.yml", PLAYBOOK);
    project.file(".gitignore", ".ssh/\ninventory/\n");
    project.file("app.txt", "v1\n");
    commit_all(project.path(), "v1");
    let out = project.ferry(&["deploy", "test"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    project
}

#[test]
fn ssh_opens_a_shell_in_current_on_the_named_host() {
    let hosts = TestHosts::start(2);
    let project = deployed(&hosts);
    let host = &hosts.hosts[1];
    let tty = Tty::start_ferry(project.path(), &["ssh", "test", &host.name], 120, 30);
    tty.send_line("echo \"at $(pwd) $(cat app.txt) on $((6 * 7))\"");
    let current = host.dir.join("app/current");
    let screen = tty.wait_for(
        &format!("at {} v1 on 42", current.display()),
        Duration::from_secs(20),
    );
    // A terminal: the shell is interactive, with a tty of its own.
    tty.send_line("test -t 0 && echo \"tty: yes\"");
    tty.wait_for("tty: yes", Duration::from_secs(10));
    tty.send_line("exit 7");
    assert_eq!(tty.wait(Duration::from_secs(10)), 7, "{screen}");
}

#[test]
fn ssh_refuses_an_unknown_or_changed_host_key_as_ferry_does() {
    let hosts = TestHosts::start(1);
    let project = deployed(&hosts);
    // No known key: refused (ferry never trusts on first use unasked).
    project.file(".ssh/known_hosts", "");
    let out = project.ferry(&["ssh", "test"]);
    assert_eq!(out.status, 255, "{}", out.stderr);
    assert!(
        out.stderr.contains("Host key verification failed"),
        "{}",
        out.stderr
    );
    let run = project.ferry(&["run", "test", "--", "true"]);
    assert_eq!(run.status, 3, "ferry run refuses it too: {}", run.stdout);

    // Another key under the host's name: refused, loudly.
    let host = &hosts.hosts[0];
    let line = host.known_hosts_line();
    let name = line.split_whitespace().next().unwrap();
    let other = project.path().join("other");
    crate::support::sshd::new_key(&other, "ed25519", "");
    let public = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let key: Vec<&str> = public.split_whitespace().take(2).collect();
    project.file(".ssh/known_hosts", &format!("{name} {}\n", key.join(" ")));
    let out = project.ferry(&["ssh", "test"]);
    assert_eq!(out.status, 255, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{}",
        out.stderr
    );
}

#[test]
fn ssh_to_a_host_not_in_the_stage_names_its_hosts() {
    let project = Project::new();
    project.file("deploy.yml", PLAYBOOK);
    project.file(
        "inventory/test.ini",
        "[web]\nweb1 ansible_host=127.0.0.1\nweb2 ansible_host=127.0.0.2\n[web:vars]\ndeploy_to=/srv/app\n",
    );
    let out = project.ferry(&["ssh", "test", "web3"]);
    assert_eq!(out.status, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("stage `test` has no host `web3`: its hosts are `web1`, `web2`"),
        "{}",
        out.stderr
    );
}
