//! One host through one play: its steps in order at its own pace, then the
//! handlers its changes notified.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::future::join_all;
use serde_json::{Map, Value};
use tokio::sync::OnceCell;

use super::Options;
use super::blocks::{self, Blocks, Next};
use super::deploy::{self, Deploy};
use super::event::{Event, Reporter, Status};
use super::shutdown::Shutdown;
use super::step::{StepContext, StepOutcome, run_step, stop_remote};
use crate::modules::{Action, ReleaseStep};
use crate::plan::{Body, HostPlan, PlayPlan, Step};
use crate::playbook::{FAILED_RESULT, FAILED_TASK, Part, Rollback};
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
    /// Deploys: the host ran its `release.upload` / `release.switch` /
    /// `release.cleanup` step.
    pub uploaded: bool,
    pub reached_switch: bool,
    pub settled: bool,
    /// The step it failed at was `release.cleanup`: old releases stay, the
    /// new one serves, nothing is switched back.
    pub failed_in_cleanup: bool,
    /// Running the steps after the switch again on the release it went back
    /// to: like a switched host, a first Ctrl-C does not stop it.
    pub rolling_back: bool,
    /// Check mode: the predicted text of files edited so far, by path.
    pub predicted: std::collections::BTreeMap<String, String>,
    /// Handlers a change notified that did not run: the host stopped
    /// before them, or an earlier handler failed.
    pub handlers_not_run: Vec<String>,
}

/// Everything the hosts of one run share.
pub struct Shared<'a> {
    pub options: &'a Options,
    pub templates: &'a Templates,
    pub masker: &'a Masker,
    pub reporter: &'a dyn Reporter,
    pub shutdown: &'a Shutdown,
    pub run_once: &'a RunOnce,
    /// Bounds the hosts at work at once (`forks`); a host waiting at a
    /// meeting of hosts (the switch barrier, cleanup, certificates) holds
    /// no slot, so more hosts than `forks` never wait for each other.
    pub forks: &'a tokio::sync::Semaphore,
    /// The release lifecycle, when this run is a deploy.
    pub deploy: Option<&'a Deploy<'a>>,
    /// The batch's cross-host `certs` steps.
    pub certs: Option<&'a crate::certs::Certs>,
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
    let steps = plan.steps.iter().enumerate().map(|(i, step)| (i + 1, step));
    run_steps(plan, session, shared, steps, &mut result, &mut notified).await;
    if let Some(deploy) = shared.deploy
        && !result.reached_switch
        && has_switch(plan)
    {
        deploy::stopped_before_switch(deploy, &plan.host, session).await;
    }
    if let Some(certs) = shared.certs {
        certs.leave(plan);
    }
    if !result.failed && !result.interrupted {
        run_handlers(plan, session, shared, &mut result, &mut notified).await;
    }
    let left = notified_handlers(plan, &notified, 0).map(|h| h.name.clone());
    result.handlers_not_run.extend(left);
    if let Some(deploy) = shared.deploy
        && result.reached_switch
        && !result.settled
    {
        let failed = (result.failed && !result.failed_in_cleanup) || result.interrupted;
        deploy::leave_after_switch(deploy, &plan.host, failed);
    }
    shared.reporter.event(&Event::HostDone {
        host: plan.host.clone(),
        elapsed: started.elapsed(),
        handlers_not_run: result.handlers_not_run.clone(),
    });
    result
}

/// Runs steps in order, numbered, until one fails outside any block that
/// catches it (or Ctrl-C): a failure in a block goes on to the block's
/// `rescue` and `always` steps ([`blocks`]), and a rescued host is not
/// failed.
async fn run_steps<'s>(
    plan: &HostPlan,
    session: &Session,
    shared: &Shared<'_>,
    steps: impl Iterator<Item = (usize, &'s Step)>,
    result: &mut HostResult,
    notified: &mut HashSet<String>,
) {
    let mut blocks = Blocks::default();
    for (index, step) in steps {
        match blocks.next(&step.blocks) {
            Next::Stop => return,
            Next::Skip => continue,
            Next::Run => result.failed = blocks.failing(),
        }
        if matches!(step.body, Body::FlushHandlers) {
            if !blocks.failing() && !run_handlers(plan, session, shared, result, notified).await {
                return;
            }
            continue;
        }
        if !run_one(plan, session, shared, index, step, result, notified).await
            && (result.interrupted || !blocks.fail(&step.blocks))
        {
            return;
        }
    }
    result.failed = blocks.end();
}

