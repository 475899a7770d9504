//! `authorized_key`, `sudoers` and `postgresql_pg_hba` on an sshd host,
//! each on a file of the test's own (`path`, `sudoers_path`, `dest`):
//! `--diff` shows the file as the run then leaves it, the same in check
//! mode and in the run, and `register` gives Ansible's result fields.

use crate::support::checked::check_run_again;
use crate::support::ferry::{Project, step_diffs};
use crate::support::sshd::TestHosts;

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ2d8C0q6JvQ3sY6vV3mUjqkO0cN4nXo0u3t1m2yAAAA a@laptop";

#[test]
fn access_modules_show_their_file_changes_with_diff_and_register_ansibles_fields() {
    let hosts = TestHosts::start(1);
    let host = &hosts.hosts[0];
    let project = Project::with_hosts(&hosts);
    let d = host.dir.display();
    std::fs::create_dir(host.dir.join("sudoers.d")).unwrap();
    std::fs::write(host.dir.join("keys"), "# by hand\n").unwrap();
    std::fs::write(
        host.dir.join("pg_hba.conf"),
        "local all postgres peer\nhost all all 0.0.0.0/0 reject\n",
    )
    .unwrap();
    let user = &host.user;
    project.file(
        "access.yml",
        &format!(
            r#"- hosts: web
  tasks:
    - name: key
      authorized_key: {{ user: {user}, key: "{KEY}", path: {d}/keys }}
      register: key
    - name: rule
      sudoers: {{ name: app, user: app, commands: ALL, sudoers_path: {d}/sudoers.d }}
      register: rule
    - name: hba
      community.postgresql.postgresql_pg_hba:
        dest: {d}/pg_hba.conf
        contype: host
        databases: shop
        users: shop
        source: 127.0.0.1/32
        method: scram-sha-256
      register: hba
    - name: fields
      assert:
        that:
          - key.keyfile == '{d}/keys'
          - key.user == '{user}'
          - key.state == 'present'
          - not key.exclusive
          - key.manage_dir
          - rule.rule == 'app ALL=NOPASSWD: ALL\n'
          - hba.dest == '{d}/pg_hba.conf'
          - hba.pg_hba | length == 3
          - hba.pg_hba[2].method == 'scram-sha-256'
          - hba.pg_hba[2].src == '127.0.0.1/32'
"#
        ),
    );
    let args = [
        "playbook",
        "access.yml",
        "-i",
        "inventory/test.ini",
        "--diff",
    ];
    let (out, check) = project.ferry_json(&[&args[..], &["--check"]].concat());
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let (out, run) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let shown = step_diffs(&run);
    assert_eq!(step_diffs(&check), shown, "check mode showed another diff");
    let names: Vec<&str> = shown.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["key", "rule", "hba"]);
    assert!(shown[0].1.contains(&format!("+{KEY}")), "{}", shown[0].1);
    assert!(shown[0].1.contains(" # by hand\n"), "{}", shown[0].1);
    assert!(
        shown[1].1.contains("+app ALL=NOPASSWD: ALL"),
        "{}",
        shown[1].1
    );
    assert!(
        shown[2]
            .1
            .contains("+host\tshop\tshop\t127.0.0.1/32\tscram-sha-256"),
        "{}",
        shown[2].1
    );
    // What the diff said is what the files hold.
    let read = |f: &str| std::fs::read_to_string(host.dir.join(f)).unwrap();
    assert_eq!(read("keys"), format!("# by hand\n{KEY}\n"));
    assert_eq!(read("sudoers.d/app"), "app ALL=NOPASSWD: ALL\n");
    assert!(
        read("pg_hba.conf").ends_with("reject\nhost\tshop\tshop\t127.0.0.1/32\tscram-sha-256\n"),
        "{}",
        read("pg_hba.conf")
    );
    // Nothing left to change: no diff, and the assertions hold on `ok` too.
    let (out, again) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(step_diffs(&again).is_empty(), "{:?}", step_diffs(&again));
    check_run_again(&project, "access.yml");
}
