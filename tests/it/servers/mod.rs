//! Deploys to real Debian servers (systemd-nspawn containers booted with
//! systemd, see `support::fleet`): logged in as `deploy`, escalating through
//! the real sudo, processes under systemd, packages from apt, PostgreSQL on
//! a server of its own. Each deploy is run twice: the second changes nothing.

mod accounts;
mod apt;
mod become_sudo;
mod cron;
mod django_postgres;
mod facts;
mod faults;
mod flask_systemd;
mod logs_systemd;
mod packages;
mod provisioning;
mod push;
mod setup;
mod systemd_module;
mod tls;
mod two_apps;

use crate::support::apps::{App, SECRET, http_get_as};
use crate::support::ferry::{Output, Project, step_ends};
use crate::support::fleet::Fleet;

/// The packages of a web server (the app's virtualenv, nginx in front).
pub const WEB: &[&str] = &["python3-venv", "nginx-light"];

/// `ferry deploy test` with events; the secret must appear nowhere.
pub fn deploy(app: &App) -> (Output, Vec<serde_json::Value>) {
    let (out, events) = app.project.ferry_json(&["deploy", "test"]);
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains(SECRET), "the secret leaked:\n{text}");
    }
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    (out, events)
}

/// Deploys the same commit again and asserts that no step changed anything.
pub fn redeploy_changes_nothing(app: &App) {
    let (_, events) = deploy(app);
    let changed: Vec<_> = step_ends(&events)
        .into_iter()
        .filter(|(_, _, status)| status != "ok" && status != "skipped")
        .collect();
    assert!(changed.is_empty(), "a second deploy changed: {changed:?}");
}

/// nginx on `address:80` answers for site `site` with 200 and a body holding
/// `commit`, at the first request: the deploy's handler (`nginx.reload`)
/// returns only once nginx serves the new configuration.
pub fn assert_site(address: &str, site: &str, commit: &str) {
    let (status, body) =
        http_get_as(address, 80, site, "/").unwrap_or_else(|e| panic!("{site}: {e}"));
    assert!(
        status == 200 && body.contains(commit),
        "{site} at {address} serves {status}: {body}"
    );
}

/// `(host, step, status)` of the steps that changed something; the run must
/// have succeeded.
pub fn changed(out: &Output, events: &[serde_json::Value]) -> Vec<(String, String, String)> {
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    step_ends(events)
        .into_iter()
        .filter(|(_, _, status)| status == "changed")
        .collect()
}

/// Writes playbook `file` and runs it against `inventory/test.yml`: with
/// `--check` on the state as it is, for real, then again. Returns what the
/// run changed, once it is clear that `--check` predicted exactly that and
/// that the second run changed nothing.
pub fn checked_run(project: &Project, file: &str, playbook: &str) -> Vec<(String, String, String)> {
    project.file(file, playbook);
    let args = ["playbook", file, "-i", "inventory/test.yml"];
    let (out, events) = project.ferry_json(&[&args[..], &["--check"]].concat());
    let predicted = changed(&out, &events);
    let (out, events) = project.ferry_json(&args);
    let did = changed(&out, &events);
    assert_eq!(
        predicted, did,
        "{file}: --check predicted other changes than the run made"
    );
    let (out, events) = project.ferry_json(&args);
    let again = changed(&out, &events);
    assert!(again.is_empty(), "{file}: a second run changed {again:?}");
    did
}

/// A project whose `inventory/test.yml` puts `servers` in group `web`,
/// reached as `deploy`, and whose HOME trusts the fleet's host keys.
pub fn project_on(fleet: &Fleet, servers: &[&str]) -> Project {
    let project = Project::new();
    project.file(
        "inventory/test.yml",
        &fleet.inventory("deploy", &[("web", servers)], ""),
    );
    project.file(
        ".ssh/known_hosts",
        &std::fs::read_to_string(&fleet.known_hosts).unwrap(),
    );
    project
}