/// Runs the handlers notified so far, in the play's order, and forgets the
/// notifications (a later notify runs a handler again at the next flush);
/// false when one failed or Ctrl-C stopped it: the host stops, and the
/// notified handlers after it are recorded as not run.
async fn run_handlers(
    plan: &HostPlan,
    session: &Session,
    shared: &Shared<'_>,
    result: &mut HostResult,
    notified: &mut HashSet<String>,
) -> bool {
    let offset = plan.steps.len();
    for (i, handler) in plan.handlers.iter().enumerate() {
        if handler.listen.iter().any(|name| notified.contains(name))
            && !run_one(
                plan,
                session,
                shared,
                offset + i + 1,
                handler,
                result,
                notified,
            )
            .await
        {
            let left = notified_handlers(plan, notified, i + 1).map(|h| h.name.clone());
            result.handlers_not_run.extend(left);
            notified.clear();
            return false;
        }
    }
    notified.clear();
    true
}

/// The play's handlers from position `from` on that `notified` names.
fn notified_handlers<'p>(
    plan: &'p HostPlan,
    notified: &'p HashSet<String>,
    from: usize,
) -> impl Iterator<Item = &'p Step> {
    plan.handlers[from.min(plan.handlers.len())..]
        .iter()
        .filter(|h| h.listen.iter().any(|name| notified.contains(name)))
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
    let host = plan.host.as_str();
    // A host that switched finishes its steps after the switch (or is
    // rolled back) on a first Ctrl-C: stopping it there would leave it
    // switched but unverified. A second Ctrl-C stops it too.
    let committed = result.rolling_back
        || shared
            .deploy
            .is_some_and(|d| d.host_is(host, |h| h.switched));
    let stopped = match committed {
        true => shared.shutdown.is_forced(),
        false => shared.shutdown.is_requested(),
    };
    if stopped {
        result.interrupted = true;
        return false;
    }
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
        predicted: &result.predicted,
        project_dir: &shared.options.project_dir,
        dry_run: shared.options.dry_run,
        switch_pending: shared.options.dry_run
            && result.reached_switch
            && !shared
                .deploy
                .is_some_and(|d| d.host_is(host, |h| h.unchanged)),
        verbose: shared.options.verbose,
        diff: shared.options.diff && !step.no_log,
        remote_pid: &remote_pid,
        become_password: plan.connection.become_password.as_deref(),
    };
    let release = release_step(step)
        .zip(shared.deploy)
        .map(|((kind, args), deploy)| (kind, args, deploy));
    let unchanged = shared
        .deploy
        .is_some_and(|d| d.host_is(host, |h| h.unchanged));
    match release {
        Some((ReleaseStep::Upload, _, _)) => result.uploaded = true,
        Some((ReleaseStep::Switch, _, _)) => result.reached_switch = true,
        Some((ReleaseStep::Cleanup, _, _)) if !shared.options.dry_run => result.settled = true,
        _ => {}
    }
    // Steps that meet other hosts wait without a `forks` slot, taking one
    // only for their own command.
    let meets = matches!(
        release,
        Some((ReleaseStep::Switch | ReleaseStep::Cleanup, _, _))
    ) || crate::certs::key(step).is_some();
    let running = async {
        let _permit = match meets {
            true => None,
            false => Some(shared.forks.acquire().await.expect("never closed")),
        };
        // Once the barrier cannot open (a host unreachable, or failed
        // beyond `max_fail_percentage`), preparing is work for nothing —
        // but an `always` runs whatever happened (it often cleans up).
        if let Some(deploy) = shared.deploy
            && !meets
            && !step.blocks.iter().any(|f| f.part == Part::Always)
            && !result.reached_switch
            && !shared.options.dry_run
            && has_switch(plan)
            && let Some(why) = deploy.barrier.doomed()
        {
            return StepOutcome::skipped(format!(
                "not run: {why} before the switch, so no host will switch"
            ));
        }
        if let Some(outcome) = certs_step(plan, session, shared, step).await {
            return outcome;
        }
        if let Some((kind, args, deploy)) = release {
            return match (kind, shared.options.dry_run) {
                (kind, true) => deploy::describe(deploy, host, kind, args),
                (ReleaseStep::Upload, false) => deploy::upload(deploy, host, session, args).await,
                (ReleaseStep::Switch, false) => deploy::switch(deploy, host, session).await,
                (ReleaseStep::Cleanup, false) => deploy::cleanup(deploy, host, session, args).await,
            };
        }
        // Between the upload and the switch, steps build the new release:
        // there is none when `current` already has the commit. Every step
        // after the switch runs, and checks: a host already on the commit
        // is verified, not assumed (its app may be down).
        if unchanged && result.uploaded && !result.reached_switch {
            return StepOutcome::skipped(
                "builds a new release, and `current` already has this commit",
            );
        }
        if step.run_once {
            let cell = shared.run_once.cell(step);
            let (ran_on, outcome) = cell
                .get_or_init(|| async { (host.to_string(), run_step(step, &cx).await) })
                .await
                .clone();
            let mut outcome = outcome;
            if ran_on != host {
                outcome.reason = Some(match outcome.reason.take() {
                    Some(why) if !why.is_empty() => format!("run once, on `{ran_on}`: {why}"),
                    _ => format!("run once, on `{ran_on}`"),
                });
            }
            outcome
        } else {
            run_step(step, &cx).await
        }
    };
    let deadline = async {
        match committed {
            true => shared.shutdown.forced().await,
            false => shared.shutdown.deadline(shared.options.grace).await,
        }
    };
    let outcome = tokio::select! {
        outcome = running => outcome,
        _ = deadline => {
            stop_remote(session, &remote_pid).await;
            result.interrupted = true;
            StepOutcome::failed(match committed {
                true => "stopped by a second Ctrl-C after the switch".to_string(),
                false => format!(
                    "stopped by Ctrl-C after a {}s grace period",
                    shared.options.grace.as_secs()
                ),
            })
        }
    };
    if let Some(name) = &step.register {
        result
            .registered
            .insert(name.clone(), outcome.result.clone());
    }
    // A failure a block handles: its rescue reads what failed.
    if outcome.status == Status::Failed && !step.ignore_errors && !step.blocks.is_empty() {
        result
            .registered
            .insert(FAILED_RESULT.to_string(), outcome.result.clone());
        let task = serde_json::json!({"name": step.name, "action": step.module});
        result.registered.insert(FAILED_TASK.to_string(), task);
    }
    // A `set_fact` run here: its facts are the host's variables from now.
    if step.module == "set_fact"
        && outcome.status == Status::Ok
        && let Some(Value::Object(facts)) = outcome.result.get("ansible_facts")
    {
        result.registered.extend(facts.clone());
    }
    if let Some((path, text)) = &outcome.predicted {
        result.predicted.insert(path.clone(), text.clone());
    }
    if outcome.status == Status::Changed {
        notified.extend(step.notify.iter().cloned());
    }
    let failed = outcome.status == Status::Failed;
    // A step that failed because of Ctrl-C (the barrier stopped before it
    // decided) ends the host as interrupted, not as failed on its own.
    if failed && !committed && shared.shutdown.is_requested() {
        result.interrupted = true;
    }
    let ignored = failed && step.ignore_errors;
    let rescued = failed && !ignored && !result.interrupted && blocks::rescued(&step.blocks);
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
        diff: outcome.diff.clone().filter(|_| !hidden),
        ignored,
        rescued,
    });
    if failed && !ignored {
        result.failed = true;
        result.failed_in_cleanup = is_release(step, ReleaseStep::Cleanup);
        return false;
    }
    !result.interrupted
}

