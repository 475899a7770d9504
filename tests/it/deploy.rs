//! `ferry deploy` end to end: a real git repository, real sshd hosts, the
//! release layout checked on disk.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::ferry::{Project, step_ends, step_reason};
use crate::support::git::{commit_all, git};
use crate::support::sshd::TestHosts;
use crate::support::succeed;

const PLAYBOOK: &str = r#"- hosts: web
  vars:
    keep_releases: 2
    shared_dirs: [media]
  tasks:
    - release.upload: {}
    - name: Build
      shell: "test ! -e FAIL_BUILD_ON_{{ inventory_hostname }} && { test ! -e SLOW || sleep 30; }"
      args: { chdir: "{{ release_path }}" }
    - release.switch: {}
    - name: Health
      shell: "test ! -e {{ current_path }}/FAIL_HEALTH"
      changed_when: false
    - release.cleanup: {}
"#;

/// A project that is also a git repository with an app of a few files.
fn app(hosts: &TestHosts) -> Project {
    let project = Project::with_hosts(hosts);
    project.file("deploy.yml", PLAYBOOK);
    project.file(".gitignore", ".ssh/\ninventory/\n");
    for i in 0..20 {
        project.file(&format!("app/module{i}.py"), &format!("VALUE = {i}\n"));
    }
    project.file("run.sh", "#!/bin/sh\necho run\n");
    std::fs::set_permissions(
        project.path().join("run.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    commit(&project, "v1");
    project
}

fn commit(project: &Project, message: &str) -> String {
    commit_all(project.path(), message)
}

fn deploy_to(hosts: &TestHosts, i: usize) -> PathBuf {
    hosts.hosts[i].dir.join("app")
}

fn current(hosts: &TestHosts, i: usize) -> Option<String> {
    std::fs::read_link(deploy_to(hosts, i).join("current"))
        .ok()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
}

/// Every file under `dir` with its size and mtime, for "nothing changed".
/// The `.ferry` directory's own mtime is left out: the deploy lock is taken
/// (and released) inside it on every run, by design.
fn listing(dir: &Path) -> BTreeMap<PathBuf, (u64, i64)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let meta = std::fs::symlink_metadata(entry.path()).unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            }
            if entry.file_name() == ".ferry" {
                continue;
            }
            out.insert(
                entry.path(),
                (meta.len(), meta.mtime_nsec() + meta.mtime() * 1_000_000_000),
            );
        }
    }
    out
}

/// The entries that differ between two listings, for a readable failure.
fn differences(
    before: &[BTreeMap<PathBuf, (u64, i64)>],
    after: &[BTreeMap<PathBuf, (u64, i64)>],
) -> Vec<String> {
    let mut out = Vec::new();
    for (b, a) in before.iter().zip(after) {
        for (path, value) in b {
            if a.get(path) != Some(value) {
                out.push(format!(
                    "{}: {:?} → {:?}",
                    path.display(),
                    value,
                    a.get(path)
                ));
            }
        }
        for path in a.keys().filter(|p| !b.contains_key(*p)) {
            out.push(format!("{}: new", path.display()));
        }
    }
    out
}

fn deploy(
    project: &Project,
    extra: &[&str],
) -> (crate::support::ferry::Output, Vec<serde_json::Value>) {
    let mut args = vec!["deploy", "test"];
    args.extend_from_slice(extra);
    project.ferry_json(&args)
}

