//! Ad-hoc work on a stage's hosts: `run` and `check`.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::json;

use super::{compile_stage, compile_synthetic, finish, run_plan};
use crate::cli::{CheckArgs, CompileArgs, RunArgs};
use crate::error::Error;
use crate::plan::{Body, Step};
use crate::playbook::{self, Library, Playbook};
use crate::stage;

/// `ferry run STAGE -- COMMAND...`: one word is a shell script, several
/// are a command and its arguments (quoted, no shell expansion).
pub(super) fn run_command(dir: &Path, args: RunArgs) -> Result<(), Error> {
    let task = match args.command.as_slice() {
        [script] => json!({ "name": script, "shell": script, "register": "output" }),
        words => {
            json!({ "name": words.join(" "), "command": { "argv": words }, "register": "output" })
        }
    };
    let playbook = json!([{ "name": "ferry run", "hosts": "all", "tasks": [task] }]);
    let compile = CompileArgs {
        limit: args.limit,
        extra_vars: Vec::new(),
        ask_become_pass: false,
        ..CompileArgs::default()
    };
    let mut plan = compile_synthetic(dir, &args.stage, "<ferry run>", &playbook, &compile)?;
    let masker = plan.masker.clone();
    let outcome = run_plan(&mut plan, dir, &args.exec, false, |results, print| {
        if args.exec.json {
            return;
        }
        for (host, registered) in results {
            let Some(out) = registered.get("output") else {
                continue;
            };
            let rc = out["rc"]
                .as_u64()
                .map_or("-".to_string(), |rc| rc.to_string());
            let mut text = format!("── {host} (rc {rc}) ──\n");
            for stream in ["stdout", "stderr"] {
                if let Some(output) = out[stream].as_str().filter(|t| !t.is_empty()) {
                    let _ = writeln!(text, "{}", masker.mask(output));
                }
            }
            print(&text);
        }
    })?;
    finish(&outcome)
}

const SUDO_CHECK: &str = "sudo";

/// The hosts whose compiled deploy runs a step through sudo: a `become`
/// whose `when:` is false for a host, or that renders false, asks nothing
/// of it. `None` when the playbook does not compile (then every host is
/// checked, if the playbook escalates anywhere).
fn hosts_needing_sudo(dir: &Path, stage: &str, limit: Option<String>) -> Option<Vec<String>> {
    let compile = CompileArgs {
        limit,
        extra_vars: Vec::new(),
        ask_become_pass: false,
        ..CompileArgs::default()
    };
    let Ok(plan) = compile_stage(dir, stage, &compile, None) else {
        let escalates = stage::playbook_path(dir)
            .ok()
            .and_then(|path| playbook::load(&path, &Library::new(Some(dir.to_path_buf()))).ok())
            .is_some_and(|p: Playbook| {
                p.plays.iter().any(|play| {
                    play.escalate == Some(true)
                        || play
                            .tasks
                            .iter()
                            .any(|t| t.escalate == Some(true) || t.escalate_if.is_some())
                })
            });
        return (!escalates).then(Vec::new);
    };
    let mut hosts: Vec<String> = plan
        .plays
        .iter()
        .flat_map(|p| &p.hosts)
        .filter(|h| {
            let runs = |step: &&Step| !matches!(step.body, Body::Skipped { .. });
            // A handler runs only if a step that can run notifies it.
            let notified: Vec<&String> = h
                .steps
                .iter()
                .filter(runs)
                .flat_map(|s| &s.notify)
                .collect();
            let handlers = h
                .handlers
                .iter()
                .filter(|handler| handler.listen.iter().any(|l| notified.contains(&l)));
            h.steps
                .iter()
                .filter(runs)
                .chain(handlers)
                .any(|step| step.become_user.is_some())
        })
        .map(|h| h.host.clone())
        .collect();
    hosts.dedup();
    Some(hosts)
}

