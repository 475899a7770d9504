//! `copy`, `template` and `file` with the arguments that go past writing
//! one file — `backup`, `validate`, `force`, `recurse`, `state: hard` — on
//! a real sshd host through `ferry playbook`: `--check` on the fresh state
//! predicts exactly the changes the run then makes, a second run changes
//! nothing, and what each refuses fails with the reason.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;

use crate::servers::changed;
use crate::support::ferry::Project;
use crate::support::sshd::TestHosts;

/// `--check`, the run, the run again: the check predicts the run, and the
/// second run changes nothing. Returns the run's changes and events.
pub(crate) fn checked(
    project: &Project,
    file: &str,
    playbook: &str,
) -> (Vec<String>, Vec<serde_json::Value>) {
    project.file(file, playbook);
    let args = ["playbook", file, "-i", "inventory/test.ini"];
    let (out, check) = project.ferry_json(&[&args[..], &["--check"]].concat());
    let predicted = changed(&out, &check);
    let (out, run) = project.ferry_json(&args);
    let did = changed(&out, &run);
    assert_eq!(
        predicted, did,
        "--check predicted other changes than the run made"
    );
    let (out, again) = project.ferry_json(&args);
    let again = changed(&out, &again);
    assert!(again.is_empty(), "a second run changed {again:?}");
    (did.into_iter().map(|(_, name, _)| name).collect(), run)
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

/// `(status, reason, output)` of the step named `name`.
fn end(events: &[serde_json::Value], name: &str) -> (String, String, String) {
    let e = events
        .iter()
        .find(|e| e["event"] == "step_end" && e["name"] == name)
        .unwrap_or_else(|| panic!("no step `{name}`"));
    let text = |key: &str| e[key].as_str().unwrap_or_default().to_string();
    (text("status"), text("reason"), text("output"))
}

const PLAYBOOK: &str = r#"- hosts: web
  vars:
    d: "{{ deploy_to | dirname }}/etc"
  tasks:
    - name: Conf
      copy: { dest: "{{ d }}/app.conf", content: "new\n", backup: yes }
      register: conf
    - name: Validated
      ansible.builtin.copy: { dest: "{{ d }}/valid.conf", content: "ok\n", validate: "grep -q ok %s" }
    - name: Templated
      template: { src: t.conf.j2, dest: "{{ d }}/t.conf", backup: true, validate: "test -s %s" }
    - name: Kept
      copy: { dest: "{{ d }}/kept", content: "theirs\n", force: no }
    - name: Tree
      file: { path: "{{ d }}/tree", state: directory, recurse: yes, mode: "0750" }
    - name: Hard
      ansible.builtin.file: { path: "{{ d }}/hard", src: target.txt, state: hard }
    - name: Forced
      file: { path: "{{ d }}/occupied", src: target.txt, state: link, force: yes }
    - name: Backup
      debug: { msg: "backup={{ conf.backup_file | default('none') }}" }
"#;

#[test]
fn copy_backup_validate_force_and_file_recurse_hard_link_are_predicted_and_idempotent() {
    let hosts = TestHosts::start(1);
    let project = Project::with_hosts(&hosts);
    let etc = hosts.hosts[0].dir.join("etc");
    for (file, text) in [
        ("app.conf", "old\n"),
        ("kept", "mine\n"),
        ("target.txt", "target\n"),
        ("occupied", "a file\n"),
        ("tree/a.txt", "a\n"),
        ("tree/sub/b.txt", "b\n"),
    ] {
        let path = etc.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    project.file("templates/t.conf.j2", "host={{ inventory_hostname }}\n");

    let (did, run) = checked(&project, "site.yml", PLAYBOOK);
    assert_eq!(
        did,
        ["Conf", "Validated", "Templated", "Tree", "Hard", "Forced"]
    );
    let read = |f: &str| std::fs::read_to_string(etc.join(f)).unwrap();
    assert_eq!(read("app.conf"), "new\n");
    let backups: Vec<_> = std::fs::read_dir(&etc)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with('~'))
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}: the new template needs none");
    let backup = backups[0].display().to_string();
    assert!(
        backup.starts_with(&format!("{}.", etc.join("app.conf").display())),
        "{backup}"
    );
    assert_eq!(std::fs::read_to_string(&backups[0]).unwrap(), "old\n");
    assert_eq!(end(&run, "Backup").2, format!("backup={backup}"));
    assert_eq!(read("valid.conf"), "ok\n");
    assert_eq!(read("kept"), "mine\n");
    let (status, reason, _) = end(&run, "Kept");
    assert_eq!(
        (status.as_str(), reason),
        (
            "ok",
            format!(
                "`{}` exists (and `force` is no)",
                etc.join("kept").display()
            )
        )
    );
    for p in ["tree", "tree/a.txt", "tree/sub", "tree/sub/b.txt"] {
        assert_eq!(mode(&etc.join(p)), 0o750, "{p}");
    }
    let inode = |f: &str| std::fs::metadata(etc.join(f)).unwrap().ino();
    assert_eq!(inode("hard"), inode("target.txt"));
    assert_eq!(
        std::fs::read_link(etc.join("occupied")).unwrap(),
        Path::new("target.txt")
    );
    assert!(!etc.join("valid.conf.ferry-tmp").exists());

    // A file in the tree that loses its mode is found again.
    std::fs::set_permissions(
        etc.join("tree/sub/b.txt"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let (out, events) = project.ferry_json(&[
        "playbook",
        "site.yml",
        "-i",
        "inventory/test.ini",
        "--check",
    ]);
    assert_eq!(changed(&out, &events).len(), 1);
    assert_eq!(end(&events, "Tree").0, "changed");
}

#[test]
fn validate_refusal_links_over_files_and_missing_sources_fail_with_the_reason() {
    let hosts = TestHosts::start(1);
    let project = Project::with_hosts(&hosts);
    let etc = hosts.hosts[0].dir.join("etc");
    std::fs::create_dir_all(etc.join("full")).unwrap();
    std::fs::write(etc.join("full/x"), "x\n").unwrap();
    std::fs::write(etc.join("occupied"), "a file\n").unwrap();
    std::fs::write(etc.join("app.conf"), "good\n").unwrap();
    let e = etc.display();
    let cases = [
        (
            format!(
                "copy: {{ dest: {e}/app.conf, content: \"bad\\n\", validate: \"grep -q good %s\" }}"
            ),
            format!("`validate` refused the new content of `{e}/app.conf`: `grep -q good %s`"),
        ),
        (
            format!("file: {{ path: {e}/occupied, src: app.conf, state: link }}"),
            format!("`{e}/occupied` exists: it is not replaced by a symlink without `force: yes`"),
        ),
        (
            format!("file: {{ path: {e}/full, src: app.conf, state: link, force: yes }}"),
            format!("`{e}/full` is a directory that is not empty: it is not replaced by a symlink"),
        ),
        (
            format!("file: {{ path: {e}/new, src: missing, state: link }}"),
            "src `missing` does not exist (force: yes links to it anyway)".to_string(),
        ),
        (
            format!("file: {{ path: {e}/hard, src: missing, state: hard }}"),
            "src `missing` does not exist (a hard link needs its file)".to_string(),
        ),
    ];
    for (task, stderr) in cases {
        project.file(
            "fail.yml",
            &format!("- hosts: web\n  tasks:\n    - name: Step\n      {task}\n"),
        );
        let (out, events) =
            project.ferry_json(&["playbook", "fail.yml", "-i", "inventory/test.ini"]);
        assert_eq!(out.status, 1, "{task}: {}", out.stderr);
        let (status, _, output) = end(&events, "Step");
        assert_eq!(status, "failed", "{task}");
        assert!(output.ends_with(&stderr), "{task}: {output}");
    }
    assert_eq!(
        std::fs::read_to_string(etc.join("app.conf")).unwrap(),
        "good\n"
    );
    assert!(!etc.join("app.conf.ferry-tmp").exists());
    assert_eq!(
        std::fs::read_to_string(etc.join("occupied")).unwrap(),
        "a file\n"
    );
    assert!(etc.join("full/x").exists() && !etc.join("new").exists());

    project.file(
        "bad.yml",
        "- hosts: web\n  tasks:\n    - file: { path: /tmp/x, state: touch, recurse: yes }\n    - copy: { dest: /tmp/y, content: x, validate: nginx -t }\n",
    );
    let out = project.ferry(&["playbook", "bad.yml", "-i", "inventory/test.ini"]);
    assert_eq!(out.status, 2, "{}", out.stderr);
    let stderr = &out.stderr;
    assert!(stderr.contains("bad.yml:3:"), "{stderr}");
    assert!(
        stderr.contains("`recurse` needs `state: directory`"),
        "{stderr}"
    );
}

const TREE_PLAYBOOK: &str = r#"- hosts: web
  vars:
    d: "{{ deploy_to | dirname }}/etc"
  tasks:
    - name: Contents
      copy: { src: site/, dest: "{{ d }}/www" }
    - name: Itself
      copy: { src: site, dest: "{{ d }}/pub/" }
    - name: On host
      copy: { src: "{{ d }}/www/index.html", dest: "{{ d }}/index.copy", remote_src: yes, mode: "0640" }
"#;

/// A directory `src`, with and without its trailing slash, and
/// `remote_src`: predicted, made, then `ok`; a file changed on the
/// controller is found again, and a file only the host has is left alone.
#[test]
fn copy_of_a_directory_and_remote_src_are_predicted_and_idempotent() {
    let hosts = TestHosts::start(1);
    let project = Project::with_hosts(&hosts);
    let etc = hosts.hosts[0].dir.join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    project.file("files/site/index.html", "<h1>hi</h1>\n");
    project.file("files/site/css/app.css", "body {}\n");
    std::fs::create_dir_all(project.path().join("files/site/empty")).unwrap();

    let (did, _) = checked(&project, "tree.yml", TREE_PLAYBOOK);
    assert_eq!(did, ["Contents", "Itself", "On host"]);
    let read = |f: &str| std::fs::read_to_string(etc.join(f)).unwrap();
    for base in ["www", "pub/site"] {
        assert_eq!(read(&format!("{base}/index.html")), "<h1>hi</h1>\n");
        assert_eq!(read(&format!("{base}/css/app.css")), "body {}\n");
        assert!(etc.join(base).join("empty").is_dir(), "{base}/empty");
    }
    assert!(!etc.join("pub/index.html").exists());
    assert_eq!(read("index.copy"), "<h1>hi</h1>\n");
    assert_eq!(mode(&etc.join("index.copy")), 0o640);

    std::fs::write(etc.join("www/extra.txt"), "the host's own\n").unwrap();
    project.file("files/site/css/app.css", "body { margin: 0 }\n");
    let (did, run) = checked(&project, "tree.yml", TREE_PLAYBOOK);
    assert_eq!(did, ["Contents", "Itself"]);
    assert_eq!(read("www/css/app.css"), "body { margin: 0 }\n");
    assert_eq!(read("www/extra.txt"), "the host's own\n");
    let (status, reason, _) = end(&run, "On host");
    assert_eq!(
        (status.as_str(), reason),
        (
            "ok",
            format!(
                "`{0}/index.copy` already has the content of `{0}/www/index.html`",
                etc.display()
            )
        )
    );
}
