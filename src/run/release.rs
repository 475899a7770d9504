//! The release commands: `deploy`, `rollback`, `releases`, `unlock`.

use std::fmt::Write as _;
use std::path::Path;

use super::{ExecArgs, compile_stage, finish, git_dir, project_dir_of, run_plan, run_plan_with};
use crate::cli::{CompileArgs, DeployArgs, RollbackArgs, StageArgs};
use crate::error::Error;
use crate::executor::DeployOptions;
use crate::plan::{self, Plan};
use crate::release::lock::{self, LockOwner};
use crate::release::{layout, remote};
use crate::stage;

/// `ferry deploy STAGE`: the playbook with its release steps carried out —
/// lock, upload (only what changed), barrier, switch, rollback on failure.
pub(super) fn deploy(dir: &Path, mut args: DeployArgs) -> Result<(), Error> {
    args.exec.diff = args.diff;
    args.compile.facts = super::Gathering::Connect(Some(args.exec.clone()));
    let plan = compile_stage(dir, &args.stage, &args.compile, args.rev.as_deref())?;
    let how = Deploying {
        rev: args.rev.as_deref(),
        dry_run: args.dry_run,
        force: args.force,
        allow_dirty: args.allow_dirty,
    };
    deploy_plan(dir, plan, &args.exec, &how)
}

/// How a compiled deploy plan is to run.
pub(super) struct Deploying<'a> {
    pub rev: Option<&'a str>,
    pub dry_run: bool,
    pub force: bool,
    pub allow_dirty: bool,
}

/// Runs a compiled plan as a deploy (`ferry deploy`, and `ferry plan` for a
/// playbook with release steps, which is `deploy --dry-run`).
pub(super) fn deploy_plan(
    dir: &Path,
    mut plan: Plan,
    exec: &ExecArgs,
    how: &Deploying,
) -> Result<(), Error> {
    if let Some(host) = plan.host_with_two_releases() {
        return Err(Error::Input(crate::diagnostic::Diagnostic::plain(format!(
            "`{host}` has release steps in more than one play: one deploy makes one release per host, so put them in one play"
        ))));
    }
    let project_dir = project_dir_of(&stage::playbook_path(dir)?);
    let source = crate::release::Source::open(git_dir(&project_dir), how.rev, how.allow_dirty)
        .map_err(|e| Error::Input(crate::diagnostic::Diagnostic::plain(e.to_string())))?;
    crate::release::check_release_paths(&plan, &source).map_err(Error::Input)?;
    let owner = LockOwner::this_process(Some(source.commit()), &plan.release.id);
    let options = DeployOptions {
        source,
        release_id: plan.release.id.clone(),
        force: how.force,
        owner,
    };
    let outcome = run_plan_with(
        &mut plan,
        &project_dir,
        exec,
        how.dry_run,
        Some(&options),
        |_, _| {},
    )?;
    finish(&outcome)
}

/// The stage's deploy plan reduced to one command per host (each host once,
/// with the `deploy_to` of its release steps), for `releases` and `unlock`.
fn per_release_dir(
    dir: &Path,
    stage: &str,
    name: &str,
    command: impl Fn(&str) -> crate::shell::Command,
) -> Result<Plan, Error> {
    let mut plan = compile_stage(dir, stage, &CompileArgs::default(), None)?;
    let mut seen = std::collections::HashSet::new();
    for play in &mut plan.plays {
        play.hosts.retain_mut(|host| {
            let Some(deploy_to) = host.deploy_to() else {
                return false;
            };
            if !seen.insert(host.host.clone()) {
                return false;
            }
            host.steps = vec![plan::Step::command(name, command(&deploy_to), "out")];
            host.handlers.clear();
            true
        });
    }
    plan.plays.retain(|p| !p.hosts.is_empty());
    if plan.plays.is_empty() {
        return Err(Error::Input(crate::diagnostic::Diagnostic::plain(format!(
            "stage `{stage}` has no host with release steps (`release.upload`) in deploy.yml"
        ))));
    }
    Ok(plan)
}

/// A command's output back from its registered result. Registered stdout
/// loses its final newline (as in Ansible); the release parsers count it.
fn command_output(registered: &serde_json::Value) -> crate::transport::ExecOutput {
    let text = |key: &str| registered[key].as_str().unwrap_or_default().to_string();
    crate::transport::ExecOutput {
        status: registered["rc"].as_u64().map(|rc| rc as u32),
        signal: None,
        stdout: format!("{}\n", text("stdout")).into_bytes(),
        stderr: text("stderr").into_bytes(),
    }
}

