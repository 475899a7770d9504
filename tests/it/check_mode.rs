//! `ferry plan` (= `deploy --dry-run`) is check mode: it connects, runs
//! read-only probes only, says what each step would do — and the deploy
//! that follows does exactly that. The bundled Django example on real sshd
//! hosts with a real supervisord each.

use std::path::{Path, PathBuf};

use crate::support::apps::{App, SECRET, Supervisors};
use crate::support::ferry::{Output, Project, step_ends};
use crate::support::listing::Listing;
use crate::support::sshd::TestHosts;

const PIP: &str = "Install requirements when they changed";
const VENV: &str = "Create the virtualenv";
const FIND: &str = "Find the migrations the database lacks (dry run)";
const SHOW: &str = "Show the migrations the deploy would apply";
const MIGRATE: &str = "Apply database migrations, once, before any host switches";
const RESTART: &str = "Restart each process type in the new release";
const HEALTH: &str = "Check that every web process answers";

fn ferry(app: &App, args: &[&str]) -> (Output, Vec<serde_json::Value>) {
    let (out, events) = app.project.ferry_json(args);
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains(SECRET), "the secret leaked:\n{text}");
    }
    (out, events)
}

/// Every step end of `name`: `(host, status, reason, output)`.
fn ends<'a>(
    events: &'a [serde_json::Value],
    name: &str,
) -> Vec<(&'a str, &'a str, &'a str, &'a str)> {
    let text = |e: &'a serde_json::Value, key: &str| e[key].as_str().unwrap_or_default();
    events
        .iter()
        .filter(|e| e["event"] == "step_end" && e["name"] == name)
        .map(|e| {
            (
                text(e, "host"),
                text(e, "status"),
                text(e, "reason"),
                text(e, "output"),
            )
        })
        .collect()
}

/// The statuses of step `name` on every host.
fn statuses<'a>(events: &'a [serde_json::Value], name: &str) -> Vec<&'a str> {
    ends(events, name)
        .into_iter()
        .map(|(_, s, _, _)| s)
        .collect()
}

/// What the running apps write themselves, whatever ferry does: their logs
/// (a health check's request is logged) and the Flask worker's heartbeat.
const APP_WRITES: [&str; 2] = ["/shared/log/", "/shared/worker.heartbeat"];

