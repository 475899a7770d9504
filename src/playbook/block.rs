//! `block:`: a group of tasks sharing keywords, with the tasks that run
//! when one of them fails (`rescue:`) and those that run in any case
//! (`always:`). The block's `when`, `tags`, `vars`, `become`,
//! `become_user`, `environment`, `ignore_errors` and `no_log` apply to
//! every task of its three sections, as Ansible applies them.
//!
//! Tasks stay a flat list: each task of a block with `rescue` or `always`
//! carries the blocks it is in ([`Frame`]s, outermost first), and the
//! executor reads them to decide, after a failure, which of the following
//! steps run (`crate::executor`'s `blocks`). Release and `certs` steps meet
//! the other hosts and are settled before connecting, so they are refused
//! inside such a block: a failure there must stop the host before the switch.

use serde::Serialize;

use super::Task;
use super::parse::{Included, Parser, conditions, vars_of};
use super::reader::MapReader;
use crate::diagnostic::Diagnostic;
use crate::yaml::Node;

const BLOCK_KEYS: &[&str] = &[
    "block",
    "rescue",
    "always",
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

/// In a rescue: the result of the step that failed (Ansible's name),
/// known at run time only.
pub const FAILED_RESULT: &str = "ansible_failed_result";
/// In a rescue: the step that failed, as `{name, action}`.
pub const FAILED_TASK: &str = "ansible_failed_task";

/// The section of a block a task is written in, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    Block,
    Rescue,
    Always,
}

/// One block a task is in: which (numbered in the play, unique within a
/// playbook), in which section, and whether that block has a `rescue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Frame {
    pub block: usize,
    pub part: Part,
    /// The block has a `rescue:` section: a failure in its `block:` is
    /// rescued, even if the section compiles to no step (an empty loop).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub rescue: bool,
}

impl Parser<'_> {
    pub(super) fn block(
        &mut self,
        body: &Node,
        mut map: MapReader<'_>,
        included: &mut Included,
    ) -> Result<Vec<Task>, Diagnostic> {
        let rescue = map.take("rescue");
        let always = map.take("always");
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
        let mut sections = vec![(Part::Block, self.tasks(body, included)?)];
        for (part, node) in [(Part::Rescue, rescue), (Part::Always, always)] {
            // An empty section is no section, as in Ansible (`rescue: []`
            // rescues nothing).
            if let Some(node) = node.filter(|n| !n.is_null()) {
                let section = self.tasks(node, included)?;
                if !section.is_empty() {
                    sections.push((part, section));
                }
            }
        }
        let framed = sections.len() > 1;
        let has_rescue = sections.iter().any(|(part, _)| *part == Part::Rescue);
        let block = self.blocks;
        self.blocks += 1;
        let mut tasks = Vec::new();
        for (part, section) in sections {
            for mut task in section {
                if framed {
                    refuse_meeting_step(&task)?;
                    task.blocks.insert(
                        0,
                        Frame {
                            block,
                            part,
                            rescue: has_rescue,
                        },
                    );
                }
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
                tasks.push(task);
            }
        }
        Ok(tasks)
    }
}

/// Release and `certs` steps meet every host of the play (the switch
/// barrier, the certificate order): one skipped by a failure, or run by a
/// rescue, would leave the others waiting or act alone.
fn refuse_meeting_step(task: &Task) -> Result<(), Diagnostic> {
    let module = crate::modules::canonical(&task.module).unwrap_or(&task.module);
    if module.starts_with("release.") || module == "certs" {
        return Err(task
            .module_node
            .error(format!(
                "`{module}` cannot be in a block with `rescue` or `always`: it meets the play's other hosts, so it runs on all of them or fails the host"
            ))
            .with_help("put it after the block; a failure before `release.switch` already leaves every host on the release it had"));
    }
    Ok(())
}

/// Handlers run when notified, outside the order of the play's blocks:
/// a handler from a block with `rescue` or `always` is refused.
pub(super) fn refuse_framed_handlers(handlers: &[Task]) -> Result<(), Diagnostic> {
    match handlers.iter().find(|h| !h.blocks.is_empty()) {
        Some(handler) => Err(handler
            .module_node
            .error("a handler cannot be in a block with `rescue` or `always`")
            .with_help(
                "ferry runs notified handlers one by one; put the rescue in the task that notifies",
            )),
        None => Ok(()),
    }
}
