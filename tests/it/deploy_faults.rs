//! The deploy guarantees under faults (DESIGN.md, "Guarantees"), each test
//! named after the defect it pins: real sshd hosts that die, freeze, change
//! their key or race, and a real `ferry` process interrupted by SIGINT.
//!
//! Every host's `Build` step (before the switch) and `Verify` step (after
//! it) wait while a marker file exists in its `deploy_to`, so a test can
//! hold hosts at a chosen point and act on the fleet there.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::ferry::{Project, ferry_bin};
use crate::support::git::{commit_all, git};
use crate::support::sshd::TestHosts;

const PLAYBOOK: &str = r#"- hosts: web
  vars:
    keep_releases: 2
  tasks:
    - release.upload: {}
    - name: Build
      shell: >-
        touch {{ deploy_to }}/ARRIVED;
        while [ -e {{ deploy_to }}/HOLD ]; do sleep 0.1; done;
        test ! -e {{ deploy_to }}/FAIL_BUILD
      args: { chdir: "{{ release_path }}" }
    - release.switch: {}
    - name: Verify
      shell: >-
        while [ -e {{ deploy_to }}/HOLD_AFTER ]; do sleep 0.1; done;
        test ! -e {{ deploy_to }}/FAIL_VERIFY && echo verified >> {{ deploy_to }}/VERIFIED
      changed_when: false
    - release.cleanup: {}
"#;

fn app(hosts: &TestHosts) -> Project {
    let project = Project::with_hosts(hosts);
    project.file("deploy.yml", PLAYBOOK);
    project.file(".gitignore", ".ssh/\ninventory/\n");
    project.file("app.py", "VERSION = 1\n");
    commit(&project, "v1");
    project
}

/// `n` hosts with the app deployed once; the commit each serves.
fn deployed(n: usize) -> (TestHosts, Project, Vec<String>) {
    let hosts = TestHosts::start(n);
    let project = app(&hosts);
    let (status, out) = deploy(&project, &[]);
    assert_eq!(status, 0, "{out}");
    let serving = serving(&hosts);
    (hosts, project, serving)
}

/// Commits a change and returns the new commit; waits past the second so
/// the next release id is new.
fn commit(project: &Project, message: &str) -> String {
    project.file("app.py", &format!("VERSION = '{message}'\n"));
    let commit = commit_all(project.path(), message);
    std::thread::sleep(Duration::from_millis(1100));
    commit
}

fn deploy_to(hosts: &TestHosts, i: usize) -> PathBuf {
    hosts.hosts[i].dir.join("app")
}

/// The commit each host's `current` serves.
fn serving(hosts: &TestHosts) -> Vec<String> {
    (0..hosts.hosts.len())
        .map(|i| {
            std::fs::read_to_string(deploy_to(hosts, i).join("current/REVISION"))
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        })
        .collect()
}

fn marker(hosts: &TestHosts, i: usize, name: &str) -> PathBuf {
    deploy_to(hosts, i).join(name)
}

fn set(hosts: &TestHosts, i: usize, name: &str) {
    std::fs::write(marker(hosts, i, name), "").unwrap();
}

fn clear(hosts: &TestHosts, i: usize, name: &str) {
    let _ = std::fs::remove_file(marker(hosts, i, name));
}

/// `ferry deploy test ARGS` running in the background, as a user starts it.
fn spawn_deploy(project: &Project, args: &[&str]) -> Child {
    Command::new(ferry_bin())
        .args(["deploy", "test"])
        .args(args)
        .current_dir(project.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", project.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ferry")
}

/// Waits for a deploy to end (at most `limit`: a hang fails the test);
/// its exit status and output.
fn finish(mut child: Child, limit: Duration) -> (i32, String) {
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            let text = format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            return (out.status.code().unwrap_or(-1), text);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "ferry did not finish within {limit:?}:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn deploy(project: &Project, args: &[&str]) -> (i32, String) {
    finish(spawn_deploy(project, args), Duration::from_secs(90))
}

fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < limit, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until every host's `current` serves `commit`.
fn wait_until_serving(hosts: &TestHosts, commit: &str) {
    wait_for("every host to switch", Duration::from_secs(30), || {
        serving(hosts).iter().all(|c| c == commit)
    });
}

fn interrupt(child: &Child) {
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
}

