//! `service`: start, stop, restart or reload a process under systemd or
//! supervisor, and confirm what runs serves the release it should.
//!
//! A restart is only done when it is needed: when `serves` is given (it
//! defaults to `current_path` inside a deploy), the check passes when every
//! process of the service already runs in the release that path points to,
//! so deploying the same revision twice restarts nothing. After a restart the
//! step waits until the processes run there, and fails otherwise: gunicorn
//! resolves its working directory when it starts, so a HUP keeps serving the
//! old release, and only this check tells.

use super::{Action, Args, Check};
use crate::diagnostic::Diagnostic;
use crate::shell::{Command, quote};

pub const KEYS: &[&str] = &[
    "name",
    "state",
    "manager",
    "supervisorctl",
    "pidfile",
    "serves",
    "upgrade",
    "wait",
    "enabled",
];

/// Ansible's `service` with `enabled` (at boot): a systemd unit, as the
/// `systemd` module makes it — started only when `state` says so. ferry's
/// own keys (`serves`, `upgrade`, …) are about restarting a release's
/// processes, not about boot, and do not mix with it.
fn enabled(args: &Args) -> Result<Action, Diagnostic> {
    if args.string("manager")?.as_deref() == Some("supervisor") {
        return Err(args.error_at(
            "enabled",
            "supervisor starts its programs at boot by their `autostart`: `enabled` is for systemd units",
        ));
    }
    for key in ["serves", "upgrade", "pidfile", "wait", "supervisorctl"] {
        if args.get(key).is_some() {
            return Err(args.error_at(
                key,
                format!("`{key}` does not go with `enabled`: make two tasks, one that enables the unit at boot and one that restarts it"),
            ));
        }
    }
    super::systemd::systemd(args)
}

/// The functions every service script starts with.
const LIBRARY: &str = include_str!("sh/service.sh");

pub fn service(args: &Args) -> Result<Action, Diagnostic> {
    if args.get("enabled").is_some() {
        return enabled(args);
    }
    let name = args.required("name", "service")?;
    let state = args.string("state")?.unwrap_or_else(|| "started".into());
    let manager = args.string("manager")?.unwrap_or_else(|| "auto".into());
    if !["auto", "systemd", "supervisor"].contains(&manager.as_str()) {
        return Err(args.error_at(
            "manager",
            format!("`manager` must be `auto`, `systemd` or `supervisor`, not `{manager}`"),
        ));
    }
    let upgrade = args.string("upgrade")?;
    let pidfile = args.string("pidfile")?;
    match upgrade.as_deref() {
        None | Some("restart") => {}
        Some("usr2") if pidfile.is_none() => {
            return Err(args.error_at(
                "upgrade",
                "`upgrade: usr2` needs `pidfile`: the gunicorn master's pid file (a glob for several)",
            ));
        }
        Some("usr2") => {}
        Some(other) => {
            return Err(args.error_at(
                "upgrade",
                format!("`upgrade` must be `restart` or `usr2`, not `{other}`"),
            ));
        }
    }
    let serves = match args.string("serves")? {
        Some(path) => Some(path),
        None if matches!(state.as_str(), "restarted" | "reloaded") => {
            (args.cx.lookup)("current_path").and_then(|v| v.as_str().map(str::to_string))
        }
        None => None,
    };
    let wait = match args.get("wait") {
        None => 30,
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| args.error_at("wait", "`wait` must be a number of seconds"))?,
    };
    let unit = if name.contains('.') || name.contains('@') {
        name.clone()
    } else {
        format!("{name}.service")
    };
    let settings = format!(
        "name={} manager={manager} unit={} supervisorctl={} pidfiles={} serves={} wait={wait}\n",
        quote(&name),
        quote(&unit),
        quote(
            &args
                .string("supervisorctl")?
                .unwrap_or_else(|| "supervisorctl".into())
        ),
        // Unquoted on use: a glob for several masters.
        quote(pidfile.as_deref().unwrap_or("")),
        quote(serves.as_deref().unwrap_or("")),
    );
    let release = serves
        .as_deref()
        .map(|s| format!(" serving `{s}`"))
        .unwrap_or_default();
    let (test, satisfied, body, what) = match state.as_str() {
        "started" => (
            Some("running"),
            format!("{name} is running"),
            "control start\nsettle",
            format!("start {name}"),
        ),
        "stopped" => (
            Some("none_running"),
            format!("{name} is stopped"),
            "control stop",
            format!("stop {name}"),
        ),
        "restarted" => (
            serves.as_ref().map(|_| "running && serving"),
            format!("{name} is running{release} already"),
            if upgrade.as_deref() == Some("usr2") {
                "upgrade"
            } else {
                "control restart\nsettle"
            },
            match upgrade.as_deref() {
                Some("usr2") => format!("upgrade {name} with USR2 (no request dropped)"),
                _ => format!("restart {name}"),
            },
        ),
        "reloaded" => (
            None,
            String::new(),
            "control reload\nsettle",
            format!("reload {name}"),
        ),
        other => {
            return Err(args.error_at(
                "state",
                format!(
                    "`state` must be `started`, `stopped`, `restarted` or `reloaded`, not `{other}`"
                ),
            ));
        }
    };
    let would = match upgrade.as_deref() {
        Some("usr2") if state == "restarted" => format!("upgrade `{name}` with USR2"),
        _ => {
            let verb = match state.as_str() {
                "started" => "start",
                "stopped" => "stop",
                "reloaded" => "reload",
                _ => "restart",
            };
            format!("{verb} `{name}`")
        }
    };
    let script = |body: &str| {
        Command::script(format!(
            "# service: {what}{release}\n{settings}{LIBRARY}pick_manager\n{body}"
        ))
    };
    Ok(Action::Remote {
        check: test.map(|test| Check {
            command: script(test),
            satisfied,
            would: Some(would),
        }),
        run: script(body),
        upload: None,
    })
}
