//! The verdict of a run: the one place that decides how a run ended.
//!
//! The executor hands back an [`Outcome`]; [`Verdict::of`] reads it once,
//! and everything that says how the run went is derived from that verdict:
//! the recap's last line ([`Verdict::summary`]), the JSON recap's
//! `exit_code`, the error `main` prints and the process exit status
//! ([`Verdict::error`]). So they cannot disagree, and a run that could not
//! start never prints a success line. The recap's table still counts steps
//! from the events; the verdict counts hosts, from the outcome.

use std::fmt::Write as _;
use std::time::Duration;

use super::seconds;
use crate::error::Error;
use crate::executor::{HostEnd, Outcome};

/// How a run ended, as the user is told and as the exit status says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every host of the run succeeded (exit 0).
    Success { hosts: usize },
    /// The run went through, and some hosts did not succeed (exit 1).
    Failed { hosts: usize, bad: Vec<BadHost> },
    /// The run could not start: a deploy lock held, no host reachable
    /// (exit 3). One line per reason, each naming its host.
    CannotStart { reasons: Vec<String> },
    /// Ctrl-C stopped the run (exit 130): `bad` are the hosts known not to
    /// have succeeded.
    Interrupted { hosts: usize, bad: Vec<BadHost> },
}

/// A host that did not succeed, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadHost {
    pub host: String,
    pub end: BadEnd,
}

/// How a host ended without succeeding, in the words the summary uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadEnd {
    Failed,
    Unreachable,
    /// Never ran: its play stopped at `max_fail_percentage`, or Ctrl-C.
    DidNotRun,
    /// Stopped by Ctrl-C before its last step.
    Stopped,
    /// Which release it serves is not known (lost at or after its switch).
    Unverified,
    /// Prepared, not switched because of other hosts.
    HeldBack,
    /// Went back to its previous release because of other hosts.
    RolledBack,
}

impl BadEnd {
    fn words(self) -> &'static str {
        match self {
            BadEnd::Failed => "failed",
            BadEnd::Unreachable => "unreachable",
            BadEnd::DidNotRun => "did not run",
            BadEnd::Stopped => "stopped",
            BadEnd::Unverified => "unverified (lost at or after its switch)",
            BadEnd::HeldBack => "held back (not switched because of the others)",
            BadEnd::RolledBack => "rolled back (because of the others)",
        }
    }
}

impl Verdict {
    /// The verdict on `outcome`. Every kind of [`HostEnd`] is matched here,
    /// so a new one has to be given its place in the verdict.
    pub fn of(outcome: &Outcome) -> Verdict {
        if let Some(why) = &outcome.cannot_start {
            return Verdict::CannotStart {
                reasons: why.lines().map(str::to_string).collect(),
            };
        }
        let mut bad = Vec::new();
        for (host, end) in &outcome.hosts {
            let end = match end {
                HostEnd::Ok => continue,
                HostEnd::Failed => BadEnd::Failed,
                HostEnd::Unreachable(_) => BadEnd::Unreachable,
                HostEnd::NotRun => BadEnd::DidNotRun,
                HostEnd::Interrupted => BadEnd::Stopped,
                HostEnd::Unverified(_) => BadEnd::Unverified,
                HostEnd::HeldBack => BadEnd::HeldBack,
                HostEnd::RolledBack => BadEnd::RolledBack,
            };
            bad.push(BadHost {
                host: host.clone(),
                end,
            });
        }
        let hosts = outcome.hosts.len();
        if outcome.interrupted {
            return Verdict::Interrupted { hosts, bad };
        }
        if hosts > 0 && bad.iter().all(|b| b.end == BadEnd::Unreachable) && bad.len() == hosts {
            let reasons = outcome
                .hosts
                .iter()
                .filter_map(|(host, end)| match end {
                    HostEnd::Unreachable(why) => {
                        // One reason a line: the recap's last line is one.
                        let why = why.lines().collect::<Vec<_>>().join(" ");
                        Some(format!("{host}: unreachable: {why}"))
                    }
                    _ => None,
                })
                .collect();
            return Verdict::CannotStart { reasons };
        }
        if bad.is_empty() {
            Verdict::Success { hosts }
        } else {
            Verdict::Failed { hosts, bad }
        }
    }

    /// The error `main` prints, whose [`Error::exit_code`] is the process's
    /// exit status; `None` for a success.
    pub fn error(&self) -> Option<Error> {
        match self {
            Verdict::Success { .. } => None,
            Verdict::Failed { .. } => Some(Error::Failed(self.sentence())),
            Verdict::CannotStart { reasons } => {
                let mut text = String::from("could not start:");
                for reason in reasons {
                    let _ = write!(text, "\n  {reason}");
                }
                Some(Error::CannotStart(text))
            }
            Verdict::Interrupted { .. } => Some(Error::Interrupted(self.sentence())),
        }
    }

