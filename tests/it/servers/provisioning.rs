//! The modules `ferry setup` is made of, each on a real server as `deploy`
//! through sudo: made, changed and removed, each run predicted by
//! `--check` and run twice (`checked_run`).

use super::{checked_run, project_on};
use crate::support::ferry::Project;
use crate::support::fleet::Fleet;

fn play(tasks: &str) -> String {
    format!("- hosts: web\n  become: true\n  tasks:\n{tasks}")
}

const KEY_A: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ2d8C0q6JvQ3sY6vV3mUjqkO0cN4nXo0u3t1m2yAAAA a@laptop";
const KEY_B: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKx9Zq1d3fP7u8r2wN5bT0yC6vE4hJmL1sQ9aXoBBBBB b@ci";

#[test]
fn authorized_key_and_sudoers_give_a_user_its_keys_and_sudo_and_check_mode_predicts_it() {
    let fleet = Fleet::spec().server("web1", &[]).start();
    fleet.root("web1", "useradd --create-home --shell /bin/bash app");
    let project = project_on(&fleet, &["web1"]);
    let keys = || {
        fleet.root("web1", "cat /home/app/.ssh/authorized_keys; stat -c '%a %U' /home/app/.ssh /home/app/.ssh/authorized_keys")
    };

    // ~/.ssh made 0700 and the file 0600, the user's own.
    let add = format!(
        "    - name: key\n      ansible.posix.authorized_key: {{ user: app, key: \"{KEY_A}\" }}\n"
    );
    assert_eq!(checked_run(&project, "add.yml", &play(&add)).len(), 1);
    assert_eq!(keys(), format!("{KEY_A}\n700 app\n600 app\n"));

    // The same key with another comment is the same key; a second key is
    // added beside it; `exclusive` then leaves only the keys it lists.
    let same = add.replace("a@laptop", "a@elsewhere");
    assert!(checked_run(&project, "same.yml", &play(&same)).is_empty());
    let both = format!(
        "    - name: key\n      authorized_key:\n        user: app\n        key: \"{KEY_A}\\n{KEY_B}\"\n"
    );
    assert_eq!(checked_run(&project, "both.yml", &play(&both)).len(), 1);
    assert!(
        keys().starts_with(&format!("{KEY_A}\n{KEY_B}\n")),
        "{}",
        keys()
    );
    let only_b = format!(
        "    - name: key\n      authorized_key: {{ user: app, key: \"{KEY_B}\", exclusive: true }}\n"
    );
    assert_eq!(checked_run(&project, "only_b.yml", &play(&only_b)).len(), 1);
    assert!(keys().starts_with(&format!("{KEY_B}\n700")), "{}", keys());
    let gone = only_b.replace("exclusive: true", "state: absent");
    assert_eq!(checked_run(&project, "gone.yml", &play(&gone)).len(), 1);
    assert!(keys().starts_with("700"), "{}", keys());

    // A sudo rule, checked by visudo, then narrowed to two commands.
    let rule = "    - name: rule\n      community.general.sudoers: { name: app, user: app, commands: ALL }\n";
    assert_eq!(checked_run(&project, "rule.yml", &play(rule)).len(), 1);
    let sudo = fleet.root("web1", "stat -c %a /etc/sudoers.d/app; sudo -l -U app");
    assert!(sudo.starts_with("440\n"), "{sudo}");
    assert!(
        sudo.contains("(ALL) NOPASSWD: ALL") || sudo.contains("NOPASSWD: ALL"),
        "{sudo}"
    );
    let narrow = "    - name: rule\n      sudoers:\n        name: app\n        user: app\n        runas: root\n        commands: [/usr/bin/systemctl restart app, /usr/sbin/nginx -s reload]\n";
    assert_eq!(checked_run(&project, "narrow.yml", &play(narrow)).len(), 1);
    let sudo = fleet.root("web1", "cat /etc/sudoers.d/app");
    assert_eq!(
        sudo,
        "app ALL=(root) NOPASSWD: /usr/bin/systemctl restart app, /usr/sbin/nginx -s reload\n"
    );

    // A rule visudo refuses is not written: sudo keeps working.
    project.file(
        "bad.yml",
        &play("    - name: rule\n      sudoers: { name: app, user: app, commands: \"relative/path\" }\n"),
    );
    let out = project.ferry(&["playbook", "bad.yml", "-i", "inventory/test.yml"]);
    assert_ne!(out.status, 0, "{}", out.stdout);
    assert!(out.stdout.contains("visudo refused"), "{}", out.stdout);
    assert_eq!(fleet.root("web1", "cat /etc/sudoers.d/app"), sudo);
    assert_eq!(fleet.root("web1", "ls /etc/sudoers.d | grep -c app"), "1\n");
    let remove = "    - name: rule\n      sudoers: { name: app, state: absent }\n";
    assert_eq!(checked_run(&project, "remove.yml", &play(remove)).len(), 1);
}

