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
//! - `template`: the Jinja environment (strict, Ansible's filters) every value is rendered with.

pub mod diagnostic;
pub mod suggestion;
pub mod template;
pub mod yaml;
