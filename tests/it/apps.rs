//! The bundled example apps deployed end to end: real sshd hosts, a real
//! supervisord per host, gunicorn serving, requests counted while a new
//! release takes over.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::apps::{App, SECRET, Supervisors, http_get};
use crate::support::ferry::{Output, step_ends};
use crate::support::sshd::TestHosts;

fn deploy(app: &App) -> (Output, Vec<serde_json::Value>) {
    let (out, events) = app.project.ferry_json(&["deploy", "test"]);
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains(SECRET), "the secret leaked:\n{text}");
    }
    (out, events)
}

/// Every host's web processes answer with `commit`.
fn assert_serving(hosts: &TestHosts, app: &App, processes: u16, commit: &str) {
    for host in &hosts.hosts {
        for n in 0..processes {
            let (status, body) = http_get(&host.address, app.port + n, "/")
                .unwrap_or_else(|e| panic!("{} process {n}: {e}", host.name));
            assert_eq!(status, 200, "{body}");
            assert!(
                body.contains(commit),
                "{} process {n} serves {body}",
                host.name
            );
        }
    }
}

#[test]
fn flask_from_its_procfile_upgrades_two_web_processes_without_dropping_a_request() {
    let hosts = TestHosts::start(3);
    let supervisors = Supervisors::start(&hosts);
    let app = App::new("flask-hello", &hosts, &supervisors, "");

    let (out, _) = deploy(&app);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_serving(&hosts, &app, 2, &app.head());
    for host in &hosts.hosts {
        let env = host.dir.join("app/shared/.env");
        let mode = std::fs::metadata(&env).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(mode.permissions().mode() & 0o777, 0o600);
        assert!(std::fs::read_to_string(&env).unwrap().contains(SECRET));
    }

    // The same commit again: nothing changes, nothing restarts.
    let (out, events) = deploy(&app);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let changed: Vec<_> = step_ends(&events)
        .into_iter()
        .filter(|(_, _, status)| status != "ok" && status != "skipped")
        .collect();
    assert!(changed.is_empty(), "{changed:?}");

    // v2 while every web process of every host is polled.
    let source = std::fs::read_to_string(app.project.path().join("app.py")).unwrap();
    app.commit(
        "app.py",
        &source.replace("flask-hello", "flask-hello v2"),
        "v2",
    );
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let pollers: Vec<_> = hosts
        .hosts
        .iter()
        .flat_map(|h| (0..2).map(move |n| (h.address.clone(), n)))
        .map(|(address, n)| {
            let (stop, sent, failed, port) =
                (stop.clone(), sent.clone(), failed.clone(), app.port + n);
            std::thread::spawn(move || {
                let mut errors = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    sent.fetch_add(1, Ordering::Relaxed);
                    match http_get(&address, port, "/") {
                        Ok((200, _)) => {}
                        other => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            errors.push(format!("{address}:{port} {other:?}"));
                        }
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                errors
            })
        })
        .collect();
    let (out, _) = deploy(&app);
    stop.store(true, Ordering::Relaxed);
    let errors: Vec<String> = pollers
        .into_iter()
        .flat_map(|p| p.join().unwrap())
        .collect();
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        sent.load(Ordering::Relaxed) > 50,
        "too few requests to tell"
    );
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "requests failed during the upgrade: {errors:?}"
    );
    assert_serving(&hosts, &app, 2, &app.head());
}
