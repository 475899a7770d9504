//! Running a file edit (`lineinfile`, `blockinfile`, `replace`) and a
//! `stat` on one host.
//!
//! An edit reads the file, computes its new text on the controller and
//! writes it back only when it differs. Check mode stops after the
//! computation: what it predicts is what the run, on the same file, does.

use serde_json::{Value, json};

use super::diff::{self, Text};
use super::event::Status;
use super::step::{StepContext, StepOutcome, checking, exec, tail};
use crate::modules::edit::{FileEdit, parse_read};
use crate::modules::stat::{self, StatProbe};
use crate::plan::Step;
use crate::shell::{Command, summary};
use crate::transport::ExecOutput;

pub(super) async fn edit(step: &Step, cx: &StepContext<'_>, edit: &FileEdit) -> StepOutcome {
    let path = &edit.path;
    let read = match run(step, cx, &edit.read, None).await {
        Ok(out) => out,
        Err(failed) => return *failed,
    };
    let found = match parse_read(&read.stdout) {
        Ok(found) => found,
        Err(why) => return StepOutcome::failed(cx.masker.mask(&format!("`{path}` {why}"))),
    };
    let checking = checking(step, cx);
    // In check mode an earlier edit of this file was predicted, not made:
    // this one starts from that prediction, as the run will.
    let predicted = cx.predicted.get(path).filter(|_| checking);
    let before = predicted
        .map(String::as_str)
        .or(found.as_ref().map(|f| f.text.as_str()));
    let edited = match edit.change.apply(path, before, edit.create) {
        Ok(edited) => edited,
        Err(why) => return StepOutcome::failed(cx.masker.mask(&why)),
    };
    let rewrite = edited
        .after
        .as_deref()
        .filter(|after| Some(*after) != before);
    let attributes = match &found {
        Some(found) if rewrite.is_none() => edit.attribute_changes(found),
        _ => Vec::new(),
    };
    let diff = rewrite
        .filter(|_| cx.diff)
        .and_then(|after| {
            let before = before.map_or(Text::Absent, Text::Present);
            let modes = [
                found.as_ref().map(|f| f.mode.as_str()),
                edit.mode.as_deref(),
            ];
            diff::shown(path, before, Text::Present(after), &modes, cx.masker)
        })
        .map(|d| cx.masker.mask(&d));
    let msg = edited.msg.clone();
    if rewrite.is_none() && attributes.is_empty() {
        return outcome(cx, Status::Ok, format!("`{path}`: {msg}"), &msg, None);
    }
    let what = match rewrite {
        Some(_) => format!("`{path}`: {msg}"),
        None => format!("`{path}`: {}", attributes.join(", ")),
    };
    let msg = if rewrite.is_some() {
        msg
    } else {
        attributes.join(", ")
    };
    if checking {
        let mut outcome = outcome(
            cx,
            Status::Changed,
            format!("would change {what}"),
            &msg,
            None,
        );
        outcome.predicted = rewrite.map(|after| (path.clone(), after.to_string()));
        outcome.diff = diff;
        return outcome;
    }
    let (command, stdin) = match (rewrite, &edit.fix) {
        (Some(after), _) => (&edit.write, Some(after.as_bytes().to_vec())),
        (None, Some(fix)) => (fix, None),
        (None, None) => unreachable!("attributes differ only when some are wanted"),
    };
    match run(step, cx, command, stdin).await {
        Ok(_) => {
            let mut outcome = outcome(cx, Status::Changed, what, &msg, Some(shown(cx, command)));
            outcome.diff = diff;
            outcome
        }
        Err(failed) => *failed,
    }
}

pub(super) async fn stat(step: &Step, cx: &StepContext<'_>, probe: &StatProbe) -> StepOutcome {
    let out = match run(step, cx, &probe.command, None).await {
        Ok(out) => out,
        Err(failed) => return *failed,
    };
    let path = &probe.path;
    let stat = match stat::parse(path, &String::from_utf8_lossy(&out.stdout)) {
        Ok(stat) => stat,
        Err(why) => return StepOutcome::failed(cx.masker.mask(&why)),
    };
    let reason = match (&stat["exists"], &stat["isdir"], &stat["islnk"]) {
        (Value::Bool(false), _, _) => format!("`{path}` does not exist"),
        (_, Value::Bool(true), _) => format!("`{path}` is a directory"),
        (_, _, Value::Bool(true)) => format!("`{path}` is a symlink"),
        _ => format!("`{path}` exists"),
    };
    let mut outcome = StepOutcome::new(Status::Ok, cx.masker.mask(&reason));
    outcome.result["stat"] = stat;
    outcome
}

/// Runs one of the step's commands; a failure is the step's outcome, with
/// the command, its exit status and the end of its stderr.
pub(super) async fn run(
    step: &Step,
    cx: &StepContext<'_>,
    command: &Command,
    stdin: Option<Vec<u8>>,
) -> Result<ExecOutput, Box<StepOutcome>> {
    let stdin = stdin.map(crate::transport::stdin_from);
    let out = exec(step, cx, command.as_sent(), stdin).await?;
    if out.success() {
        return Ok(out);
    }
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let reason = match (&out.status, &out.signal) {
        (_, Some(signal)) => format!("killed by signal {signal}"),
        (Some(rc), _) => format!("exited with status {rc}"),
        (None, None) => "ended without an exit status".to_string(),
    };
    let shown = shown(cx, command);
    let mut failed = StepOutcome::failed(reason);
    failed.rc = out.status;
    failed.output = cx.masker.mask(tail(&stderr, 10).trim_end());
    failed.result["rc"] = json!(out.status);
    failed.result["stderr"] = json!(cx.masker.mask(stderr.trim_end_matches('\n')));
    failed.result["cmd"] = json!(shown);
    failed.command = Some(shown);
    Err(Box::new(failed))
}

pub(super) fn shown(cx: &StepContext<'_>, command: &Command) -> String {
    summary(&cx.masker.mask(command.as_sent()))
}

/// An edit's outcome: Ansible's `msg` registered, the reason shown.
fn outcome(
    cx: &StepContext<'_>,
    status: Status,
    reason: String,
    msg: &str,
    command: Option<String>,
) -> StepOutcome {
    let mut outcome = StepOutcome::new(status, cx.masker.mask(&reason));
    outcome.result["msg"] = json!(cx.masker.mask(msg));
    outcome.command = command;
    outcome
}
