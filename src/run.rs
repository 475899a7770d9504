//! One function per subcommand, and the only place that prints results.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use crate::cli::{
    CheckArgs, Cli, Command, CompileArgs, DeployArgs, ExecArgs, PlanArgs, PlaybookArgs,
    RollbackArgs, RunArgs, StageArgs,
};
use crate::diagnostic::Source;
use crate::error::Error;
use crate::executor::{self, DeployOptions, HostEnd, Outcome, Shutdown};
use crate::inventory::Inventory;
use crate::plan::{self, CompileInput, Plan};
use crate::playbook::{self, Library, Playbook};
use crate::release::lock::{self, LockOwner};
use crate::release::release_id;
use crate::release::{layout, remote};
use crate::report::{self, Mode};
use crate::stage;
use crate::template::Templates;
use crate::transport::ssh_config::SshConfig;
use crate::transport::{Trust, keys};

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), Error> {
    let dir = cli.dir.as_path();
    match cli.command {
        Command::Plan(args) => plan_stage(dir, args),
        Command::Inventory(args) => {
            let inventory = Inventory::load(&stage::inventory_path(dir, &args.stage)?)?;
            println!("{}", pretty(&inventory.to_ansible_list()));
            Ok(())
        }
        Command::Playbook(args) => playbook(dir, args),
        Command::Run(args) => run_command(dir, args),
        Command::Check(args) => check(dir, args),
        Command::Deploy(args) => deploy(dir, args),
        Command::Releases(args) => releases(dir, args),
        Command::Unlock(args) => unlock(dir, args),
        Command::Rollback(args) => rollback(dir, args),
        Command::Init(_) => not_yet("init", "the app playbooks land with issue 5"),
    }
}

fn not_yet(command: &str, why: &str) -> Result<(), Error> {
    Err(Error::NotYet {
        command: command.to_string(),
        why: why.to_string(),
    })
}

/// `ferry deploy STAGE`: the playbook with its release steps carried out —
/// lock, upload (only what changed), barrier, switch, rollback on failure.
fn deploy(dir: &Path, args: DeployArgs) -> Result<(), Error> {
    let mut plan = compile_stage(dir, &args.stage, &args.compile, args.rev.as_deref())?;
    let project_dir = project_dir_of(&stage::playbook_path(dir)?);
    let source =
        crate::release::Source::open(git_dir(&project_dir), args.rev.as_deref(), args.allow_dirty)
            .map_err(|e| Error::Input(crate::diagnostic::Diagnostic::plain(e.to_string())))?;
    let owner = LockOwner::this_process(Some(source.commit()), &plan.release.id);
    let options = DeployOptions {
        source,
        release_id: plan.release.id.clone(),
        force: args.force,
        owner,
    };
    let outcome = run_plan_with(
        &mut plan,
        &project_dir,
        &args.exec,
        args.dry_run,
        Some(&options),
        |_| {},
    )?;
    if let Some(why) = &outcome.cannot_start {
        return Err(Error::CannotStart(format!(
            "cannot start the deploy:\n{why}"
        )));
    }
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

/// `ferry releases STAGE`: every host's releases, current marked.
fn releases(dir: &Path, args: StageArgs) -> Result<(), Error> {
    let mut plan = per_release_dir(dir, &args.stage, "releases", layout::probe)?;
    let exec = ExecArgs::quiet();
    let outcome = run_plan(&mut plan, dir, &exec, false, |results| {
        for (host, registered) in results {
            println!("{host}");
            // Registered stdout loses its final newline (as in Ansible);
            // the probe's byte counts include it.
            let text = format!(
                "{}\n",
                registered["out"]["stdout"].as_str().unwrap_or_default()
            );
            match layout::parse_probe(&text) {
                Ok(state) if state.releases.is_empty() => println!("  (no releases)"),
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
                        println!("  {mark} {}  {state:<10}  {commit}", r.id);
                    }
                }
                Err(err) => println!("  cannot read the releases: {err}"),
            }
        }
    })?;
    finish(&outcome)
}

