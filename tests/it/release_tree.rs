//! A new release holds the commit's tree and nothing else of the release
//! before it, and nothing a deploy writes or removes resolves outside
//! `deploy_to`: real sshd hosts, real git repositories, and the Django
//! example with its real `collectstatic`.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::apps::{App, Supervisors};
use crate::support::ferry::{Project, assert_changed_nothing, step_reason};
use crate::support::git::{self, git};
use crate::support::sshd::TestHosts;
use crate::support::succeed;

/// `ferry deploy test` twice: the first must succeed, the second must
/// succeed and change nothing. Returns the first run's wall time and its
/// steps' times, `step: ms`.
fn deploy_twice(project: &Project) -> (Duration, String) {
    let start = Instant::now();
    let (out, events) = project.ferry_json(&["deploy", "test"]);
    let took = start.elapsed();
    let steps: Vec<String> = events
        .iter()
        .filter(|e| e["event"] == "step_end")
        .map(|e| {
            format!(
                "{}: {} ms",
                e["name"].as_str().unwrap_or_default(),
                e["elapsed_ms"]
            )
        })
        .collect();
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let (out, events) = project.ferry_json(&["deploy", "test"]);
    assert_changed_nothing(&out, &events);
    (took, steps.join("; "))
}

/// Commits the whole work tree with the committer (and author) date
/// `date`, as a commit made earlier than it is deployed, or rebased, is.
/// Waits first so that the next deploy gets a release id of its own (ids
/// have a resolution of one second).
fn commit_dated(dir: &Path, message: &str, date: &str) {
    std::thread::sleep(Duration::from_millis(1100));
    git(dir, &["add", "-A"]);
    succeed(
        git::command(dir)
            .args(["commit", "-q", "-m", message])
            .env("GIT_COMMITTER_DATE", date)
            .env("GIT_AUTHOR_DATE", date),
    );
}

fn commit(dir: &Path, message: &str) {
    commit_dated(dir, message, "2026-01-01T12:00:00Z");
}

/// The release `current` points at, resolved.
fn current_release(deploy_to: &Path) -> PathBuf {
    let link = std::fs::read_link(deploy_to.join("current")).unwrap();
    deploy_to.join(link)
}

/// Every file and symlink under `dir`, without following links, by path
/// relative to `dir`: (inode, content or link target).
fn files(dir: &Path) -> BTreeMap<String, (u64, String)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let relative = path.strip_prefix(dir).unwrap().display().to_string();
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_symlink() {
                let target = std::fs::read_link(&path).unwrap().display().to_string();
                out.insert(relative, (meta.ino(), target));
            } else {
                let content = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
                out.insert(relative, (meta.ino(), content));
            }
        }
    }
    out
}

/// A directory outside every `deploy_to`, holding `file` with a known
/// content and an old modification time: whatever a deploy does, it must
/// stay as it is.
struct Sentinel {
    dir: tempfile::TempDir,
    name: String,
    content: String,
    mtime: i64,
}

impl Sentinel {
    fn new(name: &str) -> Sentinel {
        let dir = tempfile::tempdir().unwrap();
        let content = format!("{name} outside deploy_to: never touched\n");
        let path = dir.path().join(name);
        std::fs::write(&path, &content).unwrap();
        succeed(
            Command::new("touch")
                .args(["-d", "2001-02-03 04:05:06"])
                .arg(&path),
        );
        let mtime = std::fs::metadata(&path).unwrap().mtime();
        Sentinel {
            dir,
            name: name.to_string(),
            content,
            mtime,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The directory holds exactly the file, unchanged.
    fn assert_untouched(&self) {
        let names: Vec<String> = std::fs::read_dir(self.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            std::slice::from_ref(&self.name),
            "something was written outside"
        );
        let path = self.path().join(&self.name);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), self.content);
        assert_eq!(std::fs::metadata(&path).unwrap().mtime(), self.mtime);
    }
}

