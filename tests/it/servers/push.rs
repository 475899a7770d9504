//! `git push` deploys: `ferry remote add` sets up a push target on one of
//! two real servers, and real git pushes the Flask example to it. The
//! push is accepted only when the deploy succeeded; a failing build step
//! rejects it with every server still on the release it had.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::apps::{App, SECRET, http_get, wheelhouse};
use crate::support::ferry::ferry_bin;
use crate::support::fleet::Fleet;
use crate::support::git::git;

/// The deploy host needs git (the bare repository); the app a virtualenv.
const PUSH: &[&str] = &["git", "python3-venv"];
/// Where the inventory puts the push target on the deploy host.
const PUSH_DIR: &str = "/home/deploy/push-target";

/// `ssh` as git on the controller runs it: the fleet's key and host keys.
fn ssh_command(fleet: &Fleet) -> String {
    format!(
        "ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile={} -i {}",
        fleet.known_hosts.display(),
        fleet.key.display()
    )
}

/// Runs `program args` in `dir` with the environment a pusher has: HOME in
/// the project (trusting the fleet's keys), git's ssh set to the fleet's.
fn run(fleet: &Fleet, dir: &Path, program: &Path, args: &[&str]) -> (i32, String) {
    let out: Output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("GIT_SSH_COMMAND", ssh_command(fleet))
        .output()
        .expect("run");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains(SECRET), "the secret leaked:\n{text}");
    (out.status.code().unwrap_or(-1), text)
}

/// Runs `ferry` in a project as its pusher: calls of the form
/// `pusher.ferry(&[…])` count as run for the README's guard.
struct Pusher<'a> {
    fleet: &'a Fleet,
    dir: &'a Path,
}

impl Pusher<'_> {
    fn ferry(&self, args: &[&str]) -> (i32, String) {
        run(self.fleet, self.dir, &ferry_bin(), args)
    }
}

fn push(fleet: &Fleet, dir: &Path, args: &[&str]) -> (i32, String) {
    let all = [&["push", "test"][..], args].concat();
    run(fleet, dir, Path::new("git"), &all)
}

