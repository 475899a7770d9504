//! One function per subcommand, and the only place that prints results.

mod adhoc;
mod facts;
mod listing;
mod logs;
mod manual;
mod release;
mod remote;
mod setup;
mod ssh;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{Cli, Command, CompileArgs, ExecArgs, PlanArgs, PlaybookArgs};
use crate::diagnostic::Source;
use crate::error::Error;
use crate::executor::{self, DeployOptions, HostEnd, Outcome, Shutdown};
use crate::inventory::Inventory;
use crate::plan::{self, CompileInput, Plan};
use crate::playbook::{self, Library, Playbook};
use crate::release::release_id;
use crate::report::{self, Mode, Verdict};
use crate::stage;
use crate::template::Templates;
use crate::transport::ssh_config::SshConfig;
use crate::transport::{Trust, keys};

pub use facts::Gathering;

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
        Command::Run(args) => adhoc::run_command(dir, args),
        Command::Check(args) => adhoc::check(dir, args),
        Command::Deploy(args) => release::deploy(dir, args),
        Command::Releases(args) => release::releases(dir, args),
        Command::Unlock(args) => release::unlock(dir, args),
        Command::Rollback(args) => release::rollback(dir, args),
        Command::Init(args) => init(dir, args),
        Command::Setup(args) => setup::setup(dir, args),
        Command::Completions(args) => manual::completions(args.shell),
        Command::Man => manual::man(),
        Command::Logs(args) => logs::logs(dir, args),
        Command::Ssh(args) => ssh::ssh(dir, args),
        Command::Remote(args) => remote::remote(dir, args),
    }
}

/// `ferry init`: writes deploy.yml, the production inventory and secrets
/// for the app in `dir`, and says what to do next.
fn init(dir: &Path, args: crate::cli::InitArgs) -> Result<(), Error> {
    use crate::init::Kind;
    let wanted = match (args.django, args.flask, args.procfile) {
        (true, _, _) => Some(Kind::Django),
        (_, true, _) => Some(Kind::Flask),
        (_, _, true) => Some(Kind::Procfile),
        _ => None,
    };
    if let Some(ci) = args.ci
        && crate::stage::playbook_path(dir).is_ok()
        && wanted.is_none()
    {
        return init_ci(dir, ci);
    }
    let scaffold = crate::init::scaffold(dir, wanted)?;
    // Refused before anything is written, as the scaffold's files are.
    if let Some(ci) = args.ci {
        crate::init::ci::workflow(dir, ci, "production")?;
    }
    crate::init::write(dir, &scaffold)
        .map_err(|e| Error::Failed(format!("cannot write the files: {e}")))?;
    println!("{} app `{}`: wrote", scaffold.kind.name(), scaffold.app);
    for file in &scaffold.files {
        let mode = if file.private { "  (mode 0600)" } else { "" };
        println!("  {}{mode}", file.path.display());
    }
    if scaffold.ignore_secrets {
        println!("  .gitignore  (secrets/ added)");
    }
    for warning in &scaffold.warnings {
        eprintln!("warning: {warning}");
    }
    println!("\nNext:");
    println!(
        "  1. inventory/production.yml: your servers' addresses, the user ferry logs in as, deploy_to, server_names."
    );
    println!(
        "  2. secrets/production.yml: the real values (it stays out of git; every value is masked in ferry's output)."
    );
    if scaffold.kind == Kind::Django {
        println!(
            "  3. settings.py: read DEBUG, SECRET_KEY, ALLOWED_HOSTS and DATABASE_URL from the environment"
        );
        println!(
            "     (ferry writes them to shared/.env; examples/django-notes/notes_site/settings.py shows how)."
        );
    }
    println!(
        "  Then commit deploy.yml, inventory/ and the Procfile, take fresh servers to ready with"
    );
    println!(
        "  `ferry setup production`, read the plan with `ferry plan production`, and deploy with `ferry deploy production`."
    );
    match args.ci {
        Some(ci) => init_ci(dir, ci),
        None => Ok(()),
    }
}

