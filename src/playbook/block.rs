//! `block:`: a group of tasks sharing keywords. Its `when`, `tags`,
//! `vars`, `become`, `become_user`, `environment`, `ignore_errors` and
//! `no_log` apply to each task inside, as Ansible applies them. `rescue:`
//! and `always:` are refused: their tasks run on a failure, and ferry's
//! executor does not do that yet.

use super::Task;
use super::parse::{Included, Parser, conditions, vars_of};
use super::reader::MapReader;
use crate::diagnostic::Diagnostic;
use crate::yaml::Node;

const BLOCK_KEYS: &[&str] = &[
    "block",
    "name",
    "when",
    "tags",
    "vars",
    "become",
    "become_user",
    "environment",
    "ignore_errors",
    "no_log",
];

impl Parser<'_> {
    pub(super) fn block(
        &mut self,
        body: &Node,
        mut map: MapReader<'_>,
        included: &mut Included,
    ) -> Result<Vec<Task>, Diagnostic> {
        for key in ["rescue", "always"] {
            if let Some((at, _)) = map.take_entry(key) {
                return Err(at
                    .error(format!("`{key}` is not supported yet: ferry does not run tasks after a failure"))
                    .with_help("without it, the block's tasks run and a failure stops the host, as a block without `rescue` does"));
            }
        }
        map.string("name")?;
        let when = conditions(map.take("when"));
        let tags = map.strings("tags")?;
        let vars = map
            .take("vars")
            .map(vars_of)
            .transpose()?
            .unwrap_or_default();
        let environment = map
            .take("environment")
            .map(vars_of)
            .transpose()?
            .unwrap_or_default();
        let escalate = map.bool("become")?;
        let become_user = map.string("become_user")?;
        let ignore_errors = map.bool("ignore_errors")?;
        let no_log = map.bool("no_log")?;
        map.finish("a `block`", BLOCK_KEYS)?;
        let mut tasks = self.tasks(body, included)?;
        for task in &mut tasks {
            task.when.splice(0..0, when.iter().cloned());
            task.tags.extend(tags.iter().cloned());
            task.vars.splice(0..0, vars.iter().cloned());
            task.environment.splice(0..0, environment.iter().cloned());
            if task.escalate_if.is_none() {
                task.escalate = task.escalate.or(escalate);
            }
            if task.become_user.is_none() {
                task.become_user.clone_from(&become_user);
            }
            task.ignore_errors |= ignore_errors == Some(true);
            task.no_log |= no_log == Some(true);
        }
        Ok(tasks)
    }
}