/// A `certs` step meets the other hosts' at the batch's coordinator
/// (`crate::certs`); `None` for every other step.
async fn certs_step(
    plan: &HostPlan,
    session: &Session,
    shared: &Shared<'_>,
    step: &Step,
) -> Option<StepOutcome> {
    let (Some(certs), Some(key)) = (shared.certs, crate::certs::key(step)) else {
        return None;
    };
    let Body::Ready {
        action: Action::Certs { spec },
    } = &step.body
    else {
        return None;
    };
    let arrival = crate::certs::Arrival {
        host: plan.host.clone(),
        session: session.clone(),
        spec: spec.clone(),
        become_user: step.become_user.clone(),
        become_password: plan.connection.become_password.clone(),
    };
    let outcome = certs.step(&key, arrival).await;
    Some(StepOutcome::new(outcome.status, outcome.reason))
}

/// Whether a host whose current release already has the commit changes
/// nothing at all: its first step that is not skipped is `release.upload`
/// (the steps up to the switch build a new release, so they are skipped
/// too), nothing but `release.cleanup` follows the switch (a restart or a
/// health check after it runs, to verify, and may act), there are no
/// handlers, and no step is a `certs` step (those run whatever the
/// release, to renew on time). Such a host needs the deploy lock only for
/// the instant that tells it so.
pub fn quiet_when_current(plan: &HostPlan) -> bool {
    let upload_first = plan
        .steps
        .iter()
        .find(|step| !matches!(step.body, Body::Skipped { .. }))
        .is_some_and(|step| is_release(step, ReleaseStep::Upload));
    upload_first
        && plan.handlers.is_empty()
        && after_switch(plan).all(|step| is_release(step, ReleaseStep::Cleanup))
        && plan.steps.iter().all(|step| step.module != "certs")
}