/// `ferry releases STAGE`: every host's releases, current marked.
pub(super) fn releases(dir: &Path, args: StageArgs) -> Result<(), Error> {
    let mut plan = per_release_dir(dir, &args.stage, "releases", layout::probe)?;
    let exec = ExecArgs::quiet();
    let outcome = run_plan(&mut plan, dir, &exec, false, |results, print| {
        for (host, registered) in results {
            let mut text = format!("{host}\n");
            let out = command_output(&registered["out"]);
            match layout::parse_probe(&String::from_utf8_lossy(&out.stdout)) {
                Ok(state) if state.releases.is_empty() => text.push_str("  (no releases)\n"),
                Ok(state) => {
                    for r in state.releases.iter().rev() {
                        let mark = if state.current.as_deref() == Some(r.id.as_str()) {
                            "*"
                        } else {
                            " "
                        };
                        let commit = r.commit.as_deref().map_or("-", |c| &c[..c.len().min(10)]);
                        let state = serde_json::to_value(r.state).unwrap_or_default();
                        let state = state.as_str().unwrap_or_default();
                        let _ = writeln!(text, "  {mark} {}  {state:<10}  {commit}", r.id);
                    }
                }
                Err(err) => {
                    let _ = writeln!(text, "  cannot read the releases: {err}");
                }
            }
            print(&text);
        }
    })?;
    finish(&outcome)
}

/// `ferry rollback STAGE [--to RELEASE]`: under the deploy lock, points
/// `current` back at the newest complete release older than it (or the one
/// named) on every host, records it in the history, and runs the playbook's
/// steps after `release.switch` again (restart, health check).
pub(super) fn rollback(dir: &Path, args: RollbackArgs) -> Result<(), Error> {
    let compiled = compile_stage(dir, &args.stage, &CompileArgs::default(), None)?;
    let owner = LockOwner::this_process(None, args.to.as_deref().unwrap_or("previous"));
    // 1. Lock every host and read its releases.
    let mut probe = per_release_dir(dir, &args.stage, "lock and read releases", |deploy_to| {
        lock::acquire(deploy_to, &owner).and(layout::probe(deploy_to))
    })?;
    let mut states = std::collections::HashMap::new();
    let mut refused = Vec::new();
    // The lock-and-read round is quiet: its recap ("3 hosts succeeded")
    // would read as the rollback's, before the rollback has done anything.
    let probe_exec = ExecArgs {
        own_report: true,
        quiet: false,
        json: false,
        verbose: false,
        ..args.exec.clone()
    };
    let outcome = run_plan(&mut probe, dir, &probe_exec, false, |results, _| {
        for (host, registered) in results {
            let exec = command_output(&registered["out"]);
            if exec.success() {
                let text = String::from_utf8_lossy(&exec.stdout);
                match layout::parse_probe(&text) {
                    Ok(state) => {
                        states.insert(host.clone(), state);
                    }
                    Err(err) => refused.push(format!("{host}: cannot read the releases: {err}")),
                }
            } else if let Err(err) =
                lock::parse_acquire(&exec, &lock::this_host(), &lock::pid_running)
            {
                refused.push(format!("{host}: {err}"));
            }
        }
    })?;
    let unlock_all = |exec: &ExecArgs| -> Result<(), Error> {
        let mut unlock = per_release_dir(dir, &args.stage, "unlock", |deploy_to| {
            lock::release(deploy_to, &owner)
        })?;
        for play in &mut unlock.plays {
            play.hosts.retain(|h| states.contains_key(&h.host));
        }
        run_plan(&mut unlock, dir, exec, false, |_, _| {}).map(drop)
    };
    // 2. Choose each host's target; refuse if any host has none.
    let mut targets = std::collections::HashMap::new();
    for (host, state) in &states {
        let target = match &args.to {
            Some(id) => match state.release(id) {
                Some(r) if r.state == layout::ReleaseState::Complete => Ok(id.clone()),
                Some(_) => Err(format!("{host}: release `{id}` is not complete")),
                None => Err(format!("{host}: has no release `{id}`")),
            },
            None => layout::previous(state)
                .map(|r| r.id.clone())
                .ok_or_else(|| {
                    format!("{host}: no complete release older than `current` to go back to")
                }),
        };
        match target {
            Ok(target) => {
                targets.insert(host.clone(), (target, state.current.clone()));
            }
            Err(err) => refused.push(err),
        }
    }
    if !refused.is_empty() || !outcome.success() {
        unlock_all(&ExecArgs::quiet())?;
        return Err(Error::CannotStart(format!(
            "cannot roll back:\n  {}",
            refused.join("\n  ")
        )));
    }
    // 2b. The database may have moved on: name the migrations that the
    // target release does not know, and go on only with --yes.
    if !args.yes {
        let unknown = unknown_migrations(dir, &args.stage, &targets)?;
        if !unknown.is_empty() {
            unlock_all(&ExecArgs::quiet())?;
            return Err(Error::Input(crate::diagnostic::Diagnostic::plain(format!(
                "the database has migrations that the release to roll back to does not know:\n  {}\n\
                 its code may not run against them; migrate the database back first, or roll back anyway with `--yes`",
                unknown.join("\n  ")
            ))));
        }
    }
    // 3. Switch, record, and run the steps after the switch again.
    let mut plan = compiled;
    for play in &mut plan.plays {
        play.hosts.retain_mut(|host| {
            let (Some(deploy_to), Some((target, from))) =
                (host.deploy_to(), targets.get(&host.host))
            else {
                return false;
            };
            let line = remote::HistoryLine {
                time: jiff::Timestamp::now()
                    .strftime("%Y-%m-%dT%H:%M:%SZ")
                    .to_string(),
                user: owner.who.clone(),
                action: "rollback".to_string(),
                from: from.clone(),
                to: Some(target.clone()),
                rev: None,
            };
            let switch = remote::switch(&deploy_to, target).and(remote::history(&deploy_to, &line));
            let after = host
                .steps
                .iter()
                .position(|s| s.module == "release.switch")
                .map_or(host.steps.len(), |i| i + 1);
            let mut steps = vec![plan::Step::command(
                &format!("switch back to {target}"),
                switch,
                "switch",
            )];
            steps.extend(
                host.steps
                    .drain(after..)
                    .filter(|s| !s.module.starts_with("release.")),
            );
            steps[0].changed_when = None;
            host.steps = steps;
            true
        });
    }
    let project_dir = project_dir_of(&stage::playbook_path(dir)?);
    let result = run_plan(
        &mut plan,
        git_dir(&project_dir),
        &args.exec,
        false,
        |_, _| {},
    );
    unlock_all(&ExecArgs::quiet())?;
    finish(&result?)
}