/// `ferry check STAGE`: reach, host key and login (by connecting), then the
/// tools ferry needs, free disk at `deploy_to`, sudo when the playbook
/// escalates, and whether a deploy lock is held.
pub(super) fn check(dir: &Path, args: CheckArgs) -> Result<(), Error> {
    let sudo_hosts = hosts_needing_sudo(dir, &args.stage, args.limit.clone());
    let mut tasks = vec![
        json!({
            "name": "tools: sh tar mkdir mv ln readlink",
            "shell": "missing=; for t in sh tar mkdir mv ln readlink; do command -v \"$t\" >/dev/null 2>&1 || missing=\"$missing $t\"; done; if [ -n \"$missing\" ]; then echo \"missing:$missing\" >&2; exit 1; fi",
            "changed_when": false,
        }),
        json!({
            "name": "free disk at deploy_to",
            "shell": "d={{ deploy_to | quote }}; while [ ! -d \"$d\" ]; do d=$(dirname \"$d\"); done; free=$(df -Pk \"$d\" | awk 'NR==2 {print int($4/1024)}'); echo \"${free} MB free at $d\"; if [ \"$free\" -lt {{ min_free_mb | default(200) | int }} ]; then echo \"only ${free} MB free at $d\" >&2; exit 1; fi",
            "when": "deploy_to is defined",
            "changed_when": false,
        }),
        json!({
            "name": "no deploy lock held",
            "shell": "lock={{ (deploy_to ~ '/.ferry/lock') | quote }}; if [ -d \"$lock\" ]; then echo \"deploy lock held: $(cat \"$lock/owner\" 2>/dev/null)\" >&2; echo 'clear a stale one with: ferry unlock STAGE' >&2; exit 1; fi",
            "when": "deploy_to is defined",
            "changed_when": false,
        }),
    ];
    match &sudo_hosts {
        Some(hosts) if hosts.is_empty() => {}
        // As a deploy escalates: without a password, or with the one the
        // host's variables (or `--ask-become-pass`) give.
        Some(hosts) => tasks.push(json!({
            "name": SUDO_CHECK,
            "command": "true",
            "become": true,
            "changed_when": false,
            "when": format!("inventory_hostname in {}", json!(hosts)),
        })),
        None => tasks.push(json!({
            "name": SUDO_CHECK,
            "command": "true",
            "become": true,
            "changed_when": false,
        })),
    }
    // Each check registers its result, so its findings can be shown per host.
    for (i, task) in tasks.iter_mut().enumerate() {
        task["register"] = json!(format!("check{i}"));
    }
    let names: Vec<String> = tasks
        .iter()
        .map(|t| t["name"].as_str().unwrap_or_default().to_string())
        .collect();
    let playbook = json!([{ "name": "ferry check", "hosts": "all", "tasks": tasks }]);
    let compile = CompileArgs {
        limit: args.limit,
        extra_vars: Vec::new(),
        ask_become_pass: args.ask_become_pass,
        ..CompileArgs::default()
    };
    let mut plan = compile_synthetic(dir, &args.stage, "<ferry check>", &playbook, &compile)?;
    let json = args.exec.json;
    let outcome = run_plan(&mut plan, dir, &args.exec, false, |results, print| {
        if json {
            return;
        }
        for (host, registered) in results {
            let mut report = format!("── {host} ──\n");
            for (i, name) in names.iter().enumerate() {
                let Some(result) = registered.get(&format!("check{i}")) else {
                    continue;
                };
                let (mark, text) = match result["skipped"].as_bool() {
                    Some(true) if name == SUDO_CHECK => (
                        "-",
                        "not needed: no step of this host's deploy uses `become`",
                    ),
                    Some(true) => ("-", result["msg"].as_str().unwrap_or_default()),
                    _ if result["failed"].as_bool() == Some(true) => (
                        "✗",
                        result["stderr"]
                            .as_str()
                            .filter(|s| !s.is_empty())
                            .unwrap_or(result["msg"].as_str().unwrap_or_default()),
                    ),
                    _ => ("✓", result["stdout"].as_str().unwrap_or_default()),
                };
                let text = text.lines().collect::<Vec<_>>().join("; ");
                let _ = writeln!(
                    report,
                    "  {mark} {name}{}{text}",
                    if text.is_empty() { "" } else { ": " }
                );
            }
            print(&report);
        }
    })?;
    finish(&outcome)
}
