//! TLS as a deploy gets it on real servers: pebble (the ACME test CA, on
//! this machine) issues for the Flask example's name, ferry installs the
//! certificate on both web servers through sudo, and nginx under systemd
//! serves HTTPS from it; a second deploy asks the CA nothing.

use super::{WEB, deploy, redeploy_changes_nothing};
use crate::support::apps::{App, wheelhouse};
use crate::support::fleet::Fleet;
use crate::support::pebble::{Pebble, https_get};

#[test]
fn flask_gets_tls_from_pebble_on_two_servers_and_nginx_serves_it() {
    let fleet = Fleet::spec()
        .server("web1", WEB)
        .server("web2", WEB)
        .start();
    // nginx listens on each server's own port 80: pebble validates there.
    let pebble = Pebble::start_on(None, 80);
    pebble.point("flask.test", &fleet.server("web1").address);
    let vars = format!(
        "    deploy_to: /home/deploy/flask-hello\n    process_manager: systemd\n    procfile_port: 8000\n    gunicorn_host: \"{{{{ ansible_host }}}}\"\n    server_names: [flask.test]\n    nginx_listen: [\"{{{{ ansible_host }}}}:80\"]\n    nginx_tls_listen: [\"{{{{ ansible_host }}}}:443 ssl\"]\n    certificates: [[flask.test]]\n    acme_directory: {}\n    acme_ca_bundle: {}\n    pip_args: --no-index --find-links {}\n",
        pebble.directory,
        pebble.ca_bundle.display(),
        wheelhouse().display()
    );
    let inventory = fleet.inventory("deploy", &[("web", &["web1", "web2"])], &vars);
    let app = App::on_fleet("flask-hello", &fleet, &inventory, "", 8000);

    deploy(&app);
    let root = fleet.root.join("pebble-root.pem");
    std::fs::write(&root, pebble.root_pem()).unwrap();
    for server in &fleet.servers {
        let body = https_get("flask.test", &server.address, 443, &root)
            .unwrap_or_else(|e| panic!("{}: {e}", server.name));
        assert!(body.contains(&app.head()), "{}: {body}", server.name);
        // The key stays root's, on every server.
        let mode = fleet.root(
            &server.name,
            "stat -c '%a %U' /etc/ssl/ferry/flask.test/privkey.pem",
        );
        assert_eq!(mode.trim(), "600 root", "{}", server.name);
    }
    let orders = pebble.log().matches("Issued certificate").count();
    assert_eq!(orders, 1, "one order for both servers:\n{}", pebble.log());
    let chain = "cat /etc/ssl/ferry/flask.test/fullchain.pem";
    let issued = fleet.root("web2", chain);
    redeploy_changes_nothing(&app);
    assert_eq!(fleet.root("web2", chain), issued);
    assert_eq!(
        pebble.log().matches("Issued certificate").count(),
        orders,
        "the second deploy ordered again"
    );
}
