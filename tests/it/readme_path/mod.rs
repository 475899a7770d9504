//! The README's path, walked as a newcomer walks it, on each bundled example:
//! every `ferry` command README.md shows, in the order a user meets them,
//! against real sshd hosts with a real supervisord each, deploying the
//! example with the inventory it ships (`inventory/local.yml`, pointed at
//! the test hosts by `host_vars/`).
//!
//! What each step asserts is what the user is told: a plan exits 0 and
//! changes nothing on any host (a recursive listing with mtimes and sizes,
//! before and after), a deploy serves the commit it names, a second deploy
//! changes nothing and says only what is true, a rollback serves the release
//! before, a redeploy with an app down on one host brings it back or fails
//! naming that host.
//!
//! Two guards keep README.md and this walk in step: a fast one (guard.rs)
//! reads the commands README.md shows in its code blocks and fails, naming
//! the command and its line, when this file never runs it with the options
//! shown; and each walk checks at its end that it ran every one of them.
//! demo.rs runs `examples/demo.sh` itself.

mod demo;
mod guard;
mod output;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::apps::{App, SECRET, Supervisors, http_get};
use crate::support::ferry::{Output, copy_dir, repo_root, run_ferry, spawn_ferry};
use crate::support::git::git;
use crate::support::listing::Listing;
use crate::support::sshd::TestHosts;
use crate::support::succeed;
use guard::{README, exercised, missing_from, readme_commands};
use output::{
    assert_same_plan, mispredictions, named, releases_of, run_outputs, static_condition, steps,
    strip_release_ids,
};

/// One bundled example and what is particular to it.
struct Example {
    name: &'static str,
    /// `ferry init`'s option for its kind.
    kind: &'static str,
    /// Supervisor programs per host after a deploy (web processes and
    /// workers).
    programs: usize,
    /// Commits the newcomer's first change; returns what `plan` must name
    /// about it besides the new release.
    change: fn(&App) -> Vec<String>,
    /// Whether that change migrates the database (rolling back over it
    /// then asks for `--yes`).
    migrates: bool,
    /// `(subcommand, option)` that README.md shows and that mean nothing
    /// for this example: its walk need not run them.
    exempt: &'static [(&'static str, &'static str)],
}

#[test]
fn readme_path_flask_hello() {
    walk(&Example {
        name: "flask-hello",
        kind: "--flask",
        programs: 3,
        change: |app| {
            let source = std::fs::read_to_string(app.project.path().join("app.py")).unwrap();
            app.commit(
                "app.py",
                &source.replace("\"flask-hello\"", "\"flask-hello, changed\""),
                "v2: a change to the page",
            );
            Vec::new()
        },
        migrates: false,
        // No migration to roll back over: `--yes` has nothing to confirm.
        // `ferry setup` takes servers with root, apt and systemd, not these
        // plain hosts: the demo walk (demo.rs) runs it on `staging`. `ferry
        // remote` runs on real servers in `servers::push`: these hosts log in
        // as this machine's root, whose ~/.ssh it would change.
        exempt: &[("rollback", "--yes"), ("setup", ""), ("remote", "")],
    });
}

#[test]
fn readme_path_django_notes() {
    walk(&Example {
        name: "django-notes",
        kind: "--django",
        programs: 2,
        change: |app| {
            let models =
                std::fs::read_to_string(app.project.path().join("notes/models.py")).unwrap();
            app.project.file(
                "notes/models.py",
                &format!("{models}    pinned = models.BooleanField(default=False)\n"),
            );
            app.project
                .file("notes/migrations/0002_note_pinned.py", MIGRATION_0002);
            app.commit(
                "notes/static/notes/style.css",
                "body { font-family: serif; margin: 1rem; }\n",
                "v2: notes can be pinned, a new style",
            );
            vec!["notes.0002_note_pinned".to_string()]
        },
        migrates: true,
        // `ferry setup` takes servers with root, apt and systemd, not these
        // plain hosts: the demo walk (demo.rs) runs it on `staging`. `ferry
        // remote` runs on real servers in `servers::push`: these hosts log in
        // as this machine's root, whose ~/.ssh it would change.
        exempt: &[("setup", ""), ("remote", "")],
    });
}

