//! Running a probed step (`git`, `pip`) on one host: the probe, the
//! module's decision on the controller, and — unless the decision is that
//! nothing needs doing, or in check mode — the command it chose.

use serde_json::json;

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
    if let Some(cmd) = command {
        // A module may register Ansible's own form (`django_manage`'s argv).
        fields.entry("cmd").or_insert(json!(cmd));
    }
    for (key, value) in fields {
        outcome.result[key] = value;
    }
    outcome
}