/// `ferry unlock STAGE`: removes a stale deploy lock and says whose it was.
pub(super) fn unlock(dir: &Path, args: StageArgs) -> Result<(), Error> {
    let mut plan = per_release_dir(dir, &args.stage, "unlock", lock::force_release)?;
    let exec = ExecArgs::quiet();
    let outcome = run_plan(&mut plan, dir, &exec, false, |results, print| {
        for (host, registered) in results {
            let text = registered["out"]["stdout"].as_str().unwrap_or_default();
            print(&match text.strip_prefix("held\n") {
                Some(owner) => match LockOwner::parse(owner) {
                    Some(owner) => format!("{host}: removed the lock of {owner}\n"),
                    None => format!("{host}: removed the lock of {}\n", owner.trim()),
                },
                None => format!("{host}: no lock\n"),
            });
        }
    })?;
    finish(&outcome)
}

/// `host: release lacks app.0003_x, …` for each host whose target release
/// does not know migrations its current release recorded.
fn unknown_migrations(
    dir: &Path,
    stage: &str,
    targets: &std::collections::HashMap<String, (String, Option<String>)>,
) -> Result<Vec<String>, Error> {
    let mut read = per_release_dir(dir, stage, "read recorded migrations", |deploy_to| {
        remote::recorded_migrations(deploy_to)
    })?;
    for play in &mut read.plays {
        play.hosts.retain(|h| targets.contains_key(&h.host));
    }
    let mut found = Vec::new();
    run_plan(&mut read, dir, &ExecArgs::quiet(), false, |results, _| {
        for (host, registered) in results {
            let Some((target, Some(current))) = targets.get(host) else {
                continue;
            };
            let listing =
                String::from_utf8_lossy(&command_output(&registered["out"]).stdout).into_owned();
            let unknown = remote::unknown_migrations(&listing, current, target);
            if !unknown.is_empty() {
                found.push(format!("{host}: {target} lacks {}", unknown.join(", ")));
            }
        }
    })?;
    Ok(found)
}
