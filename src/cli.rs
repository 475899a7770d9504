//! The command line, as DESIGN.md specifies it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// ferry: deploy your apps to your own servers over SSH — in parallel,
/// idempotent, with dry-run plans and rollback.
#[derive(Debug, Parser)]
#[command(name = "ferry", version = env!("FERRY_VERSION"), about, long_about = None)]
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
    #[command(
        after_help = "Examples:\n  ferry init            # guess the kind of app\n  ferry init --django\n  ferry init --ci github   # a GitHub Actions workflow running `ferry deploy`"
    )]
    Init(InitArgs),
    /// Deploy a revision to every host of a stage.
    #[command(
        after_help = "Examples:\n  ferry deploy production\n  ferry deploy staging --rev v1.4.2 -l web1\n  ferry deploy production --json > deploy.jsonl"
    )]
    Deploy(DeployArgs),
    /// Show what a deploy would change, host by host (= deploy --dry-run).
    #[command(
        after_help = "Examples:\n  ferry plan production\n  ferry plan production --offline   # compile only, connect to no host"
    )]
    Plan(PlanArgs),
    /// Point `current` back at the previous (or named) release and restart.
    #[command(
        after_help = "Examples:\n  ferry rollback production\n  ferry rollback production --to 20261207T231000Z"
    )]
    Rollback(RollbackArgs),
    /// List releases per host, marking current.
    #[command(after_help = "Example:\n  ferry releases production")]
    Releases(StageArgs),
    /// Run an ad-hoc command on every host in parallel.
    #[command(
        after_help = "Examples:\n  ferry run production -- uptime\n  ferry run production -l 'web*' -- systemctl status nginx"
    )]
    Run(RunArgs),
    /// Preflight: reach, host keys, auth, disk, tools, lock.
    #[command(after_help = "Examples:\n  ferry check production\n  ferry check production -l db1")]
    Check(CheckArgs),
    /// Remove a stale deploy lock.
    #[command(after_help = "Example:\n  ferry unlock production")]
    Unlock(StageArgs),
    /// Show the resolved inventory of a stage.
    #[command(after_help = "Example:\n  ferry inventory production --list")]
    Inventory(InventoryArgs),
    /// Run any playbook against any inventory.
    #[command(
        after_help = "Examples:\n  ferry playbook site.yml -i hosts.ini\n  ferry playbook site.yml -i hosts.ini --check -l web1"
    )]
    Playbook(PlaybookArgs),
    /// Take fresh servers to ready for `ferry deploy`: deploy user, SSH,
    /// packages, nginx, PostgreSQL on the db hosts, firewall.
    #[command(
        after_help = "Examples:\n  ferry setup production            # as root (or setup_user), then: ferry deploy production\n  ferry setup production --check    # what it would change\n  ferry setup production -l db1"
    )]
    Setup(SetupArgs),
    /// Show the app's process logs from every host (journald or supervisor).
    #[command(
        after_help = "Examples:\n  ferry logs production\n  ferry logs production web -n 200\n  ferry logs production worker -f   # until Ctrl-C"
    )]
    Logs(LogsArgs),
    /// Open an interactive shell on a host, in its `current` release.
    #[command(
        after_help = "Examples:\n  ferry ssh production          # the stage's first host\n  ferry ssh production web2"
    )]
    Ssh(SshArgs),
    /// Set up `git push STAGE main` to deploy the stage (or remove it): the
    /// push is accepted only if the deploy succeeded.
    #[command(
        after_help = "Examples:\n  ferry remote add production              # then: git push production main\n  ferry remote add production --host web2\n  ferry remote remove production"
    )]
    Remote(RemoteArgs),
    /// Print a completion script for SHELL on stdout.
    #[command(
        after_help = "Examples:\n  ferry completions bash > ~/.local/share/bash-completion/completions/ferry\n  ferry completions zsh > ~/.zfunc/_ferry\n  ferry completions fish > ~/.config/fish/completions/ferry.fish"
    )]
    Completions(CompletionsArgs),
    /// Print ferry's manual page (roff) on stdout.
    #[command(
        after_help = "Examples:\n  ferry man | man -l -\n  ferry man > ~/.local/share/man/man1/ferry.1"
    )]
    Man,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The stage: its inventory is inventory/STAGE.yml (or .yaml, .ini).
    pub stage: String,
    /// Only this Procfile process type (`web`, `worker`).
    pub process: Option<String>,
    /// Keep printing new lines as they are written, until Ctrl-C.
    #[arg(short, long)]
    pub follow: bool,
    /// How many of the latest lines to show first, per host (per log file
    /// under supervisor).
    #[arg(short = 'n', long, default_value_t = 50, value_name = "N")]
    pub lines: usize,
    /// Only hosts matching this pattern (`web1`, `web:&eu`, `all:!db`).
    #[arg(short = 'l', long, value_name = "PATTERN")]
    pub limit: Option<String>,
}

#[derive(Debug, Args)]
pub struct SshArgs {
    /// The stage: its inventory is inventory/STAGE.yml (or .yaml, .ini).
    pub stage: String,
    /// The host, by its inventory name (default: the stage's first).
    pub host: Option<String>,
}

#[derive(Debug, Args)]
pub struct RemoteArgs {
    #[command(subcommand)]
    pub action: RemoteAction,
}

