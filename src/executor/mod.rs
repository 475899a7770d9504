//! Runs a [`Plan`] on real hosts over SSH.
//!
//! Each play connects to its hosts at once (bounded by `forks`), then every
//! host goes through its steps at its own pace — no lockstep between hosts —
//! in `serial` batches if asked, stopping the play when the failures of a
//! batch pass `max_fail_percentage`. Steps report [`Event`]s; nothing here
//! prints. One SSH connection per host serves every step of every play.

mod blocks;
mod connect;
mod deploy;
pub(crate) mod diff;
mod edit;
mod event;
mod host;
mod lines;
mod probed;
mod rendezvous;
mod shutdown;
mod step;
mod turns;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::future::join_all;
use indexmap::IndexMap;
use serde_json::{Map, Value};
use tokio::sync::Semaphore;

use crate::plan::{Batch, HostPlan, Plan, PlayPlan};
use crate::template::Templates;
use crate::transport::ssh_config::SshConfig;
use crate::transport::{ConnectOptions, Session, Trust};

pub use connect::{ignored_options, target};
pub use deploy::DeployOptions;
pub use event::{Event, Reporter, Status};
pub use host::HostResult;
pub(crate) use lines::Lines;
pub use shutdown::{Shutdown, ShutdownTrigger};

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Hosts connected to and run at once.
    pub forks: usize,
    pub trust: Trust,
    pub connect: ConnectOptions,
    pub ssh_config: Option<SshConfig>,
    /// Run checks only and say what would change.
    pub dry_run: bool,
    /// Stream each step's output to the reporter.
    pub verbose: bool,
    /// Show what file steps change in a file's text (`--diff`).
    pub diff: bool,
    /// After Ctrl-C, how long running steps may take to finish.
    pub grace: Duration,
    /// The project directory, for local files of deferred steps.
    pub project_dir: PathBuf,
}

impl Options {
    pub fn new(project_dir: PathBuf) -> Options {
        Options {
            forks: 256,
            trust: Trust::user_default(None),
            connect: ConnectOptions::default(),
            ssh_config: None,
            dry_run: false,
            verbose: false,
            diff: false,
            grace: Duration::from_secs(10),
            project_dir,
        }
    }
}

/// How every host ended, in plan order.
#[derive(Debug, Default)]
pub struct Outcome {
    pub hosts: IndexMap<String, HostEnd>,
    pub interrupted: bool,
    /// Why the run could not start (a deploy lock held elsewhere).
    pub cannot_start: Option<String>,
    /// Bytes of release content sent, per host (deploys only).
    pub sent_bytes: IndexMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostEnd {
    Ok,
    Failed,
    Unreachable(String),
    /// The connection was lost during or after the switch: which release
    /// `current` points at is not known (the next deploy reconciles).
    Unverified(String),
    /// Stopped by Ctrl-C before its last step.
    Interrupted,
    /// Prepared, and not switched because other hosts failed (the barrier
    /// did not open, or an earlier `serial` batch failed after its switch).
    HeldBack,
    /// Switched and passed its own steps, then went back to its previous
    /// release because another host failed after the switch.
    RolledBack,
    /// Never ran: a play stopped at `max_fail_percentage`, or Ctrl-C.
    NotRun,
}

impl Outcome {
    /// Whether every host succeeded.
    pub fn success(&self) -> bool {
        !self.interrupted && self.hosts.values().all(|h| *h == HostEnd::Ok)
    }