/// Whether, on every host of a play, nothing after the switch can need
/// the host's deploy lock: a failure there switches every host back, under
/// its lock. So: the steps after each host's switch are `release.cleanup`
/// at most (a failed cleanup switches nothing back: the new release serves
/// either way), and the play has no handlers. Checked once per play; see
/// [`ends_at_switch`] for a host.
pub fn nothing_after_switch(play: &PlayPlan) -> bool {
    play.hosts.iter().all(|h| {
        h.handlers.is_empty() && after_switch(h).all(|step| is_release(step, ReleaseStep::Cleanup))
    })
}

/// What a host's switch also finishes (see [`deploy::EndsAtSwitch`]) when
/// nothing after it can need the host's deploy lock: nothing in its play
/// ([`nothing_after_switch`]), and no later play with the host in it.
pub fn ends_at_switch(
    nothing_after_switch: bool,
    host: &HostPlan,
    later: &[PlayPlan],
) -> Option<deploy::EndsAtSwitch> {
    let again_later = later
        .iter()
        .any(|p| p.hosts.iter().any(|h| h.host == host.host));
    if !nothing_after_switch || again_later || !has_switch(host) {
        return None;
    }
    let keep_releases = after_switch(host)
        .find_map(|step| match release_step(step) {
            Some((ReleaseStep::Cleanup, args)) => Some(args),
            _ => None,
        })
        .map(|args| args["keep_releases"].as_u64().unwrap_or(5) as usize);
    Some(deploy::EndsAtSwitch { keep_releases })
}

/// The steps after a host's switch that are not skipped (none when it has
/// no switch).
fn after_switch(host: &HostPlan) -> impl Iterator<Item = &Step> {
    let from = host
        .steps
        .iter()
        .position(|step| is_release(step, ReleaseStep::Switch))
        .map_or(host.steps.len(), |i| i + 1);
    host.steps[from..]
        .iter()
        .filter(|step| !matches!(step.body, Body::Skipped { .. }))
}

