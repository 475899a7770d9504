//! `async`/`poll`: Ansible runs such a task in the background and polls it
//! every `poll` seconds, failing it after `async` seconds. ferry runs it
//! in the foreground with `async` as its timeout, which is what a deploy
//! playbook asks for (`apt` with `async: 600, poll: 10`). Fire-and-forget
//! (`poll: 0`, checked later with `async_status`) would leave a process
//! running that no step owns: refused where it is written.

use super::reader::{MapReader, uint_of};
use crate::diagnostic::Diagnostic;

/// The task's timeout from `timeout`, `async` and `poll` (the smaller of
/// `timeout` and `async`).
pub(super) fn timeout(map: &mut MapReader<'_>) -> Result<Option<u64>, Diagnostic> {
    let timeout = map.uint("timeout")?;
    let poll = map.take("poll");
    let Some(node) = map.take("async") else {
        return Ok(timeout);
    };
    let seconds = uint_of(node, "async")?;
    if seconds == 0 {
        // `async: 0` is Ansible's "not asynchronous".
        return Ok(timeout);
    }
    if let Some(poll) = poll
        && uint_of(poll, "poll")? == 0
    {
        return Err(poll
            .error("ferry does not leave a task running in the background (`poll: 0`)")
            .with_help(
                "remove `poll: 0`: the task then runs to its end, stopped after `async` seconds \
                 (and drop the `async_status` task that waited for it)",
            ));
    }
    Ok(Some(timeout.map_or(seconds, |t| t.min(seconds))))
}

/// `delegate_to`, `local_action` and `delegate_facts`: a step of one host
/// run on another. Refused where written: each ferry step runs on its own
/// host, and the release barrier counts hosts by their own steps.
pub(super) fn refuse_delegation(map: &mut MapReader<'_>) -> Result<(), Diagnostic> {
    for key in ["delegate_to", "local_action", "delegate_facts"] {
        if let Some((node, _)) = map.take_entry(key) {
            return Err(node
                .error(format!(
                    "ferry does not run a host's task on another host (`{key}`)"
                ))
                .with_help(
                    "put the task in a play of its own whose `hosts:` is the host it should run \
                     on (with `run_once: true` to run it once); read other hosts' values there \
                     through `hostvars`",
                ));
        }
    }
    Ok(())
}
