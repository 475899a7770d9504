//! One host through one play: its steps in order at its own pace, then the
//! handlers its changes notified.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{Map, Value};
use tokio::sync::OnceCell;

use super::Options;
use super::event::{Event, Reporter, Status};
use super::shutdown::Shutdown;
use super::step::{StepContext, StepOutcome, run_step, stop_remote};
use crate::plan::{HostPlan, Step};
use crate::shell::Masker;
use crate::template::Templates;
use crate::transport::Session;

/// Results of `run_once` steps, shared by every host of a play: the first
/// host to reach such a step runs it, the others take its result.
#[derive(Default)]
pub struct RunOnce {
    cells: Mutex<HashMap<String, Arc<OnceResult>>>,
}

/// The outcome of one `run_once` step, and the host that ran it.
type OnceResult = OnceCell<(String, StepOutcome)>;

impl RunOnce {
    fn cell(&self, step: &Step) -> Arc<OnceResult> {
        let key = format!(
            "{}#{}",
            step.location,
            step.item.as_ref().map(Value::to_string).unwrap_or_default()
        );
        let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
        cells.entry(key).or_default().clone()
    }
}

/// How a host's play ended.
#[derive(Debug, Default, Clone)]
pub struct HostResult {
    pub failed: bool,
    /// Stopped by Ctrl-C before its last step.
    pub interrupted: bool,
    /// Everything it registered, by name.
    pub registered: Map<String, Value>,
}

/// Everything the hosts of one run share.
pub struct Shared<'a> {
    pub options: &'a Options,
    pub templates: &'a Templates,
    pub masker: &'a Masker,
    pub reporter: &'a dyn Reporter,
    pub shutdown: &'a Shutdown,
    pub run_once: &'a RunOnce,
}

pub async fn run_host(
    plan: &HostPlan,
    session: &Session,
    shared: &Shared<'_>,
    registered: Map<String, Value>,
) -> HostResult {
    let started = Instant::now();
    let mut result = HostResult {
        registered,
        ..HostResult::default()
    };
    let mut notified: HashSet<String> = HashSet::new();
    for (i, step) in plan.steps.iter().enumerate() {
        if !run_one(
            plan,
            session,
            shared,
            i + 1,
            step,
            &mut result,
            &mut notified,
        )
        .await
        {
            break;
        }
    }
    if !result.failed && !result.interrupted {
        let offset = plan.steps.len();
        for (i, handler) in plan.handlers.iter().enumerate() {
            if handler.listen.iter().any(|name| notified.contains(name))
                && !run_one(
                    plan,
                    session,
                    shared,
                    offset + i + 1,
                    handler,
                    &mut result,
                    &mut notified,
                )
                .await
            {
                break;
            }
        }
    }
    shared.reporter.event(&Event::HostDone {
        host: plan.host.clone(),
        elapsed: started.elapsed(),
    });
    result
}

/// Runs one step and records it; false when the host must stop here.
async fn run_one(
    plan: &HostPlan,
    session: &Session,
    shared: &Shared<'_>,
    index: usize,
    step: &Step,
    result: &mut HostResult,
    notified: &mut HashSet<String>,
) -> bool {
    if shared.shutdown.is_requested() {
        result.interrupted = true;
        return false;
    }
    let host = plan.host.as_str();
    let total = plan.steps.len();
    shared.reporter.event(&Event::StepStart {
        host: host.to_string(),
        index,
        total,
        name: step.name.clone(),
        module: step.module.clone(),
    });
    let started = Instant::now();
    let remote_pid = Mutex::new(None);
    let cx = StepContext {
        host,
        index,
        session,
        templates: shared.templates,
        masker: shared.masker,
        reporter: shared.reporter,
        registered: &result.registered,
        project_dir: &shared.options.project_dir,
        dry_run: shared.options.dry_run,
        verbose: shared.options.verbose,
        remote_pid: &remote_pid,
    };
    let running = async {
        if step.run_once {
            let cell = shared.run_once.cell(step);
            let (ran_on, outcome) = cell
                .get_or_init(|| async { (host.to_string(), run_step(step, &cx).await) })
                .await
                .clone();
            let mut outcome = outcome;
            if ran_on != host {
                outcome.reason = Some(format!("run once, on `{ran_on}`"));
            }
            outcome
        } else {
            run_step(step, &cx).await
        }
    };
    let outcome = tokio::select! {
        outcome = running => outcome,
        _ = shared.shutdown.deadline(shared.options.grace) => {
            stop_remote(session, &remote_pid).await;
            result.interrupted = true;
            StepOutcome::failed(format!(
                "stopped by Ctrl-C after a {}s grace period",
                shared.options.grace.as_secs()
            ))
        }
    };
    if let Some(name) = &step.register {
        result
            .registered
            .insert(name.clone(), outcome.result.clone());
    }
    if outcome.status == Status::Changed {
        notified.extend(step.notify.iter().cloned());
    }
    let failed = outcome.status == Status::Failed;
    let ignored = failed && step.ignore_errors;
    let hidden = step.no_log;
    shared.reporter.event(&Event::StepEnd {
        host: host.to_string(),
        index,
        name: step.name.clone(),
        status: outcome.status,
        elapsed: started.elapsed(),
        reason: outcome.reason.clone(),
        command: if hidden {
            None
        } else {
            outcome.command.clone()
        },
        rc: outcome.rc,
        output: if hidden {
            String::new()
        } else {
            outcome.output.clone()
        },
        ignored,
    });
    if failed && !ignored {
        result.failed = true;
        return false;
    }
    !result.interrupted
}