#[test]
fn ufw_rules_and_policies_are_written_once_and_check_mode_predicts_them() {
    let fleet = Fleet::spec().server("web1", &["ufw"]).start();
    let project = project_on(&fleet, &["web1"]);
    let rules = "    - name: ssh\n      community.general.ufw: { rule: allow, proto: tcp, port: \"22\" }\n    - name: db\n      ufw: { rule: allow, proto: tcp, from_ip: 127.8.0.9, port: \"5432\", comment: web1 }\n    - name: policy\n      ufw: { policy: reject, direction: incoming }\n";
    assert_eq!(checked_run(&project, "rules.yml", &play(rules)).len(), 3);
    let added = fleet.root(
        "web1",
        "ufw show added; grep ^DEFAULT_INPUT /etc/default/ufw",
    );
    assert!(added.contains("ufw allow 22/tcp\n"), "{added}");
    assert!(
        added.contains("ufw allow from 127.8.0.9 to any port 5432 proto tcp comment 'web1'"),
        "{added}"
    );
    assert!(added.contains("DEFAULT_INPUT_POLICY=\"REJECT\""), "{added}");
    let deny = "    - name: policy\n      ufw: { policy: deny, direction: incoming }\n";
    assert_eq!(checked_run(&project, "deny.yml", &play(deny)).len(), 1);
    let delete = "    - name: db\n      ufw: { rule: allow, proto: tcp, from_ip: 127.8.0.9, port: \"5432\", delete: true }\n";
    assert_eq!(checked_run(&project, "delete.yml", &play(delete)).len(), 1);
    let added = fleet.root("web1", "ufw show added");
    assert!(!added.contains("5432"), "{added}");
    // Turning it on is predicted, not run: these servers share this
    // machine's network, which they may not change.
    project.file(
        "on.yml",
        &play("    - name: on\n      ufw: { state: enabled }\n"),
    );
    let out = project.ferry(&["playbook", "on.yml", "-i", "inventory/test.yml", "--check"]);
    assert_eq!(out.status, 0, "{}", out.stdout);
    assert!(
        out.stdout.contains("would enable the firewall"),
        "{}",
        out.stdout
    );
}

/// A project on `db` whose tasks become `postgres`, as Ansible's do, or
/// root (`runuser` then reaches psql as `postgres`).
fn on_db(fleet: &Fleet) -> Project {
    project_on(fleet, &["db"])
}

