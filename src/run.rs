//! One function per subcommand, and the only place that prints results.

use std::path::{Path, PathBuf};

use crate::cli::{Cli, Command, CompileArgs, PlanArgs, PlaybookArgs};
use crate::diagnostic::Source;
use crate::error::Error;
use crate::inventory::Inventory;
use crate::plan::{self, CompileInput, Plan};
use crate::playbook::{self, Library};
use crate::release::release_id;
use crate::stage;
use crate::template::Templates;

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
        Command::Deploy(args) => {
            compile_stage(dir, &args.stage, &args.compile, args.rev.as_deref())?;
            not_yet("deploy", "the release lifecycle lands with issue 4")
        }
        Command::Run(args) => {
            Inventory::load(&stage::inventory_path(dir, &args.stage)?)?;
            not_yet("run", "the SSH executor lands with issue 3")
        }
        Command::Check(args) | Command::Unlock(args) | Command::Releases(args) => {
            Inventory::load(&stage::inventory_path(dir, &args.stage)?)?;
            not_yet(
                "check/unlock/releases",
                "these need the SSH executor (issue 3) and releases (issue 4)",
            )
        }
        Command::Rollback(args) => {
            Inventory::load(&stage::inventory_path(dir, &args.stage)?)?;
            not_yet("rollback", "the release lifecycle lands with issue 4")
        }
        Command::Init(_) => not_yet("init", "the app playbooks land with issue 5"),
    }
}

fn not_yet(command: &str, why: &str) -> Result<(), Error> {
    Err(Error::NotYet {
        command: command.to_string(),
        why: why.to_string(),
    })
}

fn plan_stage(dir: &Path, args: PlanArgs) -> Result<(), Error> {
    let plan = compile_stage(dir, &args.stage, &args.compile, args.rev.as_deref())?;
    if !args.offline {
        return not_yet(
            "plan",
            "probing hosts needs the SSH executor (issue 3); `ferry plan STAGE --offline` shows the compiled steps",
        );
    }
    print_plan(&plan, args.json);
    Ok(())
}

fn playbook(dir: &Path, args: PlaybookArgs) -> Result<(), Error> {
    let stage = args
        .inventory
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file = dir.join(&args.file);
    let inventory = dir.join(&args.inventory);
    let plan = compile_files(&file, &inventory, &stage, &args.compile, None)?;
    if !args.plan {
        return not_yet(
            "playbook",
            "running needs the SSH executor (issue 3); `--plan` prints the compiled steps",
        );
    }
    print_plan(&plan, args.json);
    Ok(())
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
    let project_dir = playbook_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let library = Library::new(Some(project_dir.clone()));
    let playbook = playbook::load(playbook_path, &library)?;
    let inventory = Inventory::load(inventory_path)?;
    let extra_vars = args
        .extra_vars
        .iter()
        .map(|arg| stage::extra_vars(arg, &project_dir))
        .collect::<Result<Vec<_>, _>>()?;
    let release = release_id(&project_dir, rev)?;
    let templates = Templates::new();
    let input = CompileInput {
        stage: stage.to_string(),
        playbook: &playbook,
        project_dir: &project_dir,
        inventory: &inventory,
        inventory_source: Source::read(inventory_path)?,
        extra_vars,
        limit: args.limit.clone(),
        templates: &templates,
        release: &release,
    };
    Ok(plan::compile(&input)?)
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}