/// `ferry rollback STAGE [--to RELEASE]`: under the deploy lock, points
/// `current` back at the newest complete release older than it (or the one
/// named) on every host, records it in the history, and runs the playbook's
/// steps after `release.switch` again (restart, health check).
fn rollback(dir: &Path, args: RollbackArgs) -> Result<(), Error> {
    let compiled = compile_stage(dir, &args.stage, &CompileArgs::default(), None)?;
    let owner = LockOwner::this_process(None, args.to.as_deref().unwrap_or("previous"));
    // 1. Lock every host and read its releases.
    let mut probe = per_release_dir(dir, &args.stage, "lock and read releases", |deploy_to| {
        lock::acquire(deploy_to, &owner).and(layout::probe(deploy_to))
    })?;
    let mut states = std::collections::HashMap::new();
    let mut refused = Vec::new();
    let outcome = run_plan(&mut probe, dir, &args.exec, false, |results| {
        for (host, registered) in results {
            let out = &registered["out"];
            let exec = crate::transport::ExecOutput {
                status: out["rc"].as_u64().map(|rc| rc as u32),
                signal: None,
                stdout: format!("{}\n", out["stdout"].as_str().unwrap_or_default()).into_bytes(),
                stderr: out["stderr"]
                    .as_str()
                    .unwrap_or_default()
                    .as_bytes()
                    .to_vec(),
            };
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
        run_plan(&mut unlock, dir, exec, false, |_| {}).map(drop)
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
    let result = run_plan(&mut plan, git_dir(&project_dir), &args.exec, false, |_| {});
    unlock_all(&ExecArgs::quiet())?;
    finish(&result?)
}

/// `ferry unlock STAGE`: removes a stale deploy lock and says whose it was.
fn unlock(dir: &Path, args: StageArgs) -> Result<(), Error> {
    let mut plan = per_release_dir(dir, &args.stage, "unlock", lock::force_release)?;
    let exec = ExecArgs::quiet();
    let outcome = run_plan(&mut plan, dir, &exec, false, |results| {
        for (host, registered) in results {
            let text = registered["out"]["stdout"].as_str().unwrap_or_default();
            match text.strip_prefix("held\n") {
                Some(owner) => match LockOwner::parse(owner) {
                    Some(owner) => println!("{host}: removed the lock of {owner}"),
                    None => println!("{host}: removed the lock of {}", owner.trim()),
                },
                None => println!("{host}: no lock"),
            }
        }
    })?;
    finish(&outcome)
}

fn plan_stage(dir: &Path, args: PlanArgs) -> Result<(), Error> {
    let mut plan = compile_stage(dir, &args.stage, &args.compile, args.rev.as_deref())?;
    if args.offline {
        print_plan(&plan, args.exec.json);
        return Ok(());
    }
    execute(&mut plan, dir, &args.exec, true).map(drop)
}

fn playbook(dir: &Path, args: PlaybookArgs) -> Result<(), Error> {
    let stage = args
        .inventory
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file = dir.join(&args.file);
    let inventory = dir.join(&args.inventory);
    let mut plan = compile_files(&file, &inventory, &stage, &args.compile, None)?;
    if args.plan {
        print_plan(&plan, args.exec.json);
        return Ok(());
    }
    let project_dir = file.parent().unwrap_or(dir);
    execute(&mut plan, project_dir, &args.exec, args.check).map(drop)
}

/// `ferry run STAGE -- COMMAND...`: one word is a shell script, several
/// are a command and its arguments (quoted, no shell expansion).
fn run_command(dir: &Path, args: RunArgs) -> Result<(), Error> {
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
    };
    let mut plan = compile_synthetic(dir, &args.stage, "<ferry run>", &playbook, &compile)?;
    let masker = plan.masker.clone();
    let outcome = run_plan(&mut plan, dir, &args.exec, false, |results| {
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
            println!("── {host} (rc {rc}) ──");
            for stream in ["stdout", "stderr"] {
                if let Some(text) = out[stream].as_str().filter(|t| !t.is_empty()) {
                    println!("{}", masker.mask(text));
                }
            }
        }
    })?;
    finish(&outcome)
}

/// `ferry check STAGE`: reach, host key and login (by connecting), then the
/// tools ferry needs, free disk at `deploy_to`, sudo when the playbook
/// escalates, and whether a deploy lock is held.
fn check(dir: &Path, args: CheckArgs) -> Result<(), Error> {
    let escalates = stage::playbook_path(dir)
        .ok()
        .and_then(|path| playbook::load(&path, &Library::new(Some(dir.to_path_buf()))).ok())
        .is_some_and(|p: Playbook| {
            p.plays.iter().any(|play| {
                play.escalate == Some(true) || play.tasks.iter().any(|t| t.escalate == Some(true))
            })
        });
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
    if escalates {
        tasks.push(json!({
            "name": "sudo without a password",
            "command": "sudo -n true",
            "changed_when": false,
        }));
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
    };
    let mut plan = compile_synthetic(dir, &args.stage, "<ferry check>", &playbook, &compile)?;
    let json = args.exec.json;
    let outcome = run_plan(&mut plan, dir, &args.exec, false, |results| {
        if json {
            return;
        }
        for (host, registered) in results {
            println!("── {host} ──");
            for (i, name) in names.iter().enumerate() {
                let Some(result) = registered.get(&format!("check{i}")) else {
                    continue;
                };
                let (mark, text) = match result["skipped"].as_bool() {
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
                println!(
                    "  {mark} {name}{}{text}",
                    if text.is_empty() { "" } else { ": " }
                );
            }
        }
    })?;
    finish(&outcome)
}

/// Asks on the terminal for the passphrase of each encrypted key that no
/// `ssh_key_passphrase` variable unlocks, once per key file, before any
/// host is contacted. Off a terminal the connection says the key is
/// encrypted and needs one.
fn ask_passphrases(plan: &mut Plan) -> Result<(), Error> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Ok(());
    }
    let Plan { plays, masker, .. } = plan;
    let mut answers: std::collections::HashMap<PathBuf, String> = std::collections::HashMap::new();
    for play in plays.iter_mut() {
        for host in &mut play.hosts {
            let c = &mut host.connection;
            let Some(key) = c.key_file.clone().filter(|_| c.passphrase.is_none()) else {
                continue;
            };
            if !answers.contains_key(&key) {
                if !matches!(
                    keys::load_identity(&key, None),
                    Err(crate::transport::TransportError::KeyIsEncrypted { .. })
                ) {
                    continue;
                }
                let prompt = format!("passphrase for key `{}`: ", key.display());
                let answer = rpassword::prompt_password(prompt)
                    .map_err(|e| Error::CannotStart(format!("cannot read the passphrase: {e}")))?;
                masker.add(&answer);
                answers.insert(key.clone(), answer);
            }
            c.passphrase = answers.get(&key).cloned();
        }
    }
    Ok(())
}

