//! The command line, as DESIGN.md specifies it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// ferry: deploy your apps to your own servers over SSH — in parallel,
/// idempotent, with dry-run plans and rollback.
#[derive(Debug, Parser)]
#[command(name = "ferry", version, about, long_about = None)]
pub struct Cli {
    /// Run as if started in DIR (the project with deploy.yml and inventory/).
    #[arg(
        short = 'C',
        long = "dir",
        global = true,
        value_name = "DIR",
        default_value = "."
    )]
    pub dir: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scaffold deploy.yml and inventory/ for the app in this directory.
    Init(InitArgs),
    /// Deploy a revision to every host of a stage.
    Deploy(DeployArgs),
    /// Show what a deploy would change, host by host (= deploy --dry-run).
    Plan(PlanArgs),
    /// Point `current` back at the previous (or named) release and restart.
    Rollback(RollbackArgs),
    /// List releases per host, marking current.
    Releases(StageArgs),
    /// Run an ad-hoc command on every host in parallel.
    Run(RunArgs),
    /// Preflight: reach, host keys, auth, disk, tools, lock.
    Check(CheckArgs),
    /// Remove a stale deploy lock.
    Unlock(StageArgs),
    /// Show the resolved inventory of a stage.
    Inventory(InventoryArgs),
    /// Run any playbook against any inventory.
    Playbook(PlaybookArgs),
    /// Take fresh servers to ready for `ferry deploy`: deploy user, SSH,
    /// packages, nginx, PostgreSQL on the db hosts, firewall.
    Setup(SetupArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[arg(long, conflicts_with_all = ["flask", "procfile"])]
    pub django: bool,
    #[arg(long, conflicts_with = "procfile")]
    pub flask: bool,
    #[arg(long)]
    pub procfile: bool,
}

#[derive(Debug, Args)]
pub struct StageArgs {
    /// The stage: its inventory is inventory/STAGE.yml (or .yaml, .ini).
    pub stage: String,
}

/// Options shared by the commands that compile a playbook.
#[derive(Debug, Default, Args)]
pub struct CompileArgs {
    /// Only hosts matching this pattern (`web1`, `web:&eu`, `all:!db`).
    #[arg(short = 'l', long, value_name = "PATTERN")]
    pub limit: Option<String>,
    /// Extra variables, highest precedence: `key=value`, `@file.yml` or YAML.
    #[arg(short = 'e', long = "extra-vars", value_name = "VARS")]
    pub extra_vars: Vec<String>,
    /// Ask on the terminal for sudo's password (`become`), for every host
    /// whose variables do not give one (`ansible_become_password`).
    #[arg(short = 'K', long)]
    pub ask_become_pass: bool,
    /// Whom to log in as: set by the command (`setup` logs in as `setup_user`).
    #[arg(skip)]
    pub login: crate::plan::Login,
    /// `ferry playbook`'s `--tags`/`--skip-tags` (no flag of its own here).
    #[arg(skip)]
    pub tags: crate::plan::TagFilter,
}