const MIGRATION_0002: &str = r#"from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("notes", "0001_initial")]
    operations = [migrations.AddField("note", "pinned", models.BooleanField(default=False))]
"#;

/// The hosts, their supervisords and the example, shared by every step of
/// one walk, and the `(subcommand, option)` pairs it ran.
struct Walk {
    name: &'static str,
    hosts: TestHosts,
    supervisors: Supervisors,
    app: App,
    /// Django's database, on the controller as on the hosts (sqlite).
    database: Option<tempfile::TempDir>,
    ran: RefCell<BTreeSet<(String, String)>>,
    /// What the walk found untrue so far: it goes on past what later steps
    /// do not depend on, so that one run names every such thing.
    failures: RefCell<Vec<String>>,
}

impl Walk {
    /// Records `failure` unless `ok`, and goes on.
    fn expect(&self, ok: bool, failure: impl FnOnce() -> String) {
        if !ok {
            let failure = failure();
            eprintln!("!! {failure}");
            self.failures.borrow_mut().push(failure);
        }
    }

    /// `ferry ARGS` in the example's directory, as the README shows it.
    fn ferry(&self, args: &[&str]) -> Output {
        self.ferry_in(self.app.project.path(), args)
    }

    /// `ferry ARGS` in `dir`; records what it exercised and checks that
    /// the secret never shows.
    fn ferry_in(&self, dir: &Path, args: &[&str]) -> Output {
        self.ran.borrow_mut().extend(exercised(args));
        let started = Instant::now();
        let out = run_ferry(dir, args);
        eprintln!(
            "== ferry {} → exit {} in {:.1}s",
            args.join(" "),
            out.status,
            started.elapsed().as_secs_f64()
        );
        for text in [&out.stdout, &out.stderr] {
            assert!(
                !text.contains(SECRET),
                "`ferry {}` printed the secret:\n{text}",
                args.join(" ")
            );
        }
        out
    }

    /// Every host's tree (deploy_to, the supervisor configuration) and the
    /// database, without what the running app and the daemons write on
    /// their own: logs, the worker's heartbeat.
    fn listing(&self) -> Listing {
        let mut roots: Vec<PathBuf> = self.hosts.hosts.iter().map(|h| h.dir.clone()).collect();
        roots.extend(self.database.iter().map(|d| d.path().to_path_buf()));
        Listing::of(&roots, &|path: &Path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let parent = path
                .parent()
                .and_then(|p| p.file_name())
                .unwrap_or_default()
                .to_string_lossy();
            name == "sshd.log"
                || name == "worker.heartbeat"
                || (parent == "supervisor" && name.ends_with(".log"))
                || (parent == "log" && path.to_string_lossy().contains("/shared/log/"))
        })
    }

    /// Runs `ferry ARGS`, which must change nothing on any host: exit 0,
    /// and every host's listing the same after as before.
    fn changes_nothing(&self, args: &[&str]) -> Output {
        let before = self.listing();
        let out = self.ferry(args);
        let after = self.listing();
        let changes = before.changes_to(&after);
        self.expect(changes.is_empty(), || format!(
            "`ferry {}` promises to change nothing, and changed {} of {} entries:\n{}\n--- stdout\n{}\n--- stderr\n{}",
            args.join(" "),
            changes.len(),
            before.len(),
            changes.join("\n"),
            out.stdout,
            out.stderr
        ));
        self.expect(out.status == 0, || {
            format!(
                "`ferry {}` exits {}:\n{}\n{}",
                args.join(" "),
                out.status,
                out.stdout,
                out.stderr
            )
        });
        out
    }

    /// Whether every web process of every host answers 200 with `commit`:
    /// the first host and process that does not, and why.
    fn serving(&self, commit: &str) -> Result<(), String> {
        for host in &self.hosts.hosts {
            for n in 0..2 {
                let (status, body) = http_get(&host.address, self.app.port + n, "/")
                    .map_err(|e| format!("{} web process {n}: {e}", name_of(host)))?;
                if status != 200 || !body.contains(commit) {
                    return Err(format!(
                        "{} web process {n} answers {status} {body}",
                        name_of(host)
                    ));
                }
            }
        }
        Ok(())
    }

    fn assert_serving(&self, commit: &str, after: &str) {
        if let Err(why) = self.serving(commit) {
            panic!("after `{after}`, not every process serves {commit}: {why}");
        }
    }

    /// The supervisor programs of host `n` that are not RUNNING.
    fn programs_down(&self, n: usize, expected: usize) -> Vec<String> {
        let (conf, _) = &self.supervisors.configs[n];
        let out = Command::new("supervisorctl")
            .arg("-c")
            .arg(conf)
            .arg("status")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut down: Vec<String> = text
            .lines()
            .filter(|l| !l.contains(" RUNNING "))
            .map(str::to_string)
            .collect();
        let running = text.lines().count() - down.len();
        if running != expected {
            down.push(format!("{running} of {expected} programs running"));
        }
        down
    }

    /// How many requests each web process of each host has logged.
    fn requests_logged(&self) -> Vec<usize> {
        let mut counts = Vec::new();
        for host in &self.hosts.hosts {
            for n in 1..=2 {
                let log = host
                    .dir
                    .join(self.app_dir())
                    .join(format!("shared/log/web-{n}.log"));
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                counts.push(text.lines().filter(|l| l.contains("\"GET / ")).count());
            }
        }
        counts
    }

    /// deploy_to under each host's directory (the bundled inventory's
    /// `{{ host_root }}/NAME`).
    fn app_dir(&self) -> &str {
        self.name
    }
}

