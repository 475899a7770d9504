//! `django_manage` (`community.general.django_manage`): a Django
//! management command, run with the project's `manage.py` in its
//! virtualenv.
//!
//! The probe asks Django itself what the command would do: `migrate
//! --plan` lists the migrations not applied yet, `collectstatic --dry-run`
//! the files it would copy or link, `createcachetable --dry-run` the SQL of
//! the tables missing. Read-only commands (`check`, `showmigrations`, …)
//! are their own probe. So `ok` is Django's answer, and check mode names
//! what the run then does. Commands Django cannot dry-run (`loaddata`,
//! `flush`, `test`, custom ones) always run, and say so.
//!
//! The settings module and Python path go in the environment
//! (`DJANGO_SETTINGS_MODULE`, `PYTHONPATH`), never on a command line.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::edit::bool_arg;
use super::probed::{Decision, Probed, Prober};
use super::{Action, Args};
use crate::diagnostic::Diagnostic;
use crate::shell::{Command, quote};

pub const KEYS: &[&str] = &[
    "command",
    "project_path",
    "app_path",
    "chdir",
    "settings",
    "pythonpath",
    "python_path",
    "virtualenv",
    "virtual_env",
    "apps",
    "cache_table",
    "clear",
    "database",
    "failfast",
    "fail_fast",
    "fixtures",
    "testrunner",
    "test_runner",
    "skip",
    "merge",
    "link",
    "ack_venv_creation_deprecation",
];

/// The probe's first line when the virtualenv or `manage.py` is missing.
const NO_VENV: &str = "django_manage=no-virtualenv";
const NO_MANAGE: &str = "django_manage=no-manage.py";

/// Django's commands that change nothing: run as the probe (in check mode
/// too), `ok` when they pass. Not `dumpdata`, which may write `--output`.
const READ_ONLY: &[&str] = &[
    "check",
    "showmigrations",
    "diffsettings",
    "sqlmigrate",
    "findstatic",
    "inspectdb",
];

/// What Django can tell before the command runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `migrate --plan`.
    Migrate,
    /// `collectstatic --dry-run`; `clear` deletes what is there first.
    Collectstatic { clear: bool, link: bool },
    /// `createcachetable --dry-run`.
    Createcachetable,
    /// The command itself changes nothing.
    ReadOnly,
    /// Django has no dry run for it: it always runs.
    Always,
}

#[derive(Debug, Clone, Serialize)]
pub struct DjangoManage {
    /// `manage.py`'s arguments as the run passes them.
    pub argv: Vec<String>,
    pub kind: Kind,
    pub project_path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub virtualenv: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pythonpath: Option<String>,
}

