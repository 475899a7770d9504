//! Runs a [`Plan`] on real hosts over SSH.
//!
//! Each play connects to its hosts at once (bounded by `forks`), then every
//! host goes through its steps at its own pace — no lockstep between hosts —
//! in `serial` batches if asked, stopping the play when the failures of a
//! batch pass `max_fail_percentage`. Steps report [`Event`]s; nothing here
//! prints. One SSH connection per host serves every step of every play.

mod connect;
mod deploy;
mod event;
mod host;
mod shutdown;
mod step;

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

pub use deploy::DeployOptions;
pub use event::{Event, Reporter, Status};
pub use host::HostResult;
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
    let started = Instant::now();
    let forks = Semaphore::new(options.forks.max(1));
    let mut sessions: IndexMap<String, Session> = IndexMap::new();
    let mut outcome = Outcome::default();
    let mut results: IndexMap<String, Map<String, Value>> = IndexMap::new();
    // Hosts whose deploy lock this run holds: (host, deploy_to).
    let mut locked: Vec<(String, String)> = Vec::new();
    'plays: for (index, play) in plan.plays.iter().enumerate() {
        if shutdown.is_requested() {
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
            .into_iter()
            .filter(|h| sessions.contains_key(&h.host))
            .collect();
        let mut releases = HashMap::new();
        if let Some(deploy) = deploy_options {
            let mut refused = Vec::new();
            let nothing_after_switch = host::nothing_after_switch(play);
            let later = &plan.plays[index + 1..];
            let attempts = live.iter().filter_map(|h| {
                let deploy_to = h.deploy_to()?;
                let ends = host::ends_at_switch(nothing_after_switch, h, later);
                let session = &sessions[&h.host];
                let locking = match (options.dry_run, host::quiet_when_current(h)) {
                    (true, _) => deploy::Locking::None,
                    (false, true) => deploy::Locking::HoldUnlessCurrent,
                    (false, false) => deploy::Locking::Hold,
                };
                Some(async move {
                    let state = deploy::lock_and_probe(deploy, session, &deploy_to, locking)
                        .await
                        .map(|state| deploy::HostRelease {
                            ends_at_switch: ends,
                            ..state
                        });
                    (h.host.clone(), deploy_to, state)
                })
            });
            for (host, deploy_to, state) in join_all(attempts).await {
                match state {
                    Ok(state) => {
                        if state.locked {
                            locked.push((host.clone(), deploy_to));
                        }
                        releases.insert(host, state);
                    }
                    Err(err) => refused.push(format!("{host}: {err}")),
                }
            }
            if !refused.is_empty() {
                outcome.cannot_start = Some(refused.join("\n"));
                break 'plays;
            }
        }
        let mut stopped = false;
        for batch in batches(play, &live) {
            if stopped || shutdown.is_requested() {
                for h in batch {
                    outcome.hosts.insert(h.host.clone(), HostEnd::NotRun);
                }
                continue;
            }
            let at_barrier = batch.iter().filter(|h| host::has_switch(h)).count();
            let gate = deploy::Gate::new(at_barrier, play.max_fail_percentage);
            let batch_releases = batch
                .iter()
                .filter_map(|h| releases.get(&h.host).map(|r| (h.host.clone(), r.clone())))
                .collect();
            let deploy = deploy_options.map(|d| deploy::Deploy::new(d, batch_releases, gate));
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
                deploy: deploy.as_ref(),
                certs: Some(&certs).filter(|c| !c.is_empty()),
            };
            let runs = batch.iter().map(|h| {
                let session = &sessions[&h.host];
                let registered = results.get(&h.host).cloned().unwrap_or_default();
                let (forks, shared) = (&forks, &shared);
                async move {
                    let _permit = forks.acquire().await.expect("semaphore is never closed");
                    host::run_host(h, session, shared, registered).await
                }
            });
            let mut ended = join_all(runs).await;
            if let Some(deploy) = &deploy {
                host::roll_back(play, &batch, &sessions, &shared, deploy, &mut ended).await;
                let states = deploy.snapshot();
                // Locks given back with the switch are not given back again.
                locked.retain(|(host, _)| states.get(host).is_none_or(|s| s.locked));
                for (host, state) in states {
                    outcome.sent_bytes.insert(host, state.sent_bytes);
                }
            }
            let mut failures = 0;
            for (h, result) in batch.iter().zip(ended) {
                failures += usize::from(result.failed);
                outcome.interrupted |= result.interrupted;
                let end = if result.failed {
                    HostEnd::Failed
                } else {
                    HostEnd::Ok
                };
                outcome.hosts.insert(h.host.clone(), end);
                results.insert(h.host.clone(), result.registered);
            }
            if let Some(max) = play.max_fail_percentage
                && failures as u64 * 100 > max * batch.len() as u64
            {
                stopped = true;
            }
        }
    }
    if shutdown.is_requested() {
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