/// Hosts that count what ferry runs on them: sshd logs each login
/// (`LogLevel VERBOSE`), and each command runs through a `SHELL` that
/// records its host in the file returned (ferry's remote shell runs
/// commands with `$SHELL`), in a directory removed when dropped.
fn counting_hosts(n: usize) -> (TestHosts, PathBuf, tempfile::TempDir) {
    let dir = tempfile::Builder::new()
        .prefix("ferry-counting-")
        .tempdir()
        .unwrap();
    let (shell, log) = (dir.path().join("sh"), dir.path().join("commands"));
    let script = format!(
        "#!/bin/sh\necho \"$SSH_CONNECTION\" >> {}\nexec /bin/bash \"$@\"\n",
        log.display()
    );
    std::fs::write(&shell, script).unwrap();
    std::fs::set_permissions(&shell, std::fs::Permissions::from_mode(0o755)).unwrap();
    let hosts = TestHosts::start_with(
        n,
        &format!("LogLevel VERBOSE\nSetEnv SHLVL=1 SHELL={}", shell.display()),
    );
    (hosts, log, dir)
}

/// Per host: the commands run in ferry's shell, and the sessions sshd
/// started (a shell, or a command on a channel of its own).
fn commands_run(hosts: &TestHosts, log: &Path) -> Vec<(usize, usize)> {
    let commands = std::fs::read_to_string(log).unwrap_or_default();
    hosts
        .hosts
        .iter()
        .map(|h| {
            let server = format!(" {} {}", h.address, h.port);
            let sessions = std::fs::read_to_string(h.dir.join("sshd.log"))
                .unwrap_or_default()
                .matches("Starting session: command")
                .count();
            let ran = commands.lines().filter(|l| l.ends_with(&server)).count();
            (ran, sessions)
        })
        .collect()
}

/// Per host, since `before` (one ferry run): the commands ferry ran and
/// its logins (one for the host's shell, and one for each command that ran
/// on a channel of its own).
fn counted_since(hosts: &TestHosts, log: &Path, before: &[(usize, usize)]) -> Vec<(usize, usize)> {
    commands_run(hosts, log)
        .iter()
        .zip(before)
        .map(|(after, before)| {
            let logins = after.1 - before.1;
            (after.0 - before.0 + logins.saturating_sub(1), logins)
        })
        .collect()
}

