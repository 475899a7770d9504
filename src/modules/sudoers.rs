//! `sudoers` (`community.general.sudoers`): one rule in a file of its own
//! under `/etc/sudoers.d`, written only after `visudo -cf` accepts it — a
//! broken sudoers file would lock every sudo user out of the server.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::probed::{Decision, Probed, Prober};
use super::{Action, Args};
use crate::diagnostic::Diagnostic;
use crate::shell::{Command, quote};

pub const KEYS: &[&str] = &[
    "name",
    "user",
    "group",
    "commands",
    "nopassword",
    "runas",
    "host",
    "setenv",
    "state",
    "sudoers_path",
    "validation",
];

#[derive(Debug, Clone, Serialize)]
pub struct Sudoers {
    pub path: String,
    /// The file's whole content; `None` for `state: absent`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    pub validate: bool,
    /// `validation: required`: no visudo on the host is a failure; with
    /// `detect` (the default) the rule is then written unchecked, as
    /// Ansible's module does.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub require_visudo: bool,
}

pub fn sudoers(args: &Args) -> Result<Action, Diagnostic> {
    let name = args.required("name", "sudoers")?;
    if name.contains('/') || name.contains('.') || name.ends_with('~') {
        // sudo skips files in sudoers.d whose names hold a `.` or end in `~`.
        return Err(args.error_at(
            "name",
            format!("`{name}` would be ignored by sudo: a name without `/`, `.` or a final `~`"),
        ));
    }
    let dir = args
        .string("sudoers_path")?
        .unwrap_or_else(|| "/etc/sudoers.d".into());
    let path = format!("{}/{name}", dir.trim_end_matches('/'));
    let present = match args.string("state")?.as_deref() {
        None | Some("present") => true,
        Some("absent") => false,
        Some(other) => {
            return Err(args.error_at(
                "state",
                format!("`state` must be `present` or `absent`, not `{other}`"),
            ));
        }
    };
    let validation = args.string("validation")?;
    let require_visudo = validation.as_deref() == Some("required");
    let validate = match validation.as_deref() {
        None | Some("detect") | Some("required") => true,
        Some("absent") => false,
        Some(other) => {
            return Err(args.error_at(
                "validation",
                format!("`validation` must be `detect`, `required` or `absent`, not `{other}`"),
            ));
        }
    };
    let content = if present {
        let owner = match (args.string("user")?, args.string("group")?) {
            (Some(user), None) => user,
            (None, Some(group)) => format!("%{group}"),
            _ => return Err(args.error("module `sudoers` needs `user` or `group` (one of them)")),
        };
        let commands = args.list("commands")?;
        if commands.is_empty() {
            return Err(
                args.error("module `sudoers` needs `commands` (`ALL`, or a list of full paths)")
            );
        }
        let host = args.string("host")?.unwrap_or_else(|| "ALL".into());
        let runas = args
            .string("runas")?
            .map(|r| format!("({r}) "))
            .unwrap_or_default();
        let nopassword = if args.flag("nopassword")?.unwrap_or(true) {
            "NOPASSWD: "
        } else {
            ""
        };
        let setenv = if args.flag("setenv")?.unwrap_or(false) {
            "SETENV: "
        } else {
            ""
        };
        Some(format!(
            "{owner} {host}={runas}{nopassword}{setenv}{}\n",
            commands.join(", ")
        ))
    } else {
        None
    };
    let module = Sudoers {
        path,
        content,
        validate,
        require_visudo,
    };
    Ok(Action::Probed {
        probed: Probed {
            probe: Command::script(format!(
                "# sudoers: read `{0}`\nif [ -f {1} ]; then echo exists=1; sed 's/^/line=/' {1}; fi; exit 0",
                module.path,
                quote(&module.path)
            )),
            stdin: module.content.clone(),
            module: Prober::Sudoers(module),
            env: Vec::new(),
            become_user: None,
            asks_password: false,
        },
    })
}

impl Sudoers {
    pub fn describe(&self) -> String {
        match &self.content {
            Some(content) => format!("sudo rule `{}` in `{}`", content.trim(), self.path),
            None => format!("no `{}`", self.path),
        }
    }