/// `ferry init --ci`: the CI workflow, and the secrets it needs.
fn init_ci(dir: &Path, ci: crate::init::ci::Ci) -> Result<(), Error> {
    let (path, text) = crate::init::ci::workflow(dir, ci, "production")?;
    crate::init::ci::write(&path, &text)
        .map_err(|e| Error::Failed(format!("cannot write `{}`: {e}", path.display())))?;
    println!("wrote {}", path.display());
    println!(
        "  It deploys on every push to main. Give the CI the secrets its header names:\n  FERRY_SSH_KEY, FERRY_KNOWN_HOSTS, FERRY_SECRETS, and FERRY_URL (where to get this ferry)."
    );
    Ok(())
}

fn plan_stage(dir: &Path, mut args: PlanArgs) -> Result<(), Error> {
    args.exec.diff = args.diff;
    args.compile.facts = if args.offline {
        Gathering::Never("`--offline` connects to no host, so gathers no facts")
    } else {
        Gathering::Connect(Some(args.exec.clone()))
    };
    let mut plan = compile_stage(dir, &args.stage, &args.compile, args.rev.as_deref())?;
    if args.offline {
        print_plan(&plan, args.exec.json);
        return Ok(());
    }
    let has_releases = plan
        .plays
        .iter()
        .flat_map(|p| &p.hosts)
        .any(|h| h.deploy_to().is_some());
    if has_releases {
        // `plan` is `deploy --dry-run`: release steps probed, not skipped.
        let how = release::Deploying {
            rev: args.rev.as_deref(),
            dry_run: true,
            force: false,
            allow_dirty: false,
        };
        return release::deploy_plan(dir, plan, &args.exec, &how);
    }
    execute(&mut plan, dir, &args.exec, true).map(drop)
}

fn playbook(dir: &Path, mut args: PlaybookArgs) -> Result<(), Error> {
    args.exec.diff = args.diff;
    let stage = args
        .inventory
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file = dir.join(&args.file);
    let inventory = dir.join(&args.inventory);
    let mut compile = args.compile;
    compile.tags = crate::plan::TagFilter {
        only: args.tags,
        skip: args.skip_tags,
    };
    compile.facts = if args.syntax_check {
        Gathering::Never("`--syntax-check` connects to no host, so gathers no facts")
    } else {
        Gathering::Connect(Some(args.exec.clone()))
    };
    compile.plays = playbook::PlayDefaults {
        user: args.user,
        escalate: args.escalate,
        become_user: args.become_user,
        become_method: args.become_method,
    };
    let mut plan = compile_files(&file, &inventory, &stage, &compile, None)?;
    let lists = listing::Lists {
        hosts: args.list_hosts,
        tasks: args.list_tasks,
        tags: args.list_tags,
    };
    if lists.hosts || lists.tasks || lists.tags {
        let library = Library::new(Some(project_dir_of(&file)));
        let parsed = playbook::load(&file, &library)?;
        let shown = args.file.display().to_string();
        write_out(&listing::render(
            &parsed,
            &plan,
            &shown,
            &compile.tags,
            &lists,
        ));
        return Ok(());
    }
    if args.syntax_check {
        write_out(&format!("\nplaybook: {}\n", args.file.display()));
        return Ok(());
    }
    if args.plan {
        print_plan(&plan, args.exec.json);
        return Ok(());
    }
    let project_dir = file.parent().unwrap_or(dir);
    execute(&mut plan, project_dir, &args.exec, args.check).map(drop)
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

/// `--ask-become-pass`: sudo's password, asked on the terminal once per
/// run, however many times the command compiles a plan.
fn ask_become_password() -> Result<String, Error> {
    use std::io::IsTerminal;
    static ANSWER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(answer) = ANSWER.get() {
        return Ok(answer.clone());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::CannotStart(
            "`--ask-become-pass` needs a terminal to ask on: off one, give sudo's password as `ansible_become_password` in secrets/STAGE.yml".to_string(),
        ));
    }
    let answer = rpassword::prompt_password("BECOME password: ")
        .map_err(|e| Error::CannotStart(format!("cannot read the become password: {e}")))?;
    if answer.contains('\n') {
        return Err(Error::CannotStart(
            "a become password cannot hold a line break".to_string(),
        ));
    }
    Ok(ANSWER.get_or_init(|| answer).clone())
}

fn execute(
    plan: &mut Plan,
    project_dir: &Path,
    exec: &ExecArgs,
    dry_run: bool,
) -> Result<Outcome, Error> {
    let outcome = run_plan(plan, project_dir, exec, dry_run, |_, _| {})?;
    finish(&outcome)?;
    Ok(outcome)
}