#[test]
fn stale_static_files_from_the_previous_release_are_not_served() {
    let hosts = TestHosts::start(1);
    let supervisors = Supervisors::start(&hosts);
    let database = tempfile::tempdir().unwrap();
    let extra = format!(
        "    database_url: sqlite:///{}\n",
        database.path().join("notes.sqlite3").display()
    );
    let app = App::new("django-notes", &hosts, &supervisors, &extra);
    let deploy_to = hosts.hosts[0].dir.join("app");
    let css = "static/notes/style.css";

    let v1_took = deploy_twice(&app.project);
    let v1 = current_release(&deploy_to);
    let v1_css = std::fs::read_to_string(v1.join(css)).unwrap();
    // Build outputs only v1 has, as an older playbook's build step leaves.
    std::fs::write(v1.join("static/notes/only-in-v1.css"), "v1 only\n").unwrap();
    std::fs::write(v1.join("left-by-v1.txt"), "v1 only\n").unwrap();

    // v2 changes the stylesheet, in a commit older than v1's build (made
    // before v1 was deployed, or rebased): shipped files carry the commit's
    // time, so a collected v1 copy looks newer than v2's source.
    let v2_css = "body { font-family: serif; color: rebeccapurple; }\n";
    app.project.file("notes/static/notes/style.css", v2_css);
    commit_dated(app.project.path(), "v2: new style", "2021-06-01T00:00:00Z");
    let v2_took = deploy_twice(&app.project);
    eprintln!(
        "django-notes, one host: deploy v1 {:?}, deploy v2 (one file changed) {:?}\nv2 steps: {}",
        v1_took.0, v2_took.0, v2_took.1
    );
    let v2 = current_release(&deploy_to);
    assert_ne!(v1, v2);

    assert_ne!(v1_css, v2_css);
    assert_eq!(std::fs::read_to_string(v2.join(css)).unwrap(), v2_css);
    assert_eq!(std::fs::read_to_string(v1.join(css)).unwrap(), v1_css);
    for leftover in ["static/notes/only-in-v1.css", "left-by-v1.txt"] {
        assert!(!v2.join(leftover).exists(), "`{leftover}` leaked into v2");
    }
    // No file of v1 outside the commit is in v2 (by hard link); the
    // unchanged committed files are, and each is v1's own inode.
    let committed: BTreeSet<String> = git(app.project.path(), &["ls-files"])
        .lines()
        .map(str::to_string)
        .collect();
    let (old, new) = (files(&v1), files(&v2));
    let mut linked = 0;
    for (path, (inode, _)) in &new {
        let shared_inode = old.get(path).is_some_and(|(was, _)| was == inode);
        if committed.contains(path) && path != "notes/static/notes/style.css" {
            assert!(shared_inode, "unchanged `{path}` was not reused");
            linked += 1;
        } else {
            assert!(
                !shared_inode,
                "`{path}` came from v1, not from v2's commit or build"
            );
        }
    }
    assert!(linked > 10, "{linked}");
}

const SHARED_UNDER_LINK: &str = r#"- hosts: web
  vars:
    shared_files: [config/app.ini]
  tasks:
    - release.upload: {}
    - release.switch: {}
    - release.cleanup: {}
"#;

#[test]
fn a_shared_path_below_a_committed_symlink_is_refused_before_any_host_is_touched() {
    let hosts = TestHosts::start(1);
    let project = Project::with_hosts(&hosts);
    let outside = Sentinel::new("app.ini");
    project.file("deploy.yml", SHARED_UNDER_LINK);
    project.file(".gitignore", ".ssh/\ninventory/\n");
    project.file("app.py", "print('hi')\n");
    std::os::unix::fs::symlink(outside.path(), project.path().join("config")).unwrap();
    git(project.path(), &["init", "-q", "-b", "main"]);
    commit(project.path(), "v1");
    let deploy_to = hosts.hosts[0].dir.join("app");

    for args in [
        &["deploy", "test"][..],
        &["deploy", "test"],
        &["plan", "test"],
    ] {
        let out = project.ferry(args);
        assert_eq!(out.status, 2, "{args:?}\n{}\n{}", out.stdout, out.stderr);
        let target = outside.path().display().to_string();
        for needle in [
            "deploy.yml:5:",
            "`config/app.ini`",
            "below `config`",
            &target,
        ] {
            assert!(
                out.stderr.contains(needle),
                "no {needle} in\n{}",
                out.stderr
            );
        }
        assert!(!deploy_to.exists(), "a host was touched");
        outside.assert_untouched();
    }
}