    /// The exit status: 0, or the one of [`Verdict::error`].
    pub fn exit_code(&self) -> i32 {
        self.error().map_or(0, |e| e.exit_code())
    }

    /// `success`, `failed`, `cannot_start` or `interrupted`: the verdict
    /// for a machine (the JSON recap's `verdict`).
    pub fn kind(&self) -> &'static str {
        match self {
            Verdict::Success { .. } => "success",
            Verdict::Failed { .. } => "failed",
            Verdict::CannotStart { .. } => "cannot_start",
            Verdict::Interrupted { .. } => "interrupted",
        }
    }

    /// One line saying how the run went, the last of the recap: the
    /// [`sentence`](Self::sentence), and how long the run took when known.
    pub fn summary(&self, elapsed: Option<Duration>) -> String {
        match elapsed {
            Some(took) => format!("{} ({})", self.sentence(), seconds(took)),
            None => self.sentence(),
        }
    }

    /// How the run went, in one sentence: `3 hosts succeeded`, `1 of 3
    /// hosts did not succeed: web3 failed`, `could not start: …`.
    pub fn sentence(&self) -> String {
        match self {
            Verdict::Success { hosts: 0 } => "no host to run on".to_string(),
            Verdict::Success { hosts } => format!("{} succeeded", count(*hosts)),
            Verdict::Failed { hosts, bad } => format!(
                "{} of {} did not succeed: {}",
                bad.len(),
                count(*hosts),
                describe(bad)
            ),
            Verdict::CannotStart { reasons } => {
                format!("could not start: {}", reasons.join("; "))
            }
            Verdict::Interrupted { bad, .. } if bad.is_empty() => "stopped by Ctrl-C".to_string(),
            Verdict::Interrupted { hosts, bad } => format!(
                "stopped by Ctrl-C: {} of {} did not succeed: {}",
                bad.len(),
                count(*hosts),
                describe(bad)
            ),
        }
    }
}

/// `1 host`, `3 hosts`.
fn count(n: usize) -> String {
    if n == 1 {
        "1 host".to_string()
    } else {
        format!("{n} hosts")
    }
}