/// Every path under each host's `deploy_to`, and the shared database:
/// what a dry run must leave exactly as it was (but for [`APP_WRITES`]).
/// gunicorn's upgrades finish after the deploy returns (the old masters
/// drain in the background, then each new one renames `PIDFILE.2` to the
/// pid file): that is waited for first.
fn listing(hosts: &TestHosts, database: &Path) -> Listing {
    let upgrading = || {
        hosts.hosts.iter().any(|h| {
            std::fs::read_dir(h.dir.join("app/shared/run"))
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.ends_with(".pid.2") || name.ends_with(".pid.oldbin")
                })
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while upgrading() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let mut roots: Vec<PathBuf> = hosts.hosts.iter().map(|h| h.dir.join("app")).collect();
    roots.push(database.to_path_buf());
    let ignore = |path: &Path| {
        let shown = path.display().to_string();
        APP_WRITES.iter().any(|w| shown.contains(w))
    };
    Listing::of(&roots, &ignore)
}

fn assert_unchanged(before: &Listing, after: &Listing) {
    let differ = before.changes_to(after);
    assert!(
        differ.is_empty(),
        "the dry run changed hosts:\n{}",
        differ.join("\n")
    );
}

/// The defect: a dry run registered `{changed, msg}` only, and the
/// built-in `django/build` failed on `django_check.stderr`.
#[test]
fn registered_results_in_a_dry_run_have_stdout_stderr_and_rc() {
    let hosts = TestHosts::start(1);
    let project = Project::with_hosts(&hosts);
    let dir = hosts.hosts[0].dir.clone();
    std::fs::write(dir.join("flag"), "on\n").unwrap();
    project.file(
        "site.yml",
        r#"- hosts: web
  tasks:
    - name: Probe
      command: cat {{ deploy_to | dirname }}/flag
      check_mode: false
      changed_when: false
      register: probe
    - name: Act
      shell: echo acted > {{ deploy_to | dirname }}/acted
      register: act
    - name: Shape
      debug:
        msg: "rc={{ act.rc }} out=[{{ act.stdout }}] err=[{{ act.stderr }}] lines={{ act.stdout_lines | length + act.stderr_lines | length }} changed={{ act.changed }} failed={{ act.failed }} skipped={{ act.skipped }} cmd={{ act.cmd is string }} check={{ ansible_check_mode }} probe={{ probe.stdout }}"
    - name: Dry run only
      debug: { msg: dry }
      when: ansible_check_mode
    - name: Checked only
      shell: echo forced > {{ deploy_to | dirname }}/forced
      check_mode: true
    - name: Write
      copy: { content: "hello\n", dest: "{{ deploy_to | dirname }}/hello" }
"#,
    );
    let shape = |events: &[serde_json::Value]| ends(events, "Shape")[0].3.to_string();
    let args = ["playbook", "site.yml", "-i", "inventory/test.ini"];

    let (out, events) = project.ferry_json(&[&args[..], &["--check"]].concat());
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        shape(&events),
        "rc=0 out=[] err=[] lines=0 changed=True failed=False skipped=False cmd=True check=True probe=on"
    );
    assert_eq!(statuses(&events, "Probe"), ["ok"]);
    assert_eq!(statuses(&events, "Act"), ["changed"]);
    assert!(
        ends(&events, "Act")[0]
            .2
            .starts_with("would run: echo acted")
    );
    assert_eq!(statuses(&events, "Dry run only"), ["ok"]);
    assert_eq!(statuses(&events, "Checked only"), ["changed"]);
    let write = &ends(&events, "Write")[0];
    assert_eq!(write.1, "changed");
    assert_eq!(
        write.2,
        format!("would write 6 bytes to `{}`", dir.join("hello").display())
    );
    for file in ["acted", "forced", "hello"] {
        assert!(!dir.join(file).exists(), "a dry run wrote {file}");
    }

    let (out, events) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        shape(&events),
        "rc=0 out=[] err=[] lines=0 changed=True failed=False skipped=False cmd=True check=False probe=on"
    );
    assert_eq!(statuses(&events, "Dry run only"), ["skipped"]);
    assert!(dir.join("acted").exists(), "a deploy acts");
    assert_eq!(statuses(&events, "Write"), ["changed"]);
    assert!(
        !dir.join("forced").exists(),
        "`check_mode: true` only checks"
    );
}