pub fn django_manage(args: &Args) -> Result<Action, Diagnostic> {
    let written = args.required("command", "django_manage")?;
    let mut argv = shlex::split(&written)
        .filter(|words| !words.is_empty())
        .ok_or_else(|| args.error_at("command", format!("`{written}` is not a command")))?;
    let name = argv[0].clone();
    let project_path = first(args, &["project_path", "app_path", "chdir"])?
        .ok_or_else(|| args.error("module `django_manage` needs `project_path`"))?;
    // Which command takes which argument, as Ansible's module allows them.
    let allowed: &[&str] = match name.as_str() {
        "createcachetable" => &["cache_table", "database"],
        "flush" => &["database"],
        "loaddata" => &["database", "fixtures"],
        "test" => &["failfast", "testrunner", "apps"],
        "migrate" => &["apps", "database"],
        "collectstatic" => &["clear", "link"],
        _ => &[],
    };
    for (key, aliases) in [
        ("apps", &["apps"][..]),
        ("cache_table", &["cache_table"]),
        ("clear", &["clear"]),
        ("database", &["database"]),
        ("failfast", &["failfast", "fail_fast"]),
        ("fixtures", &["fixtures"]),
        ("testrunner", &["testrunner", "test_runner"]),
        ("link", &["link"]),
    ] {
        for alias in aliases {
            let given = match args.get(alias) {
                Some(Value::Bool(b)) => *b,
                Some(_) => true,
                None => false,
            };
            if given && !allowed.contains(&key) {
                return Err(
                    args.error_at(alias, format!("`{alias}` is not an argument of `{name}`"))
                );
            }
        }
    }
    for south in ["skip", "merge"] {
        if bool_arg(args, south, false)? {
            return Err(args.error_at(
                south,
                format!("`{south}` was South's `migrate` option; Django's `migrate` has none"),
            ));
        }
    }
    if name == "loaddata" && args.string("fixtures")?.is_none() {
        return Err(args.error("`loaddata` needs `fixtures`"));
    }
    let clear = bool_arg(args, "clear", false)?;
    let link = bool_arg(args, "link", false)?;
    if ["flush", "migrate", "test", "collectstatic"].contains(&name.as_str())
        && !argv.iter().any(|w| w == "--noinput" || w == "--no-input")
    {
        argv.push("--noinput".into());
    }
    if let Some(database) = args.string("database")? {
        argv.push(format!("--database={database}"));
    }
    for (flag, on) in [
        ("--clear", clear),
        ("--failfast", first_flag(args, &["failfast", "fail_fast"])?),
        ("--link", link),
    ] {
        if on {
            argv.push(flag.into());
        }
    }
    if let Some(runner) = first(args, &["testrunner", "test_runner"])? {
        argv.push(format!("--testrunner={runner}"));
    }
    for key in ["apps", "fixtures"] {
        if let Some(words) = args.string(key)? {
            argv.extend(
                shlex::split(&words)
                    .ok_or_else(|| args.error_at(key, format!("unbalanced quotes in `{key}`")))?,
            );
        }
    }
    if let Some(table) = args.string("cache_table")? {
        argv.push(table);
    }
    let kind = match name.as_str() {
        "migrate" => Kind::Migrate,
        "collectstatic" => Kind::Collectstatic { clear, link },
        "createcachetable" => Kind::Createcachetable,
        n if READ_ONLY.contains(&n) => Kind::ReadOnly,
        _ => Kind::Always,
    };
    let module = DjangoManage {
        argv,
        kind,
        project_path,
        virtualenv: first(args, &["virtualenv", "virtual_env"])?,
        settings: args.string("settings")?,
        pythonpath: first(args, &["pythonpath", "python_path"])?,
    };
    Ok(Action::Probed {
        probed: Probed {
            probe: module.probe(),
            module: Prober::DjangoManage(module),
            stdin: None,
            env: Vec::new(),
            become_user: None,
            asks_password: false,
        },
    })
}