impl Drop for Walk {
    /// A walk stopped by a step later ones depend on still lists what it
    /// had found untrue before.
    fn drop(&mut self) {
        let failures = self.failures.borrow();
        if std::thread::panicking() && !failures.is_empty() {
            eprintln!(
                "\nbefore it stopped, the {} walk met {} untrue thing(s):\n\n{}",
                self.name,
                failures.len(),
                failures.join("\n\n")
            );
        }
    }
}

fn name_of(host: &crate::support::sshd::TestHost) -> String {
    // The bundled inventory names the hosts web1…, in the order of the set.
    format!("web{}", host.name.trim_start_matches("host"))
}

const UPLOAD: &str = "release.upload";
const PIP: &str = "Install requirements when they changed";
const MIGRATE: &str = "Apply database migrations, once, before any host switches";
const RESTART: &str = "Restart each process type in the new release";
const HEALTH: &str = "Check that every web process answers";

/// `examples/NAME`'s code alone — no deploy.yml, inventory or secrets —
/// in a fresh directory named NAME (init names the app after it).
fn bare_code(name: &str, under: &Path) -> PathBuf {
    let dir = under.join(name);
    copy_dir(&repo_root().join("examples").join(name), &dir);
    for generated in ["deploy.yml", "inventory", "secrets"] {
        let path = dir.join(generated);
        if path.is_dir() {
            std::fs::remove_dir_all(path).unwrap();
        } else if path.exists() {
            std::fs::remove_file(path).unwrap();
        }
    }
    dir
}

