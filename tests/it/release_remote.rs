//! The server side of a release (lock, probe, prepare/extract/finish,
//! switch, cleanup, history) against real OpenSSH sshd on 127.x.y.z. The
//! hosts share this machine's file system, so results are checked on disk.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use crate::support::sshd::{TestHost, TestHosts};
use ferry::release::Seed;
use ferry::release::layout::{self, HostState, ReleaseState};
use ferry::release::lock::{self, Holder, LockError, LockOwner, Released, Stale};
use ferry::release::remote::{self, HistoryLine};
use ferry::shell::Command;
use ferry::transport::{ConnectOptions, ExecOutput, Session};

async fn connect(hosts: &TestHosts) -> Session {
    Session::connect(
        &hosts.hosts[0].target(),
        &hosts.trust(),
        &ConnectOptions::default(),
    )
    .await
    .expect("connect")
}

async fn exec(session: &Session, command: &Command, stdin: Option<Vec<u8>>) -> ExecOutput {
    let stdin = stdin.map(|bytes| Box::new(std::io::Cursor::new(bytes)) as ferry::transport::Stdin);
    session
        .exec(command.as_sent(), stdin, &mut |_, _| {})
        .await
        .unwrap_or_else(|e| panic!("`{command}`: {e}"))
}

/// Runs `command` and insists that it succeeded.
async fn ok(session: &Session, command: &Command, stdin: Option<Vec<u8>>) -> String {
    let output = exec(session, command, stdin).await;
    assert!(
        output.success(),
        "`{command}` exited {:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 stdout")
}