/// The commit the remote's `main` points at, as git sees it from here.
fn remote_main(fleet: &Fleet, dir: &Path) -> String {
    let (status, text) = run(
        fleet,
        dir,
        Path::new("git"),
        &["ls-remote", "test", "refs/heads/main"],
    );
    assert_eq!(status, 0, "{text}");
    text.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Every server's web process answers with `commit`.
fn assert_serving(fleet: &Fleet, commit: &str) {
    for server in &fleet.servers {
        let (status, body) =
            http_get(&server.address, 8000, "/").unwrap_or_else(|e| panic!("{}: {e}", server.name));
        assert_eq!(status, 200, "{body}");
        assert!(body.contains(commit), "{} serves {body}", server.name);
    }
}

#[test]
fn git_push_deploys_and_a_failed_deploy_rejects_the_push() {
    let fleet = Fleet::spec()
        .server("web1", PUSH)
        .server("web2", PUSH)
        .start();
    let vars = format!(
        "    deploy_to: /home/deploy/flask-hello\n    process_manager: systemd\n    nginx: false\n    procfile_port: 8000\n    gunicorn_host: \"{{{{ ansible_host }}}}\"\n    pip_args: --no-index --find-links {}\n    ferry_push_dir: {PUSH_DIR}\n",
        wheelhouse().display()
    );
    let inventory = fleet.inventory("deploy", &[("web", &["web1", "web2"])], &vars);
    let app = App::on_fleet("flask-hello", &fleet, &inventory, "", 8000);
    let dir = app.project.path();
    let pusher = Pusher { fleet: &fleet, dir };

    // Set up: the push target on web1, its key on both servers.
    let (status, text) = pusher.ferry(&["remote", "add", "test"]);
    assert_eq!(status, 0, "{text}");
    assert!(text.contains("generated the push key on `web1`"), "{text}");
    assert!(text.contains("reaches the push target"), "{text}");
    let mode = fleet.root(
        "web1",
        &format!("stat -c %a {PUSH_DIR}/project/secrets/test.yml"),
    );
    assert_eq!(mode.trim(), "600");

    // v1: the push deploys, the pusher sees the deploy, every server serves it.
    let v1 = app.head();
    let ps = ProcessWatch::start();
    let (status, text) = push(&fleet, dir, &["main"]);
    let seen = ps.stop();
    assert_eq!(status, 0, "{text}");
    assert!(
        text.contains(&format!("remote: ferry: stage `test` serves {v1}")),
        "{text}"
    );
    assert!(text.contains("remote:") && text.contains("web2"), "{text}");
    assert_serving(&fleet, &v1);
    assert_eq!(remote_main(&fleet, dir), v1);
    assert!(seen > 0, "no process list was read during the push");

    // A failing build step: the push is refused, nothing moved.
    let playbook = std::fs::read_to_string(dir.join("deploy.yml")).unwrap();
    let failing = playbook.replace(
        "    - include: procfile\n",
        "    - name: Build assets\n      shell: echo building; exit 3\n    - include: procfile\n",
    );
    assert_ne!(failing, playbook);
    app.commit("deploy.yml", &failing, "a build step that fails");
    let (status, text) = push(&fleet, dir, &["main"]);
    assert_ne!(status, 0, "{text}");
    assert!(text.contains("pre-receive hook declined"), "{text}");
    assert!(text.contains("Build assets"), "{text}");
    assert!(text.contains("push refused"), "{text}");
    assert_serving(&fleet, &v1);
    assert_eq!(
        remote_main(&fleet, dir),
        v1,
        "the remote claims a failed revision"
    );

    // The fix: accepted, served.
    app.commit("deploy.yml", &playbook, "the build step fixed");
    let v3 = app.head();
    let (status, text) = push(&fleet, dir, &["main"]);
    assert_eq!(status, 0, "{text}");
    assert_serving(&fleet, &v3);
    assert_eq!(remote_main(&fleet, dir), v3);

    // Another branch: refused, saying which one deploys.
    git(dir, &["checkout", "-q", "-b", "topic"]);
    let (status, text) = push(&fleet, dir, &["topic"]);
    assert_ne!(status, 0, "{text}");
    assert!(text.contains("from branch `main` only"), "{text}");
    git(dir, &["checkout", "-q", "main"]);

    // Two pushes at once, from two clones: one deploys, the other is
    // refused naming the lock's owner; the remote names the one serving.
    let other = tempfile::tempdir().unwrap();
    let (status, text) = run(
        &fleet,
        other.path(),
        Path::new("git"),
        &[
            "clone",
            "-q",
            "-o",
            "test",
            &dir.display().to_string(),
            "clone",
        ],
    );
    assert_eq!(status, 0, "{text}");
    let clone = other.path().join("clone");
    let url = String::from_utf8(
        Command::new("git")
            .args([
                "-C",
                &dir.display().to_string(),
                "remote",
                "get-url",
                "test",
            ])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    git(&clone, &["remote", "set-url", "test", url.trim()]);
    std::fs::copy(dir.join("secrets/test.yml"), clone.join("secrets/test.yml")).ok();
    app.commit("app.py", &app_text(dir, "one"), "one");
    let one = app.head();
    std::fs::write(clone.join("app.py"), app_text(&clone, "two")).unwrap();
    git(&clone, &["commit", "-q", "-am", "two"]);
    let first = {
        let (fleet_ssh, dir) = (ssh_command(&fleet), dir.to_path_buf());
        std::thread::spawn(move || push_with(&fleet_ssh, &dir))
    };
    let second = push_with(&ssh_command(&fleet), &clone);
    let first = first.join().unwrap();
    let accepted: Vec<&(i32, String)> =
        [&first, &second].into_iter().filter(|r| r.0 == 0).collect();
    assert_eq!(
        accepted.len(),
        1,
        "one push deploys:\n{first:?}\n{second:?}"
    );
    let refused = if first.0 == 0 { &second } else { &first };
    assert!(
        refused.1.contains("lock"),
        "the refused push says why: {}",
        refused.1
    );
    let serving = remote_main(&fleet, dir);
    assert_serving(&fleet, &serving);
    if first.0 == 0 {
        assert_eq!(serving, one);
    }

    // Setting up again changes nothing, and says so.
    let (status, text) = pusher.ferry(&["remote", "add", "test", "--json"]);
    assert_eq!(status, 0, "{text}");
    let changed: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("\"step_end\"") && l.contains("\"changed\""))
        .collect();
    assert!(changed.is_empty(), "a second setup changed: {changed:?}");
    assert!(text.contains("(unchanged)"), "{text}");

    // The hook's log has the deploys, never the secret.
    let log = fleet.root("web1", &format!("cat {PUSH_DIR}/hook.log"));
    assert!(log.contains("deploying"), "{log}");
    assert!(!log.contains(SECRET), "the secret is in the hook's log");

    // Remove: the directory, the key on every server, the git remote.
    let key = fleet.root("web1", &format!("cat {PUSH_DIR}/home/.ssh/id_ed25519.pub"));
    let (status, text) = pusher.ferry(&["remote", "remove", "test"]);
    assert_eq!(status, 0, "{text}");
    assert_eq!(
        fleet
            .root(
                "web1",
                &format!("test -e {PUSH_DIR} && echo left || echo gone")
            )
            .trim(),
        "gone"
    );
    let blob = key.split_whitespace().nth(1).unwrap().to_string();
    for server in ["web1", "web2"] {
        let keys = fleet.root(server, "cat /home/deploy/.ssh/authorized_keys");
        assert!(!keys.contains(&blob), "{server} still trusts the push key");
    }
    let remotes = Command::new("git")
        .args(["-C", &dir.display().to_string(), "remote"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&remotes.stdout).contains("test"));
}

/// app.py of `dir` saying `word`.
fn app_text(dir: &Path, word: &str) -> String {
    std::fs::read_to_string(dir.join("app.py"))
        .unwrap()
        .replace("\"flask-hello\"", &format!("\"flask-hello {word}\""))
}

fn push_with(ssh: &str, dir: &Path) -> (i32, String) {
    let out = Command::new("git")
        .args(["push", "test", "main"])
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("GIT_SSH_COMMAND", ssh)
        .output()
        .expect("git push");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains(SECRET), "the secret leaked:\n{text}");
    (out.status.code().unwrap_or(-1), text)
}

/// Reads every process's command line (the servers' too: they share this
/// machine's process table) until stopped, and fails if one holds the secret.
struct ProcessWatch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<usize>,
}

impl ProcessWatch {
    fn start() -> ProcessWatch {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut reads = 0;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                    let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                    let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                    assert!(
                        !text.contains(SECRET),
                        "a process line holds the secret: {text}"
                    );
                }
                reads += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            reads
        });
        ProcessWatch { stop, thread }
    }

    /// How many times the process table was read.
    fn stop(self) -> usize {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().expect("a process line held the secret")
    }
}
