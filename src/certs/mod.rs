//! Certificates for many hosts, obtained once on the controller.
//!
//! A `certs` step is a cross-host step, like `release.switch`: every host
//! of the batch that has it arrives at a meeting point (or is marked absent
//! when it stopped earlier), and the first to find everyone there runs the
//! coordinator for all of them, the others take their share of its result.
//! The coordinator probes what each host has installed ([`probe`]), decides
//! per certificate whether to (re)issue it, and only then talks to the ACME
//! server ([`acme`]): one order per certificate, its http-01 challenge
//! written to the webroot of **every** host serving the name over their SSH
//! sessions, the result installed on all of them at once ([`install`]).
//! Before the first order for a host that has no certificate yet, a
//! self-signed [`placeholder`] goes in and the host's `prepare` command
//! (reload the web server) runs, so a site that names the certificate's
//! files loads and serves the challenge.
//! A dry run stops after the decision: no ACME server is contacted.
//! `mode: certbot` needs no meeting: each host runs certbot ([`certbot`]).

mod acme;
mod arrival;
mod certbot;
mod challenge;
mod install;
mod placeholder;
mod probe;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use futures::future::join_all;
use tokio::sync::{Notify, OnceCell};

pub use acme::{AcmeError, account_file};
pub use arrival::Arrival;
pub use certbot::{Renewal, parse as parse_certbot_renew};
pub use probe::{Decision, Installed, Leaf, decide, leaf};

use crate::executor::Status;
use crate::modules::{Action, Certificate, CertsMode, CertsSpec};
use crate::plan::{Body, HostPlan, Step};
use crate::shell::Command;

/// How a `certs` step ended on one host.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    pub reason: String,
}

impl Outcome {
    fn new(status: Status, reason: impl Into<String>) -> Outcome {
        Outcome {
            status,
            reason: reason.into(),
        }
    }
}

/// The `certs` steps of one batch of hosts.
pub struct Certs {
    project_dir: PathBuf,
    stage: String,
    dry_run: bool,
    /// How many hosts have each step (by its key).
    expected: HashMap<String, usize>,
    meetings: Mutex<HashMap<String, Arc<Meeting>>>,
}

#[derive(Default)]
struct Meeting {
    state: Mutex<MeetingState>,
    all_here: Notify,
    result: OnceCell<HashMap<String, Outcome>>,
}

#[derive(Default)]
struct MeetingState {
    arrived: Vec<Arc<Arrival>>,
    /// Hosts that arrived or were marked absent.
    passed: HashSet<String>,
}

/// A `certs` step's identity across hosts: where it was written (and its
/// loop item).
pub fn key(step: &Step) -> Option<String> {
    match &step.body {
        Body::Ready {
            action: Action::Certs { .. },
        } => Some(format!(
            "{}#{}",
            step.location,
            step.item
                .as_ref()
                .map(|i| i.to_string())
                .unwrap_or_default()
        )),
        _ => None,
    }
}

impl Certs {
    pub fn new(hosts: &[&HostPlan], project_dir: PathBuf, stage: &str, dry_run: bool) -> Certs {
        let mut expected: HashMap<String, usize> = HashMap::new();
        for host in hosts {
            let keys: HashSet<String> = host.steps.iter().filter_map(key).collect();
            for k in keys {
                *expected.entry(k).or_default() += 1;
            }
        }
        Certs {
            project_dir,
            stage: stage.to_string(),
            dry_run,
            expected,
            meetings: Mutex::default(),
        }
    }

    /// Whether this batch has any `certs` step.
    pub fn is_empty(&self) -> bool {
        self.expected.is_empty()
    }

    fn meeting(&self, key: &str) -> Arc<Meeting> {
        let mut meetings = self.meetings.lock().unwrap_or_else(|e| e.into_inner());
        meetings.entry(key.to_string()).or_default().clone()
    }

    /// Records `host` at the step `key` (present with its arrival, or
    /// absent) and wakes the others when it is the last.
    fn pass(&self, key: &str, host: &str, arrival: Option<Arrival>) -> Arc<Meeting> {
        let meeting = self.meeting(key);
        let mut state = meeting.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.passed.insert(host.to_string())
            && let Some(arrival) = arrival
        {
            state.arrived.push(Arc::new(arrival));
        }
        if state.passed.len() >= self.expected.get(key).copied().unwrap_or(0) {
            meeting.all_here.notify_waiters();
        }
        drop(state);
        meeting
    }