#[test]
fn plan_of_the_django_example_with_a_change_pending() {
    let hosts = TestHosts::start(2);
    let supervisors = Supervisors::start(&hosts);
    let database = tempfile::tempdir().unwrap();
    let db = database.path().join("notes.sqlite3");
    let extra = format!("    database_url: sqlite:///{}\n", db.display());
    let app = App::new("django-notes", &hosts, &supervisors, &extra);

    // Before the first deploy no host has a release to ask the database:
    // every migration of the commit is named, and the packages' said to come.
    let before = listing(&hosts, &db);
    let (plan, events) = ferry(&app, &["plan", "test"]);
    assert_eq!(plan.status, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert_unchanged(&before, &listing(&hosts, &db));
    for (host, _, _, output) in ends(&events, SHOW) {
        assert_eq!(
            output,
            "would apply notes.0001_initial, (and those of the installed packages: no release on this host to ask the database)",
            "{host}"
        );
    }
    for name in [VENV, PIP, MIGRATE, RESTART] {
        assert_eq!(statuses(&events, name), ["changed", "changed"], "{name}");
    }
    let (out, events) = ferry(&app, &["deploy", "test"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    for name in [VENV, PIP, MIGRATE] {
        assert_eq!(statuses(&events, name), ["changed", "changed"], "{name}");
    }
    // The first time, loading the new supervisor program starts it in the
    // new release before the restart step checks: `ok` or `changed`, as the
    // plan's "unless" says.

    // v2: a new field with its migration, and one more requirement.
    let models = std::fs::read_to_string(app.project.path().join("notes/models.py")).unwrap();
    app.project.file(
        "notes/models.py",
        &format!("{models}    pinned = models.BooleanField(default=False)\n"),
    );
    app.project
        .file("notes/migrations/0002_note_pinned.py", MIGRATION_0002);
    let requirements =
        std::fs::read_to_string(app.project.path().join("requirements.txt")).unwrap();
    app.commit(
        "requirements.txt",
        &format!("{requirements}sqlparse==0.*\n"),
        "v2",
    );

    let before = listing(&hosts, &db);
    let (plan, events) = ferry(&app, &["plan", "test"]);
    assert_eq!(plan.status, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert_unchanged(&before, &listing(&hosts, &db));
    let failed: Vec<_> = step_ends(&events)
        .into_iter()
        .filter(|(_, _, status)| status == "failed")
        .collect();
    assert!(failed.is_empty(), "{failed:?}\n{}", plan.stdout);

    // The new migration, by name, on every host; the migrate step would run.
    let shown = ends(&events, SHOW);
    assert_eq!(shown.len(), 2, "{}", plan.stdout);
    for (host, status, _, output) in &shown {
        assert_eq!(*status, "ok", "{host}");
        assert_eq!(*output, "would apply notes.0002_note_pinned", "{host}");
    }
    for (host, status, reason, _) in ends(&events, MIGRATE) {
        assert_eq!(status, "changed", "{host}: {reason}");
    }
    // pip would install, because requirements.txt changed.
    for (host, status, reason, _) in ends(&events, PIP) {
        assert_eq!(status, "changed", "{host}: {reason}");
        assert!(
            reason.starts_with("would run: ")
                && reason.contains("pip")
                && reason.contains("install"),
            "{host}: {reason}"
        );
    }
    assert_eq!(statuses(&events, VENV), ["ok", "ok"]);
    // The restart would happen, in the new release — not `ok` from a
    // probe of the release `current` still points to.
    for (host, status, reason, _) in ends(&events, RESTART) {
        assert_eq!(status, "changed", "{host}: {reason}");
        assert_eq!(
            reason,
            "would upgrade `django-notes-web:*` with USR2 in the new release, after the switch (unless a step before does it first)",
            "{host}"
        );
    }
    assert_eq!(statuses(&events, HEALTH), ["skipped"; 4]);

    // The deploy does what the plan said.
    let (out, events) = ferry(&app, &["deploy", "test"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(statuses(&events, PIP), ["changed", "changed"]);
    assert_eq!(statuses(&events, VENV), ["ok", "ok"]);
    assert_eq!(statuses(&events, MIGRATE), ["changed", "changed"]);
    assert_eq!(statuses(&events, RESTART), ["changed", "changed"]);
    assert_eq!(statuses(&events, HEALTH), ["ok"; 4]);
    for host in &hosts.hosts {
        let recorded =
            std::fs::read_to_string(host.dir.join("app/current/.ferry-migrations")).unwrap();
        let applied: Vec<&str> = recorded
            .lines()
            .filter(|l| l.starts_with("notes."))
            .collect();
        assert_eq!(
            applied,
            ["notes.0001_initial", "notes.0002_note_pinned"],
            "{}",
            host.name
        );
    }
    // The dry run's own probe is a dry run's only.
    assert_eq!(statuses(&events, FIND), ["skipped", "skipped"]);
}

#[test]
fn plan_with_nothing_pending_says_ok_for_each_step_that_checked() {
    let hosts = TestHosts::start(2);
    let supervisors = Supervisors::start(&hosts);
    let database = tempfile::tempdir().unwrap();
    let db = database.path().join("notes.sqlite3");
    let extra = format!("    database_url: sqlite:///{}\n", db.display());
    let app = App::new("django-notes", &hosts, &supervisors, &extra);
    let (out, _) = ferry(&app, &["deploy", "test"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);

    // A change with no migration and the same requirements.
    let css = app.project.path().join("notes/static/notes/style.css");
    let style = std::fs::read_to_string(&css).unwrap();
    app.commit(
        "notes/static/notes/style.css",
        &format!("{style}\nh1 {{ color: teal; }}\n"),
        "v2",
    );
    let before = listing(&hosts, &db);
    let (plan, events) = ferry(&app, &["plan", "test"]);
    assert_eq!(plan.status, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert_unchanged(&before, &listing(&hosts, &db));
    // Checked and found right: `ok`, with why.
    for name in [VENV, PIP, FIND] {
        for (host, status, reason, _) in ends(&events, name) {
            assert_eq!(status, "ok", "{name} on {host}: {reason}");
        }
    }
    for (host, _, reason, _) in ends(&events, PIP) {
        assert!(reason.contains("/venv/.requirements-"), "{host}: {reason}");
    }
    // Nothing to show, nothing to migrate.
    assert_eq!(statuses(&events, SHOW), ["skipped", "skipped"]);
    assert_eq!(statuses(&events, MIGRATE), ["skipped", "skipped"]);
    // The release still changes: the restart would happen.
    assert_eq!(statuses(&events, RESTART), ["changed", "changed"]);

    // And so the deploy: pip installs nothing, migrate finds nothing.
    let (out, events) = ferry(&app, &["deploy", "test"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(statuses(&events, PIP), ["ok", "ok"]);
    assert_eq!(statuses(&events, MIGRATE), ["ok", "ok"]);
    assert_eq!(statuses(&events, RESTART), ["changed", "changed"]);

    // The same commit once more: the plan changes nothing and says so.
    let before = listing(&hosts, &db);
    let (plan, events) = ferry(&app, &["plan", "test"]);
    assert_eq!(plan.status, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert_unchanged(&before, &listing(&hosts, &db));
    let acting: Vec<_> = step_ends(&events)
        .into_iter()
        .filter(|(_, _, status)| status != "ok" && status != "skipped")
        .collect();
    assert!(acting.is_empty(), "{acting:?}");
}

const MIGRATION_0002: &str = r#"from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("notes", "0001_initial")]
    operations = [
        migrations.AddField("note", "pinned", models.BooleanField(default=False)),
    ]
"#;

/// Every built-in playbook of the other example (procfile, python/venv,
/// procfile/restart) in check mode: before the first deploy, and with
/// nothing pending after it.
#[test]
fn plan_of_the_flask_example_fails_nowhere_and_changes_nothing() {
    let hosts = TestHosts::start(1);
    let supervisors = Supervisors::start(&hosts);
    let app = App::new("flask-hello", &hosts, &supervisors, "");
    let nothing = Path::new("/nonexistent-ferry-database");
    for round in ["before the first deploy", "after it"] {
        let before = listing(&hosts, nothing);
        let (plan, events) = ferry(&app, &["plan", "test"]);
        assert_eq!(plan.status, 0, "{round}: {}\n{}", plan.stdout, plan.stderr);
        assert_unchanged(&before, &listing(&hosts, nothing));
        let ends = step_ends(&events);
        assert!(
            ends.iter().all(|(_, _, s)| s != "failed"),
            "{round}: {ends:?}"
        );
        let acting: Vec<_> = ends.iter().filter(|(_, _, s)| s == "changed").collect();
        if round == "after it" {
            assert!(acting.is_empty(), "{acting:?}");
        } else {
            assert!(acting.iter().any(|(_, name, _)| name == PIP), "{acting:?}");
            let (out, _) = ferry(&app, &["deploy", "test"]);
            assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
        }
    }
}
