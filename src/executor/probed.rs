//! Running a probed step (`git`, `pip`) on one host: the probe, the
//! module's decision on the controller, and — unless the decision is that
//! nothing needs doing, or in check mode — the command it chose.

use serde_json::json;

use super::diff::{self, Text};
use super::edit::{run, shown};
use super::event::Status;
use super::step::{StepContext, StepOutcome, checking};
use crate::modules::probed::{Decision, Probed};
use crate::plan::Step;

pub(super) async fn probed(step: &Step, cx: &StepContext<'_>, probed: &Probed) -> StepOutcome {
    let checking = checking(step, cx);
    // In check mode an earlier step's clone or virtualenv was predicted,
    // not made: a probe of it would say it is missing.
    if checking
        && let Some(dir) = probed.module.works_in()
        && cx.predicted.contains_key(dir)
    {
        let what = cx.masker.mask(&probed.module.after_created());
        return StepOutcome::new(Status::Changed, format!("would {what}"));
    }
    let acts = probed.module.acts();
    if let Some(what) = &acts
        && checking
    {
        let mut outcome =
            StepOutcome::new(Status::Changed, cx.masker.mask(&format!("would {what}")));
        for (key, value) in probed.module.unknown_fields() {
            outcome.result[key] = value;
        }
        return outcome;
    }
    let stdin = probed.stdin.as_ref().map(|s| s.as_bytes().to_vec());
    let probe = match run(step, cx, &probed.probe, stdin).await {
        Ok(out) => out,
        Err(failed) => return *failed,
    };
    let probe = String::from_utf8_lossy(&probe.stdout).into_owned();
    let (mut decision, mut fields) = probed.module.decide(&probe);
    let diff = fields
        .remove("diff")
        .filter(|_| cx.diff && matches!(decision, Decision::Change { .. }))
        .and_then(|diff| shown_diff(&diff, cx));
    if let (Some(_), Decision::Ok(answered)) = (&acts, &decision) {
        // The probe was the change (a `POST`): it is done, and says how.
        decision = Decision::Done(answered.clone());
    }
    let mut predicted = None;
    let (status, reason, command) = match decision {
        Decision::Ok(why) => (Status::Ok, why, None),
        Decision::Fail(why) => (Status::Failed, why, None),
        Decision::Done(what) => (Status::Changed, what, Some(shown(cx, &probed.probe))),
        Decision::Change { what, .. } if checking => {
            predicted = probed
                .module
                .creates(&probe)
                .map(|dir| (dir, String::new()));
            (Status::Changed, format!("would {what}"), None)
        }
        Decision::Change { what, run: command } => {
            let command = probed.wrap(command);
            let stdin = probed.stdin.as_ref().map(|s| s.as_bytes().to_vec());
            let out = match run(step, cx, &command, stdin).await {
                Ok(out) => out,
                Err(failed) => return *failed,
            };
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            probed.module.finish(&stdout, &mut fields);
            fields.insert("rc".into(), json!(out.status));
            fields.insert(
                "stdout".into(),
                json!(cx.masker.mask(stdout.trim_end_matches('\n'))),
            );
            fields.insert(
                "stderr".into(),
                json!(cx.masker.mask(stderr.trim_end_matches('\n'))),
            );
            (Status::Changed, what, Some(shown(cx, &command)))
        }
    };
    let reason = cx.masker.mask(&reason);
    let mut outcome = StepOutcome::new(status, reason.clone());
    outcome.command = command.clone();
    outcome.predicted = predicted;
    if status == Status::Changed {
        outcome.diff = diff;
    }
    if let Some(cmd) = command {
        // A module may register Ansible's own form (`django_manage`'s argv).
        fields.entry("cmd").or_insert(json!(cmd));
    }
    for (key, value) in fields {
        outcome.result[key] = value;
    }
    outcome
}

/// What `--diff` shows of a probed module's `diff` field (see
/// `Prober::decide`), masked. No file mode is passed: these modules write
/// files whose format they know (keys, sudo rules, pg_hba rules), which
/// hold no secret of their own; a secret ferry knows is still refused.
fn shown_diff(field: &serde_json::Value, cx: &StepContext<'_>) -> Option<String> {
    if let Some(text) = field["prepared"].as_str() {
        return Some(cx.masker.mask(text));
    }
    let text = |key: &str| field[key].as_str().map_or(Text::Absent, Text::Present);
    let path = field["path"].as_str()?;
    diff::shown(path, text("before"), text("after"), &[], cx.masker).map(|d| cx.masker.mask(&d))
}
