//! `git` and `pip` on a real sshd host through `ferry playbook`: real git
//! repositories (over `file://` and over ssh to the host itself), and a
//! real virtualenv installed from the offline wheelhouse. The dry run on
//! the fresh state predicts exactly what the run then reports; a second run
//! is `ok`; a change upstream is predicted and made.

use std::path::Path;
use std::process::Command;

use crate::support::apps::wheelhouse;
use crate::support::ferry::Project;
use crate::support::git::git;
use crate::support::sshd::TestHosts;

/// `(status, reason)` of every `step_end` of step `name`, in order.
fn ends(events: &[serde_json::Value], name: &str) -> Vec<(String, String)> {
    events
        .iter()
        .filter(|e| e["event"] == "step_end" && e["name"] == name)
        .map(|e| {
            let text = |key: &str| e[key].as_str().unwrap_or_default().to_string();
            (text("status"), text("reason"))
        })
        .collect()
}

fn end(events: &[serde_json::Value], name: &str) -> (String, String) {
    ends(events, name)
        .pop()
        .unwrap_or_else(|| panic!("no step `{name}`"))
}

fn head(dir: &Path) -> String {
    let out = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Asserts the dry run's steps predicted the run's: the same status, and
/// `would X` where the run says `X`.
fn assert_predicted(check: &[serde_json::Value], run: &[serde_json::Value], names: &[&str]) {
    for name in names {
        let (status, did) = end(run, name);
        let (predicted_status, predicted) = end(check, name);
        assert_eq!(predicted_status, status, "{name}: {predicted} / {did}");
        match status.as_str() {
            "changed" => assert_eq!(predicted, format!("would {did}"), "{name}"),
            _ => assert_eq!(predicted, did, "{name}"),
        }
    }
}

#[test]
fn git_clones_updates_and_refuses_local_changes_and_check_predicts_each() {
    let hosts = TestHosts::start(1);
    let host = &hosts.hosts[0];
    let project = Project::with_hosts(&hosts);
    let work = host.dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("app.py"), "print('one')\n").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "one"]);
    git(&work, &["tag", "-a", "v1", "-m", "v1"]);
    let first = head(&work);
    let origin = host.dir.join("origin.git");
    git(&host.dir, &["clone", "-q", "--bare", "work", "origin.git"]);
    let known = host.dir.join("git_known_hosts");
    project.file(
        "site.yml",
        &format!(
            r#"- hosts: web
  vars:
    d: "{{{{ deploy_to | dirname }}}}"
  tasks:
    - name: Clone over file
      git: {{ repo: "file://{origin}", dest: "{{{{ d }}}}/src" }}
      register: clone
    - name: Tag over ssh
      ansible.builtin.git:
        repo: "ssh://{user}@{address}:{port}{origin}"
        dest: "{{{{ d }}}}/tagged"
        version: v1
        depth: 1
        accept_hostkey: true
        key_file: "{key}"
        ssh_opts: "-o UserKnownHostsFile={known}"
    - name: Show
      debug: {{ msg: "changed={{{{ clone.changed }}}} after={{{{ clone.after }}}}" }}
"#,
            origin = origin.display(),
            user = host.user,
            address = host.address,
            port = host.port,
            key = host.key.display(),
            known = known.display(),
        ),
    );
    let args = ["playbook", "site.yml", "-i", "inventory/test.ini"];
    let steps = ["Clone over file", "Tag over ssh"];
    let src = host.dir.join("src");
    let tagged = host.dir.join("tagged");

    let (out, check) = project.ferry_json(&[&args[..], &["--check"]].concat());
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(!src.exists() && !tagged.exists(), "the dry run cloned");
    let (out, run) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_predicted(&check, &run, &steps);
    let short = &first[..7];
    assert_eq!(
        end(&run, "Clone over file"),
        (
            "changed".into(),
            format!(
                "clone `file://{}` at `HEAD` ({short}) into `{}`",
                origin.display(),
                src.display()
            )
        )
    );
    assert_eq!(head(&src), first);
    assert_eq!(
        head(&tagged),
        first,
        "an annotated tag checks out its commit"
    );
    let shallow = Command::new("git")
        .args(["rev-parse", "--is-shallow-repository"])
        .current_dir(&tagged)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&shallow.stdout).trim(), "true");
    let shown = run
        .iter()
        .find(|e| e["event"] == "step_end" && e["name"] == "Show")
        .unwrap()["output"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(shown, format!("changed=True after={first}"));

    let (out, again) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        end(&again, "Clone over file"),
        (
            "ok".into(),
            format!("`{}` is at `HEAD` ({short})", src.display())
        )
    );
    assert_eq!(
        end(&again, "Tag over ssh"),
        (
            "ok".into(),
            format!("`{}` is at `v1` ({short})", tagged.display())
        )
    );

    // A new commit upstream: the dry run names the update, the run makes it.
    std::fs::write(work.join("app.py"), "print('two')\n").unwrap();
    git(&work, &["commit", "-q", "-am", "two"]);
    git(
        &work,
        &["push", "-q", &origin.display().to_string(), "main"],
    );
    let second = head(&work);
    let (out, check) = project.ferry_json(&[&args[..], &["--check"]].concat());
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(head(&src), first, "the dry run updated");
    let (out, run) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_predicted(&check, &run, &steps);
    assert_eq!(
        end(&run, "Clone over file").1,
        format!(
            "update `{}` from {short} to `HEAD` ({})",
            src.display(),
            &second[..7]
        )
    );
    assert_eq!(end(&run, "Tag over ssh").0, "ok", "the tag did not move");
    assert_eq!(head(&src), second);

    // A local change: refused, in the dry run as in the run.
    std::fs::write(src.join("app.py"), "print('local')\n").unwrap();
    for dry in [true, false] {
        let all = if dry {
            [&args[..], &["--check"]].concat()
        } else {
            args.to_vec()
        };
        let (out, events) = project.ferry_json(&all);
        assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
        assert_eq!(
            end(&events, "Clone over file"),
            (
                "failed".into(),
                format!(
                    "local modifications exist in `{}` (`force: true` discards them)",
                    src.display()
                )
            )
        );
    }
    assert_eq!(
        std::fs::read_to_string(src.join("app.py")).unwrap(),
        "print('local')\n"
    );
}