/// The first of an argument's spellings that is given.
fn first(args: &Args, keys: &[&str]) -> Result<Option<String>, Diagnostic> {
    for key in keys {
        if let Some(value) = args.string(key)? {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

fn first_flag(args: &Args, keys: &[&str]) -> Result<bool, Diagnostic> {
    for key in keys {
        if bool_arg(args, key, false)? {
            return Ok(true);
        }
    }
    Ok(false)
}

impl DjangoManage {
    fn name(&self) -> &str {
        &self.argv[0]
    }

    /// `manage.py` with `words`, in the project, with the settings and
    /// virtualenv in the environment.
    fn manage(&self, words: &[String]) -> Command {
        let mut env = Vec::new();
        if let Some(settings) = &self.settings {
            env.push(("DJANGO_SETTINGS_MODULE".to_string(), settings.clone()));
        }
        if let Some(path) = &self.pythonpath {
            env.push(("PYTHONPATH".to_string(), path.clone()));
        }
        let python = match &self.virtualenv {
            Some(venv) => {
                env.push(("VIRTUAL_ENV".to_string(), venv.clone()));
                format!("{}/bin/python", venv.trim_end_matches('/'))
            }
            None => "python3".to_string(),
        };
        let run = Command::new(&python)
            .arg("manage.py")
            .args(words)
            .in_dir(&self.project_path)
            .with_env(&env);
        match &self.virtualenv {
            // The virtualenv's programs first, for what the command runs.
            Some(venv) => Command::script(format!(
                "export PATH={}:\"$PATH\" && {run}",
                quote(&format!("{}/bin", venv.trim_end_matches('/')))
            )),
            None => run,
        }
    }

    /// The words of the dry run, or of the command itself when it only
    /// reads; `None` when Django has none.
    fn probe_words(&self) -> Option<Vec<String>> {
        let mut words = self.argv.clone();
        match &self.kind {
            Kind::Migrate => words.push("--plan".into()),
            Kind::Collectstatic { .. } => {
                words.extend(["--dry-run".into(), "-v".into(), "1".into()])
            }
            Kind::Createcachetable => words.extend(["--dry-run".into(), "-v".into(), "2".into()]),
            Kind::ReadOnly => {}
            Kind::Always => return None,
        }
        words.push("--no-color".into());
        Some(words)
    }

    fn probe(&self) -> Command {
        let mut lines = vec![format!("# django_manage: {}", self.describe())];
        if let Some(venv) = &self.virtualenv {
            let activate = format!("{}/bin/activate", venv.trim_end_matches('/'));
            lines.push(format!(
                "[ -f {} ] || {{ echo {NO_VENV}; exit 0; }}",
                quote(&activate)
            ));
        }
        let manage = format!("{}/manage.py", self.project_path.trim_end_matches('/'));
        lines.push(format!(
            "[ -f {} ] || {{ echo {NO_MANAGE}; exit 0; }}",
            quote(&manage)
        ));
        if let Some(words) = self.probe_words() {
            lines.push(self.manage(&words).as_sent().to_string());
        }
        Command::script(lines.join("\n"))
    }

    pub fn describe(&self) -> String {
        format!(
            "`manage.py {}` in `{}`",
            self.argv.join(" "),
            self.project_path
        )
    }

    /// The virtualenv, or failing that the project, which an earlier step
    /// may create (`pip`, `git`).
    pub fn works_in(&self) -> &str {
        self.virtualenv.as_deref().unwrap_or(&self.project_path)
    }

    pub fn after_created(&self) -> String {
        format!(
            "run {}, once an earlier step creates `{}`",
            self.describe(),
            self.works_in()
        )
    }

    fn cmd(&self, words: &[String]) -> Value {
        let mut cmd = vec!["manage.py".to_string()];
        cmd.extend(words.iter().cloned());
        json!(cmd)
    }

    pub fn decide(&self, probe: &str) -> (Decision, Map<String, Value>) {
        let mut fields = Map::new();
        for (key, value) in [
            ("project_path", Some(&self.project_path)),
            ("app_path", Some(&self.project_path)),
            ("virtualenv", self.virtualenv.as_ref()),
            ("settings", self.settings.as_ref()),
            ("pythonpath", self.pythonpath.as_ref()),
        ] {
            fields.insert(key.into(), json!(value));
        }
        let run = Decision::Change {
            what: format!("run {}", self.describe()),
            run: self.manage(&self.argv),
        };
        fields.insert("cmd".into(), self.cmd(&self.argv));
        match probe.lines().next() {
            Some(NO_VENV) => {
                let venv = self.virtualenv.as_deref().unwrap_or_default();
                return (
                    Decision::Fail(format!("`{venv}` is not a virtualenv (no `bin/activate`)")),
                    fields,
                );
            }
            Some(NO_MANAGE) => {
                return (
                    Decision::Fail(format!("no `manage.py` in `{}`", self.project_path)),
                    fields,
                );
            }
            _ => {}
        }
        let Some(words) = self.probe_words() else {
            return (run, fields);
        };
        let out = probe.trim_end_matches('\n');
        fields.insert("out".into(), json!(out));
        fields.insert("cmd".into(), self.cmd(&words));
        let decision = match &self.kind {
            Kind::Migrate => migrate(out, &self.describe(), run),
            Kind::Collectstatic { clear, link } => collectstatic(out, *clear, *link, run),
            Kind::Createcachetable => createcachetable(out, run),
            Kind::ReadOnly => Decision::Ok(format!(
                "{} changes nothing{}",
                self.describe(),
                if self.name() == "check" {
                    ": Django's system check found no errors"
                } else {
                    ""
                }
            )),
            Kind::Always => unreachable!("no probe words"),
        };
        if matches!(decision, Decision::Change { .. }) {
            fields.insert("cmd".into(), self.cmd(&self.argv));
        }
        (decision, fields)
    }

    /// After the run: Django's output is `out`, as Ansible registers it.
    pub fn finish(&self, stdout: &str, fields: &mut Map<String, Value>) {
        fields.insert("out".into(), json!(stdout.trim_end_matches('\n')));
    }
}

/// `migrate --plan`: the migrations Django would apply (or unapply).
fn migrate(plan: &str, what: &str, run: Decision) -> Decision {
    let Some(rest) = plan.split_once("Planned operations:").map(|(_, rest)| rest) else {
        return Decision::Fail(format!("`migrate --plan` printed no plan: {plan}"));
    };
    if rest.trim() == "No planned migration operations." {
        return Decision::Ok("no migration to apply (`migrate --plan`)".into());
    }
    // Migrations start a line; their operations are indented under them.
    let names: Vec<&str> = rest
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with(' '))
        .collect();
    match run {
        Decision::Change { run, .. } if !names.is_empty() => Decision::Change {
            what: format!("apply {} ({what})", names.join(", ")),
            run,
        },
        _ => Decision::Fail(format!("cannot read `migrate --plan`: {plan}")),
    }
}

/// `collectstatic --dry-run`: its summary line ("3 static files copied to
/// '…', 2 unmodified."), and with `clear` the files it would delete — the
/// dry run does not delete them, so it counts what is there as
/// unmodified, while the run deletes and copies every file again.
fn collectstatic(out: &str, clear: bool, link: bool, run: Decision) -> Decision {
    let action = if link { "symlinked" } else { "copied" };
    let summary = out.lines().rev().find_map(|line| {
        let (count, rest) = line.split_once(' ')?;
        let count: usize = count.parse().ok()?;
        let rest = rest
            .strip_prefix("static files ")
            .or_else(|| rest.strip_prefix("static file "))?;
        rest.starts_with(action).then(|| {
            let unmodified = rest
                .split(", ")
                .find_map(|part| {
                    part.strip_suffix(" unmodified")
                        .or_else(|| part.strip_suffix(" unmodified."))
                })
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(0);
            (count, unmodified)
        })
    });
    let Some((modified, unmodified)) = summary else {
        return Decision::Fail(format!(
            "cannot read `collectstatic --dry-run`'s summary: {out}"
        ));
    };
    let deleted = out
        .lines()
        .filter(|l| l.starts_with("Pretending to delete "))
        .count();
    let verb = if link { "link" } else { "copy" };
    let files = |n: usize| format!("{n} static file{}", if n == 1 { "" } else { "s" });
    let what = if clear && deleted > 0 {
        format!(
            "delete {} and {verb} {} (`clear`)",
            if deleted == 1 {
                "1 file".to_string()
            } else {
                format!("{deleted} files")
            },
            files(modified + unmodified)
        )
    } else if modified > 0 {
        format!("{verb} {} (`collectstatic --dry-run`)", files(modified))
    } else {
        return Decision::Ok(format!(
            "{} unmodified, none to {verb} (`collectstatic --dry-run`)",
            files(unmodified)
        ));
    };
    match run {
        Decision::Change { run, .. } => Decision::Change { what, run },
        other => other,
    }
}

/// `createcachetable --dry-run -v 2`: the SQL of each missing table, or
/// "Cache table '…' already exists." for each one there.
fn createcachetable(out: &str, run: Decision) -> Decision {
    let missing: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("CREATE TABLE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(|t| t.trim_matches('"').trim_matches('`'))
        .collect();
    if missing.is_empty() {
        let existing = out
            .lines()
            .filter(|l| l.ends_with("already exists."))
            .count();
        return Decision::Ok(if existing == 0 {
            "no database cache is configured".into()
        } else {
            "every cache table exists (`createcachetable --dry-run`)".into()
        });
    }
    match run {
        Decision::Change { run, .. } => Decision::Change {
            what: format!("create cache table {}", missing.join(", ")),
            run,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(kind: Kind, argv: &[&str]) -> DjangoManage {
        DjangoManage {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            kind,
            project_path: "/srv/app".into(),
            virtualenv: Some("/srv/venv".into()),
            settings: Some("site.settings".into()),
            pythonpath: None,
        }
    }

    fn what(decision: Decision) -> String {
        match decision {
            Decision::Change { what, .. } => what,
            other => panic!("not a change: {other:?}"),
        }
    }

    /// Django 5.2's `migrate --plan`, before and after `migrate`.
    #[test]
    fn migrate_plan_names_the_unapplied_migrations_and_an_empty_plan_is_ok() {
        let m = module(Kind::Migrate, &["migrate", "--noinput"]);
        let pending = "Planned operations:\nnotes.0001_initial\n    Create model Note\nnotes.0002_note_done\n    Add field done to note\n";
        assert_eq!(
            what(m.decide(pending).0),
            "apply notes.0001_initial, notes.0002_note_done (`manage.py migrate --noinput` in `/srv/app`)"
        );
        let (done, fields) = m.decide("Planned operations:\n  No planned migration operations.\n");
        assert_eq!(
            done,
            Decision::Ok("no migration to apply (`migrate --plan`)".into())
        );
        assert_eq!(
            fields["cmd"],
            json!(["manage.py", "migrate", "--noinput", "--plan", "--no-color"])
        );
        assert!(matches!(m.decide("Traceback").0, Decision::Fail(_)));
    }

    /// Django 5.2's `collectstatic --dry-run` output, first and second time,
    /// and with `--clear` (the dry run counts what it would delete as
    /// unmodified) and `--link`.
    #[test]
    fn collectstatic_dry_run_counts_what_would_be_copied_and_clear_recopies_everything() {
        let m = module(
            Kind::Collectstatic {
                clear: false,
                link: false,
            },
            &["collectstatic", "--noinput"],
        );
        let first = "\nYou have activated the --dry-run option so no files will be modified.\n\nPretending to copy '/srv/app/notes/static/notes/style.css'\n\n1 static file copied to '/srv/app/static'.\n";
        assert_eq!(
            what(m.decide(first).0),
            "copy 1 static file (`collectstatic --dry-run`)"
        );
        let again = "\n0 static files copied to '/srv/app/static', 1 unmodified.\n";
        assert_eq!(
            m.decide(again).0,
            Decision::Ok(
                "1 static file unmodified, none to copy (`collectstatic --dry-run`)".into()
            )
        );
        // 10 is not 0: Ansible's own test ("0 static files" in the line)
        // would call this unchanged.
        let ten = "\n10 static files copied to '/srv/app/static', 2 unmodified.\n";
        assert_eq!(
            what(m.decide(ten).0),
            "copy 10 static files (`collectstatic --dry-run`)"
        );
        let clear = module(
            Kind::Collectstatic {
                clear: true,
                link: false,
            },
            &["collectstatic", "--noinput", "--clear"],
        );
        let cleared = "Pretending to delete '/srv/app/static/notes/style.css'\n\n0 static files copied to '/srv/app/static', 1 unmodified.\n";
        assert_eq!(
            what(clear.decide(cleared).0),
            "delete 1 file and copy 1 static file (`clear`)"
        );
        let link = module(
            Kind::Collectstatic {
                clear: false,
                link: true,
            },
            &["collectstatic", "--noinput", "--link"],
        );
        assert_eq!(
            what(
                link.decide("\n2 static files symlinked to '/srv/app/static'.\n")
                    .0
            ),
            "link 2 static files (`collectstatic --dry-run`)"
        );
        assert!(matches!(link.decide(first).0, Decision::Fail(_)));
    }

    #[test]
    fn createcachetable_dry_run_names_the_missing_tables() {
        let m = module(Kind::Createcachetable, &["createcachetable"]);
        let sql = "CREATE TABLE \"cache\" (\n    \"cache_key\" varchar(255) NOT NULL PRIMARY KEY,\n    \"value\" text NOT NULL,\n    \"expires\" datetime NOT NULL\n);\nCREATE INDEX \"cache_expires\" ON \"cache\" (\"expires\");\n";
        assert_eq!(what(m.decide(sql).0), "create cache table cache");
        assert_eq!(
            m.decide("Cache table 'cache' already exists.\n").0,
            Decision::Ok("every cache table exists (`createcachetable --dry-run`)".into())
        );
        assert_eq!(
            m.decide("").0,
            Decision::Ok("no database cache is configured".into())
        );
    }

    #[test]
    fn a_missing_virtualenv_fails_and_commands_without_a_dry_run_always_run() {
        let m = module(Kind::Always, &["loaddata", "initial.json"]);
        assert!(matches!(
            m.decide(&format!("{NO_VENV}\n")).0,
            Decision::Fail(_)
        ));
        let (decision, fields) = m.decide("");
        let Decision::Change { what, run } = decision else {
            panic!("a change")
        };
        assert_eq!(what, "run `manage.py loaddata initial.json` in `/srv/app`");
        assert_eq!(
            run.as_sent(),
            "export PATH=/srv/venv/bin:\"$PATH\" && export DJANGO_SETTINGS_MODULE=site.settings && export VIRTUAL_ENV=/srv/venv && cd /srv/app && /srv/venv/bin/python manage.py loaddata initial.json"
        );
        assert_eq!(
            fields["cmd"],
            json!(["manage.py", "loaddata", "initial.json"])
        );
        assert_eq!(fields["settings"], json!("site.settings"));
    }
}
