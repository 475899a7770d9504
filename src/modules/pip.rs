//! `pip`: Python packages in a virtualenv (or for a pip on the host), by
//! name or from a requirements file, as Ansible's module installs them.
//!
//! The probe asks pip itself what it would do — `pip install --dry-run
//! --report` (pip 22.2 and later) resolves the requirements against the
//! index without installing — so `ok` means pip found every requirement
//! satisfied, and check mode names the packages the run then installs.
//! `state: absent` reads `pip freeze`.

use serde::Serialize;
use serde_json::{Map, Value};

use super::edit::bool_arg;
use super::probed::{Decision, Probed, Prober};
use super::{Action, Args};
use crate::diagnostic::Diagnostic;
use crate::shell::{Command, quote};

pub const KEYS: &[&str] = &[
    "name",
    "version",
    "requirements",
    "virtualenv",
    "virtualenv_command",
    "virtualenv_python",
    "virtualenv_site_packages",
    "state",
    "extra_args",
    "chdir",
    "executable",
];

/// The first line of the probe when the virtualenv does not exist yet.
const NO_VENV: &str = "venv=missing";

#[derive(Debug, Clone, Serialize)]
pub struct Pip {
    /// Requirement specifiers (`django`, `gunicorn==23.0.0`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requirements: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub virtualenv: Option<String>,
    /// The command that creates the virtualenv, as words.
    pub virtualenv_command: Vec<String>,
    pub state: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_args: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chdir: Option<String>,
    pub pip: String,
}

pub fn pip(args: &Args) -> Result<Action, Diagnostic> {
    let mut names: Vec<String> = match args.get("name") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        Some(_) => args
            .string("name")?
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    };
    if let Some(version) = args.string("version")? {
        match names.as_mut_slice() {
            [one] => *one = format!("{one}=={version}"),
            _ => return Err(args.error_at("version", "`version` needs exactly one `name`")),
        }
    }
    let requirements = args.string("requirements")?;
    if names.is_empty() == requirements.is_none() {
        return Err(args.error("module `pip` needs `name` or `requirements` (one of them)"));
    }
    let state = args.string("state")?.unwrap_or_else(|| "present".into());
    if !["present", "latest", "absent", "forcereinstall"].contains(&state.as_str()) {
        return Err(args.error_at(
            "state",
            format!(
                "`state` must be `present`, `latest`, `absent` or `forcereinstall`, not `{state}`"
            ),
        ));
    }
    if state == "absent" && names.is_empty() {
        return Err(args.error_at("state", "`state: absent` needs `name`"));
    }
    let words = |key: &str| -> Result<Vec<String>, Diagnostic> {
        match args.string(key)? {
            None => Ok(Vec::new()),
            Some(text) => shlex::split(&text)
                .ok_or_else(|| args.error_at(key, format!("unbalanced quotes in `{key}`"))),
        }
    };
    let virtualenv = args.string("virtualenv")?;
    let mut virtualenv_command = words("virtualenv_command")?;
    if virtualenv_command.is_empty() {
        virtualenv_command.push("virtualenv".into());
    }
    let is_venv = virtualenv_command
        .iter()
        .any(|w| w == "venv" || w.ends_with("pyvenv"));
    if let Some(python) = args.string("virtualenv_python")? {
        if is_venv {
            return Err(args.error_at(
                "virtualenv_python",
                "`virtualenv_python` is for `virtualenv`; with `python3 -m venv`, name the python in `virtualenv_command`",
            ));
        }
        virtualenv_command.extend(["-p".into(), python]);
    }
    if bool_arg(args, "virtualenv_site_packages", false)? {
        virtualenv_command.push("--system-site-packages".into());
    }
    let pip = match (&virtualenv, args.string("executable")?) {
        (Some(_), Some(_)) => {
            return Err(args.error("give `pip` `virtualenv` or `executable`, not both"));
        }
        (Some(venv), None) => format!("{}/bin/pip", venv.trim_end_matches('/')),
        (None, Some(exe)) => exe,
        (None, None) => "pip3".into(),
    };
    let spec = Pip {
        names,
        requirements,
        virtualenv,
        virtualenv_command,
        state,
        extra_args: words("extra_args")?,
        chdir: args.string("chdir")?,
        pip,
    };
    Ok(Action::Probed {
        probed: Probed {
            probe: spec.probe(),
            module: Prober::Pip(spec),
            stdin: None,
            env: Vec::new(),
            become_user: None,
            asks_password: false,
        },
    })
}