fn walk(example: &Example) {
    let started = Instant::now();
    let hosts = TestHosts::start(3);
    let supervisors = Supervisors::start(&hosts);
    let bundled = repo_root()
        .join("examples")
        .join(example.name)
        .join("inventory/local.yml");
    let database = std::fs::read_to_string(bundled)
        .unwrap()
        .contains("database_url")
        .then(|| tempfile::tempdir().unwrap());
    let vars = database
        .as_ref()
        .map(|d| {
            format!(
                "database_url: sqlite:///{}\n",
                d.path().join("notes.sqlite3").display()
            )
        })
        .unwrap_or_default();
    let app = App::bundled(example.name, &hosts, &vars);
    let walk = Walk {
        name: example.name,
        hosts,
        supervisors,
        app,
        database,
        ran: RefCell::default(),
        failures: RefCell::default(),
    };
    let dir = walk.app.project.path().to_path_buf();
    let all = || walk.hosts.hosts.iter().map(name_of);

    // A fresh clone has no secrets file: the plan says where the secret
    // belongs.
    let secrets = dir.join("secrets/local.yml");
    let kept = std::fs::read(&secrets).unwrap();
    std::fs::remove_file(&secrets).unwrap();
    let out = walk.ferry(&["plan", "local", "--offline"]);
    assert_eq!(out.status, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("secrets/local.yml"),
        "no word of secrets/local.yml:\n{}",
        out.stderr
    );
    std::fs::write(&secrets, kept).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();

    // `cd mysite && ferry init` on the example's code: the deploy.yml the
    // example ships, and a project that compiles; `--procfile` too.
    let scratch = tempfile::tempdir().unwrap();
    for (n, detect) in [true, false].into_iter().enumerate() {
        let code = bare_code(example.name, &scratch.path().join(n.to_string()));
        let out = if detect {
            walk.ferry_in(&code, &["init"])
        } else {
            walk.ferry_in(&code, &["init", example.kind])
        };
        assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
        assert_eq!(
            std::fs::read_to_string(code.join("deploy.yml")).unwrap(),
            std::fs::read_to_string(
                repo_root()
                    .join("examples")
                    .join(example.name)
                    .join("deploy.yml")
            )
            .unwrap(),
            "`ferry init` writes another deploy.yml than examples/{} has",
            example.name
        );
        let out = walk.ferry_in(&code, &["plan", "production", "--offline"]);
        assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    }
    let code = bare_code(example.name, &scratch.path().join("procfile"));
    let out = walk.ferry_in(&code, &["init", "--procfile"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let out = walk.ferry_in(&code, &["plan", "production", "--offline"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);

    // The resolved inventory: the bundled hosts, at the test hosts'
    // addresses (host_vars/ over the bundled file).
    let out = walk.ferry(&["inventory", "local", "--list"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let inventory: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("`inventory --list` is not JSON ({e}):\n{}", out.stdout));
    for (host, name) in walk.hosts.hosts.iter().zip(all()) {
        assert_eq!(
            inventory["_meta"]["hostvars"][&name]["ansible_host"], host.address,
            "{}",
            out.stdout
        );
    }
    assert_eq!(
        inventory["web"]["hosts"],
        serde_json::json!(all().collect::<Vec<_>>()),
        "{}",
        out.stdout
    );

    // Every host's steps without connecting, as text, as data, and from
    // the directory above with `-C`.
    let before = walk.listing();
    let out = walk.ferry(&["plan", "local", "--offline"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    for (host, name) in walk.hosts.hosts.iter().zip(all()) {
        let heading = format!("  {name} ({}@{}:{})", host.user, host.address, host.port);
        assert!(
            out.stdout.contains(&heading),
            "no `{heading}` in\n{}",
            out.stdout
        );
    }
    let text = out.stdout;
    let out = walk.ferry(&["plan", "local", "--offline", "--json"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("`plan --offline --json` is not JSON ({e}):\n{}", out.stdout));
    assert_same_plan(&text, &plan);
    let parent = dir.parent().unwrap();
    let project = dir.file_name().unwrap().to_str().unwrap();
    let out = walk.ferry_in(parent, &["-C", project, "plan", "local", "--offline"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        strip_release_ids(&out.stdout),
        strip_release_ids(&text),
        "`-C DIR` plans otherwise"
    );
    assert_eq!(before.changes_to(&walk.listing()), Vec::<String>::new());

    // Preflight and ad-hoc commands.
    let out = walk.ferry(&["check", "local"]);
    walk.expect(out.status == 0, || {
        format!(
            "`ferry check local` exits {} on hosts a deploy works on:\n{}",
            out.status, out.stdout
        )
    });
    let out = walk.ferry(&["run", "local", "--", "uptime"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let answers = run_outputs(&out.stdout);
    assert_eq!(
        answers
            .iter()
            .map(|(host, _)| host.clone())
            .collect::<Vec<_>>(),
        all().collect::<Vec<_>>(),
        "{}",
        out.stdout
    );
    for (host, text) in &answers {
        assert!(text.contains("load average"), "{host}: {text}");
    }
    let out = walk.ferry(&["run", "local", "--limit", "web:!web3", "--", "uptime"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let answered: Vec<String> = run_outputs(&out.stdout).into_iter().map(|a| a.0).collect();
    assert_eq!(answered, ["web1", "web2"], "{}", out.stdout);

    // Any playbook against any inventory: checked first (nothing changes),
    // then run, then run again (nothing to do).
    walk.app.project.file(
        "site.yml",
        "- hosts: web\n  tasks:\n    - name: A directory of the site's own\n      file: { path: \"{{ host_root }}/site\", state: directory, mode: \"0755\" }\n",
    );
    let out = walk.changes_nothing(&[
        "playbook",
        "site.yml",
        "-i",
        "inventory/local.yml",
        "--check",
    ]);
    let checked = steps(&out.stdout);
    for name in all() {
        let would = named(&checked, &name, "A directory of the site's own");
        walk.expect(would.len() == 1 && would[0].status == "changed", || {
            format!("`playbook --check` does not say that {name} would change: {would:?}")
        });
    }
    let out = walk.ferry(&["playbook", "site.yml", "-i", "inventory/local.yml"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    for host in &walk.hosts.hosts {
        assert!(host.dir.join("site").is_dir(), "{}", out.stdout);
    }
    let out = walk.changes_nothing(&["playbook", "site.yml", "-i", "inventory/local.yml"]);
    walk.expect(steps(&out.stdout).iter().all(|s| s.status == "ok"), || {
        format!("a playbook run again is not all ok:\n{}", out.stdout)
    });

    // The first plan, before any deploy: it connects, probes, and changes
    // nothing.
    let out = walk.changes_nothing(&["plan", "local"]);
    let planned = steps(&out.stdout);
    for name in all() {
        let upload = named(&planned, &name, UPLOAD);
        walk.expect(upload.len() == 1 && upload[0].status == "changed", || {
            format!("the first plan does not say that {name} would get a release: {upload:?}")
        });
    }

    // The first deploy (which the listing must see: it is what tells the
    // plans above from a deploy).
    let v1 = walk.app.head();
    git(&dir, &["tag", "v1"]);
    let before = walk.listing();
    let out = walk.ferry(&["deploy", "local"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    walk.assert_serving(&v1, "deploy");
    assert!(
        !before.changes_to(&walk.listing()).is_empty(),
        "the hosts' listing does not see a deploy"
    );
    let first = steps(&out.stdout);
    let mispredicted = mispredictions(&planned, &first, false);
    walk.expect(mispredicted.is_empty(), || {
        format!(
            "the first `ferry plan local` predicted another deploy than the one that ran:\n{}",
            mispredicted.join("\n")
        )
    });
    let asked = walk.requests_logged();
    assert!(
        asked.iter().all(|n| *n > 0),
        "the first deploy's health check left no request in the web processes' logs ({asked:?}): the count of requests cannot tell"
    );
    // `ferry logs`: every host's web processes, prefixed; `-f` follows
    // until Ctrl-C, which ends it cleanly. `ferry ssh` reaches a host's
    // `current` (off a terminal the shell reads no command and ends).
    let out = walk.ferry(&["logs", "local", "web", "-n", "200"]);
    let silent: Vec<&str> = ["web1", "web2", "web3"]
        .into_iter()
        .filter(|h| !out.stdout.contains(&format!("{h}  web-1 | ")))
        .collect();
    walk.expect(out.status == 0 && silent.is_empty(), || {
        format!(
            "`ferry logs local web` shows nothing of {silent:?}:\n{}\n{}",
            out.stdout, out.stderr
        )
    });
    walk.ran
        .borrow_mut()
        .extend(exercised(&["logs", "local", "web", "-n", "200", "-f"]));
    let mut follow = spawn_ferry(&dir, &["logs", "local", "web", "-n", "200", "-f"]);
    std::thread::sleep(std::time::Duration::from_secs(2));
    let still = follow.try_wait().unwrap().is_none();
    // SAFETY: kill(2) of the child this walk started.
    unsafe { libc::kill(follow.id() as i32, libc::SIGINT) };
    let ended = (0..100).find_map(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        follow.try_wait().unwrap()
    });
    walk.expect(still && ended.and_then(|s| s.code()) == Some(0), || {
        format!("`ferry logs local web -f`: following {still}, then {ended:?} on Ctrl-C")
    });
    let out = walk.ferry(&["ssh", "local", "web2"]);
    walk.expect(
        out.status == 0 && !out.stderr.contains("no current release"),
        || format!("`ferry ssh local web2`: {}\n{}", out.status, out.stderr),
    );
    for host in &walk.hosts.hosts {
        use std::os::unix::fs::PermissionsExt as _;
        let env = host.dir.join(walk.app_dir()).join("shared/.env");
        let mode = std::fs::metadata(&env).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", env.display());
    }

    // The second deploy of the same commit changes nothing, and says only
    // what is true: a step whose condition on the inventory is false did
    // not run (`skipped`, not `ok`), and the health check that says `ok`
    // asked every web process.
    let out = walk.ferry(&["deploy", "local"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let second = steps(&out.stdout);
    let changed: Vec<_> = second.iter().filter(|s| s.status == "changed").collect();
    walk.expect(changed.is_empty(), || {
        format!("the second deploy changed {changed:?}")
    });
    let mut untrue = BTreeSet::new();
    for skipped in first
        .iter()
        .filter(|s| s.status == "skipped" && static_condition(&s.reason))
    {
        let again = named(&second, &skipped.host, &skipped.name);
        if again.iter().any(|s| s.status != "skipped") {
            untrue.insert(format!(
                "{} `{}`: skipped the first time ({}), now {:?}",
                skipped.host,
                skipped.name,
                skipped.reason.trim(),
                again.iter().map(|s| &s.status).collect::<Vec<_>>()
            ));
        }
    }
    let now = walk.requests_logged();
    for (n, (before, after)) in asked.iter().zip(&now).enumerate() {
        if after <= before {
            untrue.insert(format!(
                "`{HEALTH}` says ok on web{} without asking its web process {}",
                n / 2 + 1,
                n % 2
            ));
        }
    }
    let untrue: Vec<_> = untrue.into_iter().collect();
    walk.expect(untrue.is_empty(), || {
        format!(
            "the second deploy reports what did not happen:\n{}",
            untrue.join("\n")
        )
    });
    walk.assert_serving(&v1, "the second deploy");

    // A change, committed: the plan says what would change — a new release,
    // a restart, and what the example names (a pending migration) — and
    // changes nothing; `deploy --dry-run` is the same.
    let pending = (example.change)(&walk.app);
    let v2 = walk.app.head();
    git(&dir, &["tag", "v2"]);
    let plans = [
        walk.changes_nothing(&["plan", "local"]),
        walk.changes_nothing(&["deploy", "local", "--dry-run"]),
    ];
    for (out, args) in plans.iter().zip(["plan local", "deploy local --dry-run"]) {
        let planned = steps(&out.stdout);
        for name in all() {
            for (step, want) in [(UPLOAD, "changed"), (PIP, "ok"), (RESTART, "changed")] {
                let seen = named(&planned, &name, step);
                walk.expect(
                    !seen.is_empty() && seen.iter().all(|s| s.status == want),
                    || {
                        let said: Vec<_> = seen.iter().map(|s| s.status.as_str()).collect();
                        format!(
                            "`ferry {args}`: `{step}` on {name} should say {want}, says {said:?}"
                        )
                    },
                );
            }
        }
        for item in &pending {
            walk.expect(out.stdout.contains(item.as_str()), || {
                format!("`ferry {args}` does not name the pending `{item}`")
            });
        }
    }

    // Deploy it: the new commit serves, with the files of this commit, and
    // each step did what the plan said it would.
    let out = walk.ferry(&["deploy", "local"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    walk.assert_serving(&v2, "deploy of v2");
    let mispredicted = mispredictions(&steps(&plans[0].stdout), &steps(&out.stdout), true);
    walk.expect(mispredicted.is_empty(), || {
        format!(
            "`ferry plan local` predicted another deploy than the one that ran:\n{}",
            mispredicted.join("\n")
        )
    });
    assert_release_is_the_commit(&walk, &dir);
    if example.migrates {
        let migrate: Vec<_> = steps(&out.stdout)
            .into_iter()
            .filter(|s| s.name == MIGRATE)
            .collect();
        walk.expect(migrate.iter().all(|s| s.status == "changed"), || {
            format!("the deploy of a migration did not migrate: {migrate:?}")
        });
    }

    // Every host lists both releases, the new one current.
    let out = walk.ferry(&["releases", "local"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let mut v1_release = String::new();
    for name in all() {
        let listed = releases_of(&out.stdout, &name);
        assert_eq!(listed.len(), 2, "{name}: {listed:?}\n{}", out.stdout);
        assert!(
            listed
                .iter()
                .any(|(current, id)| *current && id.ends_with(&v2[..7])),
            "{name}: v2 is not current: {listed:?}"
        );
        v1_release = listed
            .iter()
            .find(|(_, id)| id.ends_with(&v1[..7]))
            .map(|(_, id)| id.clone())
            .unwrap_or_else(|| panic!("{name} lists no release of v1: {listed:?}"));
    }

    // Back to the release before. Over a migration, ferry names it and asks
    // for `--yes`.
    if example.migrates {
        let out = walk.ferry(&["rollback", "local"]);
        assert_eq!(out.status, 2, "{}\n{}", out.stdout, out.stderr);
        for item in &pending {
            assert!(out.stderr.contains(item.as_str()), "{}", out.stderr);
        }
        walk.assert_serving(&v2, "a refused rollback");
        let out = walk.ferry(&["rollback", "local", "--yes"]);
        assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    } else {
        let out = walk.ferry(&["rollback", "local"]);
        assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    }
    walk.assert_serving(&v1, "rollback");

    // Deploy again (HEAD, by its tag), then back to v1 by its release's name.
    let out = walk.ferry(&["deploy", "local", "--rev", "v2"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    walk.assert_serving(&v2, "deploy --rev v2 after a rollback");
    let out = if example.migrates {
        walk.ferry(&["rollback", "local", "--to", &v1_release, "--yes"])
    } else {
        walk.ferry(&["rollback", "local", "--to", &v1_release])
    };
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    walk.assert_serving(&v1, "rollback --to");

    // The app stops on one host; a deploy of the commit it serves brings it
    // back, or fails naming that host — never exit 0 with the app down.
    let (conf, _) = &walk.supervisors.configs[1];
    let supervisorctl = |action: &str| {
        succeed(
            Command::new("supervisorctl")
                .arg("-c")
                .arg(conf)
                .args([action, "all"]),
        )
    };
    supervisorctl("stop");
    assert!(
        walk.serving(&v1).is_err(),
        "stopping web2's app changed nothing"
    );
    let out = walk.ferry(&["deploy", "local", "--rev", "v1"]);
    if out.status == 0 {
        let down = walk.programs_down(1, example.programs);
        let serving = walk.serving(&v1);
        walk.expect(serving.is_ok() && down.is_empty(), || {
            format!(
                "`ferry deploy --rev v1` of the current commit exited 0 with web2's app down ({serving:?}; {down:?}):\n{}",
                out.stdout
            )
        });
    } else {
        walk.expect(
            out.stdout.contains("web2") || out.stderr.contains("web2"),
            || {
                format!(
                    "the deploy failed without naming web2:\n{}\n{}",
                    out.stdout, out.stderr
                )
            },
        );
    }
    // Whatever it did, the walk goes on with web2's app running.
    if walk.serving(&v1).is_err() {
        supervisorctl("start");
    }

    // A deploy killed after it locked every host leaves a stale lock: the
    // next deploy names it, `ferry unlock` clears it (saying whose it was),
    // and the deploy then goes through.
    let out = walk.ferry(&["unlock", "local"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    for name in all() {
        walk.expect(out.stdout.contains(&format!("{name}: no lock")), || {
            format!(
                "`ferry unlock` with no lock held does not say so for {name}:\n{}",
                out.stdout
            )
        });
    }
    let source = std::fs::read_to_string(dir.join("Procfile")).unwrap();
    walk.app
        .commit("Procfile", &format!("{source}# v3\n"), "v3");
    let v3 = walk.app.head();
    walk.ran
        .borrow_mut()
        .extend(exercised(&["deploy", "local"]));
    let mut killed = spawn_ferry(&dir, &["deploy", "local"]);
    let locks: Vec<PathBuf> = walk
        .hosts
        .hosts
        .iter()
        .map(|h| h.dir.join(walk.app_dir()).join(".ferry/lock"))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !locks.iter().all(|l| l.exists()) {
        assert!(
            killed.try_wait().unwrap().is_none(),
            "the deploy ended before it held every host's lock"
        );
        assert!(
            Instant::now() < deadline,
            "no lock on every host after 60 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    killed.kill().unwrap();
    killed.wait().unwrap();
    let out = walk.ferry(&["deploy", "local"]);
    assert_eq!(out.status, 3, "{}\n{}", out.stdout, out.stderr);
    walk.expect(out.stderr.contains("ferry unlock"), || {
        format!(
            "the held lock does not say how to clear it:\n{}",
            out.stderr
        )
    });
    let out = walk.ferry(&["unlock", "local"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    for name in all() {
        walk.expect(
            out.stdout.contains(&format!("{name}: removed the lock of")),
            || {
                format!(
                    "`ferry unlock` does not say whose lock it removed on {name}:\n{}",
                    out.stdout
                )
            },
        );
    }
    let out = walk.ferry(&["deploy", "local"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    walk.assert_serving(&v3, "deploy after unlock");

    // The walk ran every command README.md shows.
    let missing = missing_from(&readme_commands(README), &walk.ran.borrow(), example.exempt);
    walk.expect(missing.is_empty(), || {
        format!("the walk never ran:\n{}", missing.join("\n"))
    });
    eprintln!(
        "the {} walk took {:.0}s",
        example.name,
        started.elapsed().as_secs_f64()
    );
    // Taken, so that the walk's drop does not list them a second time.
    let failures = walk.failures.take();
    assert!(
        failures.is_empty(),
        "the README's path on {} met {} untrue thing(s):\n\n{}",
        example.name,
        failures.len(),
        failures.join("\n\n")
    );
}

/// Every web host's `current` holds the committed tree of HEAD: each
/// committed file, byte for byte (build outputs of an older release never
/// stand in for them).
fn assert_release_is_the_commit(walk: &Walk, dir: &Path) {
    let files = succeed(Command::new("git").args(["ls-files"]).current_dir(dir));
    for host in &walk.hosts.hosts {
        let current = host.dir.join(walk.app_dir()).join("current");
        for file in files.lines() {
            let want = std::fs::read(dir.join(file)).unwrap();
            let got = std::fs::read(current.join(file)).unwrap_or_default();
            walk.expect(got == want, || {
                format!(
                    "{}: current/{file} is not the committed file",
                    name_of(host)
                )
            });
        }
        // Django serves static files from what collectstatic gathered.
        let style = "notes/static/notes/style.css";
        if dir.join(style).exists() {
            let want = std::fs::read(dir.join(style)).unwrap();
            let got = std::fs::read(current.join("static/notes/style.css")).unwrap_or_default();
            walk.expect(got == want, || {
                format!(
                    "{}: current/static/notes/style.css (collectstatic's) is not the committed notes/static/notes/style.css",
                    name_of(host)
                )
            });
        }
    }
}