type Results = indexmap::IndexMap<String, serde_json::Map<String, serde_json::Value>>;

/// Runs a plan with the reporter the flags ask for; `before_recap` may
/// print per-host results before the recap is shown, through the printer
/// it is handed (never `println!`: on a terminal that text would be
/// written past the live lines, and erased with them).
fn run_plan(
    plan: &mut Plan,
    project_dir: &Path,
    exec: &ExecArgs,
    dry_run: bool,
    before_recap: impl FnOnce(&Results, &dyn Fn(&str)),
) -> Result<Outcome, Error> {
    run_plan_with(plan, project_dir, exec, dry_run, None, before_recap)
}

fn run_plan_with(
    plan: &mut Plan,
    project_dir: &Path,
    exec: &ExecArgs,
    dry_run: bool,
    deploy: Option<&DeployOptions>,
    before_recap: impl FnOnce(&Results, &dyn Fn(&str)),
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
    // The event stream carries every step's output: `--json` has no
    // quieter reader to spare.
    options.verbose = exec.verbose || exec.json;
    options.diff = exec.diff;
    options.grace = Duration::from_secs(exec.grace);
    // A config that does not read is bad input, as it is to ssh.
    let ssh_config = SshConfig::load_user_default()
        .map_err(|e| Error::Input(crate::diagnostic::Diagnostic::plain(e.to_string())))?;
    if exec.verbose && !exec.json {
        // Said once, before any live line is drawn.
        let hosts: Vec<_> = plan.plays.iter().flat_map(|p| &p.hosts).collect();
        for line in executor::ignored_options(&hosts, &ssh_config) {
            eprintln!("{line}");
        }
    }
    options.ssh_config = Some(ssh_config);
    let mut templates = Templates::for_project(Some(project_dir));
    if let Some(deploy) = deploy {
        plan::CommitFiles::of(deploy.source.clone()).register(&mut templates);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::CannotStart(format!("cannot start the runtime: {e}")))?;
    let silent = exec.quiet || exec.own_report;
    let sink: Box<dyn report::ReportSink> = if silent {
        Box::new(report::Plain::new(Box::new(std::io::sink()), false, false))
    } else {
        report::reporter(Mode::from_json_flag(exec.json), exec.verbose)
    };
    let (mut outcome, results) = runtime.block_on(async {
        let (trigger, shutdown) = Shutdown::new();
        tokio::spawn(async move {
            // The first Ctrl-C stops what has not switched; a second aborts.
            while tokio::signal::ctrl_c().await.is_ok() {
                trigger.trigger();
            }
        });
        executor::execute(plan, &options, &templates, sink.as_ref(), &shutdown, deploy).await
    });
    let print = |text: &str| {
        if silent {
            // A quiet run draws no lines: the command's report is its output.
            print!("{text}");
        } else {
            sink.print(text);
        }
    };
    before_recap(&results, &print);
    never_reached(plan, &mut outcome);
    let verdict = Verdict::of(&outcome);
    let recap = sink.finish(&verdict);
    if exec.quiet {
        // `-q`: what failed, and the verdict, whatever it is.
        print!("{}", recap.render_brief(&verdict, false));
    } else if exec.own_report && verdict.exit_code() != 0 {
        print!("{}", recap.render(&verdict, false));
    }
    Ok(outcome)
}

/// Records the hosts of `plan` that the run never reached (Ctrl-C before
/// their play) as not run, so that the verdict counts every host of the
/// plan. A run that could not start is about why, not about hosts.
fn never_reached(plan: &Plan, outcome: &mut Outcome) {
    if outcome.cannot_start.is_some() {
        return;
    }
    for host in plan.plays.iter().flat_map(|p| &p.hosts) {
        if !outcome.hosts.contains_key(&host.host) {
            outcome.hosts.insert(host.host.clone(), HostEnd::NotRun);
        }
    }
}

/// The error (and exit status) for a run that did not fully succeed: the
/// [`Verdict`] that the recap ended with, decided again from the same
/// outcome.
fn finish(outcome: &Outcome) -> Result<(), Error> {
    Verdict::of(outcome).error().map_or(Ok(()), Err)
}

