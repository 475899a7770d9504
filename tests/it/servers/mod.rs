//! Deploys to real Debian servers (systemd-nspawn containers booted with
//! systemd, see `support::fleet`): logged in as `deploy`, escalating through
//! the real sudo, processes under systemd, packages from apt, PostgreSQL on
//! a server of its own. Each deploy is run twice: the second changes nothing.

mod django_postgres;
mod flask_systemd;

use crate::support::apps::{App, SECRET};
use crate::support::ferry::{Output, step_ends};

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
