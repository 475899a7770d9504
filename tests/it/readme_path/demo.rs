//! The demos the README starts with, run as tests: `bash examples/demo.sh`
//! (real Debian servers: the README's first command) and
//! `bash examples/demo-local.sh` (an sshd and a supervisord per host).
//!
//! Each runs as root, in network, mount and PID namespaces of its own
//! (`unshare`) — its loopback holds the demo's fixed addresses, which then
//! cannot meet anything else on the machine, and has no other interface, so
//! anything that tried to leave 127.0.0.0/8 would fail; a private
//! `/tmp/ferry-example`; and every process it starts ends with it. It runs a
//! copy of the repository's examples and scripts, committed in a fresh git
//! repository (a clean clone, as far as the demo can tell), where the
//! release build it asks for is the ferry this test suite built (a `cargo`
//! on PATH that answers `cargo build --release --quiet` only), the Python
//! packages come from target/wheelhouse (pip's own
//! `PIP_NO_INDEX`/`PIP_FIND_LINKS`) and the servers' image from
//! target/fleet: nothing is installed.
//!
//! The walk the README describes: the Django demo; again, changing
//! nothing; a committed change deployed, listed and rolled back with the
//! commands the demo prints; the Flask demo beside it; `stop`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use super::output::releases_of;
use crate::support::ferry::{copy_dir, repo_root};
use crate::support::git::git;
use crate::support::succeed;

#[test]
fn readme_demo_sh_boots_servers_deploys_both_examples_changes_nothing_again_and_stops() {
    let demo = Demo::prepare().with_images();
    let run = demo.walk(
        "demo.sh",
        "staging",
        r#"section serving sh -c 'for n in 1 2; do echo "http://127.8.0.$n/ $(curl -s -H "Host: notes.test" http://127.8.0.$n/)"; done'
section flask bash examples/demo.sh flask-hello
section stop bash examples/demo.sh stop
section left sh -c 'ps -eo comm= | grep -E "systemd|nspawn|sshd|gunicorn|nginx|postgres" || true'
"#,
    );
    // Through nginx on each web server: the lines `http://127.8.0.N/ …`.
    let serves = |body: &str, commit: &str| {
        for n in 1..=2 {
            let address = format!("http://127.8.0.{n}/");
            let line = body
                .lines()
                .find(|l| l.trim_start().starts_with(&address))
                .unwrap_or_else(|| panic!("no answer from {address} in\n{body}"));
            assert!(line.contains(commit), "{line}: not {commit}");
        }
    };
    let django = run.ok("django");
    // `ferry setup` on the three, then `ferry deploy` on the web two.
    assert!(django.contains("3 hosts succeeded"), "{django}");
    assert!(django.contains("2 hosts succeeded"), "{django}");
    assert!(
        django.contains("db: 127.8.0.3, systemd running"),
        "{django}"
    );
    serves(&django, &demo.v1);
    let again = run.ok("again");
    // The recaps of `ferry setup` (web1, web2, db) and `ferry deploy`.
    run.assert_changed_nothing(&again, 5);
    serves(&again, &demo.v1);
    run.change_listed_and_rolled_back(&["web1", "web2"]);
    serves(&run.ok("serving"), &demo.v1);
    let flask = run.ok("flask");
    serves(&flask, &run.v2());
    assert!(flask.contains("(Host: flask.test)"), "{flask}");
    run.ok("stop");
    let left = run.ok("left");
    assert!(
        left.trim().is_empty(),
        "`demo.sh stop` left processes running:\n{left}"
    );
}