async fn probe(session: &Session, deploy_to: &str) -> HostState {
    let stdout = ok(session, &layout::probe(deploy_to), None).await;
    layout::parse_probe(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// A deploy_to with a space and a quote in it, inside the host's own dir.
fn deploy_to(host: &TestHost) -> String {
    host.dir.join("my app's").display().to_string()
}

/// A tar archive of `files` (path, content), made by the system `tar`.
fn tar_of(files: &[(&str, &str)]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    for (path, content) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    let output = Process::new("tar")
        .arg("-cf")
        .arg("-")
        .arg("-C")
        .arg(dir.path())
        .args(files.iter().map(|(path, _)| path))
        .output()
        .unwrap();
    assert!(output.status.success());
    output.stdout
}

/// A complete release `id` holding `files`, made the way a deploy makes it.
async fn make_release(session: &Session, deploy_to: &str, id: &str, files: &[(&str, &str)]) {
    ok(session, &remote::prepare(deploy_to, id), None).await;
    ok(
        session,
        &remote::extract(deploy_to, id),
        Some(tar_of(files)),
    )
    .await;
    let finish = remote::finish(deploy_to, id, Some(&format!("commit-{id}")), &[], &[]).unwrap();
    ok(
        session,
        &finish,
        Some(format!("manifest of {id}\n").into_bytes()),
    )
    .await;
    ok(session, &remote::mark_complete(deploy_to, id), None).await;
}

fn owner(who: &str, pid: u32) -> LockOwner {
    LockOwner {
        who: who.to_string(),
        pid,
        time: "2026-11-24T10:40:00Z".to_string(),
        rev: Some("1a2b3c4".to_string()),
        release: "20261124104000-1a2b3c4".to_string(),
    }
}

#[tokio::test]
async fn lock_is_taken_once_released_only_by_its_owner_and_forced() {
    let hosts = TestHosts::start(1);
    let session = connect(&hosts).await;
    let deploy_to = deploy_to(&hosts.hosts[0]);
    let alice = owner("alice@laptop", 4242);
    let bob = owner("bob@desk", 77);

    let first = exec(&session, &lock::acquire(&deploy_to, &alice), None).await;
    assert_eq!(lock::parse_acquire(&first, "laptop", &|_| true), Ok(()));
    let owner_file = Path::new(&deploy_to).join(".ferry/lock/owner");
    assert_eq!(
        std::fs::read_to_string(&owner_file).unwrap(),
        alice.to_text()
    );

    // The second comes back with the first's owner, its age, and not stale.
    let second = exec(&session, &lock::acquire(&deploy_to, &bob), None).await;
    assert_eq!(second.status, Some(lock::HELD_STATUS));
    let Err(LockError::Held(held)) = lock::parse_acquire(&second, "desk", &|_| true) else {
        panic!("{second:?}")
    };
    assert_eq!(held.holder, Holder::Known(alice.clone()));
    assert!(held.age.is_some_and(|age| age.as_secs() < 60), "{held:?}");
    assert_eq!(held.stale, None);
    // Seen from alice's laptop, where pid 4242 is gone: stale, and says so.
    let Err(LockError::Held(held)) = lock::parse_acquire(&second, "laptop", &|_| false) else {
        panic!()
    };
    assert_eq!(held.stale, Some(Stale::DeadProcess { pid: 4242 }));
    assert!(held.to_string().contains("ferry unlock STAGE"), "{held}");

    // Bob cannot release alice's lock; alice can, once.
    let released = exec(&session, &lock::release(&deploy_to, &bob), None).await;
    assert_eq!(
        lock::parse_release(&released),
        Ok(Released::HeldByOther(Holder::Known(alice.clone())))
    );
    assert!(owner_file.exists());
    let released = exec(&session, &lock::release(&deploy_to, &alice), None).await;
    assert_eq!(lock::parse_release(&released), Ok(Released::Released));
    assert!(!owner_file.parent().unwrap().exists());
    let again = exec(&session, &lock::release(&deploy_to, &alice), None).await;
    assert_eq!(lock::parse_release(&again), Ok(Released::NotHeld));

    // `ferry unlock` removes bob's lock and says it was bob's.
    let taken = exec(&session, &lock::acquire(&deploy_to, &bob), None).await;
    assert_eq!(lock::parse_acquire(&taken, "desk", &|_| true), Ok(()));
    let forced = exec(&session, &lock::force_release(&deploy_to), None).await;
    assert_eq!(
        lock::parse_force_release(&forced),
        Ok(Some(Holder::Known(bob)))
    );
    assert!(!owner_file.parent().unwrap().exists());
    let forced = exec(&session, &lock::force_release(&deploy_to), None).await;
    assert_eq!(lock::parse_force_release(&forced), Ok(None));
    session.close().await;
}

#[tokio::test]
async fn lock_is_taken_by_exactly_one_of_many_at_once() {
    let hosts = TestHosts::start(1);
    let session = connect(&hosts).await;
    let deploy_to = deploy_to(&hosts.hosts[0]);
    let attempts = (0..8).map(|pid| {
        let session = session.clone();
        let command = lock::acquire(&deploy_to, &owner("racer@x", pid));
        tokio::spawn(async move { exec(&session, &command, None).await })
    });
    let mut won = 0;
    for attempt in attempts.collect::<Vec<_>>() {
        let output = attempt.await.unwrap();
        match lock::parse_acquire(&output, "x", &|_| true) {
            Ok(()) => won += 1,
            Err(LockError::Held(_)) => {}
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(won, 1);
    session.close().await;
}

#[tokio::test]
async fn probe_reads_an_empty_host_then_releases_current_and_manifest() {
    let hosts = TestHosts::start(1);
    let session = connect(&hosts).await;
    let deploy_to = deploy_to(&hosts.hosts[0]);

    let empty = probe(&session, &deploy_to).await;
    assert!(!empty.exists);
    assert_eq!(empty.current, None);
    assert!(empty.releases.is_empty());
    assert!(empty.free_kb.is_some_and(|kb| kb > 0), "{empty:?}");

    make_release(&session, &deploy_to, "001-a", &[("app.py", "one")]).await;
    make_release(&session, &deploy_to, "002-b", &[("app.py", "two")]).await;
    ok(&session, &remote::switch(&deploy_to, "002-b"), None).await;
    ok(&session, &remote::prepare(&deploy_to, "003-c"), None).await;
    ok(&session, &remote::prepare(&deploy_to, "000-z"), None).await;
    ok(&session, &remote::mark_failed(&deploy_to, "000-z"), None).await;
    // Not ferry's: never listed.
    std::fs::create_dir_all(Path::new(&deploy_to).join("releases/odd name")).unwrap();

    let state = probe(&session, &deploy_to).await;
    assert!(state.exists);
    assert_eq!(state.current.as_deref(), Some("002-b"));
    let listed: Vec<_> = state
        .releases
        .iter()
        .map(|r| (r.id.as_str(), r.state, r.commit.as_deref()))
        .collect();
    assert_eq!(
        listed,
        [
            ("000-z", ReleaseState::Failed, None),
            ("001-a", ReleaseState::Complete, Some("commit-001-a")),
            ("002-b", ReleaseState::Complete, Some("commit-002-b")),
            ("003-c", ReleaseState::Incomplete, None),
        ]
    );
    assert_eq!(
        state.current_manifest.as_deref(),
        Some("manifest of 002-b\n")
    );
    assert_eq!(
        layout::previous(&state).map(|r| r.id.as_str()),
        Some("001-a")
    );
    session.close().await;
}

fn inode(path: PathBuf) -> u64 {
    std::fs::metadata(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .ino()
}

/// `archive` gzip-compressed, then the seed's own member: what a deploy
/// sends to `remote::create`.
fn with_seed(archive: &[u8], seed: Option<&Seed>) -> Vec<u8> {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(archive).unwrap();
    let mut bytes = gz.finish().unwrap();
    if let Some(seed) = seed {
        bytes.extend(seed.archive().unwrap());
    }
    bytes
}

#[tokio::test]
async fn a_seeded_release_links_the_kept_files_and_nothing_else_of_the_previous() {
    let hosts = TestHosts::start(1);
    let session = connect(&hosts).await;
    let deploy_to = deploy_to(&hosts.hosts[0]);
    let releases = Path::new(&deploy_to).join("releases");
    make_release(
        &session,
        &deploy_to,
        "001",
        &[
            ("kept.py", "kept"),
            ("gone.py", "gone"),
            ("lib/changed.py", "v1"),
            ("lib/deep/kept.py", "kept deep"),
        ],
    )
    .await;
    // What 001's build steps wrote: none of it is 002's.
    let (old, new) = (releases.join("001"), releases.join("002"));
    std::fs::create_dir_all(old.join("static")).unwrap();
    std::fs::write(old.join("static/app.css"), "collected by 001").unwrap();
    std::fs::write(old.join(".ferry-migrations"), "notes.0001\n").unwrap();

    let keep = ["kept.py".to_string(), "lib/deep/kept.py".to_string()];
    let seed = Seed::new("001", &keep, &[]).unwrap();
    let create = remote::create(&deploy_to, "002", Some("001"), &[], &[]).unwrap();
    let archive = with_seed(&tar_of(&[("lib/changed.py", "v2")]), Some(&seed));
    ok(&session, &create, Some(archive.clone())).await;
    for kept in &keep {
        assert_eq!(inode(old.join(kept)), inode(new.join(kept)), "{kept}");
    }
    // A changed file arrives as a new inode; the old release is untouched.
    assert_ne!(
        inode(old.join("lib/changed.py")),
        inode(new.join("lib/changed.py"))
    );
    assert_eq!(
        std::fs::read_to_string(new.join("lib/changed.py")).unwrap(),
        "v2"
    );
    assert_eq!(
        std::fs::read_to_string(old.join("lib/changed.py")).unwrap(),
        "v1"
    );
    for absent in [
        "gone.py",
        "static",
        ".ferry-migrations",
        ".ferry-complete",
        ".ferry-manifest",
        "REVISION",
        ".ferry-seed",
    ] {
        assert!(!new.join(absent).exists(), "{absent} is in the new release");
    }
    assert!(old.join(".ferry-complete").exists());

    // Creating an existing release fails rather than mixing two.
    let again = exec(&session, &create, Some(archive)).await;
    assert!(!again.success());
    assert!(new.join("kept.py").exists());

    // A previous release that no longer holds a kept file as its manifest
    // says: the half-made release is removed, with the status that makes
    // the deploy send every file instead.
    std::fs::remove_file(old.join("kept.py")).unwrap();
    let create = remote::create(&deploy_to, "003", Some("001"), &[], &[]).unwrap();
    let archive = with_seed(&tar_of(&[("lib/changed.py", "v3")]), Some(&seed));
    let out = exec(&session, &create, Some(archive)).await;
    assert_eq!(out.status, Some(ferry::release::SEED_UNUSABLE), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot seed from"));
    assert!(!releases.join("003").exists());
    session.close().await;
}

#[tokio::test]
async fn a_seeded_release_keeps_extraction_out_of_shared() {
    let hosts = TestHosts::start(1);
    let session = connect(&hosts).await;
    let deploy_to = deploy_to(&hosts.hosts[0]);
    let root = Path::new(&deploy_to);
    make_release(&session, &deploy_to, "001", &[("app.py", "x")]).await;
    let media = vec!["media".to_string()];
    let finish = remote::finish(&deploy_to, "001", None, &[], &media).unwrap();
    ok(&session, &finish, Some(Vec::new())).await;
    assert!(root.join("releases/001/media").is_symlink());

    // 001's `media` link is not seeded: the archive's media/ is a
    // directory of the new release, then replaced by the link.
    let seed = Seed::new("001", &["app.py".to_string()], &media).unwrap();
    let create = remote::create(&deploy_to, "002", Some("001"), &[], &media).unwrap();
    let archive = with_seed(
        &tar_of(&[("media/tracked.txt", "from the repo")]),
        Some(&seed),
    );
    ok(&session, &create, Some(archive)).await;
    assert!(root.join("releases/002/media").is_symlink());
    assert!(root.join("releases/002/app.py").is_file());
    assert!(!root.join("shared/media/tracked.txt").exists());
    session.close().await;
}

#[tokio::test]
async fn prepare_refuses_an_existing_release() {
    let hosts = TestHosts::start(1);
    let session = connect(&hosts).await;
    let deploy_to = deploy_to(&hosts.hosts[0]);
    let prepare = remote::prepare(&deploy_to, "001");
    ok(&session, &prepare, None).await;
    let again = exec(&session, &prepare, None).await;
    assert!(!again.success());
    session.close().await;
}

#[tokio::test]
async fn extract_refuses_members_that_climb_out() {
    let hosts = TestHosts::start(1);
    let session = connect(&hosts).await;
    let host = &hosts.hosts[0];
    let deploy_to = deploy_to(host);
    ok(&session, &remote::prepare(&deploy_to, "001"), None).await;

    // `tar -P` keeps `../` in member names; ferry's extract must not.
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir(work.path().join("inner")).unwrap();
    std::fs::write(work.path().join("escape.txt"), "out").unwrap();
    std::fs::write(work.path().join("inner/fine.txt"), "in").unwrap();
    let archive = Process::new("tar")
        .args(["-P", "-cf", "-", "../escape.txt", "fine.txt"])
        .current_dir(work.path().join("inner"))
        .output()
        .unwrap();
    assert!(archive.status.success());
    exec(
        &session,
        &remote::extract(&deploy_to, "001"),
        Some(archive.stdout),
    )
    .await;
    let release = Path::new(&deploy_to).join("releases/001");
    assert!(release.join("fine.txt").exists());
    assert!(!Path::new(&deploy_to).join("releases/escape.txt").exists());
    assert!(!release.join("escape.txt").exists());
    session.close().await;
}

#[tokio::test]
async fn finish_writes_revision_manifest_and_shared_links() {
    let hosts = TestHosts::start(1);
    let session = connect(&hosts).await;
    let deploy_to = deploy_to(&hosts.hosts[0]);
    let root = Path::new(&deploy_to);
    ok(&session, &remote::prepare(&deploy_to, "001"), None).await;
    // The repository tracks media/.gitkeep: the link replaces it.
    let archive = tar_of(&[("media/.gitkeep", ""), ("app.py", "x")]);
    ok(&session, &remote::extract(&deploy_to, "001"), Some(archive)).await;
    std::fs::create_dir_all(root.join("shared")).unwrap();
    std::fs::write(root.join("shared/existing.txt"), "keep me").unwrap();

    let finish = remote::finish(
        &deploy_to,
        "001",
        Some("abc123"),
        &["config/.env".into(), "existing.txt".into()],
        &["media".into()],
    )
    .unwrap();
    let manifest = "SECRET-looking manifest\nline 2\n";
    ok(&session, &finish, Some(manifest.as_bytes().to_vec())).await;
    // Idempotent: a second finish leaves the same result.
    ok(&session, &finish, Some(manifest.as_bytes().to_vec())).await;

    let release = root.join("releases/001");
    assert_eq!(
        std::fs::read_to_string(release.join("REVISION")).unwrap(),
        "abc123\n"
    );
    assert_eq!(
        std::fs::read_to_string(release.join(".ferry-manifest")).unwrap(),
        manifest
    );
    assert_eq!(
        std::fs::read_link(release.join("media")).unwrap(),
        Path::new("../../shared/media")
    );
    assert!(root.join("shared/media").is_dir());
    assert_eq!(
        std::fs::read_link(release.join("config/.env")).unwrap(),
        Path::new("../../../shared/config/.env")
    );
    let env = std::fs::metadata(root.join("shared/config/.env")).unwrap();
    assert_eq!((env.len(), env.permissions().mode() & 0o777), (0, 0o600));
    assert_eq!(
        std::fs::read_to_string(release.join("existing.txt")).unwrap(),
        "keep me"
    );
    session.close().await;
}

#[tokio::test]
async fn switch_is_atomic_under_200_switches() {
    let hosts = TestHosts::start(1);
    let session = connect(&hosts).await;
    let deploy_to = deploy_to(&hosts.hosts[0]);
    for id in ["a", "b"] {
        ok(&session, &remote::prepare(&deploy_to, id), None).await;
    }
    ok(&session, &remote::switch(&deploy_to, "a"), None).await;
    ok(&session, &remote::switch(&deploy_to, "b"), None).await;
    assert_eq!(
        std::fs::read_link(Path::new(&deploy_to).join("current")).unwrap(),
        Path::new("releases/b")
    );

    // A reader on the host reads `current` in a tight loop until told to
    // stop, counting reads and failures.
    let stop = Path::new(&deploy_to).join("stop");
    let reader = Command::new("set")
        .arg("--")
        .arg(format!("{deploy_to}/current"))
        .arg(stop.display().to_string())
        .raw(concat!(
            "; n=0; f=0; while [ ! -e \"$2\" ]; do",
            " readlink \"$1\" >/dev/null || f=$((f+1)); [ -d \"$1/\" ] || f=$((f+1)); n=$((n+1)); done;",
            " echo \"$n $f\""
        ));
    let reading = {
        let session = session.clone();
        tokio::spawn(async move { ok(&session, &reader, None).await })
    };
    // 200 switches in one remote loop, each exactly ferry's command.
    let pair = Command::script(format!(
        "( {} ) >/dev/null && ( {} ) >/dev/null",
        remote::switch(&deploy_to, "a").as_sent(),
        remote::switch(&deploy_to, "b").as_sent()
    ));
    let switches = Command::script("i=0; while [ $i -lt 100 ]; do")
        .raw(pair.as_sent())
        .raw("|| exit 1; i=$((i+1)); done");
    ok(&session, &switches, None).await;
    ok(
        &session,
        &Command::new("touch").arg(stop.display().to_string()),
        None,
    )
    .await;
    let counts = reading.await.unwrap();
    let (reads, failures) = counts.trim().split_once(' ').unwrap();
    assert_eq!(failures, "0", "{counts}");
    assert!(reads.parse::<u64>().unwrap() > 0, "{counts}");
    assert!(!Path::new(&deploy_to).join("current.tmp").exists());

    // A missing release is refused and `current` stays.
    let missing = exec(&session, &remote::switch(&deploy_to, "nope"), None).await;
    assert!(!missing.success());
    let state = probe(&session, &deploy_to).await;
    assert_eq!(state.current.as_deref(), Some("b"));
    session.close().await;
}

#[tokio::test]
async fn cleanup_removes_old_and_failed_releases_but_not_current_or_previous() {
    let hosts = TestHosts::start(1);
    let session = connect(&hosts).await;
    let deploy_to = deploy_to(&hosts.hosts[0]);
    for id in ["001", "002", "003", "005"] {
        make_release(&session, &deploy_to, id, &[("f", id)]).await;
    }
    ok(&session, &remote::prepare(&deploy_to, "004"), None).await;
    ok(&session, &remote::mark_failed(&deploy_to, "004"), None).await;
    ok(&session, &remote::prepare(&deploy_to, "006"), None).await;
    ok(&session, &remote::switch(&deploy_to, "005"), None).await;

    let state = probe(&session, &deploy_to).await;
    let doomed = layout::cleanup(&state, 1);
    assert_eq!(doomed, ["001", "002", "004"]);
    ok(&session, &remote::remove(&deploy_to, &doomed), None).await;
    let ids: Vec<_> = probe(&session, &deploy_to)
        .await
        .releases
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, ["003", "005", "006"]);

    // `remove` refuses to delete `current` even when asked to, and never
    // `exit`s: what follows it in the same command still runs.
    let then = remote::remove(&deploy_to, &["005".into()]).raw("; echo then");
    assert_eq!(ok(&session, &then, None).await, "then\n");
    assert!(Path::new(&deploy_to).join("releases/005").is_dir());
    session.close().await;
}

#[tokio::test]
async fn history_appends_one_line_per_event() {
    let hosts = TestHosts::start(1);
    let session = connect(&hosts).await;
    let deploy_to = deploy_to(&hosts.hosts[0]);
    let lines = [
        HistoryLine {
            time: "2026-11-24T10:40:00Z".into(),
            user: "alice@laptop".into(),
            action: "deploy".into(),
            from: None,
            to: Some("001".into()),
            rev: Some("abc'$(id)".into()),
        },
        HistoryLine {
            time: "2026-11-24T10:50:00Z".into(),
            user: "alice@laptop".into(),
            action: "rollback".into(),
            from: Some("002".into()),
            to: Some("001".into()),
            rev: Some("abc".into()),
        },
    ];
    for line in &lines {
        ok(&session, &remote::history(&deploy_to, line), None).await;
    }
    let log = std::fs::read_to_string(Path::new(&deploy_to).join(".ferry/history.log")).unwrap();
    let read: Vec<_> = log
        .lines()
        .map(|l| HistoryLine::parse(l).unwrap())
        .collect();
    assert_eq!(read, lines);
    session.close().await;
}

/// `acquire_unless_current` + `probe_after_lock`: no lock (and no process
/// but the shell) when the lock is free and `current` is a complete
/// release of the commit; the lock and the whole probe otherwise.
#[tokio::test]
async fn lock_is_not_taken_when_current_already_has_the_commit() {
    let hosts = TestHosts::start(1);
    let session = connect(&hosts).await;
    let deploy_to = deploy_to(&hosts.hosts[0]);
    let lock_dir = Path::new(&deploy_to).join(".ferry/lock");
    let me = owner("deployer@laptop", 4242);
    let lock_and_probe = |commit: &str| {
        lock::acquire_unless_current(&deploy_to, &me, commit)
            .and(layout::probe_after_lock(&deploy_to))
    };
    make_release(&session, &deploy_to, "001-a", &[("app.py", "one")]).await;
    make_release(&session, &deploy_to, "002-b", &[("app.py", "two")]).await;
    ok(&session, &remote::switch(&deploy_to, "002-b"), None).await;

    // Current is 002-b, of commit-002-b: nothing taken, nothing else read.
    let stdout = ok(&session, &lock_and_probe("commit-002-b"), None).await;
    assert!(lock::unneeded(&stdout), "{stdout}");
    assert!(!lock_dir.exists(), "no lock left behind");
    let state = layout::parse_probe(&stdout).unwrap();
    assert_eq!(state.current.as_deref(), Some("002-b"));
    assert_eq!(state.releases.len(), 2);
    assert_eq!(state.current_manifest, None, "no manifest read: {stdout}");
    assert_eq!(state.free_kb, None, "no df: {stdout}");

    // Another commit: the lock is taken and the probe is whole.
    let stdout = ok(&session, &lock_and_probe("commit-003-c"), None).await;
    assert!(!lock::unneeded(&stdout), "{stdout}");
    assert!(lock_dir.join("owner").exists(), "lock taken");
    let state = layout::parse_probe(&stdout).unwrap();
    assert_eq!(state.current.as_deref(), Some("002-b"));
    assert_eq!(
        state.current_manifest.as_deref(),
        Some("manifest of 002-b\n")
    );
    assert!(state.free_kb.is_some());

    // The lock held by someone else: reported as held, even though the
    // current release has the commit.
    let held = exec(&session, &lock_and_probe("commit-002-b"), None).await;
    assert_eq!(held.status, Some(lock::HELD_STATUS));
    let err = lock::parse_acquire(&held, "laptop", &|_| true).unwrap_err();
    assert!(matches!(err, LockError::Held(_)), "{err:?}");
    ok(&session, &lock::force_release(&deploy_to), None).await;

    // A current release that is failed, or a link that leaves `releases/`
    // (a copy elsewhere with the same REVISION), takes the lock.
    ok(&session, &remote::mark_failed(&deploy_to, "002-b"), None).await;
    let stdout = ok(&session, &lock_and_probe("commit-002-b"), None).await;
    assert!(!lock::unneeded(&stdout), "{stdout}");
    ok(&session, &lock::force_release(&deploy_to), None).await;
    let elsewhere = Path::new(&deploy_to).join("elsewhere/001-a");
    std::fs::create_dir_all(elsewhere.parent().unwrap()).unwrap();
    let status = Process::new("cp")
        .arg("-a")
        .arg(Path::new(&deploy_to).join("releases/001-a"))
        .arg(&elsewhere)
        .status()
        .unwrap();
    assert!(status.success());
    let current = Path::new(&deploy_to).join("current");
    std::fs::remove_file(&current).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &current).unwrap();
    let stdout = ok(&session, &lock_and_probe("commit-001-a"), None).await;
    assert!(!lock::unneeded(&stdout), "{stdout}");
    assert!(lock_dir.join("owner").exists());
    session.close().await;
}