fn execute(
    plan: &mut Plan,
    project_dir: &Path,
    exec: &ExecArgs,
    dry_run: bool,
) -> Result<Outcome, Error> {
    let outcome = run_plan(plan, project_dir, exec, dry_run, |_| {})?;
    finish(&outcome)?;
    Ok(outcome)
}

type Results = indexmap::IndexMap<String, serde_json::Map<String, serde_json::Value>>;

/// Runs a plan with the reporter the flags ask for; `before_recap` may
/// print per-host results before the recap is shown.
fn run_plan(
    plan: &mut Plan,
    project_dir: &Path,
    exec: &ExecArgs,
    dry_run: bool,
    before_recap: impl FnOnce(&Results),
) -> Result<Outcome, Error> {
    run_plan_with(plan, project_dir, exec, dry_run, None, before_recap)
}

fn run_plan_with(
    plan: &mut Plan,
    project_dir: &Path,
    exec: &ExecArgs,
    dry_run: bool,
    deploy: Option<&DeployOptions>,
    before_recap: impl FnOnce(&Results),
) -> Result<Outcome, Error> {
    ask_passphrases(plan)?;
    let plan = &*plan;
    let mut trust =
        Trust::user_default(Some(project_dir.join("known_hosts")).filter(|p| p.is_file()));
    trust.accept_new = exec.accept_new_host_keys;
    let mut options = executor::Options::new(project_dir.to_path_buf());
    options.forks = exec.forks;
    options.trust = trust;
    options.dry_run = dry_run;
    options.verbose = exec.verbose;
    options.grace = Duration::from_secs(exec.grace);
    options.ssh_config =
        Some(SshConfig::load_user_default().map_err(|e| Error::Failed(e.to_string()))?);
    let templates = Templates::new();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::CannotStart(format!("cannot start the runtime: {e}")))?;
    let sink = report::reporter(Mode::from_json_flag(exec.json), exec.verbose);
    let (outcome, results) = runtime.block_on(async {
        let (trigger, shutdown) = Shutdown::new();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                trigger.trigger();
            }
        });
        executor::execute(plan, &options, &templates, sink.as_ref(), &shutdown, deploy).await
    });
    before_recap(&results);
    sink.finish();
    Ok(outcome)
}

