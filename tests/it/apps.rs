//! The bundled example apps deployed end to end: real sshd hosts, a real
//! supervisord per host, gunicorn serving, requests counted while a new
//! release takes over.

use std::time::Duration;

use crate::support::apps::{App, Poller, SECRET, Supervisors, http_get};
use crate::support::ferry::{Output, step_ends};
use crate::support::git::git;
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
    assert_worker_runs_current(&hosts);
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
    let targets: Vec<(String, u16)> = hosts
        .hosts
        .iter()
        .flat_map(|h| (0..2).map(move |n| (h.address.clone(), app.port + n)))
        .collect();
    let poller = Poller::start(&targets, "/");
    let (out, events) = deploy(&app);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_serving(&hosts, &app, 2, &app.head());
    let first = restart_times(&events);

    // v3 at once: the upgrade returned as soon as the new masters served,
    // with the old ones still draining; this one waits for them.
    app.commit(
        "app.py",
        &source.replace("flask-hello", "flask-hello v3"),
        "v3",
    );
    let (out, events) = deploy(&app);
    let (sent, errors) = poller.stop();
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(sent > 50, "too few requests to tell");
    assert!(
        errors.is_empty(),
        "requests failed during the upgrades: {errors:?}"
    );
    assert_serving(&hosts, &app, 2, &app.head());
    assert_worker_runs_current(&hosts);
    eprintln!(
        "restart per host (ms): {first:?}, then at once {:?}",
        restart_times(&events)
    );
}

/// How long each host's restart step took, in milliseconds.
fn restart_times(events: &[serde_json::Value]) -> Vec<u64> {
    events
        .iter()
        .filter(|e| {
            e["event"] == "step_end"
                && e["name"] == "Restart each process type in the new release"
                && e["status"] == "changed"
        })
        .filter_map(|e| e["elapsed_ms"].as_u64())
        .collect()
}

