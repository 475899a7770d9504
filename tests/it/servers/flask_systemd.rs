//! The Flask example from its Procfile under systemd on two servers, as the
//! `deploy` user whose sudo needs no password: units and a target per
//! process type, enabled, and a gunicorn upgrade that drops no request.

use super::{WEB, deploy, redeploy_changes_nothing};
use crate::support::apps::{App, Poller, http_get, wheelhouse};
use crate::support::fleet::Fleet;

#[test]
fn flask_runs_under_systemd_as_deploy_and_upgrades_without_dropping_a_request() {
    let fleet = Fleet::spec()
        .server("web1", WEB)
        .server("web2", WEB)
        .start();
    let vars = format!(
        "    deploy_to: /home/deploy/flask-hello\n    process_manager: systemd\n    nginx: false\n    procfile_port: 8000\n    gunicorn_host: \"{{{{ ansible_host }}}}\"\n    pip_args: --no-index --find-links {}\n",
        wheelhouse().display()
    );
    let inventory = fleet.inventory("deploy", &[("web", &["web1", "web2"])], &vars);
    let app = App::on_fleet("flask-hello", &fleet, &inventory, "", 8000);

    deploy(&app);
    assert_serving(&fleet, &app.head());
    for server in ["web1", "web2"] {
        // systemd runs each process as `deploy`, enabled through its target.
        let state = fleet.root(
            server,
            "systemctl is-enabled flask-hello-web.target flask-hello-worker.target; \
             systemctl is-active flask-hello-web-1 flask-hello-web-2 flask-hello-worker-1; \
             ps -o user= -C gunicorn | sort -u",
        );
        assert_eq!(
            state.split_whitespace().collect::<Vec<_>>(),
            ["enabled", "enabled", "active", "active", "active", "deploy"],
            "{server}: {state}"
        );
    }
    redeploy_changes_nothing(&app);

    // v2 while every web process of both servers is polled.
    let source = std::fs::read_to_string(app.project.path().join("app.py")).unwrap();
    app.commit(
        "app.py",
        &source.replace("flask-hello", "flask-hello v2"),
        "v2",
    );
    let targets: Vec<(String, u16)> = fleet
        .servers
        .iter()
        .flat_map(|s| [(s.address.clone(), 8000), (s.address.clone(), 8001)])
        .collect();
    let poller = Poller::start(&targets, "/");
    deploy(&app);
    let (sent, errors) = poller.stop();
    assert!(sent > 50, "too few requests to tell ({sent})");
    assert!(
        errors.is_empty(),
        "requests failed during the upgrade: {errors:?}"
    );
    assert_serving(&fleet, &app.head());
    redeploy_changes_nothing(&app);
}

/// Both web processes of every server answer with `commit`.
fn assert_serving(fleet: &Fleet, commit: &str) {
    for server in &fleet.servers {
        for port in [8000, 8001] {
            let (status, body) = http_get(&server.address, port, "/")
                .unwrap_or_else(|e| panic!("{}:{port}: {e}", server.name));
            assert_eq!(status, 200, "{body}");
            assert!(
                body.contains(commit),
                "{}:{port} serves {body}",
                server.name
            );
        }
    }
}