/// The commands a deploy runs on a host refuse, by themselves, to link a
/// shared path through a symlink in the release — whatever put it there.
#[tokio::test]
async fn host_side_shared_links_refuse_a_symlink_in_the_release() {
    use ferry::release::remote;
    let hosts = TestHosts::start(1);
    let session = ferry::transport::Session::connect(
        &hosts.hosts[0].target(),
        &hosts.trust(),
        &ferry::transport::ConnectOptions::default(),
    )
    .await
    .expect("connect");
    let outside = Sentinel::new("app.ini");
    let deploy_to = hosts.hosts[0].dir.join("app").display().to_string();
    let exec = |command: ferry::shell::Command, stdin: Option<Vec<u8>>| {
        let session = &session;
        async move {
            let stdin = stdin.map(ferry::transport::stdin_from);
            session
                .exec(command.as_sent(), stdin, &mut |_, _| {})
                .await
                .unwrap()
        }
    };
    // A release whose `config` is a symlink out of `deploy_to`.
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Symlink);
    header.set_size(0);
    tar.append_link(&mut header, "config", outside.path())
        .unwrap();
    // And a marker that is a symlink to the sentinel itself.
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Symlink);
    header.set_size(0);
    let sentinel = outside.path().join("app.ini");
    tar.append_link(&mut header, ".ferry-failed", &sentinel)
        .unwrap();
    let archive = tar.into_inner().unwrap();
    assert!(
        exec(remote::prepare(&deploy_to, "001"), None)
            .await
            .success()
    );
    let out = exec(remote::extract(&deploy_to, "001"), Some(archive)).await;
    assert!(out.success(), "{out:?}");

    let link = remote::link_shared(&deploy_to, "001", &["config/app.ini".into()], &[]).unwrap();
    let out = exec(link, None).await;
    assert!(!out.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not linking shared paths through the symlink"),
        "{stderr}"
    );
    outside.assert_untouched();
    // Marking the release replaces the link; it never writes through it.
    let out = exec(remote::mark_failed(&deploy_to, "001"), None).await;
    assert!(out.success(), "{out:?}");
    let marker = Path::new(&deploy_to).join("releases/001/.ferry-failed");
    assert!(std::fs::symlink_metadata(&marker).unwrap().is_file());
    outside.assert_untouched();
    // The removal of old releases takes the link, not what it points at.
    let out = exec(remote::remove(&deploy_to, &["001".to_string()]), None).await;
    assert!(out.success(), "{out:?}");
    assert!(!Path::new(&deploy_to).join("releases/001").exists());
    outside.assert_untouched();
    session.close().await;
}

const FLIP: &str = r#"- hosts: web
  vars:
    keep_releases: 1
    shared_dirs: [media]
  tasks:
    - release.upload: {}
    - release.switch: {}
    - release.cleanup: {}
"#;

