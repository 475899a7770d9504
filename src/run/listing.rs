//! `ferry playbook --list-hosts`, `--list-tasks` and `--list-tags`: what
//! ansible-playbook lists, in its layout, from a playbook that compiled
//! (so every input error is reported first, as any run reports it).

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::plan::{Plan, TagFilter};
use crate::playbook::Playbook;

/// Which lists to print.
pub(crate) struct Lists {
    pub hosts: bool,
    pub tasks: bool,
    pub tags: bool,
}

/// The lists for each play: its hosts (after `--limit`), its tasks that
/// the tags select (with their tags), the tags its tasks carry.
pub(crate) fn render(
    playbook: &Playbook,
    plan: &Plan,
    file: &str,
    tags: &TagFilter,
    lists: &Lists,
) -> String {
    let mut out = format!("\nplaybook: {file}\n");
    for (i, (play, compiled)) in playbook.plays.iter().zip(&plan.plays).enumerate() {
        // ferry reads no play-level tags: a play's are always empty.
        let _ = writeln!(
            out,
            "\n  play #{} ({}): {}\tTAGS: []",
            i + 1,
            compiled.pattern,
            play.name
        );
        if lists.hosts {
            let _ = writeln!(out, "    pattern: ['{}']", compiled.pattern);
            let _ = writeln!(out, "    hosts ({}):", compiled.hosts.len());
            for host in &compiled.hosts {
                let _ = writeln!(out, "      {}", host.host);
            }
        }
        let selected: Vec<_> = play
            .tasks
            .iter()
            .filter(|t| !t.flush_handlers && tags.selects(&t.tags))
            .collect();
        if lists.tasks {
            let _ = writeln!(out, "    tasks:");
            for task in &selected {
                let name = task.name.as_deref().unwrap_or(&task.module);
                let _ = writeln!(
                    out,
                    "      {name}\tTAGS: [{}]",
                    sorted(&task.tags).join(", ")
                );
            }
        }
        if lists.tags {
            let all: Vec<String> = selected
                .iter()
                .flat_map(|t| t.tags.iter().cloned())
                .collect();
            let _ = writeln!(out, "      TASK TAGS: [{}]", sorted(&all).join(", "));
        }
    }
    out
}

fn sorted(tags: &[String]) -> Vec<&str> {
    tags.iter()
        .map(String::as_str)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}
