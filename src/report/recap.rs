//! The recap: what happened on each host, folded from the executor's events.
//!
//! Every reporter keeps one and feeds it every event; at the end the CLI
//! hands the run's [`Verdict`](super::Verdict) to
//! [`super::ReportSink::finish`], and the reporter shows the recap (a table,
//! `table.rs`, or one JSON object) ending with the verdict's line. The recap
//! counts steps; how the run ended is the verdict's to say.

use std::time::Duration;

use indexmap::IndexMap;
use serde::Serialize;

use super::paint::Tone;
use crate::executor::{Event, Status};

/// How many lines of a failed step's stderr the recap keeps.
pub const STDERR_TAIL: usize = 10;

/// The outcome of a run, host by host, and why anything failed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Recap {
    /// Every host, in the order it first appeared in an event.
    pub hosts: IndexMap<String, HostRecap>,
    /// Failed steps (ignored ones too, marked) and unreachable hosts, in the
    /// order they happened.
    pub failures: Vec<Failure>,
    /// Set by Ctrl-C: the hosts that had not finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<Vec<String>>,
    /// The whole run, once it ended.
    #[serde(
        rename = "elapsed_ms",
        serialize_with = "millis_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub elapsed: Option<Duration>,
}

/// One host's counts of step outcomes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostRecap {
    pub ok: usize,
    pub changed: usize,
    pub skipped: usize,
    /// Failures that stopped the host (not the ignored ones).
    pub failed: usize,
    /// Failures that `ignore_errors` let pass.
    pub ignored: usize,
    /// Failures a block's `rescue` took over (Ansible's `rescued`).
    pub rescued: usize,
    pub unreachable: bool,
    /// The host finished every play it took part in.
    pub done: bool,
    /// Time spent on the host: the executor's own measure once it is done.
    #[serde(rename = "elapsed_ms", serialize_with = "millis")]
    pub elapsed: Duration,
    /// The part of `elapsed` measured step by step since the last `HostDone`,
    /// replaced by that event's own figure.
    #[serde(skip)]
    since_done: Duration,
}

impl HostRecap {
    /// A failure stopped this host, or it could not be reached.
    pub fn is_bad(&self) -> bool {
        self.failed > 0 || self.unreachable
    }

    fn add_time(&mut self, elapsed: Duration) {
        self.elapsed += elapsed;
        self.since_done += elapsed;
    }

    pub(crate) fn tone(&self) -> Tone {
        if self.is_bad() {
            Tone::Bad
        } else if self.changed > 0 {
            Tone::Changed
        } else {
            Tone::Good
        }
    }
}

/// Why a host did not get through its steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Failure {
    /// A step failed on a host.
    Step {
        host: String,
        /// 1-based position among the host's steps.
        index: usize,
        step: String,
        /// The command that ran, masked.
        #[serde(skip_serializing_if = "Option::is_none")]
        command: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        rc: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// The last [`STDERR_TAIL`] lines of stderr.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        stderr: Vec<String>,
        /// `ignore_errors` let the host go on.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        ignored: bool,
        /// A block's `rescue` took the failure over.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        rescued: bool,
    },
    /// A host could not be reached.
    Unreachable { host: String, error: String },
    /// Handlers a change notified did not run on a host.
    HandlersNotRun { host: String, handlers: Vec<String> },
}

impl Failure {
    pub fn host(&self) -> &str {
        match self {
            Failure::Step { host, .. }
            | Failure::Unreachable { host, .. }
            | Failure::HandlersNotRun { host, .. } => host,
        }
    }
}

