//! `dnf`/`yum` (RPM packages) and `package`, which uses whichever package
//! manager the host has.
//!
//! `package` needs no facts: its check and its command each ask the host,
//! in the same round trip, whether it has `apt-get`, `dnf` or `yum`, and
//! then run what `apt` or `dnf`/`yum` would. The check only reads (rpm's
//! and dnf's queries, dpkg's for apt), so check mode predicts the run.

use super::{Action, Args, Check};
use crate::diagnostic::Diagnostic;
use crate::shell::{Command, quote};

pub const DNF_KEYS: &[&str] = &["name", "pkg", "state", "update_cache", "disable_gpg_check"];
pub const PACKAGE_KEYS: &[&str] = &["name", "state", "use"];

/// `dnf` and `yum` (`tool`): installed, latest or absent.
pub fn dnf(args: &Args, tool: &str) -> Result<Action, Diagnostic> {
    let key = if args.get("pkg").is_some() {
        "pkg"
    } else {
        "name"
    };
    let names = args.list(key)?;
    if let Some(bad) = names.iter().find(|n| {
        !n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.:_@/*".contains(c))
    }) {
        return Err(args.error_at(key, format!("`{bad}` is not a package name")));
    }
    let state = state(args)?;
    let update = args.flag("update_cache")?.unwrap_or(false);
    if names.is_empty() {
        return Err(args.error(format!(
            "module `{tool}` needs `name` (a package or a list)"
        )));
    }
    let rpm_q = |n: &String| format!("rpm -q --whatprovides {} >/dev/null 2>&1", quote(n));
    let test = match state {
        "present" => names.iter().map(rpm_q).collect::<Vec<_>>().join(" && "),
        // check-update exits 100 when an update is available, 0 when none.
        "latest" => format!(
            "{} && {{ {tool} -q check-update {} >/dev/null 2>&1; [ $? -eq 0 ]; }}",
            names.iter().map(rpm_q).collect::<Vec<_>>().join(" && "),
            names.iter().map(|n| quote(n)).collect::<Vec<_>>().join(" ")
        ),
        _ => names
            .iter()
            .map(|n| format!("! {}", rpm_q(n)))
            .collect::<Vec<_>>()
            .join(" && "),
    };
    let mut base = Command::new(tool).args(["-y", "-q"]);
    if args.flag("disable_gpg_check")?.unwrap_or(false) {
        base = base.arg("--nogpgcheck");
    }
    if update {
        base = base.arg("--refresh");
    }
    let run = match state {
        "present" => base.arg("install").args(&names),
        "latest" => base
            .clone()
            .arg("install")
            .args(&names)
            .and(base.arg("upgrade").args(&names)),
        _ => base.arg("remove").args(&names),
    };
    let list = super::apt::list(&names);
    Ok(Action::Remote {
        check: Some(Check {
            command: Command::script(test),
            satisfied: match state {
                "present" => format!("{list} installed"),
                "latest" => format!("{list} installed, with no update available"),
                _ => format!("{list} not installed"),
            },
            would: Some(match state {
                "absent" => format!("remove {list}"),
                _ => format!("install {list}"),
            }),
        }),
        run,
        upload: None,
    })
}

/// `state`, in Ansible's words for it.
fn state(args: &Args) -> Result<&'static str, Diagnostic> {
    let state = args.string("state")?.unwrap_or_else(|| "present".into());
    Ok(match state.as_str() {
        "present" | "installed" => "present",
        "latest" => "latest",
        "absent" | "removed" => "absent",
        other => {
            return Err(args.error_at(
                "state",
                format!("`state` must be `present`, `latest` or `absent`, not `{other}`"),
            ));
        }
    })
}

/// `package`: `apt` on a host with `apt-get`, else `dnf`, else `yum` —
/// decided on the host by the check and the command themselves.
pub fn package(args: &Args) -> Result<Action, Diagnostic> {
    let wanted = args.string("use")?.unwrap_or_else(|| "auto".into());
    let managers: &[&str] = match wanted.as_str() {
        "auto" => &["apt", "dnf", "yum"],
        "apt" => &["apt"],
        "dnf" => &["dnf"],
        "yum" => &["yum"],
        other => {
            return Err(args.error_at(
                "use",
                format!("`use` must be `auto`, `apt`, `dnf` or `yum`, not `{other}`"),
            ));
        }
    };
    let mut checks = String::new();
    let mut runs = String::new();
    let mut satisfied = None;
    let mut would = None;
    for manager in managers {
        let action = match *manager {
            "apt" => super::apt::apt(args)?,
            tool => dnf(args, tool)?,
        };
        let Action::Remote {
            check: Some(check),
            run,
            ..
        } = action
        else {
            unreachable!("`apt` and `dnf` always check what they install");
        };
        let program = if *manager == "apt" {
            "apt-get"
        } else {
            manager
        };
        let branch = if checks.is_empty() { "if" } else { "elif" };
        let has = format!("{branch} command -v {program} >/dev/null 2>&1; then");
        checks.push_str(&format!("{has}\n{}\n", check.command.as_sent()));
        runs.push_str(&format!("{has}\n{}\n", run.as_sent()));
        satisfied.get_or_insert(check.satisfied);
        would.get_or_insert(check.would.unwrap_or_default());
    }
    let none = quote(&format!(
        "`package` found no {} on the host",
        managers
            .iter()
            .map(|m| format!("`{}`", if *m == "apt" { "apt-get" } else { m }))
            .collect::<Vec<_>>()
            .join(" or ")
    ));
    Ok(Action::Remote {
        check: Some(Check {
            command: Command::script(format!("{checks}else false\nfi")),
            satisfied: satisfied.unwrap_or_default(),
            would,
        }),
        run: Command::script(format!("{runs}else echo {none} >&2; exit 1\nfi")),
        upload: None,
    })
}
