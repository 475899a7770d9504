//! `apt_key`, `apt_repository` and `package` on a real Debian server, as
//! `deploy` through sudo: the modern way to add a repository — its key in
//! a keyring file of its own under /etc/apt/keyrings, named by the source
//! line's `signed-by` — against a repository served on the server's own
//! address and signed with a key this test makes, so that apt's update
//! verifies the signature with that keyring alone. Then `package` installs
//! from it (apt, found on the host), and everything is removed again. Each
//! playbook's `--check` predicts the run, and its second run is `ok`.

use std::process::Command;

use super::{checked_run, project_on};
use crate::support::fleet::Fleet;

/// Runs gpg with its own home; returns stdout.
fn gpg(home: &std::path::Path, args: &[&str], input: &str) -> String {
    use std::io::Write as _;
    let mut child = Command::new("gpg")
        .arg("--homedir")
        .arg(home)
        .args([
            "--batch",
            "--quiet",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
        ])
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "gpg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_signed_repository_is_added_the_signed_by_way_a_package_installed_and_all_removed() {
    let fleet = Fleet::spec().server("web1", &[]).start();
    let address = fleet.server("web1").address.clone();
    fleet.root_with_input("web1", "sh -s 1.0", super::apt::PUBLISH);

    // The repository's InRelease, signed with a key made for this test.
    let home = tempfile::tempdir().unwrap();
    gpg(
        home.path(),
        &[
            "--quick-gen-key",
            "ferry tests <t@example.invalid>",
            "ed25519",
            "sign",
            "never",
        ],
        "",
    );
    let key = gpg(home.path(), &["--armor", "--export"], "");
    let packages = fleet.root("web1", "cat /srv/repo/Packages");
    let sha256 = {
        use sha2::Digest as _;
        sha2::Sha256::digest(packages.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let release = format!(
        "Origin: ferry\nLabel: ferry\nDate: Thu, 01 Jan 2026 00:00:00 UTC\nSHA256:\n {sha256} {} Packages\n",
        packages.len()
    );
    let signed = gpg(home.path(), &["--clearsign"], &release);
    fleet.root_with_input("web1", "cat >/srv/repo/InRelease", &signed);
    fleet.root(
        "web1",
        &format!(
            "mv /etc/apt/sources.list /etc/apt/sources.list.off 2>/dev/null; rm -f /etc/apt/sources.list.d/*; \
             systemd-run --quiet --unit=repo python3 -m http.server --bind {address} --directory /srv/repo 8080"
        ),
    );
    let project = project_on(&fleet, &["web1"]);
    let indented: String = key.lines().map(|l| format!("      {l}\n")).collect();
    let line = format!("deb [signed-by=/etc/apt/keyrings/ferry.asc] http://{address}:8080 ./");
    let play = |tasks: &str| {
        format!(
            "- hosts: web\n  become: true\n  vars:\n    repo_key: |\n{indented}  tasks:\n{tasks}"
        )
    };

    let add = format!(
        "    - name: keyrings\n      file: {{ path: /etc/apt/keyrings, state: directory, mode: \"0755\" }}\n\
         \x20   - name: key\n      ansible.builtin.apt_key: {{ data: \"{{{{ repo_key }}}}\", keyring: /etc/apt/keyrings/ferry.asc }}\n\
         \x20   - name: repo\n      apt_repository: {{ repo: \"{line}\", filename: ferry }}\n\
         \x20   - name: hello\n      package: {{ name: ferry-hello }}\n"
    );
    let did = checked_run(&project, "add.yml", &play(&add));
    let names: Vec<&str> = did.iter().map(|(_, n, _)| n.as_str()).collect();
    assert!(names.ends_with(&["key", "repo", "hello"]), "{did:?}");
    assert_eq!(
        fleet.root("web1", "cat /etc/apt/sources.list.d/ferry.list"),
        format!("{line}\n")
    );
    assert_eq!(
        fleet.root("web1", "stat -c %a /etc/apt/sources.list.d/ferry.list"),
        "644\n"
    );
    assert_eq!(
        fleet.root(
            "web1",
            "dpkg-query -W -f='${db:Status-Status} ${Version}' ferry-hello"
        ),
        "installed 1.0"
    );
    // apt verified the repository with the keyring (no `trusted=yes`).
    let policy = fleet.root("web1", "apt-cache policy ferry-hello");
    assert!(
        policy.contains(&format!("http://{address}:8080 ./")),
        "{policy}"
    );

    let remove = format!(
        "    - name: hello\n      ansible.builtin.package: {{ name: ferry-hello, state: absent }}\n\
         \x20   - name: repo\n      ansible.builtin.apt_repository: {{ repo: \"{line}\", state: absent }}\n\
         \x20   - name: key\n      apt_key: {{ keyring: /etc/apt/keyrings/ferry.asc, state: absent }}\n"
    );
    let did = checked_run(&project, "remove.yml", &play(&remove));
    assert_eq!(did.len(), 3, "{did:?}");
    // The package has no configuration files: dpkg forgets it.
    assert_eq!(
        fleet.root("web1", "ls /etc/apt/sources.list.d /etc/apt/keyrings; dpkg-query -W -f='${db:Status-Status}' ferry-hello 2>/dev/null; true"),
        "/etc/apt/keyrings:\n\n/etc/apt/sources.list.d:\n"
    );
}