#[test]
fn readme_demo_local_sh_deploys_both_examples_changes_nothing_again_and_stops() {
    let demo = Demo::prepare();
    let run = demo.walk(
        "demo-local.sh",
        "local",
        r#"section serving sh -c 'for n in 1 2 3; do for p in 8100 8101; do echo "http://127.0.0.$n:$p/ $(curl -s http://127.0.0.$n:$p/)"; done; done'
section flask bash examples/demo-local.sh flask-hello
section stop bash examples/demo-local.sh stop
section left sh -c 'ps -eo comm= | grep -E "sshd|supervisord|gunicorn|python" || true'
"#,
    );
    let serves = |body: &str, port: u16, commit: &str| {
        for n in 1..=3 {
            for p in [port, port + 1] {
                let address = format!("http://127.0.0.{n}:{p}/");
                let line = body
                    .lines()
                    .find(|l| l.trim_start().starts_with(&address))
                    .unwrap_or_else(|| panic!("no answer from {address} in\n{body}"));
                assert!(line.contains(commit), "{line}: not {commit}");
            }
        }
    };
    let django = run.ok("django");
    assert!(django.contains("3 hosts succeeded"), "{django}");
    serves(&django, 8100, &demo.v1);
    let again = run.ok("again");
    run.assert_changed_nothing(&again, 3);
    serves(&again, 8100, &demo.v1);
    run.change_listed_and_rolled_back(&["web1", "web2", "web3"]);
    serves(&run.ok("serving"), 8100, &demo.v1);
    let flask = run.ok("flask");
    serves(&flask, 8000, &run.v2());
    run.ok("stop");
    let left = run.ok("left");
    assert!(
        left.trim().is_empty(),
        "`demo-local.sh stop` left processes running:\n{left}"
    );
}

/// A scratch clone of the repository's examples and scripts, and the
/// commit it starts at.
struct Demo {
    _scratch: tempfile::TempDir,
    repo: PathBuf,
    bin: PathBuf,
    demo_root: PathBuf,
    v1: String,
}

/// What a demo printed, cut into the sections of its walk.
struct Run {
    text: String,
}

impl Demo {
    fn prepare() -> Demo {
        assert_eq!(
            succeed(Command::new("id").arg("-u")),
            "0",
            "the demos run as root (their namespaces and servers need it), as CI does"
        );
        let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let repo = scratch.path().join("repo");
        copy_dir(&repo_root().join("examples"), &repo.join("examples"));
        for example in ["django-notes", "flask-hello"] {
            let _ = std::fs::remove_dir_all(repo.join("examples").join(example).join("secrets"));
        }
        for file in ["tests/apps/requirements.txt", "tests/fleet/fleet"] {
            let to = repo.join(file);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(repo_root().join(file), &to).unwrap();
        }
        git(&repo, &["init", "-q", "-b", "main"]);
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "the examples"]);
        let v1 = succeed(
            Command::new("git")
                .args(["rev-parse", "HEAD"])
                .current_dir(&repo),
        );
        let release = repo.join("target/release");
        std::fs::create_dir_all(&release).unwrap();
        std::fs::copy(crate::support::ferry::ferry_bin(), release.join("ferry")).unwrap();
        let bin = scratch.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let cargo = bin.join("cargo");
        std::fs::write(
            &cargo,
            "#!/bin/sh\n# The suite built ferry already: target/release/ferry is that build.\n[ \"$*\" = 'build --release --quiet' ] && exit 0\necho \"this test's cargo runs only 'cargo build --release --quiet', not: cargo $*\" >&2\nexit 1\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
        let demo_root = scratch.path().join("ferry-example");
        std::fs::create_dir_all(&demo_root).unwrap();
        // The mount point: an empty directory where the real demo keeps its
        // files (left in place; the demo would make it anyway).
        std::fs::create_dir_all("/tmp/ferry-example").unwrap();
        Demo {
            _scratch: scratch,
            repo,
            bin,
            demo_root,
            v1,
        }
    }

    /// Builds the servers' images the fleet demo boots, here, where the
    /// Debian mirror is reachable (the demo runs without a network).
    fn with_images(self) -> Demo {
        // The base image and the apt repository `ferry setup` installs from.
        for what in ["image", "repo"] {
            succeed(Command::new(repo_root().join("tests/fleet/fleet")).arg(what));
        }
        self
    }

    /// Runs `script` for `stage`: the Django demo, again, a committed change
    /// deployed, listed and rolled back with the commands the demo printed,
    /// then `rest` (sections of its own).
    fn walk(&self, script: &str, stage: &str, rest: &str) -> Run {
        let started = Instant::now();
        let text = format!(
            r#"set -u
ip link set lo up
mount --bind {demo_root} /tmp/ferry-example
cd {repo}
export PATH={bin}:$PATH PIP_NO_INDEX=1 PIP_FIND_LINKS={wheels} FLEET_CACHE={fleet}
section() {{ name=$1; shift; echo "@@ $name"; "$@"; echo "@@ $name: exit $? at ${{SECONDS}}s"; }}
yourself() {{ grep '^  HOME=' /tmp/ferry-example/run2.txt | grep " $1 {stage}" | sed 's/^  //'; }}
section django bash examples/{script}
section again bash examples/{script} > /tmp/ferry-example/run2.txt 2>&1
cat /tmp/ferry-example/run2.txt
sed -i 's/"app": "django-notes"/"app": "django-notes, changed"/' examples/django-notes/notes/views.py
git -c user.name=demo -c user.email=demo@example.invalid commit -q -am 'a change'
echo "@@ v2 $(git rev-parse HEAD)"
section deploy sh -c "$(yourself deploy)"
section releases sh -c "$(yourself releases)"
section rollback sh -c "$(yourself rollback)"
section plan sh -c "$(yourself deploy | sed 's/ deploy {stage}/ plan {stage}/')"
{rest}"#,
            demo_root = self.demo_root.display(),
            repo = self.repo.display(),
            bin = self.bin.display(),
            wheels = crate::support::apps::wheelhouse().display(),
            fleet = repo_root().join("target/fleet").display(),
        );
        let out = Command::new("unshare")
            .args(["--net", "--mount", "--pid", "--fork", "--mount-proc"])
            .args(["bash", "-c", &text])
            .output()
            .expect("unshare (util-linux)");
        eprintln!("{script} took {:.0}s", started.elapsed().as_secs_f64());
        Run {
            text: String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        }
    }
}

