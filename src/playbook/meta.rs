//! `meta:` tasks: `flush_handlers` (the handlers notified so far run at
//! that point) and `noop`. Ansible's other meta actions change how the
//! run itself goes (`end_play`, `end_host`, `refresh_inventory`, …) and
//! are refused where they are written.

use super::Task;
use super::reader::{MapReader, scalar_string};
use crate::diagnostic::Diagnostic;
use crate::yaml::Node;

/// The keys that name `meta`.
pub(super) const META: &[&str] = &["meta", "ansible.builtin.meta"];

const TASK_KEYS: &[&str] = &["name", "tags"];

/// A `meta` task: a flush of the handlers, or nothing (`noop`).
pub(super) fn meta(
    key: &Node,
    action: &Node,
    mut map: MapReader<'_>,
) -> Result<Option<Task>, Diagnostic> {
    let name = map.string("name")?;
    let tags = map.strings("tags")?;
    map.finish("a `meta` task", TASK_KEYS)?;
    match scalar_string(action, "meta")?.as_str() {
        "flush_handlers" => {
            let mut task = Task::bare(key, "meta");
            task.name = name;
            task.tags = tags;
            task.flush_handlers = true;
            Ok(Some(task))
        }
        "noop" => Ok(None),
        other => Err(action
            .error(format!("`meta: {other}` is not supported"))
            .with_help("ferry runs `meta: flush_handlers` and `meta: noop`; end a host's run with `fail:` or a `when:` on the tasks instead")),
    }
}

/// A flush of the handlers, as Ansible makes one after `pre_tasks` and
/// after the roles and `tasks`, written at `at`.
pub(super) fn implicit_flush(at: &Node) -> Task {
    let mut task = Task::bare(at, "meta");
    task.flush_handlers = true;
    task
}
