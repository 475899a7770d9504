//! Playbooks: the YAML a user writes, read into typed plays and tasks.
//! Ansible's language is read as Ansible reads it: roles (`role`), files
//! included by path (`search`, `include_vars`), `with_*` loops (`loops`),
//! blocks with `rescue` and `always` (`block`) and free-form `key=value` arguments (`kv`).
//!
//! Parsing checks structure only — keys, types, module names, includes — and
//! keeps every value as a located [`Node`], because values are templates that
//! can only be rendered per host, at compile time (`crate::plan`).

mod ansible_cfg;
mod asynchronous;
mod block;
mod include_vars;
mod kv;
mod library;
mod loops;
mod meta;
mod parse;
mod play_defaults;
mod reader;
mod role;
mod search;
mod set_fact;

use crate::diagnostic::Span;
use crate::yaml::Node;

pub(crate) use ansible_cfg::vault_sources;
pub use block::{FAILED_RESULT, FAILED_TASK, Frame, Part};
pub use library::{Library, built_in_template};
pub use loops::{LoopKind, Looping};
pub(crate) use parse::vars_of;
pub use parse::{load, parse_source};
pub use play_defaults::PlayDefaults;

/// A list of plays, with every include and import already spliced in.
#[derive(Debug)]
pub struct Playbook {
    pub plays: Vec<Play>,
}

/// What happens when a step after `release.switch` fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Rollback {
    /// Switch the hosts back to the release they had and restart it.
    Auto,
    /// Leave the hosts as they are; the user rolls back by hand.
    Manual,
}

#[derive(Debug)]
pub struct Play {
    pub name: String,
    /// The host pattern, with where it was written.
    pub hosts: Node,
    /// Defaults carried by included playbooks: the lowest precedence of all.
    pub defaults: Vec<(String, Node)>,
    pub vars: Vec<(String, Node)>,
    pub vars_files: Vec<Node>,
    /// The `vars/` of the play's roles: above `vars_files`, below task vars,
    /// and seen by the whole play, as in Ansible.
    pub role_vars: Vec<(String, Node)>,
    pub tasks: Vec<Task>,
    pub handlers: Vec<Task>,
    pub serial: Option<Node>,
    pub max_fail_percentage: Option<u64>,
    pub escalate: Option<bool>,
    pub become_user: Option<String>,
    /// `remote_user`: who to connect as where the inventory names no user.
    pub remote_user: Option<Node>,
    pub rollback: Rollback,
    /// `gather_facts` (default true): the play's templates may read the
    /// hosts' facts, gathered before compiling when they do.
    pub gather_facts: bool,
    /// Names of variables whose values must never be shown, with where each
    /// was named.
    pub secrets: Vec<(String, Span)>,
    pub span: Span,
}

/// One task: a module call and the keys that say when and how it runs.
#[derive(Debug, Clone)]
pub struct Task {
    pub name: Option<String>,
    /// The canonical module name (`ansible.builtin.shell` is read as `shell`).
    pub module: String,
    /// The key the module was named by, for errors.
    pub module_node: Node,
    /// The module's arguments: a free-form string or a mapping.
    pub args: Node,
    /// Conditions, all of which must hold (an include's `when` is added here).
    pub when: Vec<Node>,
    /// `loop:` or `with_*`, with `loop_control`.
    pub looping: Option<Looping>,
    pub register: Option<String>,
    pub notify: Vec<String>,
    /// Topics a handler also answers to (Ansible's `listen`).
    pub listen: Vec<String>,
    pub run_once: bool,
    pub escalate: Option<bool>,
    /// `become: "{{ expr }}"`: escalate when the expression, rendered per
    /// host, is true (a playbook whose steps need root only under some
    /// setting, such as `process_manager: systemd`).
    pub escalate_if: Option<Node>,
    pub become_user: Option<String>,
    pub tags: Vec<String>,
    pub changed_when: Option<Node>,
    pub failed_when: Option<Node>,
    pub creates: Option<Node>,
    pub removes: Option<Node>,
    pub timeout: Option<u64>,
    pub retries: Option<u64>,
    pub delay: Option<u64>,
    pub until: Option<Node>,
    pub environment: Vec<(String, Node)>,
    pub ignore_errors: bool,
    pub no_log: bool,
    /// Ansible's `check_mode`: `false` runs the task for real in a dry run
    /// (a read-only probe whose result later steps read), `true` runs it in
    /// check mode even in a deploy.
    pub check_mode: Option<bool>,
    /// Task-level vars (and the vars an include passed down), lowest first:
    /// for a role's task, the role's own `vars/`, the role entry's `vars:`,
    /// then the task's.
    pub vars: Vec<(String, Node)>,
    /// The parameters of the role the task came from: above task vars and
    /// `include_vars`, below `-e`.
    pub params: Vec<(String, Node)>,
    /// The directory of the role the task came from: its `files/` and
    /// `templates/` are searched before the playbook's.
    pub role_dir: Option<std::path::PathBuf>,
    /// `include_vars`: variables this task sets for the later tasks of the
    /// play on each host where its `when` holds (it runs no module).
    pub include_vars: Option<Vec<(String, Node)>>,
    /// `meta: flush_handlers`: the handlers notified so far run here (it
    /// runs no module).
    pub flush_handlers: bool,
    /// `set_fact`: variables this task sets for the later tasks of the
    /// play on its host (it runs no module).
    pub set_fact: Option<Vec<(String, Node)>>,
    /// The blocks with `rescue` or `always` the task is in, outermost
    /// first (empty for most tasks).
    pub blocks: Vec<Frame>,
    pub span: Span,
}

impl Task {
    /// A task with every keyword at its default, written at `node`.
    pub(crate) fn bare(node: &Node, module: &str) -> Task {
        Task {
            name: None,
            module: module.to_string(),
            module_node: node.clone(),
            args: node.clone(),
            when: Vec::new(),
            looping: None,
            register: None,
            notify: Vec::new(),
            listen: Vec::new(),
            run_once: false,
            escalate: None,
            escalate_if: None,
            become_user: None,
            tags: Vec::new(),
            changed_when: None,
            failed_when: None,
            creates: None,
            removes: None,
            timeout: None,
            retries: None,
            delay: None,
            until: None,
            environment: Vec::new(),
            ignore_errors: false,
            no_log: false,
            check_mode: None,
            vars: Vec::new(),
            params: Vec::new(),
            role_dir: None,
            include_vars: None,
            flush_handlers: false,
            set_fact: None,
            blocks: Vec::new(),
            span: node.span.clone(),
        }
    }
}
