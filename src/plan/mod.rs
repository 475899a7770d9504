//! The plan: what each host will do, step by step, as data.
//!
//! [`compile`] turns a playbook, an inventory and variables into a [`Plan`]
//! with every value rendered for its host and every command built and quoted.
//! `ferry plan` prints it, `ferry deploy` executes exactly it. Only what truly
//! depends on a host's earlier results (a `when:` on a registered result) is
//! kept as an expression, with the variables it needs, for the executor.

mod commit_files;
mod compile;
mod display;
mod facts;
mod lookup;
mod scope;
mod tags;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::modules::Action;
use crate::playbook::Rollback;
use crate::shell::Masker;

pub use commit_files::CommitFiles;
pub(crate) use compile::wrap_remote;
pub use compile::{CompileInput, Login, compile};
pub use display::render_text;
pub use facts::Facts;
pub use tags::TagFilter;

/// Every play's steps for every host it targets.
#[derive(Debug, Serialize)]
pub struct Plan {
    pub stage: String,
    /// The release a deploy of this plan creates on every host.
    pub release: crate::release::ReleaseId,
    pub plays: Vec<PlayPlan>,
    /// Secret values, masked wherever the plan is shown.
    #[serde(skip)]
    pub masker: Masker,
    /// Hosts whose plays read facts that are not gathered yet: their plans
    /// have no steps. Gather theirs, and compile again.
    #[serde(skip)]
    pub wants_facts: std::collections::BTreeSet<String>,
}

#[derive(Debug, Serialize)]
pub struct PlayPlan {
    pub name: String,
    /// The `hosts:` pattern as written.
    pub pattern: String,
    /// Batch sizes for rolling runs; empty means all hosts at once.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub serial: Vec<Batch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_fail_percentage: Option<u64>,
    pub rollback: Rollback,
    /// Whether the hosts' facts were gathered for this play (only when a
    /// template of it reads one).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub facts_gathered: bool,
    pub hosts: Vec<HostPlan>,
}

/// One batch size of `serial:`: a count or a percentage of the play's hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Batch {
    Hosts(u64),
    Percent(u64),
}

/// Where and as whom ferry connects to a host.
#[derive(Debug, Clone, Serialize)]
pub struct Connection {
    pub address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<std::path::PathBuf>,
    /// ssh options from the inventory's `ansible_ssh_common_args` and
    /// `ansible_ssh_extra_args` (`-o`, `-J`, …), in order: given before
    /// ssh_config, as on ssh's command line.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ssh_options: Vec<(String, Vec<String>)>,
    /// The passphrase of an encrypted key (`ssh_key_passphrase`, or asked
    /// for on the terminal). Secret: never serialized, masked everywhere.
    #[serde(skip)]
    pub passphrase: Option<String>,
    /// sudo's password for `become` (`ansible_become_password`, or asked
    /// for with `--ask-become-pass`). Secret: never serialized, masked
    /// everywhere, sent to the host on a command's stdin only.
    #[serde(skip)]
    pub become_password: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct HostPlan {
    pub host: String,
    pub connection: Connection,
    pub steps: Vec<Step>,
    /// Handlers, run when a step notified them: at the end of the play and
    /// at each [`Body::FlushHandlers`] step.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub handlers: Vec<Step>,
}

/// One task for one host (one per item when the task loops).
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub name: String,
    pub module: String,
    /// Where the task was written (`deploy.yml:12:7`).
    pub location: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<Value>,
    /// `loop_control.label`: what is shown for the item instead of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub body: Body,
    /// Conditions left for run time: they read results registered earlier.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<Expr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub register: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<String>,
    /// Names a handler answers to (its name and its `listen` topics).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub listen: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub run_once: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub become_user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<Expr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_when: Option<Expr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_when: Option<Expr>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ignore_errors: bool,
    /// The step's command and output are never shown.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_log: bool,
    /// The task's `check_mode`: `Some(false)` runs it for real in a dry
    /// run, `Some(true)` only checks it even in a deploy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_mode: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The blocks with `rescue` or `always` the step is in, outermost
    /// first: after a failure, they say which later steps still run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<crate::playbook::Frame>,
}

/// What a step does, as far as it can be known before running.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Body {
    /// Fully compiled.
    Ready { action: Action },
    /// Skipped at compile time: a `when:` that is false for this host.
    Skipped { reason: String },
    /// The arguments use a registered result: rendered and compiled at run
    /// time, from these raw arguments and variables.
    Deferred {
        args: Value,
        /// The task's `environment:`, rendered (exported before the command).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        environment: Vec<(String, String)>,
        vars: Map<String, Value>,
        reason: String,
    },
    /// `meta: flush_handlers` (and the flush Ansible makes after
    /// `pre_tasks`, and after the roles and `tasks`): the handlers notified
    /// so far run here.
    FlushHandlers,
}

/// A Jinja expression evaluated at run time, with the variables it reads
/// (other than registered results) already resolved for its host.
#[derive(Debug, Clone, Serialize)]
pub struct Expr {
    pub expr: String,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub vars: Map<String, Value>,
    /// Where it was written, for errors at run time.
    pub location: String,
}

impl Plan {
    /// A host with release steps in more than one play, if any: one deploy
    /// makes one release per host.
    pub fn host_with_two_releases(&self) -> Option<String> {
        let mut seen = std::collections::HashSet::new();
        self.plays.iter().find_map(|play| {
            play.hosts
                .iter()
                .filter(|h| h.deploy_to().is_some())
                .find(|h| !seen.insert(h.host.clone()))
                .map(|h| h.host.clone())
        })
    }
}

impl HostPlan {
    /// Where this host's releases live: the `deploy_to` its release steps
    /// carry (`None` when the play has no release step).
    pub fn deploy_to(&self) -> Option<String> {
        self.steps.iter().find_map(|step| match &step.body {
            Body::Ready {
                action: Action::Release { args, .. },
            } => args["deploy_to"].as_str().map(str::to_string),
            _ => None,
        })
    }
}

impl Step {
    /// The point where the handlers notified so far run, written at
    /// `location`, in `blocks`.
    pub fn flush_handlers(location: String, blocks: Vec<crate::playbook::Frame>) -> Step {
        let mut step = Step::command("flush handlers", crate::shell::Command::new("true"), "");
        step.module = "meta".into();
        step.location = location;
        step.register = None;
        step.changed_when = None;
        step.body = Body::FlushHandlers;
        step.blocks = blocks;
        step
    }

    /// A step ferry makes itself (`ferry releases`, `ferry unlock`): one
    /// command that reports `ok` (its output is what matters), its result
    /// registered under `register`.
    pub fn command(name: &str, run: crate::shell::Command, register: &str) -> Step {
        Step {
            name: name.to_string(),
            module: "command".to_string(),
            location: format!("<ferry {name}>"),
            item: None,
            label: None,
            body: Body::Ready {
                action: Action::Remote {
                    check: None,
                    run,
                    upload: None,
                },
            },
            when: Vec::new(),
            register: Some(register.to_string()),
            notify: Vec::new(),
            listen: Vec::new(),
            run_once: false,
            become_user: None,
            timeout: None,
            retries: None,
            delay: None,
            until: None,
            changed_when: Some(Expr {
                expr: "false".to_string(),
                vars: Map::new(),
                location: format!("<ferry {name}>"),
            }),
            failed_when: None,
            ignore_errors: false,
            no_log: false,
            check_mode: None,
            tags: Vec::new(),
            blocks: Vec::new(),
        }
    }
}