#[test]
fn a_host_unreachable_at_connect_or_with_a_changed_key_switches_no_host() {
    let (hosts, project, v1) = deployed(3);

    // host3's key changed: it stops there, and so does every other host.
    commit(&project, "v2");
    let known = project.path().join(".ssh/known_hosts");
    let trusted = std::fs::read_to_string(&known).unwrap();
    let other_key = TestHosts::start(1).hosts[0].host_key.clone();
    let h3 = &hosts.hosts[2];
    std::fs::write(&known, trusted.replace(&h3.host_key, &other_key)).unwrap();
    let (status, out) = deploy(&project, &[]);
    assert_eq!(status, 1, "{out}");
    assert_eq!(serving(&hosts), v1, "no host switched:\n{out}");
    assert!(out.contains("host3"), "{out}");
    std::fs::write(&known, &trusted).unwrap();

    // host3 down: the same.
    h3.signal_all(libc::SIGKILL);
    let (status, out) = deploy(&project, &[]);
    assert_eq!(status, 1, "{out}");
    assert_eq!(serving(&hosts), v1, "no host switched:\n{out}");
    assert!(out.contains("host3"), "{out}");
    assert!(out.contains("not switched"), "{out}");

    // The plan predicts it.
    let plan = project.ferry(&["plan", "test"]);
    assert_eq!(plan.status, 1, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("would not switch: `host3` failed"),
        "{}",
        plan.stdout
    );
}

#[test]
fn a_host_lost_while_waiting_at_the_barrier_switches_no_host() {
    let (hosts, project, v1) = deployed(3);

    commit(&project, "v2");
    set(&hosts, 0, "HOLD");
    for i in 0..3 {
        clear(&hosts, i, "ARRIVED");
    }
    let child = spawn_deploy(&project, &[]);
    // host3 has built and waits at the barrier while host1 still builds.
    wait_for("host3 to build", Duration::from_secs(30), || {
        marker(&hosts, 2, "ARRIVED").exists()
    });
    std::thread::sleep(Duration::from_millis(800));
    hosts.hosts[2].signal_all(libc::SIGKILL);
    std::thread::sleep(Duration::from_millis(800));
    clear(&hosts, 0, "HOLD");
    let (status, out) = finish(child, Duration::from_secs(60));
    assert_eq!(status, 1, "{out}");
    assert_eq!(serving(&hosts), v1, "no host switched:\n{out}");
    assert!(out.contains("`host3` failed"), "{out}");
}

#[test]
fn a_frozen_host_is_noticed_within_twenty_seconds_and_switches_no_host() {
    let (hosts, project, v1) = deployed(3);

    commit(&project, "v2");
    for i in 0..3 {
        clear(&hosts, i, "ARRIVED");
        set(&hosts, i, "HOLD");
    }
    let child = spawn_deploy(&project, &[]);
    wait_for("host3 to build", Duration::from_secs(30), || {
        marker(&hosts, 2, "ARRIVED").exists()
    });
    // Frozen mid-step, while the others are held too: nothing will ever
    // come back from it.
    hosts.hosts[2].signal_all(libc::SIGSTOP);
    let frozen = Instant::now();
    clear(&hosts, 0, "HOLD");
    clear(&hosts, 1, "HOLD");
    let (status, out) = finish(child, Duration::from_secs(60));
    let noticed = frozen.elapsed();
    hosts.hosts[2].signal_all(libc::SIGKILL);
    assert_eq!(status, 1, "{out}");
    assert_eq!(serving(&hosts), v1, "no host switched:\n{out}");
    assert!(
        noticed < Duration::from_secs(25),
        "the frozen host was noticed after {noticed:?}"
    );
    eprintln!("frozen host noticed after {noticed:?}");
}

#[test]
fn more_hosts_than_forks_do_not_hang_at_the_barrier() {
    let hosts = TestHosts::start(3);
    let project = app(&hosts);
    let (status, out) = deploy(&project, &["--forks", "1"]);
    assert_eq!(status, 0, "{out}");
    let v2 = commit(&project, "v2");
    let (status, out) = deploy(&project, &["--forks", "2"]);
    assert_eq!(status, 0, "{out}");
    assert_eq!(serving(&hosts), vec![v2; 3]);
}

