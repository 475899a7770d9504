//! `bash examples/demo-local.sh`, the README's first command, run as a test.

use std::process::Command;
use std::time::Instant;

use super::output::releases_of;
use crate::support::apps::git;
use crate::support::ferry::{copy_dir, repo_root};
use crate::support::succeed;

/// `bash examples/demo-local.sh`, the README's first command, as CI can run it:
/// as root, in network, mount and PID namespaces of its own (`unshare`) —
/// its loopback holds the demo's fixed addresses and ports, which then
/// cannot meet anything else on the machine, and has no other interface,
/// so anything that tried to leave 127.0.0.0/8 would fail; a private
/// `/tmp/ferry-example`; and every process it starts ends with it. It runs
/// a copy of the repository's examples, demo-local.sh included, committed in a
/// fresh git repository (a clean clone, as far as the demo can tell), where
/// the release build it asks for is the ferry this test suite built (a
/// `cargo` on PATH that answers `cargo build --release --quiet` only) and
/// the Python packages come from target/wheelhouse (pip's own
/// `PIP_NO_INDEX`/`PIP_FIND_LINKS`): nothing is installed.
///
/// The walk the README describes: the Django demo; again, changing
/// nothing; a committed change deployed, listed and rolled back with the
/// commands the demo prints; the Flask demo beside it; `demo-local.sh stop`.
#[test]
fn readme_demo_sh_deploys_both_examples_changes_nothing_again_and_stops() {
    let started = Instant::now();
    assert_eq!(
        succeed(Command::new("id").arg("-u")),
        "0",
        "the demo runs as root (its hosts' namespaces need it), as CI does"
    );
    let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let repo = scratch.path().join("repo");
    copy_dir(&repo_root().join("examples"), &repo.join("examples"));
    for example in ["django-notes", "flask-hello"] {
        let _ = std::fs::remove_dir_all(repo.join("examples").join(example).join("secrets"));
    }
    let requirements = repo.join("tests/apps/requirements.txt");
    std::fs::create_dir_all(requirements.parent().unwrap()).unwrap();
    std::fs::copy(
        repo_root().join("tests/apps/requirements.txt"),
        &requirements,
    )
    .unwrap();
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

    let script = format!(
        r#"set -u
ip link set lo up
mount --bind {demo_root} /tmp/ferry-example
cd {repo}
export PATH={bin}:$PATH PIP_NO_INDEX=1 PIP_FIND_LINKS={wheels}
section() {{ name=$1; shift; echo "@@ $name"; "$@"; echo "@@ $name: exit $? at ${{SECONDS}}s"; }}
yourself() {{ grep '^  HOME=' /tmp/ferry-example/run2.txt | grep " $1 local" | sed 's/^  //'; }}
section django bash examples/demo-local.sh
section again bash examples/demo-local.sh > /tmp/ferry-example/run2.txt 2>&1
cat /tmp/ferry-example/run2.txt
sed -i 's/"app": "django-notes"/"app": "django-notes, changed"/' examples/django-notes/notes/views.py
git -c user.name=demo -c user.email=demo@example.invalid commit -q -am 'a change'
echo "@@ v2 $(git rev-parse HEAD)"
section deploy sh -c "$(yourself deploy)"
section releases sh -c "$(yourself releases)"
section rollback sh -c "$(yourself rollback)"
section serving sh -c 'for n in 1 2 3; do for p in 8100 8101; do echo "http://127.0.0.$n:$p/ $(curl -s http://127.0.0.$n:$p/)"; done; done'
section flask bash examples/demo-local.sh flask-hello
section stop bash examples/demo-local.sh stop
section left sh -c 'ps -eo comm= | grep -E "sshd|supervisord|gunicorn|python" || true'
"#,
        demo_root = demo_root.display(),
        repo = repo.display(),
        bin = bin.display(),
        wheels = crate::support::apps::wheelhouse().display(),
    );
    let out = Command::new("unshare")
        .args(["--net", "--mount", "--pid", "--fork", "--mount-proc"])
        .args(["bash", "-c", &script])
        .output()
        .expect("unshare (util-linux)");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    eprintln!("the demo took {:.0}s", started.elapsed().as_secs_f64());
    let section = |name: &str| -> (i32, String) {
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
    };
    let ok = |name: &str| -> String {
        let (status, body) = section(name);
        assert_eq!(status, 0, "`{name}` exits {status}:\n{body}");
        body
    };
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

    let django = ok("django");
    assert!(django.contains("3 hosts succeeded"), "{django}");
    serves(&django, 8100, &v1);
    // Again: the same commit, nothing changes (the recap's `changed` column).
    let again = ok("again");
    let recap = regex::Regex::new(r"(?m)^(web\d)\s+\d+\s+(\d+)\s").unwrap();
    let changed: Vec<(String, String)> = recap
        .captures_iter(&again)
        .map(|c| (c[1].to_string(), c[2].to_string()))
        .collect();
    assert_eq!(changed.len(), 3, "no recap of three hosts in\n{again}");
    assert!(
        changed.iter().all(|(_, n)| n == "0"),
        "the second demo changed {changed:?}:\n{again}"
    );
    serves(&again, 8100, &v1);
    // The commands it prints: a committed change deployed, listed, rolled back.
    let v2 = regex::Regex::new(r"@@ v2 ([0-9a-f]{40})")
        .unwrap()
        .captures(&text)
        .map(|c| c[1].to_string())
        .expect("the change was committed");
    ok("deploy");
    let releases = ok("releases");
    for host in ["web1", "web2", "web3"] {
        let listed = releases_of(&releases, host);
        assert_eq!(listed.len(), 2, "{host}: {listed:?}\n{releases}");
        assert!(
            listed
                .iter()
                .any(|(current, id)| *current && id.ends_with(&v2[..7])),
            "{host}: the change is not current: {listed:?}"
        );
    }
    ok("rollback");
    serves(&ok("serving"), 8100, &v1);
    let flask = ok("flask");
    serves(&flask, 8000, &v2);
    ok("stop");
    let left = ok("left");
    assert!(
        left.trim().is_empty(),
        "`demo-local.sh stop` left processes running:\n{left}"
    );
    eprintln!("the demo took {:.0}s", started.elapsed().as_secs_f64());
}