    pub fn decide(&self, probe: &str) -> (Decision, Map<String, Value>) {
        let mut fields = Map::new();
        fields.insert("rule".into(), json!(self.content));
        let exists = probe.lines().any(|l| l == "exists=1");
        let have: String = probe
            .lines()
            .filter_map(|l| l.strip_prefix("line="))
            .map(|l| format!("{l}\n"))
            .collect();
        let decision = match &self.content {
            None if !exists => Decision::Ok(format!("`{}` does not exist", self.path)),
            None => {
                fields.insert(
                    "diff".into(),
                    json!({ "path": self.path, "before": have, "after": null }),
                );
                Decision::Change {
                    what: format!("remove `{}`", self.path),
                    run: Command::new("rm").args(["-f", "--", &self.path]),
                }
            }
            Some(content) if exists && have == *content => {
                Decision::Ok(format!("`{}` holds `{}`", self.path, content.trim()))
            }
            Some(content) => {
                fields.insert(
                    "diff".into(),
                    json!({ "path": self.path, "before": exists.then_some(&have), "after": content }),
                );
                let verb = if exists { "rewrite" } else { "write" };
                let visudo = "visudo -cqf \"$tmp\" || { echo \"visudo refused the rule: $(cat \"$tmp\")\" >&2; rm -f \"$tmp\"; exit 1; }";
                let check = match (self.validate, self.require_visudo) {
                    (false, _) => String::new(),
                    (true, true) => format!(
                        "command -v visudo >/dev/null || {{ echo 'visudo is not installed (validation: required)' >&2; rm -f \"$tmp\"; exit 1; }}\n{visudo}\n"
                    ),
                    (true, false) => {
                        format!("if command -v visudo >/dev/null; then {visudo}; fi\n")
                    }
                };
                Decision::Change {
                    what: format!("{verb} `{}` with `{}`", self.path, content.trim()),
                    run: Command::script(format!(
                        "# sudoers: {verb} {0}\nset -e\nf={0}\ntmp=$(mktemp \"$f.XXXXXX\")\ncat >\"$tmp\"\n{check}chmod 440 \"$tmp\"\nchown root:root \"$tmp\"\nmv -f \"$tmp\" \"$f\"",
                        quote(&self.path)
                    )),
                }
            }
        };
        (decision, fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(content: Option<&str>) -> Sudoers {
        Sudoers {
            path: "/etc/sudoers.d/app".into(),
            content: content.map(str::to_string),
            validate: true,
            require_visudo: false,
        }
    }

    #[test]
    fn the_same_rule_is_ok_and_another_is_written_only_through_visudo() {
        let have = "exists=1\nline=app ALL=NOPASSWD: ALL\n";
        assert!(matches!(
            rule(Some("app ALL=NOPASSWD: ALL\n")).decide(have).0,
            Decision::Ok(_)
        ));
        let Decision::Change { what, run } =
            rule(Some("app ALL=(root) NOPASSWD: ALL\n")).decide(have).0
        else {
            panic!("a change")
        };
        assert_eq!(
            what,
            "rewrite `/etc/sudoers.d/app` with `app ALL=(root) NOPASSWD: ALL`"
        );
        let run = run.as_sent().to_string();
        assert!(run.contains("visudo -cqf \"$tmp\""), "{run}");
        assert!(
            run.find("visudo").unwrap() < run.find("mv -f").unwrap(),
            "{run}"
        );
        assert!(matches!(rule(None).decide("").0, Decision::Ok(_)));
    }

    /// Regression: with no visudo on the host, `validation: detect` (the
    /// default) said "visudo refused the rule" and failed.
    #[test]
    fn without_visudo_detect_writes_the_rule_unchecked_and_required_fails_saying_why() {
        let run = |require_visudo| {
            let mut m = rule(Some("app ALL=NOPASSWD: ALL\n"));
            m.require_visudo = require_visudo;
            let Decision::Change { run, .. } = m.decide("").0 else {
                panic!("a change")
            };
            run.as_sent().to_string()
        };
        assert!(run(false).contains("if command -v visudo >/dev/null; then visudo -cqf"));
        assert!(run(true).contains("visudo is not installed (validation: required)"));
    }
}