/// The error (and exit status) for a run that did not fully succeed.
fn finish(outcome: &Outcome) -> Result<(), Error> {
    let bad: Vec<&str> = outcome
        .hosts
        .iter()
        .filter(|(_, end)| **end != HostEnd::Ok)
        .map(|(h, _)| h.as_str())
        .collect();
    if outcome.interrupted {
        return Err(Error::Interrupted(format!(
            "stopped by Ctrl-C; {} host(s) did not finish",
            bad.len()
        )));
    }
    if outcome.nothing_reachable() {
        let reasons: String = outcome
            .hosts
            .iter()
            .filter_map(|(host, end)| match end {
                HostEnd::Unreachable(why) => Some(format!("\n  {host}: {why}")),
                _ => None,
            })
            .collect();
        return Err(Error::CannotStart(format!(
            "no host could be reached:{reasons}"
        )));
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(Error::Failed(format!(
            "{} of {} hosts did not succeed: {}",
            bad.len(),
            outcome.hosts.len(),
            bad.join(", ")
        )))
    }
}

fn print_plan(plan: &Plan, json: bool) {
    if json {
        let text = serde_json::to_string_pretty(plan).unwrap_or_default();
        println!("{}", plan.masker.mask(&text));
    } else {
        print!("{}", plan::render_text(plan));
    }
}

/// Compiles the stage's playbook: every input error surfaces here.
fn compile_stage(
    dir: &Path,
    stage: &str,
    args: &CompileArgs,
    rev: Option<&str>,
) -> Result<Plan, Error> {
    let playbook = stage::playbook_path(dir)?;
    let inventory = stage::inventory_path(dir, stage)?;
    compile_files(&playbook, &inventory, stage, args, rev)
}

fn compile_files(
    playbook_path: &Path,
    inventory_path: &Path,
    stage: &str,
    args: &CompileArgs,
    rev: Option<&str>,
) -> Result<Plan, Error> {
    let project_dir = project_dir_of(playbook_path);
    let library = Library::new(Some(project_dir.clone()));
    let playbook = playbook::load(playbook_path, &library)?;
    compile_playbook(&playbook, &project_dir, inventory_path, stage, args, rev)
}

/// Compiles a playbook that ferry writes itself (`run`, `check`) as JSON,
/// which is YAML, against a stage's inventory.
fn compile_synthetic(
    dir: &Path,
    stage: &str,
    name: &str,
    playbook: &serde_json::Value,
    args: &CompileArgs,
) -> Result<Plan, Error> {
    let inventory = stage::inventory_path(dir, stage)?;
    let source = Source::new(
        name,
        serde_json::to_string_pretty(playbook).unwrap_or_default(),
    );
    let parsed = playbook::parse_source(&source, &Library::new(None))?;
    compile_playbook(&parsed, dir, &inventory, stage, args, None)
}

fn compile_playbook(
    playbook: &Playbook,
    project_dir: &Path,
    inventory_path: &Path,
    stage: &str,
    args: &CompileArgs,
    rev: Option<&str>,
) -> Result<Plan, Error> {
    let inventory = Inventory::load(inventory_path)?;
    let extra_vars = args
        .extra_vars
        .iter()
        .map(|arg| stage::extra_vars(arg, project_dir))
        .collect::<Result<Vec<_>, _>>()?;
    let release = release_id(git_dir(project_dir), rev)?;
    let templates = Templates::new();
    let input = CompileInput {
        stage: stage.to_string(),
        playbook,
        project_dir,
        inventory: &inventory,
        inventory_source: Source::read(inventory_path)?,
        extra_vars,
        limit: args.limit.clone(),
        templates: &templates,
        release: &release,
    };
    Ok(plan::compile(&input)?)
}

/// The directory of a playbook: empty for a bare `deploy.yml`, so that
/// paths joined to it read as the user wrote them (`playbooks/x.yml`).
fn project_dir_of(playbook: &Path) -> PathBuf {
    playbook.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// A directory to hand to git: the current one when `dir` is empty.
fn git_dir(dir: &Path) -> &Path {
    if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    }
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}
