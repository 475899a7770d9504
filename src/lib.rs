//! ferry: an agentless deploy orchestrator.
//!
//! A YAML playbook and an Ansible inventory are parsed into located trees,
//! compiled — with variables resolved and every template rendered — into a
//! [`plan::Plan`] per host, and that plan is then executed over SSH.
//! Compilation is pure: every input error is found before any host is touched.
//!
//! # Layout
//!
//! - `diagnostic`, `suggestion`: located input errors with `did you mean`.
//! - `yaml`: YAML 1.1 (as Ansible reads it) into a tree of located nodes.
//! - `inventory`: Ansible INI/YAML inventories → hosts, groups, merged vars,
//!   host patterns, the `ansible-inventory --list` JSON.

pub mod diagnostic;
pub mod inventory;
pub mod suggestion;
pub mod yaml;