#[test]
fn two_deploys_started_together_exactly_one_proceeds() {
    let (hosts, project, _) = deployed(3);
    for round in 0..20 {
        let commit_id = commit(&project, &format!("race{round}"));
        // Long enough a build that the two overlap.
        for i in 0..3 {
            set(&hosts, i, "HOLD");
        }
        let a = spawn_deploy(&project, &[]);
        let b = spawn_deploy(&project, &[]);
        std::thread::sleep(Duration::from_millis(1500));
        for i in 0..3 {
            clear(&hosts, i, "HOLD");
        }
        let (sa, oa) = finish(a, Duration::from_secs(60));
        let (sb, ob) = finish(b, Duration::from_secs(60));
        let mut statuses = [sa, sb];
        statuses.sort();
        assert_eq!(statuses, [0, 3], "round {round}:\n{oa}\n---\n{ob}");
        let loser = if sa == 3 { &oa } else { &ob };
        assert!(loser.contains("deploy lock held by"), "{loser}");
        assert_eq!(serving(&hosts), vec![commit_id; 3], "round {round}");
    }
}

#[test]
fn a_redeploy_verifies_the_steps_after_the_switch_instead_of_assuming_them() {
    let (hosts, project, v1) = deployed(3);
    let verified = |i| std::fs::read_to_string(marker(&hosts, i, "VERIFIED")).unwrap();
    assert_eq!(verified(1).lines().count(), 1);

    // Same commit again: the check after the switch runs on every host.
    let (status, out) = deploy(&project, &[]);
    assert_eq!(status, 0, "{out}");
    assert_eq!(verified(1).lines().count(), 2, "Verify ran again");

    // host2's app is broken now: the redeploy says so, naming it.
    set(&hosts, 1, "FAIL_VERIFY");
    let (status, out) = deploy(&project, &[]);
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("host2"), "{out}");
    assert_eq!(serving(&hosts), v1, "nothing switched");
}

#[test]
fn force_makes_a_new_release_of_the_current_commit() {
    let (hosts, project, v1) = deployed(2);
    let before = std::fs::read_link(deploy_to(&hosts, 0).join("current")).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let (status, out) = deploy(&project, &["--force"]);
    assert_eq!(status, 0, "{out}");
    let after = std::fs::read_link(deploy_to(&hosts, 0).join("current")).unwrap();
    assert_ne!(before, after, "a new release");
    assert_eq!(serving(&hosts), v1, "of the same commit");
}

#[test]
fn ctrl_c_after_the_switch_finishes_verifying_and_a_second_aborts() {
    let (hosts, project, _) = deployed(3);

    let v2 = commit(&project, "v2");
    for i in 0..3 {
        set(&hosts, i, "HOLD_AFTER");
        clear(&hosts, i, "VERIFIED");
    }
    let child = spawn_deploy(&project, &[]);
    wait_until_serving(&hosts, &v2);
    interrupt(&child);
    std::thread::sleep(Duration::from_millis(500));
    for i in 0..3 {
        clear(&hosts, i, "HOLD_AFTER");
    }
    let (status, out) = finish(child, Duration::from_secs(30));
    // Nothing was left undone: every host switched and verified.
    assert_eq!(status, 0, "{out}");
    assert!(
        out.contains("hosts that switched finish their steps after the switch"),
        "the Ctrl-C is acknowledged with what happens next:\n{out}"
    );
    for i in 0..3 {
        assert!(
            marker(&hosts, i, "VERIFIED").exists(),
            "host{} was verified after Ctrl-C:\n{out}",
            i + 1
        );
        assert!(!deploy_to(&hosts, i).join(".ferry/lock").exists(), "{out}");
    }
    assert_eq!(serving(&hosts), vec![v2; 3]);

    // A second Ctrl-C does not wait for the held steps.
    commit(&project, "v3");
    for i in 0..3 {
        set(&hosts, i, "HOLD_AFTER");
    }
    let child = spawn_deploy(&project, &[]);
    let v3 = git(project.path(), &["rev-parse", "HEAD"]);
    wait_until_serving(&hosts, &v3);
    interrupt(&child);
    std::thread::sleep(Duration::from_millis(300));
    interrupt(&child);
    let (status, out) = finish(child, Duration::from_secs(8));
    assert_ne!(status, 0, "{out}");
    assert!(out.contains("second Ctrl-C: aborting now"), "{out}");
}

