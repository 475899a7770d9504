//! `systemd` (and `systemd_service`): a unit started, stopped, restarted or
//! reloaded, enabled or disabled at boot, masked or unmasked, with systemd's
//! unit files reloaded first when asked — Ansible's module, for the system
//! manager.
//!
//! The check asks systemctl whether the unit already is as wanted (active,
//! enabled, masked, and — with `daemon_reload` — whether systemd still has
//! an older copy of its unit file: `NeedDaemonReload`), so a second run is
//! `ok` and `--check` predicts exactly what a run changes. `restarted` and
//! `reloaded` always act, as in Ansible.

use super::{Action, Args, Check};
use crate::diagnostic::Diagnostic;
use crate::shell::{Command, quote};

pub const KEYS: &[&str] = &[
    "name",
    "unit",
    "service",
    "state",
    "enabled",
    "masked",
    "daemon_reload",
    "daemon-reload",
    "scope",
    "no_block",
    "force",
];

pub fn systemd(args: &Args) -> Result<Action, Diagnostic> {
    let name = ["name", "unit", "service"]
        .into_iter()
        .find_map(|k| args.string(k).transpose())
        .transpose()?;
    let state = args.string("state")?;
    if let Some(s) = &state
        && !["started", "stopped", "restarted", "reloaded"].contains(&s.as_str())
    {
        return Err(args.error_at(
            "state",
            format!("`state` must be `started`, `stopped`, `restarted` or `reloaded`, not `{s}`"),
        ));
    }
    match args.string("scope")?.as_deref() {
        None | Some("system") => {}
        Some(other) => {
            return Err(args.error_at(
                "scope",
                format!("only the system manager is supported (`scope: system`), not `{other}`"),
            ));
        }
    }
    let enabled = args.flag("enabled")?;
    let masked = args.flag("masked")?;
    let reload = args
        .flag("daemon_reload")?
        .or(args.flag("daemon-reload")?)
        .unwrap_or(false);
    let no_block = args.flag("no_block")?.unwrap_or(false);
    let Some(name) = name else {
        if reload && state.is_none() && enabled.is_none() && masked.is_none() {
            // Only a reload of the unit files: nothing to check it against.
            return Ok(Action::Remote {
                check: None,
                run: Command::new("systemctl").arg("daemon-reload"),
                upload: None,
            });
        }
        return Err(args.error("module `systemd` needs `name` (the unit)"));
    };
    if state.is_none() && enabled.is_none() && masked.is_none() && !reload {
        return Err(args.error(
            "module `systemd` needs at least one of `state`, `enabled`, `masked` or `daemon_reload`",
        ));
    }
    let unit = quote(&name);
    let systemctl = |verb: &str| {
        let cmd = Command::new("systemctl");
        let cmd = if no_block { cmd.arg("--no-block") } else { cmd };
        cmd.args([verb, "--", &name])
    };

    let mut tests = Vec::new();
    let mut satisfied = Vec::new();
    let mut steps: Vec<Command> = Vec::new();
    if reload {
        tests.push(format!(
            "[ \"$(systemctl show -p NeedDaemonReload --value -- {unit})\" != yes ]"
        ));
        satisfied.push("systemd has its current unit file".to_string());
        steps.push(Command::new("systemctl").arg("daemon-reload"));
    }
    let is_masked = format!("systemctl is-enabled -- {unit} 2>/dev/null | grep -q '^masked'");
    // In the order that works: a masked unit is unmasked before it can be
    // enabled or started, and stopped before it is masked.
    if masked == Some(false) {
        tests.push(format!("! {{ {is_masked}; }}"));
        satisfied.push("not masked".to_string());
        steps.push(systemctl("unmask"));
    }
    if state.as_deref() == Some("stopped") {
        tests.push(format!("! systemctl is-active --quiet -- {unit}"));
        satisfied.push("inactive".to_string());
        steps.push(systemctl("stop"));
    }
    match enabled {
        Some(true) => {
            tests.push(format!("systemctl is-enabled --quiet -- {unit}"));
            satisfied.push("enabled".to_string());
            steps.push(systemctl("enable"));
        }
        Some(false) => {
            tests.push(format!("! systemctl is-enabled --quiet -- {unit}"));
            satisfied.push("disabled".to_string());
            steps.push(systemctl("disable"));
        }
        None => {}
    }
    if masked == Some(true) {
        tests.push(is_masked);
        satisfied.push("masked".to_string());
        steps.push(systemctl("mask"));
    }
    let mut always = false;
    match state.as_deref() {
        Some("started") => {
            tests.push(format!("systemctl is-active --quiet -- {unit}"));
            satisfied.push("active".to_string());
            steps.push(systemctl("start"));
        }
        Some(verb @ ("restarted" | "reloaded")) => {
            always = true;
            steps.push(systemctl(if verb == "restarted" {
                "restart"
            } else {
                "reload"
            }));
        }
        _ => {}
    }
    let run = steps
        .into_iter()
        .reduce(Command::and)
        .expect("at least one step");
    let check = (!always).then(|| Check {
        command: Command::script(tests.join(" && ")),
        satisfied: format!("`{name}` is {}", satisfied.join(", ")),
        would: None,
    });
    Ok(Action::Remote {
        check,
        run,
        upload: None,
    })
}
