//! Two apps on one server, as small shops run them: each with its own
//! `deploy_to`, nginx site (by name, on the same address) and systemd
//! units; deploying or rolling back one leaves the other serving, untouched.

use super::{WEB, assert_site, deploy, redeploy_changes_nothing};
use crate::support::apps::{App, wheelhouse};
use crate::support::fleet::Fleet;

#[test]
fn two_apps_on_one_server_deploy_and_roll_back_independently() {
    let fleet = Fleet::spec().server("web1", WEB).start();
    let app = |example: &str, site: &str, port: u16| {
        let vars = format!(
            "    deploy_to: /home/deploy/{example}\n    process_manager: systemd\n    procfile_port: {port}\n    gunicorn_host: \"{{{{ ansible_host }}}}\"\n    server_names: [{site}]\n    nginx_listen: [\"{{{{ ansible_host }}}}:80\"]\n    pip_args: --no-index --find-links {}\n",
            wheelhouse().display()
        );
        let inventory = fleet.inventory("deploy", &[("web", &["web1"])], &vars);
        let secrets = format!("database_url: sqlite:////home/deploy/{example}/shared/db.sqlite3\n");
        App::on_fleet(example, &fleet, &inventory, &secrets, port)
    };
    let flask = app("flask-hello", "flask.test", 8000);
    let notes = app("django-notes", "notes.test", 8100);
    let address = fleet.server("web1").address.clone();

    deploy(&flask);
    deploy(&notes);
    let (flask_v1, notes_v1) = (flask.head(), notes.head());
    assert_site(&address, "flask.test", &flask_v1);
    assert_site(&address, "notes.test", &notes_v1);
    redeploy_changes_nothing(&flask);
    redeploy_changes_nothing(&notes);
    let notes_masters = masters(&fleet, "django-notes");

    // flask v2, then rolled back: notes keeps serving from the same
    // gunicorn masters throughout.
    let source = std::fs::read_to_string(flask.project.path().join("app.py")).unwrap();
    flask.commit(
        "app.py",
        &source.replace("flask-hello", "flask-hello v2"),
        "v2",
    );
    deploy(&flask);
    assert_site(&address, "flask.test", &flask.head());
    assert_site(&address, "notes.test", &notes_v1);
    let out = flask.project.ferry(&["rollback", "test"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_site(&address, "flask.test", &flask_v1);
    assert_site(&address, "notes.test", &notes_v1);
    assert_eq!(masters(&fleet, "django-notes"), notes_masters);
    redeploy_changes_nothing(&notes);

    // And the other way round: notes rolls back, flask stays on its v1.
    let views = std::fs::read_to_string(notes.project.path().join("notes/views.py")).unwrap();
    notes.commit("notes/views.py", &format!("{views}\n# v2\n"), "v2");
    deploy(&notes);
    assert_site(&address, "notes.test", &notes.head());
    let flask_masters = masters(&fleet, "flask-hello");
    let out = notes.project.ferry(&["rollback", "test"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_site(&address, "notes.test", &notes_v1);
    assert_site(&address, "flask.test", &flask_v1);
    assert_eq!(masters(&fleet, "flask-hello"), flask_masters);
    let units = fleet.root(
        "web1",
        "systemctl list-units --no-legend --plain 'flask-hello-*' 'django-notes-*' | cut -d' ' -f1 | sort",
    );
    assert_eq!(
        units.split_whitespace().collect::<Vec<_>>(),
        [
            "django-notes-web-1.service",
            "django-notes-web-2.service",
            "django-notes-web.target",
            "flask-hello-web-1.service",
            "flask-hello-web-2.service",
            "flask-hello-web.target",
            "flask-hello-worker-1.service",
            "flask-hello-worker.target",
        ],
        "{units}"
    );
}

/// The gunicorn masters' pids of `app` on web1, from its pid files.
fn masters(fleet: &Fleet, app: &str) -> String {
    fleet.root(
        "web1",
        &format!("cat /home/deploy/{app}/shared/run/web-*.pid"),
    )
}