/// A release step's kind and arguments (`None` for any other step).
fn release_step(step: &Step) -> Option<(ReleaseStep, &Value)> {
    match &step.body {
        Body::Ready {
            action: Action::Release { step, args },
        } => Some((*step, args)),
        _ => None,
    }
}

fn is_release(step: &Step, kind: ReleaseStep) -> bool {
    release_step(step).is_some_and(|(k, _)| k == kind)
}

/// Whether a host's plan has a `release.switch` step (it then takes part in
/// the barrier).
pub fn has_switch(plan: &HostPlan) -> bool {
    plan.steps
        .iter()
        .any(|step| is_release(step, ReleaseStep::Switch))
}

/// After a batch: when a step after the switch (other than `release.cleanup`,
/// whose failure leaves the new release serving) failed on any host, switch
/// every host that switched back to the release it had, and run the steps
/// after the switch again there (restart, health check) — unless the play
/// says `rollback: manual`. Those hosts end as failed: the deploy did not
/// take.
pub async fn roll_back(
    play: &PlayPlan,
    batch: &[&HostPlan],
    sessions: &indexmap::IndexMap<String, Session>,
    shared: &Shared<'_>,
    deploy: &Deploy<'_>,
    ended: &mut [HostResult],
) {
    let switched = |h: &HostPlan| deploy.host_is(&h.host, |s| s.switched);
    // A failure at or after the switch on any host — its own switch lost
    // with the connection, a restart, a health check — turns back every
    // host that switched: the fleet is never left mixed.
    let failed_after = ended
        .iter()
        .any(|r| r.failed && r.reached_switch && !r.failed_in_cleanup)
        && batch.iter().any(|h| switched(h));
    // A second Ctrl-C aborts at once: no rollback either.
    let aborted = shared.shutdown.is_forced();
    if !failed_after || play.rollback == Rollback::Manual || shared.options.dry_run || aborted {
        return;
    }
    let runs = batch
        .iter()
        .zip(ended.iter_mut())
        .filter(|(h, _)| switched(h))
        .map(|(h, result)| async move {
            let session = &sessions[&h.host];
            let index = h.steps.len() + h.handlers.len() + 1;
            shared.reporter.event(&Event::StepStart {
                host: h.host.clone(),
                index,
                total: index,
                name: "roll back".into(),
                module: "release.switch".into(),
            });
            let started = Instant::now();
            let back = deploy::switch_back(deploy, &h.host, session).await;
            let (status, reason) = match &back {
                Ok(previous) => (
                    Status::Changed,
                    format!("switched back to `{previous}`: a step after the switch failed"),
                ),
                Err(err) => (Status::Failed, format!("cannot switch back: {err}")),
            };
            shared.reporter.event(&Event::StepEnd {
                host: h.host.clone(),
                index,
                name: "roll back".into(),
                status,
                elapsed: started.elapsed(),
                reason: Some(reason),
                command: None,
                rc: None,
                output: String::new(),
                diff: None,
                ignored: false,
                rescued: false,
            });
            if back.is_ok() && !result.failed {
                deploy.mark_rolled_back(&h.host);
            }
            result.failed = true;
            if back.is_ok() {
                let after = h
                    .steps
                    .iter()
                    .position(|step| is_release(step, ReleaseStep::Switch))
                    .map_or(h.steps.len(), |i| i + 1);
                let mut rerun = HostResult {
                    registered: result.registered.clone(),
                    uploaded: true,
                    reached_switch: true,
                    settled: true,
                    rolling_back: true,
                    ..HostResult::default()
                };
                let mut notified = HashSet::new();
                let steps = h.steps.iter().enumerate().skip(after);
                let steps = steps.map(|(i, step)| (index + 1 + i, step));
                run_steps(h, session, shared, steps, &mut rerun, &mut notified).await;
            }
        });
    join_all(runs).await;
}