fn print_plan(plan: &Plan, json: bool) {
    let text = if json {
        format!("{}\n", plan.masker.mask(&report::plan_line(plan)))
    } else {
        plan::render_text(plan)
    };
    write_out(&text);
}

/// Writes to stdout. A reader that has gone (`ferry plan | head`) ends ferry
/// quietly, as it ends any Unix tool, instead of the panic `print!` makes.
fn write_out(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if let Err(err) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {err}");
        std::process::exit(1);
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
    install_vault(args, &project_dir)?;
    let library = Library::new(Some(project_dir.clone()));
    let mut playbook = playbook::load(playbook_path, &library)?;
    args.plays.apply(&mut playbook)?;
    compile_playbook(&playbook, &project_dir, inventory_path, stage, args, rev)
}

/// Reads the vault passwords of the command line, the environment and
/// ansible.cfg, once per run, before any file is parsed.
fn install_vault(args: &CompileArgs, project_dir: &Path) -> Result<(), Error> {
    let mut sources = playbook::vault_sources(Some(project_dir));
    sources.ids.extend(args.vault_id.iter().cloned());
    sources
        .files
        .extend(args.vault_password_file.iter().cloned());
    sources.ask = args.ask_vault_pass;
    Ok(crate::vault::install(&sources)?)
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
    install_vault(args, project_dir)?;
    let inventory = Inventory::load(inventory_path)?;
    let extra_vars = args
        .extra_vars
        .iter()
        .map(|arg| stage::extra_vars(arg, project_dir))
        .collect::<Result<Vec<_>, _>>()?;
    let release = release_id(git_dir(project_dir), rev)?;
    let secrets = crate::secrets::load(git_dir(project_dir), stage)?;
    for warning in secrets.iter().flat_map(|s| &s.warnings) {
        eprintln!("warning: {warning}");
    }
    let no_secrets_file = secrets.is_none();
    let mut templates = Templates::for_project(Some(project_dir));
    plan::CommitFiles::new(git_dir(project_dir).to_path_buf(), rev).register(&mut templates);
    let no_facts = std::collections::HashMap::new();
    let input = CompileInput {
        stage: stage.to_string(),
        playbook,
        project_dir,
        inventory: &inventory,
        inventory_source: Source::read(inventory_path)?,
        extra_vars,
        secrets,
        limit: args.limit.clone(),
        templates: &templates,
        release: &release,
        become_password: if args.ask_become_pass {
            Some(ask_become_password()?)
        } else {
            None
        },
        login: args.login,
        tags: args.tags.clone(),
        facts: match &args.facts {
            Gathering::Never(why) => plan::Facts::Never(why),
            Gathering::Connect(_) => plan::Facts::Gathered(&no_facts),
        },
    };
    let plan = plan::compile(&input);
    let gathered;
    let plan = match (plan, &args.facts) {
        (Ok(plan), Gathering::Connect(exec)) if !plan.wants_facts.is_empty() => {
            let exec = exec.clone().unwrap_or_else(ExecArgs::quiet);
            gathered = facts::gather(&plan, &plan.wants_facts, project_dir, &exec)?;
            let input = CompileInput {
                facts: plan::Facts::Gathered(&gathered),
                ..input
            };
            plan::compile(&input).and_then(|plan| match plan.wants_facts.first() {
                // Every host that wanted facts has them now.
                Some(host) => Err(crate::diagnostic::Diagnostic::plain(format!(
                    "the facts of `{host}` were gathered and are still wanted"
                ))),
                None => Ok(plan),
            })
        }
        (plan, _) => plan,
    };
    plan.map_err(|diag| {
        // A fresh clone lacks the stage's secrets file when the project
        // keeps it out of git: say where the missing value is meant to come
        // from. (Asking git only on this error path: opening the
        // repository is not free, and most compiles succeed.)
        if no_secrets_file
            && diag.help.is_none()
            && diag.message.starts_with("undefined variable")
            && crate::secrets::ignored_by_git(git_dir(project_dir), stage)
        {
            let file = project_dir.join("secrets").join(format!("{stage}.yml"));
            diag.with_help(format!(
                "there is no {}: values kept out of git (passwords, keys) go there",
                file.display()
            ))
            .into()
        } else {
            diag.into()
        }
    })
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