    /// A host reached a `certs` step: waits for the others, then returns
    /// this host's share of the outcome.
    pub async fn step(&self, key: &str, arrival: Arrival) -> Outcome {
        let host = arrival.host.clone();
        if arrival.spec.mode == CertsMode::Certbot {
            self.pass(key, &host, None);
            return certbot::renew_on(&arrival, self.dry_run).await;
        }
        let meeting = self.pass(key, &host, Some(arrival));
        let expected = self.expected.get(key).copied().unwrap_or(0);
        loop {
            let notified = meeting.all_here.notified();
            {
                let state = meeting.state.lock().unwrap_or_else(|e| e.into_inner());
                if state.passed.len() >= expected {
                    break;
                }
            }
            notified.await;
        }
        let results = meeting
            .result
            .get_or_init(|| async {
                let arrived = meeting
                    .state
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .arrived
                    .clone();
                self.coordinate(&arrived).await
            })
            .await;
        results
            .get(&host)
            .cloned()
            .unwrap_or_else(|| Outcome::new(Status::Failed, "no result for this host"))
    }

    /// A host's run ended: it passes every `certs` step it did not reach,
    /// so the others do not wait for it.
    pub fn leave(&self, plan: &HostPlan) {
        for k in plan.steps.iter().filter_map(key) {
            self.pass(&k, &plan.host, None);
        }
    }

