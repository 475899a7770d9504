//! `ferry setup` on servers as a VPS provider hands them over (root with a
//! key, no `deploy` user, nothing installed; apt from a local repository):
//! setup, then the bundled Django example deployed unchanged onto two web
//! servers with PostgreSQL on a third, then setup again, which changes
//! nothing. The firewall's rules are written but not turned on: the
//! servers share this machine's network namespace (and may not change it).

use std::time::Instant;

use super::{assert_site, changed, deploy, redeploy_changes_nothing};
use crate::support::apps::{App, wheelhouse};
use crate::support::fleet::Fleet;

const DB_PASSWORD: &str = "pg-setup-8c2e51";

#[test]
fn setup_takes_fresh_servers_to_serving_the_django_example_and_a_second_setup_changes_nothing() {
    let fleet = Fleet::spec()
        .fresh()
        .server("web1", &[])
        .server("web2", &[])
        .server("db", &[])
        .start();
    let db = fleet.server("db").address.clone();
    let vars = format!(
        "    deploy_to: /home/deploy/django-notes\n    process_manager: systemd\n    procfile_port: 8000\n    gunicorn_host: \"{{{{ ansible_host }}}}\"\n    server_names: [\"{{{{ ansible_host }}}}\"]\n    nginx_listen: [\"{{{{ ansible_host }}}}:80\"]\n    pip_args: --no-index --find-links {}\n    postgresql_listen_addresses: \"{{{{ ansible_host }}}}\"\n    firewall_enable: false\n    database_name: notes\n    database_user: notes\n    unattended_upgrades: true\n",
        wheelhouse().display()
    );
    let inventory = fleet.inventory(
        "deploy",
        &[("web", &["web1", "web2"]), ("db", &["db"])],
        &vars,
    );
    let secrets = format!("database_url: postgres://notes:{DB_PASSWORD}@{db}:5432/notes\n");
    let app = App::on_fleet("django-notes", &fleet, &inventory, &secrets, 8000);

    // Before setup there is no one to deploy as.
    let (out, _) = app.project.ferry_json(&["check", "test"]);
    assert_ne!(
        out.status, 0,
        "check passed on fresh servers:\n{}",
        out.stdout
    );

    // `--check` on the fresh servers changes nothing and predicts the run,
    // but for what only an earlier step's package brings: nginx's default
    // site (and the reload its removal notifies).
    let (out, events) = app.project.ferry_json(&["setup", "test", "--check"]);
    let predicted = changed(&out, &events);
    assert!(
        fleet
            .root("web1", "id deploy 2>&1 || true")
            .contains("no such user"),
        "--check changed the server"
    );

    let started = Instant::now();
    let (out, events) = app.project.ferry_json(&["setup", "test"]);
    let first = started.elapsed();
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains(DB_PASSWORD), "the password leaked:\n{text}");
    }
    let did = changed(&out, &events);
    // Where the time goes (for the figures in the README).
    let mut slowest: Vec<(u64, String)> = events
        .iter()
        .filter(|e| e["event"] == "step_end")
        .map(|e| {
            (
                e["elapsed"].as_u64().unwrap_or(0),
                format!(
                    "{} {}",
                    e["host"].as_str().unwrap_or(""),
                    e["name"].as_str().unwrap_or("")
                ),
            )
        })
        .collect();
    slowest.sort_unstable_by(|a, b| b.cmp(a));
    eprintln!(
        "setup: slowest steps (ms): {:?}",
        &slowest[..slowest.len().min(8)]
    );
    let mut unforeseen: Vec<_> = did.iter().filter(|c| !predicted.contains(c)).collect();
    unforeseen.sort();
    let mut expected = Vec::new();
    for host in ["web1", "web2"] {
        for step in ["Reload nginx", "Remove nginx's default site"] {
            expected.push((host.to_string(), step.to_string(), "changed".to_string()));
        }
    }
    assert_eq!(
        unforeseen,
        expected.iter().collect::<Vec<_>>(),
        "--check predicted {predicted:?}"
    );
    assert!(
        predicted.iter().all(|c| did.contains(c)),
        "--check predicted changes the run did not make: {predicted:?} vs {did:?}"
    );
    for (host, step) in [
        ("web1", "Create the deploy user"),
        ("web1", "Install the packages"),
        ("db", "Install the packages"),
        ("db", "The app's role"),
        ("db", "The app's database"),
        ("web2", "Allow SSH logins with keys only"),
    ] {
        assert!(
            did.iter().any(|(h, s, _)| h == host && s.starts_with(step)),
            "setup did not report `{step}` changed on {host}: {did:?}"
        );
    }
    // The sudo rule passed visudo; sshd took the drop-in; the role's
    // password is PostgreSQL's (SCRAM) and the web hosts may log in.
    let sudo = fleet.root("web1", "sudo -l -U deploy");
    assert!(sudo.contains("NOPASSWD: ALL"), "{sudo}");
    let sshd = fleet.root(
        "web2",
        "sshd -T | grep -E '^(passwordauthentication|permitrootlogin)'",
    );
    assert!(sshd.contains("passwordauthentication no"), "{sshd}");
    assert!(sshd.contains("permitrootlogin without-password"), "{sshd}");
    let hba = fleet.root("db", "cat $(su postgres -c \"psql -Atc 'SHOW hba_file'\")");
    let web1 = &fleet.server("web1").address;
    assert!(
        hba.contains(&format!("host\tnotes\tnotes\t{web1}/32\tscram-sha-256")),
        "{hba}"
    );
    let listen = fleet.root("db", "su postgres -c \"psql -Atc 'SHOW listen_addresses'\"");
    assert_eq!(
        listen.trim(),
        db,
        "PostgreSQL was not restarted to listen on {db}"
    );
    let daily = fleet.root("web2", "apt-config dump APT::Periodic::Unattended-Upgrade");
    assert_eq!(daily.trim(), "APT::Periodic::Unattended-Upgrade \"1\";");
    let rules = fleet.root("db", "ufw show added");
    assert!(
        rules.contains(&format!("ufw allow from {web1} to any port 5432 proto tcp")),
        "{rules}"
    );

    // Then the deploy works, as `deploy`, from the setup's key.
    let (out, _) = deploy(&app);
    assert!(!out.stdout.contains(DB_PASSWORD), "{}", out.stdout);
    let head = app.head();
    for name in ["web1", "web2"] {
        let address = &fleet.server(name).address;
        assert_site(address, address, &head);
    }
    redeploy_changes_nothing(&app);

    // A second setup changes nothing, and says so.
    let started = Instant::now();
    let (out, events) = app.project.ferry_json(&["setup", "test"]);
    let second = started.elapsed();
    let again = changed(&out, &events);
    assert!(again.is_empty(), "a second setup changed {again:?}");
    eprintln!(
        "setup: fresh servers {:.1} s, again {:.1} s",
        first.as_secs_f64(),
        second.as_secs_f64()
    );
}

