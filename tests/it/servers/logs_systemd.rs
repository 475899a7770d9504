//! `ferry logs` on a systemd server: the Flask example's processes run as
//! units, their output is in the journal (readable by `deploy` through
//! sudo), and `-f` follows it until Ctrl-C.

use std::time::Duration;

use super::{WEB, deploy};
use crate::logs::{interrupt, spawn_reading, wait_for_line};
use crate::support::apps::{App, wheelhouse};
use crate::support::fleet::Fleet;

#[test]
fn logs_read_the_journal_of_each_process_unit_and_follow_it() {
    let fleet = Fleet::spec().server("web1", WEB).start();
    let vars = format!(
        "    deploy_to: /home/deploy/flask-hello\n    process_manager: systemd\n    nginx: false\n    procfile_port: 8000\n    gunicorn_host: \"{{{{ ansible_host }}}}\"\n    pip_args: --no-index --find-links {}\n",
        wheelhouse().display()
    );
    let inventory = fleet.inventory("deploy", &[("web", &["web1"])], &vars);
    let app = App::on_fleet("flask-hello", &fleet, &inventory, "", 8000);
    deploy(&app);

    // gunicorn's start, as the journal has it for each web unit.
    let out = app.project.ferry(&["logs", "test", "web", "-n", "200"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    for process in ["web-1", "web-2"] {
        let prefix = format!("web1  {process} | ");
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with(&prefix) && l.contains("Booting worker")),
            "no `{prefix}…Booting worker`:\n{}",
            out.stdout
        );
    }
    assert!(!out.stdout.contains("worker-1 |"), "{}", out.stdout);

    // Following: a line the unit logs from now on shows, once.
    let (mut child, rx) = spawn_reading(
        app.project.path(),
        &["logs", "test", "web", "-f", "-n", "0"],
    );
    std::thread::sleep(Duration::from_secs(3));
    fleet.root(
        "web1",
        "systemctl kill -s HUP --kill-whom=main flask-hello-web-2.service",
    );
    let seen = wait_for_line(&rx, Duration::from_secs(30), |l| {
        l.starts_with("web1  web-2 | ") && l.contains("Handling signal: hup")
    });
    assert!(
        seen.iter().all(|l| l.starts_with("web1  web-2 | ")),
        "only web-2 logged since: {seen:?}"
    );
    assert_eq!(interrupt(&mut child, Duration::from_secs(10)), 0);
    let left = fleet.root("web1", "pgrep -a journalctl || true");
    assert_eq!(left, "", "journalctl left following on the server");
}