/// The Procfile's `worker:` runs on every host, from the release `current`
/// points to (it writes that release's name every second).
fn assert_worker_runs_current(hosts: &TestHosts) {
    for host in &hosts.hosts {
        let app = host.dir.join("app");
        let current = std::fs::read_link(app.join("current")).unwrap();
        let release = current.file_name().unwrap().to_string_lossy().into_owned();
        let beat = app.join("shared/worker.heartbeat");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let seen = std::fs::read_to_string(&beat).unwrap_or_default();
            if seen.trim() == release {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{}: the worker runs `{}`, not `{release}`",
                host.name,
                seen.trim()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The `(host, reason)` of every end of the step named `name`.
fn ends_of<'a>(events: &'a [serde_json::Value], name: &str) -> Vec<(&'a str, &'a str, &'a str)> {
    events
        .iter()
        .filter(|e| e["event"] == "step_end" && e["name"] == name)
        .map(|e| {
            (
                e["host"].as_str().unwrap_or_default(),
                e["status"].as_str().unwrap_or_default(),
                e["reason"].as_str().unwrap_or_default(),
            )
        })
        .collect()
}

/// Steps that did something (neither `ok` nor `skipped`).
fn changes(events: &[serde_json::Value]) -> Vec<(String, String, String)> {
    step_ends(events)
        .into_iter()
        .filter(|(_, _, status)| status != "ok" && status != "skipped")
        .collect()
}

const MIGRATE: &str = "Apply database migrations, once, before any host switches";

#[test]
fn django_migrates_once_keeps_serving_through_a_failed_migration_and_rolls_back_a_failed_health_check()
 {
    let hosts = TestHosts::start(3);
    let supervisors = Supervisors::start(&hosts);
    let database = tempfile::tempdir().unwrap();
    let db = database.path().join("notes.sqlite3");
    let extra = format!(
        "    database_url: sqlite:///{}\n    health_retries: 2\n",
        db.display()
    );
    let app = App::new("django-notes", &hosts, &supervisors, &extra);

    // v1 serves, with its static files collected inside the release.
    let (out, events) = deploy(&app);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let v1 = app.head();
    assert_serving(&hosts, &app, 2, &v1);
    for host in &hosts.hosts {
        let css = host.dir.join("app/current/static/notes/style.css");
        assert!(css.is_file(), "{} lacks {}", host.name, css.display());
    }
    // `check --deploy` warns (no HTTPS settings in the example) and the
    // deploy shows it without failing.
    assert!(
        out.stdout.contains("security.W0") || out.stderr.contains("security.W0"),
        "{}",
        out.stdout
    );
    assert_eq!(ends_of(&events, MIGRATE).len(), 3);

    // The same commit again: nothing changes.
    let (out, events) = deploy(&app);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(changes(&events).is_empty(), "{:?}", changes(&events));

    // v2 brings a migration: it runs once, on one host, before any switch.
    let models = std::fs::read_to_string(app.project.path().join("notes/models.py")).unwrap();
    app.project.file(
        "notes/models.py",
        &format!("{models}    pinned = models.BooleanField(default=False)\n"),
    );
    app.commit("notes/migrations/0002_note_pinned.py", MIGRATION_0002, "v2");
    let (out, events) = deploy(&app);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let v2 = app.head();
    assert_serving(&hosts, &app, 2, &v2);
    let migrate = ends_of(&events, MIGRATE);
    let ran: Vec<_> = migrate
        .iter()
        .filter(|(_, _, why)| !why.starts_with("run once, on"))
        .collect();
    assert_eq!(ran.len(), 1, "{migrate:?}");
    assert!(
        migrate.iter().all(|(_, status, _)| *status == "changed"),
        "{migrate:?}"
    );
    // Its data migration wrote exactly one note.
    let (_, body) = http_get(&hosts.hosts[0].address, app.port, "/").unwrap();
    assert!(body.contains("\"notes\": 1"), "{body}");
    let recorded =
        std::fs::read_to_string(hosts.hosts[2].dir.join("app/current/.ferry-migrations")).unwrap();
    assert!(recorded.contains("notes.0002_note_pinned"), "{recorded}");

    // v3's migration fails: no host switches, every host serves v2.
    app.commit("notes/migrations/0003_broken.py", MIGRATION_BROKEN, "v3");
    let (out, _) = deploy(&app);
    assert_ne!(out.status, 0, "{}", out.stdout);
    assert!(
        out.stdout.contains("0003_broken") || out.stderr.contains("0003_broken"),
        "{}",
        out.stdout
    );
    assert_serving(&hosts, &app, 2, &v2);

    // v4 (without v3's migration) answers with an error:
    // every host switches, fails the check and goes back to v2 by itself.
    git(
        app.project.path(),
        &["rm", "-q", "notes/migrations/0003_broken.py"],
    );
    let views = std::fs::read_to_string(app.project.path().join("notes/views.py")).unwrap();
    app.commit(
        "notes/views.py",
        &views.replace(
            "Note.objects.count()",
            "Note.objects.get(text=\"v4 needs this\").pk",
        ),
        "v4",
    );
    let (out, events) = deploy(&app);
    assert_ne!(out.status, 0, "{}", out.stdout);
    let rolled: Vec<_> = ends_of(&events, "roll back");
    assert_eq!(rolled.len(), 3, "{}", out.stdout);
    assert!(
        out.stdout.contains("Server Error (500)"),
        "the recap shows the last response:\n{}",
        out.stdout
    );
    assert_serving(&hosts, &app, 2, &v2);

    // Rolling back to v1 would run code that does not know 0002: ferry
    // refuses without --yes, and names the migration.
    let out = app.project.ferry(&["rollback", "test"]);
    assert_eq!(out.status, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("notes.0002_note_pinned"),
        "{}",
        out.stderr
    );
    assert_serving(&hosts, &app, 2, &v2);
    let out = app.project.ferry(&["rollback", "test", "--yes"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_serving(&hosts, &app, 2, &v1);
}

const MIGRATION_0002: &str = r#"from django.db import migrations, models


def welcome(apps, schema_editor):
    apps.get_model("notes", "Note").objects.create(text="welcome", pinned=True)


class Migration(migrations.Migration):
    dependencies = [("notes", "0001_initial")]
    operations = [
        migrations.AddField("note", "pinned", models.BooleanField(default=False)),
        migrations.RunPython(welcome, migrations.RunPython.noop),
    ]
"#;

const MIGRATION_BROKEN: &str = r#"from django.db import migrations


def fail(apps, schema_editor):
    raise RuntimeError("0003_broken cannot apply")


class Migration(migrations.Migration):
    dependencies = [("notes", "0002_note_pinned")]
    operations = [migrations.RunPython(fail)]
"#;