    /// No host could be reached at all.
    pub fn nothing_reachable(&self) -> bool {
        !self.hosts.is_empty()
            && self
                .hosts
                .values()
                .all(|h| matches!(h, HostEnd::Unreachable(_)))
    }
}

/// Runs every play of `plan`. Registered results per host are returned in
/// `results` (for `ferry run`, which prints them).
pub async fn execute(
    plan: &Plan,
    options: &Options,
    templates: &Templates,
    reporter: &dyn Reporter,
    shutdown: &Shutdown,
    deploy_options: Option<&DeployOptions>,
) -> (Outcome, IndexMap<String, Map<String, Value>>) {
    // Each Ctrl-C is acknowledged at once, saying what happens next: the
    // hosts that switched go on through their steps after the switch.
    let acknowledge = async {
        shutdown.requested().await;
        reporter.event(&Event::Stopping { forced: false });
        shutdown.forced().await;
        reporter.event(&Event::Stopping { forced: true });
        std::future::pending::<std::convert::Infallible>().await
    };
    let run = run_plays(plan, options, templates, reporter, shutdown, deploy_options);
    tokio::select! {
        ended = run => ended,
        never = acknowledge => match never {},
    }
}

async fn run_plays(
    plan: &Plan,
    options: &Options,
    templates: &Templates,
    reporter: &dyn Reporter,
    shutdown: &Shutdown,
    deploy_options: Option<&DeployOptions>,
) -> (Outcome, IndexMap<String, Map<String, Value>>) {
    let started = Instant::now();
    let forks = Semaphore::new(options.forks.max(1));
    let mut sessions: IndexMap<String, Session> = IndexMap::new();
    let mut outcome = Outcome::default();
    let mut results: IndexMap<String, Map<String, Value>> = IndexMap::new();
    // Hosts whose deploy lock this run holds: (host, deploy_to).
    let mut locked: Vec<(String, String)> = Vec::new();
    'plays: for (index, play) in plan.plays.iter().enumerate() {
        if shutdown.is_requested() {
            // The plays left never run: their hosts did not finish.
            for h in plan.plays[index..].iter().flat_map(|p| &p.hosts) {
                outcome
                    .hosts
                    .entry(h.host.clone())
                    .or_insert(HostEnd::NotRun);
            }
            break;
        }
        reporter.event(&Event::PlayStart {
            play: play.name.clone(),
            hosts: play.hosts.iter().map(|h| h.host.clone()).collect(),
        });
        // Hosts that failed or were unreachable in an earlier play sit out.
        let hosts: Vec<&HostPlan> = play
            .hosts
            .iter()
            .filter(|h| matches!(outcome.hosts.get(&h.host), None | Some(HostEnd::Ok)))
            .collect();
        connect_all(
            &hosts,
            options,
            &forks,
            reporter,
            &mut sessions,
            &mut outcome,
        )
        .await;
        let run_once = host::RunOnce::default();
        let live: Vec<&HostPlan> = hosts
            .iter()
            .copied()
            .filter(|h| sessions.contains_key(&h.host))
            .collect();
        let mut releases = HashMap::new();
        if let Some(deploy) = deploy_options {
            let locks = lock_all(
                deploy,
                options,
                &live,
                &sessions,
                play,
                &plan.plays[index + 1..],
            )
            .await;
            for (host, deploy_to, state) in &locks.taken {
                if state.locked {
                    locked.push((host.clone(), deploy_to.clone()));
                }
                releases.insert(host.clone(), state.clone());
            }
            if !locks.refused.is_empty() {
                outcome.cannot_start = Some(locks.refused.join("\n"));
                break 'plays;
            }
        }
        let mut stopped = false;
        // Batches are cut over every host of the play, reachable or not:
        // a host that could not be reached is a member of its batch's
        // barrier, arriving failed, so the others do not switch without it.
        // A deploy with `serial:` prepares every host at once and meets at
        // one barrier; its batches then take turns at the switch.
        let rolling = deploy_options.is_some()
            && !play.serial.is_empty()
            && hosts.iter().any(|h| host::has_switch(h));
        let groups = match rolling {
            true => vec![hosts.clone()],
            false => batches(play, &hosts),
        };
        for batch in groups {
            let (batch, unreachable): (Vec<&HostPlan>, Vec<&HostPlan>) = batch
                .into_iter()
                .partition(|h| sessions.contains_key(&h.host));
            if stopped || shutdown.is_requested() {
                for h in batch {
                    outcome.hosts.insert(h.host.clone(), HostEnd::NotRun);
                }
                continue;
            }
            let members = batch
                .iter()
                .chain(&unreachable)
                .filter(|h| host::has_switch(h))
                .count();
            let batch_releases = batch
                .iter()
                .filter_map(|h| releases.get(&h.host).map(|r| (h.host.clone(), r.clone())))
                .collect();
            let turns = rolling.then(|| {
                let switching: Vec<&HostPlan> = batch
                    .iter()
                    .copied()
                    .filter(|h| host::has_switch(h))
                    .collect();
                let names: Vec<Vec<String>> = batches(play, &switching)
                    .into_iter()
                    .map(|b| b.iter().map(|h| h.host.clone()).collect())
                    .collect();
                turns::Turns::new(&names)
            });
            let deploy = deploy_options.map(|d| {
                deploy::Deploy::new(
                    d,
                    batch_releases,
                    members,
                    play.max_fail_percentage,
                    turns,
                    &forks,
                    shutdown,
                )
            });
            if let Some(deploy) = &deploy {
                for h in unreachable.iter().filter(|h| host::has_switch(h)) {
                    deploy.barrier.arrive(&h.host, rendezvous::Arrival::Failed);
                    deploy.settled.arrive(&h.host, rendezvous::Arrival::Absent);
                }
            }
            let certs = crate::certs::Certs::new(
                &batch,
                options.project_dir.clone(),
                &plan.stage,
                options.dry_run,
            );
            let shared = host::Shared {
                options,
                templates,
                masker: &plan.masker,
                reporter,
                shutdown,
                run_once: &run_once,
                forks: &forks,
                deploy: deploy.as_ref(),
                certs: Some(&certs).filter(|c| !c.is_empty()),
            };
            let runs = batch.iter().map(|h| {
                let session = &sessions[&h.host];
                let registered = results.get(&h.host).cloned().unwrap_or_default();
                host::run_host(h, session, &shared, registered)
            });
            let mut ended = join_all(runs).await;
            // How hosts that failed only because of others ended.
            let mut ends_by_others = HashMap::new();
            if let Some(deploy) = &deploy {
                host::roll_back(play, &batch, &sessions, &shared, deploy, &mut ended).await;
                let states = deploy.snapshot();
                // Locks given back with the switch are not given back again.
                locked.retain(|(host, _)| states.get(host).is_none_or(|s| s.locked));
                for (host, state) in states {
                    outcome.sent_bytes.insert(host.clone(), state.sent_bytes);
                    let end = if state.unverified {
                        HostEnd::Unverified(state.unverified_why(&deploy.options.release_id))
                    } else if state.held_back {
                        HostEnd::HeldBack
                    } else if state.rolled_back {
                        HostEnd::RolledBack
                    } else {
                        continue;
                    };
                    ends_by_others.insert(host, end);
                }
            }
            let mut failures = unreachable.len();
            for (h, result) in batch.iter().zip(ended) {
                failures += usize::from(result.failed);
                outcome.interrupted |= result.interrupted;
                let end = match (ends_by_others.remove(&h.host), result.failed) {
                    (Some(HostEnd::Unverified(why)), _) => HostEnd::Unverified(why),
                    (_, _) if result.interrupted => HostEnd::Interrupted,
                    (Some(end), true) => end,
                    (_, true) => HostEnd::Failed,
                    (_, false) => HostEnd::Ok,
                };
                outcome.hosts.insert(h.host.clone(), end);
                results.insert(h.host.clone(), result.registered);
            }
            let size = batch.len() + unreachable.len();
            if let Some(max) = play.max_fail_percentage
                && failures as u64 * 100 > max * size as u64
            {
                stopped = true;
            }
        }
    }
    // Ctrl-C interrupted the run only if it stopped something: a host that
    // had switched finished its steps after the switch regardless.
    let not_run = outcome.hosts.values().any(|end| *end == HostEnd::NotRun);
    if shutdown.is_requested() && (outcome.interrupted || not_run) {
        outcome.interrupted = true;
        let waiting: Vec<String> = outcome
            .hosts
            .iter()
            .filter(|(_, end)| **end == HostEnd::NotRun)
            .map(|(h, _)| h.clone())
            .collect();
        reporter.event(&Event::Interrupted { waiting });
    }
    if let Some(deploy) = deploy_options {
        let unlocks = locked
            .iter()
            .map(|(host, deploy_to)| deploy::unlock(deploy, &sessions[host], deploy_to));
        join_all(unlocks).await;
    }
    for (_, session) in sessions {
        session.close().await;
    }
    reporter.event(&Event::RunEnd {
        elapsed: started.elapsed(),
    });
    (outcome, results)
}

