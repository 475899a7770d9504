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
//! Two guards keep README.md and this file in step: a fast one reads the
//! commands README.md shows in its code blocks and fails, naming the
//! command, when this file never runs it with the options shown; and each
//! walk checks at its end that it ran every one of them.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::apps::{App, SECRET, Supervisors, git, http_get};
use crate::support::ferry::{Output, copy_dir, repo_root, run_ferry, spawn_ferry};
use crate::support::listing::Listing;
use crate::support::sshd::TestHosts;
use crate::support::succeed;

const README: &str = include_str!("../../README.md");
const THIS_FILE: &str = include_str!("readme_path.rs");

/// A `ferry` command shown in one of README.md's code blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shown {
    /// README.md's line, for the message.
    line: usize,
    text: String,
    subcommand: String,
    /// Its options as shown (`--offline`, `-i`), without their values.
    options: Vec<String>,
}

/// Every `ferry …` command in README.md's fenced code blocks (a line that
/// starts with `ferry`, or has it after `&&` or `;`), comments left out.
fn readme_commands(readme: &str) -> Vec<Shown> {
    let mut shown = Vec::new();
    let mut fenced = false;
    for (n, line) in readme.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            continue;
        }
        let code = match line.find(" #") {
            Some(at) => &line[..at],
            None => line,
        };
        for part in code.split("&&").flat_map(|p| p.split(';')) {
            let part = part.trim();
            let Some(rest) = part.strip_prefix("ferry ") else {
                continue;
            };
            let words = shlex::split(rest).unwrap_or_default();
            let mut words = words.iter().peekable();
            let mut subcommand = None;
            let mut options = Vec::new();
            while let Some(word) = words.next() {
                if word == "--" {
                    break;
                }
                if word == "-C" {
                    words.next();
                } else if word.starts_with('-') {
                    options.push(word.clone());
                } else if subcommand.is_none() {
                    subcommand = Some(word.clone());
                }
            }
            if let Some(subcommand) = subcommand {
                shown.push(Shown {
                    line: n + 1,
                    text: part.to_string(),
                    subcommand,
                    options,
                });
            }
        }
    }
    shown
}

/// `(subcommand, option)` of a run of `ferry ARGS`: `("deploy", "")` for the
/// subcommand itself and one more pair per option before `--`.
fn exercised(args: &[&str]) -> Vec<(String, String)> {
    let mut args = args.iter().peekable();
    if args.peek() == Some(&&"-C") {
        args.nth(1);
    }
    let Some(subcommand) = args.next() else {
        return Vec::new();
    };
    let mut pairs = vec![(subcommand.to_string(), String::new())];
    for arg in args.take_while(|a| **a != "--") {
        if arg.starts_with('-') {
            pairs.push((subcommand.to_string(), arg.to_string()));
        }
    }
    pairs
}

/// What README.md shows that `ran` lacks, one line each, but for the
/// `(subcommand, option)` pairs in `exempt`.
fn missing_from(
    shown: &[Shown],
    ran: &BTreeSet<(String, String)>,
    exempt: &[(&str, &str)],
) -> Vec<String> {
    let mut missing = Vec::new();
    for command in shown {
        let wanted = std::iter::once(String::new()).chain(command.options.iter().cloned());
        for option in wanted {
            let pair = (command.subcommand.clone(), option.clone());
            let exempted = exempt.iter().any(|(s, o)| *s == pair.0 && *o == pair.1);
            if !ran.contains(&pair) && !exempted {
                let run = format!("ferry {} {option}", command.subcommand);
                missing.push(format!(
                    "README.md:{}: `{}`: never runs `{}`",
                    command.line,
                    command.text,
                    run.trim_end()
                ));
            }
        }
    }
    missing
}