#[test]
fn git_fails_with_the_command_and_stderr_for_a_missing_repository() {
    let hosts = TestHosts::start(1);
    let project = Project::with_hosts(&hosts);
    let missing = hosts.hosts[0].dir.join("no-such.git");
    project.file(
        "site.yml",
        &format!(
            "- hosts: web\n  tasks:\n    - name: Clone\n      git: {{ repo: {}, dest: /tmp/never }}\n",
            missing.display()
        ),
    );
    let (out, events) = project.ferry_json(&["playbook", "site.yml", "-i", "inventory/test.ini"]);
    assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
    let end = events
        .iter()
        .find(|e| e["event"] == "step_end" && e["name"] == "Clone")
        .unwrap();
    assert_eq!(end["status"], "failed");
    assert_eq!(end["reason"], "exited with status 1");
    assert!(
        end["command"].as_str().unwrap().contains("git: probe"),
        "{end}"
    );
    assert!(
        end["output"]
            .as_str()
            .unwrap()
            .contains("does not appear to be a git repository"),
        "{end}"
    );
}

#[test]
fn pip_installs_into_a_new_virtualenv_offline_and_check_predicts_it() {
    let hosts = TestHosts::start(1);
    let project = Project::with_hosts(&hosts);
    let dir = hosts.hosts[0].dir.clone();
    std::fs::write(dir.join("requirements.txt"), "itsdangerous==2.2.0\n").unwrap();
    let wheels = wheelhouse();
    let vars = format!(
        r#"  vars:
    d: "{{{{ deploy_to | dirname }}}}"
    offline: "--no-index --find-links {}"
"#,
        wheels.display()
    );
    project.file(
        "site.yml",
        &format!(
            r#"- hosts: web
{vars}  tasks:
    - name: Requirements
      pip:
        requirements: "{{{{ d }}}}/requirements.txt"
        virtualenv: "{{{{ d }}}}/venv"
        virtualenv_command: python3 -m venv
        extra_args: "{{{{ offline }}}}"
    - name: Blinker
      ansible.builtin.pip:
        name: blinker
        virtualenv: "{{{{ d }}}}/venv"
        extra_args: "{{{{ offline }}}}"
"#
        ),
    );
    project.file(
        "absent.yml",
        &format!(
            r#"- hosts: web
{vars}  tasks:
    - name: No blinker
      pip: {{ name: blinker, state: absent, virtualenv: "{{{{ d }}}}/venv" }}
"#
        ),
    );
    let venv = dir.join("venv");
    let requirements = dir.join("requirements.txt");
    let args = ["playbook", "site.yml", "-i", "inventory/test.ini"];
    let (out, check) = project.ferry_json(&[&args[..], &["--check"]].concat());
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(!venv.exists(), "the dry run made the virtualenv");
    let (out, run) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_predicted(&check, &run, &["Requirements"]);
    // The virtualenv `Blinker` installs into is made by the step before:
    // the dry run cannot ask its pip, and says so.
    assert_eq!(end(&run, "Blinker").0, "changed");
    assert_eq!(
        end(&check, "Blinker"),
        (
            "changed".into(),
            format!(
                "would install `blinker` in `{}`, once an earlier step creates it",
                venv.display()
            )
        )
    );
    assert_eq!(
        end(&run, "Requirements").1,
        format!(
            "create the virtualenv and install the requirements in `{}` in `{}`",
            requirements.display(),
            venv.display()
        )
    );
    assert_eq!(end(&run, "Blinker").1, "install blinker==1.9.0");
    let (out, again) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        end(&again, "Requirements"),
        (
            "ok".into(),
            format!(
                "pip finds the requirements in `{}` in `{}` satisfied",
                requirements.display(),
                venv.display()
            )
        )
    );
    assert_eq!(
        end(&again, "Blinker"),
        (
            "ok".into(),
            format!("pip finds `blinker` in `{}` satisfied", venv.display())
        )
    );

    let args = ["playbook", "absent.yml", "-i", "inventory/test.ini"];
    let (out, check) = project.ferry_json(&[&args[..], &["--check"]].concat());
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let (out, run) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_predicted(&check, &run, &["No blinker"]);
    assert_eq!(end(&run, "No blinker").1, "remove `blinker`");
    let (out, again) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(end(&again, "No blinker").0, "ok");
}
