//! `unarchive` on a real sshd host: tar.gz and zip from the controller,
//! tar.xz and tar.bz2 already on the host (`remote_src`), each compared
//! with its `dest` before anything is extracted — `--check` predicts the
//! run, a second run is `ok`, and `--diff` names the files that differ.

use std::path::Path;
use std::process::Command;

use crate::support::checked::{check_run_again, playbook};
use crate::support::ferry::Project;
use crate::support::sshd::TestHosts;
use crate::support::succeed;

/// `site/a.txt`, `site/sub/b.txt` and a link `site/link` in `root`.
fn site(root: &Path) {
    std::fs::create_dir_all(root.join("site/sub")).unwrap();
    std::fs::write(root.join("site/a.txt"), "hello\n").unwrap();
    std::fs::write(root.join("site/sub/b.txt"), "world\n").unwrap();
    std::os::unix::fs::symlink("a.txt", root.join("site/link")).unwrap();
}

#[test]
fn unarchive_extracts_tar_and_zip_archives_once_and_check_and_diff_name_what_differs() {
    let hosts = TestHosts::start(1);
    let project = Project::with_hosts(&hosts);
    let dir = hosts.hosts[0].dir.clone();
    let tree = dir.join("tree");
    site(&tree);
    let files = project.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    let tar = |flag: &str, to: &Path| {
        succeed(
            Command::new("tar")
                .arg("-C")
                .arg(&tree)
                .arg(flag)
                .arg(to)
                .arg("site"),
        );
    };
    tar("-czf", &files.join("site.tar.gz"));
    tar("-cJf", &dir.join("site.tar.xz"));
    tar("-cjf", &dir.join("site.tar.bz2"));
    succeed(
        Command::new("zip")
            .current_dir(&tree)
            .args(["-q", "-r", "-y"])
            .arg(files.join("site.zip"))
            .arg("site"),
    );
    for dest in ["gz", "zip", "xz", "bz2"] {
        std::fs::create_dir(dir.join(dest)).unwrap();
    }
    let d = dir.display();
    project.file(
        "site.yml",
        &format!(
            r#"- hosts: web
  tasks:
    - name: gz
      unarchive: {{ src: site.tar.gz, dest: {d}/gz, list_files: yes }}
      register: gz
    - name: zip
      ansible.builtin.unarchive: {{ src: site.zip, dest: {d}/zip, mode: "0750" }}
    - name: xz
      unarchive: {{ src: {d}/site.tar.xz, dest: {d}/xz, remote_src: yes, exclude: [site/sub] }}
    - name: bz2
      unarchive: {{ src: {d}/site.tar.bz2, dest: {d}/bz2, remote_src: yes, creates: {d}/bz2/site/a.txt }}
    - name: registered
      assert:
        that:
          - "'site/sub/b.txt' in gz.files"
          - gz.dest == '{d}/gz'
          - gz.handler == 'TgzArchive'
"#
        ),
    );
    let did = check_run_again(&project, "site.yml");
    let reasons: Vec<(&str, &str)> = did
        .iter()
        .map(|(n, s, r)| {
            (
                n.as_str(),
                if s == "changed" {
                    r.as_str()
                } else {
                    s.as_str()
                },
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            (
                "gz",
                &*format!("extract `site.tar.gz` into `{d}/gz` (5 of 5 files differ)")
            ),
            (
                "zip",
                &*format!("extract `site.zip` into `{d}/zip` (5 of 5 files differ)")
            ),
            (
                "xz",
                &*format!("extract `{d}/site.tar.xz` into `{d}/xz` (3 of 3 files differ)")
            ),
            (
                "bz2",
                &*format!("extract `{d}/site.tar.bz2` into `{d}/bz2` (5 of 5 files differ)")
            ),
            ("registered", "ok"),
        ]
    );
    for dest in ["gz", "zip", "xz", "bz2"] {
        let a = dir.join(dest).join("site/a.txt");
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "hello\n", "{dest}");
    }
    assert!(!dir.join("xz/site/sub").exists(), "`exclude` was extracted");
    assert_eq!(
        std::fs::read_link(dir.join("gz/site/link")).unwrap(),
        Path::new("a.txt")
    );
    let mode = |p: &str| {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(dir.join(p)).unwrap().permissions().mode() & 0o7777
    };
    assert_eq!(mode("zip/site/sub/b.txt"), 0o750);
    assert_eq!(mode("zip/site/sub"), 0o750);

    // A file changed by hand: --check --diff names it, and only it.
    std::fs::write(dir.join("gz/site/sub/b.txt"), "edited\n").unwrap();
    std::fs::write(dir.join("zip/site/a.txt"), "edited\n").unwrap();
    let out = project.ferry(&[
        "playbook",
        "site.yml",
        "-i",
        "inventory/test.ini",
        "--check",
        "--diff",
    ]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("site/sub/b.txt: Mod time differs, Size differs")
            || out
                .stdout
                .contains("site/sub/b.txt: Size differs, Mod time differs"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("site/a.txt: Contents differ"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("site/a.txt: Mod time"),
        "{}",
        out.stdout
    );
    let did = check_run_again(&project, "site.yml");
    let changed: Vec<_> = did
        .iter()
        .filter(|(_, s, _)| s == "changed")
        .map(|(n, _, _)| n.as_str())
        .collect();
    assert_eq!(changed, ["gz", "zip"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("gz/site/sub/b.txt")).unwrap(),
        "world\n"
    );
    // `creates` exists: bz2 is `ok` even with its file edited.
    std::fs::write(dir.join("bz2/site/a.txt"), "edited\n").unwrap();
    let again = playbook(&project, "site.yml", &[]);
    assert_eq!(again[3].1, "ok", "{again:?}");
    assert_eq!(
        again[3].2,
        format!("`{d}/bz2/site/a.txt` exists (`creates`)")
    );
}