/// The guard that needs no host: every command README.md shows (with the
/// options it shows) is in a `walk.ferry(&[…])` of this file.
#[test]
fn every_command_the_readme_shows_is_on_the_newcomer_path() {
    let shown = readme_commands(README);
    for expected in ["plan", "deploy", "rollback", "init", "unlock", "playbook"] {
        assert!(
            shown.iter().any(|c| c.subcommand == expected),
            "the guard finds no `ferry {expected}` in README.md: is it still parsing its code blocks?"
        );
    }
    // The argument lists of this file's `walk.ferry`, `ferry_in`,
    // `changes_nothing` and `spawn_ferry` calls.
    let mut ran = BTreeSet::new();
    let calls = regex::Regex::new(
        r#"\b(?:ferry|ferry_in|spawn_ferry|changes_nothing)\((?:[^,()]+,\s*)?&\[([^\]]*)\]"#,
    )
    .unwrap();
    let literal = regex::Regex::new(r#""([^"]*)""#).unwrap();
    for call in calls.captures_iter(THIS_FILE) {
        let args: Vec<&str> = literal
            .captures_iter(&call[1])
            .map(|c| c.get(1).unwrap().as_str())
            .collect();
        ran.extend(exercised(&args));
    }
    let missing = missing_from(&shown, &ran, &[]);
    assert!(
        missing.is_empty(),
        "README.md shows commands no README path test runs:\n{}",
        missing.join("\n")
    );
}

#[test]
fn a_command_the_readme_shows_and_no_test_runs_is_named_with_its_line() {
    let shown =
        readme_commands("```\nferry deploy prod --rev v1   # a tag\nferry releases prod\n```\n");
    let ran: BTreeSet<(String, String)> = exercised(&["deploy", "local"])
        .into_iter()
        .chain(exercised(&["rollback", "local", "--rev", "x"]))
        .collect();
    assert_eq!(
        missing_from(&shown, &ran, &[]),
        [
            "README.md:2: `ferry deploy prod --rev v1`: never runs `ferry deploy --rev`",
            "README.md:3: `ferry releases prod`: never runs `ferry releases`",
        ]
    );
    assert_eq!(
        missing_from(&shown, &ran, &[("deploy", "--rev"), ("releases", "")]),
        Vec::<String>::new()
    );
}

#[test]
fn readme_commands_are_read_from_code_blocks_with_their_options() {
    let text = "ferry deploy prod\n```\nferry plan prod --offline   # no hosts\ncd x && ferry init\nferry -C dir run prod --limit 'a:!b' -- df -h /\n```\n";
    let shown = readme_commands(text);
    let got: Vec<(&str, Vec<&str>)> = shown
        .iter()
        .map(|c| {
            (
                c.subcommand.as_str(),
                c.options.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("plan", vec!["--offline"]),
            ("init", vec![]),
            ("run", vec!["--limit"]),
        ]
    );
    assert_eq!(
        exercised(&["run", "local", "--limit", "web1", "--", "df", "-h"]),
        vec![
            ("run".to_string(), String::new()),
            ("run".to_string(), "--limit".to_string())
        ]
    );
}

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
        exempt: &[("rollback", "--yes")],
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
        exempt: &[],
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

/// One step's end as the plain output (off a terminal) prints it:
/// `TIME HOST STATUS: NAME (TIME)`, then its indented reason lines.
#[derive(Debug, Clone)]
struct Step {
    host: String,
    status: String,
    name: String,
    reason: String,
}

fn steps(stdout: &str) -> Vec<Step> {
    let line = regex::Regex::new(r"^\S+ (\S+) ([a-z]+): (.*) \(\d+(?:\.\d+)?s\)$").unwrap();
    let mut steps: Vec<Step> = Vec::new();
    for text in stdout.lines() {
        if let Some(c) = line.captures(text).filter(|c| &c[2] != "done") {
            steps.push(Step {
                host: c[1].to_string(),
                status: c[2].to_string(),
                name: c[3].to_string(),
                reason: String::new(),
            });
        } else if let (true, Some(last)) = (text.starts_with("    "), steps.last_mut()) {
            last.reason.push_str(text.trim());
            last.reason.push('\n');
        }
    }
    steps
}

/// The steps of `host` named `name`.
fn named<'a>(steps: &'a [Step], host: &str, name: &str) -> Vec<&'a Step> {
    steps
        .iter()
        .filter(|s| s.host == host && s.name == name)
        .collect()
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

/// The releases `ferry releases` lists for `host`: `(is current, id)`.
fn releases_of(stdout: &str, host: &str) -> Vec<(bool, String)> {
    let mut listed = Vec::new();
    let mut inside = false;
    for line in stdout.lines() {
        if !line.starts_with(' ') {
            inside = line.trim() == host;
            continue;
        }
        if inside {
            let current = line.trim_start().starts_with('*');
            let id = line
                .trim_start()
                .trim_start_matches('*')
                .split_whitespace()
                .next();
            if let Some(id) = id {
                listed.push((current, id.to_string()));
            }
        }
    }
    listed
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
    let failures = walk.failures.borrow();
    assert!(
        failures.is_empty(),
        "the README's path on {} met {} untrue thing(s):\n\n{}",
        example.name,
        failures.len(),
        failures.join("\n\n")
    );
}

/// Where `deployed` differs from what `planned` said, one line per step:
/// steps are matched by host, name and how many of that name came before.
/// Unless `exactly`, only what the plan hid counts — a step that acted
/// where the plan said it would not, or a plan that failed or never got
/// there — and not a change foretold that an earlier step made needless
/// (on fresh hosts, loading the new programs starts them: the restart
/// then finds them serving).
fn mispredictions(planned: &[Step], deployed: &[Step], exactly: bool) -> Vec<String> {
    let keyed = |steps: &[Step]| {
        let mut seen = std::collections::HashMap::new();
        steps
            .iter()
            .map(|s| {
                let n = seen.entry((s.host.clone(), s.name.clone())).or_insert(0);
                *n += 1;
                ((s.host.clone(), s.name.clone(), *n), s.status.clone())
            })
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let (planned, deployed) = (keyed(planned), keyed(deployed));
    let mut lines = Vec::new();
    for (key, did) in &deployed {
        let said = planned.get(key).map(String::as_str).unwrap_or("nothing");
        let hidden = did == "changed" || said == "failed" || said == "nothing";
        if said != did && (exactly || hidden) {
            lines.push(format!("{} `{}`: planned {said}, did {did}", key.0, key.1));
        }
    }
    for (key, said) in &planned {
        if !deployed.contains_key(key) {
            lines.push(format!("{} `{}`: planned {said}, never ran", key.0, key.1));
        }
    }
    lines
}

/// Whether a skip reason is a `when:` on inventory or play variables only
/// (false on every run alike), not on a registered result.
fn static_condition(reason: &str) -> bool {
    [
        "process_manager == 'systemd'",
        "nginx | default(true)",
        "certificates | default([])",
    ]
    .iter()
    .any(|c| reason.contains(&format!("`when: {c}` is false")))
}

/// What `ferry run` printed per host, in its `── HOST (rc 0) ──` sections
/// (the hosts whose command exited 0).
fn run_outputs(stdout: &str) -> Vec<(String, String)> {
    let header = regex::Regex::new(r"^── (\S+) \(rc (\d+)\) ──$").unwrap();
    let mut sections: Vec<(String, String)> = Vec::new();
    let mut inside = false;
    for line in stdout.lines() {
        if let Some(c) = header.captures(line) {
            inside = &c[2] == "0";
            if inside {
                sections.push((c[1].to_string(), String::new()));
            }
        } else if line.is_empty() || line.starts_with("host ") {
            inside = false;
        } else if let (true, Some(last)) = (inside, sections.last_mut()) {
            last.1.push_str(line);
            last.1.push('\n');
        }
    }
    sections
}

/// Release ids carry the time of compiling: two plans differ in them only.
fn strip_release_ids(text: &str) -> String {
    regex::Regex::new(r"\d{14}-[0-9a-f]{7}")
        .unwrap()
        .replace_all(text, "RELEASE")
        .into_owned()
}

/// The offline plan as data has the hosts and the steps of the text, each
/// with its loop item.
fn assert_same_plan(text: &str, plan: &serde_json::Value) {
    let heading = regex::Regex::new(r"^  (\S+) \(").unwrap();
    let step = regex::Regex::new(r"^ +\d+\. (.*)$").unwrap();
    let kinds = regex::Regex::new(r"( \[[a-z._]+\])+$").unwrap();
    let mut from_text: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        if let Some(c) = heading.captures(line) {
            from_text.push((c[1].to_string(), Vec::new()));
        } else if let (Some(c), Some(last)) = (step.captures(line), from_text.last_mut()) {
            last.1.push(kinds.replace(&c[1], "").into_owned());
        }
    }
    let mut from_json: Vec<(String, Vec<String>)> = Vec::new();
    for play in plan["plays"].as_array().cloned().unwrap_or_default() {
        for host in play["hosts"].as_array().cloned().unwrap_or_default() {
            let names = host["steps"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|s| {
                    let name = s["name"].as_str().unwrap_or_default();
                    match &s["item"] {
                        serde_json::Value::Null => name.to_string(),
                        serde_json::Value::String(item) => format!("{name} (item={item})"),
                        item => format!("{name} (item={item})"),
                    }
                })
                .collect();
            from_json.push((host["host"].as_str().unwrap_or_default().to_string(), names));
        }
    }
    assert!(!from_text.is_empty(), "no host in the plan:\n{text}");
    assert_eq!(
        from_json, from_text,
        "`--json` gives another plan than the text"
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

/// `bash examples/demo.sh`, the README's first command, as CI can run it:
/// as root, in network, mount and PID namespaces of its own (`unshare`) —
/// its loopback holds the demo's fixed addresses and ports, which then
/// cannot meet anything else on the machine, and has no other interface,
/// so anything that tried to leave 127.0.0.0/8 would fail; a private
/// `/tmp/ferry-example`; and every process it starts ends with it. It runs
/// a copy of the repository's examples, demo.sh included, committed in a
/// fresh git repository (a clean clone, as far as the demo can tell), where
/// the release build it asks for is the ferry this test suite built (a
/// `cargo` on PATH that answers `cargo build --release --quiet` only) and
/// the Python packages come from target/wheelhouse (pip's own
/// `PIP_NO_INDEX`/`PIP_FIND_LINKS`): nothing is installed.
///
/// The walk the README describes: the Django demo; again, changing
/// nothing; a committed change deployed, listed and rolled back with the
/// commands the demo prints; the Flask demo beside it; `demo.sh stop`.
#[test]
fn readme_demo_sh_deploys_both_examples_changes_nothing_again_and_stops() {
    let started = Instant::now();
    assert_eq!(
        succeed(Command::new("id").arg("-u")),
        "0",
        "the demo runs as root (its hosts' namespaces need it), as CI does"
    );
    let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let repo = scratch.path().join("repo");
    copy_dir(&repo_root().join("examples"), &repo.join("examples"));
    for example in ["django-notes", "flask-hello"] {
        let _ = std::fs::remove_dir_all(repo.join("examples").join(example).join("secrets"));
    }
    let requirements = repo.join("tests/apps/requirements.txt");
    std::fs::create_dir_all(requirements.parent().unwrap()).unwrap();
    std::fs::copy(
        repo_root().join("tests/apps/requirements.txt"),
        &requirements,
    )
    .unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "the examples"]);
    let v1 = succeed(
        Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(&repo),
    );
    let release = repo.join("target/release");
    std::fs::create_dir_all(&release).unwrap();
    std::fs::copy(crate::support::ferry::ferry_bin(), release.join("ferry")).unwrap();
    let bin = scratch.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let cargo = bin.join("cargo");
    std::fs::write(
        &cargo,
        "#!/bin/sh\n# The suite built ferry already: target/release/ferry is that build.\n[ \"$*\" = 'build --release --quiet' ] && exit 0\necho \"this test's cargo runs only 'cargo build --release --quiet', not: cargo $*\" >&2\nexit 1\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    let demo_root = scratch.path().join("ferry-example");
    std::fs::create_dir_all(&demo_root).unwrap();
    // The mount point: an empty directory where the real demo keeps its
    // files (left in place; the demo would make it anyway).
    std::fs::create_dir_all("/tmp/ferry-example").unwrap();

    let script = format!(
        r#"set -u
ip link set lo up
mount --bind {demo_root} /tmp/ferry-example
cd {repo}
export PATH={bin}:$PATH PIP_NO_INDEX=1 PIP_FIND_LINKS={wheels}
section() {{ name=$1; shift; echo "@@ $name"; "$@"; echo "@@ $name: exit $? at ${{SECONDS}}s"; }}
yourself() {{ grep '^  HOME=' /tmp/ferry-example/run2.txt | grep " $1 local" | sed 's/^  //'; }}
section django bash examples/demo.sh
section again bash examples/demo.sh > /tmp/ferry-example/run2.txt 2>&1
cat /tmp/ferry-example/run2.txt
sed -i 's/"app": "django-notes"/"app": "django-notes, changed"/' examples/django-notes/notes/views.py
git -c user.name=demo -c user.email=demo@example.invalid commit -q -am 'a change'
echo "@@ v2 $(git rev-parse HEAD)"
section deploy sh -c "$(yourself deploy)"
section releases sh -c "$(yourself releases)"
section rollback sh -c "$(yourself rollback)"
section serving sh -c 'for n in 1 2 3; do for p in 8100 8101; do echo "http://127.0.0.$n:$p/ $(curl -s http://127.0.0.$n:$p/)"; done; done'
section flask bash examples/demo.sh flask-hello
section stop bash examples/demo.sh stop
section left sh -c 'ps -eo comm= | grep -E "sshd|supervisord|gunicorn|python" || true'
"#,
        demo_root = demo_root.display(),
        repo = repo.display(),
        bin = bin.display(),
        wheels = crate::support::apps::wheelhouse().display(),
    );
    let out = Command::new("unshare")
        .args(["--net", "--mount", "--pid", "--fork", "--mount-proc"])
        .args(["bash", "-c", &script])
        .output()
        .expect("unshare (util-linux)");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    eprintln!("the demo took {:.0}s", started.elapsed().as_secs_f64());
    let section = |name: &str| -> (i32, String) {
        let start = format!("@@ {name}\n");
        let end = regex::Regex::new(&format!(r"@@ {name}: exit (\d+) at (\d+)s\n")).unwrap();
        let from = text
            .find(&start)
            .unwrap_or_else(|| panic!("the demo never reached `{name}`:\n{text}"));
        let rest = &text[from + start.len()..];
        let c = end
            .captures(rest)
            .unwrap_or_else(|| panic!("`{name}` never ended:\n{rest}"));
        let body = rest[..c.get(0).unwrap().start()].to_string();
        eprintln!("demo: `{name}` exits {} at {}s", &c[1], &c[2]);
        (c[1].parse().unwrap(), body)
    };
    let ok = |name: &str| -> String {
        let (status, body) = section(name);
        assert_eq!(status, 0, "`{name}` exits {status}:\n{body}");
        body
    };
    let serves = |body: &str, port: u16, commit: &str| {
        for n in 1..=3 {
            for p in [port, port + 1] {
                let address = format!("http://127.0.0.{n}:{p}/");
                let line = body
                    .lines()
                    .find(|l| l.trim_start().starts_with(&address))
                    .unwrap_or_else(|| panic!("no answer from {address} in\n{body}"));
                assert!(line.contains(commit), "{line}: not {commit}");
            }
        }
    };

    let django = ok("django");
    assert!(django.contains("3 hosts succeeded"), "{django}");
    serves(&django, 8100, &v1);
    // Again: the same commit, nothing changes (the recap's `changed` column).
    let again = ok("again");
    let recap = regex::Regex::new(r"(?m)^(web\d)\s+\d+\s+(\d+)\s").unwrap();
    let changed: Vec<(String, String)> = recap
        .captures_iter(&again)
        .map(|c| (c[1].to_string(), c[2].to_string()))
        .collect();
    assert_eq!(changed.len(), 3, "no recap of three hosts in\n{again}");
    assert!(
        changed.iter().all(|(_, n)| n == "0"),
        "the second demo changed {changed:?}:\n{again}"
    );
    serves(&again, 8100, &v1);
    // The commands it prints: a committed change deployed, listed, rolled back.
    let v2 = regex::Regex::new(r"@@ v2 ([0-9a-f]{40})")
        .unwrap()
        .captures(&text)
        .map(|c| c[1].to_string())
        .expect("the change was committed");
    ok("deploy");
    let releases = ok("releases");
    for host in ["web1", "web2", "web3"] {
        let listed = releases_of(&releases, host);
        assert_eq!(listed.len(), 2, "{host}: {listed:?}\n{releases}");
        assert!(
            listed
                .iter()
                .any(|(current, id)| *current && id.ends_with(&v2[..7])),
            "{host}: the change is not current: {listed:?}"
        );
    }
    ok("rollback");
    serves(&ok("serving"), 8100, &v1);
    let flask = ok("flask");
    serves(&flask, 8000, &v2);
    ok("stop");
    let left = ok("left");
    assert!(
        left.trim().is_empty(),
        "`demo.sh stop` left processes running:\n{left}"
    );
    eprintln!("the demo took {:.0}s", started.elapsed().as_secs_f64());
}
