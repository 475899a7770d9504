//! The Django example as it runs in production: two web servers with nginx
//! in front of gunicorn under systemd, static files served by nginx from
//! `current`, and PostgreSQL on a third server that only the web servers
//! may reach. The database is prepared as an administrator would by hand
//! (ferry's own provisioning is issue 15's); everything else is the
//! bundled deploy.yml, unchanged.

use super::{WEB, assert_site, deploy, redeploy_changes_nothing};
use crate::support::apps::{App, http_get, wheelhouse};
use crate::support::fleet::Fleet;

const DB_PASSWORD: &str = "pg-pass-4f1d93";

#[test]
fn django_on_two_web_servers_with_postgresql_on_its_own_server_behind_nginx() {
    let fleet = Fleet::spec()
        .server("web1", WEB)
        .server("web2", WEB)
        .server("db", &["postgresql"])
        .start();
    let db = fleet.server("db").address.clone();
    let webs: Vec<String> = ["web1", "web2"]
        .iter()
        .map(|w| fleet.server(w).address.clone())
        .collect();
    // The app's role and database; only the web servers may log in.
    let hba: String = webs
        .iter()
        .map(|a| format!("host notes notes {a}/32 scram-sha-256\n"))
        .collect();
    fleet.root_with_input(
        "db",
        "cat >>/etc/postgresql/15/main/pg_hba.conf && systemctl reload postgresql@15-main",
        &hba,
    );
    fleet.root_with_input(
        "db",
        "su postgres -c 'psql -q -v ON_ERROR_STOP=1'",
        &format!(
            "CREATE ROLE notes LOGIN PASSWORD '{DB_PASSWORD}';\nCREATE DATABASE notes OWNER notes;\n"
        ),
    );

    let vars = format!(
        "    deploy_to: /home/deploy/django-notes\n    process_manager: systemd\n    procfile_port: 8000\n    gunicorn_host: \"{{{{ ansible_host }}}}\"\n    server_names: [\"{{{{ ansible_host }}}}\"]\n    nginx_listen: [\"{{{{ ansible_host }}}}:80\"]\n    pip_args: --no-index --find-links {}\n",
        wheelhouse().display()
    );
    let inventory = fleet.inventory("deploy", &[("web", &["web1", "web2"])], &vars);
    let secrets = format!("database_url: postgres://notes:{DB_PASSWORD}@{db}:5432/notes\n");
    let app = App::on_fleet("django-notes", &fleet, &inventory, &secrets, 8000);

    let (out, _) = deploy(&app);
    assert!(!out.stdout.contains(DB_PASSWORD), "{}", out.stdout);
    assert_through_nginx(&fleet, &app.head());
    // Migrated once, into PostgreSQL on the db server.
    let migrations = fleet.root_with_input(
        "db",
        "su postgres -c 'psql -tA -d notes'",
        "select app || '.' || name from django_migrations;",
    );
    assert!(migrations.contains("notes.0001_initial"), "{migrations}");
    redeploy_changes_nothing(&app);

    // v2 changes the stylesheet: nginx serves the new one from `current`
    // on both servers, never the previous release's.
    let css = "examples/django-notes/notes/static/notes/style.css";
    let css = std::fs::read_to_string(crate::support::ferry::repo_root().join(css)).unwrap();
    let v2_css = format!("{css}\n/* v2 */\n");
    app.commit("notes/static/notes/style.css", &v2_css, "v2");
    deploy(&app);
    assert_through_nginx(&fleet, &app.head());
    for address in &webs {
        let (status, body) = http_get(address, 80, "/static/notes/style.css").unwrap();
        assert_eq!(status, 200, "{address}: {body}");
        assert!(
            body.ends_with("/* v2 */\n"),
            "{address} serves the old css: {body}"
        );
    }
    redeploy_changes_nothing(&app);
}

/// Each web server's nginx (port 80) answers from gunicorn with `commit`.
fn assert_through_nginx(fleet: &Fleet, commit: &str) {
    for name in ["web1", "web2"] {
        let address = &fleet.server(name).address;
        assert_site(address, address, commit);
    }
}