#[test]
fn postgresql_modules_make_a_role_a_database_a_setting_and_a_login_rule_and_check_mode_predicts_them()
 {
    let fleet = Fleet::spec().server("db", &["postgresql"]).start();
    let project = on_db(&fleet);
    let psql = |sql: &str| fleet.root_with_input("db", "su postgres -c 'psql -Atq'", sql);

    let make = "    - name: role\n      community.postgresql.postgresql_user: { name: shop, password: pw-one-2c9, role_attr_flags: CREATEDB }\n    - name: db\n      postgresql_db: { name: shop, owner: shop, encoding: UTF8 }\n";
    assert_eq!(checked_run(&project, "make.yml", &play(make)).len(), 2);
    assert_eq!(
        psql(
            "select rolcreatedb, rolcanlogin, left(rolpassword, 14) from pg_authid where rolname = 'shop';"
        ),
        "t|t|SCRAM-SHA-256$\n"
    );
    assert_eq!(
        psql("select pg_get_userbyid(datdba) from pg_database where datname = 'shop';"),
        "shop\n"
    );

    // Another password is a change (compared with PostgreSQL's own SCRAM
    // verifier); the same one, as a role that becomes postgres, is not.
    let other = make.replace("pw-one-2c9", "pw-two-7f1");
    assert_eq!(checked_run(&project, "other.yml", &play(&other)).len(), 1);
    let as_postgres =
        format!("- hosts: web\n  become: true\n  become_user: postgres\n  tasks:\n{other}");
    assert!(checked_run(&project, "as_postgres.yml", &as_postgres).is_empty());

    // A setting that needs a restart: written once, reported as needing it.
    let set = "    - name: set\n      postgresql_set: { name: max_connections, value: \"120\" }\n      register: set\n    - name: said\n      assert: { that: [set.restart_required] }\n      when: set is changed\n";
    assert_eq!(checked_run(&project, "set.yml", &play(set)).len(), 1);
    let pending = psql("select pending_restart from pg_settings where name = 'max_connections';");
    assert_eq!(pending, "t\n");

    // A login rule, its method changed in place, then removed.
    let hba = |method: &str, state: &str| {
        format!(
            "    - name: hba\n      postgresql_pg_hba: {{ contype: host, databases: shop, users: shop, source: 127.8.0.7, method: {method}, state: {state} }}\n"
        )
    };
    let file = || {
        fleet.root(
            "db",
            "grep shop /etc/postgresql/15/main/pg_hba.conf || true",
        )
    };
    assert_eq!(
        checked_run(&project, "hba.yml", &play(&hba("md5", "present"))).len(),
        1
    );
    assert_eq!(file(), "host\tshop\tshop\t127.8.0.7/32\tmd5\n");
    assert_eq!(
        checked_run(
            &project,
            "hba2.yml",
            &play(&hba("scram-sha-256", "present"))
        )
        .len(),
        1
    );
    assert_eq!(file(), "host\tshop\tshop\t127.8.0.7/32\tscram-sha-256\n");
    assert_eq!(
        checked_run(&project, "hba3.yml", &play(&hba("scram-sha-256", "absent"))).len(),
        1
    );
    assert_eq!(file(), "");

    // Privileges, as PostgreSQL itself tells whether a grant changes any:
    // a reader that may connect and read every table of the schema.
    fleet.root_with_input(
        "db",
        "su postgres -c 'psql -q -d shop'",
        "CREATE TABLE items (id int); CREATE TABLE orders (id int);",
    );
    let grant = "    - name: reader\n      postgresql_user: { name: ro }\n    - name: connect\n      community.postgresql.postgresql_privs: { database: shop, type: database, privs: CONNECT, roles: ro }\n    - name: read\n      postgresql_privs: { db: shop, privs: SELECT, objs: ALL_IN_SCHEMA, roles: ro }\n";
    assert_eq!(checked_run(&project, "grant.yml", &play(grant)).len(), 3);
    let read = fleet.root_with_input(
        "db",
        "su postgres -c 'psql -Atq -d shop'",
        "select has_table_privilege('ro', 'items', 'SELECT'), has_table_privilege('ro', 'orders', 'SELECT');",
    );
    assert_eq!(read, "t|t\n");
    let revoke = "    - name: read\n      postgresql_privs: { db: shop, privs: SELECT, type: table, objs: orders, roles: ro, state: absent }\n";
    assert_eq!(checked_run(&project, "revoke.yml", &play(revoke)).len(), 1);
    let read = fleet.root_with_input(
        "db",
        "su postgres -c 'psql -Atq -d shop'",
        "select has_table_privilege('ro', 'items', 'SELECT'), has_table_privilege('ro', 'orders', 'SELECT');",
    );
    assert_eq!(read, "t|f\n");

    // Dropped: the database (with its grants), then the roles.
    let drop = "    - name: db\n      postgresql_db: { name: shop, state: absent }\n    - name: role\n      postgresql_user: { name: shop, state: absent }\n    - name: reader\n      postgresql_user: { name: ro, state: absent }\n";
    assert_eq!(checked_run(&project, "drop.yml", &play(drop)).len(), 3);
    assert_eq!(
        psql("select count(*) from pg_roles where rolname = 'shop';"),
        "0\n"
    );
}

#[test]
fn service_with_enabled_starts_a_unit_and_enables_it_at_boot_as_ansible_does() {
    let fleet = Fleet::spec().server("web1", &[]).start();
    fleet.root(
        "web1",
        "printf '[Service]\\nExecStart=/bin/sleep infinity\\n[Install]\\nWantedBy=multi-user.target\\n' >/etc/systemd/system/hello.service && systemctl daemon-reload",
    );
    let project = project_on(&fleet, &["web1"]);
    let both = "    - name: hello\n      service: name=hello state=started enabled=yes\n";
    assert_eq!(checked_run(&project, "both.yml", &play(both)).len(), 1);
    let state = fleet.root(
        "web1",
        "systemctl is-active hello; systemctl is-enabled hello",
    );
    assert_eq!(state, "active\nenabled\n");
    // Only at boot: not started, nor stopped.
    fleet.root("web1", "systemctl stop hello");
    let off = "    - name: hello\n      ansible.builtin.service: { name: hello, enabled: false }\n";
    assert_eq!(checked_run(&project, "off.yml", &play(off)).len(), 1);
    let state = fleet.root(
        "web1",
        "systemctl is-active hello; systemctl is-enabled hello; true",
    );
    assert_eq!(state, "inactive\ndisabled\n");
    // ferry's restart keys do not mix with it: an input error, before any host.
    project.file(
        "mixed.yml",
        &play("    - name: hello\n      service: { name: hello, enabled: true, serves: /srv/app/current }\n"),
    );
    let out = project.ferry(&["playbook", "mixed.yml", "-i", "inventory/test.yml"]);
    assert_eq!(out.status, 2, "{}", out.stderr);
    assert!(out.stderr.contains("mixed.yml:5:"), "{}", out.stderr);
}