/// As on Ubuntu's cloud images: root does not log in, a user with sudo
/// does (`setup_user`), and setup makes the deploy user from there.
#[test]
fn setup_logs_in_as_a_sudo_user_where_root_cannot() {
    let fleet = Fleet::spec().fresh().server("web1", &[]).start();
    fleet.root(
        "web1",
        "useradd --create-home --shell /bin/bash admin && install -d -m 700 -o admin -g admin /home/admin/.ssh \
         && install -m 600 -o admin -g admin /root/.ssh/authorized_keys /home/admin/.ssh/ \
         && echo 'admin ALL=(ALL) NOPASSWD: ALL' >/etc/sudoers.d/admin && chmod 440 /etc/sudoers.d/admin",
    );
    let project = crate::support::ferry::Project::new();
    project.file(
        "inventory/test.yml",
        &fleet.inventory(
            "deploy",
            &[("web", &["web1"])],
            "    setup_user: admin\n    deploy_to: /srv/app\n    process_manager: systemd\n    firewall_enable: false\n",
        ),
    );
    project.file(
        ".ssh/known_hosts",
        &std::fs::read_to_string(&fleet.known_hosts).unwrap(),
    );
    // Root is then locked out, as on those images.
    fleet.root("web1", "rm /root/.ssh/authorized_keys");
    let (out, events) = project.ferry_json(&["setup", "test"]);
    let did = changed(&out, &events);
    assert!(
        did.iter()
            .any(|(_, step, _)| step == "Create the deploy user"),
        "{did:?}"
    );
    // The deploy user logs in with the same key, may use sudo, owns deploy_to.
    let out = fleet
        .ssh(fleet.server("web1"), "deploy")
        .arg("sudo -n true && stat -c %U /srv/app")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "deploy\n", "{out:?}");
    let (out, events) = project.ferry_json(&["setup", "test"]);
    assert!(changed(&out, &events).is_empty());
}
