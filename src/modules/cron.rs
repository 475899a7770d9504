//! `cron`: a job in a user's crontab (or in a file of `/etc/cron.d` with
//! `cron_file`), kept under Ansible's `#Ansible: NAME` marker line so that
//! crontabs Ansible manages stay managed the same way.
//!
//! A file edit like `lineinfile`'s: the crontab is read (`crontab -l`), the
//! new one computed here, and installed (`crontab -`, from stdin) only when
//! it differs; check mode stops after the computation.

use serde::Serialize;

use super::edit::{self, Change, Edited, FileEdit};
use super::{Action, Args};
use crate::diagnostic::Diagnostic;
use crate::shell::{Command, quote};

pub const KEYS: &[&str] = &[
    "name",
    "job",
    "state",
    "user",
    "minute",
    "hour",
    "day",
    "month",
    "weekday",
    "special_time",
    "disabled",
    "cron_file",
];

/// Ansible's marker, the line before each job it manages.
const MARKER: &str = "#Ansible: ";

#[derive(Debug, Clone, Serialize)]
pub struct Cron {
    pub name: String,
    /// The job's line as it should read; `None`: the job is removed.
    pub line: Option<String>,
}

pub fn cron(args: &Args) -> Result<Action, Diagnostic> {
    let name = args.required("name", "cron")?;
    if name.contains('\n') {
        return Err(args.error_at("name", "a cron job's `name` is one line"));
    }
    let state = args.string("state")?.unwrap_or_else(|| "present".into());
    let user = args.string("user")?;
    let cron_file = args.string("cron_file")?;
    let line = match state.as_str() {
        "absent" => None,
        "present" => {
            let job = args.required("job", "cron")?;
            if job.contains('\n') {
                return Err(args.error_at("job", "a cron `job` is one line"));
            }
            let when = match args.string("special_time")? {
                Some(special) => {
                    const SPECIAL: &[&str] = &[
                        "reboot", "yearly", "annually", "monthly", "weekly", "daily", "hourly",
                    ];
                    if !SPECIAL.contains(&special.as_str()) {
                        return Err(args.error_at(
                            "special_time",
                            format!(
                                "`special_time` must be one of {}, not `{special}`",
                                SPECIAL.join(", ")
                            ),
                        ));
                    }
                    format!("@{special}")
                }
                None => {
                    let mut fields = Vec::new();
                    for key in ["minute", "hour", "day", "month", "weekday"] {
                        let field = args.string(key)?.unwrap_or_else(|| "*".into());
                        if field.is_empty() || field.contains(char::is_whitespace) {
                            return Err(args.error_at(
                                key,
                                format!("`{key}` must be one cron field, not `{field}`"),
                            ));
                        }
                        fields.push(field);
                    }
                    fields.join(" ")
                }
            };
            let disabled = if args.flag("disabled")?.unwrap_or(false) {
                "#"
            } else {
                ""
            };
            Some(match (&cron_file, &user) {
                (Some(_), Some(user)) => format!("{disabled}{when} {user} {job}"),
                (Some(_), None) => {
                    return Err(args.error_at(
                        "cron_file",
                        "a job in a `cron_file` needs `user`: the file names who runs it",
                    ));
                }
                (None, _) => format!("{disabled}{when} {job}"),
            })
        }
        other => {
            return Err(args.error_at(
                "state",
                format!("`state` must be `present` or `absent`, not `{other}`"),
            ));
        }
    };
    let change = Change::Cron(Cron { name, line });
    let edit = match cron_file {
        Some(file) => {
            let path = if file.starts_with('/') {
                file
            } else {
                format!("/etc/cron.d/{file}")
            };
            edit::file_edit(args, path, change, true)?
        }
        None => crontab(user.as_deref(), change),
    };
    Ok(Action::Edit { edit })
}

