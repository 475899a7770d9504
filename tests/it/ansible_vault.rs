//! Ansible Vault end to end: ciphertext made by the real `ansible-vault`
//! (ansible-core from PyPI, in the suite's venv) — `!vault` values and
//! vaulted files — opened with the password sources ansible-playbook takes,
//! its plaintext reaching the host and appearing in no output; a wrong
//! password stops the run at the value's location before any host is touched.

use std::path::Path;
use std::process::Command;

use crate::inventory_ansible::Ansible;
use crate::support::ferry::{Output, Project, ferry_bin, step_ends};
use crate::support::sshd::TestHosts;

const PASSWORD: &str = "correct horse battery";
const DB_PASSWORD: &str = "db-Pa55-vaulted-7c1e";
const API_TOKEN: &str = "tok-vaulted-3b9d";
const FILE_TOKEN: &str = "file-vaulted-e41a";

/// `ansible-vault encrypt_string` of `value`: a `!vault |` block, its lines
/// indented for a top-level key.
fn encrypt_string(ansible: &Ansible, secret: &str, value: &str) -> String {
    let out = ansible
        .command(
            "ansible-vault",
            &["encrypt_string", "--vault-id", secret, value],
        )
        .output()
        .expect("run ansible-vault");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let block = String::from_utf8(out.stdout).unwrap();
    format!("{}\n", block.trim_end())
}

/// `ansible-vault encrypt` of the file at `path`, in place.
fn encrypt_file(ansible: &Ansible, secret: &str, path: &Path) {
    let path = path.to_str().unwrap();
    let out = ansible
        .command("ansible-vault", &["encrypt", "--vault-id", secret, path])
        .output()
        .expect("run ansible-vault");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.starts_with("$ANSIBLE_VAULT;1."), "{text}");
}

/// A project on `hosts` whose inventory's group_vars hold a `!vault` value,
/// with a vaulted vars file and a vaulted `copy` source, all encrypted with
/// [`PASSWORD`] (in `vault-pass`, outside the project's files to copy).
fn vaulted_project(hosts: &TestHosts, ansible: &Ansible) -> Project {
    let project = Project::with_hosts(hosts);
    project.file("vault-pass", &format!("{PASSWORD}\n"));
    let secret = format!("default@{}", project.path().join("vault-pass").display());
    let value = encrypt_string(ansible, &secret, DB_PASSWORD);
    project.file(
        "inventory/group_vars/web.yml",
        &format!("db_password: {value}"),
    );
    project.file("vars/secret.yml", &format!("api_token: {API_TOKEN}\n"));
    encrypt_file(ansible, &secret, &project.path().join("vars/secret.yml"));
    project.file("files/app.conf", &format!("token={FILE_TOKEN}\n"));
    encrypt_file(ansible, &secret, &project.path().join("files/app.conf"));
    project.file(
        "site.yml",
        r#"- hosts: web
  vars_files: [vars/secret.yml]
  tasks:
    - file: path={{ deploy_to }} state=directory
    - copy: content="{{ db_password }}" dest={{ deploy_to }}/db_password mode=0600
    - copy: content="{{ api_token | upper }}" dest={{ deploy_to }}/token mode=0600
    - copy: src=files/app.conf dest={{ deploy_to }}/app.conf mode=0600
    - debug: msg="the password is {{ db_password }}"
"#,
    );
    project
}

fn assert_hidden(out: &Output, what: &str) {
    let upper = API_TOKEN.to_uppercase();
    for form in [DB_PASSWORD, API_TOKEN, upper.as_str(), FILE_TOKEN] {
        assert!(
            !out.stdout.contains(form) && !out.stderr.contains(form),
            "{what}: `{form}` shown\nstdout:\n{}\nstderr:\n{}",
            out.stdout,
            out.stderr
        );
    }
}

fn anyone_logged_in(hosts: &TestHosts) -> bool {
    hosts.hosts.iter().any(|h| h.log().contains("Accepted"))
}

#[test]
fn vaulted_values_and_files_reach_the_host_and_never_the_output() {
    let hosts = TestHosts::start(1);
    let ansible = Ansible::get();
    let project = vaulted_project(&hosts, &ansible);
    let run = [
        "playbook",
        "site.yml",
        "-i",
        "inventory/test.ini",
        "--vault-password-file",
        "vault-pass",
    ];
    let out = project.ferry(&[&run[..], &["-v", "--diff"]].concat());
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_hidden(&out, "-v --diff");
    assert!(
        out.stdout.contains("the password is ********"),
        "{}",
        out.stdout
    );
    let app = hosts.hosts[0].dir.join("app");
    let read = |f: &str| std::fs::read_to_string(app.join(f)).unwrap();
    assert_eq!(read("db_password"), DB_PASSWORD);
    assert_eq!(read("token"), API_TOKEN.to_uppercase());
    assert_eq!(read("app.conf"), format!("token={FILE_TOKEN}\n"));
    // The second run changes nothing, and says so without a secret.
    let (out, events) = project.ferry_json(&run);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_hidden(&out, "--json");
    let changed: Vec<_> = step_ends(&events)
        .into_iter()
        .filter(|(_, _, s)| s == "changed")
        .collect();
    assert!(changed.is_empty(), "second run changed {changed:?}");
    let out = project.ferry(&[&run[..], &["--plan"]].concat());
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_hidden(&out, "--plan");
}