#[derive(Debug, Subcommand)]
pub enum RemoteAction {
    /// Set up the push target on the stage's deploy host (re-run to update
    /// it) and add the git remote STAGE.
    #[command(
        after_help = "Examples:\n  ferry remote add production   # then: git push production main\n  ferry remote add staging --host web2 --branch develop"
    )]
    Add(RemoteAddArgs),
    /// Remove the push target, its key from the stage's hosts, and the git
    /// remote.
    #[command(after_help = "Example:\n  ferry remote remove production")]
    Remove(StageArgs),
}

#[derive(Debug, Args)]
pub struct RemoteAddArgs {
    /// The stage: its inventory is inventory/STAGE.yml (or .yaml, .ini).
    pub stage: String,
    /// The deploy host (default: the first of group `push`, else the first
    /// host the deploy reaches).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// The branch whose pushes deploy; pushes to others are refused.
    #[arg(long, default_value = "main", value_name = "BRANCH")]
    pub branch: String,
    #[command(flatten)]
    pub exec: ExecArgs,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// A Django app (manage.py): gunicorn, migrations, collectstatic.
    #[arg(long, conflicts_with_all = ["flask", "procfile"])]
    pub django: bool,
    /// A Flask app: gunicorn serving it.
    #[arg(long, conflicts_with = "procfile")]
    pub flask: bool,
    /// Any app whose Procfile says how to run its processes.
    #[arg(long)]
    pub procfile: bool,
    /// Also write a CI workflow that runs `ferry deploy production` on
    /// every push to main (in a project that has deploy.yml: only that).
    #[arg(long, value_name = "CI")]
    pub ci: Option<crate::init::ci::Ci>,
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
    /// Ansible Vault: a file holding the vault password, or an executable
    /// that prints it (repeatable; also `$ANSIBLE_VAULT_PASSWORD_FILE`).
    #[arg(long, value_name = "FILE")]
    pub vault_password_file: Vec<PathBuf>,
    /// Ask on the terminal (no echo) for the vault password.
    #[arg(short = 'J', long, alias = "ask-vault-password")]
    pub ask_vault_pass: bool,
    /// A vault password for vault id ID: from a file, an executable, or
    /// `prompt` (repeatable).
    #[arg(long, value_name = "[ID@]SOURCE")]
    pub vault_id: Vec<String>,
    /// Whom to log in as: set by the command (`setup` logs in as `setup_user`).
    #[arg(skip)]
    pub login: crate::plan::Login,
    /// `ferry playbook`'s `-u`, `-b`, `--become-user`, `--become-method`.
    #[arg(skip)]
    pub plays: crate::playbook::PlayDefaults,
    /// `ferry playbook`'s `--tags`/`--skip-tags` (no flag of its own here).
    #[arg(skip)]
    pub tags: crate::plan::TagFilter,
    /// Whether facts can be gathered (set by the command: not offline).
    #[arg(skip)]
    pub facts: crate::run::Gathering,
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
    /// One JSON event per line, for CI (docs/events.md).
    #[arg(long)]
    pub json: bool,
    /// Show each step's output as it arrives.
    #[arg(short, long)]
    pub verbose: bool,
    /// Only errors and the final verdict: no step lines, no recap table.
    #[arg(short, long, conflicts_with_all = ["json", "verbose"])]
    pub quiet: bool,
    /// No step lines and no recap unless something failed (for commands
    /// that print a report of their own: `releases`, `unlock`).
    #[arg(skip)]
    pub own_report: bool,
    /// Show file steps' changes as unified diffs (`--diff` of the commands
    /// that run playbooks).
    #[arg(skip)]
    pub diff: bool,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The stage: its inventory is inventory/STAGE.yml (or .yaml, .ini).
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
    /// The stage: its inventory is inventory/STAGE.yml (or .yaml, .ini).
    pub stage: String,
    /// The git revision to plan (default: HEAD).
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
    /// The stage: its inventory is inventory/STAGE.yml (or .yaml, .ini).
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
    /// The stage: its inventory is inventory/STAGE.yml (or .yaml, .ini).
    pub stage: String,
    /// Only hosts matching this pattern (`web1`, `web:&eu`, `all:!db`).
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
    /// The stage: its inventory is inventory/STAGE.yml (or .yaml, .ini).
    pub stage: String,
    /// Only hosts matching this pattern (`web1`, `web:&eu`, `all:!db`).
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
    /// The stage: its inventory is inventory/STAGE.yml (or .yaml, .ini).
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
    /// Connect as USER where neither the play (`remote_user`) nor the
    /// inventory (`ansible_user`) names one.
    #[arg(short = 'u', long, value_name = "USER")]
    pub user: Option<String>,
    /// Escalate with sudo in the plays that do not say `become`.
    #[arg(short = 'b', long = "become")]
    pub escalate: bool,
    /// Whom to become where the play names no `become_user` (default root).
    #[arg(long, value_name = "USER")]
    pub become_user: Option<String>,
    /// How to escalate: only `sudo`, ferry's way.
    #[arg(long, value_name = "METHOD")]
    pub become_method: Option<String>,
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
            quiet: false,
            own_report: true,
            diff: false,
        }
    }
}
