//! Inputs far larger than a deploy needs: an error where they are written,
//! or work that grows with them, never a machine brought down.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::support::ferry::Project;

/// `web[1:999999999]` once aborted ferry on a 24 GB allocation.
#[test]
fn a_huge_range_in_the_inventory_is_a_located_error() {
    let project = Project::new();
    project.file(
        "deploy.yml",
        "- hosts: web\n  tasks:\n    - command: 'true'\n",
    );
    project.file(
        "inventory/test.yml",
        "web:\n  hosts:\n    web[1:999999999]:\n",
    );
    let started = Instant::now();
    let out = project.ferry(&["plan", "test", "--offline"]);
    assert_eq!(out.status, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        out.stderr.contains(
            "range `[1:999999999]` makes 999999999 hosts: one name may stand for at most 100000"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("inventory/test.yml:3:8"),
        "{}",
        out.stderr
    );
}

/// CPU seconds that this process's finished children have used: how much
/// work a `ferry` run took, whatever else the machine is doing.
fn children_cpu() -> f64 {
    // SAFETY: `getrusage` only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage), 0);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// `ferry plan big --offline` on a generated inventory of `hosts` hosts;
/// the CPU seconds it took.
fn plan_offline(hosts: usize) -> f64 {
    let project = Project::new();
    project.file(
        "deploy.yml",
        "- hosts: web\n  tasks:\n    - name: Say which\n      command: \"echo {{ inventory_hostname }} {{ group_names | join(',') }}\"\n    - name: Check the directory\n      shell: \"test -d {{ deploy_to | quote }}\"\n      when: deploy_to is defined\n",
    );
    let mut inventory = String::from(
        "all:\n  vars:\n    deploy_to: \"/srv/{{ inventory_hostname }}/app\"\n  children:\n    web:\n      hosts:\n",
    );
    for i in 0..hosts {
        let (a, b) = (i / 250, i % 250 + 1);
        let _ = writeln!(
            inventory,
            "        web{i}: {{ ansible_host: 127.0.{a}.{b} }}"
        );
    }
    project.file("inventory/big.yml", &inventory);
    let before = children_cpu();
    let out = project.ferry(&["plan", "big", "--offline"]);
    let cpu = children_cpu() - before;
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(&format!("({hosts} hosts)")),
        "{}",
        &out.stdout[..200]
    );
    let last = hosts - 1;
    assert!(
        out.stdout.contains(&format!(
            "\n  web{last} (127.0.{}.{})",
            last / 250,
            last % 250 + 1
        )),
        "every host is planned"
    );
    cpu
}

/// `plan --offline` once grew with the square of the hosts (10,000 hosts:
/// 51–105 s; 500: 0.18 s): every host's variables held a copy of `groups`
/// and of the play's host list. Not a benchmark: 2,000 hosts take well
/// under a minute of CPU even in a debug build, and four times the hosts
/// take about four times the work (the quadratic code took 7.4 times, a
/// debug build from 500 to 2,000 hosts; this one 3). Measured in CPU time,
/// not wall time, so that a busy machine does not fail it.
#[test]
fn plan_offline_of_2000_hosts_does_not_blow_up() {
    let small = plan_offline(500);
    let large = plan_offline(2000);
    assert!(large < 60.0, "2,000 hosts took {large:.1}s of CPU");
    assert!(
        large < 6.0 * small,
        "500 hosts: {small:.2}s of CPU, 2,000 hosts: {large:.2}s"
    );
}