/// Options of every command that connects to hosts.
#[derive(Debug, Clone, Args)]
pub struct ExecArgs {
    /// Hosts connected to and worked on at once.
    #[arg(short, long, default_value_t = 256)]
    pub forks: usize,
    /// Trust the host key of a host seen for the first time (and remember it).
    /// A changed key is never accepted.
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// After Ctrl-C, seconds that running steps may take before they are stopped.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub grace: u64,
    /// One JSON event per line, for CI.
    #[arg(long)]
    pub json: bool,
    /// Show each step's output as it arrives.
    #[arg(short, long)]
    pub verbose: bool,
    /// No step lines and no recap unless something failed (for commands
    /// that print a report of their own: `releases`, `unlock`).
    #[arg(skip)]
    pub quiet: bool,
    /// Show file steps' changes as unified diffs (`--diff` of the commands
    /// that run playbooks).
    #[arg(skip)]
    pub diff: bool,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    pub stage: String,
    /// The git revision to deploy (default: HEAD).
    #[arg(long)]
    pub rev: Option<String>,
    #[command(flatten)]
    pub compile: CompileArgs,
    /// Change nothing: run read-only probes and show what would change.
    #[arg(long)]
    pub dry_run: bool,
    /// Show what file steps change (copy, template, lineinfile,
    /// blockinfile, replace) as a unified diff; never a secret.
    #[arg(long)]
    pub diff: bool,
    #[command(flatten)]
    pub exec: ExecArgs,
    /// Redeploy even when the revision is already deployed.
    #[arg(long)]
    pub force: bool,
    /// Deploy HEAD even though the work tree has uncommitted changes (they
    /// are not shipped: only committed files are).
    #[arg(long)]
    pub allow_dirty: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    pub stage: String,
    #[arg(long)]
    pub rev: Option<String>,
    #[command(flatten)]
    pub compile: CompileArgs,
    #[command(flatten)]
    pub exec: ExecArgs,
    /// Only the compiled steps, without connecting to any host.
    #[arg(long)]
    pub offline: bool,
    /// Show what file steps change (copy, template, lineinfile,
    /// blockinfile, replace) as a unified diff; never a secret.
    #[arg(long)]
    pub diff: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    pub stage: String,
    /// The release to go back to (default: the newest complete one before current).
    #[arg(long, value_name = "RELEASE")]
    pub to: Option<String>,
    /// Roll back even when the database has migrations the release does not know.
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub exec: ExecArgs,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    pub stage: String,
    #[arg(short = 'l', long, value_name = "PATTERN")]
    pub limit: Option<String>,
    #[command(flatten)]
    pub exec: ExecArgs,
    /// The command, after `--`.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    pub stage: String,
    #[arg(short = 'l', long, value_name = "PATTERN")]
    pub limit: Option<String>,
    /// Ask on the terminal for sudo's password, as `deploy -K` does.
    #[arg(short = 'K', long)]
    pub ask_become_pass: bool,
    #[command(flatten)]
    pub exec: ExecArgs,
}

#[derive(Debug, Args)]
pub struct SetupArgs {
    /// The stage: its inventory is inventory/STAGE.yml (or .yaml, .ini).
    pub stage: String,
    #[command(flatten)]
    pub compile: CompileArgs,
    /// Change nothing: run read-only checks and show what would change.
    #[arg(long)]
    pub check: bool,
    /// Only print the compiled steps, without connecting.
    #[arg(long)]
    pub plan: bool,
    #[command(flatten)]
    pub exec: ExecArgs,
}

#[derive(Debug, Args)]
pub struct InventoryArgs {
    pub stage: String,
    /// Print every group and host with its variables, as `ansible-inventory --list`.
    #[arg(long, required = true)]
    pub list: bool,
}

#[derive(Debug, Args)]
pub struct PlaybookArgs {
    /// The playbook file.
    pub file: PathBuf,
    /// The inventory file.
    #[arg(short, long, value_name = "INVENTORY")]
    pub inventory: PathBuf,
    #[command(flatten)]
    pub compile: CompileArgs,
    /// Only print the compiled plan (like `ferry plan --offline`).
    #[arg(long)]
    pub plan: bool,
    /// Change nothing: run read-only checks and show what would change.
    #[arg(long)]
    pub check: bool,
    /// Show what file steps change (copy, template, lineinfile,
    /// blockinfile, replace) as a unified diff; never a secret.
    #[arg(long)]
    pub diff: bool,
    /// Only the tasks with these tags (comma-separated, repeatable), and
    /// those tagged `always`, as ansible-playbook selects them.
    #[arg(short = 't', long, value_delimiter = ',', value_name = "TAGS")]
    pub tags: Vec<String>,
    /// Not the tasks with these tags (comma-separated, repeatable).
    #[arg(long, value_delimiter = ',', value_name = "TAGS")]
    pub skip_tags: Vec<String>,
    /// Compile the playbook (every input error, with its location) and
    /// connect to nothing.
    #[arg(long)]
    pub syntax_check: bool,
    /// List each play's hosts (after `--limit`) and connect to nothing.
    #[arg(long)]
    pub list_hosts: bool,
    /// List each play's tasks (after `--tags`) and connect to nothing.
    #[arg(long)]
    pub list_tasks: bool,
    /// List the tags of each play's tasks and connect to nothing.
    #[arg(long)]
    pub list_tags: bool,
    #[command(flatten)]
    pub exec: ExecArgs,
}

impl ExecArgs {
    /// The defaults, for commands that take no run options (`releases`,
    /// `unlock`): quiet, no first-use trust.
    pub fn quiet() -> ExecArgs {
        ExecArgs {
            forks: 256,
            accept_new_host_keys: false,
            grace: 10,
            json: false,
            verbose: false,
            quiet: true,
            diff: false,
        }
    }
}