#[test]
fn a_wrong_vault_password_is_located_before_any_host_is_touched() {
    let hosts = TestHosts::start(1);
    let ansible = Ansible::get();
    let project = vaulted_project(&hosts, &ansible);
    project.file("wrong-pass", "not the password\n");
    let run = ["playbook", "site.yml", "-i", "inventory/test.ini"];
    let out = project.ferry(&[&run[..], &["--vault-password-file", "wrong-pass"]].concat());
    assert_eq!(out.status, 2, "{}", out.stderr);
    // The `!vault` tag of `db_password: !vault |`, line 1 column 14.
    assert!(
        out.stderr.contains("cannot decrypt this `!vault` value: no vault password given opens it (tried `default` from `wrong-pass`)")
            && out.stderr.contains("group_vars/web.yml:1:14"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("not the password"), "{}", out.stderr);
    // Without a password at all, a vaulted vars file is named where the
    // play names it.
    std::fs::remove_file(project.path().join("inventory/group_vars/web.yml")).unwrap();
    let out = project.ferry(&run);
    assert_eq!(out.status, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "`./vars/secret.yml` is encrypted with Ansible Vault, and no vault password was given"
        ) && out.stderr.contains("site.yml:2:16"),
        "{}",
        out.stderr
    );
    // A YAML error inside a vaulted file is located but never quoted.
    let secret = format!("default@{}", project.path().join("vault-pass").display());
    project.file("vars/secret.yml", &format!("api_token: \"{API_TOKEN}\n"));
    encrypt_file(&ansible, &secret, &project.path().join("vars/secret.yml"));
    let out = project.ferry(&[&run[..], &["--vault-password-file", "vault-pass"]].concat());
    assert_eq!(out.status, 2, "{}", out.stderr);
    assert!(out.stderr.contains("vars/secret.yml:"), "{}", out.stderr);
    assert!(!out.stderr.contains(API_TOKEN), "{}", out.stderr);
    assert!(!anyone_logged_in(&hosts), "an input error touched a host");
}

/// Runs `ferry ARGS` in `dir` with `env` set (the suite's runner clears it).
fn ferry_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let output = Command::new(ferry_bin())
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .envs(env.iter().copied())
        .output()
        .expect("run ferry");
    Output {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn vault_ids_password_scripts_ansible_cfg_and_the_environment_give_passwords() {
    use std::os::unix::fs::PermissionsExt;
    let ansible = Ansible::get();
    let project = Project::new();
    let dir = project.path();
    project.file("dev-pass", "dev password\n");
    project.file("prod-pass", "prod password\n");
    // A vault client script: Ansible gives it `--vault-id ID`.
    project.file(
        "prod-client.sh",
        "#!/bin/sh\n[ \"$1 $2\" = '--vault-id prod' ] && echo 'prod password'\n",
    );
    let script = dir.join("prod-client.sh");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let dev = encrypt_string(
        &ansible,
        &format!("dev@{}", dir.join("dev-pass").display()),
        "dev-value-1",
    );
    let prod = encrypt_string(
        &ansible,
        &format!("prod@{}", dir.join("prod-pass").display()),
        "prod-value-2",
    );
    assert!(prod.contains("$ANSIBLE_VAULT;1.2;AES256;prod"), "{prod}");
    project.file("inventory.ini", "[web]\nh1 ansible_host=127.0.0.1\n");
    let site = format!(
        "- hosts: web\n  vars:\n    dev_secret: {dev}    prod_secret: {prod}  tasks:\n    - debug: msg=\"{{{{ dev_secret == 'dev-value-1' and prod_secret == 'prod-value-2' }}}}\"\n"
    );
    project.file("site.yml", &site);
    let prod_line = site
        .lines()
        .position(|l| l.contains("prod_secret:"))
        .unwrap()
        + 1;
    let plan = ["playbook", "site.yml", "-i", "inventory.ini", "--plan"];
    let both_opened = |out: &Output, how: &str| {
        assert_eq!(out.status, 0, "{how}: {}", out.stderr);
        assert!(out.stdout.contains("msg: true"), "{how}: {}", out.stdout);
        for plain in ["dev-value-1", "prod-value-2"] {
            assert!(!out.stdout.contains(plain), "{how}: {}", out.stdout);
        }
    };
    // --vault-id with a client script, and a password file.
    let with_ids = [
        &plan[..],
        &[
            "--vault-id",
            "prod@prod-client.sh",
            "--vault-password-file",
            "dev-pass",
        ],
    ]
    .concat();
    both_opened(&project.ferry(&with_ids), "--vault-id");
    // The environment's password file with the command line's id.
    let out = ferry_with_env(
        dir,
        &[&plan[..], &["--vault-id", "prod@prod-pass"]].concat(),
        &[("ANSIBLE_VAULT_PASSWORD_FILE", "dev-pass")],
    );
    both_opened(&out, "ANSIBLE_VAULT_PASSWORD_FILE");
    // ansible.cfg's password file and identity list.
    project.file(
        "ansible.cfg",
        "[defaults]\nvault_password_file = dev-pass\nvault_identity_list = prod@prod-client.sh\n",
    );
    both_opened(&project.ferry(&plan), "ansible.cfg");
    // One password missing: the value it opens is named at its line.
    std::fs::remove_file(dir.join("ansible.cfg")).unwrap();
    let out = project.ferry(&[&plan[..], &["--vault-password-file", "dev-pass"]].concat());
    assert_eq!(out.status, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("site.yml:{prod_line}:18"))
            && out.stderr.contains("it was encrypted with vault id `prod`"),
        "{}",
        out.stderr
    );
}