impl Pip {
    /// The packages, as pip takes them: `-r FILE` or the names.
    fn packages(&self) -> Vec<String> {
        match &self.requirements {
            Some(file) => vec!["-r".into(), file.clone()],
            None => self.names.clone(),
        }
    }

    fn within(&self, command: Command) -> Command {
        match &self.chdir {
            Some(dir) => command.in_dir(dir),
            None => command,
        }
    }

    fn probe(&self) -> Command {
        let mut script = format!("# pip: probe {}\n", self.what());
        if let Some(venv) = &self.virtualenv {
            script.push_str(&format!(
                "[ -x {}/bin/python ] || {{ echo {NO_VENV}; exit 0; }}\n",
                quote(venv.trim_end_matches('/'))
            ));
        }
        let pip = if self.state == "absent" {
            Command::new(&self.pip).args(["freeze", "--all"])
        } else {
            let mut pip = Command::new(&self.pip).args([
                "install",
                "--dry-run",
                "--quiet",
                "--disable-pip-version-check",
                "--report",
                "-",
            ]);
            if self.state == "latest" {
                pip = pip.arg("--upgrade");
            }
            pip.args(&self.extra_args).args(self.packages())
        };
        script.push_str("echo venv=ok\n");
        script.push_str(self.within(pip).as_sent());
        Command::script(script)
    }

    fn what(&self) -> String {
        let packages = match &self.requirements {
            Some(file) => format!("the requirements in `{file}`"),
            None => format!("`{}`", self.names.join("`, `")),
        };
        match &self.virtualenv {
            Some(venv) => format!("{packages} in `{venv}`"),
            None => format!("{packages} for `{}`", self.pip),
        }
    }

    pub fn creates(&self, probe: &str) -> Option<String> {
        let missing = probe.lines().next() == Some(NO_VENV) && self.state != "absent";
        self.virtualenv.clone().filter(|_| missing)
    }

    pub fn after_created(&self) -> String {
        match self.state.as_str() {
            "absent" => format!("remove {}, which an earlier step would create", self.what()),
            _ => format!("install {}, once an earlier step creates it", self.what()),
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "pip: {} {} (probe: pip's own dry run)",
            self.state,
            self.what()
        )
    }

    pub fn decide(&self, probe: &str) -> (Decision, Map<String, Value>) {
        let out = Map::new();
        let (first, rest) = probe.split_once('\n').unwrap_or((probe, ""));
        if first == NO_VENV {
            if self.state == "absent" {
                return (
                    Decision::Ok(format!(
                        "`{}` does not exist: nothing to remove",
                        self.virtualenv.as_deref().unwrap_or_default()
                    )),
                    out,
                );
            }
            return (
                Decision::Change {
                    what: format!("create the virtualenv and install {}", self.what()),
                    run: self.run(true),
                },
                out,
            );
        }
        if self.state == "forcereinstall" {
            return (
                Decision::Change {
                    what: format!("reinstall {}", self.what()),
                    run: self.run(false),
                },
                out,
            );
        }
        if self.state == "absent" {
            let installed: Vec<String> = rest
                .lines()
                .filter_map(|l| l.split_once("==").map(|(n, _)| normalize(n)))
                .collect();
            let present: Vec<&String> = self
                .names
                .iter()
                .filter(|n| installed.contains(&normalize(project_name(n))))
                .collect();
            if present.is_empty() {
                return (
                    Decision::Ok(format!("none of {} is installed", self.what())),
                    out,
                );
            }
            let names: Vec<&str> = present.iter().map(|s| s.as_str()).collect();
            return (
                Decision::Change {
                    what: format!("remove `{}`", names.join("`, `")),
                    run: self.within(
                        Command::new(&self.pip)
                            .args(["uninstall", "-y", "--disable-pip-version-check"])
                            .args(names.iter().map(|n| project_name(n))),
                    ),
                },
                out,
            );
        }
        let report: Value = match serde_json::from_str(rest.trim()) {
            Ok(report) => report,
            Err(err) => {
                return (
                    Decision::Fail(format!(
                        "could not read pip's dry-run report ({err}): pip 22.2 or later is needed"
                    )),
                    out,
                );
            }
        };
        let mut would: Vec<String> = report["install"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|item| {
                let meta = &item["metadata"];
                format!(
                    "{}=={}",
                    meta["name"].as_str().unwrap_or("?"),
                    meta["version"].as_str().unwrap_or("?")
                )
            })
            .collect();
        would.sort();
        if would.is_empty() {
            return (
                Decision::Ok(format!("pip finds {} satisfied", self.what())),
                out,
            );
        }
        (
            Decision::Change {
                what: format!("install {}", would.join(", ")),
                run: self.run(false),
            },
            out,
        )
    }

