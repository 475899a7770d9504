//! ferry: an agentless deploy orchestrator.
//!
//! A YAML playbook and an Ansible inventory are parsed into located trees,
//! compiled — with variables resolved and every template rendered — into a
//! [`plan::Plan`] per host, and that plan is then executed over SSH.
//! Compilation is pure: every input error is found before any host is touched.
//!
//! # Layout
//!
//! - `cli`, `run`, `error`: the command line, one function per subcommand,
//!   and the one place that turns errors into exit statuses.
//! - `diagnostic`, `suggestion`: located input errors with `did you mean`.
//! - `yaml`: YAML 1.1 (as Ansible reads it) into a tree of located nodes.
//! - `stage`: which files a stage reads; `-e` extra variables.
//! - `secrets`: a stage's secrets file, its values masked everywhere.
//! - `vault`: Ansible Vault values and files, opened with the run's passwords.
//! - `init`: `ferry init`, the files that deploy an app in a directory.
//! - `playbook`: plays and tasks, roles, includes (by path, or reusable
//!   playbooks by name), loops and free-form arguments as Ansible writes them.
//! - `modules`: what each module compiles to (a command and its check).
//! - `shell`: quoting, the command builder, masking of secrets.
//! - `plan`: compilation into per-host steps, and how a plan is printed.
//! - `release`: releases on the server, and the id of a new one: the deploy
//!   lock, the one-round-trip probe of a host, and the commands that prepare,
//!   finish, switch and remove releases.
//! - `executor`: runs a plan over SSH and reports events.
//! - `certs`: TLS certificates for many hosts: ACME on the controller (the
//!   cross-host `certs` step), or certbot on the hosts.
//! - `transport`: SSH sessions to hosts (russh), known_hosts, keys, ssh_config.
//! - `template`: the Jinja environment (strict, Ansible's filters) every value is rendered with.
//! - `report`: shows those events (live lines, plain log lines or JSON) and
//!   the recap at the end.
//! - `inventory`: Ansible INI/YAML inventories → hosts, groups, merged vars,
//!   host patterns, the `ansible-inventory --list` JSON.

pub mod certs;
pub mod cli;
pub mod diagnostic;
pub mod error;
pub mod executor;
pub mod init;
pub mod inventory;
pub mod modules;
pub mod plan;
pub mod playbook;
pub mod release;
pub mod report;
pub mod run;
pub mod secrets;
pub mod shell;
pub mod stage;
pub mod suggestion;
pub mod template;
pub mod transport;
pub mod vault;
pub mod yaml;