/// What taking the deploy locks of a play's reachable hosts gave.
struct Locks {
    /// Host, `deploy_to`, and its probed releases.
    taken: Vec<(String, String, deploy::HostRelease)>,
    /// Why each refused host was refused.
    refused: Vec<String>,
}

/// Takes the deploy lock on every reachable host of a play and reads its
/// releases, one round trip each. Two deploys started at once must not both
/// lose by each taking some of the hosts: the play's first host is locked
/// alone, first, so of two racing deploys of the same hosts exactly one
/// gets past it (and the other touches no other host); the rest are then
/// locked all at once. A deploy of more than one host always holds the
/// first host's lock, even when that host is already on the commit.
async fn lock_all(
    deploy: &DeployOptions,
    options: &Options,
    live: &[&HostPlan],
    sessions: &IndexMap<String, Session>,
    play: &PlayPlan,
    later: &[PlayPlan],
) -> Locks {
    let nothing_after_switch = host::nothing_after_switch(play);
    let several = live.iter().filter(|h| h.deploy_to().is_some()).count() > 1;
    let attempt = |h: &HostPlan, first: bool| {
        let deploy_to = h.deploy_to()?;
        let ends = host::ends_at_switch(nothing_after_switch, h, later);
        let session = &sessions[&h.host];
        let hold = (first && several) || deploy.force || !host::quiet_when_current(h);
        let locking = match (options.dry_run, hold) {
            (true, _) => deploy::Locking::None,
            (false, true) => deploy::Locking::Hold,
            (false, false) => deploy::Locking::HoldUnlessCurrent,
        };
        let host = h.host.clone();
        Some(async move {
            let state = deploy::lock_and_probe(deploy, session, &deploy_to, locking)
                .await
                .map(|state| deploy::HostRelease {
                    ends_at_switch: ends,
                    ..state
                });
            (host, deploy_to, state)
        })
    };
    let mut locks = Locks {
        taken: Vec::new(),
        refused: Vec::new(),
    };
    let mut with_releases = live.iter().filter(|h| h.deploy_to().is_some());
    let mut results = Vec::new();
    if let Some(first) = with_releases.next().and_then(|h| attempt(h, true)) {
        results.push(first.await);
    }
    if results.iter().all(|(_, _, state)| state.is_ok()) {
        results.extend(join_all(with_releases.filter_map(|h| attempt(h, false))).await);
    }
    for (host, deploy_to, state) in results {
        match state {
            Ok(state) => locks.taken.push((host, deploy_to, state)),
            Err(err) => locks.refused.push(format!("{host}: {err}")),
        }
    }
    locks
}