#[test]
fn a_symlink_that_becomes_a_directory_and_back_never_writes_outside_deploy_to() {
    let hosts = TestHosts::start(1);
    let project = Project::with_hosts(&hosts);
    let outside = Sentinel::new("file");
    let deploy_to = hosts.hosts[0].dir.join("app");
    let at = |path: &str| project.path().join(path);
    project.file("deploy.yml", FLIP);
    project.file(".gitignore", ".ssh/\ninventory/\n");
    project.file("kept.txt", "the same in every commit\n");
    project.file("run.sh", "#!/bin/sh\necho run\n");
    project.file("thing/inner.txt", "a directory first\n");
    project.file("media/.gitkeep", "");
    std::os::unix::fs::symlink(outside.path(), at("dir")).unwrap();
    git(project.path(), &["init", "-q", "-b", "main"]);
    commit(project.path(), "v1: dir is a symlink out");
    deploy_twice(&project);
    let v1 = current_release(&deploy_to);
    assert_eq!(std::fs::read_link(v1.join("dir")).unwrap(), outside.path());
    assert!(v1.join("media").is_symlink());
    outside.assert_untouched();

    // v2: `dir` a directory with a file of the sentinel's name, `thing` a
    // file, `run.sh` executable.
    std::fs::remove_file(at("dir")).unwrap();
    project.file("dir/file", "inside the release\n");
    std::fs::remove_dir_all(at("thing")).unwrap();
    project.file("thing", "a file now\n");
    std::fs::set_permissions(at("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    commit(project.path(), "v2: dir is a directory");
    deploy_twice(&project);
    let v2 = current_release(&deploy_to);
    assert!(std::fs::symlink_metadata(v2.join("dir")).unwrap().is_dir());
    assert_eq!(
        std::fs::read_to_string(v2.join("dir/file")).unwrap(),
        "inside the release\n"
    );
    assert_eq!(
        std::fs::read_to_string(v2.join("thing")).unwrap(),
        "a file now\n"
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o777;
    assert_eq!(mode(&v2.join("run.sh")), 0o755);
    assert_eq!(
        mode(&v1.join("run.sh")),
        0o644,
        "the mode change reached v1"
    );
    let ino = |p: &Path| std::fs::symlink_metadata(p).unwrap().ino();
    assert_eq!(ino(&v1.join("kept.txt")), ino(&v2.join("kept.txt")));
    assert!(std::fs::read_link(v2.join("media")).is_ok());
    outside.assert_untouched();

    // v3: back to a symlink out, and `thing` a directory again. v1 (with
    // its link out) is cleaned up: `rm -rf` takes the link only.
    std::fs::remove_dir_all(at("dir")).unwrap();
    std::os::unix::fs::symlink(outside.path(), at("dir")).unwrap();
    std::fs::remove_file(at("thing")).unwrap();
    project.file("thing/inner.txt", "a directory again\n");
    commit(project.path(), "v3: dir is a symlink out again");
    deploy_twice(&project);
    let v3 = current_release(&deploy_to);
    assert_eq!(std::fs::read_link(v3.join("dir")).unwrap(), outside.path());
    assert_eq!(
        std::fs::read_to_string(v3.join("thing/inner.txt")).unwrap(),
        "a directory again\n"
    );
    assert!(!v1.exists(), "v1 was not cleaned up");
    assert!(v2.exists());
    outside.assert_untouched();
    assert_release_is_the_commit(&v3, project.path());
}

/// The release's files are the commit's, plus ferry's own and the shared
/// links.
fn assert_release_is_the_commit(release: &Path, project: &Path) {
    let own = ["REVISION", ".ferry-manifest", ".ferry-complete", "media"];
    let committed: BTreeSet<String> = git(project, &["ls-files"])
        .lines()
        .filter(|p| !p.starts_with("media/"))
        .map(str::to_string)
        .collect();
    let found: BTreeSet<String> = files(release)
        .into_keys()
        .filter(|p| !own.contains(&p.as_str()))
        .collect();
    assert_eq!(found, committed);
}

#[test]
fn a_current_release_that_differs_from_its_manifest_is_not_used_to_seed() {
    let hosts = TestHosts::start(1);
    let project = Project::with_hosts(&hosts);
    let deploy_to = hosts.hosts[0].dir.join("app");
    project.file("deploy.yml", FLIP);
    project.file(".gitignore", ".ssh/\ninventory/\n");
    project.file("lib/kept.py", "KEPT = 1\n");
    project.file("lib/other.py", "OTHER = 1\n");
    project.file("app.py", "VERSION = 1\n");
    git(project.path(), &["init", "-q", "-b", "main"]);
    commit(project.path(), "v1");
    deploy_twice(&project);
    // Something on the host removed a committed file from the release and
    // made its directory a link out of it.
    let v1 = current_release(&deploy_to);
    let outside = Sentinel::new("kept.py");
    std::fs::rename(v1.join("lib"), v1.join("lib.moved")).unwrap();
    std::os::unix::fs::symlink(outside.path(), v1.join("lib")).unwrap();

    project.file("app.py", "VERSION = 2\n");
    commit(project.path(), "v2");
    let (out, events) = project.ferry_json(&["deploy", "test"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let reason = step_reason(&events, "release.upload");
    let committed = git(project.path(), &["ls-files"]).lines().count();
    assert!(
        reason.contains(&format!("sent {committed} file(s)")),
        "{reason}"
    );
    assert!(reason.contains("none linked from"), "{reason}");
    let v2 = current_release(&deploy_to);
    assert_eq!(
        std::fs::read_to_string(v2.join("lib/kept.py")).unwrap(),
        "KEPT = 1\n"
    );
    assert!(std::fs::symlink_metadata(v2.join("lib")).unwrap().is_dir());
    assert_release_is_the_commit(&v2, project.path());
    outside.assert_untouched();
    let (out, events) = project.ferry_json(&["deploy", "test"]);
    assert_changed_nothing(&out, &events);

    // A build step that rewrote a committed file in v2 (a new file renamed
    // over it, as `sed -i` does): v3 gets the committed file, not v2's.
    std::fs::write(v2.join("lib/other.py.new"), "OTHER = 'built'\n").unwrap();
    std::fs::rename(v2.join("lib/other.py.new"), v2.join("lib/other.py")).unwrap();
    project.file("app.py", "VERSION = 3\n");
    commit(project.path(), "v3");
    let (out, events) = project.ferry_json(&["deploy", "test"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let reason = step_reason(&events, "release.upload");
    assert!(
        reason.contains("`lib/other.py` changed after it was shipped"),
        "{reason}"
    );
    let v3 = current_release(&deploy_to);
    assert_eq!(
        std::fs::read_to_string(v3.join("lib/other.py")).unwrap(),
        "OTHER = 1\n"
    );
    assert_release_is_the_commit(&v3, project.path());
}
