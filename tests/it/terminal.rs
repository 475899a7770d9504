//! ferry on a real terminal (a tmux pane): what a person sees once the live
//! lines are gone.

use std::time::Duration;

use crate::support::ferry::Project;
use crate::support::sshd::TestHosts;
use crate::support::tty::Tty;

/// `ferry run` printed each host's output while indicatif's live lines were
/// drawn, and the lines' final clear erased part of it: 10 of 19 hosts'
/// outputs were left on the screen (off a terminal, 19 of 19).
#[test]
fn run_on_a_terminal_lost_hosts_output() {
    let hosts = TestHosts::start(19);
    let project = Project::with_hosts(&hosts);
    let (status, screen) = Tty::run_ferry(
        project.path(),
        &[
            "run",
            "test",
            "--",
            "echo output of {{ inventory_hostname }}",
        ],
        120,
        40,
        Duration::from_secs(120),
    );
    assert_eq!(status, 0, "{screen}");
    let lines: Vec<&str> = screen.lines().map(str::trim_end).collect();
    let mut missing = Vec::new();
    for h in &hosts.hosts {
        let header = format!("── {} (rc 0) ──", h.name);
        let output = format!("output of {}", h.name);
        let at = lines.iter().position(|l| *l == header);
        if at.is_none_or(|at| lines.get(at + 1) != Some(&output.as_str())) {
            missing.push(h.name.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "no output of {missing:?} on the screen:\n{screen}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("19 hosts succeeded (")),
        "the recap's last line:\n{screen}"
    );
}
