//! Facts in the compile: a play that gathers facts (Ansible's default) sees
//! each host's facts as `ansible_facts` and as `ansible_<name>`, just above
//! the inventory's variables. They are gathered before compiling, and only
//! for the plays whose templates read one: a compile that meets a fact it
//! does not know marks its host as wanting facts, and the caller gathers
//! them and compiles again (see `run::facts`).

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::scope::{Raw, Scope};
use crate::diagnostic::{Diagnostic, Span};

/// The facts ferry gathers, without Ansible's `ansible_` prefix.
pub(crate) const NAMES: &[&str] = &[
    "all_ipv4_addresses",
    "architecture",
    "date_time",
    "default_ipv4",
    "distribution",
    "distribution_major_version",
    "distribution_release",
    "distribution_version",
    "domain",
    "env",
    "fqdn",
    "hostname",
    "kernel",
    "kernel_version",
    "lsb",
    "machine",
    "memfree_mb",
    "memtotal_mb",
    "nodename",
    "os_family",
    "pkg_mgr",
    "processor_cores",
    "processor_count",
    "processor_nproc",
    "processor_threads_per_core",
    "processor_vcpus",
    "python",
    "python_version",
    "service_mgr",
    "swapfree_mb",
    "swaptotal_mb",
    "system",
    "user_dir",
    "user_gecos",
    "user_gid",
    "user_id",
    "user_shell",
    "user_uid",
    "virtualization_role",
    "virtualization_type",
];

/// Whether a variable is a fact: `ansible_facts`, or `ansible_` and the
/// name of one.
pub(crate) fn is_fact(name: &str) -> bool {
    name == "ansible_facts"
        || name
            .strip_prefix("ansible_")
            .is_some_and(|n| NAMES.contains(&n))
}

/// What a compile knows of facts.
#[derive(Debug, Clone, Copy)]
pub enum Facts<'a> {
    /// Nothing connects (`--offline`, `--syntax-check`, a listing): a
    /// template reading a fact is an error that says so.
    Never(&'static str),
    /// The hosts gathered so far; a host not in it that reads a fact is
    /// left for the caller to gather ([`super::Plan::wants_facts`]).
    Gathered(&'a HashMap<String, Map<String, Value>>),
}

/// A host's facts, not known while compiling: the first read is an error
/// (where it was read, and why), and remembered.
#[derive(Debug)]
pub(crate) struct Unknown {
    why: Option<&'static str>,
    read: Cell<bool>,
}

impl Unknown {
    pub fn new(why: Option<&'static str>) -> Unknown {
        Unknown {
            why,
            read: Cell::new(false),
        }
    }

    /// The error for reading fact `name` at `span`.
    pub fn read(&self, name: &str, span: &Span) -> Diagnostic {
        self.read.set(true);
        let why = self
            .why
            .unwrap_or("the facts are gathered once the plan is known to need them");
        Diagnostic::new(format!("fact `{name}` is not known: {why}"), span.clone()).with_help(
            "run without `--offline`/`--syntax-check` to gather facts, or give the value with `-e`",
        )
    }

    /// Whether a template read a fact.
    pub fn was_read(&self) -> bool {
        self.read.get()
    }
}

/// Sets a host's facts in `scope`: `ansible_facts` and each as
/// `ansible_<name>`.
pub(crate) fn set(scope: &mut Scope, facts: &Map<String, Value>) {
    scope.set(
        "ansible_facts",
        Raw::Final(Arc::new(Value::Object(facts.clone()))),
    );
    for (name, value) in facts {
        scope.set(
            format!("ansible_{name}"),
            Raw::Final(Arc::new(value.clone())),
        );
    }
}

/// Ansible's `hostvars[host]` additions: the gathered facts, prefixed and
/// under `ansible_facts`.
pub(crate) fn prefixed(facts: &Map<String, Value>) -> Map<String, Value> {
    let mut out: Map<String, Value> = facts
        .iter()
        .map(|(k, v)| (format!("ansible_{k}"), v.clone()))
        .collect();
    out.insert("ansible_facts".into(), Value::Object(facts.clone()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_are_the_prefixed_names_ferry_gathers() {
        assert!(is_fact("ansible_os_family"));
        assert!(is_fact("ansible_facts"));
        assert!(!is_fact("os_family"));
        assert!(!is_fact("ansible_user"));
        assert!(!is_fact("ansible_host"));
    }
}
