//! `set_fact`: variables a task sets for the later tasks of the play on
//! its host. It runs no module: the compiler sets them before connecting
//! when their values and `when` are known then, and otherwise leaves a
//! step that sets them at run time (`crate::plan`).

use super::Task;
use super::parse::{conditions, vars_of};
use super::reader::{MapReader, bool_of};
use crate::diagnostic::Diagnostic;
use crate::yaml::{Node, Value};

/// The keys that name `set_fact`.
pub(super) const SET_FACT: &[&str] = &["set_fact", "ansible.builtin.set_fact"];

/// Task keywords a `set_fact` takes (the loop keys are taken before).
/// `become` and `become_user` are read and have no effect: the facts are
/// set on the controller, as in Ansible.
const TASK_KEYS: &[&str] = &[
    "name",
    "when",
    "tags",
    "vars",
    "no_log",
    "become",
    "become_user",
];

/// Reads a `set_fact` task: its variables, in order (`cacheable` is
/// accepted: ferry keeps facts for the run, as Ansible's default memory
/// cache does).
pub(super) fn set_fact(
    key: &Node,
    args: &Node,
    mut map: MapReader<'_>,
) -> Result<Task, Diagnostic> {
    let args = super::kv::free_form_args("set_fact", args)?;
    if !matches!(args.value, Value::Map(_)) {
        return Err(args
            .error("`set_fact` takes variables as a mapping or as `key=value` words")
            .with_help("for example `set_fact: {app_port: 8000}` or `set_fact: app_port=8000`"));
    }
    let mut facts = vars_of(&args)?;
    if let Some(i) = facts.iter().position(|(name, _)| name == "cacheable") {
        let (_, node) = facts.remove(i);
        if !matches!(&node.value, Value::Str(s) if s.contains("{{")) {
            bool_of(&node, "cacheable")?;
        }
    }
    if facts.is_empty() {
        return Err(args.error("`set_fact` sets no variable"));
    }
    let mut task = Task::bare(key, "set_fact");
    task.args = args.clone();
    task.looping = super::loops::looping(&mut map)?;
    task.name = map.string("name")?;
    task.when = conditions(map.take("when"));
    task.tags = map.strings("tags")?;
    task.vars = map
        .take("vars")
        .map(vars_of)
        .transpose()?
        .unwrap_or_default();
    task.no_log = map.bool("no_log")?.unwrap_or(false);
    map.bool("become")?;
    map.string("become_user")?;
    task.set_fact = Some(facts);
    map.finish("a `set_fact` task", TASK_KEYS)?;
    Ok(task)
}