#[test]
fn a_failure_after_the_switch_on_one_host_leaves_every_host_alike() {
    let hosts = TestHosts::start(3);
    let project = app(&hosts);
    for version in ["v1", "v2", "v3"] {
        if version != "v1" {
            commit(&project, version);
        }
        let (status, out) = deploy(&project, &[]);
        assert_eq!(status, 0, "{version}: {out}");
    }
    let v3 = serving(&hosts);
    commit(&project, "v4");
    set(&hosts, 2, "FAIL_VERIFY");
    let (status, out) = deploy(&project, &[]);
    assert_eq!(status, 1, "{out}");
    assert_eq!(serving(&hosts), v3, "every host rolled back:\n{out}");
    let releases = |i| {
        let mut names: Vec<String> = std::fs::read_dir(deploy_to(&hosts, i).join("releases"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(releases(0), releases(2), "{out}");
    assert_eq!(releases(1), releases(2), "{out}");
}

#[test]
fn a_host_lost_after_its_switch_is_named_unverified_and_the_others_roll_back() {
    let (hosts, project, v1) = deployed(3);

    let v2 = commit(&project, "v2");
    for i in 0..3 {
        set(&hosts, i, "HOLD_AFTER");
    }
    let child = spawn_deploy(&project, &[]);
    wait_until_serving(&hosts, &v2);
    hosts.hosts[2].signal_all(libc::SIGKILL);
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..3 {
        clear(&hosts, i, "HOLD_AFTER");
    }
    let (status, out) = finish(child, Duration::from_secs(60));
    assert_eq!(status, 1, "{out}");
    let now = serving(&hosts);
    assert_eq!(now[..2], v1[..2], "the reachable hosts went back:\n{out}");
    assert!(out.contains("unverified"), "{out}");
    assert!(out.contains("host3"), "{out}");
}

/// The fault playbook with `serial: N`.
fn rolling_app(hosts: &TestHosts, serial: usize) -> Project {
    let project = app(hosts);
    let playbook = PLAYBOOK.replacen(
        "- hosts: web\n",
        &format!("- hosts: web\n  serial: {serial}\n"),
        1,
    );
    project.file("deploy.yml", &playbook);
    commit(&project, "serial");
    project
}

#[test]
fn serial_batches_switch_in_turns_after_one_barrier_and_roll_back_together() {
    let hosts = TestHosts::start(3);
    let project = rolling_app(&hosts, 1);
    let (status, out) = deploy(&project, &[]);
    assert_eq!(status, 0, "{out}");
    let v1 = serving(&hosts);

    // One batch at a time: host2 does not switch while host1 verifies.
    let v2 = commit(&project, "v2");
    set(&hosts, 0, "HOLD_AFTER");
    let child = spawn_deploy(&project, &[]);
    wait_for("host1 to switch", Duration::from_secs(30), || {
        serving(&hosts)[0] == v2
    });
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        serving(&hosts)[1..],
        v1[1..],
        "later batches wait their turn"
    );
    clear(&hosts, 0, "HOLD_AFTER");
    let (status, out) = finish(child, Duration::from_secs(60));
    assert_eq!(status, 0, "{out}");
    assert_eq!(serving(&hosts), vec![v2.clone(); 3]);

    // A failure in the second batch: the third never switches, the first
    // goes back — every host ends on the release it had.
    commit(&project, "v3");
    set(&hosts, 1, "FAIL_VERIFY");
    let (status, out) = deploy(&project, &[]);
    assert_eq!(status, 1, "{out}");
    assert_eq!(serving(&hosts), vec![v2.clone(); 3], "{out}");
    clear(&hosts, 1, "FAIL_VERIFY");

    // Ctrl-C while the first batch verifies: it finishes, the later
    // batches never switch, and the first goes back — the fleet ends alike.
    let v3b = commit(&project, "v3b");
    set(&hosts, 0, "HOLD_AFTER");
    let child = spawn_deploy(&project, &[]);
    wait_for("host1 to switch", Duration::from_secs(30), || {
        serving(&hosts)[0] == v3b
    });
    interrupt(&child);
    std::thread::sleep(Duration::from_millis(300));
    clear(&hosts, 0, "HOLD_AFTER");
    let (status, out) = finish(child, Duration::from_secs(60));
    assert_ne!(status, 0, "{out}");
    assert_eq!(serving(&hosts), vec![v2.clone(); 3], "{out}");

    // A host down in the last batch: no batch switches at all.
    commit(&project, "v4");
    hosts.hosts[2].signal_all(libc::SIGKILL);
    let (status, out) = deploy(&project, &[]);
    assert_eq!(status, 1, "{out}");
    assert_eq!(serving(&hosts)[..2], vec![v2.clone(); 2], "{out}");
}