impl Run {
    /// A section's exit status and output.
    fn section(&self, name: &str) -> (i32, String) {
        let text = &self.text;
        let start = format!("@@ {name}\n");
        let end = regex::Regex::new(&format!(r"@@ {name}: exit (\d+) at (\d+)s\n")).unwrap();
        let from = text
            .find(&start)
            .unwrap_or_else(|| panic!("the demo never reached `{name}`:\n{text}"));
        let rest = &text[from + start.len()..];
        let c = end
            .captures(rest)
            .unwrap_or_else(|| panic!("`{name}` never ended:\n{rest}"));
        let body = rest[..c.get(0).unwrap().start()].to_string();
        eprintln!("demo: `{name}` exits {} at {}s", &c[1], &c[2]);
        (c[1].parse().unwrap(), body)
    }

    /// A section's output; it must have exited 0.
    fn ok(&self, name: &str) -> String {
        let (status, body) = self.section(name);
        assert_eq!(status, 0, "`{name}` exits {status}:\n{body}");
        body
    }

    /// The change the walk committed.
    fn v2(&self) -> String {
        regex::Regex::new(r"@@ v2 ([0-9a-f]{40})")
            .unwrap()
            .captures(&self.text)
            .map(|c| c[1].to_string())
            .expect("the change was committed")
    }

    /// The recap of `hosts` hosts shows nothing changed (its `changed`
    /// column).
    /// `hosts`: the recap lines of every run, each host once per run.
    fn assert_changed_nothing(&self, again: &str, hosts: usize) {
        let recap = regex::Regex::new(r"(?m)^(web\d|db)\s+\d+\s+(\d+)\s").unwrap();
        let changed: Vec<(String, String)> = recap
            .captures_iter(again)
            .map(|c| (c[1].to_string(), c[2].to_string()))
            .collect();
        assert_eq!(
            changed.len(),
            hosts,
            "no recap of {hosts} hosts in\n{again}"
        );
        assert!(
            changed.iter().all(|(_, n)| n == "0"),
            "the second demo changed {changed:?}:\n{again}"
        );
    }

    /// The printed commands deployed the change, listed it as current
    /// beside the first release on every host, rolled it back, and planned
    /// it again.
    fn change_listed_and_rolled_back(&self, hosts: &[&str]) {
        let v2 = self.v2();
        self.ok("deploy");
        let releases = self.ok("releases");
        for host in hosts {
            let listed = releases_of(&releases, host);
            assert_eq!(listed.len(), 2, "{host}: {listed:?}\n{releases}");
            assert!(
                listed
                    .iter()
                    .any(|(current, id)| *current && id.ends_with(&v2[..7])),
                "{host}: the change is not current: {listed:?}"
            );
        }
        self.ok("rollback");
        // Rolled back, the change is pending again: `plan` (connected)
        // names the release it would make of it.
        let plan = self.ok("plan");
        assert!(
            plan.contains(&v2[..7]),
            "plan names no release of {v2}:\n{plan}"
        );
    }
}