    /// Probe, decide, issue, install: for every host at once.
    async fn coordinate(&self, arrived: &[Arc<Arrival>]) -> HashMap<String, Outcome> {
        // In the order of their names, not of their arrival: messages that
        // list hosts read the same on every run.
        let mut arrived = arrived.to_vec();
        arrived.sort_by(|a, b| a.host.cmp(&b.host));
        let mut report: BTreeMap<String, HostReport> = arrived
            .iter()
            .map(|a| (a.host.clone(), HostReport::default()))
            .collect();
        // 1. What every host has.
        let probes = join_all(arrived.iter().map(|a| async move {
            let out = arrival::run(a, &probe::command(&a.spec), None).await;
            (a.clone(), out.map(|text| probe::parse(&text, &a.spec)))
        }))
        .await;
        // 2. Certificates by name, with the hosts that serve them.
        let mut groups: BTreeMap<String, Group> = BTreeMap::new();
        for (a, found) in probes {
            let found = match found {
                Ok(found) => found,
                Err(err) => {
                    report
                        .entry(a.host.clone())
                        .or_default()
                        .failed
                        .push(format!("cannot read the installed certificates: {err}"));
                    continue;
                }
            };
            for (cert, (_, installed)) in a.spec.certificates.iter().zip(found) {
                let group = groups.entry(cert.name.clone()).or_insert_with(|| Group {
                    cert: cert.clone(),
                    spec: a.spec.clone(),
                    hosts: Vec::new(),
                    conflict: None,
                });
                if group.cert.names != cert.names && group.conflict.is_none() {
                    group.conflict = Some(format!(
                        "certificate `{}` has different names on `{}` and `{}`",
                        cert.name, group.hosts[0].0.host, a.host
                    ));
                }
                group.hosts.push((a.clone(), installed));
            }
        }
        let now = jiff::Timestamp::now().as_second();
        let mut account: Option<Result<acme::AcmeAccount, AcmeError>> = None;
        // Hosts whose `prepare` ran: once per run is enough.
        let mut prepared: HashSet<String> = HashSet::new();
        for group in groups.values() {
            let name = &group.cert.name;
            let hosts: Vec<&Arc<Arrival>> = group.hosts.iter().map(|(a, _)| a).collect();
            if let Some(conflict) = &group.conflict {
                for h in &hosts {
                    report
                        .entry(h.host.clone())
                        .or_default()
                        .failed
                        .push(conflict.clone());
                }
                continue;
            }
            let found: Vec<(String, Installed)> = group
                .hosts
                .iter()
                .map(|(a, i)| (a.host.clone(), i.clone()))
                .collect();
            let reason = match decide(&group.cert, group.spec.renew_before_days, &found, now) {
                Decision::Keep { not_after } => {
                    for h in &hosts {
                        report
                            .entry(h.host.clone())
                            .or_default()
                            .notes
                            .push(format!(
                                "`{name}` valid until {} ({})",
                                probe::date(not_after),
                                probe::days_left(not_after - now)
                            ));
                    }
                    continue;
                }
                Decision::Issue { reason } => reason,
            };
            if self.dry_run {
                for h in &hosts {
                    let r = report.entry(h.host.clone()).or_default();
                    r.changed = true;
                    r.notes.push(format!(
                        "would issue `{name}` from `{}`: {reason}",
                        group.spec.directory
                    ));
                }
                continue;
            }
            // 3. The ACME order, shared by every host of the name.
            let mut stand_ins: HashSet<String> = HashSet::new();
            let result = async {
                if account.is_none() {
                    let file = account_file(&self.project_dir, &self.stage);
                    let bundle = group
                        .spec
                        .ca_bundle
                        .as_ref()
                        .map(|b| self.project_dir.join(b));
                    account = Some(
                        acme::AcmeAccount::open(
                            &group.spec.directory,
                            bundle.as_deref(),
                            group.spec.email.as_deref(),
                            &file,
                        )
                        .await,
                    );
                }
                let client = match account.as_mut() {
                    Some(Ok(client)) => client,
                    Some(Err(err)) => return Err(err.to_string()),
                    None => return Err("no ACME account".to_string()),
                };
                if group.spec.placeholder {
                    let bare: Vec<&Arc<Arrival>> = group
                        .hosts
                        .iter()
                        .filter(|(_, i)| matches!(i, Installed::Missing | Installed::NoKey))
                        .map(|(a, _)| a)
                        .collect();
                    if !bare.is_empty() {
                        let stand_in = placeholder::make(&group.cert.names)
                            .map_err(|e| format!("cannot make a placeholder: {e}"))?;
                        install::everywhere(&bare, &group.cert, &stand_in)
                            .await
                            .map_err(|e| format!("cannot install a placeholder: {e}"))?;
                        stand_ins.extend(bare.iter().map(|a| a.host.clone()));
                    }
                }
                prepare(&hosts, &mut prepared).await?;
                let responder = challenge::Webroots { hosts: &hosts };
                let issued = client
                    .issue(
                        &group.cert.names,
                        &challenge::webroots(&hosts),
                        group.spec.email.as_deref(),
                        &responder,
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                install::everywhere(&hosts, &group.cert, &issued).await
            }
            .await;
            for (h, installed) in &group.hosts {
                let r = report.entry(h.host.clone()).or_default();
                match &result {
                    Ok(()) => {
                        r.changed = true;
                        r.notes
                            .push(format!("issued and installed `{name}` ({reason})"));
                    }
                    Err(err) => {
                        let left = if stand_ins.contains(&h.host) {
                            "a self-signed placeholder stands in until it is issued"
                        } else if matches!(installed, Installed::Present(_)) {
                            "the certificate it had stays in place"
                        } else {
                            "nothing was installed"
                        };
                        r.failed.push(format!("`{name}` not issued: {err}; {left}"));
                    }
                }
            }
        }
        report
            .into_iter()
            .map(|(host, r)| {
                let outcome = if !r.failed.is_empty() {
                    Outcome::new(Status::Failed, r.failed.join("; "))
                } else if r.changed {
                    Outcome::new(Status::Changed, r.notes.join("; "))
                } else if r.notes.is_empty() {
                    Outcome::new(Status::Ok, "no certificates for this host")
                } else {
                    Outcome::new(Status::Ok, r.notes.join("; "))
                };
                (host, outcome)
            })
            .collect()
    }
}

/// What the coordinator has to say to one host.
#[derive(Default)]
struct HostReport {
    notes: Vec<String>,
    changed: bool,
    failed: Vec<String>,
}

/// One certificate and every host that serves it.
struct Group {
    cert: Certificate,
    spec: CertsSpec,
    hosts: Vec<(Arc<Arrival>, Installed)>,
    conflict: Option<String>,
}

/// Runs `prepare` on each of `hosts` that has one and has not run it yet
/// in this run. Its text is the user's (it may hold anything): errors
/// name the host and quote stderr, never the command.
async fn prepare(hosts: &[&Arc<Arrival>], done: &mut HashSet<String>) -> Result<(), String> {
    let todo: Vec<&Arc<Arrival>> = hosts
        .iter()
        .copied()
        .filter(|h| h.spec.prepare.is_some() && !done.contains(&h.host))
        .collect();
    let results = join_all(todo.iter().map(|h| async move {
        let command = Command::script(h.spec.prepare.clone().unwrap_or_default());
        arrival::run(h, &command, None)
            .await
            .map_err(|e| format!("`prepare` failed on `{}`: {e}", h.host))
    }))
    .await;
    done.extend(todo.iter().map(|h| h.host.clone()));
    let failed: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}

/// What a `certs` step does, in words, for `ferry plan --offline`.
pub fn describe(spec: &CertsSpec) -> String {
    match spec.mode {
        CertsMode::Certbot => format!("run: {}", certbot::renew(spec)),
        CertsMode::Acme => {
            let certs: Vec<String> = spec
                .certificates
                .iter()
                .map(|c| format!("{} [{}]", c.name, c.names.join(", ")))
                .collect();
            format!(
                "certificates {} in {}/ from {} (http-01 via {}), renewed {} days before expiry, with every host serving them",
                certs.join("; "),
                spec.dir.trim_end_matches('/'),
                spec.directory,
                spec.webroot,
                spec.renew_before_days
            )
        }
    }
}