/// A user's crontab as a file edit: read with `crontab -l`, installed with
/// `crontab -` (cron's own files are not to be written directly).
fn crontab(user: Option<&str>, change: Change) -> FileEdit {
    let program = match user {
        Some(user) => format!("crontab -u {}", quote(user)),
        None => "crontab".to_string(),
    };
    let who = user.map_or_else(|| "\"$(id -un)\"".to_string(), quote);
    let path = match user {
        Some(user) => format!("crontab of {user}"),
        None => "crontab".to_string(),
    };
    FileEdit {
        path,
        change,
        create: true,
        mode: None,
        owner: None,
        group: None,
        // A crontab is the user's own: 600, as cron keeps it.
        read: Command::script(format!(
            "if {program} -l >/dev/null 2>&1; then echo present 600 {who} crontab && {program} -l; else echo {}; fi",
            edit::ABSENT
        )),
        write: Command::script(format!("{program} -")),
        fix: None,
    }
}

impl Cron {
    /// The crontab with the job as wanted, and what that took.
    pub fn apply(&self, before: Option<&str>) -> Result<Edited, String> {
        let marker = format!("{MARKER}{}", self.name);
        let text = before.unwrap_or("");
        let mut lines: Vec<String> = edit::lines(text);
        let at = lines.iter().position(|l| edit::bare(l) == marker);
        let name = &self.name;
        let unchanged = |msg: String| Edited {
            after: before.map(str::to_string),
            msg,
        };
        let msg = match (at, &self.line) {
            (Some(i), Some(line)) => {
                if lines.get(i + 1).map(|l| edit::bare(l)) == Some(line.as_str()) {
                    return Ok(unchanged(format!("job `{name}` already present")));
                }
                if lines.len() == i + 1 {
                    if !lines[i].ends_with('\n') {
                        lines[i].push('\n');
                    }
                    lines.push(format!("{line}\n"));
                } else {
                    lines[i + 1] = format!("{line}\n");
                }
                format!("job `{name}` updated")
            }
            (Some(i), None) => {
                let end = (i + 2).min(lines.len());
                lines.drain(i..end);
                format!("job `{name}` removed")
            }
            (None, Some(line)) => {
                if let Some(last) = lines.last_mut()
                    && !last.ends_with('\n')
                {
                    last.push('\n');
                }
                lines.push(format!("{marker}\n"));
                lines.push(format!("{line}\n"));
                format!("job `{name}` added")
            }
            (None, None) => return Ok(unchanged(format!("no job `{name}`: nothing to remove"))),
        };
        Ok(Edited {
            after: Some(lines.concat()),
            msg,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(line: Option<&str>) -> Cron {
        Cron {
            name: "backup".into(),
            line: line.map(str::to_string),
        }
    }

    #[test]
    fn jobs_are_added_updated_and_removed_under_ansibles_marker() {
        let hand = "MAILTO=ops\n0 * * * * /usr/bin/true\n";
        let added = job(Some("0 3 * * * /srv/backup"))
            .apply(Some(hand))
            .unwrap();
        assert_eq!(
            added.after.as_deref(),
            Some("MAILTO=ops\n0 * * * * /usr/bin/true\n#Ansible: backup\n0 3 * * * /srv/backup\n")
        );
        assert_eq!(added.msg, "job `backup` added");
        let after = added.after.unwrap();
        let same = job(Some("0 3 * * * /srv/backup"))
            .apply(Some(&after))
            .unwrap();
        assert_eq!(
            (same.after.as_deref(), same.msg.as_str()),
            (Some(after.as_str()), "job `backup` already present")
        );
        let moved = job(Some("0 4 * * * /srv/backup"))
            .apply(Some(&after))
            .unwrap();
        assert_eq!(
            moved.after.as_deref(),
            Some("MAILTO=ops\n0 * * * * /usr/bin/true\n#Ansible: backup\n0 4 * * * /srv/backup\n")
        );
        let removed = job(None).apply(Some(&after)).unwrap();
        assert_eq!(
            (removed.after.as_deref(), removed.msg.as_str()),
            (Some(hand), "job `backup` removed")
        );
        let none = job(None).apply(None).unwrap();
        assert_eq!(none.after, None);
        let first = job(Some("@reboot x")).apply(None).unwrap();
        assert_eq!(
            first.after.as_deref(),
            Some("#Ansible: backup\n@reboot x\n")
        );
    }
}
