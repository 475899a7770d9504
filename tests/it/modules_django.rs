//! `django_manage` on the django-notes example (examples/django-notes,
//! SQLite, in a virtualenv from the offline wheelhouse) on a real sshd
//! host: Django's own dry runs decide, `--check` on the fresh app predicts
//! exactly what the run then reports, and a second run is `ok`.

use crate::support::apps::wheelhouse;
use crate::support::checked::playbook;
use crate::support::ferry::{Project, copy_dir, repo_root};
use crate::support::sshd::TestHosts;

#[test]
fn django_manage_migrates_collects_static_and_creates_the_cache_table_once_and_check_predicts_it() {
    let hosts = TestHosts::start(1);
    let project = Project::with_hosts(&hosts);
    let dir = hosts.hosts[0].dir.clone();
    let app = dir.join("notes");
    copy_dir(&repo_root().join("examples/django-notes"), &app);
    // The app's secret comes from its .env, as on a deployed host.
    std::fs::write(app.join(".env"), "SECRET_KEY=not-a-real-secret\n").unwrap();
    // `settings` is read from DJANGO_SETTINGS_MODULE: a module with a
    // database cache, for `createcachetable`.
    std::fs::write(
        app.join("cached_settings.py"),
        "from notes_site.settings import *  # noqa\n\nCACHES = {\"default\": {\"BACKEND\": \"django.core.cache.backends.db.DatabaseCache\", \"LOCATION\": \"ferry_cache\"}}\n",
    )
    .unwrap();
    project.file(
        "venv.yml",
        &format!(
            "- hosts: web\n  tasks:\n    - name: Virtualenv\n      pip:\n        requirements: {app}/requirements.txt\n        virtualenv: {dir}/venv\n        virtualenv_command: python3 -m venv\n        extra_args: --no-index --find-links {wheels}\n",
            app = app.display(),
            dir = dir.display(),
            wheels = wheelhouse().display()
        ),
    );
    playbook(&project, "venv.yml", &[]);

    let common = format!(
        "project_path: {}\n        virtualenv: {}/venv\n        settings: cached_settings",
        app.display(),
        dir.display()
    );
    project.file(
        "django.yml",
        &format!(
            r#"- hosts: web
  tasks:
    - name: Check
      django_manage:
        command: check
        {common}
    - name: Migrate
      community.general.django_manage:
        command: migrate
        {common}
      register: migrated
    - name: Static
      django_manage:
        command: collectstatic
        {common}
    - name: Cache table
      django_manage:
        command: createcachetable
        {common}
    - name: Registered
      assert:
        that:
          - migrated.cmd[1] == 'migrate'
          - migrated.project_path == '{app}'
          - migrated.settings == 'cached_settings'
          - "'Applying notes.0001_initial... OK' in migrated.out or not (migrated is changed) or ansible_check_mode"
"#,
            app = app.display()
        ),
    );
    let check = playbook(&project, "django.yml", &["--check"]);
    // SQLite makes an empty file when the dry run connects: no table in it.
    let db = std::fs::metadata(app.join("db.sqlite3")).map_or(0, |m| m.len());
    assert_eq!(db, 0, "--check wrote to the database");
    assert!(
        !app.join("static").exists(),
        "--check collected static files"
    );
    let did = playbook(&project, "django.yml", &[]);
    // --check said what the run then did, step by step.
    assert_eq!(check.len(), did.len(), "{check:?}\n{did:?}");
    for (predicted, done) in check.iter().zip(&did) {
        assert_eq!(predicted.1, done.1, "{predicted:?} / {done:?}");
        if done.1 == "changed" {
            assert_eq!(predicted.2, format!("would {}", done.2));
        }
    }
    let status = |name: &str| {
        did.iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, s, r)| (s.as_str(), r.as_str()))
            .unwrap()
    };
    let app = app.display();
    assert_eq!(
        status("Migrate"),
        (
            "changed",
            &*format!("apply notes.0001_initial (`manage.py migrate --noinput` in `{app}`)")
        )
    );
    assert_eq!(
        status("Static"),
        ("changed", "copy 1 static file (`collectstatic --dry-run`)")
    );
    assert_eq!(
        status("Cache table"),
        ("changed", "create cache table ferry_cache")
    );
    assert_eq!(status("Check").0, "ok");
    assert!(dir.join("notes/static/notes/style.css").exists());

    let again = playbook(&project, "django.yml", &[]);
    let changed: Vec<_> = again.iter().filter(|(_, s, _)| s == "changed").collect();
    assert!(changed.is_empty(), "a second run changed {changed:?}");
    let reasons: Vec<&str> = again.iter().map(|(_, _, r)| r.as_str()).collect();
    assert!(
        reasons.contains(&"no migration to apply (`migrate --plan`)"),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&"1 static file unmodified, none to copy (`collectstatic --dry-run`)"),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&"every cache table exists (`createcachetable --dry-run`)"),
        "{reasons:?}"
    );
}