    /// Creates the virtualenv (when `fresh`), then installs.
    fn run(&self, fresh: bool) -> Command {
        let mut pip = Command::new(&self.pip).args(["install", "--disable-pip-version-check"]);
        match self.state.as_str() {
            "latest" => pip = pip.arg("--upgrade"),
            "forcereinstall" => pip = pip.args(["--upgrade", "--force-reinstall"]),
            _ => {}
        }
        let pip = self.within(pip.args(&self.extra_args).args(self.packages()));
        match (&self.virtualenv, fresh) {
            (Some(venv), true) => {
                let (program, rest) = self
                    .virtualenv_command
                    .split_first()
                    .expect("a virtualenv command has a program");
                self.within(Command::new(program).args(rest).arg(venv))
                    .and(pip)
            }
            _ => pip,
        }
    }
}

/// `Django==5.2` → `Django`.
fn project_name(spec: &str) -> &str {
    let end = spec
        .find(|c: char| "=<>!~;[ ".contains(c))
        .unwrap_or(spec.len());
    &spec[..end]
}

/// PEP 503: names compare lowercase, with runs of `-_.` as one `-`.
fn normalize(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if "-_.".contains(c) {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(state: &str) -> Pip {
        Pip {
            names: vec!["Django==5.2".into(), "gunicorn".into()],
            requirements: None,
            virtualenv: Some("/srv/venv".into()),
            virtualenv_command: vec!["python3".into(), "-m".into(), "venv".into()],
            state: state.into(),
            extra_args: vec!["--no-index".into()],
            chdir: None,
            pip: "/srv/venv/bin/pip".into(),
        }
    }

    #[test]
    fn a_missing_virtualenv_is_created_then_installed_into() {
        let (decision, _) = spec("present").decide("venv=missing\n");
        let Decision::Change { what, run } = decision else {
            panic!()
        };
        assert_eq!(
            what,
            "create the virtualenv and install `Django==5.2`, `gunicorn` in `/srv/venv`"
        );
        assert_eq!(
            run.as_sent(),
            "python3 -m venv /srv/venv && /srv/venv/bin/pip install --disable-pip-version-check --no-index Django==5.2 gunicorn"
        );
    }

    #[test]
    fn pips_dry_run_report_decides() {
        let none = "venv=ok\n{\"version\": \"1\", \"install\": []}\n";
        assert_eq!(
            spec("present").decide(none).0,
            Decision::Ok("pip finds `Django==5.2`, `gunicorn` in `/srv/venv` satisfied".into())
        );
        let some = r#"venv=ok
{"install": [{"metadata": {"name": "gunicorn", "version": "23.0.0"}}, {"metadata": {"name": "Django", "version": "5.2"}}]}"#;
        let Decision::Change { what, .. } = spec("present").decide(some).0 else {
            panic!()
        };
        assert_eq!(what, "install Django==5.2, gunicorn==23.0.0");
        assert!(matches!(
            spec("present").decide("venv=ok\nnot json").0,
            Decision::Fail(_)
        ));
    }

    #[test]
    fn absent_reads_freeze_with_normalized_names() {
        let frozen = "venv=ok\ndjango==5.2\npip==23.0.1\n";
        let Decision::Change { what, run } = spec("absent").decide(frozen).0 else {
            panic!()
        };
        assert_eq!(what, "remove `Django==5.2`");
        assert!(
            run.as_sent()
                .ends_with("uninstall -y --disable-pip-version-check Django"),
            "{run}"
        );
        assert!(matches!(
            spec("absent").decide("venv=ok\npip==23\n").0,
            Decision::Ok(_)
        ));
        assert_eq!(normalize("Zope.Interface_x"), "zope-interface-x");
    }
}