#[test]
fn first_deploy_then_a_delta_then_nothing() {
    let (hosts, log, _dir) = counting_hosts(3);
    let project = app(&hosts);
    let v1 = git(project.path(), &["rev-parse", "HEAD"]);

    let (out, _) = deploy(&project, &[]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    for i in 0..3 {
        let id = current(&hosts, i).expect("current points at a release");
        let release = deploy_to(&hosts, i).join("releases").join(&id);
        assert_eq!(
            std::fs::read_to_string(release.join("REVISION"))
                .unwrap()
                .trim(),
            v1
        );
        assert!(release.join("app/module7.py").is_file());
        assert!(!release.join(".git").exists(), "never ships .git");
        let mode = std::fs::metadata(release.join("run.sh")).unwrap().mode();
        assert_eq!(mode & 0o111, 0o111, "executable bit kept");
        assert!(release.join("media").is_symlink(), "shared dir linked");
        assert!(
            !deploy_to(&hosts, i).join(".ferry/lock").exists(),
            "lock released"
        );
    }

    // v2: one file changed, one added, one removed.
    project.file("app/module3.py", "VALUE = 'three'\n");
    project.file("app/new.py", "NEW = True\n");
    std::fs::remove_file(project.path().join("app/module9.py")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100)); // a new release id
    let v2 = commit(&project, "v2");
    let (out, events) = deploy(&project, &[]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let reason = step_reason(&events, "release.upload");
    assert!(
        reason.contains("sent 2 file(s)"),
        "only what changed is sent: {reason}"
    );
    for i in 0..3 {
        let id = current(&hosts, i).unwrap();
        let release = deploy_to(&hosts, i).join("releases").join(&id);
        assert_eq!(
            std::fs::read_to_string(release.join("REVISION"))
                .unwrap()
                .trim(),
            v2
        );
        assert!(!release.join("app/module9.py").exists());
        assert_eq!(
            std::fs::read_to_string(release.join("app/module3.py")).unwrap(),
            "VALUE = 'three'\n"
        );
    }

    // The same revision again: nothing built, switched or touched on disk,
    // but the step after the switch still runs its check (verified, not
    // assumed): lock and probe, the health check, unlock.
    let before: Vec<_> = (0..3).map(|i| listing(&deploy_to(&hosts, i))).collect();
    let commands_before = commands_run(&hosts, &log);
    let (out, events) = deploy(&project, &[]);
    // Three commands per host, in one login shell.
    let commands = counted_since(&hosts, &log, &commands_before);
    assert_eq!(
        commands,
        [(3, 1), (3, 1), (3, 1)],
        "commands, logins per host"
    );
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let statuses: Vec<(String, String)> = step_ends(&events)
        .into_iter()
        .filter(|(host, _, _)| host == "host1")
        .map(|(_, name, s)| (name, s))
        .collect();
    let expected = [
        ("release.upload", "ok"),
        ("Build", "skipped"),
        ("release.switch", "ok"),
        ("Health", "ok"),
        ("release.cleanup", "ok"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(n, s)| (n.to_string(), s.to_string()))
        .collect();
    assert_eq!(statuses, expected);
    let health_ran = events
        .iter()
        .filter(|e| e["event"] == "step_end" && e["name"] == "Health" && !e["command"].is_null());
    assert_eq!(health_ran.count(), 3, "the health check ran on every host");
    let after: Vec<_> = (0..3).map(|i| listing(&deploy_to(&hosts, i))).collect();
    assert_eq!(
        differences(&before, &after),
        Vec::<String>::new(),
        "an unchanged redeploy changes nothing on disk"
    );
}

#[test]
fn a_failure_before_the_switch_switches_no_host() {
    let hosts = TestHosts::start(3);
    let project = app(&hosts);
    let (out, _) = deploy(&project, &[]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let before: Vec<_> = (0..3).map(|i| current(&hosts, i)).collect();

    project.file("FAIL_BUILD_ON_host2", "");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    commit(&project, "breaks host2's build");
    let (out, _) = deploy(&project, &[]);
    assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
    let after: Vec<_> = (0..3).map(|i| current(&hosts, i)).collect();
    assert_eq!(before, after, "no host switched");
    for i in 0..3 {
        let releases = deploy_to(&hosts, i).join("releases");
        let failed = std::fs::read_dir(&releases)
            .unwrap()
            .flatten()
            .filter(|e| e.path().join(".ferry-failed").exists())
            .count();
        assert_eq!(failed, 1, "host{}: the new release is marked failed", i + 1);
        assert!(
            !deploy_to(&hosts, i).join(".ferry/lock").exists(),
            "lock released"
        );
    }
}

#[test]
fn a_failure_after_the_switch_switches_back() {
    let hosts = TestHosts::start(2);
    let project = app(&hosts);
    let (out, _) = deploy(&project, &[]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let before: Vec<_> = (0..2).map(|i| current(&hosts, i)).collect();

    project.file("FAIL_HEALTH", "");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    commit(&project, "fails its health check");
    let (out, events) = deploy(&project, &[]);
    assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
    let after: Vec<_> = (0..2).map(|i| current(&hosts, i)).collect();
    assert_eq!(before, after, "every host is back on the release it had");
    assert!(
        step_ends(&events)
            .iter()
            .any(|(_, n, s)| n == "roll back" && s == "changed")
    );
    let history = std::fs::read_to_string(deploy_to(&hosts, 0).join(".ferry/history.log")).unwrap();
    assert!(history.contains("rollback"), "{history}");
}

#[test]
fn a_held_lock_stops_the_deploy_and_names_its_owner() {
    let hosts = TestHosts::start(2);
    let project = app(&hosts);
    let lock = deploy_to(&hosts, 1).join(".ferry/lock");
    std::fs::create_dir_all(&lock).unwrap();
    std::fs::write(
        lock.join("owner"),
        "user=alice host=laptop pid=4242 time=2026-11-24T09:00:00Z\n",
    )
    .unwrap();
    let (out, _) = deploy(&project, &[]);
    assert_eq!(out.status, 3, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("alice"), "{}", out.stderr);
    assert!(current(&hosts, 0).is_none(), "nothing deployed anywhere");
    assert!(
        !deploy_to(&hosts, 0).join(".ferry/lock").exists(),
        "the lock it took is released"
    );
    assert!(lock.exists(), "the other deploy's lock is left alone");
}

#[test]
fn cleanup_keeps_current_and_the_one_before() {
    let hosts = TestHosts::start(1);
    let project = app(&hosts);
    for n in 0..4 {
        project.file("app/version.py", &format!("V = {n}\n"));
        std::thread::sleep(std::time::Duration::from_millis(1100));
        commit(&project, &format!("v{n}"));
        let (out, _) = deploy(&project, &[]);
        assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    }
    let releases: Vec<_> = std::fs::read_dir(deploy_to(&hosts, 0).join("releases"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(releases.len(), 2, "keep_releases: 2");
    let id = current(&hosts, 0).unwrap();
    assert!(
        releases
            .iter()
            .any(|r| r.file_name().to_string_lossy() == id)
    );
}

#[test]
fn dry_run_changes_nothing_on_any_host() {
    let hosts = TestHosts::start(2);
    let project = app(&hosts);
    let (out, _) = deploy(&project, &[]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    project.file("app/module1.py", "VALUE = 'changed'\n");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    commit(&project, "v2");
    let before: Vec<_> = (0..2).map(|i| listing(&deploy_to(&hosts, i))).collect();
    let (out, events) = deploy(&project, &["--dry-run"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let upload = step_reason(&events, "release.upload");
    assert!(upload.contains("send 1 file(s)"), "{upload}");
    let after: Vec<_> = (0..2).map(|i| listing(&deploy_to(&hosts, i))).collect();
    assert_eq!(
        differences(&before, &after),
        Vec::<String>::new(),
        "a dry run leaves every host byte-identical"
    );
}

#[test]
fn releases_lists_them_and_unlock_clears_a_stale_lock() {
    let hosts = TestHosts::start(2);
    let project = app(&hosts);
    let (out, _) = deploy(&project, &[]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let id = current(&hosts, 0).unwrap();
    let out = project.ferry(&["releases", "test"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!("* {id}  complete")),
        "{}",
        out.stdout
    );

    let lock = deploy_to(&hosts, 1).join(".ferry/lock");
    std::fs::create_dir_all(&lock).unwrap();
    std::fs::write(lock.join("owner"), "user=alice host=laptop pid=4242\n").unwrap();
    let out = project.ferry(&["unlock", "test"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("host2: removed the lock of") && out.stdout.contains("alice"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("host1: no lock"), "{}", out.stdout);
    assert!(!lock.exists());
}

#[test]
fn rollback_goes_back_one_release_at_a_time_and_forward_with_to() {
    let hosts = TestHosts::start(2);
    let project = app(&hosts);
    let (out, _) = deploy(&project, &[]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let v1 = current(&hosts, 0).unwrap();
    project.file("app/module1.py", "VALUE = 'two'\n");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    commit(&project, "v2");
    let (out, _) = deploy(&project, &[]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let v2 = current(&hosts, 0).unwrap();
    assert_ne!(v1, v2);

    let (out, events) = project.ferry_json(&["rollback", "test"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    for i in 0..2 {
        assert_eq!(current(&hosts, i).as_deref(), Some(v1.as_str()));
        assert!(
            !deploy_to(&hosts, i).join(".ferry/lock").exists(),
            "lock released"
        );
    }
    assert!(
        step_ends(&events).iter().any(|(_, n, _)| n == "Health"),
        "the steps after the switch ran again"
    );
    let history = std::fs::read_to_string(deploy_to(&hosts, 0).join(".ferry/history.log")).unwrap();
    assert!(
        history.lines().last().unwrap().contains("rollback"),
        "{history}"
    );

    // Nothing older than v1: a second rollback refuses and changes nothing.
    let out = project.ferry(&["rollback", "test"]);
    assert_eq!(out.status, 3, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("no complete release older than `current`"),
        "{}",
        out.stderr
    );
    assert_eq!(current(&hosts, 0).as_deref(), Some(v1.as_str()));
    assert!(
        !deploy_to(&hosts, 0).join(".ferry/lock").exists(),
        "lock released"
    );

    // --to names any complete release, newer ones too.
    let out = project.ferry(&["rollback", "test", "--to", &v2]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(current(&hosts, 1).as_deref(), Some(v2.as_str()));
}

#[test]
fn a_second_deploy_is_refused_and_ctrl_c_leaves_every_host_on_a_complete_release() {
    let hosts = TestHosts::start(3);
    let project = app(&hosts);
    let (out, _) = deploy(&project, &[]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let v1: Vec<_> = (0..3).map(|i| current(&hosts, i)).collect();

    project.file("SLOW", "");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    commit(&project, "a slow build");
    let first = Command::new(crate::support::ferry::ferry_bin())
        .args(["deploy", "test", "--grace", "1"])
        .current_dir(project.path())
        .env("HOME", project.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let preparing = |i: usize| {
        std::fs::read_dir(deploy_to(&hosts, i).join("releases"))
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().join("SLOW").exists())
                    .count()
            })
            .unwrap_or(0)
            == 1
    };
    while !(0..3).all(preparing) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "never started preparing"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    let second = project.ferry(&["deploy", "test"]);
    assert_eq!(second.status, 3, "{}\n{}", second.stdout, second.stderr);
    assert!(
        second.stderr.contains("deploy lock held by"),
        "{}",
        second.stderr
    );
    assert!(
        second.stderr.contains(&first.id().to_string()),
        "names the owner's pid: {}",
        second.stderr
    );

    let sigint = Command::new("kill")
        .args(["-INT", &first.id().to_string()])
        .status()
        .unwrap();
    assert!(sigint.success());
    let out = first.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let after: Vec<_> = (0..3).map(|i| current(&hosts, i)).collect();
    assert_eq!(
        v1, after,
        "every host still serves the complete release it had"
    );
    for i in 0..3 {
        assert!(
            !deploy_to(&hosts, i).join(".ferry/lock").exists(),
            "lock released after Ctrl-C"
        );
        let marked = std::fs::read_dir(deploy_to(&hosts, i).join("releases"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().join("SLOW").exists())
            .all(|e| e.path().join(".ferry-failed").exists());
        assert!(marked, "the interrupted release is marked failed");
    }
}

#[test]
fn release_steps_for_one_host_in_two_plays_are_refused_before_anything_runs() {
    let hosts = TestHosts::start(1);
    let project = app(&hosts);
    let play = "- hosts: web\n  tasks:\n    - release.upload: {}\n    - release.switch: {}\n";
    project.file("deploy.yml", &format!("{play}{play}"));
    commit(&project, "two plays");
    let out = project.ferry(&["deploy", "test"]);
    assert_eq!(out.status, 2, "bad input: {}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("more than one play"), "{}", out.stderr);
    assert!(current(&hosts, 0).is_none(), "nothing deployed");
}

/// A play whose last release step is the switch (with a cleanup after it):
/// the build checks that it runs under the lock.
const ENDS_AT_SWITCH: &str = r#"- hosts: web
  vars:
    keep_releases: 1
  tasks:
    - release.upload: {}
    - name: Build
      shell: "test -d {{ deploy_to }}/.ferry/lock"
    - release.switch: {}
    - release.cleanup: {}
"#;

/// Makes a file immutable (`chattr +i`: not even root can remove it) until
/// dropped, so that a cleanup fails for real.
struct Immutable(PathBuf);

impl Immutable {
    fn new(path: PathBuf) -> Immutable {
        succeed(Command::new("chattr").arg("+i").arg(&path));
        Immutable(path)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

fn release_ids(hosts: &TestHosts, i: usize) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(deploy_to(hosts, i).join("releases"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn the_switch_cleans_up_and_unlocks_when_nothing_after_it_needs_the_lock() {
    let (hosts, log, _dir) = counting_hosts(2);
    let project = app(&hosts);
    project.file("deploy.yml", ENDS_AT_SWITCH);
    let mut ids = Vec::new();
    for n in 0..3 {
        project.file("app/version.py", &format!("V = {n}\n"));
        std::thread::sleep(std::time::Duration::from_millis(1100));
        commit(&project, &format!("v{n}"));
        let before = commands_run(&hosts, &log);
        let (out, events) = deploy(&project, &[]);
        assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
        let commands = counted_since(&hosts, &log, &before);
        // Lock and probe, upload, build, and one for the switch, the
        // cleanup and the unlock; in one login shell.
        assert_eq!(
            commands,
            [(4, 1), (4, 1)],
            "commands, logins per host, deploy {n}"
        );
        ids.push(current(&hosts, 0).unwrap());
        let cleanups: Vec<(String, String, String)> = step_ends(&events)
            .into_iter()
            .filter(|(_, name, _)| name == "release.cleanup")
            .collect();
        let expected = if n == 2 { "changed" } else { "ok" };
        assert!(
            cleanups.len() == 2 && cleanups.iter().all(|(_, _, s)| s == expected),
            "deploy {n}: {cleanups:?}"
        );
        for i in 0..2 {
            assert!(!deploy_to(&hosts, i).join(".ferry/lock").exists());
        }
    }
    // keep_releases: 1, and the one before current is kept too.
    assert_eq!(release_ids(&hosts, 0), ids[1..]);

    // A cleanup that fails leaves the new release serving and unlocks. (A
    // file only that release has: the others hard-link theirs.)
    let stuck = Immutable::new(
        deploy_to(&hosts, 1)
            .join("releases")
            .join(&ids[1])
            .join("app/version.py"),
    );
    project.file("app/version.py", "V = 3\n");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let v3 = commit(&project, "v3");
    let (out, events) = deploy(&project, &[]);
    assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
    let ends = step_ends(&events);
    assert!(
        ends.iter()
            .any(|(h, n, s)| h == "host2" && n == "release.cleanup" && s == "failed"),
        "{ends:?}"
    );
    assert!(!ends.iter().any(|(_, n, _)| n == "roll back"), "{ends:?}");
    for i in 0..2 {
        let serving = deploy_to(&hosts, i).join("current/REVISION");
        assert_eq!(std::fs::read_to_string(serving).unwrap().trim(), v3);
        assert!(!deploy_to(&hosts, i).join(".ferry/lock").exists());
    }
    assert_eq!(
        release_ids(&hosts, 1).len(),
        3,
        "host2 kept what it could not remove"
    );
    drop(stuck);
}

#[test]
fn the_lock_is_held_through_the_steps_after_the_switch_and_later_plays() {
    let hosts = TestHosts::start(1);
    let project = app(&hosts);
    let check = "      shell: \"test -d {{ deploy_to }}/.ferry/lock\"\n";
    project.file(
        "deploy.yml",
        &format!(
            "{ENDS_AT_SWITCH}    - name: After the switch\n{check}\
             - hosts: web\n  tasks:\n    - name: A later play\n{check}"
        ),
    );
    commit(&project, "steps after the switch");
    let (out, events) = deploy(&project, &[]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let names: Vec<String> = step_ends(&events).into_iter().map(|(_, n, _)| n).collect();
    assert!(
        names.contains(&"After the switch".to_string())
            && names.contains(&"A later play".to_string()),
        "{names:?}"
    );
    assert!(
        !deploy_to(&hosts, 0).join(".ferry/lock").exists(),
        "released at the end"
    );
}