impl Recap {
    /// Folds one event into the recap.
    pub fn record(&mut self, event: &Event) {
        match event {
            Event::PlayStart { hosts, .. } => {
                for host in hosts {
                    self.host(host);
                }
            }
            Event::Connected { host, elapsed } => self.host(host).add_time(*elapsed),
            Event::Unreachable { host, error } => {
                self.host(host).unreachable = true;
                self.failures.push(Failure::Unreachable {
                    host: host.clone(),
                    error: error.clone(),
                });
            }
            Event::StepStart { host, .. } | Event::Output { host, .. } => {
                self.host(host);
            }
            Event::StepEnd {
                host,
                index,
                name,
                status,
                elapsed,
                reason,
                command,
                rc,
                output,
                ignored,
                rescued,
                ..
            } => {
                let counts = self.host(host);
                counts.add_time(*elapsed);
                match status {
                    Status::Ok => counts.ok += 1,
                    Status::Changed => counts.changed += 1,
                    Status::Skipped => counts.skipped += 1,
                    Status::Failed if *ignored => counts.ignored += 1,
                    Status::Failed if *rescued => counts.rescued += 1,
                    Status::Failed => counts.failed += 1,
                }
                if *status == Status::Failed {
                    self.failures.push(Failure::Step {
                        host: host.clone(),
                        index: *index,
                        step: name.clone(),
                        command: command.clone(),
                        rc: *rc,
                        reason: reason.clone(),
                        stderr: tail(output, STDERR_TAIL),
                        ignored: *ignored,
                        rescued: *rescued,
                    });
                }
            }
            Event::HostDone {
                host,
                elapsed,
                handlers_not_run,
            } => {
                let counts = self.host(host);
                counts.elapsed = counts.elapsed - counts.since_done + *elapsed;
                counts.since_done = Duration::ZERO;
                counts.done = true;
                if !handlers_not_run.is_empty() {
                    self.failures.push(Failure::HandlersNotRun {
                        host: host.clone(),
                        handlers: handlers_not_run.clone(),
                    });
                }
            }
            Event::Interrupted { waiting } => self.interrupted = Some(waiting.clone()),
            Event::Stopping { .. } => {}
            Event::RunEnd { elapsed } => self.elapsed = Some(*elapsed),
        }
    }

    fn host(&mut self, host: &str) -> &mut HostRecap {
        if !self.hosts.contains_key(host) {
            self.hosts.insert(host.to_string(), HostRecap::default());
        }
        &mut self.hosts[host]
    }
}

/// The last `n` lines of `text`, without trailing blank lines.
pub(crate) fn tail(text: &str, n: usize) -> Vec<String> {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let start = lines.len().saturating_sub(n);
    lines[start..].iter().map(|l| l.to_string()).collect()
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

fn millis_opt<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => millis(d, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{failure_tail, scripted_recap as recap};

    #[test]
    fn counts_each_host_in_the_order_it_appeared() {
        let recap = recap();
        let hosts: Vec<&str> = recap.hosts.keys().map(String::as_str).collect();
        assert_eq!(hosts, ["web1", "web2", "db1", "web3"]);
        let web1 = &recap.hosts["web1"];
        assert_eq!(
            (web1.ok, web1.changed, web1.skipped, web1.failed),
            (1, 1, 1, 0)
        );
        assert_eq!(web1.elapsed, Duration::from_millis(2500));
        assert!(web1.done);
        let web2 = &recap.hosts["web2"];
        assert_eq!((web2.ok, web2.changed, web2.failed), (1, 0, 1));
        assert!(recap.hosts["web3"].unreachable);
        let db1 = &recap.hosts["db1"];
        assert_eq!((db1.ok, db1.failed, db1.ignored), (1, 0, 1));
        assert!(!db1.is_bad());
        assert!(web2.is_bad() && recap.hosts["web3"].is_bad());
    }

    #[test]
    fn ctrl_c_is_recorded_with_the_hosts_not_finished() {
        let mut recap = recap();
        recap.record(&Event::Interrupted {
            waiting: vec!["web1".into()],
        });
        assert_eq!(
            recap.interrupted.as_deref(),
            Some(&["web1".to_string()][..])
        );
    }

    #[test]
    fn failure_details_keep_the_last_ten_lines_of_stderr() {
        let recap = recap();
        let Failure::Step {
            host,
            step,
            command,
            rc,
            stderr,
            ignored,
            ..
        } = &recap.failures[0]
        else {
            panic!("{:?}", recap.failures);
        };
        assert_eq!(host, "web2");
        assert_eq!(step, "Install requirements");
        assert_eq!(command.as_deref(), Some("pip install -r requirements.txt"));
        assert_eq!(*rc, Some(1));
        assert_eq!(stderr, &failure_tail());
        assert!(!ignored);
        assert!(
            matches!(&recap.failures[1], Failure::Step { ignored: true, host, .. } if host == "db1")
        );
        assert!(
            matches!(&recap.failures[2], Failure::Unreachable { host, error } if host == "web3" && error.contains("refused"))
        );
    }

    #[test]
    fn tail_drops_trailing_blank_lines() {
        assert_eq!(tail("a\nb\nc\n\n", 2), ["b", "c"]);
        assert!(tail("", 10).is_empty());
    }
}