/// `h3 failed; h4, h5 unreachable`: the hosts grouped by how they ended,
/// each group in the order its first host came.
fn describe(bad: &[BadHost]) -> String {
    let mut groups: Vec<(BadEnd, Vec<&str>)> = Vec::new();
    for b in bad {
        match groups.iter_mut().find(|(end, _)| *end == b.end) {
            Some((_, hosts)) => hosts.push(&b.host),
            None => groups.push((b.end, vec![&b.host])),
        }
    }
    groups
        .into_iter()
        .map(|(end, hosts)| format!("{} {}", list(&hosts), end.words()))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `web1, web2, web3, web4, web5 and 12 more`.
fn list(hosts: &[&str]) -> String {
    const SHOWN: usize = 5;
    let mut text = hosts[..hosts.len().min(SHOWN)].join(", ");
    if hosts.len() > SHOWN {
        let _ = write!(text, " and {} more", hosts.len() - SHOWN);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(ends: &[(&str, HostEnd)]) -> Outcome {
        Outcome {
            hosts: ends
                .iter()
                .map(|(h, e)| (h.to_string(), e.clone()))
                .collect(),
            ..Outcome::default()
        }
    }

    fn unreachable() -> HostEnd {
        HostEnd::Unreachable("connection refused".into())
    }

    /// Every verdict's exit status is the one of the error `main` prints.
    fn assert_agrees(verdict: &Verdict) {
        let code = verdict.error().map_or(0, |e| e.exit_code());
        assert_eq!(verdict.exit_code(), code, "{verdict:?}");
    }

    #[test]
    fn every_host_ok_is_a_success_with_no_error() {
        let verdict = Verdict::of(&outcome(&[("h1", HostEnd::Ok), ("h2", HostEnd::Ok)]));
        assert_eq!(verdict, Verdict::Success { hosts: 2 });
        assert_eq!(verdict.exit_code(), 0);
        assert!(verdict.error().is_none());
        assert_eq!(
            verdict.summary(Some(Duration::from_millis(4200))),
            "2 hosts succeeded (4.2s)"
        );
        assert_agrees(&verdict);
    }

    /// "1 of 3 hosts failed: h3" was once followed by "error: 3 of 3 hosts
    /// did not succeed": the line and the error now come from one count.
    #[test]
    fn one_failed_host_of_three_is_counted_once_everywhere() {
        let verdict = Verdict::of(&outcome(&[
            ("h1", HostEnd::Ok),
            ("h2", HostEnd::Ok),
            ("h3", HostEnd::Failed),
        ]));
        assert_eq!(verdict.exit_code(), 1);
        assert_eq!(
            verdict.summary(None),
            "1 of 3 hosts did not succeed: h3 failed"
        );
        assert_eq!(
            verdict.error().unwrap().to_string(),
            "1 of 3 hosts did not succeed: h3 failed"
        );
        assert_agrees(&verdict);
    }

    #[test]
    fn failures_are_grouped_by_how_the_host_ended() {
        let verdict = Verdict::of(&outcome(&[
            ("h1", HostEnd::Failed),
            ("h2", unreachable()),
            ("h3", HostEnd::Ok),
            ("h4", HostEnd::NotRun),
            ("h5", HostEnd::Failed),
        ]));
        assert_eq!(
            verdict.summary(None),
            "4 of 5 hosts did not succeed: h1, h5 failed; h2 unreachable; h4 did not run"
        );
        assert_eq!(verdict.exit_code(), 1);
    }

    /// A held lock once printed "3 hosts succeeded" before its error, and
    /// the JSON recap said `exit_code: 0` while the process exited 3.
    #[test]
    fn a_run_that_could_not_start_exits_3_and_says_so() {
        let mut held = outcome(&[("h1", HostEnd::Ok), ("h2", HostEnd::Ok)]);
        held.cannot_start =
            Some("h2: deploy lock held by `alice@laptop`\nh3: cannot read the releases".into());
        let verdict = Verdict::of(&held);
        assert_eq!(verdict.exit_code(), 3);
        assert_eq!(verdict.kind(), "cannot_start");
        let line = verdict.summary(None);
        assert_eq!(
            line,
            "could not start: h2: deploy lock held by `alice@laptop`; h3: cannot read the releases"
        );
        assert!(!line.contains("succeeded"));
        assert_eq!(
            verdict.error().unwrap().to_string(),
            "could not start:\n  h2: deploy lock held by `alice@laptop`\n  h3: cannot read the releases"
        );
        assert_agrees(&verdict);
    }

    #[test]
    fn no_host_reachable_could_not_start() {
        let verdict = Verdict::of(&outcome(&[("h1", unreachable()), ("h2", unreachable())]));
        assert_eq!(verdict.exit_code(), 3);
        assert_eq!(
            verdict.summary(None),
            "could not start: h1: unreachable: connection refused; h2: unreachable: connection refused"
        );
        assert_agrees(&verdict);
        // One reachable host is enough to start: the others failed.
        let verdict = Verdict::of(&outcome(&[("h1", unreachable()), ("h2", HostEnd::Ok)]));
        assert_eq!(verdict.exit_code(), 1);
    }

    /// After Ctrl-C the error once said "0 host(s) did not finish".
    #[test]
    fn an_interrupted_run_names_the_hosts_that_did_not_succeed() {
        let mut stopped = outcome(&[
            ("h1", HostEnd::Ok),
            ("h2", HostEnd::Failed),
            ("h3", HostEnd::NotRun),
            ("h4", HostEnd::Interrupted),
        ]);
        stopped.interrupted = true;
        let verdict = Verdict::of(&stopped);
        assert_eq!(verdict.exit_code(), 130);
        assert_eq!(
            verdict.summary(Some(Duration::from_secs(3))),
            "stopped by Ctrl-C: 3 of 4 hosts did not succeed: h2 failed; h3 did not run; h4 stopped (3.0s)"
        );
        assert_eq!(
            verdict.error().unwrap().to_string(),
            "stopped by Ctrl-C: 3 of 4 hosts did not succeed: h2 failed; h3 did not run; h4 stopped"
        );
        assert_agrees(&verdict);
        let mut early = outcome(&[("h1", HostEnd::Ok)]);
        early.interrupted = true;
        assert_eq!(Verdict::of(&early).summary(None), "stopped by Ctrl-C");
        assert!(!Verdict::of(&early).summary(None).contains(" 0 "));
    }

    #[test]
    fn long_lists_are_cut() {
        let ends: Vec<(String, HostEnd)> = (1..=8)
            .map(|i| (format!("h{i}"), HostEnd::Failed))
            .collect();
        let outcome = Outcome {
            hosts: ends.into_iter().collect(),
            ..Outcome::default()
        };
        assert_eq!(
            Verdict::of(&outcome).summary(None),
            "8 of 8 hosts did not succeed: h1, h2, h3, h4, h5 and 3 more failed"
        );
    }
}