/// Connects to every host not yet connected, all at once within `forks`.
async fn connect_all(
    hosts: &[&HostPlan],
    options: &Options,
    forks: &Semaphore,
    reporter: &dyn Reporter,
    sessions: &mut IndexMap<String, Session>,
    outcome: &mut Outcome,
) {
    let wanted: Vec<&HostPlan> = hosts
        .iter()
        .copied()
        .filter(|h| !sessions.contains_key(&h.host))
        .collect();
    let attempts = wanted.iter().map(|h| async move {
        let _permit = forks.acquire().await.expect("semaphore is never closed");
        let started = Instant::now();
        let result = connect::connect(
            h,
            options.ssh_config.as_ref(),
            &options.trust,
            &options.connect,
        )
        .await;
        match &result {
            Ok(_) => reporter.event(&Event::Connected {
                host: h.host.clone(),
                elapsed: started.elapsed(),
            }),
            Err(err) => reporter.event(&Event::Unreachable {
                host: h.host.clone(),
                error: err.to_string(),
            }),
        }
        result
    });
    for (h, result) in wanted.iter().zip(join_all(attempts).await) {
        match result {
            Ok(session) => {
                sessions.insert(h.host.clone(), session);
            }
            Err(err) => {
                outcome
                    .hosts
                    .insert(h.host.clone(), HostEnd::Unreachable(err.to_string()));
            }
        }
    }
}

/// Splits a play's hosts into `serial` batches (the last size repeats).
fn batches<'a>(play: &PlayPlan, hosts: &[&'a HostPlan]) -> Vec<Vec<&'a HostPlan>> {
    if play.serial.is_empty() {
        return vec![hosts.to_vec()];
    }
    let total = hosts.len();
    let mut out = Vec::new();
    let mut rest = hosts;
    let mut sizes = play.serial.iter();
    let mut last = 1;
    while !rest.is_empty() {
        let size = match sizes.next() {
            Some(Batch::Hosts(n)) => *n as usize,
            Some(Batch::Percent(p)) => ((total as u64 * p) / 100).max(1) as usize,
            None => last,
        };
        last = size.max(1);
        let (now, later) = rest.split_at(last.min(rest.len()));
        out.push(now.to_vec());
        rest = later;
    }
    out
}
